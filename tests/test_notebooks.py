"""Every notebook executes top to bottom in fast mode, and the committed files are clean.

Fast mode (NST_FAST=1) shrinks image sizes and iteration counts: a tiny configuration,
for checking that every cell runs, not for looking at the results. The committed
outputs come from `python scripts/run_notebooks.py` at default settings.
"""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
MAX_BYTES = 5_000_000


@pytest.fixture(params=PATHS, ids=[p.stem for p in PATHS])
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_series_is_complete():
    names = [p.stem[:2] for p in PATHS]
    assert names == [f"{i:02d}" for i in range(1, len(PATHS) + 1)] and len(PATHS) >= 6, names


@pytest.mark.slow
def test_executes_in_fast_mode(notebook, weights_path, monkeypatch):
    path, nb = notebook
    monkeypatch.setenv("NST_FAST", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, naming the cell, on any error


def test_committed_file_is_a_clean_real_run(notebook):
    path, nb = notebook
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size / 1e6:.1f} MB"
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: not run top to bottom in order: {counts}"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: committed with an error output: {errors[0].get('ename')}"
    fast_runs = [c for c in code for o in c.outputs if "NST_FAST=1" in str(o.get("text", ""))]
    assert not fast_runs, f"{path.name}: committed outputs come from a fast-mode run"


def test_structure(notebook):
    path, nb = notebook
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    h1 = [line for line in markdown.splitlines() if line.startswith("# ")]
    assert len(h1) == 1, f"{path.name}: needs exactly one H1, found {h1}"
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), f"{path.name}: no cell tagged 'parameters'"
    assert "## Setup" in markdown, f"{path.name}: no Setup section"
    assert "xercise" in markdown, f"{path.name}: no exercises"
