"""Load any picture a student brings, resize it, prepare it for VGG16 and back.

Images in this package are float32 NumPy arrays of shape (height, width, 3), RGB,
values 0..255, unless a docstring says otherwise. VGG16 works on "preprocessed"
arrays: BGR channel order with the ImageNet channel means subtracted.
"""
from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from helpers.budget import SizeError, available_bytes, estimate_bytes
from helpers.files import FileError, atomic_write, check_regular_file, file_error, save_or_rescue

# ImageNet channel means in BGR order: the same constants Keras's
# `vgg16.preprocess_input` and the original post use.
IMAGENET_BGR_MEANS = np.array([103.939, 116.779, 123.68], dtype=np.float32)

# VGG16 halves the image five times (block1_pool ... block5_pool): a side of
# 32 px is the smallest that still leaves one pixel after the fifth block.
MIN_SIDE = 32


class ImageError(FileError):
    """A picture could not be used; the message is one line naming the file and the problem.

    A ValueError (bad input); `environment` is True when the machine is at fault (an
    I/O error, a full or read-only disk), as for every FileError.
    """


def _name(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return type(source).__name__


# --- loading ----------------------------------------------------------------------


def decode_image(data: bytes, *, name: str) -> Image.Image:
    """Fully decode a picture's bytes with Pillow; every failure is a one-line ImageError naming `name`.

    Used for files (`read_image_file`) and for uploads (helpers.widgets) alike. The
    bytes are already in memory, so any error here is about the data, never the disk.
    """
    if not data:
        raise ImageError(f"{name}: the file is empty")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its pixel limit; treat that as the error it is.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            img.load()  # decode now, so truncated data fails here and not later
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image (Pillow cannot read this file's format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"{name}: too many pixels (over {Image.MAX_IMAGE_PIXELS:,}); "
            "refusing it as a possible decompression bomb"
        ) from None
    except Exception as exc:  # any decoder failure means the same thing: broken data
        # Truncated or corrupt data: Pillow says "image file is truncated", "broken data stream", ...
        cause = " ".join(str(exc).split()) or type(exc).__name__
        raise ImageError(f"{name}: damaged image data ({cause})") from None
    return img


def read_image_file(path) -> Image.Image:
    """Read and decode a picture file; a one-line ImageError for anything that goes wrong.

    Only regular files are read (a FIFO or a device is refused without opening it).
    The file is read whole before decoding, so a disk or permission problem is reported
    as itself ("permission denied", "input/output error"), not as damaged image data.
    """
    try:
        check_regular_file(path)
        with open(path, "rb") as f:
            data = f.read()
    except FileError as exc:
        raise ImageError(str(exc), environment=exc.environment) from None
    except OSError as exc:
        raise file_error(exc, path, kind=ImageError) from None
    return decode_image(data, name=str(path))


def to_rgb(img: Image.Image) -> Image.Image:
    """Return `img` as an 8-bit RGB Pillow image, whatever its mode.

    Transparent images (RGBA, LA, P with transparency) are composited on white;
    16-bit, 32-bit and float greyscale are rescaled to 0..255 rather than clipped;
    CMYK and the other colour spaces are converted by Pillow.
    """
    mode = img.mode
    if mode == "RGB":
        return img
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode in ("I", "F") or mode.startswith("I;16"):
        return Image.fromarray(_rescale_grey(np.asarray(img), mode)).convert("RGB")
    return img.convert("RGB")  # 1, L, CMYK, YCbCr, LAB, HSV


def _rescale_grey(a: np.ndarray, mode: str) -> np.ndarray:
    """Map a high-bit-depth greyscale array to uint8 0..255 without clipping."""
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):  # NaN would silently become black
        raise ImageError("has NaN or infinite pixel values")
    if mode.startswith("I;16"):
        scale = 65535.0
    elif mode == "F" and a.min() >= 0 and a.max() <= 1:
        scale = 1.0
    elif mode == "I" and a.min() >= 0 and a.max() <= 65535:
        scale = 255.0 if a.max() <= 255 else 65535.0
    else:  # anything else: stretch its own range onto 0..255
        lo, hi = float(a.min()), float(a.max())
        a, scale = a - lo, (hi - lo) or 1.0
    return np.round(a / scale * 255.0).astype(np.uint8)


def _from_array(a: np.ndarray) -> Image.Image:
    """Pillow image from an array: (H, W), (H, W, 1|3|4), uint8/uint16 or float 0..1 / 0..255."""
    a = np.asarray(a)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]  # a batch of one
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        raise ImageError(f"array of shape {a.shape}: expected (height, width), (height, width, 3) or (height, width, 4)")
    if not np.all(np.isfinite(a)):
        raise ImageError("array contains NaN or infinite values")
    if a.dtype == np.uint16:
        a = np.round(a / 65535.0 * 255.0).astype(np.uint8)
    elif a.dtype != np.uint8:
        a = a.astype(np.float64)
        if a.max(initial=0) <= 1.0 and a.min(initial=0) >= 0.0:
            a = a * 255.0  # a float image in 0..1
        a = np.clip(np.round(a), 0, 255).astype(np.uint8)
    return Image.fromarray(a)


def load_image(source, max_size: int | None = None, size: tuple[int, int] | None = None, *,
               name: str | None = None) -> np.ndarray:
    """Load a picture as a float32 RGB array of shape (height, width, 3), values 0..255.

    source: a file path, a Pillow image or an array (see `to_rgb` for accepted modes).
    max_size: if given, resize so that the longest side is `max_size` pixels, keeping
        the aspect ratio (LANCZOS). Small images are enlarged too.
    size: if given, resize to exactly (height, width), ignoring the aspect ratio.
    name: what error messages call the picture (default: the path, or the type).

    Raises ImageError (one line) for a missing or unreadable file (with the true cause),
    a FIFO or device, a file that is not an image, damaged data, a decompression bomb,
    NaN or infinite values, or an image smaller than MIN_SIDE pixels on a side, before
    or after resizing.
    """
    name = name or _name(source)
    if isinstance(source, (str, os.PathLike)):
        img = read_image_file(source)
    elif isinstance(source, Image.Image):
        img = source
    elif isinstance(source, np.ndarray):
        img = _from_array(source)
    else:
        raise ImageError(f"{name}: expected a file path, a PIL image or a NumPy array")
    try:
        img = ImageOps.exif_transpose(img)  # phones store "rotate me" in EXIF instead of rotating
    except Exception:  # a broken EXIF block is no reason to refuse the pixels
        pass
    try:
        img = to_rgb(img)
    except ImageError as exc:
        raise ImageError(f"{name}: {exc}") from None
    if min(img.size) < MIN_SIDE:
        raise ImageError(
            f"{name}: {img.size[0]}x{img.size[1]} px is too small; VGG16 needs at least "
            f"{MIN_SIDE} px on each side"
        )
    if size is not None:
        img = img.resize((int(size[1]), int(size[0])), Image.LANCZOS)
    elif max_size is not None:
        img = img.resize(fit_size(img.size[1], img.size[0], max_size)[::-1], Image.LANCZOS)
    if min(img.size) < MIN_SIDE:  # e.g. a wide panorama shrunk by max_size, or a tiny size=
        raise ImageError(
            f"{name}: resizing to {img.size[0]}x{img.size[1]} px makes it too small; VGG16 needs at "
            f"least {MIN_SIDE} px on each side (ask for a larger size or max_size)"
        )
    return np.asarray(img, dtype=np.float32)


def fit_size(height: int, width: int, max_size: int) -> tuple[int, int]:
    """(height, width) scaled so that the longest side is `max_size`, aspect ratio kept."""
    check_size(max_size, max_size)
    scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def cover_size(height: int, width: int, target: tuple[int, int]) -> tuple[int, int]:
    """Smallest (height, width) with the same aspect ratio that covers `target` (h, w)."""
    scale = max(target[0] / height, target[1] / width)
    return max(target[0], math.ceil(height * scale - 1e-9)), max(target[1], math.ceil(width * scale - 1e-9))


def style_shape(style_hw: tuple[int, int], content_hw: tuple[int, int], *, style_fit: str = "cover",
                style_scale: float = 1.0) -> tuple[int, int]:
    """(height, width) the style picture is resized to for a result of `content_hw` (both in px).

    style_fit "cover": the smallest size with the style's aspect ratio that covers the
    result (`cover_size`), so a long strip or a small painting is a valid style;
    "stretch": exactly the result's size. Then times `style_scale` (< 1: larger brush
    strokes), and never under MIN_SIDE on a side.
    """
    if style_fit not in ("cover", "stretch"):
        raise ValueError(f"style_fit must be 'cover' or 'stretch', not {style_fit!r}")
    shape = tuple(content_hw) if style_fit == "stretch" else cover_size(*style_hw, tuple(content_hw))
    return tuple(max(MIN_SIDE, round(s * style_scale)) for s in shape)


def check_style(path, *, content_hw: tuple[int, int], style_fit: str = "cover", style_scale: float = 1.0,
                memory: float | None = None) -> tuple[int, int]:
    """Check a style picture as a style (no TensorFlow needed); return the shape it is resized to.

    path: the style picture. content_hw: the result's (height, width) in px. memory:
    bytes available (default: measured, see helpers.budget).
    Raises ImageError (file missing, unreadable, not a picture, ...) or SizeError
    (resized to cover the result it would not fit in memory), one line naming the file.
    """
    rgb = load_image(path)
    shape = style_shape(rgb.shape[:2], content_hw, style_fit=style_fit, style_scale=style_scale)
    memory = available_bytes() if memory is None else memory
    need = estimate_bytes(*shape)
    if need > memory:
        raise SizeError(
            f"{path}: as the style of a {content_hw[0]}x{content_hw[1]} px result it is resized to "
            f"{shape[0]}x{shape[1]} px, which needs about {need / 1e9:.1f} GB of memory but "
            f"{memory / 1e9:.1f} GB is available; crop it closer to the result's shape or choose a smaller size"
        )
    return shape


def check_size(height: int, width: int) -> None:
    """Raise ImageError if VGG16 cannot take an image of this size."""
    if min(height, width) < MIN_SIDE:
        raise ImageError(f"size {height}x{width} px is too small; VGG16 needs at least {MIN_SIDE} px on each side")


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an RGB float array (H, W, 3) to exactly (height, width) with LANCZOS."""
    img = Image.fromarray(np.clip(np.round(image), 0, 255).astype(np.uint8))
    return np.asarray(img.resize((int(size[1]), int(size[0])), Image.LANCZOS), dtype=np.float32)


def center_crop(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The central (height, width) window of an (H, W, 3) array."""
    h, w = image.shape[:2]
    top, left = (h - size[0]) // 2, (w - size[1]) // 2
    return image[top : top + size[0], left : left + size[1]]


# --- VGG16 preprocessing ------------------------------------------------------------


def preprocess(image: np.ndarray) -> np.ndarray:
    """RGB 0..255 -> what VGG16 expects: BGR order, ImageNet means subtracted.

    Works on (H, W, 3) and on batches (N, H, W, 3); returns float32 of the same shape.
    Same as `keras.applications.vgg16.preprocess_input` (mode "caffe").
    """
    bgr = np.asarray(image, dtype=np.float32)[..., ::-1]
    return bgr - IMAGENET_BGR_MEANS


def deprocess(x) -> np.ndarray:
    """Exact inverse of `preprocess`, then rounded and clipped to a uint8 RGB image.

    Accepts (H, W, 3), (1, H, W, 3) or a tf.Tensor; returns uint8 (H, W, 3).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 4:
        x = x[0]
    rgb = (x + IMAGENET_BGR_MEANS)[..., ::-1]
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


# --- saving and showing -------------------------------------------------------------


def encode_image(image, *, suffix: str) -> bytes:
    """An RGB image (uint8, or float 0..255) as the bytes of a .png, .jpg or .jpeg file (JPEG quality 95)."""
    formats = {".png": ("PNG", {}), ".jpg": ("JPEG", {"quality": 95}), ".jpeg": ("JPEG", {"quality": 95})}
    if suffix.lower() not in formats:
        raise ImageError(f"cannot save as {suffix or 'a file without suffix'}: save as .png, .jpg or .jpeg")
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = np.clip(np.round(a), 0, 255).astype(np.uint8)
    fmt, options = formats[suffix.lower()]
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format=fmt, **options)
    return buf.getvalue()


def _encode_for(image, path: Path) -> bytes:
    try:
        return encode_image(image, suffix=path.suffix)
    except ImageError as exc:
        raise ImageError(f"{path}: {exc}") from None


def encode_animation(pictures, *, duration_ms: int = 120) -> bytes:
    """uint8 RGB pictures (H, W, 3), all of one size, as the bytes of a looping animated GIF."""
    frames = [Image.fromarray(np.asarray(p, dtype=np.uint8)) for p in pictures]
    if not frames:
        raise ImageError("an animation needs at least one picture")
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=duration_ms, loop=0)
    return buf.getvalue()


def save_data(data: bytes, path, *, overwrite: bool = True) -> Path:
    """Write an encoded picture's bytes at `path`, atomically; return the path.

    `path` is the complete new file or unchanged (never a 0-byte or truncated file, and
    an old file survives a failed save). With overwrite=False an existing file, even one
    that appears during the save, is an ImageError and stays untouched. Creates the
    parent folder. Every failure is a one-line ImageError with the true cause.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(path, lambda f: f.write(data), overwrite=overwrite)
    except FileExistsError:
        raise ImageError(f"{path}: already exists (pass overwrite=True to replace it)") from None
    except OSError as exc:
        raise file_error(exc, path, kind=ImageError) from None


def save_data_or_rescue(data: bytes, path, *, overwrite: bool, next_free_name: bool = False,
                        rescue_folder=None) -> tuple[Path, str | None]:
    """`save_data`, but a failed save puts the file into a fresh temporary folder (or
    `rescue_folder`) instead, and with `next_free_name` a taken name moves it to
    stem-2.suffix, ... (see `helpers.files.save_or_rescue`).

    Returns (the saved file, None), or (where it went, one line saying why and where).
    Raises ImageError only when the rescue fails too. For results that took minutes.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # the save below fails and says why
    try:
        return save_or_rescue(path, lambda f: f.write(data), overwrite=overwrite, next_free_name=next_free_name,
                              rescue_folder=rescue_folder)
    except FileError as exc:
        raise ImageError(str(exc), environment=exc.environment) from None


def save_image(image, path, *, overwrite: bool = True) -> Path:
    """Save an RGB image (uint8, or float 0..255) as PNG or JPEG (chosen by the suffix); return the path.

    Atomic and, with overwrite=False, exclusive: see `save_data`.
    """
    return save_data(_encode_for(image, Path(path)), path, overwrite=overwrite)


def save_image_or_rescue(image, path, *, overwrite: bool, next_free_name: bool = False,
                         rescue_folder=None) -> tuple[Path, str | None]:
    """`save_image`, but a failed save puts the picture elsewhere: see `save_data_or_rescue`.

    Raises ImageError only for a bad suffix, or when the rescue fails too.
    """
    return save_data_or_rescue(_encode_for(image, Path(path)), path, overwrite=overwrite,
                               next_free_name=next_free_name, rescue_folder=rescue_folder)
