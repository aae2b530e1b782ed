"""The pipeline: style transfer as optimization over the pixels, coarse to fine.

    result = stylize("images/content/tuebingen.jpg", "images/styles/great_wave.jpg", size=256)
    result.image          # uint8 (H, W, 3), the lowest-loss image seen
    result.history        # one dict per loss evaluation: total, each weighted part, seconds

The steps, each a function the command line (`helpers.stylize`) calls one by one:

    stages = plan(content, size=512, settings=settings)        # the sizes that will run
    problems = build_problems(content, style, stages=stages, settings=settings)   # cached
    seconds = estimate_seconds(problems, stages=stages, settings=settings)
    result = run_stages(problems, stages=stages, settings=settings)

The pieces live in `helpers.settings` (choices, defaults, `Settings`, the stage plan),
`helpers.problem` (one size: targets and compiled loss, one shared cache) and
`helpers.optimizers` (the optimizers and their bookkeeping).
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import tensorflow as tf

from helpers import images as im
from helpers.optimizers import StyleResult, lbfgs_bookkeeping_seconds, run
from helpers.problem import StyleTransfer, get_problem
from helpers.settings import Settings, Stage, plan_stages, settings_for_stage

__all__ = ["StyleResult", "build_problems", "estimate_seconds", "expected_seconds", "final_shape", "plan", "run_stages",
           "stylize", "time_stage"]


def final_shape(content, *, size) -> tuple[int, int]:
    """(height, width) of the result: the content's aspect with longest side `size`, or `size` itself if a pair."""
    if isinstance(size, int):
        return im.fit_size(*im.load_image(content).shape[:2], size)
    return int(size[0]), int(size[1])


def plan(content, *, size, settings: Settings) -> list[Stage]:
    """The stages that will run for this content picture and size (see `helpers.settings.plan_stages`)."""
    return plan_stages(final_shape=final_shape(content, size=size), iterations=settings.iterations,
                       coarse_to_fine=settings.coarse_to_fine)


def build_problems(content, style, *, stages: list[Stage], settings: Settings, mask=None) -> list[StyleTransfer]:
    """One problem per stage, from the shared cache (each built at most once)."""
    return [get_problem(content, style, size=stage.shape, settings=settings, mask=mask) for stage in stages]


def time_stage(problem: StyleTransfer, *, settings: Settings, repeats: int = 1) -> float:
    """Measured seconds of one evaluation of `problem`'s loss, as the optimizers make it.

    Compiles the loss first (untimed; each stage's run then reuses it), then times
    `repeats` evaluations including what `helpers.optimizers.Recorder` adds to each: the
    image into a tensor, the loss as a float, the gradient as float64; for the L-BFGS
    methods, plus SciPy's own bookkeeping per evaluation at this size
    (`helpers.optimizers.lbfgs_bookkeeping_seconds`). Timed at the problem's own size
    rather than scaled by pixels: the cost per pixel is not the same at every size
    (smaller images keep the cores less busy), nor on every CPU. One timed evaluation is
    enough (the second differs by a few %), and at 384 x 512 px each costs ~3 s on a laptop CPU.
    """
    evaluate = problem.evaluator(settings)
    x = problem.initial_image("content")

    def once():
        total, grad, _ = evaluate(tf.constant(x))
        return float(total), np.asarray(grad, dtype=np.float64).ravel()

    once()  # compile (or reuse the compiled loss)
    start = time.perf_counter()
    for _ in range(repeats):
        once()
    seconds = (time.perf_counter() - start) / repeats
    if settings.method in ("lbfgs", "restarts"):
        seconds += lbfgs_bookkeeping_seconds(int(np.prod(x.shape)))
    return seconds


def expected_seconds(stages: list[Stage], *, seconds_per_evaluation: list[float]) -> float:
    """Seconds a run of these stages takes, given each stage's measured seconds per evaluation.

    Each stage costs its iterations: `helpers.optimizers.run` checks the start image with
    one evaluation before optimizing, and the optimizer's first evaluation reuses it.
    """
    if len(stages) != len(seconds_per_evaluation):
        raise ValueError(f"{len(stages)} stages but {len(seconds_per_evaluation)} timings")
    return sum(stage.iterations * seconds for stage, seconds in zip(stages, seconds_per_evaluation))


def estimate_seconds(problems: list[StyleTransfer], *, stages: list[Stage], settings: Settings) -> float:
    """Expected optimization time: one evaluation timed at each stage's size (`time_stage`),
    times that stage's evaluations (`expected_seconds`). Compiles every stage's loss,
    which its run then reuses; builds nothing (the problems come from the cache)."""
    timings = [time_stage(problem, settings=settings) for problem in problems]
    return expected_seconds(stages, seconds_per_evaluation=timings)


def run_stages(problems: list[StyleTransfer], *, stages: list[Stage], settings: Settings, start=None,
               frames_every: int | None = None, callback=None, progress: bool = True) -> StyleResult:
    """Run the stages in order, each starting from the previous one's image, upsampled.

    Every stage keeps the balance of the final size (`helpers.settings.settings_for_stage`:
    under "gatys" the loss applies the weights at each size, under "original" a coarse
    stage's content and TV weights are scaled to it). Evaluations
    and seconds continue across stages in the result's history; the callback sees each stage's own evaluation count. Every frame
    is at the final size (coarse frames upsampled), so an animation's canvas is too.
    An interruption (KeyboardInterrupt) after the first stage began keeps the best image.
    start: an RGB image to start from instead of `settings.init`.
    """
    results, first_start = [], start
    init = settings.init if first_start is None else first_start  # the run's start: a name or a picture
    for problem, stage in zip(problems, stages):
        stage_settings = settings_for_stage(settings, stage=stage, final_shape=stages[-1].shape)
        if results:  # later stages start from the previous stage's result, upsampled
            start = results[-1].image
            if not (isinstance(init, str) and init == "noise"):  # the detail of a picture, not of noise
                start = hand_over(start, problem.initial_image(init))
        try:
            results.append(run(problem, stage_settings, start=start, frames_every=frames_every, callback=callback,
                               progress=progress))
        except KeyboardInterrupt:  # while a later stage was being set up: keep what the earlier ones made
            if not results:
                raise
            results[-1] = dataclasses.replace(
                results[-1], stopped=f"interrupted while preparing the {stage.shape[0]} x {stage.shape[1]} px "
                                     "stage; kept the best image so far")
            break
        if results[-1].stopped:
            break
    return _join(results, settings=settings, final=problems[-1], image_start=first_start is not None)


def stylize(content, style, *, size=512, settings: Settings | None = None, mask=None, start=None,
            frames_every: int | None = None, callback=None, progress: bool = True, **changes) -> StyleResult:
    """Paint `content` in the style of `style`; returns a StyleResult.

    content: a path, PIL image or RGB array. style: one such picture, or a list of
        several: blended by `settings.style_blend` (None: equally), or one per region
        of `mask`.
    mask: None, or a label picture with one flat colour per region, as many regions as
        style pictures: region k (colours in increasing order) gets style k (see
        `helpers.problem.StyleTransfer`).
    size: longest side in px, or an exact (height, width).
    settings: a `helpers.settings.Settings` (default: `Settings()`); `**changes` are
        fields changed on it, e.g. `stylize(c, s, size=256, iterations=50, strength=0.8, colour="luminance")`.
        Its `coarse_to_fine`, e.g. ((0.5, 100),), runs 100 evaluations at half size
        first (each costs about a quarter), then upsamples and refines at full size
        (Gatys et al. 2017, "Controlling Perceptual Factors").
    start: an RGB image to start from instead of `settings.init`.
    frames_every: keep a frame every k evaluations (for animations), all at the final size.
    callback: called after every evaluation with an object having `.evaluation`,
        `.loss`, `.record` and `.image()`; return True to stop early. Stopping with
        the notebook's stop button (KeyboardInterrupt) also returns the best image so far.
    The result's `stopped` says why it ended early (None: the whole budget was used).
    """
    settings = (settings or Settings()).replace(**changes) if changes else (settings or Settings())
    if not isinstance(content, (str, np.ndarray)) and not hasattr(content, "__fspath__"):
        content = im.load_image(content)  # a PIL image: loaded once for all stages
    stages = plan(content, size=size, settings=settings)
    problems = build_problems(content, style, stages=stages, settings=settings, mask=mask)
    return run_stages(problems, stages=stages, settings=settings, start=start, frames_every=frames_every,
                      callback=callback, progress=progress)


def hand_over(coarse: np.ndarray, start) -> np.ndarray:
    """The start of a finer stage: the coarse stage's picture upsampled, plus the detail of
    the start picture (the content photo, usually) that the coarse size could not hold:
    start - upsample(downsample(start)), one band of a Laplacian pyramid.

    coarse: uint8 (h, w, 3), the coarser stage's result. start: the run's start picture at
    this stage's size, preprocessed (1, H, W, 3). Returns uint8 (H, W, 3).
    Why: upsampling alone blurs the photo's edges, and the finer stage then spends its
    (costly) evaluations sharpening them again. From the content photo at 384 x 512 px, 60
    evaluations at half size then 30 at full size: delivered loss 1.565e12 with the detail
    band, 1.663e12 without (benchmarks/experiments/RESULTS.md, section 5). A noise start
    has no detail worth keeping: its stages hand over the upsampled picture alone.
    """
    rgb = im.deprocess(start).astype(np.float32)
    shape = rgb.shape[:2]
    detail = rgb - im.resize(im.resize(rgb, coarse.shape[:2]), shape)
    return np.clip(np.round(im.resize(coarse, shape) + detail), 0, 255).astype(np.uint8)


def _upsample(image: np.ndarray, shape) -> np.ndarray:
    """uint8 (h, w, 3) -> uint8 (*shape, 3), unchanged if already that size."""
    if image.shape[:2] == tuple(shape):
        return image
    return np.clip(np.round(im.resize(image, shape)), 0, 255).astype(np.uint8)


def _join(results: list[StyleResult], *, settings: Settings, final: StyleTransfer, image_start: bool) -> StyleResult:
    """One StyleResult from the stages of a coarse-to-fine run (evaluations and seconds continue),
    its image and frames at the final size, finished by the final problem (its colour mode)."""
    final_shape = final.shape
    history, frames, offset_n, offset_s = [], [], 0, 0.0
    for r in results:
        for h in r.history:
            history.append({**h, "evaluation": h["evaluation"] + offset_n, "seconds": h["seconds"] + offset_s,
                            "shape": r.settings["shape"]})
        frames += [(n + offset_n, final.finish(_upsample(f, final_shape))) for n, f in r.frames]
        offset_n, offset_s = offset_n + len(r.history), offset_s + r.seconds
    last = results[-1]
    if len(results) == 1:
        history = last.history  # one stage: the history as it ran (no "shape" column)
    description = {**last.settings, "weights": dict(settings.weights), "iterations": settings.iterations,
                   "init": "image" if image_start else settings.init,
                   "stages": [(r.settings["shape"], len(r.history)) for r in results]}
    # stopped during a coarse stage: still return the full size
    return StyleResult(final.finish(_upsample(last.image, final_shape)), history, frames, offset_s,
                       sum(r.setup_seconds for r in results), last.stopped, description)
