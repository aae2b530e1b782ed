"""Masks that split a picture into regions, each with its own style (the spatial control of
Gatys, Ecker, Bethge, Hertzmann & Shechtman 2017, "Controlling Perceptual Factors in
Neural Style Transfer").

A mask is an image the size of the photo (any size: it is resized). Two forms:

- `load_mask`: one region, as float32 (H, W) in 0..1 (white = 1 = inside, black = 0;
  grey levels give soft edges);
- `load_labels`: several regions, one per distinct colour, as int (H, W) labels 0..K-1.

VGG16's layers see the picture at lower resolutions (each pooling halves the size,
rounding down), so a loss at a layer needs the mask at that layer's size:
`layer_shape` and `masks_for_layers`. NumPy and Pillow only: no TensorFlow.
"""
from __future__ import annotations

import os

import numpy as np
from PIL import Image

from helpers import images as im

MAX_LABELS = 16  # more distinct colours than this is a photo or a JPEG, not a label mask


def _grey(source) -> np.ndarray:
    """The mask as float32 (H, W) 0..255, any image mode; errors are one-line ImageErrors."""
    rgb = im.load_image(source)  # a missing file or a text file named .png fails here, in one line
    return rgb.mean(axis=-1)


def resize_mask(mask: np.ndarray, *, shape: tuple[int, int]) -> np.ndarray:
    """A float mask (H, W) resized to (height, width) by area averaging (Pillow's BOX filter):
    each new pixel is the fraction of its area inside the region, so values stay in 0..1."""
    mask = np.asarray(mask, dtype=np.float32)
    if mask.shape == tuple(shape):
        return mask
    resized = Image.fromarray(mask, mode="F").resize((int(shape[1]), int(shape[0])), Image.BOX)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def load_mask(source, *, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A one-region mask as float32 (H, W) in 0..1: white (255) is 1, black 0, grey between.

    source: a file path, a Pillow image or an array (as `helpers.images.load_image` takes).
    shape: if given, (height, width) to resize to (area averaging), e.g. the result's size.
    Raises ImageError (one line) for a missing file or one that is not an image.
    """
    mask = _grey(source) / 255.0
    return resize_mask(mask, shape=shape) if shape is not None else mask.astype(np.float32)


def load_labels(source, *, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A mask of several regions as int (H, W) labels 0..K-1, one per distinct colour,
    numbered in order of the colours' values (so black is 0 and white is the last).

    shape: if given, (height, width) to resize to; nearest neighbour, so no new colours
    (labels) appear at the edges. Save label masks as PNG: JPEG blurs edges into many
    colours, which is refused (more than MAX_LABELS colours) with a one-line ImageError.
    """
    rgb = im.load_image(source).astype(np.uint8)
    colours, labels = np.unique(rgb.reshape(-1, 3), axis=0, return_inverse=True)
    if len(colours) > MAX_LABELS:
        name = str(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__
        raise im.ImageError(f"{name}: {len(colours)} colours; a label mask has at most "
                            f"{MAX_LABELS} (one flat colour per region, saved as PNG, not JPEG)")
    labels = labels.reshape(rgb.shape[:2]).astype(np.int32)
    if shape is not None and labels.shape != tuple(shape):
        small = Image.fromarray(labels.astype(np.uint8)).resize((int(shape[1]), int(shape[0])), Image.NEAREST)
        labels = np.asarray(small, dtype=np.int32)
    return labels


def region_masks(labels: np.ndarray, *, count: int | None = None) -> np.ndarray:
    """Labels (H, W) -> float32 masks (K, H, W), one per label, 1 inside and 0 outside.
    count: K (default: the largest label + 1); a label without pixels gets an empty mask."""
    labels = np.asarray(labels)
    count = int(labels.max()) + 1 if count is None else count
    return (labels[None] == np.arange(count)[:, None, None]).astype(np.float32)


def layer_shape(shape: tuple[int, int], layer: str) -> tuple[int, int]:
    """(height, width) of a VGG16 layer's feature map for an image of `shape`: every pooling
    before the layer's block halves both sides, rounding down (block3_conv1 sits after two)."""
    if not (layer.startswith("block") and layer[5:6].isdigit()):
        raise ValueError(f"not a VGG16 layer name: {layer!r} (expected e.g. 'block3_conv3')")
    h, w = int(shape[0]), int(shape[1])
    for _ in range(int(layer[5]) - 1):
        h, w = h // 2, w // 2
    return h, w


def masks_for_layers(mask: np.ndarray, *, layers) -> dict:
    """A float mask (H, W) (or masks (K, H, W)) resized to each layer's feature-map size:
    {layer: float32 (h, w) or (K, h, w)} (area averaging, see `resize_mask`)."""
    mask = np.asarray(mask, dtype=np.float32)
    out = {}
    for layer in layers:
        shape = layer_shape(mask.shape[-2:], layer)
        if mask.ndim == 2:
            out[layer] = resize_mask(mask, shape=shape)
        else:
            out[layer] = np.stack([resize_mask(m, shape=shape) for m in mask])
    return out
