"""Figures the notebooks share: loss curves, Gram heatmaps, zoomed details, bar charts.

    from helpers.plots import plot_losses
    plot_losses({"L-BFGS": result_a, "Adam": result_b})                # total loss of each run
    plot_losses({"default": result}, parts=True)                       # content + style + tv
    plot_losses({"default": result}, parts="layers", x="seconds")      # one curve per style layer

Every `show_*` / `plot_*` function draws its figure and calls `plt.show()` (so a
notebook cell that ends with it shows the figure once); pass `show=False` to get
the Figure back instead and add to it.
"""
from __future__ import annotations

import math

import numpy as np

# One colour per loss term, the same in every notebook.
TERM_COLORS = {"total": "black", "content": "tab:blue", "style": "tab:orange", "tv": "tab:green"}
_LAYER_CMAP = "plasma"


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, show: bool):
    """plt.show() and None (the notebook convention), or the figure for further drawing."""
    if show:
        _plt().show()
        return None
    return fig


def _history(result) -> list:
    """A StyleResult, anything with `.history`, or a history list itself -> list of dicts."""
    history = getattr(result, "history", result)
    if not isinstance(history, (list, tuple)):
        raise TypeError(f"expected a StyleResult or a history list, not {type(result).__name__}")
    return list(history)


def loss_terms(history, parts=True) -> dict:
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


def plot_losses(results, x: str = "evaluation", log: bool = True, parts=False, relative: bool = False,
                title: str | None = None, size: tuple[float, float] = (6.0, 3.6), show: bool = True):
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
    show: plt.show() and return None; False returns the Figure.
    """
    plt = _plt()
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
        fig, ax = plt.subplots(figsize=size)
        for label, result in results.items():
            history = _history(result)
            if history:
                ax.plot(xs(history), curve(loss_terms(history, parts=False)["total"]), label=label or None, lw=1.8)
        _decorate(ax, log, xlabel, ylabel, title, legend=any(results))
        fig.tight_layout()
        return _finish(fig, show)

    n = len(results)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols * (0.85 if n > 1 else 1), size[1] * nrows),
                             squeeze=False, sharey=True)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for index, (ax, (label, result)) in enumerate(zip(axes.flat, results.items())):
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
    if title and any(results):
        fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, show)


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


def bar_chart(table: dict, log: bool = True, ylabel: str | None = None, title: str | None = None,
              size: tuple[float, float] = (7.0, 3.6), show: bool = True):
    """Grouped bars: table = {series: {category: value}}, e.g. {"gatys": {"block1_conv2": 3.1, ...}, ...}.

    Categories come from the first series, in its order. Each bar is labelled with
    its value when there are at most 12 bars.
    """
    plt = _plt()
    series = list(table)
    categories = list(next(iter(table.values())))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=size)
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
    fig.tight_layout()
    return _finish(fig, show)


def show_grams(grams: dict, log: bool = True, normalize: bool = False, sort: bool = True, cmap: str = "magma",
               size: float = 3.4, title: str | None = None, show: bool = True):
    """Gram matrices side by side as heatmaps on one shared colour scale.

    grams: {label: (C, C) array}, all of the same C.
    log: logarithmic colour scale (a few very active channels otherwise hide the rest).
    normalize: divide each matrix by its largest entry (compare patterns, not strength).
    sort: show the channels of every matrix in the same order, most active first (by the
        sum of the diagonals, G_ii = a channel's energy, over all matrices shown), so that
        a block structure is visible and the matrices stay comparable entry by entry.
    """
    plt = _plt()
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
    fig, axes = plt.subplots(1, len(mats), figsize=(size * len(mats) + 1.2, size + 0.3), squeeze=False,
                             layout="constrained")
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
    return _finish(fig, show)


def show_channels(maps: dict, cmap: str = "viridis", size: float = 2.6, ncols: int | None = None,
                  share=(), title: str | None = None, show: bool = True):
    """2-D maps (feature-map channels, products of channels, ...) side by side, each on its own scale.

    maps: {title: (h, w) array}.
    share: titles of maps to draw on one common colour scale (0 to their joint maximum),
        so that their brightness can be compared; the others keep their own scale.
    """
    plt = _plt()
    n = len(maps)
    ncols = ncols or n
    nrows = math.ceil(n / ncols)
    first = np.asarray(next(iter(maps.values())))
    aspect = first.shape[0] / first.shape[1]
    shared = [np.asarray(maps[t], dtype=np.float64) for t in share]
    limits = (min(0.0, min(float(m.min()) for m in shared)), max(float(m.max()) for m in shared)) if shared else None
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * aspect * nrows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (label, m) in zip(axes.flat, maps.items()):
        vmin, vmax = limits if label in share else (None, None)
        ax.imshow(np.asarray(m, dtype=np.float64), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(label, fontsize="medium")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, show)


def signed_to_rgb(array, percentile: float = 99.5) -> np.ndarray:
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


def zoom(image, box, scale: int = 4) -> np.ndarray:
    """Crop `box` = (top, left, bottom, right) as fractions of the height and width,
    and enlarge it `scale` times with nearest-neighbour, so single pixels stay visible."""
    a = np.asarray(image)
    y0, x0, y1, x1 = _pixel_box(box, *a.shape[:2])
    crop = a[y0:y1, x0:x1]
    return np.repeat(np.repeat(crop, scale, axis=0), scale, axis=1)


def show_with_zoom(images: dict, box, scale: int = 4, size: float = 3.6, title: str | None = None,
                   show: bool = True):
    """Images in a row with a detail of each below: `box` (fractions, see `zoom`) is
    outlined in the full image and shown enlarged, pixel for pixel, underneath.

    images: {title: RGB uint8 array}; all the same size, so the details line up.
    """
    plt = _plt()
    from matplotlib.patches import Rectangle

    n = len(images)
    first = np.asarray(next(iter(images.values())))
    h, w = first.shape[:2]
    y0, x0, y1, x1 = _pixel_box(box, h, w)
    crop_aspect = (y1 - y0) / (x1 - x0)
    fig, axes = plt.subplots(2, n, figsize=(size * n, size * (h / w + crop_aspect) + 0.6), squeeze=False,
                             gridspec_kw={"height_ratios": [h / w, crop_aspect]})
    for k, (label, img) in enumerate(images.items()):
        img = np.asarray(img)
        if img.dtype != np.uint8:
            img = np.clip(np.round(img), 0, 255).astype(np.uint8)
        ax, detail = axes[0, k], axes[1, k]
        ax.imshow(img)
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="white", lw=1.5))
        ax.set_title(label)
        detail.imshow(zoom(img, box, scale), interpolation="nearest")
        for a in (ax, detail):
            a.set_xticks([])
            a.set_yticks([])
    axes[1, 0].set_ylabel(f"detail, {scale}x", fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, show)
