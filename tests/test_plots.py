"""helpers.plots draws without errors on tiny inputs (matplotlib's Agg backend: no window, no TensorFlow)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import plots  # noqa: E402


def _history(n=5, tv=0.5, layers=("block1_conv2", "block2_conv2")):
    history = []
    for k in range(1, n + 1):
        record = {"evaluation": k, "seconds": 0.1 * k, "content": 10.0 / k, "tv": tv / k}
        record.update({f"style/{layer}": (i + 1.0) / k for i, layer in enumerate(layers)})
        record["total"] = record["content"] + record["tv"] + sum(record[f"style/{l}"] for l in layers)
        history.append(record)
    return history


class FakeResult:
    def __init__(self, history):
        self.history = history


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_loss_terms_sums_the_style_layers():
    terms = plots.loss_terms(_history(3), parts=True)
    assert list(terms) == ["total", "content", "style", "tv"]
    np.testing.assert_allclose(terms["style"], [3.0, 1.5, 1.0])
    np.testing.assert_allclose(terms["total"], terms["content"] + terms["style"] + terms["tv"])
    layers = plots.loss_terms(_history(3), parts="layers")
    assert list(layers) == ["total", "content", "style/block1_conv2", "style/block2_conv2", "tv"]


def test_loss_terms_leaves_out_absent_terms():
    history = [{"evaluation": 1, "seconds": 0.1, "total": 2.0, "style/block1_conv2": 2.0, "tv": 0.0}]
    assert list(plots.loss_terms(history)) == ["total", "style", "tv"]


@pytest.mark.parametrize("parts", [False, True, "layers"])
@pytest.mark.parametrize("x", ["evaluation", "seconds"])
def test_plot_losses_draws_each_layout(parts, x):
    results = {"a": FakeResult(_history()), "b": FakeResult(_history(tv=0.0))}  # b: tv weight 0, left out on log axes
    fig = plots.plot_losses(results, x=x, parts=parts, show=False)
    lines = [line for ax in fig.axes for line in ax.get_lines()]
    if parts is False:
        assert len(lines) == 2
    elif parts is True:
        assert len(lines) == 4 + 3  # a: total, content, style, tv; b: no tv
    else:
        assert len(lines) == 5 + 4
    assert fig.axes[0].get_yscale() == "log"


def test_plot_losses_accepts_a_single_result_and_relative_curves():
    fig = plots.plot_losses(FakeResult(_history()), relative=True, log=False, show=False)
    (line,) = fig.axes[0].get_lines()
    assert line.get_ydata()[0] == pytest.approx(1.0)
    assert fig.axes[0].get_yscale() == "linear"


def test_plot_losses_shows_and_returns_none():
    assert plots.plot_losses({"a": _history()}) is None


def test_plot_losses_rejects_bad_arguments():
    with pytest.raises(ValueError, match="x must be"):
        plots.plot_losses({"a": _history()}, x="time", show=False)
    with pytest.raises(ValueError, match="parts must be"):
        plots.plot_losses({"a": _history()}, parts="style", show=False)
    with pytest.raises(TypeError):
        plots.plot_losses({"a": 3}, show=False)


def test_bar_chart_and_heatmaps():
    fig = plots.bar_chart({"gatys": {"b1": 1.0, "b2": 1e-3}, "original": {"b1": 5.0, "b2": 2e-6}}, show=False)
    assert len(fig.axes[0].patches) == 4 and fig.axes[0].get_yscale() == "log"
    rng = np.random.default_rng(0)
    f = rng.random((20, 6))
    fig = plots.show_grams({"one": f.T @ f, "two": (f**2).T @ f**2}, show=False)
    assert len(fig.axes) == 3  # two heatmaps and the colour bar
    fig = plots.show_channels({"c0": f[:, :4], "c1": f[:, 2:], "c2": 2 * f[:, :4]}, share=["c0", "c2"], show=False)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 3
    assert images[0].get_clim() == images[2].get_clim() == (0.0, pytest.approx(2 * f[:, :4].max()))


def test_signed_to_rgb_maps_zero_to_grey():
    a = np.zeros((4, 5, 3))
    a[0, 0] = 1.0
    a[1, 1] = -1.0
    out = plots.signed_to_rgb(a, percentile=100)
    assert out.dtype == np.uint8 and out.shape == (4, 5, 3)
    assert out[2, 2, 0] == 128 and out[0, 0, 0] == 255 and out[1, 1, 0] == 0
    assert plots.signed_to_rgb(np.zeros((1, 3, 3, 3))).shape == (3, 3, 3)  # batch of one, all zero
    assert plots.signed_to_rgb(np.ones((3, 4))).shape == (3, 4, 3)  # grey in, RGB out


def test_zoom_and_show_with_zoom():
    image = np.arange(8 * 10 * 3, dtype=np.uint8).reshape(8, 10, 3)
    detail = plots.zoom(image, (0.0, 0.0, 0.5, 0.5), scale=3)
    assert detail.shape == (12, 15, 3)
    np.testing.assert_array_equal(detail[::3, ::3], image[:4, :5])
    assert plots.zoom(image, (0.5, 0.5, 0.51, 0.51), scale=2).shape == (2, 2, 3)  # never empty
    with pytest.raises(ValueError, match="box"):
        plots.zoom(image, (0.5, 0.0, 0.2, 1.0))
    fig = plots.show_with_zoom({"a": image, "b": image.astype(np.float32)}, (0.25, 0.25, 0.75, 0.75), show=False)
    assert len(fig.axes) == 4
