"""keep / yours (the student's functions carried in my_nst.py) and the one-line error for an unwritten stub.

Tiny and TensorFlow-free except where a tf.function is the point.
"""
from __future__ import annotations

import runpy
import sys
import textwrap

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from helpers import notebook
from helpers.notebook import friendly_line, keep, yours


def define(tmp_path, name: str, source: str):
    """Define a function from `source` in a file of its own (as a cell would), return it."""
    path = tmp_path / f"{name}_cell.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return runpy.run_path(str(path))[name]


def test_keep_replaces_only_its_function_and_is_idempotent(tmp_path, capsys):
    (tmp_path / "my_nst.py").write_text('"""Head."""\nimport math\n\n\ndef double(x):\n    raise NotImplementedError\n\n\n'
                                        'def other(x):\n    return x\n', encoding="utf-8")
    double = define(tmp_path, "double", "import math\n\ndef double(x):\n    return 2 * x\n")
    keep(double, folder=tmp_path)
    assert capsys.readouterr().out == "kept `double` in my_nst.py\n"
    once = (tmp_path / "my_nst.py").read_text()
    assert once == '"""Head."""\nimport math\n\n\ndef double(x):\n    return 2 * x\n\n\ndef other(x):\n    return x\n'
    keep(double, folder=tmp_path)
    assert (tmp_path / "my_nst.py").read_text() == once
    got, = yours("double", folder=tmp_path)
    assert got(21) == 42


def test_keep_leaves_an_unwritten_stub_out(tmp_path, capsys):
    (tmp_path / "my_nst.py").write_text("def f(x):\n    raise NotImplementedError('write `f` in 03')\n", encoding="utf-8")
    before = (tmp_path / "my_nst.py").read_text()
    keep(define(tmp_path, "f", "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError\n"), folder=tmp_path)
    assert "not kept" in capsys.readouterr().out
    assert (tmp_path / "my_nst.py").read_text() == before


def test_keep_appends_a_new_function_and_its_imports(tmp_path):
    (tmp_path / "my_nst.py").write_text('"""Head."""\nimport math\n', encoding="utf-8")
    root = define(tmp_path, "root", "import cmath\n\ndef root(x):\n    return cmath.sqrt(x)\n")
    keep(root, folder=tmp_path)
    text = (tmp_path / "my_nst.py").read_text()
    assert text == '"""Head."""\nimport math\nimport cmath\n\n\ndef root(x):\n    return cmath.sqrt(x)\n'
    assert yours("root", folder=tmp_path)[0](-4) == 2j


def test_yours_reads_the_file_fresh_every_time(tmp_path):
    path = tmp_path / "my_nst.py"
    path.write_text("def content_loss(a, b):\n    return 1\n", encoding="utf-8")
    assert yours("content_loss", folder=tmp_path)[0](0, 0) == 1
    path.write_text("def content_loss(a, b):\n    return 2\n\n\ndef gram_matrix(f):\n    return 3\n", encoding="utf-8")
    assert yours("content_loss", folder=tmp_path)[0](0, 0) == 2
    mapping = yours(folder=tmp_path)  # the mapping StyleTransfer(losses=...) takes
    assert sorted(mapping) == ["content_loss", "gram_matrix"]
    with pytest.raises(NotImplementedError, match="no `style_loss`"):
        yours("style_loss", folder=tmp_path)
    with pytest.raises(FileNotFoundError, match="no my_nst.py"):
        yours("x", folder=tmp_path / "elsewhere")


def _raised(fn):
    try:
        fn()
    except NotImplementedError:
        return sys.exc_info()[1:]
    raise AssertionError("no NotImplementedError")


def test_friendly_line_names_the_stub_or_uses_the_message():
    def gram_matrix():
        raise NotImplementedError

    def style_loss():
        gram_matrix()

    assert friendly_line(*_raised(style_loss)) == \
        "✋ write `gram_matrix` above first (its cell still says `raise NotImplementedError`)"

    def stub():
        raise NotImplementedError("write `gram_matrix` in 04_style_loss.ipynb (section 2) and run its cell")

    assert friendly_line(*_raised(stub)) == "✋ write `gram_matrix` in 04_style_loss.ipynb (section 2) and run its cell"


def test_friendly_line_through_a_tf_function():
    tf = pytest.importorskip("tensorflow")

    def content_loss(a, b):
        raise NotImplementedError("write `content_loss` in 03_content_loss.ipynb (section 2) and run its cell")

    @tf.function
    def total(x):
        return content_loss(x, x)

    line = friendly_line(*_raised(lambda: total(tf.constant(1.0))))
    assert line == "✋ write `content_loss` in 03_content_loss.ipynb (section 2) and run its cell", line


def test_in_a_kernel_a_stub_is_one_line_and_stops_run_all(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from helpers.notebook import install_friendly_errors\ninstall_friendly_errors()"),
        nbformat.v4.new_code_cell("def gram_matrix(f):\n    raise NotImplementedError"),
        nbformat.v4.new_code_cell("gram_matrix(1)"),
        nbformat.v4.new_code_cell("print('never runs')"),
    ])
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError) as error:
        client.execute()
    text = str(error.value)
    assert "✋ write `gram_matrix` above first" in text
    assert "Traceback" not in text and "File " not in text, text
    outputs = nb.cells[2].outputs
    assert [o.output_type for o in outputs] == ["error"] and len(outputs[0].traceback) == 1
    assert nb.cells[3].outputs == []


def test_outside_ipython_nothing_is_installed():
    assert notebook.install_friendly_errors() is False
