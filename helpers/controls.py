"""The losses behind two controls, as plain TensorFlow functions: style per region
(masked Gram matrices) and several styles at once (blended Gram targets).

Following Gatys, Ecker, Bethge, Hertzmann & Shechtman 2017, "Controlling Perceptual
Factors in Neural Style Transfer" (spatial control: guided Gram matrices), in the
"gatys" normalization of `helpers.losses.style_loss`, which is the squared distance of
*per-position* Gram matrices (G / M, "mean Gram"):

    sum (G - A)^2 / (4 N^2 M^2)  =  || G/M - A/M ||^2 / (4 N^2)

N channels and M positions of the layer. Per-position Grams do not depend on the
image's size, which is what lets a region (fewer positions) or another style image
(another size) be compared on the same scale.

Why blending Gram targets and summing per-style losses are the same thing: for styles
k with targets A_k and weights w_k >= 0 (W = sum w_k, Abar = sum w_k A_k / W),

    sum_k w_k ||G - A_k||^2 = sum_k w_k (||G||^2 - 2 <G, A_k> + ||A_k||^2)
                            = W ||G||^2 - 2 W <G, Abar> + sum_k w_k ||A_k||^2
                            = W ||G - Abar||^2 + (sum_k w_k ||A_k||^2 - W ||Abar||^2).

The bracket does not depend on G, hence not on the image: both losses have the same
gradient (up to the factor W, which the style weight absorbs) and the same optimum.
The identity holds layer by layer; where the per-layer weights differ between the
styles, the blend at layer l uses the products w_k * w_kl as its weights.
"""
from __future__ import annotations

import tensorflow as tf

from helpers.losses import gram_matrix


def masked_gram(features, mask):
    """Gram matrix of one region: G_r = (F * m)^T (F * m), shape (C, C).

    features: a layer's feature map (1, h, w, C) or (h, w, C).
    mask: the region at this layer's size (h, w), values 0..1 (see
        `helpers.masks.masks_for_layers`). Each position's features are multiplied by
        the mask there (the paper's guidance channel), so outside positions add
        nothing and a mask of ones gives `helpers.losses.gram_matrix`.
    """
    features = tf.convert_to_tensor(features)
    return gram_matrix(features * tf.cast(mask, features.dtype)[..., None])


def region_positions(mask):
    """The number of positions a region covers, sum of m^2 (the m^2 because `masked_gram`
    multiplies by m twice): its M, so G_r / M_r is the region's per-position Gram."""
    m = tf.cast(tf.convert_to_tensor(mask), tf.float32)
    return tf.reduce_sum(tf.square(m))


def blend_grams(grams, weights):
    """Weighted average of Gram targets: sum_k w_k A_k / sum_k w_k, shape (C, C).

    grams: the styles' Gram matrices at one layer, all for the same number of positions
        (or all per-position); weights: one number >= 0 per style, not all zero. Two
        identical styles blend to that style; the weights need not sum to one.
    """
    grams = [tf.convert_to_tensor(g) for g in grams]
    weights = [float(w) for w in weights]
    if len(grams) != len(weights) or not grams:
        raise ValueError(f"one weight per style: {len(grams)} Gram matrices, {len(weights)} weights")
    if min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"style blend weights must be >= 0 and not all zero, not {weights}")
    total = sum(weights)
    return tf.add_n([g * tf.constant(w / total, dtype=g.dtype) for g, w in zip(grams, weights)])


def regional_style_loss(features, masks, mean_grams):
    """Style loss of one layer with a style per region ("gatys" normalization).

        sum_r (M_r / M) * || G_r / M_r - A_r ||^2 / (4 N^2)

    features: the layer's feature map of the image being optimized (1, h, w, N).
    masks: one mask (h, w) per region at this layer's size, values 0..1.
    mean_grams: one per-position target per region, A_r = (style's Gram) / (its positions), (N, N).
    Each region is compared on the per-position scale (a small region is not
    drowned by a large one's sums), then weighted by its share of the picture M_r / M.
    With one region covering everything (a mask of ones) this is exactly
    `helpers.losses.style_loss(A * M, features, "gatys")`. An empty region adds nothing.
    """
    f = tf.convert_to_tensor(features)
    n = tf.cast(tf.shape(f)[-1], f.dtype)
    m = tf.cast(tf.size(f), f.dtype) / n
    losses = []
    for mask, target in zip(masks, mean_grams, strict=True):
        m_r = tf.cast(region_positions(mask), f.dtype)
        gram = masked_gram(f, mask) / tf.maximum(m_r, 1e-12)
        distance = tf.reduce_sum(tf.square(gram - tf.cast(target, f.dtype))) / (4.0 * n**2)
        losses.append(tf.where(m_r > 0, m_r / m * distance, tf.zeros_like(distance)))
    return tf.add_n(losses)
