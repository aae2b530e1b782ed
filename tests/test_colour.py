"""helpers.colour: YIQ, luminance-only transfer pieces, colour histogram matching, the swap.

Tiny config: the bundled photo and painting at 96 px (NumPy only, no VGG16)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import colour
from helpers import images as im

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def content():
    return im.load_image(REPO / "images" / "content" / "tuebingen.jpg", max_size=96)


@pytest.fixture(scope="module")
def style():
    return im.load_image(REPO / "images" / "styles" / "great_wave.jpg", max_size=96)


def test_yiq_round_trip_is_exact(content):
    rng = np.random.default_rng(0)
    for rgb in (content.astype(np.float64), rng.uniform(0, 255, (7, 5, 3))):
        np.testing.assert_allclose(colour.yiq_to_rgb(colour.rgb_to_yiq(rgb)), rgb, atol=1e-5)
        np.testing.assert_allclose(colour.rgb_to_yiq(colour.yiq_to_rgb(rgb)), rgb, atol=1e-5)
    # float32 in, float32 out, still to 1e-5 of the value
    back = colour.yiq_to_rgb(colour.rgb_to_yiq(content))
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, content, rtol=1e-5, atol=1e-4)


def test_yiq_known_values():
    yiq = colour.rgb_to_yiq(np.array([[255.0, 255, 255], [0, 0, 0], [255, 0, 0]]))
    np.testing.assert_allclose(yiq[0], [255, 0, 0], atol=1e-3)  # white: full luminance, no colour
    np.testing.assert_allclose(yiq[1], 0, atol=1e-12)
    np.testing.assert_allclose(yiq[2], [0.299 * 255, 0.595716 * 255, 0.211456 * 255])
    grey_rgb = colour.grey(np.full((2, 2), 100.0))
    np.testing.assert_allclose(colour.rgb_to_yiq(grey_rgb), np.tile([100.0, 0, 0], (2, 2, 1)), atol=1e-9)


def test_match_luminance_gives_the_contents_mean_and_deviation(content, style):
    y = colour.match_luminance(style, content=content).astype(np.float64)
    yc = colour.luminance(content).astype(np.float64)
    assert y.shape == style.shape[:2]
    np.testing.assert_allclose([y.mean(), y.std()], [yc.mean(), yc.std()], atol=1e-3)
    # it is an increasing affine map of the style's own luminance: the order of grey levels is kept
    ys = colour.luminance(style).astype(np.float64)
    assert np.corrcoef(y.ravel(), ys.ravel())[0, 1] > 0.999999


def test_luminance_only_keeps_the_contents_chroma(content, style):
    grey_content, grey_style = colour.luminance_only_inputs(content, style=style)
    assert grey_content.shape == content.shape and grey_style.shape == style.shape
    assert np.ptp(grey_style, axis=-1).max() == 0  # grey: three equal channels
    # stand-in for a stylized grey result: any grey image of the content's size
    rng = np.random.default_rng(1)
    result = colour.grey(np.clip(colour.luminance(content) + rng.normal(0, 30, content.shape[:2]), 0, 255))
    out = colour.keep_colour(result, content=content)
    yiq_out, yiq_content = colour.rgb_to_yiq(out), colour.rgb_to_yiq(content)
    np.testing.assert_allclose(yiq_out[..., 1:], yiq_content[..., 1:], atol=1e-3)
    np.testing.assert_allclose(yiq_out[..., 0], colour.luminance(result), atol=1e-3)


def test_swap_keeps_the_results_luminance_and_the_contents_colour(content, style):
    result = im.resize(style, content.shape[:2])  # a colourful "result" of the content's size
    out = colour.keep_colour(result, content=content)
    np.testing.assert_allclose(colour.luminance(out), colour.luminance(result), atol=1e-3)
    np.testing.assert_allclose(colour.rgb_to_yiq(out)[..., 1:], colour.rgb_to_yiq(content)[..., 1:], atol=1e-3)
    assert np.abs(out - result).max() > 10  # the colours did change
    with pytest.raises(ValueError, match="same shape"):
        colour.keep_colour(style, content=content)


@pytest.mark.parametrize("method", colour.COLOUR_MATCHING)
def test_match_colour_gives_the_contents_mean_and_covariance(content, style, method):
    matched = colour.match_colour(style, content=content, method=method)
    assert matched.shape == style.shape and matched.dtype == np.float32
    mean, cov = colour.colour_statistics(matched)
    mean_c, cov_c = colour.colour_statistics(content)
    np.testing.assert_allclose(mean, mean_c, atol=1e-3)  # before clipping: the map is exact
    np.testing.assert_allclose(cov, cov_c, atol=1e-3)
    mean_s, cov_s = colour.colour_statistics(style)
    assert np.abs(cov_s - cov_c).max() > 100  # the painting's colours really were different
    # After clipping to 0..255 and rounding to 8 bits (what loading it as an image does),
    # the statistics move: for this pair 8-10 % of the pixels leave 0..255, and measured at 96
    # and 512 px the means then differ by up to 2.7 grey levels, the deviations (about 50) by
    # up to 8.5 ("symmetric" stretches the colour cloud further out than "cholesky").
    mean8, cov8 = colour.colour_statistics(np.clip(np.round(matched), 0, 255))
    assert np.abs(mean8 - mean_c).max() < 3.0
    assert np.abs(np.sqrt(np.diag(cov8)) - np.sqrt(np.diag(cov_c))).max() < 10.0


def test_the_two_matchings_differ_only_by_a_rotation_of_the_colour_cloud(content, style):
    a = colour.match_colour(style, content=content, method="cholesky")
    b = colour.match_colour(style, content=content, method="symmetric")
    assert np.abs(a - b).max() > 1  # different maps ...
    np.testing.assert_allclose(colour.colour_statistics(a)[1], colour.colour_statistics(b)[1], atol=1e-3)  # same statistics


def test_match_colour_of_a_grey_style_and_bad_arguments(content, style):
    grey_style = colour.grey(colour.luminance(style))
    matched = colour.match_colour(grey_style, content=content)
    assert np.all(np.isfinite(matched))
    np.testing.assert_allclose(matched.reshape(-1, 3).mean(axis=0), colour.colour_statistics(content)[0], atol=1e-3)
    with pytest.raises(ValueError, match="method"):
        colour.match_colour(style, content=content, method="lab")
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        colour.rgb_to_yiq(np.zeros((4, 4)))
