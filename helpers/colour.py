"""Colour control for style transfer (Gatys, Ecker, Bethge, Hertzmann & Shechtman 2017,
"Controlling Perceptual Factors in Neural Style Transfer", colour control;
the same two methods as Gatys, Bethge, Hertzmann & Shechtman 2016, "Preserving Color in
Neural Artistic Style Transfer").

A painting brings its colours along with its brush strokes. Two ways to keep the
photo's colours, and a simple one to compare them with:

- **luminance-only transfer**: transfer style on the luminance channel Y alone
  (`luminance_only_inputs`), then put the result's luminance together with the
  photo's colour channels I, Q (`keep_colour`);
- **colour histogram matching**: before transfer, map the painting's pixels so that
  their mean and covariance are the photo's (`match_colour`);
- **post-hoc swap**: after an ordinary transfer, the result's luminance with the
  photo's colour channels (`keep_colour` again, on an ordinary result).

Images are float RGB arrays (H, W, 3) with values 0..255 (uint8 accepted). Results
are float arrays of the input's float precision (float32 unless float64 was given) and
are NOT clipped: the transforms are linear and may leave 0..255 for a few saturated
pixels, so their statistics are exact. Saving (`helpers.images.save_image`) or loading
the array as an image (`helpers.images.load_image`) clips to 0..255 and rounds to 8 bits.
NumPy only: no TensorFlow.
"""
from __future__ import annotations

import numpy as np

# NTSC YIQ (FCC 1953 coefficients, as in the paper and `skimage.color.rgb2yiq`): Y is the
# luminance; I (orange-blue) and Q (purple-green) carry the colour.
RGB_TO_YIQ = np.array([
    [0.299, 0.587, 0.114],
    [0.595716, -0.274453, -0.321263],
    [0.211456, -0.522591, 0.311135],
])
# The exact inverse (not the rounded published one), so RGB -> YIQ -> RGB is the identity.
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)

COLOUR_MATCHING = ("cholesky", "symmetric")


def _float(image) -> np.ndarray:
    """The array in float64 for the maths; checks it is (..., 3)."""
    a = np.asarray(image)
    if a.ndim < 1 or a.shape[-1] != 3:
        raise ValueError(f"expected an RGB/YIQ array of shape (H, W, 3), not {a.shape}")
    return a.astype(np.float64)


def _out_dtype(image):
    """float64 stays float64; everything else (uint8, float32) comes back as float32."""
    return np.float64 if np.asarray(image).dtype == np.float64 else np.float32


def rgb_to_yiq(rgb) -> np.ndarray:
    """RGB (..., 3), 0..255 -> YIQ (..., 3): Y in 0..255, I about -152..152, Q about -133..133."""
    return (_float(rgb) @ RGB_TO_YIQ.T).astype(_out_dtype(rgb))


def yiq_to_rgb(yiq) -> np.ndarray:
    """YIQ (..., 3) -> RGB (..., 3), the exact inverse of `rgb_to_yiq` (not clipped)."""
    return (_float(yiq) @ YIQ_TO_RGB.T).astype(_out_dtype(yiq))


def luminance(rgb) -> np.ndarray:
    """The luminance Y (H, W) of an RGB image (H, W, 3), 0..255."""
    return (_float(rgb) @ RGB_TO_YIQ[0]).astype(_out_dtype(rgb))


def grey(y) -> np.ndarray:
    """A luminance (H, W) as a grey RGB image (H, W, 3): Y in all three channels, which is
    what VGG16 (trained on colour images) gets in luminance-only transfer."""
    y = np.asarray(y)
    return np.repeat(y[..., None], 3, axis=-1).astype(_out_dtype(y))


def match_luminance(style, *, content) -> np.ndarray:
    """The style image's luminance (Hs, Ws), shifted and scaled to the content's mean and
    standard deviation, as the paper does: L_s' = sigma_c / sigma_s (L_s - mu_s) + mu_c.

    Without this, a dark painting would darken the photo, since luminance-only transfer
    copies the painting's luminance statistics. A flat (constant) style is only shifted.
    """
    ys, yc = _float(style) @ RGB_TO_YIQ[0], _float(content) @ RGB_TO_YIQ[0]
    spread = ys.std()
    scale = yc.std() / spread if spread > 0 else 1.0
    return ((ys - ys.mean()) * scale + yc.mean()).astype(_out_dtype(style))


def luminance_only_inputs(content, *, style) -> tuple[np.ndarray, np.ndarray]:
    """The two images to stylize for luminance-only transfer: (content's luminance as a
    grey image, style's luminance matched to the content's, as a grey image), each (H, W, 3).

    Stylize the first in the style of the second, then `keep_colour(result, content=content)`
    restores the content's colours.
    """
    return grey(luminance(content)), grey(match_luminance(style, content=content))


def keep_colour(result, *, content) -> np.ndarray:
    """The result's luminance Y with the content's colour channels I, Q, as RGB (H, W, 3).

    The last step of luminance-only transfer, and on an ordinary result the post-hoc
    "colour swap". `result` and `content` must have the same height and width. Not
    clipped: where Y and the content's I, Q make an RGB outside 0..255, saving clips it.
    """
    r, c = _float(result), _float(content)
    if r.shape != c.shape:
        raise ValueError(f"result {r.shape} and content {c.shape} must have the same shape; resize the content first")
    yiq = c @ RGB_TO_YIQ.T
    yiq[..., 0] = r @ RGB_TO_YIQ[0]
    return (yiq @ YIQ_TO_RGB.T).astype(_out_dtype(result))


def colour_statistics(image) -> tuple[np.ndarray, np.ndarray]:
    """Mean (3,) and covariance (3, 3) of an image's RGB pixels (population covariance, float64)."""
    pixels = _float(image).reshape(-1, 3)
    mean = pixels.mean(axis=0)
    centred = pixels - mean
    return mean, centred.T @ centred / len(pixels)


def _symmetric_sqrt(cov, inverse: bool = False) -> np.ndarray:
    """Sigma^(1/2) or Sigma^(-1/2) of a symmetric positive (semi)definite matrix, by its
    eigenvectors (the principal axes of the colour cloud: the "PCA" form)."""
    values, vectors = np.linalg.eigh(cov)
    values = np.clip(values, 1e-12, None)
    power = -0.5 if inverse else 0.5
    return (vectors * values**power) @ vectors.T


def match_colour(style, *, content, method: str = "cholesky") -> np.ndarray:
    """The style image (Hs, Ws, 3) with its colours mapped so that the mean and covariance
    of its pixels are the content's (the paper's "colour histogram matching").

    Each pixel p becomes A (p - mu_s) + mu_c, with A Sigma_s A^T = Sigma_c:
        "cholesky":  A = L_c L_s^-1, with Sigma = L L^T (Cholesky factors);
        "symmetric": A = Sigma_c^(1/2) Sigma_s^(-1/2) (symmetric square roots, from the
                     eigenvectors: the principal-axes / "PCA" form, as in Image Analogies).
    Both give exactly the content's mean and covariance; they differ in how the colour
    cloud is rotated. Not clipped: saturated colours may leave 0..255, and loading the
    array as an image clips them (Tübingen and The Great Wave: 8-10 % of the pixels; the
    means then move by up to 3 grey levels, the standard deviations, about 50, by up to 8). A style image without colour
    (all grey) has a covariance of rank one, which no linear map can turn into the
    content's: it gets the content's mean, and stays a one-dimensional cloud of colours.
    """
    if method not in COLOUR_MATCHING:
        raise ValueError(f"method must be one of {COLOUR_MATCHING}, not {method!r}")
    mu_s, cov_s = colour_statistics(style)
    mu_c, cov_c = colour_statistics(content)
    # A tiny ridge keeps a grey (rank-1) covariance invertible; 1e-9 of a typical variance
    # (~1e3) moves the matched covariance by far less than the 1e-3 that is checked.
    ridge = 1e-9 * (np.trace(cov_s) / 3 + 1.0) * np.eye(3)
    if method == "cholesky":
        a = np.linalg.cholesky(cov_c + ridge) @ np.linalg.inv(np.linalg.cholesky(cov_s + ridge))
    else:
        a = _symmetric_sqrt(cov_c) @ _symmetric_sqrt(cov_s + ridge, inverse=True)
    matched = (_float(style) - mu_s) @ a.T + mu_c
    return matched.astype(_out_dtype(style))
