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
        else:
            assert cell.source == original.source  # markdown, check and parameter cells are kept


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
