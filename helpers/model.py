"""A frozen VGG16 that returns the feature maps of named layers.

Layer names are Keras's (`block4_conv2`); the paper calls the same layer `conv4_2`
(and its output after ReLU `relu4_2`). Keras's conv layers include the ReLU, so
their outputs are the paper's `relu` maps.
"""
from __future__ import annotations

import functools

import keras
import tensorflow as tf

from helpers.settings import CONTENT_LAYER, STYLE_LAYERS  # noqa: F401 (re-exported: the notebooks import them here)
from helpers.weights import CONV_LAYERS, vgg16_weights_path

PAPER_NAMES = {name: f"conv{name[5]}_{name[-1]}" for name in CONV_LAYERS}  # block4_conv2 -> conv4_2


@functools.lru_cache(maxsize=2)
def vgg16(dtype: str = "float32") -> keras.Model:
    """VGG16's convolutional base with the genuine ImageNet weights, frozen.

    Input: preprocessed images (N, H, W, 3) of any size >= 32 px. Built once per
    process and dtype (a notebook pays the ~1 s once). dtype "bfloat16" builds
    the same network computing in bfloat16 (weights stored in float32).
    """
    policy = {"float32": "float32", "bfloat16": "mixed_bfloat16"}[dtype]
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        model = keras.applications.VGG16(
            weights=str(vgg16_weights_path()), include_top=False, input_shape=(None, None, 3)
        )
    finally:
        keras.config.set_dtype_policy(previous)
    model.trainable = False
    return model


class FeatureExtractor:
    """Maps a preprocessed image (1, H, W, 3) to {layer name: feature map (1, h, w, c)}.

    The Keras model keeps only the layers between the input and the deepest layer
    asked for: asking for block2_conv2 alone runs 4 of VGG16's 13 convolutions.
    Calling it never records gradients for VGG's weights; a GradientTape that
    watches only the image gets the image gradient without the unused filter
    gradients (which would double the cost of every evaluation).
    """

    def __init__(self, layers, dtype: str = "float32"):
        self.layers = list(dict.fromkeys(layers))  # unique, order kept
        unknown = [name for name in self.layers if name not in CONV_LAYERS and not name.endswith("_pool")]
        if unknown:
            raise ValueError(f"unknown VGG16 layer(s) {unknown}; choose from {CONV_LAYERS}")
        base = vgg16(dtype)
        outputs = [base.get_layer(name).output for name in self.layers]
        self.model = keras.Model(base.input, outputs, name="vgg16_features")
        self.model.trainable = False
        self.dtype = dtype

    @property
    def depth(self) -> int:
        """Number of conv layers actually run."""
        return sum(1 for layer in self.model.layers if layer.name in CONV_LAYERS)

    def __call__(self, image) -> dict:
        outputs = self.model(image, training=False)
        if len(self.layers) == 1:
            outputs = [outputs]
        # Losses are summed in float32 even when the network computes in bfloat16.
        return {name: tf.cast(out, tf.float32) for name, out in zip(self.layers, outputs)}
