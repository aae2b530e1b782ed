"""helpers.controls: masked Gram matrices, regional style loss, blended style targets.
Tiny config: random feature maps of 6 x 8 positions and 5 channels, float64."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from helpers.controls import blend_grams, masked_gram, region_positions, regional_style_loss
from helpers.losses import gram_matrix, style_loss

H, W, C = 6, 8, 5


def features(seed):
    return tf.constant(np.random.default_rng(seed).uniform(0, 2, (1, H, W, C)))


def test_a_mask_of_ones_gives_the_unmasked_gram_and_loss():
    f, s = features(0), features(1)
    ones = np.ones((H, W))
    np.testing.assert_allclose(masked_gram(f, ones), gram_matrix(f), rtol=1e-12)
    target = gram_matrix(s)  # the style's Gram for the same number of positions M = H * W
    loss = regional_style_loss(f, [ones], [target / (H * W)])
    np.testing.assert_allclose(float(loss), float(style_loss(target, f, "gatys")), rtol=1e-10)


def test_masked_gram_sees_only_its_region():
    f = features(0).numpy()
    top = np.zeros((H, W))
    top[:3] = 1
    g_top = masked_gram(f, top)
    np.testing.assert_allclose(g_top, gram_matrix(f[:, :3]), rtol=1e-12)  # the crop's Gram
    f_changed = f.copy()
    f_changed[:, 3:] *= 7.0  # change only the bottom half
    np.testing.assert_allclose(masked_gram(f_changed, top), g_top, rtol=1e-12)
    assert float(region_positions(top)) == 3 * W
    # two complementary regions with the same target: the unmasked loss again
    a = gram_matrix(features(1)) / (H * W)
    both = regional_style_loss(f, [top, 1 - top], [a, a])
    assert float(both) > 0
    alone_top = regional_style_loss(f, [top], [a])
    np.testing.assert_allclose(float(alone_top), float(style_loss(a * 3 * W, f[:, :3], "gatys")) * 0.5, rtol=1e-10)


def test_an_empty_region_adds_nothing_and_has_a_finite_gradient():
    f = tf.Variable(features(0))
    empty, ones = np.zeros((H, W)), np.ones((H, W))
    a = gram_matrix(features(1)) / (H * W)
    with tf.GradientTape() as tape:
        loss = regional_style_loss(f, [ones, empty], [a, a * 3])
    np.testing.assert_allclose(float(loss), float(regional_style_loss(f, [ones], [a])), rtol=1e-12)
    assert np.all(np.isfinite(tape.gradient(loss, f).numpy()))


def test_two_identical_styles_blend_to_that_style():
    a = gram_matrix(features(1))
    np.testing.assert_allclose(blend_grams([a, a], [0.7, 0.3]), a, rtol=1e-12)
    np.testing.assert_allclose(blend_grams([a, a], [2.0, 5.0]), a, rtol=1e-12)  # any positive weights
    b = gram_matrix(features(2))
    np.testing.assert_allclose(blend_grams([a, b], [3.0, 1.0]), 0.75 * a + 0.25 * b, rtol=1e-12)
    np.testing.assert_allclose(blend_grams([a, b], [1.0, 0.0]), a, rtol=1e-12)
    for bad in ([0.0, 0.0], [-1.0, 2.0], [1.0]):
        with pytest.raises(ValueError):
            blend_grams([a, b], bad)


def test_blended_target_and_summed_losses_have_the_same_optimum():
    """sum_k w_k ||G - A_k||^2 = W ||G - Abar||^2 + const: equal gradients (x W), constant difference."""
    grams = [gram_matrix(features(s)) for s in (1, 2, 3)]
    w = [0.5, 0.3, 1.2]
    abar = blend_grams(grams, w)
    differences, gradients = [], []
    for seed in (10, 11):
        f = tf.Variable(features(seed))
        with tf.GradientTape(persistent=True) as tape:
            summed = tf.add_n([wk * style_loss(a, f, "gatys") for wk, a in zip(w, grams)])
            blended = sum(w) * style_loss(abar, f, "gatys")
        differences.append(float(summed - blended))
        np.testing.assert_allclose(tape.gradient(summed, f), tape.gradient(blended, f), rtol=1e-9)
    assert differences[0] > 0  # the constant: the spread of the targets around their mean
    np.testing.assert_allclose(differences[0], differences[1], rtol=1e-9)
