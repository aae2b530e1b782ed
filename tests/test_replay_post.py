"""helpers.replay_post: the post's loss equals helpers.losses', SciPy's rounds are counted as SciPy
counts them, and bad input is refused before TensorFlow. All runs are tiny configs (64 px, 2 rounds)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import replay_post
from helpers.images import load_image, preprocess

REPO = Path(__file__).resolve().parents[1]
TINY = 64  # px: a tiny config, not the post's 512


def test_preprocessing_is_the_posts_and_deprocess_undoes_it():
    rgb = load_image(replay_post.DEFAULT_CONTENT, size=(40, 48))
    x = replay_post.preprocess_post(rgb)
    assert x.shape == (1, 40, 48, 3) and x.dtype == np.float32
    # The quirk: the BGR means came off the RGB channels, so against Keras's order
    # blue (BGR channel 0) is 123.68 - 103.939 = 19.741 too dark and red 19.741 too bright.
    shift = (x[0] - preprocess(rgb)).mean(axis=(0, 1))
    np.testing.assert_allclose(shift, [-19.741, 0.0, 19.741], atol=1e-3)
    # The post's deprocess truncates (astype('uint8') without rounding): 57.99999 becomes 57.
    back = replay_post.deprocess_post(x, 40, 48).astype(int) - rgb.astype(int)
    assert back.min() >= -1 and back.max() == 0


def test_pictures_are_squashed_with_nearest():
    from PIL import Image

    squashed = replay_post.load_squashed(replay_post.DEFAULT_STYLE, TINY)
    with Image.open(replay_post.DEFAULT_STYLE) as img:
        expected = np.asarray(img.convert("RGB").resize((TINY, TINY), Image.NEAREST), dtype=np.float32)
    np.testing.assert_array_equal(squashed, expected)  # NEAREST only copies pixels: no new values


def test_start_is_seeded_uniform_noise_around_zero():
    a, b = replay_post.start_noise(TINY, seed=3), replay_post.start_noise(TINY, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (1, TINY, TINY, 3) and -128 <= a.min() < -120 and 120 < a.max() <= 127


@pytest.fixture(scope="module")
def tiny_loss(weights_path):
    content = replay_post.preprocess_post(replay_post.load_squashed(replay_post.DEFAULT_CONTENT, TINY))
    style = replay_post.preprocess_post(replay_post.load_squashed(replay_post.DEFAULT_STYLE, TINY))
    return replay_post.PostLoss(content, style), content, style


def test_loss_equals_helpers_losses_original_normalization(tiny_loss):
    import tensorflow as tf

    from helpers import losses
    from helpers.model import FeatureExtractor

    post, content, style = tiny_loss
    x = replay_post.start_noise(TINY, seed=1).astype(np.float32)
    # helpers.losses gets the very same (quirkily preprocessed) arrays: only the code differs.
    extractor = FeatureExtractor([replay_post.CONTENT_LAYER] + replay_post.FEATURE_LAYERS)
    features, targets = extractor(tf.constant(x)), extractor(tf.constant(style))
    photo = extractor(tf.constant(content))[replay_post.CONTENT_LAYER]

    def helpers_loss(normalization):
        style_terms = [losses.style_loss(losses.gram_matrix(targets[name]), features[name], normalization,
                                         image_pixels=TINY * TINY) for name in replay_post.FEATURE_LAYERS]
        return float(0.025 * losses.content_loss(photo, features[replay_post.CONTENT_LAYER])
                     + 5.0 / 5 * tf.add_n(style_terms) + 1.0 * losses.total_variation_loss(tf.constant(x)))

    got, grad = post(x.ravel().astype(np.float64))
    assert got == pytest.approx(helpers_loss("original"), rel=1e-6)
    assert grad.dtype == np.float64 and grad.shape == (x.size,) and np.abs(grad).max() > 0
    assert helpers_loss("gatys") != pytest.approx(got, rel=1e-2)  # a wrong constant would show


def test_rounds_counted_as_scipy_counts_them_and_loss_decreases(weights_path):
    lines = []
    result = replay_post.replay(size=TINY, rounds=2, seed=0, report=lines.append)
    assert len(result.rounds) == 2 and len(lines) == 2
    for r in result.rounds:
        # fmin_l_bfgs_b checks maxfun=20 only between iterations: a round takes 21 or more evaluations,
        # and SciPy's info['funcalls'] counts exactly the calls the loss function saw.
        assert r.funcalls == r.evaluations and r.funcalls > replay_post.MAXFUN
    first = replay_post.start_noise(TINY, 0)
    assert result.rounds[1].loss < result.rounds[0].loss
    assert "round  1: loss" in lines[0] and f"{result.rounds[0].funcalls} evaluations" in lines[0]
    assert result.image.shape == (TINY, TINY, 3) and result.image.dtype == np.uint8
    assert not np.array_equal(result.image, replay_post.deprocess_post(first, TINY, TINY))


def test_table_compares_with_the_post_at_512_only():
    row = replay_post.format_row(10, 3.57626e10 * 1.01, funcalls=21, size=512)
    assert "post 3.57626e+10" in row and "+1.00 %" in row and "21 evaluations" in row
    assert "512 px only" in replay_post.format_row(1, 1e10, size=128)


def test_bad_input_exits_2_with_one_line_before_tensorflow(tmp_path):
    """Every case in one fresh process (no TensorFlow import there): status 2, one line on stderr."""
    (tmp_path / "notes.jpg").write_text("not a picture\n")
    from PIL import Image

    Image.new("RGB", (20, 20)).save(tmp_path / "tiny.png")
    (tmp_path / "exists.json").write_text("{}")
    content, style = str(replay_post.DEFAULT_CONTENT), str(replay_post.DEFAULT_STYLE)
    cases = [[str(tmp_path / "missing.jpg"), style], [str(tmp_path / "notes.jpg"), style],
             [content, str(tmp_path / "tiny.png")], [content, style, "--size", "31"],
             [content, style, "--rounds", "0"], [content, style, "--size", "abc"],
             [content, style, "--json", str(tmp_path / "exists.json")], [content, style, "--seed", "-1"]]
    script = (
        "import contextlib, io, json, sys\n"
        "from helpers.replay_post import main\n"
        "out = []\n"
        "for argv in json.loads(sys.argv[1]):\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        out.append([main(argv), err.getvalue()])\n"
        "print(json.dumps({'results': out, 'tensorflow': 'tensorflow' in sys.modules}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script, json.dumps(cases)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["tensorflow"] is False
    for argv, (status, stderr) in zip(cases, report["results"], strict=True):
        assert status == 2, argv
        lines = stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, stderr)
    messages = [stderr for _, stderr in report["results"]]
    assert "no such file" in messages[0] and "not an image" in messages[1] and "too small" in messages[2]
    assert "already exists" in messages[6] and "--seed" in messages[7]


def test_command_writes_a_table_that_committed_table_reads(weights_path, tmp_path, capsys):
    """One tiny round (40 px) through the command, in this process; then the JSON read back as a table."""
    table = tmp_path / "replay.json"
    picture = tmp_path / "replay.png"
    assert replay_post.main(["--size", "40", "--rounds", "1", "--json", str(table), "--output", str(picture)]) == 0
    out = capsys.readouterr().out
    assert "round  1: loss" in out and f"wrote {table}" in out and picture.exists()
    record = json.loads(table.read_text())
    assert record["size"] == 40 and len(record["rounds"]) == 1 and record["versions"]["tensorflow"]
    text = replay_post.committed_table(table)
    assert "40 x 40 px" in text and "round  1: loss" in text and "TensorFlow" in text
    assert "no committed replay" in replay_post.committed_table(tmp_path / "missing.json")
