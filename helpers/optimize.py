"""Style transfer as optimization over the pixels: L-BFGS (scipy), the post's restarts, or Adam.

    result = stylize("images/content/tuebingen.jpg", "images/styles/great_wave.jpg", size=256)
    result.image          # uint8 (H, W, 3), the lowest-loss image seen
    result.history        # one dict per loss evaluation: total, each weighted part, seconds

The unit of work everywhere is one *evaluation*: one forward and backward pass of
VGG16 for the image being optimized. Every method gets the same budget of
evaluations, so their loss curves can share one axis.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import scipy.optimize
import tensorflow as tf
from threadpoolctl import threadpool_limits

from helpers import budget
from helpers import images as im
from helpers.losses import NORMALIZATIONS, gram_matrix, total_loss
from helpers.model import CONTENT_LAYER, STYLE_LAYERS, FeatureExtractor

METHODS = ("lbfgs", "restarts", "adam")
INITS = ("noise", "content", "style")
FIRST_STEP_RMS = 10.0  # grey levels per pixel of L-BFGS's first step (2-30 all worked at 256 px; see run())

# Weights for each normalization. "original" are the post's, reproduced exactly.
# "gatys" were chosen by stylizing Tübingen as The Great Wave from the content image with
# 100-150 L-BFGS evaluations: at 256 px a style weight of 1e3 leaves the photo barely
# tinted, 1e4 paints it strongly and 1e5 washes the buildings out; at 512 px, where the
# content loss (a sum over 4x the pixels) weighs 4x more, 3e4 and 1e5 both give a strong,
# clean picture with the buildings intact, and 3e4 keeps more of them. TV 1 and 0.01 look
# the same from the content image, which has no speckle to remove; from noise, notebook
# 05 shows that about 100x more TV is needed.
DEFAULT_WEIGHTS = {
    "original": {"content": 0.025, "style": 5.0, "tv": 1.0},
    "gatys": {"content": 1.0, "style": 3e4, "tv": 1.0},
}


def resolve_weights(weights: dict | None, normalization: str) -> dict:
    """DEFAULT_WEIGHTS[normalization], updated with the weights given (e.g. {"style": 1e5})."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, not {normalization!r}")
    return {**DEFAULT_WEIGHTS[normalization], **(weights or {})}


def default_precision() -> str:
    """"bfloat16" where the hardware computes it natively (CPUs with AVX-512 BF16 or AMX,
    GPUs of compute capability 8.0 and newer), else "float32"."""
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        if details.get("compute_capability", (0, 0)) >= (8, 0):
            return "bfloat16"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: stay safe
        return "float32"
    return "bfloat16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "float32"


@dataclasses.dataclass
class StyleResult:
    """What `stylize` returns."""

    image: np.ndarray  # uint8 (H, W, 3): the lowest-loss image seen
    history: list  # per evaluation: {"evaluation", "seconds", "total", "content", "style/<layer>", "tv"}
    frames: list  # (evaluation, uint8 image) every `frames_every` evaluations
    seconds: float  # optimization time, setup excluded
    setup_seconds: float  # loading images, building VGG16, computing targets, tracing
    stopped: str | None  # None if the budget was used up, else why it stopped early
    settings: dict

    @property
    def losses(self) -> np.ndarray:
        """Total loss at each evaluation."""
        return np.array([h["total"] for h in self.history])

    @property
    def best_loss(self) -> float:
        return float(self.losses.min()) if self.history else float("nan")

    @property
    def seconds_per_evaluation(self) -> float:
        return self.seconds / max(1, len(self.history))

    def save(self, path, overwrite: bool = True) -> Path:
        return im.save_image(self.image, path, overwrite=overwrite)

    def save_gif(self, path, duration_ms: int = 120) -> Path:
        """Write the frames (and the final image) as an animated GIF."""
        from PIL import Image

        pictures = [Image.fromarray(f) for _, f in self.frames] + [Image.fromarray(self.image)]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=duration_ms, loop=0)
        return path


class _Stop(Exception):
    """Raised inside the loss function to end an optimization early, with a reason."""


class _BudgetSpent(Exception):
    """Raised inside the loss function when all `iterations` evaluations are used: SciPy's
    L-BFGS-B checks maxfun only between iterations, so it would overshoot by one or two."""


class StyleTransfer:
    """One content/style pair at one size: the targets, computed once, and the loss.

    content, style: paths, PIL images or RGB arrays.
    size: longest side of the result in px (aspect ratio of the content kept), or an
        exact (height, width) as the original post did (512 x 512).
    style_fit: "cover" resizes the style image to the smallest size covering the
        result (aspect kept); "stretch" to exactly the result's size (the post).
    style_scale: extra factor on the style image's size: < 1 gives larger brush
        strokes relative to the result, > 1 finer ones.
    precision: "float32", "bfloat16" or "auto" (see `default_precision`).
    """

    def __init__(self, content, style, size=512, content_layer: str | None = CONTENT_LAYER,
                 style_layers=tuple(STYLE_LAYERS), style_fit: str = "cover", style_scale: float = 1.0,
                 precision: str = "auto"):
        start = time.perf_counter()
        if style_fit not in ("cover", "stretch"):
            raise ValueError(f'style_fit must be "cover" or "stretch", not {style_fit!r}')
        self.precision = default_precision() if precision == "auto" else precision
        if self.precision not in ("float32", "bfloat16"):
            raise ValueError(f'precision must be "float32", "bfloat16" or "auto", not {precision!r}')
        content_rgb = im.load_image(content)
        if isinstance(size, int):
            self.shape = im.fit_size(content_rgb.shape[0], content_rgb.shape[1], size)
        else:
            self.shape = (int(size[0]), int(size[1]))
        im.check_size(*self.shape)  # also for a panorama whose short side shrinks below MIN_SIDE
        style_rgb = im.load_image(style)
        style_shape = self.shape if style_fit == "stretch" else im.cover_size(*style_rgb.shape[:2], self.shape)
        style_shape = tuple(max(im.MIN_SIDE, round(s * style_scale)) for s in style_shape)
        for shape in (self.shape, style_shape):  # refuse early, before resizing or building VGG16
            budget.check_fits(*shape)
        self.content_rgb = im.resize(content_rgb, self.shape)
        self.style_rgb = im.resize(style_rgb, style_shape)

        self.content_layer = content_layer
        self.style_layers = list(style_layers)
        self.extractor = FeatureExtractor(([content_layer] if content_layer else []) + self.style_layers,
                                          self.precision)
        self.content = tf.constant(im.preprocess(self.content_rgb)[None])
        self.content_target = None
        if content_layer:
            self.content_target = (content_layer, self.extractor(self.content)[content_layer])
        style_features = self.extractor(tf.constant(im.preprocess(self.style_rgb)[None]))
        # The Gram matrix sums over positions: rescale it to the number of positions the
        # result has at that layer, so a style image of another size gives the same target.
        result_positions = {layer: self._positions(layer) for layer in self.style_layers}
        self.style_targets = {
            layer: gram_matrix(f) * (result_positions[layer] / float(f.shape[1] * f.shape[2]))
            for layer, f in style_features.items() if layer in self.style_layers
        }
        self._compiled = {}
        self.setup_seconds = time.perf_counter() - start

    def _positions(self, layer: str) -> float:
        """Number of spatial positions of `layer` for the result image (VGG's pools floor-divide)."""
        blocks = int(layer[5]) - 1  # block3_conv1 sits after 2 poolings
        h, w = self.shape
        for _ in range(blocks):
            h, w = h // 2, w // 2
        return float(h * w)

    def initial_image(self, init="noise", seed: int = 0) -> np.ndarray:
        """Start image, preprocessed (1, H, W, 3) float32: "noise", "content", "style" or an RGB array."""
        if isinstance(init, str):
            if init == "noise":  # the post: uniform(0, 255) - 128
                rng = np.random.default_rng(seed)
                return (rng.uniform(0, 255, (1, *self.shape, 3)) - 128.0).astype(np.float32)
            if init == "content":
                return im.preprocess(self.content_rgb)[None]
            if init == "style":
                return im.preprocess(im.resize(self.style_rgb, self.shape))[None]
            raise ValueError(f"init must be one of {INITS} or an image, not {init!r}")
        rgb = im.load_image(init)
        if rgb.shape[:2] != self.shape:
            rgb = im.resize(rgb, self.shape)
        return im.preprocess(rgb)[None]

    def loss_function(self, weights: dict, normalization: str = "gatys"):
        """A compiled function image (1, H, W, 3) -> (total loss, gradient, parts).

        Gradients are taken with respect to the image only. Compiled once per
        normalization; the weights are passed as tensors so new slider values reuse it.
        """
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, not {normalization!r}")
        if normalization not in self._compiled:

            @tf.function(reduce_retracing=True)
            def evaluate(image, content_w, style_w, tv_w, layer_w):
                w = {"content": content_w, "style": style_w, "tv": tv_w,
                     "style_layers": dict(zip(self.style_layers, tf.unstack(layer_w)))}
                with tf.GradientTape() as tape:
                    tape.watch(image)
                    total, parts = total_loss(image, self.extractor(image), self.content_target,
                                              self.style_targets, w, normalization)
                return total, tape.gradient(total, image), parts

            self._compiled[normalization] = evaluate
        evaluate = self._compiled[normalization]
        layer_w = weights.get("style_layers") or {l: 1.0 / len(self.style_layers) for l in self.style_layers}
        args = [tf.constant(float(weights[k])) for k in ("content", "style", "tv")]
        args.append(tf.constant([float(layer_w[l]) for l in self.style_layers]))
        return lambda image: evaluate(image, *args)

    def time_evaluation(self, weights: dict | None = None, normalization: str = "gatys", repeats: int = 2) -> float:
        """Measured seconds of one loss evaluation at this size (after compiling): the basis of time estimates."""
        evaluate = self.loss_function(resolve_weights(weights, normalization), normalization)
        x = tf.constant(self.initial_image("content"))
        evaluate(x)  # compile
        start = time.perf_counter()
        for _ in range(repeats):
            float(evaluate(x)[0])
        return (time.perf_counter() - start) / repeats

    def run(self, iterations: int = 100, method: str = "lbfgs", weights: dict | None = None,
            normalization: str = "gatys", init="noise", seed: int = 0, frames_every: int | None = None,
            callback=None, progress: bool = True, learning_rate: float = 10.0) -> StyleResult:
        """Optimize the pixels for `iterations` loss evaluations; see `stylize` for the arguments."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {method!r}")
        weights = resolve_weights(weights, normalization)
        setup = time.perf_counter()
        evaluate = self.loss_function(weights, normalization)
        x0 = self.initial_image(init, seed)
        shape = x0.shape
        evaluate(tf.constant(x0))  # trace and warm up outside the timed loop
        setup_seconds = self.setup_seconds + time.perf_counter() - setup

        history, frames = [], []
        best = {"loss": np.inf, "x": x0.copy()}
        bar = _progress_bar(iterations, progress, f"{self.shape[0]}x{self.shape[1]} px")
        start = time.perf_counter()

        def loss_and_grad(x):
            """float64 flat x -> (loss, gradient) for scipy; also the bookkeeping."""
            if len(history) >= iterations:
                raise _BudgetSpent
            image = tf.constant(np.asarray(x, dtype=np.float32).reshape(shape))
            total, grad, parts = evaluate(image)
            loss = float(total)
            if not np.isfinite(loss):
                raise _Stop(f"the loss became {loss} at evaluation {len(history) + 1}; kept the best image so far")
            record = {"evaluation": len(history) + 1, "seconds": time.perf_counter() - start, "total": loss}
            record.update({k: float(v) for k, v in parts.items()})
            history.append(record)
            if loss < best["loss"]:
                best["loss"], best["x"] = loss, np.asarray(x, dtype=np.float32).reshape(shape).copy()
            if frames_every and len(history) % frames_every == 0:
                frames.append((len(history), im.deprocess(image)))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
            if callback is not None and callback(_Progress(record, image)):
                raise _Stop(f"stopped by the callback at evaluation {len(history)}")
            return loss, np.asarray(grad, dtype=np.float64).ravel()

        stopped = None
        # SciPy's L-BFGS-B works on vectors of 3 x H x W numbers with OpenBLAS; on a 2-core
        # machine OpenBLAS's threads fight TensorFlow's for the cores. Measured at 256 x 256 px:
        # 0.36 s per L-BFGS evaluation with OpenBLAS's threads, 0.13 s with one (VGG: 0.10 s).
        blas = threadpool_limits(limits=1, user_api="blas")
        try:
            if method == "adam":
                _adam(loss_and_grad, x0, iterations, learning_rate)
            elif method == "restarts":  # the post: 10 x fmin_l_bfgs_b(maxfun=20), memory lost each time
                x = x0.ravel().astype(np.float64)
                while len(history) < iterations:
                    x = scipy.optimize.minimize(loss_and_grad, x, jac=True, method="L-BFGS-B",
                                                options={"maxfun": min(20, iterations - len(history))}).x
            else:  # one continuous L-BFGS run: its memory of past gradients is kept throughout
                # No bounds on the pixels (deprocess clips at the end): with bounds, L-BFGS-B's
                # Cauchy-point search costs 0.18 s per evaluation at 512 x 512 px, without 0.03 s.
                # Unbounded, its first step has length 1, which changes no pixel visibly and wastes
                # evaluations; optimizing x / scale makes that step about FIRST_STEP_RMS grey levels
                # per pixel. From the second step on, L-BFGS's own scaling takes over.
                scale = FIRST_STEP_RMS * np.sqrt(x0.size)

                def scaled(z):
                    loss, grad = loss_and_grad(z * scale)
                    return loss, grad * scale

                outcome = scipy.optimize.minimize(
                    scaled, x0.ravel().astype(np.float64) / scale, jac=True, method="L-BFGS-B",
                    options={"maxfun": iterations, "maxiter": iterations, "ftol": 0.0, "gtol": 0.0})
                if len(history) < iterations:  # SciPy gave up before the budget: say so
                    stopped = (f"L-BFGS stopped after {len(history)} of {iterations} evaluations: {outcome.message} "
                               "(a loss near 1 is too small for its tolerances: scale the weights up)")
        except _BudgetSpent:
            pass
        except KeyboardInterrupt:
            stopped = f"interrupted at evaluation {len(history)}; kept the best image so far"
        except _Stop as exc:
            stopped = str(exc)
        finally:
            blas.restore_original_limits()
            if bar is not None:
                bar.close()
        if stopped:
            print(stopped)
        seconds = time.perf_counter() - start
        settings = {"shape": self.shape, "iterations": iterations, "method": method, "weights": weights,
                    "normalization": normalization, "init": init if isinstance(init, str) else "image",
                    "seed": seed, "precision": self.precision, "content_layer": self.content_layer,
                    "style_layers": self.style_layers}
        return StyleResult(im.deprocess(best["x"]), history, frames, seconds, setup_seconds, stopped, settings)


class _Progress:
    """What a callback receives after each evaluation: `.record` (the history entry) and `.image()`."""

    def __init__(self, record, image):
        self.record = record
        self._image = image

    @property
    def evaluation(self) -> int:
        return self.record["evaluation"]

    @property
    def loss(self) -> float:
        return self.record["total"]

    @property
    def preprocessed(self):
        """The current image exactly as optimized: a float32 tensor (1, H, W, 3), preprocessed."""
        return self._image

    def image(self) -> np.ndarray:
        """The current image as uint8 RGB (H, W, 3)."""
        return im.deprocess(self._image)


def _adam(loss_and_grad, x0, iterations, learning_rate):
    """Plain Adam on the pixels (as the TensorFlow tutorial does), clipped to valid colours."""
    low, high = -im.IMAGENET_BGR_MEANS, 255.0 - im.IMAGENET_BGR_MEANS
    x = x0.astype(np.float64)
    m, v = np.zeros_like(x), np.zeros_like(x)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for t in range(1, iterations + 1):
        _, g = loss_and_grad(x)
        g = g.reshape(x.shape)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        x = x - learning_rate * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
        x = np.clip(x, low, high)


def _progress_bar(total, enabled, label):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"stylizing {label}", unit="eval")


def stylize(content, style, size=512, iterations: int = 100, method: str = "lbfgs",
            content_weight: float | None = None, style_weight: float | None = None,
            tv_weight: float | None = None, normalization: str = "gatys",
            content_layer: str | None = CONTENT_LAYER, style_layers=tuple(STYLE_LAYERS),
            init="content", seed: int = 0, style_fit: str = "cover", style_scale: float = 1.0,
            precision: str = "auto", coarse_to_fine=(), frames_every: int | None = None,
            callback=None, progress: bool = True) -> StyleResult:
    """Paint `content` in the style of `style`; returns a StyleResult.

    size: longest side in px, or an exact (height, width).
    iterations: loss evaluations (forward + backward passes of VGG16) at full size.
    method: "lbfgs" (one continuous L-BFGS-B run, the default), "restarts" (the post's
        10 x 20 evaluations with the memory thrown away each time) or "adam".
    content_weight, style_weight, tv_weight: None takes DEFAULT_WEIGHTS[normalization].
    normalization: "gatys" or "original" (see `helpers.losses.style_loss`).
    init: "content" (the default: fastest to a good picture), "noise" (the post's and
        the paper's, seeded), "style" or an image.
    coarse_to_fine: stages run before the full size, as (scale, iterations) pairs, e.g.
        ((0.5, 100),): 100 evaluations at half size (each costs about a quarter), then
        upsample and refine at full size (Gatys et al. 2017, "Controlling Perceptual
        Factors"). The content and TV weights are scaled by the pixel ratio at each
        stage, since both losses are sums over pixels and the style loss is not.
    frames_every: keep a frame every k evaluations (for animations).
    callback: called after every evaluation with an object having `.evaluation`,
        `.loss`, `.record` and `.image()`; return True to stop early. Stopping with
        the notebook's stop button (KeyboardInterrupt) also returns the best image so far.
    """
    given = {"content": content_weight, "style": style_weight, "tv": tv_weight}
    weights = resolve_weights({k: v for k, v in given.items() if v is not None}, normalization)
    content_rgb = im.load_image(content).astype(np.uint8)  # loaded once for all stages
    final_shape = im.fit_size(*content_rgb.shape[:2], size) if isinstance(size, int) else tuple(size)
    stages = []
    for scale, n in [(float(scale), int(n)) for scale, n in coarse_to_fine] + [(1.0, iterations)]:
        shape = tuple(round(s * scale) for s in final_shape)
        if min(shape) >= im.MIN_SIDE or scale == 1.0:  # a stage too small for VGG16 is skipped
            stages.append((shape, scale, n))
    results, start = [], init
    for shape, scale, n in stages:
        problem = StyleTransfer(content_rgb, style, shape, content_layer, style_layers, style_fit,
                                style_scale, precision)
        if results:  # later stages start from the previous stage's result, upsampled
            start = results[-1].image
        ratio = 1.0 / scale**2
        stage_weights = {**weights, "content": weights["content"] * ratio, "tv": weights["tv"] * ratio}
        results.append(problem.run(n, method, stage_weights, normalization, start, seed, frames_every,
                                   callback, progress))
        if results[-1].stopped:
            break
    result = _join(results, weights, init)
    if result.image.shape[:2] != final_shape:  # stopped during a coarse stage: still return the full size
        result.image = im.resize(result.image, final_shape).astype(np.uint8)
    return result


def _join(results: list, weights: dict, init) -> StyleResult:
    """One StyleResult from the stages of a coarse-to-fine run (evaluations and seconds continue)."""
    if len(results) == 1:
        return results[0]
    history, frames, offset_n, offset_s = [], [], 0, 0.0
    for r in results:
        for h in r.history:
            history.append({**h, "evaluation": h["evaluation"] + offset_n, "seconds": h["seconds"] + offset_s,
                            "shape": r.settings["shape"]})
        frames += [(n + offset_n, f) for n, f in r.frames]
        offset_n, offset_s = offset_n + len(r.history), offset_s + r.seconds
    last = results[-1]
    settings = {**last.settings, "weights": weights, "init": init if isinstance(init, str) else "image",
                "stages": [(r.settings["shape"], len(r.history)) for r in results]}
    return StyleResult(last.image, history, frames, offset_s, sum(r.setup_seconds for r in results), last.stopped,
                       settings)
