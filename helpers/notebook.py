"""What every notebook's Setup cell calls: version checks, compact figures, fast mode.

    from helpers.notebook import setup, fast
    setup()                      # prints versions, says what to do on Colab
    SIZE = fast(256, 64)         # 256 normally, 64 when NST_FAST=1 (CI executes every notebook that way)
    full_mode()                  # True when NST_FULL=1: the few cells with a long version run it
    keep(content_loss)           # save a function you wrote in ./my_nst.py; yours("content_loss") loads it back
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
    install_friendly_errors()  # an unwritten stub: one line, not a traceback

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


# --- Carrying the student's functions between notebooks (docs/student-build.md) -------------------------
#
#     keep(content_loss)           # last line of a carried cell: saves its source in ./my_nst.py
#     content_loss, gram_matrix = yours("content_loss", "gram_matrix")   # a later notebook loads them
#
# my_nst.py lives beside the notebooks (the kernel's working directory). It is generated and committed by
# scripts/make_exercises.py (reference solutions in notebooks/, stubs in notebooks/exercises/), so every
# notebook also runs on its own; `keep` replaces one function's definition in it and leaves the rest.

MY_NST = "my_nst.py"
LOSS_NAMES = ("content_loss", "gram_matrix", "style_loss", "total_variation_loss")


def _function_span(tree, name: str) -> tuple[int, int] | None:
    """(first, last) line, 1-based, of the top-level function `name` in a parsed module (decorators included)."""
    import ast

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return min([node.lineno] + [d.lineno for d in node.decorator_list]), node.end_lineno
    return None


def _cell_imports(fn) -> list[str]:
    """The top-level import lines of the cell (or file) that defined `fn`, so that its source works in my_nst.py."""
    import ast
    import linecache

    source = "".join(linecache.getlines(fn.__code__.co_filename))
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a cell with IPython magics: no imports to carry
        return []
    lines = source.splitlines()
    return [line for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
            for line in lines[node.lineno - 1: node.end_lineno]]


def keep(fn, *, folder: str | os.PathLike = ".") -> None:
    """Save the source of function `fn` in `folder`/my_nst.py, replacing its earlier definition there.

    Idempotent: running the cell again rewrites the same lines. Import lines of `fn`'s cell that the
    file lacks are added after its last import. A `tf.function` is kept by its Python source.
    Prints one line: "kept `NAME` in my_nst.py". An unwritten stub (a line `raise NotImplementedError`)
    is not kept, so my_nst.py's own stub, which says in which notebook to write it, stays.
    """
    import ast
    import inspect

    fn = getattr(fn, "python_function", fn)  # a tf.function wraps the student's Python function
    name = fn.__name__
    source = inspect.getsource(fn).rstrip("\n").splitlines()
    if any(line.strip() == "raise NotImplementedError" for line in source):
        print(f"`{name}` is not written yet (it still says `raise NotImplementedError`): not kept")
        return
    path = Path(folder) / MY_NST
    text = path.read_text(encoding="utf-8") if path.exists() else '"""Your functions, kept by keep(...)."""\n'
    lines = text.splitlines()
    span = _function_span(ast.parse(text), name)
    if span is None:
        lines += ["", ""] + source
    else:
        lines[span[0] - 1: span[1]] = source
    missing = [line for line in _cell_imports(fn) if line not in lines]
    if missing:
        tree = ast.parse("\n".join(lines))
        last = max((n.end_lineno for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))), default=1)
        lines[last:last] = missing
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"kept `{name}` in {MY_NST}")


def yours(*names: str, folder: str | os.PathLike = "."):
    """Your functions from `folder`/my_nst.py, imported fresh on every call (so a re-run cell counts).

    yours("content_loss", "gram_matrix") -> a tuple of those functions, in that order;
    yours() -> {name: function} for each of LOSS_NAMES the file defines, ready for
    `StyleTransfer(..., losses=yours())`.
    """
    import importlib.util

    path = Path(folder).resolve() / MY_NST
    if not path.exists():
        raise FileNotFoundError(f"no {MY_NST} in {path.parent}: run the notebooks that write it (03-06) in this folder")
    spec = importlib.util.spec_from_file_location("my_nst", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not names:
        return {name: getattr(module, name) for name in LOSS_NAMES if hasattr(module, name)}
    missing = [name for name in names if not hasattr(module, name)]
    if missing:
        raise NotImplementedError(f"{MY_NST} has no `{missing[0]}`: write it and run its cell (it ends with keep(...))")
    return tuple(getattr(module, name) for name in names)


def friendly_line(value: BaseException, tb) -> str:
    """The one line shown for a NotImplementedError: its message, else "write `NAME` above first".

    NAME is the function of the innermost traceback frame (a stub's own name). TensorFlow's
    tf.function re-raises an error with its own traceback text in the message: its last line is kept.
    """
    lines = [line.strip() for line in str(value).splitlines() if line.strip()]
    message = lines[-1].removeprefix("NotImplementedError:").strip() if lines else ""
    if message:
        return f"✋ {message}"
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    name = tb.tb_frame.f_code.co_name.removeprefix("tf__") if tb is not None else "this function"
    return f"✋ write `{name}` above first (its cell still says `raise NotImplementedError`)"


def _not_implemented_handler(shell, etype, value, tb, tb_offset=None):
    """IPython custom exception handler: one line instead of a traceback; the cell still fails ("Run all" stops)."""
    shell._showtraceback(etype, value, [friendly_line(value, tb)])  # sends the error output and the reply's traceback


def install_friendly_errors() -> bool:
    """Inside IPython, show a NotImplementedError (an unwritten stub) as one line; False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((NotImplementedError,), _not_implemented_handler)
    return True
