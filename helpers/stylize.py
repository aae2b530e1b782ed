"""Stylize one picture from the command line.

    python -m helpers.stylize                                  # Tübingen as The Great Wave
    python -m helpers.stylize photo.jpg painting.jpg --size 384 --output out.png
    python -m helpers.stylize photo.jpg painting.jpg --save-every 5   # also writes a progress GIF
    python -m helpers.stylize photo.jpg painting.jpg --strength 0.8 --colour luminance
    python -m helpers.stylize photo.jpg wave.jpg night.jpg --style-blend 0.7,0.3
    python -m helpers.stylize images/content/tuebingen.jpg town.jpg sky.jpg --mask images/masks/tuebingen_sky.png

Everything the user typed (options, pictures, the style's memory need, the output's
name and folder, the network's weights) is checked before TensorFlow is even imported:
a typo costs a second, not a minute. Every error is one line on stderr starting with
"error: ", never a traceback.

Exit status (EXIT_STATUS_HELP below is the same text, shown by --help):
    0    done: the picture is saved
    1    the machine failed: disk full, read-only or I/O error, weights unavailable,
         or the picture could not be saved where asked (it was rescued into a
         temporary folder, and the error line says where)
    2    bad input: nothing was started (or the weights overflow the loss at once)
    130  interrupted by Ctrl-C (SIGINT); 143 by SIGTERM; 129 by SIGHUP (128 + the
         signal's number): the best picture so far is saved, unless the optimization
         had not started yet (then the message says nothing was saved)

Saving never loses a file: the picture and the GIF are written to a temporary file
and renamed (a full disk leaves no truncated file). Without --overwrite nothing that
exists is replaced: an existing output is refused before any work, and a file that
takes the output's name during the run is kept, the result saved as NAME-2.png (the
first free name) instead. A picture that cannot be saved at all goes to a temporary
folder and the one error line says where (exit status 1).
"""
from __future__ import annotations

import argparse
import os
import signal
import stat
import sys
import tempfile
import threading
from pathlib import Path

from helpers import files
from helpers.cli import Parser, UsageError, fail, int_at_least
from helpers.settings import (COLOURS, DEFAULT_COARSE_TO_FINE, INITS, LAYER_BALANCES, METHODS, NORMALIZATIONS,
                              PRECISIONS, Settings, check_weight)

DEFAULT_ITERATIONS = 15  # at full size, after the coarse levels (DEFAULT_COARSE_TO_FINE)
COARSE_SCALES = tuple(scale for scale, _ in DEFAULT_COARSE_TO_FINE)  # e.g. a quarter, then half the size
DEFAULT_COARSE_ITERATIONS = tuple(n for _, n in DEFAULT_COARSE_TO_FINE)
IMAGES = Path(__file__).resolve().parents[1] / "images"
DEFAULT_CONTENT = IMAGES / "content" / "tuebingen.jpg"
DEFAULT_STYLE = IMAGES / "styles" / "great_wave.jpg"
OUTPUT_SUFFIXES = (".png", ".jpg", ".jpeg")

EXIT_DONE, EXIT_ENVIRONMENT, EXIT_BAD_INPUT = 0, 1, 2
INTERRUPTING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # each stops a run like Ctrl-C
EXIT_STATUS_HELP = """\
exit status:
  0    done: the picture is saved
  1    the machine failed (disk full, read-only or I/O error, weights unavailable);
       a finished picture that could not be saved is in a temporary folder: the
       error line says where
  2    bad input: nothing was started
  130  Ctrl-C; 143 SIGTERM; 129 SIGHUP (128 + the signal): the best picture so far
       is saved (unless the optimization had not started: the message says so)

without --overwrite no existing file is replaced: an existing output is refused at
once; a file that takes the output's name during the run is kept and the result is
saved as NAME-2.png (the first free name) instead."""


def interrupted_status(signum: int) -> int:
    """The exit status after signal `signum` stopped the run: 128 + signum, as shells report it."""
    return 128 + int(signum)


def _weight(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    try:
        return check_weight(value, name="the weight")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _strength(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is outside 0 ... 1")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a number > 0")
    return value


def _blend(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers, e.g. 0.7,0.3") from None
    if not all(0.0 <= v < float("inf") for v in values) or sum(values) <= 0:
        raise argparse.ArgumentTypeError(f"{text}: the weights must be numbers >= 0, not all zero")
    return values


def _coarse(text: str) -> tuple[int, ...]:
    """'60,40' -> (60, 40): evaluations at the coarse levels, the finest (half size) last."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of whole numbers, e.g. 60,40") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text}: the numbers of evaluations must be >= 0")
    if len(values) > len(COARSE_SCALES):
        raise argparse.ArgumentTypeError(f"{text}: at most {len(COARSE_SCALES)} coarse levels "
                                         f"({', '.join(f'{s:g}' for s in COARSE_SCALES)} of the size)")
    return values


def coarse_to_fine(values) -> tuple[tuple[float, int], ...]:
    """The stages before the full size from --coarse-iterations: the numbers go to the finest
    levels (one number: half size only; 0 turns a level off)."""
    scales = COARSE_SCALES[len(COARSE_SCALES) - len(values):]
    return tuple((scale, n) for scale, n in zip(scales, values) if n > 0)


def build_parser() -> argparse.ArgumentParser:
    from helpers.images import MIN_SIDE  # PIL and NumPy only: cheap

    p = Parser(
        prog="python -m helpers.stylize",
        description="Paint a content picture in the style of another (Gatys et al.). With no pictures\n"
        "given: images/content/tuebingen.jpg in the style of images/styles/great_wave.jpg.\n\n"
        "examples:\n"
        "  python -m helpers.stylize photo.jpg painting.jpg --size 384 --strength 0.8\n"
        "  python -m helpers.stylize photo.jpg painting.jpg --colour luminance   # keep the photo's colours\n"
        "  python -m helpers.stylize photo.jpg a.jpg b.jpg --style-blend 0.7,0.3   # two styles, blended\n"
        "  python -m helpers.stylize photo.jpg town.jpg sky.jpg --mask labels.png  # a style per region\n\n"
        "The same weights give the same balance at every --size: the content and TV weights\n"
        "are multiplied by 512*384 / (the result's pixels) for the gatys normalization.",
        epilog=EXIT_STATUS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("content", nargs="?", type=Path, default=DEFAULT_CONTENT,
                   help="content picture (default: the repository's tuebingen.jpg)")
    p.add_argument("style", nargs="*", type=Path, default=[DEFAULT_STYLE],
                   help="style picture(s) (default: the repository's great_wave.jpg); several are blended "
                        "(--style-blend) or go one per region of --mask")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="result file, .png/.jpg/.jpeg (default: <content>_<style>.png in the current folder)")
    p.add_argument("--size", type=int_at_least(MIN_SIDE), default=512,
                   help=f"longest side of the result in px (default 512, at least {MIN_SIDE})")
    p.add_argument("--iterations", type=int_at_least(1), default=DEFAULT_ITERATIONS,
                   help=f"loss evaluations, i.e. VGG16 forward+backward passes (default {DEFAULT_ITERATIONS})")
    p.add_argument("--strength", type=_strength, default=0.5, metavar="S",
                   help="how strongly the style is applied, 0 ... 1 (default 0.5): the style weight x "
                        "100 ** (S - 0.5), so 0 is a tenth of it and 1 ten times")
    p.add_argument("--colour", choices=COLOURS, default="style",
                   help="style: the painting's colours (default); luminance: style transfer on luminance only, "
                        "the photo's colours kept; match: the painting's colours matched to the photo's first; "
                        "swap: the result's colours swapped for the photo's afterwards")
    p.add_argument("--style-blend", type=_blend, default=None, metavar="W1,W2,...",
                   help="one weight per style picture, e.g. 0.7,0.3 (default: equal)")
    p.add_argument("--mask", type=Path, default=None, metavar="LABELS.png",
                   help="a picture with one flat colour per region (any size; PNG), as many regions as style "
                        "pictures: region k, colours in increasing order (black first), gets style k")
    p.add_argument("--style-scale", type=_positive, default=1.0, metavar="F",
                   help="resize the style picture by F before taking its statistics: < 1 larger brush strokes, "
                        "> 1 finer ones (default 1)")
    p.add_argument("--content-weight", type=_weight, default=None, help="default: depends on --normalization")
    p.add_argument("--style-weight", type=_weight, default=None,
                   help="default: depends on --normalization and --layer-balance (gatys: 1e13 auto, 3e4 equal)")
    p.add_argument("--tv-weight", type=_weight, default=None, help="default: depends on --normalization")
    p.add_argument("--normalization", choices=NORMALIZATIONS, default="gatys",
                   help='style-loss normalization: "gatys" (the paper, default) or "original" (the Keras post)')
    p.add_argument("--layer-balance", choices=LAYER_BALANCES, default=None,
                   help='how the style layers share the style weight: "auto" (each layer normalized by its '
                        'target, so every layer counts; the default for gatys) or "equal" (the default for original)')
    p.add_argument("--init", choices=INITS, default="content", help="start image (default content)")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="random seed for --init noise (default 0)")
    p.add_argument("--method", choices=METHODS, default="lbfgs", help="optimizer (default lbfgs)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto: bfloat16 where the hardware computes it natively, else float32")
    p.add_argument("--coarse-iterations", type=_coarse, default=DEFAULT_COARSE_ITERATIONS, metavar="Q,H",
                   help=f"evaluations at a quarter and at half the size before the full size (coarse-to-fine; "
                        f"each costs about 1/16 and 1/4 of a full-size one; default "
                        f"{','.join(map(str, DEFAULT_COARSE_ITERATIONS))}; one number: half size only; 0 turns "
                        f"coarse-to-fine off)")
    p.add_argument("--save-every", type=int_at_least(1), default=None, metavar="K",
                   help="keep a frame every K evaluations and write OUTPUT with suffix .gif")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    return p


# --- checks, all before TensorFlow ----------------------------------------------------


def check_pictures(args, settings: Settings) -> None:
    """The content decodes and its size fits; the style decodes and, resized to cover the
    result, fits in memory. Raises ImageError/SizeError naming the picture's role and file."""
    from helpers.budget import SizeError, check_fits
    from helpers.images import ImageError, check_size, check_style, fit_size, load_image

    try:
        height, width = fit_size(*load_image(args.content).shape[:2], args.size)
        check_size(height, width)
        check_fits(height, width)  # before anything is resized to it
    except ImageError as exc:
        if not str(exc).startswith(str(args.content)):  # check_size does not know the file
            exc = ImageError(f"{args.content}: at --size {args.size}, {exc}")
        raise ImageError(f"content picture {exc}", environment=exc.environment) from None
    except SizeError as exc:
        raise SizeError(f"content picture {args.content}: {exc}") from None
    for style in args.style:
        try:
            check_style(style, content_hw=(height, width), style_fit=settings.style_fit,
                        style_scale=settings.style_scale)
        except ImageError as exc:
            raise ImageError(f"style picture {exc}", environment=exc.environment) from None
        except SizeError as exc:
            raise SizeError(f"style picture {exc}") from None


def check_controls(args, settings: Settings) -> None:
    """The several styles, the blend and the mask fit together; the mask is a readable label
    picture with one region per style. Raises UsageError or ImageError (one line)."""
    from helpers.images import ImageError
    from helpers.masks import load_labels

    count = len(args.style)
    if args.style_blend is not None and len(args.style_blend) != count:
        raise UsageError(f"--style-blend has {len(args.style_blend)} weights for {count} style picture"
                         f"{'s' if count != 1 else ''}: give one per style")
    if args.mask is None:
        return
    if args.style_blend is not None:
        raise UsageError("--style-blend and --mask exclude each other: with a mask each region has its own style")
    if settings.normalization != "gatys":
        raise UsageError('--mask needs --normalization gatys')
    try:
        regions = int(load_labels(args.mask).max()) + 1
    except ImageError as exc:
        raise ImageError(f"mask {exc}", environment=exc.environment) from None
    if regions != count:
        raise UsageError(f"mask {args.mask}: {regions} regions (flat colours) but {count} style picture"
                         f"{'s' if count != 1 else ''}: give one style per region")


def check_output(path: Path, *, inputs, overwrite: bool) -> None:
    """The result can be written at `path`, and doing so replaces nothing it must not.

    Refused: the same file as an input (by device and inode: hard links, symlinks), a
    folder, a FIFO or device, an existing file without `overwrite`, a path the system
    cannot use (too long, a symlink loop, no permission). A folder where no file can be
    created (read-only, full) is the environment's failure: FileError with environment=True.
    """
    files.check_not_an_input(path, inputs=inputs)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:  # ELOOP, ENAMETOOLONG, ENOTDIR, EACCES: the true cause, in one line
        raise files.file_error(exc, path) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{path}: is a folder; choose another output name")
    if st is not None:
        files.check_regular_file(path)  # a FIFO or a device is never replaced, not even with --overwrite
    if os.path.lexists(path) and not overwrite:  # (a dangling symlink too)
        raise UsageError(f"{path}: already exists (pass --overwrite to replace it)")
    folder = path.parent
    while True:  # the nearest folder that exists: the save creates the missing ones
        try:
            folder_stat = os.stat(folder)
            break
        except FileNotFoundError:
            if folder == folder.parent:
                raise
            folder = folder.parent
        except OSError as exc:
            raise files.file_error(exc, folder) from None
    if not stat.S_ISDIR(folder_stat.st_mode):
        raise UsageError(f"{path}: cannot be written, {folder} is not a folder")
    try:  # the only sure test (os.access says yes to root even on a read-only disk)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=files.TEMP_PREFIX)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        error = files.file_error(exc, path)
        raise files.FileError(f"{path}: cannot write in {folder}: {files.describe_os_error(exc, '')}",
                              environment=error.environment) from None


def check_args(args, settings: Settings) -> None:
    """Raise UsageError (or ImageError, SizeError, FileError) for anything that would make
    the run fail or destroy a file."""
    check_pictures(args, settings)
    check_controls(args, settings)
    if os.path.isdir(args.output):
        raise UsageError(f"{args.output}: is a folder; give a file name such as {args.output / 'result.png'}")
    if args.output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"{args.output}: the result must be saved as .png, .jpg or .jpeg")
    for path in [args.output] + ([args.gif] if args.gif else []):
        check_output(path, inputs=(args.content, *args.style, *([args.mask] if args.mask else [])),
                     overwrite=args.overwrite)


def _fail(message, status: int = EXIT_BAD_INPUT) -> int:
    """Print `error: <message on one line>` on stderr (helpers.cli.fail); return `status`."""
    fail(message)
    return status


def _report(exc: Exception) -> int:
    """Any exception as one `error:` line; returns its exit status (1 the machine's fault, 2 the input's)."""
    from helpers.weights import WeightsError

    if isinstance(exc, WeightsError):
        return _fail(exc, EXIT_ENVIRONMENT)
    if isinstance(exc, files.FileError):  # ImageError too
        return _fail(exc, EXIT_ENVIRONMENT if exc.environment else EXIT_BAD_INPUT)
    if isinstance(exc, OSError):
        error = files.file_error(exc)
        return _fail(error, EXIT_ENVIRONMENT if error.environment else EXIT_BAD_INPUT)
    if isinstance(exc, ImportError):  # a missing or broken TensorFlow, Keras, SciPy ...
        return _fail(f"{exc}; install the requirements: pip install -r requirements.txt", EXIT_ENVIRONMENT)
    if isinstance(exc, MemoryError):
        return _fail("out of memory: choose a smaller --size", EXIT_ENVIRONMENT)
    if isinstance(exc, (UsageError, ValueError)):  # SizeError, WeightTooLarge, Settings' checks
        return _fail(exc, EXIT_BAD_INPUT)
    return _fail(f"unexpected {type(exc).__name__}: {exc}", EXIT_ENVIRONMENT)


# --- signals --------------------------------------------------------------------------


class Interrupts:
    """While active: SIGINT, SIGTERM and SIGHUP stop the work like Ctrl-C (KeyboardInterrupt),
    which the optimizers turn into a stop that keeps the best image. Only the first signal
    raises; later ones, and all of them once `defer()` was called (while saving), are only
    noted, so a save is never cut short. The previous handlers are restored on exit.
    `signum` is the first signal received (None if none)."""

    def __init__(self):
        self.signum: int | None = None
        self._raise = True
        self._previous: dict = {}

    def _handle(self, signum, frame):
        first = self.signum is None
        if first:
            self.signum = signum
        if first and self._raise:
            raise KeyboardInterrupt

    def defer(self) -> None:
        self._raise = False

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "Ctrl-C"

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():  # handlers live in the main thread only
            self._previous = {s: signal.signal(s, self._handle) for s in INTERRUPTING_SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


# --- the command ----------------------------------------------------------------------


def settings_from_args(args) -> Settings:
    """The run's Settings from the parsed arguments (no TensorFlow); a bad value is a UsageError."""
    coarse = coarse_to_fine(args.coarse_iterations)
    try:
        return Settings(content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight,
                        normalization=args.normalization, init=args.init, seed=args.seed, method=args.method,
                        precision=args.precision, iterations=args.iterations, coarse_to_fine=coarse,
                        strength=args.strength, layer_balance=args.layer_balance, colour=args.colour,
                        style_blend=args.style_blend, style_scale=args.style_scale)
    except ValueError as exc:
        raise UsageError(exc) from None


def describe_plan(stages) -> str:
    """What the command announces, e.g. "100 evaluations at 192 x 256 px, then 100 at 384 x 512 px"."""
    parts = [f"{stage.iterations} {'evaluations ' if i == 0 else ''}at {stage.shape[0]} x {stage.shape[1]} px"
             for i, stage in enumerate(stages)]
    return ", then ".join(parts)


def describe_progress(result, stages) -> str:
    """What ran of the plan, counted the same way throughout, e.g.
    "38 of 200 planned evaluations (38 of 100 at 192 x 256 px, 0 of 100 at 384 x 512 px)"."""
    ran = [n for _, n in result.settings.get("stages", [])] or [len(result.history)]
    ran += [0] * (len(stages) - len(ran))
    planned = sum(stage.iterations for stage in stages)
    text = f"{sum(ran)} of {planned} planned evaluations"
    if len(stages) > 1:
        text += " (" + ", ".join(f"{n} of {stage.iterations} at {stage.shape[0]} x {stage.shape[1]} px"
                                 for n, stage in zip(ran, stages)) + ")"
    return text


def prepare(argv) -> tuple[argparse.Namespace, Settings]:
    """Parse and check everything the user typed (no TensorFlow); raises UsageError (or
    ImageError/SizeError/FileError for the pictures and the output, WeightsError for the weights)."""
    from helpers.weights import vgg16_weights_path

    args = build_parser().parse_args(argv)
    if args.output is None:
        args.output = Path("_".join([args.content.stem] + [style.stem for style in args.style]) + ".png")
    args.gif = args.output.with_suffix(".gif") if args.save_every else None
    settings = settings_from_args(args)
    check_args(args, settings)
    vgg16_weights_path()  # a missing network or mirror is bad news better heard now
    return args, settings


def stylize_pictures(args, settings: Settings):
    """Plan the stages, build each problem once, announce the plan and the expected time, run.
    Returns (the StyleResult, the planned stages)."""
    from helpers.quiet import import_tensorflow

    import_tensorflow()  # its C++ start-up lines would break "every error is one line"
    from helpers import optimize

    stages = optimize.plan(args.content, size=args.size, settings=settings)
    problems = optimize.build_problems(args.content, args.style, stages=stages, settings=settings, mask=args.mask)
    expected = optimize.estimate_seconds(problems, stages=stages, settings=settings)
    height, width = stages[-1].shape
    styles = " + ".join(style.name for style in args.style) + (f" (regions of {args.mask.name})" if args.mask else "")
    print(f"stylizing {args.content.name} as {styles}: {height} x {width} px, "
          f"{problems[-1].precision}, {settings.method}: {describe_plan(stages)}; "
          f"expected about {_seconds(expected)}", flush=True)
    result = optimize.run_stages(problems, stages=stages, settings=settings, frames_every=args.save_every)
    return result, stages


def save_outputs(args, result, stages) -> int:
    """Save the picture (and the animation); print what was done; return the exit status
    (0, or 1 when a file had to be rescued into a temporary folder or could not be saved)."""
    from helpers import images

    free_name = not args.overwrite  # the one rule: never replace, take the next free name
    try:
        saved, note = images.save_image_or_rescue(result.image, args.output, overwrite=args.overwrite,
                                                  next_free_name=free_name)
    except images.ImageError as exc:  # the rescue failed too
        return _fail(exc, EXIT_ENVIRONMENT)
    rescued = note is not None and saved.parent != args.output.parent
    status, gif_note = EXIT_DONE, None
    gif = None
    if args.gif:
        try:
            gif, gif_note = images.save_data_or_rescue(result.animation(), args.gif, overwrite=args.overwrite,
                                                       next_free_name=free_name,
                                                       rescue_folder=saved.parent if rescued else None)
        except images.ImageError as exc:
            gif_note = f"{exc}"
    if rescued:
        return _fail(note + (f" (and the animation as {gif})" if gif else ""), EXIT_ENVIRONMENT)
    if note:
        print(f"note: {note}", file=sys.stderr)
    if gif_note:
        if gif is None or gif.parent != args.gif.parent:
            return _fail(f"saved {saved}, but the animation: {gif_note}", EXIT_ENVIRONMENT)
        print(f"note: {gif_note}", file=sys.stderr)
    took = f"took {_seconds(result.seconds)}, final loss {result.best_loss:.4g}"
    if result.stopped:
        print(result.stopped)
        took += f"; stopped early after {describe_progress(result, stages)}, best image kept"
    print(f"saved {saved} ({took})" + (f" and the progress animation {gif}" if gif else ""), flush=True)
    return status


def main(argv=None) -> int:
    """`python -m helpers.stylize`; returns the exit status (see the module docstring)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow
    try:
        args, settings = prepare(argv)
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C) before anything was started; nothing saved", file=sys.stderr)
        return interrupted_status(signal.SIGINT)
    except Exception as exc:  # every error is one line, never a traceback
        return _report(exc)
    with Interrupts() as interrupts:
        try:
            result, stages = stylize_pictures(args, settings)
        except KeyboardInterrupt:  # during the setup: nothing to save yet
            print(f"interrupted ({interrupts.name}) before the optimization started; nothing saved",
                  file=sys.stderr)
            return interrupted_status(interrupts.signum or signal.SIGINT)
        except Exception as exc:
            return _report(exc)
        finally:
            interrupts.defer()  # from here on a signal is noted, and the save finishes
        try:
            status = save_outputs(args, result, stages)
        except Exception as exc:
            return _report(exc)
    if status == EXIT_DONE and interrupts.signum is not None:
        print(f"stopped by {interrupts.name}; exit status {interrupted_status(interrupts.signum)}",
              file=sys.stderr)
        return interrupted_status(interrupts.signum)
    return status


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"


if __name__ == "__main__":
    raise SystemExit(main())
