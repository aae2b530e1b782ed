"""`python -m helpers.stylize`: one real run end to end, and every kind of bad input (exit 2, one line)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import stylize

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "images" / "content" / "tuebingen.jpg"
STYLE = REPO / "images" / "styles" / "great_wave.jpg"
SKY_MASK = REPO / "images" / "masks" / "tuebingen_sky.png"  # two regions: sky and town
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
    # stderr holds the progress bar only: none of TensorFlow's start-up lines
    assert not any(noise in done.stderr for noise in TF_NOISE), done.stderr
    assert all(line.startswith("stylizing") for line in done.stderr.replace("\r", "\n").splitlines() if line)
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size == (64, 48) and img.mode == "RGB"
        img.verify()
    with Image.open(out.with_suffix(".gif")) as gif:
        assert gif.format == "GIF" and gif.size == (64, 48) and gif.n_frames >= 2


@pytest.mark.slow
def test_cli_runs_the_controls_in_process(weights_path, tmp_path):
    """--strength, --colour, two styles on a mask, --style-scale, --layer-balance: one tiny run (48 x 64 px, 3 evaluations)."""
    from helpers.colour import rgb_to_yiq

    night = REPO / "images" / "styles" / "starry_night.jpg"
    out = tmp_path / "controls.png"
    status = stylize.main([str(CONTENT), str(night), str(STYLE), *TINY, "--strength", "0.8", "--colour", "swap",
                           "--mask", str(SKY_MASK), "--style-scale", "0.8", "--layer-balance", "auto",
                           "--output", str(out)])
    assert status == 0
    with Image.open(out) as img:
        result = np.asarray(img.convert("RGB"))
    photo = np.asarray(Image.open(CONTENT).convert("RGB").resize((64, 48), Image.BILINEAR))
    # swap: the photo's colour channels (the engine's own resize may differ slightly from Pillow's)
    assert np.abs(rgb_to_yiq(result)[..., 1:] - rgb_to_yiq(photo)[..., 1:]).mean() < 3.0
    blended = tmp_path / "blend.png"
    assert stylize.main([str(CONTENT), str(night), str(STYLE), *TINY, "--style-blend", "0.7,0.3", "--colour",
                         "luminance", "--output", str(blended)]) == 0
    assert blended.exists()

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
    (["--coarse-iterations", "60,x"], "comma-separated list of whole numbers"),
    (["--coarse-iterations", "-1"], ">= 0"),
    (["--coarse-iterations", "10,20,30"], "at most 2 coarse levels"),
    (["--style-weight", "-1"], ">= 0"),
    (["--tv-weight", "nan"], ">= 0"),
    (["--content-weight", "1e300"], "too large"),
    (["--bogus-option"], "unrecognized arguments"),
    ([CONTENT, STYLE, "extra.jpg"], "style picture extra.jpg: no such file"),  # a second style
    (["--strength", "2"], "outside 0 ... 1"),
    (["--strength", "strong"], "not a number"),
    (["--colour", "sepia"], "invalid choice: 'sepia'"),
    (["--layer-balance", "relative"], "invalid choice: 'relative'"),
    (["--normalization", "original", "--layer-balance", "auto"], 'needs normalization "gatys"'),
    (["--style-scale", "0"], "must be a number > 0"),
    (["--style-scale", "-2"], "must be a number > 0"),
    ([CONTENT, STYLE, STYLE, "--style-blend", "0.5"], "--style-blend has 1 weights for 2 style pictures"),
    (["--style-blend", "0.5,0.5"], "--style-blend has 2 weights for 1 style picture"),
    (["--style-blend", "1,-1"], "numbers >= 0, not all zero"),
    (["--style-blend", "0,0"], "numbers >= 0, not all zero"),
    (["--style-blend", "a,b"], "comma-separated list of numbers"),
    (["--mask", "notes.jpg"], "mask notes.jpg"),
    (["--mask", "missing.png"], "mask missing.png: no such file"),
    (["--mask", STYLE], "a label mask has at most"),
    (["--mask", SKY_MASK], "2 regions (flat colours) but 1 style picture"),
    ([CONTENT, STYLE, STYLE, "--mask", SKY_MASK, "--style-blend", "1,1"], "exclude each other"),
    ([CONTENT, STYLE, STYLE, "--mask", SKY_MASK, "--normalization", "original"], "--mask needs --normalization gatys"),
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
                   "--save-every", "--overwrite", "--content-weight", "--style-weight", "--tv-weight", "--seed",
                   "--strength", "--colour", "--style-blend", "--mask", "--style-scale", "--layer-balance"):
        assert option in text


def test_defaults(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    args = stylize.build_parser().parse_args([])
    assert args.content == CONTENT and args.style == [STYLE]  # found from any folder
    assert args.content.exists() and args.style[0].exists()
    assert (args.strength, args.colour, args.style_blend, args.mask, args.style_scale, args.layer_balance) == \
        (0.5, "style", None, None, 1.0, None)
    assert (args.size, args.iterations, args.init, args.method) == (512, stylize.DEFAULT_ITERATIONS, "content", "lbfgs")
    assert (args.normalization, args.precision, args.save_every, args.overwrite) == ("gatys", "auto", None, False)
    assert args.content_weight is args.style_weight is args.tv_weight is None
    assert stylize.settings_from_args(args).coarse_to_fine == ((0.25, 60), (0.5, 30))


@pytest.mark.parametrize("text, stages", [("60,40", ((0.25, 60), (0.5, 40))), ("100", ((0.5, 100),)),
                                          ("0,40", ((0.5, 40),)), ("0", ())])
def test_coarse_iterations_go_to_the_finest_coarse_levels(text, stages):
    args = stylize.build_parser().parse_args(["--coarse-iterations", text])
    assert stylize.settings_from_args(args).coarse_to_fine == stages


@pytest.mark.slow
def test_ctrl_c_during_the_run_saves_the_best_image(weights_path, tmp_path, monkeypatch, capsys):
    """No pictures and no --output: the repository's pair, saved as <content>_<style>.png in the cwd."""
    from helpers import optimizers

    class InterruptingBar:  # the progress bar is updated inside each evaluation: Ctrl-C at the 2nd
        n = 0

        def update(self, k):
            self.n += k
            if self.n == 2:
                os.kill(os.getpid(), signal.SIGINT)  # what the terminal sends
                time.sleep(1)  # the handler runs (and raises) here

        def set_postfix(self, *args, **kwargs):
            pass

        def close(self):
            pass

    monkeypatch.setattr(optimizers, "_progress_bar", lambda *args: InterruptingBar())
    monkeypatch.chdir(tmp_path)
    before = signal.getsignal(signal.SIGTERM)
    assert stylize.main(["--size", "64", "--iterations", "50", "--precision", "float32", "--init", "noise"]) == 130
    assert signal.getsignal(signal.SIGTERM) is before  # the handlers are restored after the run
    captured = capsys.readouterr()
    assert "interrupted at evaluation 2 of 50 at 48 x 64 px" in captured.out
    assert "stopped early after 2 of 50 planned evaluations" in captured.out
    assert "saved tuebingen_great_wave.png" in captured.out and "SIGINT" in captured.err
    with Image.open(tmp_path / "tuebingen_great_wave.png") as img:
        assert img.size == (64, 48)


def test_a_size_that_would_not_fit_in_memory_is_refused_before_any_work(tmp_path, capsys):
    # 100000 px would need terabytes: refused with the largest size that fits, nothing resized first
    assert stylize.main([str(CONTENT), str(STYLE), "--size", "100000", "--output", str(tmp_path / "x.png")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "memory" in line and "largest size that fits" in line
    assert not (tmp_path / "x.png").exists()


# --- files the user owns: identity, kinds, OS errors (in-process, no TensorFlow) -----------------


@pytest.fixture
def owned(tmp_path, monkeypatch):
    """A folder with a photo, a hard link and a symlink to it, a FIFO, a symlink loop and test styles."""
    monkeypatch.chdir(tmp_path)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(CONTENT.read_bytes())
    os.link(photo, tmp_path / "hard.jpg")
    os.symlink("photo.jpg", tmp_path / "soft.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    os.symlink("loop_a", tmp_path / "loop_b")
    os.symlink("loop_b", tmp_path / "loop_a")
    Image.new("RGB", (4000, 32), (200, 40, 40)).save(tmp_path / "strip.png")
    Image.new("RGB", (400, 300), (40, 40, 200)).save(tmp_path / "painting.png")
    Image.new("RGB", (300, 300), (40, 200, 40)).save(tmp_path / "square.png")
    Image.fromarray(np.full((64, 64), np.nan, dtype=np.float32), mode="F").save(tmp_path / "nan.tif")
    return tmp_path


BAD_INPUTS = [  # each: exit 2, one line naming the problem, no file touched, no TensorFlow
    (["photo.jpg", STYLE, "-o", "hard.jpg", "--overwrite"], "hard.jpg: is the same file as the input photo.jpg"),
    (["photo.jpg", STYLE, "-o", "soft.jpg", "--overwrite"], "soft.jpg: is the same file as the input photo.jpg"),
    (["soft.jpg", "photo.jpg", "-o", "hard.jpg", "--overwrite"], "is the same file as the input"),
    (["pipe.jpg", STYLE], "content picture pipe.jpg: is a named pipe (FIFO)"),
    (["photo.jpg", "pipe.jpg"], "style picture pipe.jpg: is a named pipe (FIFO)"),
    (["photo.jpg", STYLE, "-o", "pipe.jpg", "--overwrite"], "pipe.jpg: is a named pipe (FIFO)"),
    (["/dev/zero", STYLE], "/dev/zero: is a device"),
    (["nan.tif", STYLE], "nan.tif: has NaN or infinite pixel values"),
    (["photo.jpg", "nan.tif"], "style picture nan.tif: has NaN"),
    (["photo.jpg", STYLE, "--seed", "-1", "--init", "noise"], "--seed"),
    (["photo.jpg", STYLE, "--style-weight", "1e30"], "would overflow float32"),
    (["photo.jpg", STYLE, "-o", "loop_a/out.png"], "symbolic links"),
    (["photo.jpg", STYLE, "-o", "x" * 300 + ".png"], "the name is too long"),
    (["photo.jpg", STYLE, "-o", "photo.jpg/out.png"], "a part of the path is a file"),
    (["square.png", "strip.png", "--size", "1000"], "style picture strip.png: as the style of a 1000x1000 px"),
    (["photo.jpg", STYLE, "--size", "32"], "content picture photo.jpg: at --size 32"),
]


@pytest.mark.parametrize("argv, fragment", BAD_INPUTS)
def test_bad_files_and_options_are_refused_in_one_line(owned, capsys, argv, fragment):
    photo = (owned / "photo.jpg").read_bytes()
    check_refused(capsys, argv, fragment)
    assert (owned / "photo.jpg").read_bytes() == photo and os.path.islink(owned / "soft.jpg")


def test_bad_input_never_imports_tensorflow(owned):
    """All the cases above in one fresh process: each exits 2 and TensorFlow is never imported."""
    script = ("import json, sys\nfrom helpers import stylize\n"
              "codes = [stylize.main(argv) for argv in json.loads(sys.argv[1])]\n"
              "print(json.dumps([codes, 'tensorflow' in sys.modules]))")
    import json

    cases = json.dumps([[str(a) for a in argv] for argv, _ in BAD_INPUTS])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script, cases], cwd=owned, env=env, capture_output=True,
                          text=True, timeout=120)
    codes, tensorflow_imported = json.loads(done.stdout)
    assert codes == [2] * len(BAD_INPUTS) and not tensorflow_imported
    assert len(done.stderr.splitlines()) == len(BAD_INPUTS)  # one line each, nothing else


@pytest.mark.parametrize("content, style", [("square.png", "strip.png"), ("square.png", "painting.png"),
                                            ("photo.jpg", "strip.png")])
def test_styles_are_checked_as_styles(owned, content, style):
    """A 4000x32 strip or a 4:3 painting is a valid style at --size 32: it is resized to cover the result."""
    args, settings = stylize.prepare([content, style, "--size", "32", "-o", "out.png"] if content == "square.png"
                                     else [content, style, "--size", "64", "-o", "out.png"])
    assert args.style == [Path(style)] and settings.style_fit == "cover"


def test_a_read_only_output_folder_is_the_machines_fault_exit_1(owned, read_only_folder, capsys):
    (owned / "readonly").mkdir()
    read_only_folder(owned / "readonly")
    assert stylize.main(["photo.jpg", str(STYLE), "-o", "readonly/out.png"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "readonly/out.png: cannot write in readonly: read-only file system" in line


# --- saving the result: atomic, exclusive, rescued (no TensorFlow: a stand-in result) ------------


class FakeResult:
    """What save_outputs reads from a StyleResult: a tiny 24x32 picture, 3 evaluations."""

    def __init__(self, stopped=None, stages=((24, 32), 3)):
        self.image = np.zeros((24, 32, 3), np.uint8)
        self.image[:, :16] = 255
        self.stopped, self.seconds, self.best_loss = stopped, 1.0, 12.5
        self.history = [{"total": 12.5}] * 3
        self.settings = {"stages": [stages]}

    def animation(self):
        from helpers import images

        return images.encode_animation([np.zeros_like(self.image), self.image])


def saving(tmp_path, *extra):
    from helpers.settings import Stage

    args = stylize.build_parser().parse_args([str(CONTENT), str(STYLE), "-o", str(tmp_path / "out.png"), *extra])
    args.gif = args.output.with_suffix(".gif") if args.save_every else None
    return args, [Stage((24, 32), 1.0, 3)]


def test_a_file_that_appears_during_the_run_is_kept_and_the_result_takes_the_next_free_name(tmp_path, capsys):
    args, stages = saving(tmp_path, "--save-every", "1")
    (tmp_path / "out.png").write_bytes(b"appeared meanwhile")
    (tmp_path / "out.gif").write_bytes(b"also")
    assert stylize.save_outputs(args, FakeResult(), stages) == 0
    captured = capsys.readouterr()
    assert (tmp_path / "out.png").read_bytes() == b"appeared meanwhile"
    assert (tmp_path / "out.gif").read_bytes() == b"also"
    with Image.open(tmp_path / "out-2.png") as img:
        assert img.format == "PNG" and img.size == (32, 24)
    with Image.open(tmp_path / "out-2.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames == 2
    assert f"saved {tmp_path / 'out-2.png'}" in captured.out and "appeared during the run" in captured.err


def test_with_overwrite_the_result_replaces_the_file(tmp_path, capsys):
    args, stages = saving(tmp_path, "--overwrite")
    (tmp_path / "out.png").write_bytes(b"old")
    assert stylize.save_outputs(args, FakeResult(), stages) == 0
    assert (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not (tmp_path / "out-2.png").exists()


def test_a_failed_save_rescues_picture_and_animation_in_one_line_exit_1(tmp_path, read_only_folder, capsys):
    args, stages = saving(tmp_path, "--save-every", "1")
    read_only_folder(tmp_path)
    status = stylize.save_outputs(args, FakeResult(), stages)
    line = one_error_line(capsys.readouterr().err)
    assert status == 1 and "read-only file system" in line
    rescued = Path(line.split("saved it as ")[1].split(" instead")[0])
    assert rescued.name == "out.png" and (rescued.parent / "out.gif").exists() and str(rescued.parent / "out.gif") in line
    with Image.open(rescued) as img:
        img.verify()
    assert not (tmp_path / "out.png").exists()


def test_the_stop_message_counts_evaluations_the_same_way():
    from helpers.settings import Stage

    stages = [Stage((24, 32), 0.5, 100), Stage((48, 64), 1.0, 5)]
    result = FakeResult(stopped="interrupted", stages=((24, 32), 38))
    assert stylize.describe_progress(result, stages) == (
        "38 of 105 planned evaluations (38 of 100 at 24 x 32 px, 0 of 5 at 48 x 64 px)")


# --- signals -------------------------------------------------------------------------------------


def test_signals_raise_once_then_are_noted_and_handlers_are_restored():
    before = {s: signal.getsignal(s) for s in stylize.INTERRUPTING_SIGNALS}
    with stylize.Interrupts() as interrupts:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGHUP)  # a second signal (e.g. during the save): only noted
        interrupts.defer()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
    assert interrupts.signum == signal.SIGTERM and interrupts.name == "SIGTERM"
    assert stylize.interrupted_status(interrupts.signum) == 143
    assert {s: signal.getsignal(s) for s in stylize.INTERRUPTING_SIGNALS} == before


def test_a_signal_during_the_save_lets_the_save_finish(tmp_path, monkeypatch, capsys):
    from helpers import images

    args, stages = saving(tmp_path)
    real = images.save_image_or_rescue

    def save_while_signalled(*a, **k):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)
        return real(*a, **k)

    monkeypatch.setattr(images, "save_image_or_rescue", save_while_signalled)
    with stylize.Interrupts() as interrupts:
        interrupts.defer()
        assert stylize.save_outputs(args, FakeResult(), stages) == 0
    assert interrupts.signum == signal.SIGTERM
    with Image.open(tmp_path / "out.png") as img:
        img.verify()


TF_NOISE = ("absl::InitializeLog", "cudart_stub", "Could not find cuda drivers", "oneDNN", "cuda_", "TensorFlow binary")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_mid_run_saves_the_best_picture_and_exits_128_plus_signum(weights_path, tmp_path, sig):
    """A real process: tiny size, endless budget; the signal arrives once the progress bar counts."""
    out = tmp_path / "best.png"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # TensorFlow's start-up lines must be hidden even without it
    proc = subprocess.Popen([sys.executable, "-m", "helpers.stylize", CONTENT, STYLE, "--size", "48",
                             "--iterations", "100000", "--coarse-iterations", "0", "--precision", "float32",
                             "-o", out], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    err = []

    def read_stderr():
        while chunk := proc.stderr.read(1):
            err.append(chunk)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    deadline = time.time() + 240
    while not re.search(r"\| *[1-9]\d*/100000", "".join(err)) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(sig)
    out_text = proc.stdout.read()
    assert proc.wait(timeout=120) == 128 + sig, "".join(err)
    reader.join(timeout=10)
    stderr = "".join(err)
    assert "interrupted at evaluation" in out_text and "stopped early after" in out_text
    assert f"stopped by {signal.Signals(sig).name}" in stderr
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size == (48, 36)
        img.verify()
    assert not any(noise in stderr for noise in TF_NOISE), stderr


def test_weights_unavailable_is_the_machines_fault_exit_1(owned, monkeypatch, capsys):
    from helpers import weights

    def unavailable(*args, **kwargs):
        raise weights.WeightsError("no genuine VGG16 ImageNet weights available: download failed. Ways out: ...")

    monkeypatch.setattr(weights, "vgg16_weights_path", unavailable)
    assert stylize.main(["photo.jpg", str(STYLE), "-o", "out.png"]) == 1
    assert "no genuine VGG16" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("error, status", [
    (OSError(28, "No space left on device", "out.png"), 1),
    (OSError(5, "Input/output error", "out.png"), 1),
    (OSError(13, "Permission denied", "out.png"), 2),
    (OSError(36, "File name too long", "out.png"), 2),
    (RuntimeError("something unforeseen"), 1),
])
def test_any_error_at_the_command_level_is_one_line_with_the_right_status(owned, monkeypatch, capsys, error, status):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(stylize, "check_args", fail)
    assert stylize.main(["photo.jpg", str(STYLE)]) == status
    line = one_error_line(capsys.readouterr().err)
    assert ("out.png: " in line) if isinstance(error, OSError) else ("something unforeseen" in line)


def test_a_missing_dependency_is_one_line_with_the_way_out(owned, monkeypatch, capsys):
    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'tensorflow'")

    monkeypatch.setattr(stylize, "stylize_pictures", missing)
    assert stylize.main(["photo.jpg", str(STYLE), "-o", "out.png"]) == 1
    assert "pip install -r requirements.txt" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_during_the_setup_exits_128_plus_signum_and_says_nothing_was_saved(owned, monkeypatch, capsys,
                                                                                    sig):
    from helpers import quiet

    def signalled_while_importing():  # TensorFlow's import and VGG16's build take seconds
        os.kill(os.getpid(), sig)
        time.sleep(1)
        raise AssertionError("the signal did not interrupt the setup")

    monkeypatch.setattr(quiet, "import_tensorflow", signalled_while_importing)
    before = signal.getsignal(sig)
    assert stylize.main(["photo.jpg", str(STYLE), "-o", "out.png"]) == 128 + sig
    line = capsys.readouterr().err.strip()
    assert line == f"interrupted ({signal.Signals(sig).name}) before the optimization started; nothing saved"
    assert signal.getsignal(sig) is before and not (owned / "out.png").exists()
