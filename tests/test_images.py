"""helpers.images: loading every kind of picture, clear errors, resizing, VGG16 pre/deprocessing, saving."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import images
from helpers.images import ImageError, MIN_SIDE, deprocess, load_image, preprocess, save_image

REPO = Path(__file__).resolve().parents[1]
WHITE = [255, 255, 255]


def rng(seed=0):
    return np.random.default_rng(seed)


def noise(h=48, w=64, seed=0):
    return rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def save(img: Image.Image, path: Path, **kwargs) -> Path:
    img.save(path, **kwargs)
    return path


# --- every mode Pillow can hand us -------------------------------------------------


def test_rgb_png_is_exact(tmp_path):
    a = noise()
    out = load_image(save(Image.fromarray(a), tmp_path / "rgb.png"))
    assert out.dtype == np.float32 and out.shape == (48, 64, 3)
    np.testing.assert_array_equal(out, a)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_transparency_is_composited_on_white(tmp_path, mode):
    if mode == "RGBA":
        img = Image.new("RGBA", (40, 40), (10, 20, 30, 255))
        img.putpixel((0, 0), (0, 0, 0, 0))  # fully transparent black
        img.putpixel((1, 0), (0, 0, 0, 128))  # half transparent black
        opaque = [10, 20, 30]
    else:
        img = Image.new("LA", (40, 40), (50, 255))
        img.putpixel((0, 0), (0, 0))
        img.putpixel((1, 0), (0, 128))
        opaque = [50, 50, 50]
    out = load_image(save(img, tmp_path / f"{mode}.png"))
    assert out.shape == (40, 40, 3)
    assert out[0, 0].tolist() == WHITE
    assert out[0, 1].tolist() == pytest.approx([127, 127, 127], abs=1)
    assert out[5, 5].tolist() == opaque


def palette_image(transparent: bool) -> Image.Image:
    img = Image.new("P", (40, 40), 1)
    img.putpalette([0, 0, 0, 200, 10, 20, 0, 0, 255] + [0] * (256 * 3 - 9))
    img.putpixel((0, 0), 0)
    img.putpixel((1, 0), 2)
    if transparent:
        img.info["transparency"] = 0
    return img


@pytest.mark.parametrize("transparent", [True, False])
def test_palette(tmp_path, transparent):
    path = save(palette_image(transparent), tmp_path / "p.png")
    assert Image.open(path).mode == "P"
    assert ("transparency" in Image.open(path).info) == transparent
    out = load_image(path)
    assert out[0, 0].tolist() == (WHITE if transparent else [0, 0, 0])
    assert out[0, 1].tolist() == [0, 0, 255]
    assert out[9, 9].tolist() == [200, 10, 20]


def test_greyscale_l(tmp_path):
    a = rng().integers(0, 256, (40, 50), dtype=np.uint8)
    out = load_image(save(Image.fromarray(a, "L"), tmp_path / "l.png"))
    assert out.shape == (40, 50, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], a)


def test_bilevel_1(tmp_path):
    img = Image.new("1", (40, 40), 0)
    img.putpixel((3, 2), 1)
    path = save(img, tmp_path / "one.png")
    assert Image.open(path).mode == "1"
    out = load_image(path)
    assert out[2, 3].tolist() == WHITE
    assert out[0, 0].tolist() == [0, 0, 0]


def test_cmyk(tmp_path):
    img = Image.new("CMYK", (40, 40), (0, 0, 0, 0))  # no ink: white
    img.putpixel((0, 0), (255, 0, 0, 0))  # cyan
    img.putpixel((1, 0), (0, 0, 0, 255))  # black
    path = save(img, tmp_path / "cmyk.tif")
    assert Image.open(path).mode == "CMYK"
    out = load_image(path)
    assert out[5, 5].tolist() == WHITE
    assert out[0, 0].tolist() == [0, 255, 255]
    assert out[0, 1].tolist() == [0, 0, 0]


def test_16_bit_greyscale_png_is_rescaled_not_clipped(tmp_path):
    a = np.zeros((40, 40), np.uint16)
    a[0, :4] = [0, 32768, 65535, 257]
    a[1:] = 65535
    path = save(Image.fromarray(a), tmp_path / "grey16.png")
    assert Image.open(path).mode.startswith("I")  # Pillow reads it back as 16-bit
    out = load_image(path)
    assert out[0, :4, 0].tolist() == [0, 128, 255, 1]
    assert out[20, 20].tolist() == WHITE


def test_dark_16_bit_png_stays_dark(tmp_path):
    """All values <= 255 in a 16-bit file are still 16-bit values: nearly black."""
    path = save(Image.fromarray(np.full((40, 40), 200, np.uint16)), tmp_path / "dark16.png")
    assert load_image(path).max() <= 1


def test_float_greyscale_f(tmp_path):
    a = np.zeros((40, 40), np.float32)
    a[0, :3] = [0.0, 0.5, 1.0]
    path = save(Image.fromarray(a, "F"), tmp_path / "f.tif")
    assert Image.open(path).mode == "F"
    out = load_image(path)
    assert out[0, :3, 0].tolist() == [0, 128, 255]
    # Values outside 0..1 are stretched onto 0..255, not clipped.
    wide = Image.fromarray(np.linspace(-1000, 3000, 40 * 40, dtype=np.float32).reshape(40, 40), "F")
    out = load_image(wide)
    assert out.min() == 0 and out.max() == 255 and 120 < out[20, 0, 0] < 136


# --- arrays and Pillow images as input -----------------------------------------------


@pytest.mark.parametrize(
    "array, expected",
    [
        (np.full((40, 40, 3), 200, np.uint8), [200, 200, 200]),
        (np.full((40, 40, 3), 65535, np.uint16), WHITE),
        (np.full((40, 40, 3), 32768, np.uint16), [128, 128, 128]),
        (np.full((40, 40, 3), 0.5, np.float32), [128, 128, 128]),
        (np.full((40, 40, 3), 200.0, np.float64), [200, 200, 200]),
        (np.full((40, 40, 3), 300.0, np.float32), WHITE),  # clipped
        (np.full((40, 40), 70, np.uint8), [70, 70, 70]),
        (np.full((40, 40, 1), 70, np.uint8), [70, 70, 70]),
        (np.full((1, 40, 40, 3), 90, np.uint8), [90, 90, 90]),  # a batch of one
    ],
    ids=["uint8", "uint16-max", "uint16-half", "float01", "float255", "float-over", "HW", "HW1", "batch1"],
)
def test_arrays(array, expected):
    out = load_image(array)
    assert out.dtype == np.float32 and out.shape == (40, 40, 3)
    assert out[7, 9].tolist() == expected


def test_rgba_array_is_composited_on_white():
    a = np.zeros((40, 40, 4), np.uint8)
    a[..., :3] = [10, 20, 30]
    a[..., 3] = 255
    a[0, 0, 3] = 0
    out = load_image(a)
    assert out[0, 0].tolist() == WHITE
    assert out[1, 1].tolist() == [10, 20, 30]


def test_random_float_array_round_trips():
    a = noise()
    np.testing.assert_array_equal(load_image(a.astype(np.float32)), a)
    np.testing.assert_array_equal(load_image(Image.fromarray(a)), a)


@pytest.mark.parametrize(
    "array",
    [np.zeros((40, 40, 2)), np.zeros((2, 40, 40, 3)), np.zeros(40), np.full((40, 40, 3), np.nan)],
    ids=["2-channels", "batch2", "1d", "nan"],
)
def test_bad_arrays(array):
    with pytest.raises(ImageError):
        load_image(array)


# --- EXIF orientation ----------------------------------------------------------------


@pytest.mark.parametrize("orientation, top_is_red", [(6, True), (8, False)])
def test_exif_rotated_jpeg(tmp_path, orientation, top_is_red):
    a = np.zeros((48, 96, 3), np.uint8)  # wide: left half red, right half blue
    a[:, :48] = [255, 0, 0]
    a[:, 48:] = [0, 0, 255]
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = save(Image.fromarray(a), tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    out = load_image(path)
    assert out.shape == (96, 48, 3)  # tall, as the phone showed it
    top, bottom = out[:40].mean(axis=(0, 1)), out[-40:].mean(axis=(0, 1))
    red, blue = (top, bottom) if top_is_red else (bottom, top)
    assert red[0] > 200 and red[2] < 50
    assert blue[2] > 200 and blue[0] < 50


# --- clear one-line errors -------------------------------------------------------------


def assert_one_line_naming(exc: pytest.ExceptionInfo, path: Path):
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_file(tmp_path, suffix, monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", False)
    whole = save(Image.fromarray(noise(64, 64)), tmp_path / f"whole{suffix}")
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError) as exc:
        load_image(cut)
    assert_one_line_naming(exc, cut)


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_text("this is not a picture\nsecond line\n")
    with pytest.raises(ImageError) as exc:
        load_image(path)
    assert_one_line_naming(exc, path)
    assert isinstance(exc.value, ValueError)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.jpg"
    with pytest.raises(ImageError, match="no such file") as exc:
        load_image(str(path))
    assert_one_line_naming(exc, path)


def test_folder(tmp_path):
    with pytest.raises(ImageError, match="folder") as exc:
        load_image(tmp_path)
    assert_one_line_naming(exc, tmp_path)


@pytest.mark.parametrize("size", [(20, 20), (100, MIN_SIDE - 1)])
def test_tiny_image(tmp_path, size):
    path = save(Image.new("RGB", size), tmp_path / "tiny.png")
    with pytest.raises(ImageError, match="too small") as exc:
        load_image(path)
    assert_one_line_naming(exc, path)
    assert load_image(Image.new("RGB", (MIN_SIDE, MIN_SIDE))).shape == (MIN_SIDE, MIN_SIDE, 3)


def test_resizing_below_the_minimum_is_refused(tmp_path):
    panorama = save(Image.new("RGB", (2000, 100)), tmp_path / "panorama.png")
    with pytest.raises(ImageError, match="too small") as exc:
        load_image(panorama, max_size=512)  # would be 512x26
    assert_one_line_naming(exc, panorama)
    with pytest.raises(ImageError, match="too small"):
        load_image(panorama, size=(20, 20))
    with pytest.raises(ImageError, match="too small"):
        load_image(panorama, max_size=16)


@pytest.mark.parametrize("limit", [1000, 3000])  # over 2x the limit: Pillow's error; 1x-2x: its warning
def test_decompression_bomb(tmp_path, monkeypatch, limit):
    path = save(Image.new("RGB", (64, 64)), tmp_path / "bomb.png")  # 4096 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(ImageError, match="too many pixels") as exc:
        load_image(path)
    assert_one_line_naming(exc, path)


# --- resizing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wh, max_size, expected_hw",
    [((200, 100), 64, (32, 64)), ((100, 300), 150, (150, 50)), ((40, 80), 160, (160, 80)), ((500, 333), 512, (341, 512))],
    ids=["wide", "tall", "enlarge", "rounding"],
)
def test_max_size_keeps_aspect_ratio(wh, max_size, expected_hw):
    out = load_image(Image.fromarray(noise(wh[1], wh[0])), max_size=max_size)
    assert out.shape == (*expected_hw, 3)
    assert images.fit_size(wh[1], wh[0], max_size) == expected_hw


def test_size_is_exact_height_width():
    out = load_image(Image.fromarray(noise(48, 64)), size=(40, 90))
    assert out.shape == (40, 90, 3)
    out = load_image(Image.fromarray(noise(48, 64)), size=(48, 64))
    np.testing.assert_array_equal(out, noise(48, 64))


def test_cover_size_and_center_crop():
    assert images.cover_size(100, 200, (64, 64)) == (64, 128)
    assert images.cover_size(300, 100, (50, 80)) == (240, 80)
    a = np.arange(10 * 12 * 3).reshape(10, 12, 3)
    crop = images.center_crop(a, (4, 6))
    assert crop.shape == (4, 6, 3)
    np.testing.assert_array_equal(crop, a[3:7, 3:9])
    assert images.resize(noise(), (33, 45)).shape == (33, 45, 3)


# --- VGG16 preprocessing ------------------------------------------------------------------


def test_preprocess_deprocess_round_trip_is_exact():
    a = noise(37, 53, seed=3)
    x = preprocess(a.astype(np.float32))
    assert x.dtype == np.float32 and x.shape == a.shape
    back = deprocess(x)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, a)
    np.testing.assert_array_equal(deprocess(x[None]), a)  # batch of one


def test_preprocess_matches_keras():
    from keras.applications import vgg16

    a = rng(4).uniform(0, 255, (2, 33, 47, 3)).astype(np.float32)
    expected = np.asarray(vgg16.preprocess_input(a.copy()))
    np.testing.assert_allclose(preprocess(a), expected, atol=1e-4)
    np.testing.assert_allclose(preprocess(a[0]), expected[0], atol=1e-4)
    assert preprocess(a).shape == (2, 33, 47, 3)


def test_preprocess_is_bgr_minus_means():
    x = preprocess(np.array([[[255.0, 0.0, 0.0]]]))  # pure red
    np.testing.assert_allclose(x[0, 0], [-103.939, -116.779, 255 - 123.68], atol=1e-4)


def test_deprocess_accepts_a_tensor_and_clips():
    import tensorflow as tf

    x = tf.constant(preprocess(noise(32, 32).astype(np.float32))[None])
    assert deprocess(x).shape == (32, 32, 3)
    out = deprocess(np.full((1, 32, 32, 3), 1000.0, np.float32))
    assert out.dtype == np.uint8 and out.max() == 255 and out.min() == 255


# --- saving ----------------------------------------------------------------------------------


def test_save_png_round_trip_is_lossless(tmp_path):
    a = noise(40, 50, seed=5)
    path = save_image(a, tmp_path / "sub" / "out.png")  # creates the folder
    assert path.exists()
    np.testing.assert_array_equal(load_image(path), a)
    save_image(a.astype(np.float32) + 0.2, path)  # float, overwrite by default
    np.testing.assert_array_equal(load_image(path), a)


def test_save_refuses_to_overwrite(tmp_path):
    path = save_image(noise(), tmp_path / "out.png")
    before = path.read_bytes()
    with pytest.raises(ImageError, match="already exists"):
        save_image(noise(seed=9), path, overwrite=False)
    assert path.read_bytes() == before
    with pytest.raises(ImageError):
        save_image(noise(), tmp_path / "out.gif")


def test_save_jpeg(tmp_path):
    a = noise(40, 50)
    out = load_image(save_image(a, tmp_path / "out.jpg"))
    assert out.shape == (40, 50, 3)
    assert Image.open(tmp_path / "out.jpg").format == "JPEG"


# --- the project's own pictures ------------------------------------------------------------------

PICTURES = sorted((REPO / "images").glob("*/*.jpg"))


def test_all_pictures_are_present():
    assert len(list((REPO / "images" / "content").glob("*.jpg"))) == 5
    assert len(list((REPO / "images" / "styles").glob("*.jpg"))) == 8


@pytest.mark.parametrize("path", PICTURES, ids=[p.name for p in PICTURES])
def test_pictures_load_and_are_credited(path):
    with Image.open(path) as img:
        assert img.format == "JPEG" and img.mode == "RGB"
        assert 512 <= max(img.size) <= 1600
    assert path.stat().st_size < 600_000
    assert f"`{path.name}`" in (REPO / "images" / "CREDITS.md").read_text(encoding="utf8")
    out = load_image(path, max_size=64)
    assert max(out.shape[:2]) == 64


# --- true causes, regular files only, no silent NaN (issue 14) -------------------------------


def test_a_fifo_is_refused_at_once(tmp_path):
    import os
    import subprocess
    import sys

    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    code = (f"from helpers.images import load_image, ImageError\ntry:\n    load_image({str(fifo)!r})\n"
            f"except ImageError as e:\n    print(e)")
    # A subprocess with a timeout: if load_image opened the FIFO, it would wait forever for a writer.
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert result.stdout.strip() == f"{fifo}: is a named pipe (FIFO), not a regular file", result.stderr


def test_a_device_is_refused():
    with pytest.raises(ImageError, match="/dev/zero: is a device"):
        load_image("/dev/zero")


@pytest.mark.parametrize("code, words, environment", [
    (13, "permission denied", False),  # EACCES
    (5, "input/output error", True),  # EIO
])
def test_an_unreadable_file_is_not_damaged_image_data(tmp_path, monkeypatch, code, words, environment):
    import os

    path = save(Image.fromarray(noise()), tmp_path / "photo.png")

    def unreadable(*args, **kwargs):  # root can read anything: make open() fail as it would for a user
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(images, "open", unreadable, raising=False)
    with pytest.raises(ImageError) as exc:
        load_image(path)
    assert_one_line_naming(exc, path)
    assert words in str(exc.value) and "damaged" not in str(exc.value)
    assert exc.value.environment is environment


def test_symlink_loop_and_long_name(tmp_path):
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    with pytest.raises(ImageError, match="symbolic links"):
        load_image(loop)
    with pytest.raises(ImageError, match="too long"):
        load_image(tmp_path / ("x" * 300 + ".jpg"))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_tiff_with_nan_or_inf_is_an_error_not_a_black_picture(tmp_path, bad):
    import warnings

    a = np.linspace(0, 1, 40 * 40, dtype=np.float32).reshape(40, 40)
    a[3, 4] = bad
    path = save(Image.fromarray(a, mode="F"), tmp_path / "float.tif")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "invalid value encountered in cast" on the way
        with pytest.raises(ImageError, match="NaN or infinite") as exc:
            load_image(path)
    assert_one_line_naming(exc, path)


def test_npy_array_with_nan_is_an_error(tmp_path):
    a = np.full((40, 40, 3), 0.5, dtype=np.float32)
    a[0, 0, 0] = np.nan
    np.save(tmp_path / "photo.npy", a)
    with pytest.raises(ImageError, match="NaN or infinite"):
        load_image(np.load(tmp_path / "photo.npy"))


def test_save_is_atomic_a_full_disk_keeps_the_old_picture(tmp_path, monkeypatch):
    import errno
    import os

    from helpers import files

    path = save_image(noise(), tmp_path / "out.png")
    before = path.read_bytes()
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left")))
    with pytest.raises(ImageError) as exc:
        save_image(noise(seed=3), path, overwrite=True)
    assert_one_line_naming(exc, path)
    assert "no space left" in str(exc.value) and exc.value.environment
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(files.TEMP_PREFIX)]


def test_save_or_rescue_keeps_the_picture_when_the_folder_is_unwritable(tmp_path, read_only_folder, monkeypatch):
    target = tmp_path / "out" / "result.png"
    read_only_folder(target.parent)
    a = noise(40, 50, seed=4)
    saved, note = images.save_image_or_rescue(a, target, overwrite=False)
    monkeypatch.undo()
    assert saved != target and "read-only file system" in note and str(saved) in note
    np.testing.assert_array_equal(load_image(saved), a)


def test_style_is_checked_as_a_style(tmp_path):
    strip = save(Image.fromarray(noise(32, 4000)), tmp_path / "strip.png")
    painting = save(Image.fromarray(noise(300, 400)), tmp_path / "painting.png")
    plenty = 1e12
    assert images.check_style(strip, content_hw=(32, 32), memory=plenty) == (32, 4000)
    assert images.check_style(painting, content_hw=(32, 32), memory=plenty) == (32, 43)  # a 4:3 painting at size 32
    assert images.style_shape((300, 400), (32, 32), style_scale=0.5) == (32, 32)  # never under MIN_SIDE
    assert images.style_shape((300, 400), (50, 60), style_fit="stretch") == (50, 60)
    from helpers.budget import SizeError

    with pytest.raises(SizeError) as exc:  # covering a 512 px square makes the strip 512 x 64000 px
        images.check_style(strip, content_hw=(512, 512), memory=4e9)
    assert_one_line_naming(exc, strip)
    assert "512x64000" in str(exc.value)
    with pytest.raises(ImageError) as exc:
        images.check_style(tmp_path / "missing.jpg", content_hw=(64, 64))
    assert_one_line_naming(exc, tmp_path / "missing.jpg")
