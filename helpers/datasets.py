"""A small labelled image data set made on the spot, without downloads (notebook 01).

    x, y = shapes(3000)          # x: float32 (3000, 32, 32, 3) in 0..1, y: int64 (3000,) in 0..2
    SHAPE_NAMES[y[0]]            # "circle", "square" or "triangle"

Every picture is one filled shape on a plain background. Position, size, rotation and
both colours are random, and a little pixel noise is added, so no simple rule on the
pixels (e.g. "count the bright pixels") tells the classes apart: a classifier has to
look at the outline.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

SHAPE_NAMES = ("circle", "square", "triangle")
_SUPERSAMPLE = 4  # drawn 4x larger, then shrunk: smooth (anti-aliased) edges


def _colours(rng) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A background and a foreground colour whose brightness differs by at least 60 (of 255)."""
    while True:
        bg, fg = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        brightness = np.array([0.299, 0.587, 0.114])
        if abs(float(bg @ brightness) - float(fg @ brightness)) >= 60:
            return tuple(int(v) for v in bg), tuple(int(v) for v in fg)


def _polygon(cx, cy, r, corners, angle):
    return [(cx + r * math.cos(angle + 2 * math.pi * k / corners), cy + r * math.sin(angle + 2 * math.pi * k / corners))
            for k in range(corners)]


def draw_shape(kind: str, size: int = 32, rng=None) -> np.ndarray:
    """One picture of a `kind` ("circle", "square", "triangle"): uint8 RGB (size, size, 3).

    The shape's "radius" (centre to corner) is 22-45 % of the side; the shape lies
    wholly inside the picture; squares and triangles are rotated by a random angle.
    """
    if kind not in SHAPE_NAMES:
        raise ValueError(f"kind must be one of {SHAPE_NAMES}, not {kind!r}")
    rng = np.random.default_rng() if rng is None else rng
    big = size * _SUPERSAMPLE
    bg, fg = _colours(rng)
    img = Image.new("RGB", (big, big), bg)
    draw = ImageDraw.Draw(img)
    r = rng.uniform(0.22, 0.45) * big
    margin = r + 1
    cx, cy = rng.uniform(margin, big - margin, 2)
    angle = rng.uniform(0, 2 * math.pi)
    if kind == "circle":
        r *= 0.8  # then a circle has about the area of a square of the same r (2.0 r^2)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fg)
    else:
        draw.polygon(_polygon(cx, cy, r, 4 if kind == "square" else 3, angle), fill=fg)
    return np.asarray(img.resize((size, size), Image.LANCZOS))


def shapes(n: int = 3000, size: int = 32, seed: int = 0, noise: float = 8.0):
    """`n` pictures of circles, squares and triangles, the same for the same seed.

    Returns (x, y): x float32 (n, size, size, 3) with values 0..1, y int64 (n,) with
    y[i] the index of the shape in SHAPE_NAMES. Classes are balanced (n // 3 each,
    the remainder spread over the first classes) and shuffled. `noise` is the standard
    deviation of the Gaussian pixel noise, in 0..255 units.
    """
    if n < 1 or size < 8:
        raise ValueError("need n >= 1 and size >= 8")
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % len(SHAPE_NAMES)).astype(np.int64)
    x = np.stack([draw_shape(SHAPE_NAMES[k], size, rng) for k in y]).astype(np.float32)
    x += rng.normal(0.0, noise, x.shape).astype(np.float32)
    return np.clip(x / 255.0, 0.0, 1.0), y
