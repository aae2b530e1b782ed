"""Make the example masks in images/masks/ from the bundled photos, reproducibly.

    python scripts/make_masks.py            # writes images/masks/tuebingen_sky.png

tuebingen_sky.png: white where images/content/tuebingen.jpg shows sky, black for the
town, the river and the trees, at the photo's size (1024 x 768). The rule is simple
and deterministic, so a student can read and change it:
  1. a pixel is "sky-coloured" when blue clearly dominates: B - R > 40 and B >= G;
  2. a closing (3 px) then an opening (5 px) remove thin branches and isolated specks;
  3. the largest connected region that touches the top edge is the sky (the river,
     which reflects it, is dropped), and holes inside it are filled.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

REPO = Path(__file__).resolve().parents[1]


def sky_mask(rgb: np.ndarray) -> np.ndarray:
    """Boolean (H, W): True for the sky of a daylight photo (H, W, 3) uint8 RGB, by the rule above."""
    r, g, b = (rgb[..., i].astype(np.int32) for i in range(3))
    blue = (b - r > 40) & (b >= g)
    # Padded by repeating the edge, so the morphology does not eat the picture's borders.
    pad = 5
    blue = np.pad(blue, pad, mode="edge")
    blue = ndimage.binary_closing(blue, structure=np.ones((3, 3)))
    blue = ndimage.binary_opening(blue, structure=np.ones((5, 5)))[pad:-pad, pad:-pad]
    labels, count = ndimage.label(blue)
    top = set(np.unique(labels[0])) - {0}
    if not top:
        raise SystemExit("no sky-coloured region touches the top edge")
    sizes = ndimage.sum_labels(blue, labels, index=sorted(top))
    sky = labels == sorted(top)[int(np.argmax(sizes))]
    return ndimage.binary_fill_holes(sky)


def main() -> None:
    parser = argparse.ArgumentParser(description="Make images/masks/tuebingen_sky.png from the photo.")
    parser.add_argument("--output", type=Path, default=REPO / "images" / "masks" / "tuebingen_sky.png")
    out = parser.parse_args().output
    photo = REPO / "images" / "content" / "tuebingen.jpg"
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    mask = sky_mask(rgb)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(out, optimize=True)
    print(f"{out}: {mask.shape[1]}x{mask.shape[0]} px, sky {mask.mean():.1%} of the picture")


if __name__ == "__main__":
    main()
