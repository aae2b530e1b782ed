"""Draw the one-page picture of the method: docs/method.svg and docs/method.png.

    python scripts/draw_method.py              # rewrite both files
    python scripts/draw_method.py --show       # also open the figure in a window

Three images go through the same frozen VGG16; the content, style and total-variation losses
are weighted and summed into one loss; its gradient with respect to the pixels of the image
being made drives L-BFGS, which changes those pixels and nothing else. The thumbnails are the
project's own pictures (the photo, the painting, and the README's result).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from PIL import Image

from helpers.plots import (
    TERM_COLORS,  # one colour per loss term, as in every notebook plot
)

REPO = Path(__file__).resolve().parents[1]
PICTURES = {"content": REPO / "images" / "content" / "tuebingen.jpg",
            "style": REPO / "images" / "styles" / "great_wave.jpg",
            "result": REPO / "docs" / "tuebingen_great_wave.png"}
GREY, DARK, VGG_FILL = "#f2f2f2", "#222222", "#e4ecf7"
OPTIMIZER = "#7b3fa0"  # the optimizer and the gradient: the one thing that changes pixels


def _thumbnail(path: Path, height: int = 150):
    """A small RGB array of a picture (keeps the SVG light)."""
    with Image.open(path) as img:
        img = img.convert("RGB")
        return img.resize((round(img.width * height / img.height), height), Image.LANCZOS)


def _box(ax, x, y, w, h, text, fill=GREY, edge=DARK, size=10.5, weight="normal", color=DARK, lw=1.2):
    """A rounded box centred at (x, y), w x h in axes units, with centred text."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.008,rounding_size=0.012",
                                fc=fill, ec=edge, lw=lw))
    ax.text(x, y, text, ha="center", va="center", fontsize=size, fontweight=weight, color=color, linespacing=1.35)


def _arrow(ax, start, end, color=DARK, lw=1.4, style="-|>", rad=0.0, ls="-"):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=13, color=color, lw=lw,
                                 connectionstyle=f"arc3,rad={rad}", linestyle=ls, shrinkA=2, shrinkB=2))


def _route(ax, points, color, lw=1.8):
    """A polyline through `points` (axes units) with an arrow head on its last segment."""
    xs, ys = zip(*points)
    ax.plot(xs[:-1], ys[:-1], color=color, lw=lw, solid_capstyle="butt", solid_joinstyle="miter")
    _arrow(ax, points[-2], points[-1], color, lw=lw)


def _picture(ax, fig, path: Path, x, y, height, title):
    """A thumbnail centred at (x, y) in axes units, `height` in axes units, title above it."""
    img = _thumbnail(path)
    aspect = img.width / img.height
    width_fig, height_fig = fig.get_size_inches()
    w = height * aspect * height_fig / width_fig
    inset = ax.inset_axes([x - w / 2, y - height / 2, w, height])
    inset.imshow(img)
    inset.set_xticks([])
    inset.set_yticks([])
    for spine in inset.spines.values():
        spine.set_color(DARK)
    ax.text(x, y + height / 2 + 0.018, title, ha="center", va="bottom", fontsize=10.5, fontweight="bold", color=DARK)
    return w


def draw_method(axes=None):
    """The method on one page. Draws into `axes` (a blank Axes) or a new 13 x 7.4 in figure; returns the figure."""
    if axes is None:
        fig, axes = plt.subplots(figsize=(13, 7.4))
    fig = axes.figure
    ax = axes
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")

    rows = {"content": 0.80, "result": 0.50, "style": 0.15}
    x_pic, x_vgg, x_feat, x_loss, x_sum = 0.09, 0.26, 0.43, 0.625, 0.85
    colour = {"content": TERM_COLORS["content"], "style": TERM_COLORS["style"], "tv": TERM_COLORS["tv"]}

    ax.text(0.5, 0.985, "Neural style transfer: three losses, one optimizer, and only the pixels move",
            ha="center", va="top", fontsize=14, fontweight="bold", color=DARK)

    titles = {"content": "content image (photo)", "result": "image being made  x", "style": "style image (painting)"}
    half_width = {}
    for key, y in rows.items():
        half_width[key] = _picture(ax, fig, PICTURES[key], x_pic, y, 0.15, titles[key]) / 2
        _box(ax, x_vgg, y, 0.12, 0.085, "VGG16\n(frozen weights)", fill=VGG_FILL, size=10)
        _arrow(ax, (x_pic + half_width[key] + 0.005, y), (x_vgg - 0.062, y))

    # Features and Gram matrices.
    y_f, y_g = rows["result"] + 0.06, rows["result"] - 0.06
    _box(ax, x_feat, rows["content"], 0.16, 0.085, "content features  P\n(block2_conv2)", size=10)
    _box(ax, x_feat, rows["style"], 0.16, 0.085, "Gram matrices  A = FᵀF\n(5 style layers)", size=10)
    _box(ax, x_feat, y_f, 0.16, 0.07, "features  F\n(block2_conv2)", size=10)
    _box(ax, x_feat, y_g, 0.16, 0.07, "Gram matrices  G\n(5 style layers)", size=10)
    _arrow(ax, (x_vgg + 0.062, rows["content"]), (x_feat - 0.082, rows["content"]))
    _arrow(ax, (x_vgg + 0.062, rows["style"]), (x_feat - 0.082, rows["style"]))
    _arrow(ax, (x_vgg + 0.062, rows["result"] + 0.012), (x_feat - 0.082, y_f))
    _arrow(ax, (x_vgg + 0.062, rows["result"] - 0.012), (x_feat - 0.082, y_g))
    for y in (rows["content"], rows["style"]):
        ax.text(x_feat, y - 0.072, "computed once", ha="center", fontsize=9, style="italic", color="#555555")

    # The three losses.
    y_content, y_tv, y_style = 0.72, 0.33, 0.16
    _box(ax, x_loss, y_content, 0.18, 0.095, "content loss\nΣ (F − P)²", fill="white", edge=colour["content"], lw=2)
    _box(ax, x_loss, y_tv, 0.18, 0.095, "total-variation loss\nΣ (Δx² + Δy²)^1.25", fill="white",
         edge=colour["tv"], lw=2)
    _box(ax, x_loss, y_style, 0.18, 0.095, "style loss\nΣₗ wₗ Σ (G − A)² / (4N²M²)", fill="white",
         edge=colour["style"], lw=2)
    _arrow(ax, (x_feat + 0.082, rows["content"]), (x_loss - 0.092, y_content + 0.02), colour["content"])
    _arrow(ax, (x_feat + 0.082, y_f), (x_loss - 0.092, y_content - 0.02), colour["content"])
    _arrow(ax, (x_feat + 0.082, rows["style"]), (x_loss - 0.092, y_style - 0.01), colour["style"])
    _arrow(ax, (x_feat + 0.04, y_g - 0.037), (x_loss - 0.092, y_style + 0.025), colour["style"])
    # TV reads the pixels of x directly, without VGG16.
    pic_bottom = rows["result"] - 0.075
    _route(ax, [(x_pic, pic_bottom - 0.003), (x_pic, y_tv), (x_loss - 0.092, y_tv)], colour["tv"], lw=1.4)
    ax.text(x_vgg, y_tv + 0.012, "the pixels of x themselves", ha="center", va="bottom", fontsize=9,
            style="italic", color=colour["tv"])

    # Weighted sum, gradient, optimizer.
    y_sum = 0.47
    _box(ax, x_sum, y_sum, 0.18, 0.13, "total loss\nL = α·content\n    + β·style + γ·TV", fill="white", size=11,
         weight="bold", lw=1.6)
    for y, key in [(y_content, "content"), (y_tv, "tv"), (y_style, "style")]:
        _arrow(ax, (x_loss + 0.092, y), (x_sum - 0.092, y_sum + (y - y_sum) * 0.3), colour[key], lw=1.8)
    _box(ax, x_sum, 0.80, 0.2, 0.11, "gradient  ∂L/∂x\n(tf.GradientTape,\nback through VGG16)", fill="white",
         edge=OPTIMIZER, size=10, lw=1.6)
    _box(ax, x_sum, 0.15, 0.2, 0.11, "L-BFGS\n(scipy.optimize.minimize)\nchanges the pixels of x", fill=OPTIMIZER,
         edge=OPTIMIZER, size=10, color="white", weight="bold")
    _arrow(ax, (x_sum, y_sum + 0.067), (x_sum, 0.80 - 0.057), OPTIMIZER, lw=1.8)
    _route(ax, [(x_sum + 0.102, 0.80), (x_sum + 0.13, 0.80), (x_sum + 0.13, 0.15), (x_sum + 0.102, 0.15)], OPTIMIZER)
    ax.text(x_sum + 0.138, y_sum, "L and\n∂L/∂x", ha="left", va="center", fontsize=9.5, color=OPTIMIZER)
    # Back to the image: the loop, around everything.
    lane = 0.035
    _route(ax, [(x_sum, 0.15 - 0.057), (x_sum, lane), (0.012, lane), (0.012, rows["result"]),
                (x_pic - half_width["result"] - 0.004, rows["result"])], OPTIMIZER, lw=2.0)
    ax.text(0.45, lane - 0.012, "repeat for a few hundred loss evaluations: x changes, VGG16's weights never do",
            ha="center", va="top", fontsize=10, color=OPTIMIZER, fontweight="bold")
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="also show the figure in a window")
    args = parser.parse_args(argv)
    if not args.show:
        plt.switch_backend("Agg")  # files only: no window, works without a display
    plt.rcParams["svg.fonttype"] = "none"  # text stays text in the SVG (searchable, small)
    plt.rcParams["svg.hashsalt"] = "method"  # stable ids: the same drawing gives the same file
    fig = draw_method()
    for suffix in ("svg", "png"):
        path = REPO / "docs" / f"method.{suffix}"
        fig.savefig(path, dpi=100, bbox_inches="tight", metadata={"Date": None} if suffix == "svg" else None)
        print(f"wrote {path.relative_to(REPO)}")
    if args.show:
        plt.show()
    return 0


if __name__ == "__main__":
    sys.exit(main())
