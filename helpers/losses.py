"""The three losses of Gatys-style transfer, and the weighted total.

Feature maps are tensors of shape (H, W, C) or (1, H, W, C): H x W positions and
C channels of one VGG16 layer. Images are preprocessed tensors (1, H, W, 3) (see
`helpers.images.preprocess`). Every function works on float32 and float64 and is
differentiable with tf.GradientTape.
"""
from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

from helpers.settings import NORMALIZATIONS


def _flat(features):
    """(1, H, W, C) or (H, W, C) -> (H*W, C): one row per position, one column per channel."""
    features = tf.convert_to_tensor(features)
    return tf.reshape(features, (-1, tf.shape(features)[-1]))


def content_loss(base_features, combination_features):
    """Content loss: sum of squared differences of two feature maps (the post's form).

        L_content = sum_ij (F_ij - P_ij)^2

    F = combination features, P = content image features, same shape (.., H, W, C).
    Returns a scalar. (Gatys et al. write 1/2 in front; the post does not, and a
    constant factor only rescales the content weight.)
    """
    return tf.reduce_sum(tf.square(combination_features - base_features))


def gram_matrix(features):
    """Gram matrix of a feature map: G = F^T F, shape (C, C).

    F is the feature map flattened to (H*W, C), so G_ij = sum over positions of
    channel i times channel j: how strongly two channels fire *together*, with all
    information about *where* thrown away. Not normalized (the post's form).
    """
    f = _flat(features)
    return tf.matmul(f, f, transpose_a=True)


def style_loss(style_gram, combination_features, normalization: str = "gatys", image_pixels=None):
    """Style loss of one layer: squared distance of Gram matrices, normalized.

    style_gram: gram_matrix of the style image's features at this layer, computed at
        the same spatial size as the combination image (C, C).
    combination_features: this layer's features of the image being optimized (.., H, W, C).
    normalization:
        "gatys" (default):  sum (G - A)^2 / (4 * N^2 * M^2), with this layer's own
            channel count N = C and spatial size M = H * W (Gatys et al. 2015, eq. 4),
            so every layer contributes on a comparable scale.
        "original": sum (G - A)^2 / (4 * 3^2 * (image_pixels)^2), the Keras post's
            form: a constant 3 ("channels") and the *image's* pixel count for every
            layer. Deep layers have far fewer positions than the image, so their
            losses come out tiny, and the weights that work here mean nothing in
            the "gatys" form (and vice versa).
    image_pixels: height * width of the image, required for "original".
    """
    f = _flat(combination_features)
    gram = tf.matmul(f, f, transpose_a=True)
    squared = tf.reduce_sum(tf.square(gram - tf.cast(style_gram, gram.dtype)))
    if normalization == "gatys":
        n = tf.cast(tf.shape(f)[1], gram.dtype)
        m = tf.cast(tf.shape(f)[0], gram.dtype)
        return squared / (4.0 * n**2 * m**2)
    if normalization == "original":
        if image_pixels is None:
            raise ValueError('style_loss(normalization="original") needs image_pixels (height * width of the image)')
        return squared / (4.0 * 3.0**2 * tf.cast(image_pixels, gram.dtype) ** 2)
    raise ValueError(f"normalization must be one of {NORMALIZATIONS}, not {normalization!r}")


def total_variation_loss(image):
    """Total-variation loss of an image (1, H, W, 3), the post's form:

        L_tv = sum_ij ((x[i, j] - x[i+1, j])^2 + (x[i, j] - x[i, j+1])^2) ^ 1.25

    over the (H-1) x (W-1) pixels that have both a lower and a right neighbour.
    Large for high-frequency noise, zero for a constant image.
    """
    dy = image[:, :-1, :-1, :] - image[:, 1:, :-1, :]
    dx = image[:, :-1, :-1, :] - image[:, :-1, 1:, :]
    return tf.reduce_sum(tf.pow(tf.square(dy) + tf.square(dx), 1.25))


LOSS_FUNCTIONS = ("content_loss", "gram_matrix", "style_loss", "total_variation_loss")


def loss_functions(custom: Mapping | None = None) -> dict:
    """{name: function} for LOSS_FUNCTIONS: the entries of `custom` (e.g. a student's, from
    `helpers.notebook.yours()`), the functions of this module for the rest.

    A custom `style_loss` has the student's signature `style_loss(style_gram, combination_features)`
    and the "gatys" normalization. An unknown name is a ValueError (a typo would be ignored otherwise).
    """
    custom = dict(custom or {})
    unknown = sorted(set(custom) - set(LOSS_FUNCTIONS))
    if unknown:
        raise ValueError(f"losses: unknown name {unknown[0]!r}; the names are {LOSS_FUNCTIONS}")
    return {name: custom.get(name, globals()[name]) for name in LOSS_FUNCTIONS}


def total_loss(image, features, content_target, style_targets, weights: Mapping, normalization: str = "gatys", *,
               layer_weights: Mapping, regions: Mapping | None = None, functions: Mapping | None = None):
    """The weighted sum that style transfer minimizes, and its parts.

    image: the image being optimized, preprocessed (1, H, W, 3).
    features: {layer: feature map} of `image` (from `helpers.model.FeatureExtractor`).
    content_target: (layer, feature map of the content image), or None for no content term.
    style_targets: {layer: Gram matrix of the style image} (see `style_loss`).
    weights: {"content", "style", "tv"}: the weight of each term.
    layer_weights: {layer: share of the style weight}, one per style target (the
        default, equal shares, is `helpers.settings.equal_layer_weights`).
    regions: None, or a style per region ("gatys" only): {layer: (masks (K, h, w) at
        the layer's size, K per-position targets (C, C))}, each layer's style loss then
        `helpers.controls.regional_style_loss` (style_targets are not used).
    functions: {name: function} from `loss_functions` (default: this module's); a custom
        "style_loss" allows only normalization "gatys" (ValueError otherwise), and no regions.
    Returns (total, parts) where parts = {"content": ..., "tv": ..., "style/<layer>": ...},
    each already multiplied by its weight, so total == sum(parts.values()).
    """
    functions = loss_functions(functions)
    custom_style = functions["style_loss"] is not style_loss
    if custom_style and normalization != "gatys":
        raise ValueError(f'a custom style_loss has the "gatys" normalization only, not {normalization!r}')
    if custom_style and regions is not None:
        raise ValueError("a custom style_loss cannot be used with regions (a mask)")
    parts = {}
    if content_target is not None:
        layer, target = content_target
        parts["content"] = weights["content"] * functions["content_loss"](target, features[layer])
    pixels = image.shape[1] * image.shape[2]
    for layer, gram in style_targets.items():
        if regions is not None:
            # imported here, not at the top: helpers.controls imports this module
            from helpers.controls import regional_style_loss

            masks, targets = regions[layer]
            loss = regional_style_loss(features[layer], tf.unstack(masks), targets)
        elif custom_style:
            loss = functions["style_loss"](gram, features[layer])
        else:
            loss = style_loss(gram, features[layer], normalization, image_pixels=pixels)
        parts[f"style/{layer}"] = weights["style"] * layer_weights[layer] * loss
    parts["tv"] = weights["tv"] * functions["total_variation_loss"](image)
    return tf.add_n(list(parts.values())), parts
