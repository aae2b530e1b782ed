"""The answer keys in notebooks/solutions/: one per notebook, one answer per exercise, and their code runs.

The code runs in fast mode (NST_FAST=1: tiny sizes and iteration counts, labelled as such in each
key's `fast(...)` calls), in a subprocess with the session's offline VGG16 weights.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "run_solutions.py"

spec = importlib.util.spec_from_file_location("run_solutions", SCRIPT)
run_solutions = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_solutions)

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
KEYS = run_solutions.answer_keys()


def exercises_of(notebook: Path) -> list[str]:
    """The numbered items of a notebook's "## Exercises" section (their first line)."""
    markdown = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "markdown")
    section = markdown.split("## Exercises", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^(\d+)\. ", section, re.MULTILINE)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_exercise_has_an_answer(notebook):
    key = REPO / "notebooks" / "solutions" / f"{notebook.stem}.md"
    assert key.exists(), f"no answer key {key.relative_to(REPO)} for {notebook.name}"
    text = key.read_text(encoding="utf-8")
    answered = re.findall(r"^## (\d+)\. ", text, re.MULTILINE)
    assert answered == exercises_of(notebook), f"{key.name}: answers {answered}, exercises {exercises_of(notebook)}"
    assert text.count("**Answer.**") == len(answered), f"{key.name}: one **Answer.** per exercise"
    assert "{{" not in text, f"{key.name}: a number was never filled in"


def test_code_of_keeps_line_numbers(tmp_path):
    key = tmp_path / "01_demo.md"
    key.write_text("# Title\n\n```python\nx = 1\n```\n\ntext\n\n```python\nprint(x)\n```\n", encoding="utf-8")
    code = run_solutions.code_of(key)
    assert code.splitlines()[3] == "x = 1" and code.splitlines()[9] == "print(x)"
    assert "Title" not in code and "text" not in code


@pytest.mark.slow
@pytest.mark.parametrize("key", KEYS, ids=[p.stem for p in KEYS])
def test_answer_key_code_runs_in_fast_mode(key, weights_path):
    env = {**os.environ, "NST_FAST": "1", "KERAS_HOME": str(weights_path.parent.parent), "MPLBACKEND": "Agg",
           "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(SCRIPT), str(key)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
