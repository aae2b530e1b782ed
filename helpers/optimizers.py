"""The optimizers: short functions over one `Recorder`, in a registry.

    result = run(problem, settings)   # settings.method picks OPTIMIZERS[...]

The unit of work everywhere is one *evaluation*: one forward and backward pass of VGG16
for the image being optimized. Every method gets the same budget of evaluations
(`settings.iterations`), so their loss curves can share one axis.

To add an optimizer: write `def name(f: Recorder, x0, settings) -> str | None` that
calls `f(x)` (loss and gradient of a float64 vector) until `f.remaining` is 0, add it to
OPTIMIZERS, and its name to `helpers.settings.METHODS`. The recorder keeps the history,
the best image, the frames, the progress bar and the budget, and stops the run (NaN or
infinite loss, the callback, Ctrl-C) keeping the best image.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

import numpy as np
import scipy.optimize
import tensorflow as tf
from threadpoolctl import threadpool_limits

from helpers import images as im
from helpers.settings import Settings

FIRST_STEP_RMS = 10.0  # grey levels per pixel (RMS) of L-BFGS's first step; 3 and 30 were slower (RESULTS.md, section 6)


@dataclasses.dataclass
class StyleResult:
    """What a run returns."""

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
        """The lowest loss of the last stage (a coarse stage's losses are of a smaller picture)."""
        shape = self.settings.get("shape")
        final = [h["total"] for h in self.history if h.get("shape", shape) == shape]
        return float(min(final)) if final else float("nan")

    @property
    def seconds_per_evaluation(self) -> float:
        return self.seconds / max(1, len(self.history))

    def save(self, path, overwrite: bool = True) -> Path:
        """Save the picture (atomically, see `helpers.images.save_image`); return the path."""
        return im.save_image(self.image, path, overwrite=overwrite)

    def animation(self, duration_ms: int = 120) -> bytes:
        """The frames and the final image as the bytes of an animated GIF."""
        return im.encode_animation([f for _, f in self.frames] + [self.image], duration_ms=duration_ms)

    def save_gif(self, path, duration_ms: int = 120, *, overwrite: bool = True) -> Path:
        """Write `animation()` at `path` (atomically; exclusive without `overwrite`); return the path."""
        return im.save_data(self.animation(duration_ms), path, overwrite=overwrite)


class Progress:
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


class WeightTooLarge(ValueError):
    """A loss weight makes the loss or its gradient overflow float32 at the first evaluation."""


def check_first_evaluation(total, grad, parts, *, settings: Settings) -> None:
    """Raise WeightTooLarge if the first evaluation's loss or gradient is not finite, naming the weight.

    `helpers.settings.MAX_WEIGHT` refuses absurd weights before TensorFlow starts; this
    catches the rest exactly, before any optimization (a run whose first loss is inf
    could only return its start image).
    """
    values = {name: float(v) for name, v in parts.items()}
    if np.isfinite(float(total)) and np.all(np.isfinite(np.asarray(grad))):
        return
    bad = [name for name, v in values.items() if not np.isfinite(v)]
    # the term that overflowed, else (the sum or the gradient overflowed) the largest one
    name = bad[0] if bad else max(values, key=lambda k: abs(values[k]))
    term = name.split("/")[0]
    weight = settings.weights.get(term)
    raise WeightTooLarge(f"{term}_weight {weight:g} is too large: the loss overflows float32 at the first "
                         f"evaluation (the {name} part is {values[name]:.3g}); choose a smaller weight")


class Stop(Exception):
    """Raised by the recorder to end an optimization early, with the reason as message."""


class BudgetSpent(Exception):
    """Raised by the recorder when all evaluations are used: SciPy's L-BFGS-B checks maxfun
    only between iterations, so it would overshoot by one or two."""


class Recorder:
    """The loss as the optimizers see it, and the bookkeeping of every evaluation.

    Calling it with a float vector x (3 x H x W numbers, preprocessed pixels) returns
    (loss, gradient as float64) and records the evaluation: history, best image, frames,
    progress bar and callback. It raises BudgetSpent when the budget is used up and Stop
    when the loss is not finite or the callback asks to stop.
    """

    def __init__(self, evaluate, x0: np.ndarray, *, iterations: int, frames_every: int | None = None,
                 callback=None, bar=None, first=None):
        self.evaluate, self.shape, self.iterations = evaluate, x0.shape, iterations
        # (x0, its evaluation), already made by `run`'s check: reused if the optimizer asks
        # for x0 first (at 384 x 512 px one evaluation is 3 s on a laptop CPU)
        self._first = first
        self.frames_every, self.callback, self.bar = frames_every, callback, bar
        self.history: list[dict] = []
        self.frames: list = []
        self.best_loss, self.best_x = np.inf, x0.copy()
        self.start = time.perf_counter()

    @property
    def remaining(self) -> int:
        """Evaluations left in the budget."""
        return self.iterations - len(self.history)

    def __call__(self, x) -> tuple[float, np.ndarray]:
        if self.remaining <= 0:
            raise BudgetSpent
        pixels = np.asarray(x, dtype=np.float32).reshape(self.shape)
        image = tf.constant(pixels)
        first, self._first = self._first, None
        if first is not None and np.array_equal(pixels, first[0]):
            total, grad, parts = first[1]
        else:
            total, grad, parts = self.evaluate(image)
        loss = float(total)
        if not np.isfinite(loss):
            raise Stop(f"the loss became {loss} at evaluation {len(self.history) + 1}; kept the best image so far")
        record = {"evaluation": len(self.history) + 1, "seconds": time.perf_counter() - self.start, "total": loss}
        record.update({k: float(v) for k, v in parts.items()})
        self.history.append(record)
        if loss < self.best_loss:
            self.best_loss, self.best_x = loss, np.asarray(x, dtype=np.float32).reshape(self.shape).copy()
        if self.frames_every and len(self.history) % self.frames_every == 0:
            self.frames.append((len(self.history), im.deprocess(image)))
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        if self.callback is not None and self.callback(Progress(record, image)):
            raise Stop(f"stopped by the callback at evaluation {len(self.history)}")
        return loss, np.asarray(grad, dtype=np.float64).ravel()


# --- the optimizers: each returns None, or why it ended before the budget --------------------


def pixel_box(shape) -> tuple[np.ndarray, np.ndarray]:
    """The valid colours as bounds on the preprocessed pixels: (low, high), each float64 of `shape`.

    shape: of a preprocessed image, e.g. (1, H, W, 3) (BGR, ImageNet means subtracted).
    low is RGB 0 preprocessed (-mean per channel), high is RGB 255 (255 - mean): a pixel
    inside the box survives deprocess (clip, round to 8 bits) with at most half a grey level
    of change, so the saved picture scores the loss the optimizer saw.
    """
    means = im.IMAGENET_BGR_MEANS.astype(np.float64)
    return np.broadcast_to(-means, shape).copy(), np.broadcast_to(255.0 - means, shape).copy()


def lbfgs(f: Recorder, x0: np.ndarray, settings: Settings) -> str | None:
    """One continuous L-BFGS-B run bounded to the valid colours: its memory of past gradients is kept throughout.

    Bounds (`pixel_box`): unbounded, L-BFGS leaves pixels outside 0..255 that the save
    then clips, so the saved picture scored worse than the optimizer's own loss (1.39x
    after 300 evaluations at 512 px). Bounded, the delivered loss is the raw one, and at
    equal evaluations the raw loss is lower too (no steps wasted on pixels clipped away).
    Cost: SciPy's bookkeeping rises from ~2 % to ~4 % of VGG16's time per evaluation
    (benchmarks/experiments/RESULTS.md, section 1). A start outside the box (the post's
    noise) is clipped into it first.
    The first step: with every variable bounded, SciPy's L-BFGS-B takes the whole
    gradient as its first step (a step length of 1, no normalization), which here moves
    pixels far outside 0..255: the box clips them, the loss jumps (1.1e11 to 1.0e14 at
    the benchmark's full-size stage) and the line search spends evaluations backing off,
    at every stage. Optimizing z = x / scale, with scale chosen from the first gradient,
    makes that step FIRST_STEP_RMS grey levels per pixel (root mean square); from the
    second step on, L-BFGS's own scaling takes over.
    """
    low, high = pixel_box(x0.shape)
    start = np.clip(x0.ravel().astype(np.float64), low.ravel(), high.ravel())
    loss, grad = f(start)  # SciPy's first evaluation, made here to size the first step
    rms = float(np.sqrt(np.mean(np.square(grad))))
    # z moves by -scale * grad, so x by -scale**2 * grad: RMS FIRST_STEP_RMS
    scale = float(np.sqrt(FIRST_STEP_RMS / rms)) if rms > 0 else 1.0
    first = [(loss, grad * scale)]

    def scaled(z):
        if first:  # SciPy starts at z0 = start / scale: evaluated above
            return first.pop()
        # z * scale can leave the box by a rounding error: clip, so every evaluated image is inside
        loss, grad = f(np.clip(z * scale, low.ravel(), high.ravel()))
        return loss, grad * scale

    n = f.iterations
    z0 = start / scale
    outcome = scipy.optimize.minimize(scaled, z0, jac=True, method="L-BFGS-B",
                                      bounds=scipy.optimize.Bounds(low.ravel() / scale, high.ravel() / scale),
                                      options={"maxfun": n, "maxiter": n, "ftol": 0.0, "gtol": 0.0})
    if f.remaining > 0:  # SciPy gave up before the budget: say so
        return (f"L-BFGS stopped after {len(f.history)} of {n} evaluations: {outcome.message} "
                "(a loss near 1 is too small for its tolerances: scale the weights up)")
    return None


BOOKKEEPING_PROBE = 50_000  # variables of the problem on which SciPy's own cost is measured (~0.1 s)


def lbfgs_bookkeeping_seconds(size: int) -> float:
    """Seconds SciPy's bounded L-BFGS-B spends per evaluation on `size` variables, the loss
    excluded: measured once on BOOKKEEPING_PROBE variables (`_bookkeeping_per_variable`),
    scaled linearly (its work is a few passes over the vectors per evaluation).

    Part of the time estimates (`helpers.optimize.time_stage`): at 384 x 512 px (590k
    variables) it is ~0.2-0.3 s, 10 % of an evaluation on a laptop CPU and a third with
    bfloat16, so an estimate without it comes out short.
    """
    return _bookkeeping_per_variable() * size


@functools.lru_cache(maxsize=1)
def _bookkeeping_per_variable(evaluations: int = 8) -> float:
    """SciPy's L-BFGS-B bookkeeping in seconds per variable and evaluation, on a cheap
    quadratic of BOOKKEEPING_PROBE variables with bounds (one BLAS thread, as `run`)."""
    size = BOOKKEEPING_PROBE
    rng = np.random.default_rng(0)
    target, curvature = rng.uniform(-1.0, 1.0, size), rng.uniform(0.1, 10.0, size)
    spent = [0.0, 0]

    def quadratic(z):
        start = time.perf_counter()
        r = z - target
        out = 0.5 * float(np.dot(curvature * r, r)), curvature * r
        spent[0] += time.perf_counter() - start
        spent[1] += 1
        return out

    with threadpool_limits(limits=1, user_api="blas"):
        start = time.perf_counter()
        scipy.optimize.minimize(quadratic, np.zeros(size), jac=True, method="L-BFGS-B",
                                bounds=scipy.optimize.Bounds(np.full(size, -0.5), np.full(size, 0.5)),
                                options={"maxfun": evaluations, "maxiter": evaluations, "ftol": 0.0, "gtol": 0.0})
        total = time.perf_counter() - start
    return max(0.0, total - spent[0]) / max(1, spent[1]) / size


def restarts(f: Recorder, x0: np.ndarray, settings: Settings) -> str | None:
    """The post: 10 x fmin_l_bfgs_b(maxfun=20), L-BFGS's memory lost at each restart.

    Unbounded, as the post was (faithful): pixels may leave 0..255 and the save clips them,
    so its saved picture can score worse than its own loss (`StyleTransfer.delivered_loss`).
    """
    x = x0.ravel().astype(np.float64)
    while f.remaining > 0:
        x = scipy.optimize.minimize(f, x, jac=True, method="L-BFGS-B", options={"maxfun": min(20, f.remaining)}).x
    return None


def adam(f: Recorder, x0: np.ndarray, settings: Settings) -> str | None:
    """Plain Adam on the pixels (as the TensorFlow tutorial does), clipped to valid colours."""
    low, high = pixel_box(x0.shape)
    x = x0.astype(np.float64)
    m, v = np.zeros_like(x), np.zeros_like(x)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for t in range(1, f.iterations + 1):
        _, g = f(x)
        g = g.reshape(x.shape)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        x = x - settings.learning_rate * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
        x = np.clip(x, low, high)
    return None


OPTIMIZERS = {"lbfgs": lbfgs, "restarts": restarts, "adam": adam}


# --- running one problem ---------------------------------------------------------------------


def run(problem, settings: Settings, *, start=None, frames_every: int | None = None, callback=None,
        progress: bool = True) -> StyleResult:
    """Optimize `problem`'s pixels for `settings.iterations` evaluations with `settings.method`.

    problem: a `helpers.problem.StyleTransfer` (one size; its layers must be the settings').
    start: an RGB image to start from (resized to the problem); None: `settings.init`.
    frames_every: keep a frame every k evaluations (for animations).
    callback: called after every evaluation with a `Progress` (`.evaluation`, `.loss`,
        `.record`, `.image()`, `.preprocessed`); return True to stop early. Ctrl-C (or the
        notebook's stop button) also stops, keeping the best image so far.
    progress: show a progress bar.
    The result's `stopped` says why a run ended early (None if the budget was used up);
    the caller reports it.
    """
    optimizer = OPTIMIZERS[settings.method]
    setup = time.perf_counter()
    evaluate = problem.evaluator(settings)
    x0 = problem.initial_image(settings.init if start is None else start, settings.seed)
    first = evaluate(tf.constant(x0))  # also traces the loss outside the timed loop
    check_first_evaluation(*first, settings=settings)
    setup_seconds = problem.setup_seconds + time.perf_counter() - setup

    bar = _progress_bar(settings.iterations, progress, f"{problem.shape[0]}x{problem.shape[1]} px")
    f = Recorder(evaluate, x0, iterations=settings.iterations, frames_every=frames_every, callback=callback, bar=bar,
                 first=(np.asarray(x0, dtype=np.float32), first))
    stopped = None
    # SciPy's L-BFGS-B works on vectors of 3 x H x W numbers with OpenBLAS; on a 2-core
    # machine OpenBLAS's threads fight TensorFlow's for the cores. Measured at 256 x 256 px:
    # 0.36 s per L-BFGS evaluation with OpenBLAS's threads, 0.13 s with one (VGG: 0.10 s).
    blas = threadpool_limits(limits=1, user_api="blas")
    try:
        stopped = optimizer(f, x0, settings)
    except BudgetSpent:
        pass
    except KeyboardInterrupt:
        stopped = (f"interrupted at evaluation {len(f.history)} of {settings.iterations} at "
                   f"{problem.shape[0]} x {problem.shape[1]} px; kept the best image so far")
    except Stop as exc:
        stopped = str(exc)
    finally:
        blas.restore_original_limits()
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - f.start
    description = {"shape": tuple(problem.shape), "iterations": settings.iterations, "method": settings.method,
                   "weights": dict(settings.weights), "normalization": settings.normalization,
                   "init": settings.init if start is None else "image", "seed": settings.seed,
                   "precision": problem.precision, "content_layer": problem.content_layer,
                   "style_layers": list(problem.style_layers), "layer_balance": settings.balance,
                   "strength": settings.strength, "colour": settings.colour}
    return StyleResult(im.deprocess(f.best_x), f.history, f.frames, seconds, setup_seconds, stopped, description)


def _progress_bar(total, enabled, label):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"stylizing {label}", unit="eval")
