"""helpers.visualize: the most active channels, filter pictures by gradient ascent, tables, a progress bar.

(Its figures are in helpers.plots; tests/test_plots.py draws them.)
"""
from __future__ import annotations

import numpy as np
import pytest

from helpers import visualize as vis


def feature_map(h=6, w=5, c=4):
    """Channel k is k everywhere except one pixel, so the channel means are ordered 0 < 1 < 2 < 3."""
    f = np.tile(np.arange(c, dtype=np.float32), (h, w, 1))
    f[0, 0, :] = 2 * np.arange(c)
    return f[None]  # (1, h, w, c), as a layer returns it


def test_top_channels_strongest_first():
    assert vis.top_channels(feature_map(), 3).tolist() == [3, 2, 1]
    assert vis.top_channels(feature_map()[0], 10).tolist() == [3, 2, 1, 0]  # (h, w, c) too; k > c is fine


def test_feature_map_must_be_one_image():
    with pytest.raises(ValueError, match="batch"):
        vis.top_channels(np.zeros((2, 4, 4, 3)))
    with pytest.raises(ValueError, match="expected a feature map"):
        vis.top_channels(np.zeros((4, 4)))


def test_markdown_table_formats_numbers_and_shapes():
    table = vis.markdown_table([{"layer": "a", "output": (224, 224, 64), "parameters": 1792}])
    assert table.splitlines() == ["| layer | output | parameters |", "|---|---|---|", "| a | 224 × 224 × 64 | 1,792 |"]


def test_layer_table_shapes_and_parameters():
    import keras

    model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(4, 3, padding="same", name="c"),
                              keras.layers.MaxPooling2D(name="p")])
    rows = vis.layer_table(model, (8, 6, 3), names={"c": "conv1_1"})
    assert rows == [{"layer": "c", "paper": "conv1_1", "output": (8, 6, 4), "parameters": 3 * 3 * 3 * 4 + 4},
                    {"layer": "p", "paper": "", "output": (4, 3, 4), "parameters": 0}]


def test_epoch_bar_follows_training():
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    bar = vis.epoch_bar(3)
    model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=3, verbose=0, callbacks=[bar])
    assert bar.bar.n == 3


# --- gradient ascent on VGG16 (genuine weights, built offline by the fixture) --------------------


@pytest.fixture(scope="module")
def vgg(weights_path):
    from helpers.model import vgg16

    return vgg16()


@pytest.mark.slow  # VGG16 and gradient ascent
def test_gradient_ascent_raises_the_channel_activation(vgg):
    image, activations = vis.visualize_filter("block1_conv2", 7, size=32, steps=8, seed=1)
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert len(activations) == 8 and activations[-1] > 2 * activations[0] > 0


def test_gradient_ascent_is_seeded(vgg):
    a, _ = vis.visualize_filter("block1_conv1", 3, size=32, steps=3, seed=5)
    b, _ = vis.visualize_filter("block1_conv1", 3, size=32, steps=3, seed=5)
    c, _ = vis.visualize_filter("block1_conv1", 3, size=32, steps=3, seed=6)
    np.testing.assert_array_equal(a, b)
    assert np.any(a != c)


@pytest.mark.slow  # VGG16 and gradient ascent
def test_gradient_ascent_wakes_a_silent_deep_channel(vgg):
    """The objective is taken before the ReLU, so a channel that is 0 at the start still moves."""
    from helpers.images import preprocess
    from helpers.model import FeatureExtractor

    grey = preprocess(np.full((1, 32, 32, 3), 128.0))
    means = FeatureExtractor(["block5_conv3"])(grey)["block5_conv3"].numpy().mean(axis=(0, 1, 2))
    silent = int(np.flatnonzero(means == 0)[0])
    _, activations = vis.visualize_filter("block5_conv3", silent, size=32, steps=6, jitter=0)
    assert activations[-1] > 0


def test_gradient_ascent_needs_a_conv_layer():
    with pytest.raises(ValueError, match="conv layers"):
        vis.visualize_filter("block1_pool", 0)
