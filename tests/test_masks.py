"""helpers.masks: loading masks and labels, resizing to the result and to VGG16's layers.
Tiny configs (masks of 40-100 px), and the shipped example mask."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import masks
from helpers.images import ImageError

REPO = Path(__file__).resolve().parents[1]
SKY = REPO / "images" / "masks" / "tuebingen_sky.png"


def half_white(h=40, w=64) -> np.ndarray:
    a = np.zeros((h, w), np.uint8)
    a[: h // 2] = 255  # top half white
    return a


def test_load_mask_is_float_0_to_1(tmp_path):
    Image.fromarray(half_white()).save(tmp_path / "m.png")
    m = masks.load_mask(tmp_path / "m.png")
    assert m.dtype == np.float32 and m.shape == (40, 64)
    assert m[:20].min() == 1.0 and m[20:].max() == 0.0
    rgb = np.repeat(half_white()[..., None], 3, axis=-1)  # an RGB mask means the same
    np.testing.assert_array_equal(masks.load_mask(rgb), m)


def test_load_mask_resizes_by_area(tmp_path):
    m = masks.load_mask(half_white(40, 64), shape=(10, 16))
    assert m.shape == (10, 16)
    assert m[:5].min() == pytest.approx(1.0) and m[5:].max() == pytest.approx(0.0)
    odd = masks.load_mask(half_white(40, 64), shape=(7, 16))  # the edge falls inside a pixel
    assert 0.0 < odd[3].mean() < 1.0 and odd.min() >= 0.0 and odd.max() <= 1.0
    assert odd.mean() == pytest.approx(0.5, abs=1e-3)  # area averaging keeps the region's share


def test_a_mask_that_is_not_an_image_is_a_one_line_error(tmp_path):
    bad = tmp_path / "mask.png"
    bad.write_text("not a picture")
    with pytest.raises(ImageError, match="not an image") as info:
        masks.load_mask(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(ImageError, match="no such file"):
        masks.load_labels(tmp_path / "missing.png")


def test_load_labels_one_per_colour(tmp_path):
    a = np.zeros((40, 60, 3), np.uint8)
    a[:, 20:40] = (255, 0, 0)
    a[:, 40:] = 255
    Image.fromarray(a).save(tmp_path / "labels.png")
    labels = masks.load_labels(tmp_path / "labels.png")
    assert labels.shape == (40, 60) and set(np.unique(labels)) == {0, 1, 2}
    assert labels[0, 0] == 0 and labels[0, 59] == 2  # black first, white last
    small = masks.load_labels(tmp_path / "labels.png", shape=(33, 35))
    assert small.shape == (33, 35) and set(np.unique(small)) == {0, 1, 2}  # nearest: no new labels
    one_hot = masks.region_masks(labels)
    assert one_hot.shape == (3, 40, 60)
    np.testing.assert_array_equal(one_hot.sum(axis=0), 1.0)


def test_a_photo_is_not_a_label_mask():
    photo = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    with pytest.raises(ImageError, match="colours"):
        masks.load_labels(photo)


def test_layer_shapes_floor_divide_like_vggs_poolings():
    assert masks.layer_shape((384, 512), "block1_conv2") == (384, 512)
    assert masks.layer_shape((384, 512), "block4_conv3") == (48, 64)
    assert masks.layer_shape((75, 101), "block2_conv1") == (37, 50)
    assert masks.layer_shape((75, 101), "block5_conv3") == (4, 6)  # 75 -> 37 -> 18 -> 9 -> 4
    with pytest.raises(ValueError, match="layer"):
        masks.layer_shape((64, 64), "conv4_2")


def test_masks_for_layers_match_the_feature_maps(vgg16_model):
    """Checked against VGG16 itself: each resized mask has its layer's (h, w)."""
    import keras

    layers = ["block1_conv2", "block3_conv3", "block5_conv3"]
    model = keras.Model(vgg16_model.input, [vgg16_model.get_layer(n).output for n in layers])
    shape = (75, 101)
    features = model(np.zeros((1, *shape, 3), np.float32))
    per_layer = masks.masks_for_layers(masks.load_mask(half_white(), shape=shape), layers=layers)
    for layer, f in zip(layers, features):
        assert per_layer[layer].shape == tuple(f.shape[1:3])
    labels = np.zeros(shape, int)
    labels[:, 50:] = 1
    stacked = masks.masks_for_layers(masks.region_masks(labels), layers=layers)
    assert stacked["block5_conv3"].shape == (2, 4, 6)


def test_shipped_sky_mask_is_reproducible(tmp_path):
    """scripts/make_masks.py rebuilds images/masks/tuebingen_sky.png bit for bit."""
    before = np.asarray(Image.open(SKY))
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_masks.py"), "--output", str(tmp_path / "sky.png")],
                   check=True, capture_output=True)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "sky.png")), before)
    sky = masks.load_mask(SKY)
    assert sky.shape == (768, 1024) and set(np.unique(sky)) == {0.0, 1.0}
    assert sky[0].mean() > 0.8 and sky[-1].max() == 0.0  # the top is sky, the river is not
    assert 0.25 < sky.mean() < 0.45
