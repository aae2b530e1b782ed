"""helpers.datasets: the offline shapes data set of notebook 01."""
from __future__ import annotations

import numpy as np
import pytest

from helpers.datasets import SHAPE_NAMES, draw_shape, shapes


def test_shapes_arrays_and_balance():
    x, y = shapes(31, size=16, seed=3)
    assert x.shape == (31, 16, 16, 3) and x.dtype == np.float32 and y.shape == (31,) and y.dtype == np.int64
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert np.bincount(y).tolist() == [11, 10, 10]


def test_shapes_are_seeded():
    a, b, c = shapes(6, 16, seed=0), shapes(6, 16, seed=0), shapes(6, 16, seed=1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert np.any(a[0] != c[0])


@pytest.mark.parametrize("kind", SHAPE_NAMES)
def test_each_picture_has_two_colours_and_a_shape_inside(kind):
    img = draw_shape(kind, 32, np.random.default_rng(0)).astype(int)
    assert img.shape == (32, 32, 3)
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    background = np.median(border, axis=0)
    differs = np.abs(img - background).sum(axis=-1) > 30
    assert 0.05 < differs.mean() < 0.7  # a shape, neither a dot nor the whole picture
    assert not differs[0].any() and not differs[-1].any()  # wholly inside (not touching the top/bottom)


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        draw_shape("hexagon")
    with pytest.raises(ValueError):
        shapes(0)
