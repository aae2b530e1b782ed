"""`python -m helpers.stylize`: one real run end to end, and every kind of bad input (exit 2, one line)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from helpers import stylize

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "images" / "content" / "tuebingen.jpg"
STYLE = REPO / "images" / "styles" / "great_wave.jpg"
TINY = ["--size", "64", "--iterations", "3", "--precision", "float32"]


def cli(*args, cwd):
    """Run the command in a fresh process (KERAS_HOME comes from the weights_path fixture)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "helpers.stylize", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and len(lines[0]) > len("error: ")
    return lines[0]


# --- end to end, in real processes (3 in all: TensorFlow takes seconds to import) ---------------


@pytest.mark.slow
def test_cli_end_to_end(weights_path, tmp_path):
    out = tmp_path / "result.png"
    done = cli(CONTENT, STYLE, *TINY, "--save-every", "1", "--output", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "48 x 64" in done.stdout and "float32" in done.stdout and "about" in done.stdout
    assert "lbfgs: 3 evaluations at 48 x 64 px;" in done.stdout  # half of 48 x 64 is too small: not announced
    assert f"saved {out}" in done.stdout and "final loss" in done.stdout
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size == (64, 48) and img.mode == "RGB"
        img.verify()
    with Image.open(out.with_suffix(".gif")) as gif:
        assert gif.format == "GIF" and gif.size == (64, 48) and gif.n_frames >= 2

    # again, without --overwrite: refused before any work, the file untouched
    before = out.read_bytes()
    again = cli(CONTENT, STYLE, *TINY, "--output", out, cwd=tmp_path)
    assert again.returncode == 2
    assert "already exists" in one_error_line(again.stderr) and again.stdout == ""
    assert out.read_bytes() == before


@pytest.mark.slow
def test_cli_bad_picture_in_a_real_process(tmp_path):
    (tmp_path / "notes.jpg").write_text("not a picture\n")
    done = cli("notes.jpg", STYLE, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert "not an image" in one_error_line(done.stderr)  # TensorFlow never got imported to chatter


# --- everything else in-process (main() returns the exit status) -------------------------------


def check_refused(capsys, argv, fragment):
    assert stylize.main([str(a) for a in argv]) == 2
    captured = capsys.readouterr()
    assert fragment in one_error_line(captured.err)
    assert captured.out == ""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "notes.jpg").write_text("not a picture\n")
    (tmp_path / "existing.png").write_bytes(b"precious")
    (tmp_path / "a_file").write_text("")
    Image.new("RGB", (20, 20)).save(tmp_path / "tiny.png")
    return tmp_path


@pytest.mark.parametrize("argv, fragment", [
    (["missing.jpg"], "no such file"),
    ([CONTENT, "missing.jpg"], "style picture missing.jpg: no such file"),
    (["notes.jpg"], "not an image"),
    (["tiny.png"], "too small"),
    (["--normalization", "bogus"], "invalid choice: 'bogus'"),
    (["--init", "bogus"], "invalid choice: 'bogus'"),
    (["--method", "sgd"], "invalid choice: 'sgd'"),
    (["--precision", "float16"], "invalid choice"),
    (["--size", "8"], "at least 32"),
    (["--size", "big"], "not a whole number"),
    (["--iterations", "0"], "at least 1"),
    (["--save-every", "0"], "at least 1"),
    (["--style-weight", "-1"], ">= 0"),
    (["--tv-weight", "nan"], ">= 0"),
    (["--content-weight", "1e300"], "too large"),
    (["--bogus-option"], "unrecognized arguments"),
    ([CONTENT, STYLE, "extra.jpg"], "unrecognized arguments"),
    (["--output", "result.gif"], ".png, .jpg or .jpeg"),
    (["--output", "existing.png"], "already exists"),
    (["--output", "a_file/result.png"], "not a folder"),
    (["--output", "a_file/deeper/result.png"], "not a folder"),
    (["--output", "."], "is a folder"),
    (["--output", CONTENT, "--overwrite"], "is the same file as the input"),
])
def test_bad_input_is_one_line_and_exit_2(files, capsys, monkeypatch, argv, fragment):
    monkeypatch.chdir(files)
    check_refused(capsys, argv, fragment)
    assert (files / "existing.png").read_bytes() == b"precious"


def test_existing_gif_is_not_overwritten_either(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    (files / "out.gif").write_bytes(b"precious")
    check_refused(capsys, ["--output", "out.png", "--save-every", "2"], "out.gif: already exists")
    assert (files / "out.gif").read_bytes() == b"precious" and not (files / "out.png").exists()


def test_help_is_quick_and_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        stylize.main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--size", "--iterations", "--normalization", "--init", "--method", "--precision",
                   "--save-every", "--overwrite", "--content-weight", "--style-weight", "--tv-weight", "--seed"):
        assert option in text


def test_defaults(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    args = stylize.build_parser().parse_args([])
    assert args.content == CONTENT and args.style == STYLE  # found from any folder
    assert args.content.exists() and args.style.exists()
    assert (args.size, args.iterations, args.init, args.method) == (512, stylize.DEFAULT_ITERATIONS, "content", "lbfgs")
    assert (args.normalization, args.precision, args.save_every, args.overwrite) == ("gatys", "auto", None, False)
    assert args.content_weight is args.style_weight is args.tv_weight is None


@pytest.mark.slow
def test_ctrl_c_during_the_run_saves_the_best_image(weights_path, tmp_path, monkeypatch, capsys):
    """No pictures and no --output: the repository's pair, saved as <content>_<style>.png in the cwd."""
    from helpers import optimizers

    class InterruptingBar:  # the progress bar is updated inside each evaluation: Ctrl-C at the 2nd
        n = 0

        def update(self, k):
            self.n += k
            if self.n == 2:
                raise KeyboardInterrupt

        def set_postfix(self, *args, **kwargs):
            pass

        def close(self):
            pass

    monkeypatch.setattr(optimizers, "_progress_bar", lambda *args: InterruptingBar())
    monkeypatch.chdir(tmp_path)
    assert stylize.main(["--size", "64", "--iterations", "50", "--precision", "float32", "--init", "noise"]) == 0
    out = capsys.readouterr().out
    assert "interrupted at evaluation 2" in out and "stopped early after 2 of 50" in out
    assert "saved tuebingen_great_wave.png" in out
    with Image.open(tmp_path / "tuebingen_great_wave.png") as img:
        assert img.size == (64, 48)


def test_a_size_that_would_not_fit_in_memory_is_refused_before_any_work(tmp_path, capsys):
    # 100000 px would need terabytes: refused with the largest size that fits, nothing resized first
    assert stylize.main([str(CONTENT), str(STYLE), "--size", "100000", "--output", str(tmp_path / "x.png")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "memory" in line and "largest size that fits" in line
    assert not (tmp_path / "x.png").exists()
