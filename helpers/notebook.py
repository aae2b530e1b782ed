"""What every notebook's Setup cell calls: version checks, compact figures, fast mode.

    from helpers.notebook import setup, fast
    setup()                      # prints versions, says what to do on Colab
    SIZE = fast(256, 64)         # 256 normally, 64 when NST_FAST=1 (CI executes every notebook that way)
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

    Prints one line, "PASS" with the largest difference, or raises AssertionError with
    a "FAIL" line, so a failing check stops "Run all" (and CI) right there. The
    tolerance is stated in the notebook next to each call.
    """
    import numpy as np

    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        raise AssertionError(f"FAIL {name}: shape {got.shape}, expected {expected.shape}")
    diff = float(np.max(np.abs(got - expected))) if got.size else 0.0
    verdict = f"{name}: max |difference| {diff:.3g} (tolerance rtol={rtol:g}, atol={atol:g})"
    if not np.allclose(got, expected, rtol=rtol, atol=atol):
        raise AssertionError(f"FAIL {verdict}")
    print(f"PASS {verdict}")
