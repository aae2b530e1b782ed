"""Stylize one picture from the command line.

    python -m helpers.stylize                                  # Tübingen as The Great Wave
    python -m helpers.stylize photo.jpg painting.jpg --size 384 --output out.png
    python -m helpers.stylize photo.jpg painting.jpg --save-every 5   # also writes a progress GIF

Everything the user typed is checked before TensorFlow is even imported: a typo
costs a second, not a minute. Bad input exits with status 2 and one line on stderr
that starts with "error: ".
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from helpers.settings import (DEFAULT_COARSE_TO_FINE, INITS, METHODS, NORMALIZATIONS, PRECISIONS, Settings,
                              check_weight)

DEFAULT_ITERATIONS = 100  # at full size
DEFAULT_COARSE_ITERATIONS = DEFAULT_COARSE_TO_FINE[0][1]  # at half size first: chosen with benchmarks/benchmark.py
COARSE_SCALE = DEFAULT_COARSE_TO_FINE[0][0]
IMAGES = Path(__file__).resolve().parents[1] / "images"
DEFAULT_CONTENT = IMAGES / "content" / "tuebingen.jpg"
DEFAULT_STYLE = IMAGES / "styles" / "great_wave.jpg"
OUTPUT_SUFFIXES = (".png", ".jpg", ".jpeg")


class UsageError(Exception):
    """Bad input: reported as one line `error: ...` with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are one line (no usage block) so scripts can parse them."""

    def error(self, message):
        raise UsageError(f"{message} (see --help)")


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is too small; it must be at least {low}")
        return value

    return parse


def _weight(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    try:
        return check_weight(value, name="the weight")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    from helpers.images import MIN_SIDE  # PIL and NumPy only: cheap

    p = _Parser(
        prog="python -m helpers.stylize",
        description="Paint a content picture in the style of another (Gatys et al.). With no "
        "pictures given: images/content/tuebingen.jpg in the style of images/styles/great_wave.jpg.",
    )
    p.add_argument("content", nargs="?", type=Path, default=DEFAULT_CONTENT,
                   help="content picture (default: the repository's tuebingen.jpg)")
    p.add_argument("style", nargs="?", type=Path, default=DEFAULT_STYLE,
                   help="style picture (default: the repository's great_wave.jpg)")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="result file, .png/.jpg/.jpeg (default: <content>_<style>.png in the current folder)")
    p.add_argument("--size", type=_int_at_least(MIN_SIDE), default=512,
                   help=f"longest side of the result in px (default 512, at least {MIN_SIDE})")
    p.add_argument("--iterations", type=_int_at_least(1), default=DEFAULT_ITERATIONS,
                   help=f"loss evaluations, i.e. VGG16 forward+backward passes (default {DEFAULT_ITERATIONS})")
    p.add_argument("--content-weight", type=_weight, default=None, help="default: depends on --normalization")
    p.add_argument("--style-weight", type=_weight, default=None, help="default: depends on --normalization")
    p.add_argument("--tv-weight", type=_weight, default=None, help="default: depends on --normalization")
    p.add_argument("--normalization", choices=NORMALIZATIONS, default="gatys",
                   help='style-loss normalization: "gatys" (the paper, default) or "original" (the Keras post)')
    p.add_argument("--init", choices=INITS, default="content", help="start image (default content)")
    p.add_argument("--seed", type=int, default=0, help="random seed for --init noise (default 0)")
    p.add_argument("--method", choices=METHODS, default="lbfgs", help="optimizer (default lbfgs)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto: bfloat16 where the hardware computes it natively, else float32")
    p.add_argument("--coarse-iterations", type=_int_at_least(0), default=DEFAULT_COARSE_ITERATIONS, metavar="N",
                   help=f"evaluations at half size before the full size (coarse-to-fine; each costs about a "
                        f"quarter of a full-size one; default {DEFAULT_COARSE_ITERATIONS}, 0 turns it off)")
    p.add_argument("--save-every", type=_int_at_least(1), default=None, metavar="K",
                   help="keep a frame every K evaluations and write OUTPUT with suffix .gif")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    return p


# --- checks, all before TensorFlow ----------------------------------------------------


def _check_picture(path: Path, role: str, size: int) -> None:
    """The picture exists and decodes, is >= MIN_SIDE at this size, and that size fits in memory."""
    from helpers.budget import SizeError, check_fits
    from helpers.images import ImageError, check_size, fit_size, load_image

    try:
        height, width = fit_size(*load_image(path).shape[:2], size)
        check_size(height, width)
        check_fits(height, width)  # before anything is resized to it
    except (ImageError, SizeError) as exc:
        raise UsageError(f"{role} picture {exc}") from None


def _check_writable(path: Path, overwrite: bool) -> None:
    """The result can be written at `path`, and doing so replaces nothing unless `overwrite`."""
    if path.is_dir():
        raise UsageError(f"{path}: is a folder; give a file name such as {path / 'result.png'}")
    if path.exists() and not overwrite:
        raise UsageError(f"{path}: already exists (pass --overwrite to replace it)")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:  # save() creates missing folders
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(f"{path}: cannot be written, {folder} is not a folder")
    if folder == path.parent:
        try:  # the only sure test (os.access says yes to root even on a read-only disk)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise UsageError(f"{path}: cannot write in {folder} ({exc.strerror or exc})") from None
    elif not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{path}: cannot create folders in {folder} (permission denied)")


def check_args(args) -> None:
    """Raise UsageError for anything that would make the run fail or destroy a file."""
    for role, path in (("content", args.content), ("style", args.style)):
        _check_picture(path, role, args.size)
    if args.output.is_dir():
        raise UsageError(f"{args.output}: is a folder; give a file name such as {args.output / 'result.png'}")
    if args.output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"{args.output}: the result must be saved as .png, .jpg or .jpeg")
    outputs = [args.output] + ([args.gif] if args.gif else [])
    inputs = {args.content.resolve(), args.style.resolve()}
    for path in outputs:
        if path.resolve() in inputs:
            raise UsageError(f"{path}: is one of the input pictures; choose another output name")
        _check_writable(path, args.overwrite)


def _one_line(message) -> str:
    return " ".join(str(message).split()) or "unknown error"


def _fail(message) -> int:
    print(f"error: {_one_line(message)}", file=sys.stderr)
    return 2


# --- the command ----------------------------------------------------------------------


def settings_from_args(args) -> Settings:
    """The run's Settings from the parsed arguments (no TensorFlow); a bad value is a UsageError."""
    coarse = ((COARSE_SCALE, args.coarse_iterations),) if args.coarse_iterations else ()
    try:
        return Settings(content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight,
                        normalization=args.normalization, init=args.init, seed=args.seed, method=args.method,
                        precision=args.precision, iterations=args.iterations, coarse_to_fine=coarse)
    except ValueError as exc:
        raise UsageError(exc) from None


def describe_plan(stages) -> str:
    """What the command announces, e.g. "100 evaluations at 192 x 256 px, then 100 at 384 x 512 px"."""
    parts = [f"{stage.iterations} {'evaluations ' if i == 0 else ''}at {stage.shape[0]} x {stage.shape[1]} px"
             for i, stage in enumerate(stages)]
    return ", then ".join(parts)


def prepare(argv) -> tuple[argparse.Namespace, Settings]:
    """Parse and check everything the user typed (no TensorFlow); raises UsageError (or
    ImageError/WeightsError for the pictures and the network's weights)."""
    from helpers.weights import vgg16_weights_path

    args = build_parser().parse_args(argv)
    if args.output is None:
        args.output = Path(f"{args.content.stem}_{args.style.stem}.png")
    args.gif = args.output.with_suffix(".gif") if args.save_every else None
    settings = settings_from_args(args)
    check_args(args)
    vgg16_weights_path()  # a missing network or mirror is bad news better heard now
    return args, settings


def stylize_pictures(args, settings: Settings):
    """Plan the stages, build each problem once, announce the plan and the expected time, run."""
    from helpers import optimize

    stages = optimize.plan(args.content, size=args.size, settings=settings)
    problems = optimize.build_problems(args.content, args.style, stages=stages, settings=settings)
    expected = optimize.estimate_seconds(problems, stages=stages, settings=settings)
    height, width = stages[-1].shape
    print(f"stylizing {args.content.name} as {args.style.name}: {height} x {width} px, "
          f"{problems[-1].precision}, {settings.method}: {describe_plan(stages)}; "
          f"expected about {_seconds(expected)}", flush=True)
    result = optimize.run_stages(problems, stages=stages, settings=settings, frames_every=args.save_every)
    return result, sum(stage.iterations for stage in stages)


def save_outputs(args, result, planned: int) -> int:
    """Save the picture (and the animation); print what was done; return the exit status."""
    from helpers.images import ImageError

    try:
        saved = _save(result.image, args.output, args.overwrite)
        gif = result.save_gif(_free_name(args.gif, args.overwrite)) if args.gif else None
    except (OSError, ImageError) as exc:
        print(f"error: could not save the result: {_one_line(exc)}", file=sys.stderr)
        return 1
    took = f"took {_seconds(result.seconds)}, final loss {result.best_loss:.4g}"
    if result.stopped:
        print(result.stopped)
        took += f"; stopped early after {len(result.history)} of {planned} evaluations, best image kept"
    print(f"saved {saved} ({took})" + (f" and the progress animation {gif}" if gif else ""))
    return 0


def main(argv=None) -> int:
    """`python -m helpers.stylize`; returns the exit status (0 done, 2 bad input, 130 interrupted)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow
    from helpers.images import ImageError
    from helpers.weights import WeightsError

    try:
        args, settings = prepare(argv)
    except (UsageError, ImageError, WeightsError, ValueError) as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    try:
        result, planned = stylize_pictures(args, settings)
    except (ImageError, WeightsError, ValueError) as exc:
        return _fail(exc)
    except KeyboardInterrupt:  # during the setup: nothing to save yet
        print("interrupted before the optimization started; nothing saved", file=sys.stderr)
        return 130
    return save_outputs(args, result, planned)


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"


def _free_name(path: Path, overwrite: bool) -> Path:
    """`path`, or if a file appeared there during the run (and no --overwrite), path-2, path-3, ..."""
    n, candidate = 2, path
    while candidate.exists() and not overwrite:
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


def _save(image, path: Path, overwrite: bool) -> Path:
    from helpers.images import save_image

    target = _free_name(path, overwrite)  # minutes of work are not thrown away over a name clash
    if target != path:
        print(f"{path} appeared during the run; saving as {target} instead", file=sys.stderr)
    return save_image(image, target, overwrite=overwrite)


if __name__ == "__main__":
    raise SystemExit(main())
