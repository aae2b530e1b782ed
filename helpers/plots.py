"""Every figure of the series: pictures, feature maps, loss curves, Gram heatmaps, zoomed details, bar charts.

    from helpers import plots
    plots.show_images([photo, painting], titles=["photo", "painting"])
    plots.plot_losses({"L-BFGS": result_a, "Adam": result_b})              # total loss of each run
    plots.plot_losses({"default": result}, parts=True)                     # content + style + tv
    plots.plot_losses({"default": result}, parts="layers", x="seconds")    # one curve per style layer

How the figures are shown. Every function returns its matplotlib Figure and never calls
`plt.show()`. The figure is made with pyplot (so Jupyter knows how to show it) and
released from pyplot at once, so Jupyter shows it exactly once: when it is the value
of the cell (the call is the cell's last line), or where you pass it to `display()`
(from IPython.display), e.g. for two figures in one cell. `fig.savefig("out.png")`
writes it to a file.

Drawing into your own figure. Functions that draw one plot take `axes=` (a matplotlib
Axes, e.g. from `plt.subplots`); functions that draw a grid of panels take `fig=` (an
empty Figure or SubFigure, e.g. from `fig.subfigures`). Their size options are then
ignored, the layout is left to you, and the function returns the Figure holding them.

`loss_plot_png` is the one function safe to call from a background thread (the
explorer's): it draws without pyplot, on a Figure of its own.

Options are keyword-only. Images are RGB arrays (uint8, or float 0..255) unless a
docstring says otherwise.
"""
from __future__ import annotations

import io
import math

import numpy as np

# One colour per loss term, the same in every notebook.
TERM_COLORS = {"total": "black", "content": "tab:blue", "style": "tab:orange", "tv": "tab:green"}
_LAYER_CMAP = "plasma"


# --- figures: new, or the caller's -----------------------------------------------------


def _new_figure(size: tuple[float, float], **kwargs):
    """A new Figure of `size` inches, made by pyplot and released from it at once.

    pyplot sets Jupyter up to display figures; closing pyplot's reference means the
    notebook does not show the figure again at the end of the cell (only where it is
    returned or displayed). Main thread only, like all of pyplot.
    """
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=size, **kwargs)
    plt.close(fig)
    return fig


def _root(figure):
    """The top-level Figure of a Figure, a SubFigure or an Axes."""
    from matplotlib.figure import Figure

    while not isinstance(figure, Figure):
        figure = figure.figure
    return figure


def _one_axes(axes, size: tuple[float, float]):
    """(figure, axes, own): the caller's axes and its figure, or a new figure with one axes (own=True)."""
    if axes is not None:
        return axes.figure, axes, False
    fig = _new_figure(size)
    return fig, fig.add_subplot(), True


def _grid(fig, nrows: int, ncols: int, size: tuple[float, float], *, layout=None, **kwargs):
    """(figure, 2-D array of axes, own): an nrows x ncols grid in the caller's figure, or in a new one."""
    own = fig is None
    if own:
        fig = _new_figure(size, layout=layout)
    return fig, fig.subplots(nrows, ncols, squeeze=False, **kwargs), own


def _as_uint8(image) -> np.ndarray:
    """An image as uint8 for display: floats are rounded and clipped to 0..255."""
    a = np.asarray(image)
    return a if a.dtype == np.uint8 else np.clip(np.round(a), 0, 255).astype(np.uint8)


# --- pictures ---------------------------------------------------------------------------


def show_images(images, *, titles=None, ncols: int | None = None, size: float = 4.0, suptitle: str | None = None,
                fig=None):
    """Images in a row (or a grid with `ncols` columns), each with an optional title.

    images: RGB arrays (uint8, or float 0..255) of any sizes. titles: one per image.
    size: inches per picture.
    """
    images = list(images)
    titles = list(titles) if titles is not None else [None] * len(images)
    ncols = ncols or len(images)
    nrows = math.ceil(len(images) / ncols)
    fig, axes, own = _grid(fig, nrows, ncols, (size * ncols, size * nrows))
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, title in zip(axes.flat, images, titles):
        ax.imshow(_as_uint8(img))
        if title:
            ax.set_title(title)
    if suptitle:
        fig.suptitle(suptitle)
    if own:
        fig.tight_layout()
    return _root(fig)


def show_rows(rows: dict, *, size: float = 2.0, autocontrast: bool = False, fig=None):
    """A grid of pictures with one labelled row per key: {row label: [(title, uint8 RGB image), ...]}.

    autocontrast: stretch each picture's colours to the full 0..255 range for display
    (ignoring the darkest and brightest 0.5 % of pixels).
    """
    from PIL import Image, ImageOps

    ncols = max(len(r) for r in rows.values())
    fig, axes, own = _grid(fig, len(rows), ncols, (size * ncols, size * len(rows)))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    for axrow, (label, items) in zip(axes, rows.items()):
        axrow[0].set_ylabel(label, fontsize=9)
        for ax, (title, img) in zip(axrow, items):
            a = np.asarray(img, dtype=np.uint8)
            if autocontrast:
                a = np.asarray(ImageOps.autocontrast(Image.fromarray(a), cutoff=0.5))
            ax.imshow(a)
            ax.set_title(title, fontsize=9)
    if own:
        fig.tight_layout()
    return _root(fig)


def show_predictions(images, labels, probabilities, class_names, *, ncols: int = 8, size: float = 1.6, fig=None):
    """Pictures with the predicted class and its probability; green if right, red (with the truth) if wrong.

    images: (n, h, w, 3) floats 0..1 or uint8. labels: (n,) true class indices.
    probabilities: (n, classes), rows summing to 1.
    """
    images, probabilities = np.asarray(images), np.asarray(probabilities)
    rows = math.ceil(len(images) / ncols)
    fig, axes, own = _grid(fig, rows, ncols, (size * ncols, size * rows * 1.15))
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, label, p in zip(axes.flat, images, labels, probabilities):
        guess = int(np.argmax(p))
        right = guess == int(label)
        ax.imshow(img)
        ax.set_title(f"{class_names[guess]} {p[guess]:.0%}" + ("" if right else f"\n(is a {class_names[int(label)]})"),
                     fontsize=9, color="tab:green" if right else "tab:red")
    if own:
        fig.tight_layout()
    return _root(fig)


# --- inside the network: feature maps, filters, Gram matrices -----------------------------


def show_feature_maps(maps: dict, *, image=None, k: int = 6, size: float = 1.9, names: dict | None = None, fig=None):
    """One row per layer: the input image, then the `k` most active channels of that layer.

    maps: {layer name: feature map (1, h, w, c) or (h, w, c)}, in network order.
    image: uint8 RGB shown at the start of every row (optional).
    names: {layer name: extra label}, e.g. helpers.model.PAPER_NAMES.
    Each channel is scaled by its own maximum: dark = 0, bright = that channel's peak.
    """
    from helpers.visualize import top_channels

    extra = 1 if image is not None else 0
    fig, axes, own = _grid(fig, len(maps), k + extra, (size * (k + extra), size * len(maps)))
    for row, (layer, f) in zip(axes, maps.items()):
        channels = top_channels(f, k)  # (also checks that f is one feature map)
        a = np.asarray(f, dtype=np.float32).reshape(np.shape(f)[-3:])
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
        if image is not None:
            row[0].imshow(image)
        for ax, ch in zip(row[extra:], channels):
            ax.imshow(a[..., ch], cmap="magma", vmin=0, vmax=max(float(a[..., ch].max()), 1e-6))
            ax.set_title(f"channel {ch}", fontsize=9)
        label = f"{layer}" + (f"\n= {names[layer]}" if names and layer in names else "")
        row[0].set_ylabel(f"{label}\n{a.shape[0]}×{a.shape[1]}×{a.shape[2]}", fontsize=9)
    if own:
        fig.tight_layout()
    return _root(fig)


def show_kernels(kernel, *, ncols: int = 16, size: float = 0.55, bgr: bool = True, fig=None):
    """The 3x3 colour filters of a first layer as tiny pictures: kernel (3, 3, 3, n), HWIO.

    Each filter is scaled so that 0 is mid-grey and its largest |weight| is black or
    white in some channel. VGG16 reads BGR images, so its first kernel's input axis is
    BGR; bgr=True flips it to RGB for display.
    """
    k = np.asarray(kernel, dtype=np.float32)
    if bgr:
        k = k[:, :, ::-1, :]
    n = k.shape[-1]
    rows = math.ceil(n / ncols)
    fig, axes, own = _grid(fig, rows, ncols, (size * ncols, size * rows))
    for ax in axes.flat:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:n]):
        f = k[..., i]
        ax.imshow(0.5 + 0.5 * f / max(float(np.abs(f).max()), 1e-12), interpolation="nearest")
    if own:
        fig.tight_layout(pad=0.2)
    return _root(fig)


def show_grams(grams: dict, *, log: bool = True, normalize: bool = False, sort: bool = True, cmap: str = "magma",
               size: float = 3.4, title: str | None = None, fig=None):
    """Gram matrices side by side as heatmaps on one shared colour scale.

    grams: {label: (C, C) array}, all of the same C.
    log: logarithmic colour scale (a few very active channels otherwise hide the rest).
    normalize: divide each matrix by its largest entry (compare patterns, not strength).
    sort: show the channels of every matrix in the same order, most active first (by the
        sum of the diagonals, G_ii = a channel's energy, over all matrices shown), so that
        a block structure is visible and the matrices stay comparable entry by entry.
    """
    from matplotlib.colors import LogNorm, Normalize

    mats = {label: np.asarray(g, dtype=np.float64) for label, g in grams.items()}
    if normalize:
        mats = {label: g / (np.abs(g).max() or 1.0) for label, g in mats.items()}
    if sort:
        order = np.argsort(-sum(np.diag(g) for g in mats.values()), kind="stable")
        mats = {label: g[np.ix_(order, order)] for label, g in mats.items()}
    high = max(float(g.max()) for g in mats.values())
    if log:
        positive = np.concatenate([g[g > 0].ravel() for g in mats.values()])
        low = float(np.percentile(positive, 1)) if positive.size else 1e-6
        low = min(max(low, high * 1e-6), high / 10) if high > 0 else 1e-6
        norm = LogNorm(vmin=low, vmax=max(high, low * 10), clip=True)
        mats = {label: np.maximum(g, low) for label, g in mats.items()}
    else:
        norm = Normalize(vmin=min(float(g.min()) for g in mats.values()), vmax=high)
    fig, axes, _ = _grid(fig, 1, len(mats), (size * len(mats) + 1.2, size + 0.3), layout="constrained")
    for k, (ax, (label, g)) in enumerate(zip(axes[0], mats.items())):
        image = ax.imshow(g, cmap=cmap, norm=norm, interpolation="nearest")
        ax.set_title(label)
        ax.set_xlabel("channel j" + (" (sorted)" if sort else ""))
        if k == 0:
            ax.set_ylabel("channel i" + (" (sorted)" if sort else ""))
    fig.colorbar(image, ax=list(axes[0]), shrink=0.85,
                 label=("G / max G" if normalize else "G") + (" (log scale)" if log else ""))
    if title:
        fig.suptitle(title)
    return _root(fig)


def show_channels(maps: dict, *, cmap: str = "viridis", size: float = 2.6, ncols: int | None = None,
                  share=(), title: str | None = None, fig=None):
    """2-D maps (feature-map channels, products of channels, ...) side by side, each on its own scale.

    maps: {title: (h, w) array}.
    share: titles of maps to draw on one common colour scale (0 to their joint maximum),
        so that their brightness can be compared; the others keep their own scale.
    """
    n = len(maps)
    ncols = ncols or n
    nrows = math.ceil(n / ncols)
    first = np.asarray(next(iter(maps.values())))
    aspect = first.shape[0] / first.shape[1]
    shared = [np.asarray(maps[t], dtype=np.float64) for t in share]
    limits = (min(0.0, min(float(m.min()) for m in shared)), max(float(m.max()) for m in shared)) if shared else None
    fig, axes, own = _grid(fig, nrows, ncols, (size * ncols, size * aspect * nrows + 0.5))
    for ax in axes.flat:
        ax.axis("off")
    for ax, (label, m) in zip(axes.flat, maps.items()):
        vmin, vmax = limits if label in share else (None, None)
        ax.imshow(np.asarray(m, dtype=np.float64), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(label, fontsize="medium")
    if title:
        fig.suptitle(title)
    if own:
        fig.tight_layout()
    return _root(fig)


# --- curves and bars ---------------------------------------------------------------------


def plot_curves(curves: dict, *, xlabel: str = "epoch", ylabel: str = "loss", title: str | None = None,
                log: bool = False, hline: tuple[float, str] | None = None, size=(6.0, 3.5), axes=None):
    """Line plot of named curves, x = 1, 2, 3, ...: {label: sequence of values}.

    hline: (value, label) draws a dashed reference line (e.g. the loss of guessing).
    """
    fig, ax, own = _one_axes(axes, size)
    for label, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker="o" if len(values) <= 30 else None, ms=3, label=label)
    if hline is not None:
        ax.axhline(hline[0], color="grey", ls="--", lw=1, label=hline[1])
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    if own:
        fig.tight_layout()
    return _root(fig)


def bar_chart(table: dict, *, log: bool = True, ylabel: str | None = None, title: str | None = None,
              size: tuple[float, float] = (7.0, 3.6), axes=None):
    """Grouped bars: table = {series: {category: value}}, e.g. {"gatys": {"block1_conv2": 3.1, ...}, ...}.

    Categories come from the first series, in its order. Each bar is labelled with
    its value when there are at most 12 bars.
    """
    series = list(table)
    categories = list(next(iter(table.values())))
    width = 0.8 / len(series)
    fig, ax, own = _one_axes(axes, size)
    positions = np.arange(len(categories))
    label_bars = len(series) * len(categories) <= 12
    for k, name in enumerate(series):
        values = [float(table[name].get(c, np.nan)) for c in categories]
        bars = ax.bar(positions + (k - (len(series) - 1) / 2) * width, values, width, label=str(name))
        if label_bars:
            ax.bar_label(bars, labels=[f"{v:.2g}" for v in values], fontsize="x-small", padding=1)
    ax.set_xticks(positions, [str(c) for c in categories])
    if log:
        ax.set_yscale("log")
        values = np.array([float(v) for row in table.values() for v in row.values()])
        values = values[np.isfinite(values) & (values > 0)]
        if values.size:  # whole decades, with room above the tallest bar for its label
            ax.set_ylim(10 ** np.floor(np.log10(values.min())), 10 ** np.ceil(np.log10(values.max() * 3)))
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if len(series) > 1:
        ax.legend(fontsize="small", frameon=False)
    ax.grid(True, axis="y", which="major", alpha=0.3)
    if own:
        fig.tight_layout()
    return _root(fig)


# --- loss curves of style transfer runs ------------------------------------------------------


def _history(result) -> list:
    """A StyleResult, anything with `.history`, or a history list itself -> list of dicts."""
    history = getattr(result, "history", result)
    if not isinstance(history, (list, tuple)):
        raise TypeError(f"expected a StyleResult or a history list, not {type(result).__name__}")
    return list(history)


def loss_terms(history, *, parts=True) -> dict:
    """{term: array over evaluations} from a StyleResult.history.

    parts=True: "content", "style" (the sum of the "style/<layer>" entries), "tv".
    parts="layers": "content", each "style/<layer>" on its own, "tv".
    Terms absent from the history are left out; "total" is always included.
    """
    history = _history(history)
    if not history:
        return {}
    keys = list(history[0])
    layers = [k for k in keys if k.startswith("style/")]
    terms = {"total": np.array([h["total"] for h in history], dtype=float)}
    if "content" in keys:
        terms["content"] = np.array([h["content"] for h in history], dtype=float)
    if layers:
        if parts == "layers":
            for k in layers:
                terms[k] = np.array([h[k] for h in history], dtype=float)
        else:
            terms["style"] = np.array([sum(h[k] for k in layers) for h in history], dtype=float)
    if "tv" in keys:
        terms["tv"] = np.array([h["tv"] for h in history], dtype=float)
    return terms


def _term_color(term: str, layer_index: int, layer_count: int):
    if term in TERM_COLORS:
        return TERM_COLORS[term]
    import matplotlib

    return matplotlib.colormaps[_LAYER_CMAP](0.1 + 0.75 * layer_index / max(1, layer_count - 1))


def plot_losses(results, *, x: str = "evaluation", log: bool = True, parts=False, relative: bool = False,
                title: str | None = None, size: tuple[float, float] = (6.0, 3.6), axes=None):
    """Loss curves of one or more optimizations.

    results: {label: StyleResult} (a single StyleResult or history list is accepted too).
    x: "evaluation" (one VGG16 forward + backward pass: the fair unit for comparing
        optimizers) or "seconds" (wall-clock time since the optimization started).
    log: logarithmic loss axis (losses fall over orders of magnitude).
    parts: False: one axis, the total loss of each result.
           True: one panel per result, the weighted content, style and tv terms and
           their total. "layers": the same with one curve per style layer.
           Terms that are zero throughout (a weight of 0) are left out.
    relative: divide every curve by its own first value (compares runs whose losses
        have different scales, such as two different content layers).
    size: inches of one panel. axes: draw there instead: one Axes, or with `parts`
        one Axes per result (a list or array).
    """
    if x not in ("evaluation", "seconds"):
        raise ValueError(f'x must be "evaluation" or "seconds", not {x!r}')
    if parts not in (False, True, "layers"):
        raise ValueError(f'parts must be False, True or "layers", not {parts!r}')
    if not isinstance(results, dict):
        results = {"": results}
    xlabel = "loss evaluations (VGG16 forward + backward)" if x == "evaluation" else "seconds"
    ylabel = ("loss / first value" if relative else "loss") + (" (log scale)" if log else "")

    def xs(history):
        return np.array([h[x] for h in history], dtype=float)

    def curve(values):
        return values / values[0] if relative and values[0] != 0 else values

    if not parts:
        fig, ax, own = _one_axes(axes, size)
        for label, result in results.items():
            history = _history(result)
            if history:
                ax.plot(xs(history), curve(loss_terms(history, parts=False)["total"]), label=label or None, lw=1.8)
        _decorate(ax, log, xlabel, ylabel, title, legend=any(results))
        if own:
            fig.tight_layout()
        return _root(fig)

    n = len(results)
    ncols = min(n, 3)
    if axes is None:
        fig, grid, own = _grid(None, math.ceil(n / ncols), ncols,
                               (size[0] * ncols * (0.85 if n > 1 else 1), size[1] * math.ceil(n / ncols)), sharey=True)
        panels = list(grid.flat)
    else:
        panels, own = list(np.ravel(np.asarray(axes, dtype=object))), False
        if len(panels) != n:
            raise ValueError(f"with parts={parts!r}, axes needs one Axes per result ({n}), not {len(panels)}")
        fig = panels[0].figure
    for ax in panels[n:]:
        ax.axis("off")
    for index, (ax, (label, result)) in enumerate(zip(panels, results.items())):
        history = _history(result)
        terms = loss_terms(history, parts=parts)
        layers = [t for t in terms if t.startswith("style/")]
        for term, values in terms.items():
            if term != "total" and not np.any(values):
                continue  # weight 0: nothing to draw (and log(0) is undefined)
            color = _term_color(term, layers.index(term) if term in layers else 0, len(layers))
            ax.plot(xs(history), curve(values), color=color, lw=2.2 if term == "total" else 1.5,
                    ls="--" if term == "total" else "-", label=term)
        _decorate(ax, log, xlabel, ylabel if index % ncols == 0 else None, label or title, legend=True)
    if own:
        if title and any(results):
            fig.suptitle(title)
        fig.tight_layout()
    return _root(fig)


def _decorate(ax, log, xlabel, ylabel, title, legend):
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", frameon=False)


def loss_plot_png(history, *, title: str = "", names: dict | None = None, size: tuple[float, float] = (4.8, 2.8),
                  dpi: int = 80) -> bytes:
    """PNG bytes of one run's weighted losses, log scale: the explorer's loss plot.

    Curves: the total, content, style (the sum over layers), each style layer (thin,
    dashed) and TV, against the evaluation; terms that are zero throughout are left out.
    history: a StyleResult.history (or the result). names: {layer: legend label}, e.g.
    helpers.model.PAPER_NAMES. size in inches, dpi in pixels per inch.

    Safe in a background thread (the explorer draws while the notebook goes on, and
    two explorers can run in one kernel): it uses matplotlib's object API only, a
    Figure on its own Agg canvas, never pyplot, whose figure list is shared; and it
    writes no mathtext (`$10^{3}$` tick labels), whose parser is shared by all
    threads and fails when two use it at once.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import LogFormatter, MaxNLocator

    class PlainLogFormatter(LogFormatter):
        """matplotlib's choice of which log ticks get a label, written as plain text: 1e-3, 2e5."""

        def __call__(self, value, pos=None):
            if not super().__call__(value, pos):
                return ""
            mantissa, exponent = f"{value:.0e}".split("e")
            return self.fix_minus(f"{mantissa}e{int(exponent)}")

    fig = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    history = _history(history)
    terms = loss_terms(history, parts=True)
    layers = {k: v for k, v in loss_terms(history, parts="layers").items() if k.startswith("style/")}
    x = [h["evaluation"] for h in history]
    for term, values in terms.items():
        if term != "total" and not np.any(values):
            continue  # weight 0: nothing to draw (and log(0) is undefined)
        ax.plot(x, values, color=TERM_COLORS[term], lw=2 if term == "total" else 1.5, label=term)
        if term == "style":
            for i, (key, layer_values) in enumerate(layers.items()):
                ax.plot(x, layer_values, color=_term_color(key, i, len(layers)), lw=0.8, ls="--",
                        label=(names or {}).get(key[6:], key[6:]))
    if history:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(PlainLogFormatter())
        ax.yaxis.set_minor_formatter(PlainLogFormatter())
        ax.legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("evaluation", fontsize=8)
    ax.set_ylabel("weighted loss", fontsize=8)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=9, parse_math=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# --- pixel details ---------------------------------------------------------------------------


def signed_to_rgb(array, *, percentile: float = 99.5) -> np.ndarray:
    """A signed array (an image gradient, a difference) as a uint8 picture: grey is 0.

    (H, W, 3) or (1, H, W, 3) arrays stay in colour, (H, W) become grey. Values are
    scaled so that the `percentile`-th largest |value| reaches black or white, so a
    few extreme pixels do not wash out the rest. For preprocessed (BGR) arrays, flip
    the channels first with `[..., ::-1]`.
    """
    a = np.asarray(array, dtype=np.float64)
    if a.ndim == 4:
        a = a[0]
    scale = float(np.percentile(np.abs(a), percentile)) or 1.0
    a = np.clip(a / scale, -1.0, 1.0)
    out = np.round(127.5 + 127.5 * a).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=-1) if out.ndim == 2 else out


def _pixel_box(box, h: int, w: int) -> tuple[int, int, int, int]:
    """Fractional (top, left, bottom, right) -> integer pixel bounds, at least one pixel."""
    top, left, bottom, right = box
    if not (0 <= top < bottom <= 1 and 0 <= left < right <= 1):
        raise ValueError(f"box must be (top, left, bottom, right) fractions with 0 <= top < bottom <= 1, "
                         f"0 <= left < right <= 1, not {box}")
    y0, x0 = int(round(top * h)), int(round(left * w))
    return y0, x0, max(y0 + 1, int(round(bottom * h))), max(x0 + 1, int(round(right * w)))


def zoom(image, box, *, scale: int = 4) -> np.ndarray:
    """Crop `box` = (top, left, bottom, right) as fractions of the height and width,
    and enlarge it `scale` times with nearest-neighbour, so single pixels stay visible."""
    a = np.asarray(image)
    y0, x0, y1, x1 = _pixel_box(box, *a.shape[:2])
    crop = a[y0:y1, x0:x1]
    return np.repeat(np.repeat(crop, scale, axis=0), scale, axis=1)


def show_with_zoom(images: dict, box, *, scale: int = 4, size: float = 3.6, title: str | None = None, fig=None):
    """Images in a row with a detail of each below: `box` (fractions, see `zoom`) is
    outlined in the full image and shown enlarged, pixel for pixel, underneath.

    images: {title: RGB image}; all the same size, so the details line up.
    """
    from matplotlib.patches import Rectangle

    n = len(images)
    first = np.asarray(next(iter(images.values())))
    h, w = first.shape[:2]
    y0, x0, y1, x1 = _pixel_box(box, h, w)
    crop_aspect = (y1 - y0) / (x1 - x0)
    fig, axes, own = _grid(fig, 2, n, (size * n, size * (h / w + crop_aspect) + 0.6),
                           gridspec_kw={"height_ratios": [h / w, crop_aspect]})
    for k, (label, img) in enumerate(images.items()):
        img = _as_uint8(img)
        ax, detail = axes[0, k], axes[1, k]
        ax.imshow(img)
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="white", lw=1.5))
        ax.set_title(label)
        detail.imshow(zoom(img, box, scale=scale), interpolation="nearest")
        for a in (ax, detail):
            a.set_xticks([])
            a.set_yticks([])
    axes[1, 0].set_ylabel(f"detail, {scale}x", fontsize="small")
    if title:
        fig.suptitle(title)
    if own:
        fig.tight_layout()
    return _root(fig)
