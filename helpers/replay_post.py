"""A true replay of the original post's run (Harish Narayanan, 2017), ported literally to TF2.

    python -m helpers.replay_post                                   # Tübingen as The Great Wave, 512 px, 10 rounds
    python -m helpers.replay_post hugo.jpg wave.jpg                 # the post's own pictures, if you have them
    python -m helpers.replay_post --size 128 --rounds 3             # a classroom-sized taste (not the post's size)
    python -m helpers.replay_post --json table.json --output x.png  # keep the table and the picture

The post ran on Keras 1.2 / TensorFlow 0.12. This module does what it did, quirks included,
so that its printed losses can be compared with the post's, round by round:

- both pictures squashed (aspect ratio ignored) to size x size with Pillow's NEAREST filter,
  the default of `Image.resize` in the Pillow of 2017;
- the post's preprocessing order: the ImageNet means, given in BGR order (103.939, 116.779,
  123.68), are subtracted from the R, G, B channels, *then* the channels are flipped to BGR
  (so R gets B's mean; Keras's `preprocess_input` flips first). Its deprocess undoes exactly that;
- content loss sum((F - P)^2) at block2_conv2 x 0.025; style loss at five layers, each
  sum((G - A)^2) / (4 * 3^2 * (H*W)^2) with unnormalized Gram matrices, x 5.0/5; total
  variation sum((dy^2 + dx^2)^1.25) x 1.0;
- start: uniform(0, 255) - 128 noise (with a fixed seed; the post had none);
- 10 calls of scipy.optimize.fmin_l_bfgs_b(maxfun=20), each starting from the previous
  result with a fresh curvature memory, no pixel bounds; VGG16 and the loss in float32.

Only one thing is done differently, and it changes no number: the content features and
the style Gram matrices are computed once, instead of pushing content, style and result
through VGG16 as a batch of 3 at every evaluation.

The loss code below is deliberately self-contained and literal (a teaching artefact next to
`helpers.losses`, which is the tidy version). Everything the user typed is checked before
TensorFlow is imported: bad input exits with status 2 and one line on stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "images"
DEFAULT_CONTENT = IMAGES / "content" / "tuebingen.jpg"
DEFAULT_STYLE = IMAGES / "styles" / "great_wave.jpg"
# A full 512 px, 10-round replay on the default pictures, committed (python -m helpers.replay_post --json ...).
COMMITTED_RUN = REPO / "benchmarks" / "results" / "replay_post_512.json"

# The post's numbers: "Current loss value" printed after each of its 10 rounds at 512 x 512 px.
POST_LOSSES = (8.07324e10, 5.27136e10, 4.3404e10, 3.98068e10, 3.80434e10,
               3.70919e10, 3.65379e10, 3.61779e10, 3.59321e10, 3.57626e10)
POST_SIZE = 512
POST_ROUNDS = 10
MAXFUN = 20  # fmin_l_bfgs_b(..., maxfun=20)

CONTENT_WEIGHT = 0.025
STYLE_WEIGHT = 5.0
TOTAL_VARIATION_WEIGHT = 1.0
CONTENT_LAYER = "block2_conv2"
FEATURE_LAYERS = ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"]
MEANS = (103.939, 116.779, 123.68)  # ImageNet means in BGR order, as the post wrote them


# --- pictures and the post's preprocessing (NumPy and Pillow only) -----------------------


def load_squashed(path, size: int) -> np.ndarray:
    """The post's `Image.open(path).resize((size, size))`: float32 RGB (size, size, 3), 0..255.

    The whole picture is squashed to a square with NEAREST (no EXIF rotation, as in 2017).
    A missing, damaged or too small file raises helpers.images.ImageError (one line).
    """
    from PIL import Image

    from helpers.images import check_size, load_image, to_rgb

    check_size(size, size)
    load_image(path)  # one-line errors for anything that is not a usable picture
    with Image.open(path) as img:
        rgb = to_rgb(img)  # the post's pictures are RGB JPEGs already: unchanged
        return np.asarray(rgb.resize((size, size), Image.NEAREST), dtype="float32")


def preprocess_post(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB 0..255 -> (1, H, W, 3) float32, the post's way: BGR means off the RGB channels, then flip."""
    x = np.expand_dims(np.asarray(rgb, dtype="float32"), axis=0).copy()
    x[:, :, :, 0] -= MEANS[0]
    x[:, :, :, 1] -= MEANS[1]
    x[:, :, :, 2] -= MEANS[2]
    return x[:, :, :, ::-1]


def deprocess_post(x, height: int, width: int) -> np.ndarray:
    """The post's inverse of `preprocess_post`: flip back, add the means, clip, uint8 (H, W, 3).

    Like the post, it truncates (astype without rounding), so a value may come back 1 grey level low.
    """
    x = np.array(x, dtype="float64").reshape((height, width, 3))
    x = x[:, :, ::-1].copy()
    x[:, :, 0] += MEANS[0]
    x[:, :, 1] += MEANS[1]
    x[:, :, 2] += MEANS[2]
    return np.clip(x, 0, 255).astype("uint8")


def start_noise(size: int, seed: int = 0) -> np.ndarray:
    """The post's start, `np.random.uniform(0, 255, (1, size, size, 3)) - 128.`, with a seed: float64."""
    return np.random.RandomState(seed).uniform(0, 255, (1, size, size, 3)) - 128.0


# --- the post's loss, literally (TensorFlow) -------------------------------------------


def gram_matrix(x):
    """The post's Gram matrix of one feature map (H, W, C): channels x positions, times its transpose (C, C)."""
    import tensorflow as tf

    features = tf.reshape(tf.transpose(x, (2, 0, 1)), (tf.shape(x)[2], -1))  # K.batch_flatten(K.permute_dimensions)
    return tf.matmul(features, features, transpose_b=True)


def content_loss(content, combination):
    import tensorflow as tf

    return tf.reduce_sum(tf.square(combination - content))


def style_loss(style_gram, combination, height: int, width: int):
    """The post's style loss with the style Gram precomputed: sum((S - C)^2) / (4 * channels^2 * size^2)."""
    import tensorflow as tf

    channels = 3  # the post's constant, not the layer's channel count
    size = height * width  # the image's pixels, not the layer's positions
    return tf.reduce_sum(tf.square(style_gram - gram_matrix(combination))) / (4.0 * (channels**2) * (size**2))


def total_variation_loss(x, height: int, width: int):
    import tensorflow as tf

    a = tf.square(x[:, : height - 1, : width - 1, :] - x[:, 1:, : width - 1, :])
    b = tf.square(x[:, : height - 1, : width - 1, :] - x[:, : height - 1, 1:, :])
    return tf.reduce_sum(tf.pow(a + b, 1.25))


class PostLoss:
    """The post's total loss and its gradient, for images preprocessed the post's way.

    content, style: (1, H, W, 3) float32 from `preprocess_post`. Calling the object with a
    flat float64 vector (what fmin_l_bfgs_b passes) returns (loss: float, gradient: float64
    vector), and counts the call in `self.evaluations`.
    """

    def __init__(self, content: np.ndarray, style: np.ndarray):
        import tensorflow as tf

        from helpers.model import FeatureExtractor

        self.height, self.width = int(content.shape[1]), int(content.shape[2])
        self.extractor = FeatureExtractor([CONTENT_LAYER] + FEATURE_LAYERS, dtype="float32")
        self.content_features = self.extractor(tf.constant(content))[CONTENT_LAYER][0]
        style_features = self.extractor(tf.constant(style))
        self.style_grams = {name: gram_matrix(style_features[name][0]) for name in FEATURE_LAYERS}
        self.evaluations = 0
        shape = (1, self.height, self.width, 3)
        self._loss_and_grad = tf.function(self._loss_and_grad_eager,
                                          input_signature=[tf.TensorSpec(shape, tf.float32)])

    def loss(self, combination):
        """The post's loss of a combination image (1, H, W, 3), a float32 scalar tensor."""
        layers = self.extractor(combination)
        loss = CONTENT_WEIGHT * content_loss(self.content_features, layers[CONTENT_LAYER][0])
        for layer_name in FEATURE_LAYERS:
            sl = style_loss(self.style_grams[layer_name], layers[layer_name][0], self.height, self.width)
            loss += (STYLE_WEIGHT / len(FEATURE_LAYERS)) * sl
        loss += TOTAL_VARIATION_WEIGHT * total_variation_loss(combination, self.height, self.width)
        return loss

    def _loss_and_grad_eager(self, combination):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(combination)
            loss = self.loss(combination)
        return loss, tape.gradient(loss, combination)

    def __call__(self, x: np.ndarray):
        self.evaluations += 1
        x = np.asarray(x).reshape((1, self.height, self.width, 3)).astype("float32")
        loss, grad = self._loss_and_grad(x)
        return float(loss.numpy()), grad.numpy().flatten().astype("float64")


# --- the run ---------------------------------------------------------------------------


@dataclass
class Round:
    """One fmin_l_bfgs_b call: the loss it returned, its evaluations as SciPy counts them
    (info['funcalls']) and as the loss function counted them, its iterations, its seconds."""

    loss: float
    funcalls: int
    evaluations: int
    iterations: int
    seconds: float


@dataclass
class Replay:
    size: int
    seed: int
    content: str
    style: str
    rounds: list = field(default_factory=list)  # [Round]
    image: np.ndarray | None = None  # uint8 (size, size, 3), the post's deprocess of the last x

    def table(self) -> str:
        return format_table([r.loss for r in self.rounds], [r.funcalls for r in self.rounds],
                            [r.seconds for r in self.rounds], size=self.size)

    def to_json(self) -> dict:
        return {"size": self.size, "seed": self.seed, "content": self.content, "style": self.style,
                "rounds": [vars(r) for r in self.rounds], "post_losses": list(POST_LOSSES)}


def _versions() -> dict:
    import keras
    import PIL
    import scipy
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "scipy": scipy.__version__, "numpy": np.__version__, "pillow": PIL.__version__,
            "cpu": cpu, "cores": os.cpu_count()}


def format_row(number: int, loss: float, funcalls: int | None = None, seconds: float | None = None,
               size: int = POST_SIZE) -> str:
    """One line of the table: round, loss, the post's loss (512 px only), difference in %, evaluations."""
    post = POST_LOSSES[number - 1] if size == POST_SIZE and number <= len(POST_LOSSES) else None
    line = f"round {number:2d}: loss {loss:.6g}"
    line += f"   post {post:.6g}   {100 * (loss / post - 1):+6.2f} %" if post else "   (post: 512 px only)"
    if funcalls is not None:
        line += f"   {funcalls} evaluations"
    if seconds is not None:
        line += f"   {seconds:.0f} s"
    return line


def format_table(losses, funcalls=None, seconds=None, *, size: int = POST_SIZE) -> str:
    """The whole table, one `format_row` per round."""
    n = len(losses)
    funcalls = funcalls or [None] * n
    seconds = seconds or [None] * n
    return "\n".join(format_row(i + 1, losses[i], funcalls[i], seconds[i], size) for i in range(n))


def committed_table(path=COMMITTED_RUN) -> str:
    """The committed 512 px replay (see COMMITTED_RUN) as text: where and how it ran, then one line per round."""
    if not Path(path).exists():
        return (f"no committed replay at {path} yet; make one with\n"
                f"python -m helpers.replay_post --json {Path(path).relative_to(REPO) if Path(path).is_relative_to(REPO) else path}")
    record = json.loads(Path(path).read_text())
    v = record["versions"]
    rounds = record["rounds"]
    head = (f"committed replay: {record['content']} as {record['style']}, {record['size']} x {record['size']} px, "
            f"seed {record['seed']}, on {v['cpu']} ({v['cores']} cores)\n"
            f"(TensorFlow {v['tensorflow']}, Keras {v['keras']}, SciPy {v['scipy']}, Pillow {v['pillow']})")
    table = format_table([r["loss"] for r in rounds], [r["funcalls"] for r in rounds], size=record["size"])
    return head + "\n" + table


def replay(content=DEFAULT_CONTENT, style=DEFAULT_STYLE, *, size: int = POST_SIZE, rounds: int = POST_ROUNDS,
           seed: int = 0, report=print) -> Replay:
    """Run the post: `rounds` x fmin_l_bfgs_b(maxfun=20) from uniform noise, at size x size px.

    content, style: picture files. report: called with one line per round (None: silent).
    Returns a Replay with every round's loss and evaluation counts, and the final picture.
    """
    from threadpoolctl import threadpool_limits

    content_array = preprocess_post(load_squashed(content, size))
    style_array = preprocess_post(load_squashed(style, size))
    evaluate = PostLoss(content_array, style_array)
    result = Replay(size=size, seed=seed, content=Path(content).name, style=Path(style).name)

    x = start_noise(size, seed)
    with threadpool_limits(limits=1, user_api="blas"):  # L-BFGS's BLAS threads would fight TensorFlow's (see optimize.py)
        _rounds(evaluate, x, rounds, size, result, report)
    return result


def _rounds(evaluate, x, rounds: int, size: int, result: Replay, report) -> None:
    """The post's loop, `rounds` times; appends a Round to result.rounds and sets result.image."""
    from scipy.optimize import fmin_l_bfgs_b

    for i in range(rounds):
        before, start = evaluate.evaluations, time.perf_counter()
        # The post passed fprime=evaluator.grads with an Evaluator caching the gradient; a function
        # returning (loss, gradient) is the same thing, and fmin_l_bfgs_b has always accepted it.
        x, min_val, info = fmin_l_bfgs_b(evaluate, x.flatten(), maxfun=MAXFUN)
        result.rounds.append(Round(loss=float(min_val), funcalls=int(info["funcalls"]),
                                   evaluations=evaluate.evaluations - before, iterations=int(info["nit"]),
                                   seconds=time.perf_counter() - start))
        if report:
            r = result.rounds[-1]
            report(format_row(i + 1, r.loss, r.funcalls, r.seconds, size))
    result.image = deprocess_post(x, size, size)


# --- the command -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from helpers.cli import Parser, int_at_least
    from helpers.images import MIN_SIDE

    p = Parser(prog="python -m helpers.replay_post",
                description="Replay the original Keras post's run (2017) and print its losses beside the post's.")
    p.add_argument("content", nargs="?", type=Path, default=DEFAULT_CONTENT, help="content picture (default tuebingen.jpg)")
    p.add_argument("style", nargs="?", type=Path, default=DEFAULT_STYLE, help="style picture (default great_wave.jpg)")
    p.add_argument("--size", type=int_at_least(MIN_SIDE), default=POST_SIZE,
                   help=f"side of the square both pictures are squashed to (default {POST_SIZE}, the post's)")
    p.add_argument("--rounds", type=int_at_least(1), default=POST_ROUNDS,
                   help=f"calls of fmin_l_bfgs_b(maxfun={MAXFUN}) (default {POST_ROUNDS}, the post's)")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="seed of the uniform-noise start (default 0)")
    p.add_argument("--output", type=Path, default=None, help="also save the final picture (.png/.jpg; never overwrites)")
    p.add_argument("--json", type=Path, default=None, help="also write the table, versions and CPU as JSON (never overwrites)")
    return p


def check_args(args) -> None:
    """Everything that can be checked without TensorFlow; raises helpers.cli.UsageError."""
    from helpers.cli import UsageError
    from helpers.images import ImageError

    for role, path in (("content", args.content), ("style", args.style)):
        try:
            load_squashed(path, args.size)
        except ImageError as exc:
            raise UsageError(f"{role} picture {exc}") from None
    for path, suffixes in ((args.output, (".png", ".jpg", ".jpeg")), (args.json, (".json",))):
        if path is None:
            continue
        if path.suffix.lower() not in suffixes:
            raise UsageError(f"{path}: must end in {' or '.join(suffixes)}")
        if path.exists():
            raise UsageError(f"{path}: already exists; choose another name")
        if not path.resolve().parent.is_dir():
            raise UsageError(f"{path}: its folder {path.resolve().parent} does not exist")


def main(argv=None) -> int:
    """`python -m helpers.replay_post`; returns the exit status (0 done, 2 bad input, 130 interrupted)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow
    from helpers.cli import UsageError, fail

    try:
        args = build_parser().parse_args(argv)
        check_args(args)
    except UsageError as exc:
        return fail(exc)
    from helpers.quiet import import_tensorflow

    import_tensorflow()  # TensorFlow's start-up lines stay off stderr, as in helpers.stylize
    print(f"replaying the post: {args.content.name} as {args.style.name}, {args.size} x {args.size} px, "
          f"{args.rounds} x fmin_l_bfgs_b(maxfun={MAXFUN}), float32, seed {args.seed}", flush=True)
    start = time.perf_counter()
    try:
        result = replay(args.content, args.style, size=args.size, rounds=args.rounds, seed=args.seed,
                        report=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - start
    print(f"done in {seconds:.0f} s")
    if args.output:
        from helpers.images import save_image

        print(f"saved {save_image(result.image, args.output, overwrite=False)}")
    if args.json:
        record = {**result.to_json(), "total_seconds": seconds, "versions": _versions()}
        args.json.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
