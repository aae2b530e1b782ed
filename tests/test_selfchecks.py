"""Every self-check cell can fail: typical wrong answers make it fail, the notebook's own answer passes.

Each notebook runs in fast mode (tiny sizes: a tiny config, as in test_notebooks.py) up to its last
self-check cell. After every self-check cell (a code cell that calls `check(`) a probe cell re-runs
that cell's source once per wrong answer listed in WRONG_ANSWERS, in a copy of the notebook's
namespace in which the wrong answer replaces the student's function (or the helper the check tests),
and requires check() to raise its FAIL AssertionError. The notebook's own cells, run normally, are
the correct answers: their checks must pass. A self-check cell without wrong answers here fails the test.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

# {check cell id: [(what is wrong, source that redefines names in the notebook's namespace)]}.
# `_right` is the notebook's own function of the same name (bound before the wrong one replaces it).
WRONG_ANSWERS = {
    # 01: softmax cross-entropy, its gradient, VGG16's parameter count
    "83430dd5": [
        ("a sum where a mean belongs", "_right = softmax_cross_entropy\n"
         "def softmax_cross_entropy(scores, labels):\n    return len(scores) * _right(scores, labels)"),
        ("no max subtracted (overflow)",
         "def softmax_cross_entropy(scores, labels):\n    s = np.asarray(scores, dtype=np.float64)\n"
         "    return float(np.mean(np.log(np.exp(s).sum(axis=1)) - s[np.arange(len(s)), labels]))"),
        ("a sign error", "_right = softmax_cross_entropy\n"
         "def softmax_cross_entropy(scores, labels):\n    return -_right(scores, labels)"),
    ],
    "4f6c54e6": [
        ("the 1/N missing", "_right = loss_gradient\n"
         "def loss_gradient(scores, labels):\n    return _right(scores, labels) * len(scores)"),
        ("a sign error (one-hot minus p)", "_right = loss_gradient\n"
         "def loss_gradient(scores, labels):\n    return -_right(scores, labels)"),
        ("the scores instead of the softmax",
         "def loss_gradient(scores, labels):\n    p = np.array(scores, dtype=np.float64)\n"
         "    p[np.arange(len(p)), labels] -= 1.0\n    return p / len(p)"),
    ],
    "7c01fab6": [
        ("a sum where a mean belongs", "_right = softmax_cross_entropy\n"
         "def softmax_cross_entropy(scores, labels):\n    return len(scores) * _right(scores, labels)"),
        ("the probability instead of its log",
         "def softmax_cross_entropy(scores, labels):\n    s = np.asarray(scores, dtype=np.float64)\n"
         "    p = np.exp(s - s.max(axis=1, keepdims=True))\n    p /= p.sum(axis=1, keepdims=True)\n"
         "    return float(np.mean(1 - p[np.arange(len(s)), labels]))"),
    ],
    "2c750bf3": [
        ("the biases forgotten",
         "def conv_parameters(widths, in_channels=3, kernel=3):\n    total, c_in = 0, in_channels\n"
         "    for c_out in widths:\n        total += kernel * kernel * c_in * c_out\n        c_in = c_out\n    return total"),
        ("every layer fed from the image",
         "def conv_parameters(widths, in_channels=3, kernel=3):\n"
         "    return sum((kernel * kernel * in_channels + 1) * c for c in widths)"),
        ("kernel instead of kernel x kernel",
         "def conv_parameters(widths, in_channels=3, kernel=3):\n    total, c_in = 0, in_channels\n"
         "    for c_out in widths:\n        total += (kernel * c_in + 1) * c_out\n        c_in = c_out\n    return total"),
    ],
    # 02: one position of block1_conv1; one gradient-ascent step
    "af77cc69": [
        ("the ReLU forgotten",
         "def conv_relu_at(x, kernel, bias, i, j):\n"
         "    padded = np.pad(np.asarray(x[0], dtype=np.float64), ((1, 1), (1, 1), (0, 0)))\n"
         "    return np.einsum('uvc,uvck->k', padded[i:i + 3, j:j + 3, :], kernel.astype(np.float64)) + bias"),
        ("the bias forgotten",
         "def conv_relu_at(x, kernel, bias, i, j):\n"
         "    padded = np.pad(np.asarray(x[0], dtype=np.float64), ((1, 1), (1, 1), (0, 0)))\n"
         "    return np.maximum(0.0, np.einsum('uvc,uvck->k', padded[i:i + 3, j:j + 3, :], kernel.astype(np.float64)))"),
        ("no padding (window off by one)",
         "def conv_relu_at(x, kernel, bias, i, j):\n    patch = np.asarray(x[0], dtype=np.float64)[i:i + 3, j:j + 3, :]\n"
         "    return np.maximum(0.0, np.einsum('uvc,uvck->k', patch, kernel.astype(np.float64)) + bias)"),
    ],
    "5e3ff48f": [
        ("a descent step (sign error)", "_right = ascent_step\n"
         "def ascent_step(image, extractor, layer, channel, step_size):\n"
         "    return _right(image, extractor, layer, channel, -step_size)"),
        ("the gradient not normalized",
         "def ascent_step(image, extractor, layer, channel, step_size):\n    with tf.GradientTape() as tape:\n"
         "        tape.watch(image)\n        activation = mean_activation(image, extractor, layer, channel)\n"
         "    gradient = tape.gradient(activation, image)\n"
         "    return image + step_size * gradient, activation, gradient"),
        ("the mean of the whole layer, not of one channel",
         "def mean_activation(image, extractor, layer, channel):\n    return tf.reduce_mean(extractor(image)[layer])"),
    ],
    # 03: the content loss
    "dba9c442": [
        ("a mean where a sum belongs",
         "def content_loss(base_features, combination_features):\n"
         "    return tf.reduce_mean(tf.square(combination_features - base_features))"),
        ("the square forgotten",
         "def content_loss(base_features, combination_features):\n"
         "    return tf.reduce_sum(tf.abs(combination_features - base_features))"),
        ("Gatys' 1/2 where the post has none", "_right = content_loss\n"
         "def content_loss(base_features, combination_features):\n    return 0.5 * _right(base_features, combination_features)"),
    ],
    "374a7574": [
        ("a mean where a sum belongs",
         "def content_loss(base_features, combination_features):\n"
         "    return tf.reduce_mean(tf.square(combination_features - base_features))"),
        ("Gatys' 1/2 where the post has none", "_right = content_loss\n"
         "def content_loss(base_features, combination_features):\n    return 0.5 * _right(base_features, combination_features)"),
    ],
    # 04: the Gram matrix and the style loss
    "375ca12c": [
        ("a transposed Gram (positions x positions)",
         "def gram_matrix(features):\n    f = tf.reshape(features, (-1, features.shape[-1]))\n"
         "    return tf.matmul(f, f, transpose_b=True)"),
        ("reshaped to (channels, positions) without transposing",
         "def gram_matrix(features):\n    f = tf.reshape(features, (features.shape[-1], -1))\n"
         "    return tf.matmul(f, f, transpose_b=True)"),
        ("divided by the number of positions", "_right = gram_matrix\n"
         "def gram_matrix(features):\n    return _right(features) / float(np.prod(features.shape[:-1]))"),
    ],
    "683f9df5": [
        ("reshaped to (channels, positions) without transposing",
         "def gram_matrix(features):\n    f = tf.reshape(features, (features.shape[-1], -1))\n"
         "    return tf.matmul(f, f, transpose_b=True)"),
        ("products of neighbouring positions",
         "def gram_matrix(features):\n    f = tf.reshape(tf.cast(features, tf.float32), (-1, features.shape[-1]))\n"
         "    return tf.matmul(f[:-1], f[1:], transpose_a=True)"),
    ],
    "0626de41": [
        ("the 1/4 missing", "_right = style_loss\n"
         "def style_loss(style_gram, combination_features):\n    return 4.0 * _right(style_gram, combination_features)"),
        ("M where M^2 belongs",
         "def style_loss(style_gram, combination_features):\n    h, w, c = combination_features.shape[-3:]\n"
         "    return tf.reduce_sum(tf.square(gram_matrix(combination_features) - style_gram)) / (4.0 * c**2 * h * w)"),
        ("the post's 3 and image size instead of the layer's N and M",
         "def style_loss(style_gram, combination_features):\n    return tf.reduce_sum(tf.square(gram_matrix("
         "combination_features) - style_gram)) / (4.0 * 9 * (photo.shape[0] * photo.shape[1]) ** 2)"),
    ],
    # 05: total variation
    "8f188f78": [
        ("the exponent on each square separately",
         "def total_variation_loss(image):\n    dy = image[:, :-1, :-1, :] - image[:, 1:, :-1, :]\n"
         "    dx = image[:, :-1, :-1, :] - image[:, :-1, 1:, :]\n"
         "    return tf.reduce_sum(tf.pow(tf.square(dy), 1.25) + tf.pow(tf.square(dx), 1.25))"),
        ("classic TV (exponent 0.5)",
         "def total_variation_loss(image):\n    dy = image[:, :-1, :-1, :] - image[:, 1:, :-1, :]\n"
         "    dx = image[:, :-1, :-1, :] - image[:, :-1, 1:, :]\n"
         "    return tf.reduce_sum(tf.pow(tf.square(dy) + tf.square(dx), 0.5))"),
        ("a mean where a sum belongs",
         "def total_variation_loss(image):\n    dy = image[:, :-1, :-1, :] - image[:, 1:, :-1, :]\n"
         "    dx = image[:, :-1, :-1, :] - image[:, :-1, 1:, :]\n"
         "    return tf.reduce_mean(tf.pow(tf.square(dy) + tf.square(dx), 1.25))"),
    ],
    "3ea5c7ba": [
        ("the horizontal differences forgotten",
         "def total_variation_loss(image):\n    dy = image[:, :-1, :-1, :] - image[:, 1:, :-1, :]\n"
         "    return tf.reduce_sum(tf.pow(tf.square(dy), 1.25))"),
        ("a mean where a sum belongs",
         "def total_variation_loss(image):\n    dy = image[:, :-1, :-1, :] - image[:, 1:, :-1, :]\n"
         "    dx = image[:, :-1, :-1, :] - image[:, :-1, 1:, :]\n"
         "    return tf.reduce_mean(tf.pow(tf.square(dy) + tf.square(dx), 1.25))"),
    ],
    # 06: your loss and its SciPy wrapper, your Adam and L-BFGS loops; the preprocessing
    "4ca68308": [
        ("the style weight not shared by the five layers", "_right = make_loss_and_grad\n"
         "def make_loss_and_grad(problem, weights):\n"
         "    return _right(problem, {**weights, 'style': weights['style'] * len(problem.style_targets)})"),
        ("the TV term forgotten", "_right = make_loss_and_grad\n"
         "def make_loss_and_grad(problem, weights):\n"
         "    return _right(problem, {**weights, 'tv': 0.0})"),
        ("the gradient's sign flipped", "_right = make_loss_and_grad\n"
         "def make_loss_and_grad(problem, weights):\n"
         "    inner = _right(problem, weights)\n"
         "    def loss_and_grad(image):\n        loss, grad = inner(image)\n        return loss, -grad\n"
         "    return loss_and_grad"),
        ("a float32 gradient handed to SciPy", "_right = for_scipy\n"
         "def for_scipy(loss_and_grad, shape):\n    inner = _right(loss_and_grad, shape)\n"
         "    return lambda x: (inner(x)[0], inner(x)[1].astype(np.float32))"),
        ("a Gram matrix twice too large: wrong targets, which the NumPy line shares (the stored number does not)",
         "_right = gram_matrix\n"
         "def gram_matrix(features):\n    return 2.0 * _right(features)\n"
         "small = StyleTransfer(photo_path, painting_path, size=(CHECK_SIZE, CHECK_SIZE), style_fit='stretch',\n"
         "                      precision='float32', losses={**yours(), 'gram_matrix': gram_matrix})"),
    ],
    "6a1f0c06": [
        ("steps up the gradient", "_right = adam\n"
         "def adam(loss_and_grad, x0, steps, learning_rate):\n"
         "    def flipped(image):\n        loss, grad = loss_and_grad(image)\n        return loss, -grad\n"
         "    best, losses = _right(flipped, x0, steps, learning_rate)\n"
         "    return best, losses"),
        ("Keras's default learning rate", "_right = adam\n"
         "def adam(loss_and_grad, x0, steps, learning_rate):\n    return _right(loss_and_grad, x0, steps, 0.001)"),
        ("the last image returned, not the best (here: the start)", "_right = adam\n"
         "def adam(loss_and_grad, x0, steps, learning_rate):\n"
         "    best, losses = _right(loss_and_grad, x0, steps, learning_rate)\n    return x0, losses"),
    ],
    "6a1f0c09": [
        ("the start image returned", "_right = lbfgs\n"
         "def lbfgs(f, x0, evaluations):\n    image, result = _right(f, x0, evaluations)\n    return x0, result"),
        ("the budget ignored (5 times as many evaluations)", "_right = lbfgs\n"
         "def lbfgs(f, x0, evaluations):\n    return _right(f, x0, 5 * evaluations)"),
    ],
    "7b557f04": [
        ("the post's order (subtract, then flip)",
         "def preprocess(image):\n    return (np.asarray(image, dtype=np.float32) - IMAGENET_BGR_MEANS)[..., ::-1]"),
        ("no flip", "def preprocess(image):\n    return np.asarray(image, dtype=np.float32) - IMAGENET_BGR_MEANS"),
        ("deprocess that forgets to flip back", "def deprocess(x):\n"
         "    return np.clip(np.round(np.asarray(x) + IMAGENET_BGR_MEANS), 0, 255).astype(np.uint8)"),
    ],
    # 07: the size rule (content and TV weights x REFERENCE_PIXELS / pixels)
    "8039cfbc": [
        ("the TV weight not rescaled", "_right = rescale_weights\n"
         "def rescale_weights(weights, shape):\n"
         "    return {**_right(weights, shape), 'tv': weights['tv']}"),
        ("the ratio upside down", "_right = rescale_weights\n"
         "def rescale_weights(weights, shape):\n    w = _right(weights, shape)\n"
         "    return {**w, 'content': weights['content'] ** 2 / w['content'], 'tv': weights['tv'] ** 2 / w['tv']}"),
        ("the ratio of sides, not of pixels",
         "def rescale_weights(weights, shape):\n    ratio = 512 / max(shape)\n"
         "    return {**weights, 'content': weights['content'] * ratio, 'tv': weights['tv'] * ratio}"),
        ("the style weight rescaled too", "_right = rescale_weights\n"
         "def rescale_weights(weights, shape):\n    w = _right(weights, shape)\n"
         "    return {**w, 'style': weights['style'] * w['content'] / weights['content']}"),
    ],
    # 08: rule (a), rule (b), colour matching, the luminance recombination, blended Gram targets
    "08c00009": [
        ("the ratio upside down",
         "def weights_for_size(weights, *, shape):\n    factor = shape[0] * shape[1] / REFERENCE_PIXELS\n"
         "    return {**weights, 'content': weights['content'] * factor, 'tv': weights['tv'] * factor}"),
        ("the style weight scaled too", "_right = weights_for_size\n"
         "def weights_for_size(weights, *, shape):\n"
         "    return {**_right(weights, shape=shape), 'style': weights['style'] * REFERENCE_PIXELS / (shape[0] * shape[1])}"),
        ("the TV weight not scaled", "_right = weights_for_size\n"
         "def weights_for_size(weights, *, shape):\n    return {**_right(weights, shape=shape), 'tv': weights['tv']}"),
    ],
    "08c00010": [
        ("the 1/L missing", "_right = auto_layer_weights\n"
         "def auto_layer_weights(style_targets, positions):\n"
         "    return {l: w * len(style_targets) for l, w in _right(style_targets, positions).items()}"),
        ("M_l where M_l squared belongs", "_right = auto_layer_weights\n"
         "def auto_layer_weights(style_targets, positions):\n"
         "    return {l: w / positions[l] for l, w in _right(style_targets, positions).items()}"),
        ("the norm of A not squared",
         "def auto_layer_weights(style_targets, positions):\n"
         "    return {l: 4.0 * np.shape(a)[0] ** 2 * positions[l] ** 2\n"
         "               / (len(style_targets) * np.linalg.norm(np.asarray(a, dtype=np.float64))) for l, a in style_targets.items()}"),
    ],
    "08c00020": [
        ("the map backwards (L_s L_c^-1)",
         "def match_colour_cholesky(style, content):\n"
         "    s = np.asarray(style, dtype=np.float64).reshape(-1, 3)\n"
         "    c = np.asarray(content, dtype=np.float64).reshape(-1, 3)\n"
         "    cov_s, cov_c = np.cov(s, rowvar=False, bias=True), np.cov(c, rowvar=False, bias=True)\n"
         "    a = np.linalg.cholesky(cov_s) @ np.linalg.inv(np.linalg.cholesky(cov_c))\n"
         "    return ((s - s.mean(axis=0)) @ a.T + c.mean(axis=0)).reshape(np.shape(style))"),
        ("the painting's mean kept", "_right = match_colour_cholesky\n"
         "def match_colour_cholesky(style, content):\n"
         "    shift = np.reshape(style, (-1, 3)).mean(axis=0) - np.reshape(content, (-1, 3)).mean(axis=0)\n"
         "    return _right(style, content) + shift"),
        ("each channel's spread only, no covariance",
         "def match_colour_cholesky(style, content):\n"
         "    s = np.asarray(style, dtype=np.float64).reshape(-1, 3)\n"
         "    c = np.asarray(content, dtype=np.float64).reshape(-1, 3)\n"
         "    out = (s - s.mean(axis=0)) * (c.std(axis=0) / s.std(axis=0)) + c.mean(axis=0)\n"
         "    return out.reshape(np.shape(style))"),
    ],
    "08c00023": [
        ("the roles swapped (the photo's luminance, the result's colour)", "_right = recombine\n"
         "def recombine(result, content):\n    return _right(content, result)"),
        ("the YIQ array returned, not converted back to RGB",
         "def recombine(result, content):\n"
         "    yiq = colour.rgb_to_yiq(np.asarray(content, dtype=np.float64))\n"
         "    yiq[..., 0] = colour.rgb_to_yiq(np.asarray(result, dtype=np.float64))[..., 0]\n"
         "    return yiq"),
        ("the result unchanged", "def recombine(result, content):\n    return np.asarray(result, dtype=np.float64)"),
    ],
    "08c0002a": [
        ("a weighted sum, not divided by the total weight",
         "def blend_targets(grams, weights):\n"
         "    return sum(w * np.asarray(g, dtype=np.float64) for g, w in zip(grams, weights))"),
        ("an unweighted mean",
         "def blend_targets(grams, weights):\n    return sum(np.asarray(g, dtype=np.float64) for g in grams) / len(grams)"),
        ("the weights in the wrong order", "_right = blend_targets\n"
         "def blend_targets(grams, weights):\n    return _right(grams, list(weights)[::-1])"),
    ],
}

PROBE = '''
def _probe(cell_id, check_source, solutions, wrong_answers):
    """Run a self-check cell again with each wrong answer; each must make check() FAIL."""
    import contextlib, io
    for label, wrong in wrong_answers:
        namespace = dict(globals())          # a copy: the wrong answer never leaks into the notebook
        exec(solutions, namespace)           # the solutions again, so that they call each other in the copy
        exec(wrong, namespace)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(check_source, namespace)
        except AssertionError as exc:
            if not str(exc).startswith("FAIL"):
                raise
            print(f"CAUGHT {cell_id}: {label}")
        else:
            raise AssertionError(f"cell {cell_id}: the wrong answer {label!r} passed its self-check")
'''


def is_selfcheck(cell) -> bool:
    return cell.cell_type == "code" and ("check" in cell.metadata.get("tags", []) or re.search(r"\bcheck\(", cell.source))


def probed(nb) -> nbformat.NotebookNode:
    """The notebook up to its last self-check cell, with a probe cell after every self-check cell."""
    cells = list(nb.cells)
    last = max(i for i, c in enumerate(cells) if is_selfcheck(c))
    out, solutions = [nbformat.v4.new_code_cell(PROBE)], ""
    for cell in cells[: last + 1]:
        out.append(cell)
        if "solution" in cell.metadata.get("tags", []):  # keep(...) is left out: exec'd code has no source to keep
            solutions += "\n".join(ln for ln in cell.source.splitlines() if not ln.startswith("keep(")) + "\n"
        if is_selfcheck(cell):
            call = f"_probe({cell.id!r}, {cell.source!r}, {solutions!r}, {WRONG_ANSWERS[cell.id]!r})"
            out.append(nbformat.v4.new_code_cell(call))
    probe_nb = nbformat.v4.new_notebook(cells=out, metadata=nb.metadata)
    return probe_nb


PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def test_every_selfcheck_cell_has_wrong_answers():
    cells = {c.id: p.name for p in PATHS for c in nbformat.read(p, as_version=4).cells if is_selfcheck(c)}
    assert len(cells) >= 15
    missing = sorted(f"{name} cell {cid}" for cid, name in cells.items() if cid not in WRONG_ANSWERS)
    assert not missing, f"self-check cells without wrong answers in tests/test_selfchecks.py: {missing}"
    stale = sorted(set(WRONG_ANSWERS) - set(cells))
    assert not stale, f"wrong answers for cells that are no longer self-check cells: {stale}"
    assert all(len(wrong) >= 2 for wrong in WRONG_ANSWERS.values())


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_wrong_answers_fail_and_right_ones_pass(path, weights_path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    ids = [c.id for c in nb.cells if is_selfcheck(c)]
    monkeypatch.setenv("NST_FAST", "1")  # tiny sizes and iteration counts
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    probe_nb = probed(nb)
    NotebookClient(probe_nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    printed = "".join(o.get("text", "") for c in probe_nb.cells for o in c.get("outputs", []))
    caught = re.findall(r"^CAUGHT (\w+): ", printed, flags=re.M)
    assert sorted(caught) == sorted(cid for cid in ids for _ in WRONG_ANSWERS[cid])
    passes = re.findall(r"^PASS ", printed, flags=re.M)
    assert len(passes) >= len(ids)  # the notebook's own answers passed every check on the way


def test_check_prints_the_relative_error(capsys):
    from helpers.notebook import check

    check("close", 1.0 + 3e-7, 1.0, rtol=1e-5)
    assert capsys.readouterr().out.startswith("PASS close: relative error 3e-07 (tolerance rtol=1e-05")
    with pytest.raises(AssertionError, match=r"^FAIL off by 2 %: relative error 0.02 "):
        check("off by 2 %", [1.0, 102.0], [1.0, 100.0], rtol=1e-2)
    with pytest.raises(AssertionError, match="shape"):
        check("shape", [1.0, 2.0], [1.0], rtol=1e-2)
