"""helpers.plots draws on tiny inputs (matplotlib's Agg backend: no window, no TensorFlow).

Every figure function returns its Figure, leaves nothing open in pyplot (so Jupyter shows it
once) and draws into a caller's axes or figure when given one.
"""
import matplotlib

matplotlib.use("Agg")

import io  # noqa: E402
import threading  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

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


def feature_map(h=6, w=5, c=4):
    """Channel k is k everywhere except one pixel, so the channel means are ordered 0 < 1 < 2 < 3."""
    f = np.tile(np.arange(c, dtype=np.float32), (h, w, 1))
    f[0, 0, :] = 2 * np.arange(c)
    return f[None]  # (1, h, w, c), as a layer returns it


@pytest.fixture(autouse=True)
def _nothing_left_in_pyplot():
    """No function leaves its figure open in pyplot (Jupyter would show it a second time)."""
    yield
    left = plt.get_fignums()
    plt.close("all")
    assert not left, f"{len(left)} figure(s) left open in pyplot"


# Every figure function on a tiny input, with its extra keyword (axes= or fig=) passed through.
_RNG = np.random.default_rng(0)
_F = _RNG.random((20, 6))
_IMAGE = np.arange(8 * 10 * 3, dtype=np.uint8).reshape(8, 10, 3)
ONE_AXES = {
    "plot_curves": lambda **kw: plots.plot_curves({"train": [1.1, 0.5, 0.2], "validation": [1.1, 0.7, 0.4]},
                                                  hline=(np.log(3), "guessing"), log=True, **kw),
    "bar_chart": lambda **kw: plots.bar_chart({"gatys": {"b1": 1.0, "b2": 1e-3}, "original": {"b1": 5.0, "b2": 2e-6}},
                                              **kw),
    "plot_losses": lambda **kw: plots.plot_losses({"a": _history(), "b": _history(tv=0.0)}, **kw),
    "plot_losses parts, one result": lambda **kw: plots.plot_losses(FakeResult(_history()), parts=True, **kw),
}
GRIDS = {
    "show_images": lambda **kw: plots.show_images([_IMAGE, _IMAGE.astype(np.float32) * 1.1], titles=["a", "b"],
                                                  suptitle="two", **kw),
    "show_rows": lambda **kw: plots.show_rows({"row": [("x", np.zeros((4, 4, 3), np.uint8)),
                                                       ("y", np.full((4, 4, 3), 9, np.uint8))]}, autocontrast=True, **kw),
    "show_predictions": lambda **kw: plots.show_predictions(_RNG.uniform(size=(5, 8, 8, 3)), [0, 1, 2, 0, 1],
                                                            _RNG.dirichlet(np.ones(3), size=5), ["a", "b", "c"],
                                                            ncols=3, **kw),
    "show_feature_maps": lambda **kw: plots.show_feature_maps({"block1_conv1": feature_map()}, image=_IMAGE[:6, :5],
                                                              k=2, names={"block1_conv1": "conv1_1"}, **kw),
    "show_kernels": lambda **kw: plots.show_kernels(_RNG.normal(size=(3, 3, 3, 5)), ncols=4, **kw),
    "show_grams": lambda **kw: plots.show_grams({"one": _F.T @ _F, "two": (_F**2).T @ _F**2}, title="G", **kw),
    "show_channels": lambda **kw: plots.show_channels({"c0": _F[:, :4], "c1": _F[:, 2:]}, share=["c0"], **kw),
    "show_with_zoom": lambda **kw: plots.show_with_zoom({"a": _IMAGE, "b": _IMAGE.astype(np.float32)},
                                                        (0.25, 0.25, 0.75, 0.75), **kw),
}


def _drawn(ax) -> bool:
    return bool(ax.lines or ax.patches or ax.images)


@pytest.mark.parametrize("name", list(ONE_AXES) + list(GRIDS))
def test_returns_a_new_figure(name):
    fig = {**ONE_AXES, **GRIDS}[name]()
    assert isinstance(fig, Figure) and any(_drawn(ax) for ax in fig.axes)
    fig.savefig(io.BytesIO(), format="png")  # lays out and renders without error


@pytest.mark.parametrize("name", list(ONE_AXES))
def test_draws_into_the_given_axes(name):
    mine = Figure()
    left, right = mine.subplots(1, 2)
    assert ONE_AXES[name](axes=right) is mine
    assert _drawn(right) and not _drawn(left) and len(mine.axes) == 2


@pytest.mark.parametrize("name", list(GRIDS))
def test_draws_into_the_given_figure(name):
    mine = Figure()
    left, right = mine.subfigures(1, 2)
    assert GRIDS[name](fig=right) is mine
    assert any(_drawn(ax) for ax in right.axes) and not left.axes


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
    fig = plots.plot_losses(results, x=x, parts=parts)
    lines = [line for ax in fig.axes for line in ax.get_lines()]
    if parts is False:
        assert len(lines) == 2
    elif parts is True:
        assert len(lines) == 4 + 3  # a: total, content, style, tv; b: no tv
    else:
        assert len(lines) == 5 + 4
    assert fig.axes[0].get_yscale() == "log"


def test_plot_losses_accepts_a_single_result_and_relative_curves():
    fig = plots.plot_losses(FakeResult(_history()), relative=True, log=False)
    (line,) = fig.axes[0].get_lines()
    assert line.get_ydata()[0] == pytest.approx(1.0)
    assert fig.axes[0].get_yscale() == "linear"


def test_plot_losses_rejects_bad_arguments():
    with pytest.raises(ValueError, match="x must be"):
        plots.plot_losses({"a": _history()}, x="time")
    with pytest.raises(ValueError, match="parts must be"):
        plots.plot_losses({"a": _history()}, parts="style")
    with pytest.raises(TypeError):
        plots.plot_losses({"a": 3})


def test_bar_chart_and_heatmaps():
    fig = plots.bar_chart({"gatys": {"b1": 1.0, "b2": 1e-3}, "original": {"b1": 5.0, "b2": 2e-6}})
    assert len(fig.axes[0].patches) == 4 and fig.axes[0].get_yscale() == "log"
    rng = np.random.default_rng(0)
    f = rng.random((20, 6))
    fig = plots.show_grams({"one": f.T @ f, "two": (f**2).T @ f**2})
    assert len(fig.axes) == 3  # two heatmaps and the colour bar
    fig = plots.show_channels({"c0": f[:, :4], "c1": f[:, 2:], "c2": 2 * f[:, :4]}, share=["c0", "c2"])
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
    fig = plots.show_with_zoom({"a": image, "b": image.astype(np.float32)}, (0.25, 0.25, 0.75, 0.75))
    assert len(fig.axes) == 4


def test_plot_losses_panels_into_given_axes():
    mine = Figure()
    axes = mine.subplots(1, 2)
    assert plots.plot_losses({"a": _history(), "b": _history()}, parts=True, axes=axes) is mine
    assert [ax.get_title() for ax in axes] == ["a", "b"] and all(len(ax.get_lines()) == 4 for ax in axes)
    with pytest.raises(ValueError, match="one Axes per result"):
        plots.plot_losses({"a": _history(), "b": _history()}, parts=True, axes=axes[:1])


def test_feature_maps_show_the_most_active_channels():
    fig = plots.show_feature_maps({"block1_conv1": feature_map()}, k=2)
    assert [ax.get_title() for ax in fig.axes] == ["channel 3", "channel 2"]
    with pytest.raises(ValueError, match="batch"):
        plots.show_feature_maps({"x": np.zeros((2, 4, 4, 3))})


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        plots.show_images([_IMAGE], ["title"])
    with pytest.raises(TypeError):
        plots.loss_plot_png(_history(), "title")


# --- the explorer's loss plot: PNG bytes, from any thread ---------------------------------


def _is_png(data: bytes, size=(384, 224)) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n" and Image.open(io.BytesIO(data)).size == size


def test_loss_plot_png_is_a_png_of_the_requested_size():
    data = plots.loss_plot_png(_history(), title="a title", names={"block1_conv2": "conv1_2"})
    assert _is_png(data)  # 4.8 x 2.8 inches at 80 dpi
    assert _is_png(plots.loss_plot_png(_history(), size=(3.0, 2.0), dpi=50), size=(150, 100))
    assert _is_png(plots.loss_plot_png([]))  # no evaluations yet: empty axes, no error
    assert data != plots.loss_plot_png(_history(), title="another title", names={"block1_conv2": "conv1_2"})


def test_loss_plot_png_from_four_threads_at_once():
    """4 threads x 20 renders, while the main thread draws pyplot figures: every PNG complete and
    identical to one drawn alone (shared matplotlib state would raise, crash or garble them)."""
    history, names = _history(30), {"block1_conv2": "conv1_2", "block2_conv2": "conv2_2"}
    expected = plots.loss_plot_png(history, title="run 1", names=names)
    start = threading.Barrier(5)
    results, errors = [], []

    def render():
        start.wait()
        try:
            for _ in range(20):
                results.append(plots.loss_plot_png(history, title="run 1", names=names))
        except Exception as error:  # noqa: BLE001 (reported below, with its thread's traceback lost otherwise)
            errors.append(repr(error))

    threads = [threading.Thread(target=render) for _ in range(4)]
    for thread in threads:
        thread.start()
    start.wait()
    for _ in range(5):  # the notebook goes on drawing meanwhile
        plots.plot_losses({"a": _history()}, parts="layers").savefig(io.BytesIO(), format="png")
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == 80 and all(data == expected for data in results)
