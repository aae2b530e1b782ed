"""What every notebook's Setup cell calls: version checks, compact figures, fast mode.

    from helpers.notebook import setup, fast
    setup()                      # prints versions, says what to do on Colab
    SIZE = fast(256, 64)         # 256 normally, 64 when NST_FAST=1 (CI executes every notebook that way)
    full_mode()                  # True when NST_FULL=1: the few cells with a long version run it
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from helpers.quiet import import_tensorflow

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "images"
CONTENT_IMAGES = IMAGES / "content"
STYLE_IMAGES = IMAGES / "styles"

MIN_VERSIONS = {"tensorflow": (2, 16), "keras": (3, 0)}


def fast_mode() -> bool:
    """True when the environment variable NST_FAST is set to 1 (tests and CI)."""
    return os.environ.get("NST_FAST", "") not in ("", "0")


def full_mode() -> bool:
    """True when the environment variable NST_FULL is set to 1: run the long versions (e.g. the post's 512 px replay)."""
    return os.environ.get("NST_FULL", "") not in ("", "0")


def fast(default, fast_value):
    """`default` normally; `fast_value` in fast mode (NST_FAST=1), so CI runs every notebook in seconds."""
    return fast_value if fast_mode() else default


def _version(module) -> tuple[int, int]:
    return tuple(int(p) for p in module.__version__.split(".")[:2])


def setup(quiet: bool = False) -> None:
    """Check versions, make figures compact, print what this notebook runs on.

    Figures are stored as JPEG at 80 dpi (notebooks stay small); TensorFlow's
    start-up messages are hidden.
    """
    import_tensorflow()  # TensorFlow's C++ start-up lines ignore TF_CPP_MIN_LOG_LEVEL
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    import matplotlib

    problems = [f"{m.__name__} {m.__version__} is older than {'.'.join(map(str, MIN_VERSIONS[m.__name__]))}"
                for m in (tf, keras) if _version(m) < MIN_VERSIONS[m.__name__]]
    if problems:
        raise RuntimeError("; ".join(problems) + ". Run: pip install -r requirements.txt")

    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("jpeg", pil_kwargs={"quality": 85})  # (not an rcParam)
    except Exception:  # not inside IPython: nothing to configure
        pass
    matplotlib.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})

    if quiet:
        return
    print(f"Python {sys.version.split()[0]}, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"{'GPU: ' + gpus[0].name if gpus else 'CPU only (fine: every notebook is sized for a laptop CPU)'}")
    if "google.colab" in sys.modules:
        print("On Colab: run `!git clone <this repository> && %cd <folder> && !pip install -r requirements.txt` "
              "once, then Runtime > Restart session.")
    if fast_mode():
        print("NST_FAST=1: tiny sizes and iteration counts (for tests), results will look rough.")


def check(name: str, got, expected, rtol: float = 1e-5, atol: float = 1e-8) -> None:
    """Self-check cell helper: compare a student's result with an independently computed one.

    Passes when |got - expected| <= atol + rtol * |expected| for every entry (np.allclose).
    Prints one line, "PASS" with the relative error it judged, or raises AssertionError with
    a "FAIL" line, so a failing check stops "Run all" (and CI) right there. The relative error
    is taken at the entry closest to failing: |got - expected| / |expected| there (the absolute
    difference instead where atol, not rtol, sets the tolerance, e.g. where expected is 0). The tolerance is stated in the notebook next to
    each call.
    """
    import numpy as np

    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        raise AssertionError(f"FAIL {name}: shape {got.shape}, expected {expected.shape}")
    verdict = f"{name}: {_relative_error(got, expected, rtol, atol)} (tolerance rtol={rtol:g}, atol={atol:g})"
    if not np.allclose(got, expected, rtol=rtol, atol=atol):
        raise AssertionError(f"FAIL {verdict}")
    print(f"PASS {verdict}")


def _relative_error(got, expected, rtol: float, atol: float) -> str:
    """'relative error 3.2e-07' at the entry nearest to failing np.allclose (see `check`)."""
    import numpy as np

    if got.size == 0:
        return "relative error 0"
    diff = np.abs(got - expected)
    with np.errstate(divide="ignore", invalid="ignore"):
        closeness = np.where(np.isfinite(diff), diff / (atol + rtol * np.abs(expected)), np.inf)
    worst = np.unravel_index(np.nanargmax(np.nan_to_num(closeness, nan=np.inf)), diff.shape)
    d, e = float(diff[worst]), float(expected[worst])
    if not np.isfinite(d):
        return f"got {float(got[worst]):g} where {e:.6g} was expected"
    if e == 0 or atol >= rtol * abs(e):  # there the tolerance is (mostly) the absolute one
        return f"absolute error {d:.3g} where {e:.3g} was expected"
    return f"relative error {d / abs(e):.3g}"
