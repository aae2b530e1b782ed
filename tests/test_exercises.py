"""The classroom kit: notebooks/exercises/ is generated from the notebooks and kept up to date."""
from __future__ import annotations

import ast
import copy
import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "make_exercises.py"

spec = importlib.util.spec_from_file_location("make_exercises", SCRIPT)
make_exercises = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_exercises)

SOURCES = make_exercises.sources()
WITH_SOLUTIONS = [p for p in SOURCES
                  if any("solution" in c.metadata.get("tags", []) for c in nbformat.read(p, as_version=4).cells)]


@pytest.mark.slow  # a fresh process reads and rebuilds every notebook
def test_exercise_notebooks_are_up_to_date():
    """CI fails when a notebook changed and `python scripts/make_exercises.py` was not run."""
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", WITH_SOLUTIONS, ids=[p.stem for p in WITH_SOLUTIONS])
def test_every_solution_cell_is_stubbed_and_nothing_else_changes(path):
    full = nbformat.read(path, as_version=4)
    ex = nbformat.reads(make_exercises.render(path), as_version=4)
    assert "widgets" not in ex.metadata
    notes = [c for c in ex.cells if make_exercises.NOTE_TAG in c.metadata.get("tags", [])]
    assert len(notes) == 1 and path.name in notes[0].source
    cells = [c for c in ex.cells if c is not notes[0]]
    assert len(cells) == len(full.cells)
    for original, cell in zip(full.cells, cells):
        assert cell.cell_type == original.cell_type
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            assert "execution" not in cell.metadata
        if "solution" in original.metadata.get("tags", []):
            assert "# YOUR CODE HERE" in cell.source and "raise NotImplementedError" in cell.source, cell.source
            assert cell.source != original.source
            ast.parse(cell.source)  # the stub is valid Python
            stub_lines = set(cell.source.splitlines())
            # no `return` line of the solution survives in the stub
            leaked = [ln for ln in original.source.splitlines() if ln.strip().startswith("return ") and ln in stub_lines]
            assert not leaked, leaked
        elif cell.cell_type == "markdown":  # kept, but links into ../docs/ are one folder further up
            assert cell.source == original.source.replace("](../docs/", "](../../docs/")
        else:
            assert cell.source == original.source  # check and parameter cells are kept


def test_stub_keeps_comments_signatures_and_docstrings():
    stub = make_exercises.stub
    assert stub("# Gram matrix of F\n# (C x C)\nG = tf.matmul(F, F, transpose_a=True)\n") == (
        "# Gram matrix of F\n# (C x C)\n# YOUR CODE HERE\nraise NotImplementedError")
    source = ('@tf.function\ndef loss(a,\n         b):\n    """Sum of squares.\n\n    Returns a scalar."""\n'
              '    d = a - b\n    return tf.reduce_sum(d * d)\n\nprint(loss(x, y))\n')
    assert stub(source) == ('@tf.function\ndef loss(a,\n         b):\n    """Sum of squares.\n\n    Returns a scalar."""\n'
                            '    # YOUR CODE HERE\n    raise NotImplementedError\n\nprint(loss(x, y))')
    assert stub("def f(x): return 2 * x") == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError"
    assert stub("def f(x):\n    return 2 * x\n\n\ndef g(x):\n    return 3 * x") == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError\n\n"
        "def g(x):\n    # YOUR CODE HERE\n    raise NotImplementedError")
    marked = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    y = 2 * x\n    ### END SOLUTION\n    return y"
    assert stub(marked) == "def f(x):\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError\n    return y"
    assert stub("%time x = 1") == "# YOUR CODE HERE\nraise NotImplementedError"  # not Python: stub only


def test_output_is_deterministic_and_ignores_outputs(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("x = 1", execution_count=3, metadata={"tags": ["solution"], "execution": {"iopub.status.idle": "2024-01-01T00:00:00Z"}},
                                  outputs=[nbformat.v4.new_output("stream", text="hi")]),
        nbformat.v4.new_code_cell("check('x', x, 1)", metadata={"tags": ["check"]}),
    ])
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    nb.metadata["widgets"] = {"state": {}}
    clean = copy.deepcopy(nb)
    clean.metadata.pop("widgets")
    clean.cells[1].outputs, clean.cells[1].execution_count = [], None
    clean.cells[1].metadata.pop("execution")
    texts = []
    for notebook in (nb, clean, nb):
        path = tmp_path / "01_demo.ipynb"
        nbformat.write(notebook, path)
        texts.append(make_exercises.render(path))
    assert texts[0] == texts[1] == texts[2]
    ex = nbformat.reads(texts[0], as_version=4)
    assert [c.source for c in ex.cells][2:] == ["# YOUR CODE HERE\nraise NotImplementedError", "check('x', x, 1)"]


# --- my_nst.py: the student's functions carried from notebook to notebook (docs/student-build.md) -----------

CARRYING = [p for p in SOURCES if any(make_exercises.CARRY_TAG in c.metadata.get("tags", [])
                                      for c in nbformat.read(p, as_version=4).cells)]


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_carried_cells_are_solutions_that_keep_their_functions():
    assert [p.name[:2] for p in CARRYING][:3] == ["03", "04", "05"]
    for path in CARRYING:
        for cell in nbformat.read(path, as_version=4).cells:
            if make_exercises.CARRY_TAG in cell.metadata.get("tags", []):
                assert "solution" in cell.metadata.get("tags", []), cell.id
                names = [name for name, _ in make_exercises._functions(cell.source)]
                kept = [ln[len("keep("):-1] for ln in cell.source.splitlines() if ln.startswith("keep(")]
                assert names and [k.split(")")[0] for k in kept] == names, (cell.id, names, kept)


def test_my_nst_files_hold_the_solutions_and_friendly_stubs():
    reference = load(make_exercises.NOTEBOOKS / "my_nst.py", "my_nst_reference")
    stubs = load(make_exercises.EXERCISES / "my_nst.py", "my_nst_stubs")
    carried = make_exercises.carried(SOURCES)
    assert {"content_loss", "gram_matrix", "style_loss", "total_variation_loss"} <= {name for _, _, name, _ in carried}
    for notebook, section, name, _ in carried:
        assert callable(getattr(reference, name))
        arguments = [None] * getattr(stubs, name).__code__.co_argcount
        with pytest.raises(NotImplementedError, match=f"^write `{name}` in {notebook} \\(section {section}\\) and run its cell$"):
            getattr(stubs, name)(*arguments)
    import numpy as np
    import tensorflow as tf  # the reference really computes: one hand-checkable value each
    assert float(reference.content_loss(tf.zeros((1, 2, 3, 4)), tf.ones((1, 2, 3, 4)))) == 24.0
    np.testing.assert_array_equal(reference.gram_matrix(tf.constant([[[[1.0, 2.0]], [[3.0, 4.0]]]])), [[10, 14], [14, 20]])


def test_keep_on_the_solution_cells_leaves_the_reference_file_unchanged(tmp_path):
    """Running the full notebooks rewrites notebooks/my_nst.py with exactly the bytes make_exercises.py made."""
    import runpy

    import numpy as np
    import tensorflow as tf

    from helpers.notebook import keep

    reference = make_exercises.NOTEBOOKS / "my_nst.py"
    (tmp_path / "my_nst.py").write_bytes(reference.read_bytes())
    for i, (_, _, name, _) in enumerate(make_exercises.carried(SOURCES)):
        cell = next(c for p in CARRYING for c in nbformat.read(p, as_version=4).cells
                    if make_exercises.CARRY_TAG in c.metadata.get("tags", []) and f"def {name}(" in c.source)
        source = "\n".join(ln for ln in cell.source.splitlines() if not ln.startswith("keep("))
        (tmp_path / f"cell{i}.py").write_text(source, encoding="utf-8")
        keep(runpy.run_path(str(tmp_path / f"cell{i}.py"), init_globals={"tf": tf, "np": np})[name], folder=tmp_path)
    assert (tmp_path / "my_nst.py").read_bytes() == reference.read_bytes()


def test_markdown_links_into_docs_point_one_folder_further_up():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T\n\n![the method](../docs/method.svg)")])
    assert make_exercises.exercise(nb).cells[0].source == "# T\n\n![the method](../../docs/method.svg)"


def _run_in_order(folder: Path, names: list[str], *, stop_at_error: bool = False) -> dict:
    """Execute exercise notebooks `names` in `folder`, in order; {name: (executed notebook, CellExecutionError or None)}.

    stop_at_error: stop each notebook at its first error, as Jupyter's "Run all" does.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    done = {}
    for name in names:
        nb = nbformat.read(folder / name, as_version=4)
        try:
            NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=not stop_at_error,
                           resources={"metadata": {"path": str(folder)}}).execute()
            done[name] = (nb, None)
        except CellExecutionError as error:
            done[name] = (nb, error)
    return done


@pytest.fixture
def exercise_copy(tmp_path, weights_path, monkeypatch):
    """A temporary copy of notebooks/exercises/ (the notebooks write my_nst.py), fast mode (tiny sizes)."""
    import shutil

    monkeypatch.setenv("NST_FAST", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    folder = tmp_path / "exercises"
    shutil.copytree(make_exercises.EXERCISES, folder)
    return folder


@pytest.mark.slow
def test_unwritten_stubs_give_one_friendly_line(exercise_copy):
    """"Run all" on each untouched exercise notebook stops at its first stub, with one friendly line and no traceback."""
    for name, (nb, error) in _run_in_order(exercise_copy, [p.name for p in CARRYING], stop_at_error=True).items():
        assert error is not None, f"{name}: no stub stopped it"
        assert "✋ write `" in str(error) and "Traceback" not in str(error) and 'File "' not in str(error), (name, str(error))
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert len(outputs) == 1 and outputs[0].ename == "NotImplementedError", (name, outputs)
        assert len(outputs[0].traceback) == 1 and outputs[0].traceback[0].startswith("✋ write `"), outputs[0].traceback


@pytest.mark.slow
def test_solutions_written_in_the_exercises_pass_and_are_carried(exercise_copy):
    """The student who writes every solution: each check passes, and my_nst.py ends up as the reference."""
    for path in CARRYING:  # write the solutions into the exercise notebooks, as a student would
        full = {c.id: c.source for c in nbformat.read(path, as_version=4).cells}
        ex = nbformat.read(exercise_copy / path.name, as_version=4)
        for cell in ex.cells:
            if "solution" in cell.metadata.get("tags", []):
                cell.source = full[cell.id]
        nbformat.write(ex, exercise_copy / path.name)
    for name, (nb, _) in _run_in_order(exercise_copy, [p.name for p in CARRYING]).items():
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, (name, errors[0].ename, errors[0].evalue)
        printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        assert "PASS" in printed and "FAIL" not in printed, name
    def functions(path):  # all but the docstring at the top, whose title differs between the two copies
        return path.read_text(encoding="utf-8").split('"""', 2)[2]

    assert functions(exercise_copy / "my_nst.py") == functions(make_exercises.NOTEBOOKS / "my_nst.py")
