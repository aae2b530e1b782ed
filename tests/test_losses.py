"""helpers.losses: gradients against finite differences, hand-computed values, edge cases (float64, no VGG16)."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from helpers.losses import content_loss, gram_matrix, style_loss, total_loss, total_variation_loss
from helpers.settings import equal_layer_weights

# Central differences in float64 with step 1e-5 (relative to values of order 1) have a
# truncation error of O(h^2) ~ 1e-10 and a rounding error of ~1e-16 / 1e-5 ~ 1e-11; a
# relative tolerance of 1e-6 on the gradient is therefore far above the noise and far
# below any real mistake (a wrong factor or a missing term is off by > 10%).
STEP = 1e-5
RTOL = 1e-6


def rng(seed=0):
    return np.random.default_rng(seed)


def numeric_gradient(f, x: np.ndarray, n_entries: int = 12, seed: int = 0):
    """Central differences of scalar f at `n_entries` random positions of x: (indices, estimates)."""
    flat = x.ravel()
    idx = rng(seed).choice(flat.size, size=min(n_entries, flat.size), replace=False)
    estimates = []
    for i in idx:
        up, down = flat.copy(), flat.copy()
        up[i] += STEP
        down[i] -= STEP
        fu = float(f(tf.constant(up.reshape(x.shape))))
        fd = float(f(tf.constant(down.reshape(x.shape))))
        estimates.append((fu - fd) / (2 * STEP))
    return idx, np.array(estimates)


def check_gradient(f, x: np.ndarray, seed: int = 0):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = f(xt)
    grad = tape.gradient(y, xt).numpy().ravel()
    idx, estimates = numeric_gradient(f, x, seed=seed)
    scale = np.abs(grad).max()  # entries near zero are compared on the gradient's own scale
    np.testing.assert_allclose(grad[idx], estimates, rtol=RTOL, atol=RTOL * scale)


# --- gradients --------------------------------------------------------------------


def test_content_loss_gradient():
    base = rng(1).normal(size=(1, 3, 4, 5))
    comb = rng(2).normal(size=(1, 3, 4, 5))
    check_gradient(lambda x: content_loss(tf.constant(base), x), comb)
    # and the closed form: d/dF sum (F - P)^2 = 2 (F - P)
    xt = tf.constant(comb)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = content_loss(tf.constant(base), xt)
    np.testing.assert_allclose(tape.gradient(y, xt).numpy(), 2 * (comb - base), rtol=1e-12)


@pytest.mark.parametrize("normalization", ["gatys", "original"])
def test_style_loss_gradient(normalization):
    style = rng(3).normal(size=(1, 4, 3, 5))
    target = gram_matrix(tf.constant(style))
    comb = rng(4).normal(size=(1, 4, 3, 5))
    check_gradient(lambda x: style_loss(target, x, normalization, image_pixels=48), comb)


def test_total_variation_gradient():
    # Distinct random values: no two neighbours are equal, so every term (dy^2 + dx^2)^1.25
    # is evaluated away from 0, where the loss is smooth.
    image = rng(5).uniform(-1, 1, size=(1, 5, 6, 3))
    assert np.unique(image).size == image.size
    check_gradient(total_variation_loss, image)


# --- Gram matrix --------------------------------------------------------------------


def test_gram_is_symmetric_positive_semidefinite():
    features = tf.constant(rng(6).normal(size=(1, 7, 5, 6)))
    gram = gram_matrix(features).numpy()
    assert gram.shape == (6, 6)
    np.testing.assert_allclose(gram, gram.T, rtol=0, atol=1e-12)
    eigenvalues = np.linalg.eigvalsh(gram)
    assert eigenvalues.min() >= -1e-9 * eigenvalues.max()
    flat = features.numpy().reshape(-1, 6)
    np.testing.assert_allclose(gram, flat.T @ flat, rtol=1e-12)


def test_gram_accepts_unbatched_features():
    features = rng(7).normal(size=(3, 4, 2))
    np.testing.assert_allclose(gram_matrix(tf.constant(features[None])), gram_matrix(tf.constant(features)))


@pytest.mark.parametrize("normalization", ["gatys", "original"])
def test_style_loss_is_zero_for_identical_inputs(normalization):
    features = tf.constant(rng(8).normal(size=(1, 4, 4, 3)))
    assert float(style_loss(gram_matrix(features), features, normalization, image_pixels=16)) == 0.0


# --- hand-computed values --------------------------------------------------------------

# Features (1, H=2, W=3, C=4): N = 4 channels, M = 6 positions.
FEATURES = np.arange(24, dtype=np.float64).reshape(1, 2, 3, 4) / 10.0
TARGET = np.array(  # any symmetric 4x4 matrix will do as a "style Gram"
    [[1.0, 0.5, 0.0, 2.0],
     [0.5, 3.0, 1.0, 0.0],
     [0.0, 1.0, 2.0, 0.5],
     [2.0, 0.0, 0.5, 4.0]]
)


def squared_gram_difference() -> float:
    """sum (G - A)^2 with G computed position by position, independently of helpers.losses."""
    gram = np.zeros((4, 4))
    for h in range(2):
        for w in range(3):
            v = FEATURES[0, h, w]
            gram += np.outer(v, v)
    return float(((gram - TARGET) ** 2).sum())


def test_style_loss_gatys_by_hand():
    expected = squared_gram_difference() / (4 * 4**2 * 6**2)
    got = float(style_loss(tf.constant(TARGET), tf.constant(FEATURES), "gatys"))
    assert got == pytest.approx(expected, rel=1e-12)


def test_style_loss_original_by_hand():
    pixels = 37 * 11  # the *image's* pixel count, not this layer's
    expected = squared_gram_difference() / (4 * 9 * pixels**2)
    got = float(style_loss(tf.constant(TARGET), tf.constant(FEATURES), "original", image_pixels=pixels))
    assert got == pytest.approx(expected, rel=1e-12)


def test_style_loss_original_needs_image_pixels():
    with pytest.raises(ValueError, match="image_pixels"):
        style_loss(tf.constant(TARGET), tf.constant(FEATURES), "original")


def test_style_loss_unknown_normalization():
    with pytest.raises(ValueError, match="normalization"):
        style_loss(tf.constant(TARGET), tf.constant(FEATURES), "bogus", image_pixels=6)


def test_content_loss_by_hand():
    base = np.zeros((1, 2, 3, 4))
    assert float(content_loss(tf.constant(base), tf.constant(FEATURES))) == pytest.approx((FEATURES**2).sum())


# --- total variation ---------------------------------------------------------------------


def test_total_variation_zero_on_constant_image():
    assert float(total_variation_loss(tf.fill((1, 6, 7, 3), tf.constant(42.5, tf.float64)))) == 0.0


@pytest.mark.parametrize("a, b", [(1.0, 0.0), (0.5, -2.0), (3.0, 4.0)])
def test_total_variation_on_a_ramp(a, b):
    h, w = 5, 7
    i, j = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    image = np.repeat((a * i + b * j)[None, :, :, None], 3, axis=-1).astype(np.float64)
    # every one of the (H-1)(W-1) pixels x 3 channels has dy = -a, dx = -b
    expected = (h - 1) * (w - 1) * 3 * (a**2 + b**2) ** 1.25
    assert float(total_variation_loss(tf.constant(image))) == pytest.approx(expected, rel=1e-12)


# --- the weighted total ---------------------------------------------------------------------


def test_total_loss_parts_sum_to_total():
    image = tf.constant(rng(9).normal(size=(1, 8, 6, 3)))
    features = {"a": tf.constant(rng(10).normal(size=(1, 8, 6, 4))),
                "b": tf.constant(rng(11).normal(size=(1, 4, 3, 5)))}
    content = tf.constant(rng(12).normal(size=(1, 8, 6, 4)))
    style_targets = {name: gram_matrix(tf.constant(rng(13 + k).normal(size=f.shape)))
                     for k, (name, f) in enumerate(features.items())}
    weights = {"content": 0.3, "style": 7.0, "tv": 0.01}
    for normalization in ("gatys", "original"):
        total, parts = total_loss(image, features, ("a", content), style_targets, weights, normalization,
                                   layer_weights=equal_layer_weights(list(style_targets)))
        assert set(parts) == {"content", "style/a", "style/b", "tv"}
        assert float(total) == pytest.approx(sum(float(v) for v in parts.values()), rel=1e-12)
        # each part is already weighted; here the style layers share the style weight equally
        assert float(parts["content"]) == pytest.approx(0.3 * float(content_loss(content, features["a"])))
        assert float(parts["tv"]) == pytest.approx(0.01 * float(total_variation_loss(image)))
        expected_b = 7.0 * 0.5 * float(style_loss(style_targets["b"], features["b"], normalization, image_pixels=48))
        assert float(parts["style/b"]) == pytest.approx(expected_b)

    # explicit layer weights, and no content term at all
    total, parts = total_loss(image, features, None, style_targets, weights, layer_weights={"a": 1.0, "b": 0.0})
    assert "content" not in parts and float(parts["style/b"]) == 0.0
    assert float(total) == pytest.approx(float(parts["style/a"]) + float(parts["tv"]), rel=1e-12)
