"""read_image: every kind of file gives the pixels it shows, or a short reason why not."""

import numpy as np
import pytest
from PIL import Image

from keras_advinterp import data
from keras_advinterp.data.images import LUMA

RED, GREEN, BLUE = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)


def _save(tmp_path, name, im, **kwargs):
    path = tmp_path / name
    im.save(path, **kwargs)
    return path


# ---- bit depth ---------------------------------------------------------------------------------


def test_16bit_grey_png_is_scaled_by_its_depth(tmp_path):
    ramp = np.linspace(0, 65535, 7 * 9).round().astype(np.uint16).reshape(7, 9)
    path = _save(tmp_path, "g16.png", Image.fromarray(ramp))
    assert Image.open(path).mode == "I;16"
    grey = data.read_image(path, channels=1)
    np.testing.assert_allclose(grey[..., 0], ramp / 65535.0, atol=1e-6)
    rgb = data.read_image(path)
    assert rgb.shape == (7, 9, 3) and np.array_equal(rgb[..., 0], rgb[..., 2])
    assert abs(grey.mean() - 0.5) < 0.01  # was 99.5% white when 16-bit values were divided by 255


def test_16bit_rgb_png_is_read_within_one_8bit_step(tmp_path):
    import cv2

    rgb = (np.random.default_rng(1).random((6, 8, 3)) * 65535).astype(np.uint16)
    path = tmp_path / "rgb16.png"
    cv2.imwrite(str(path), rgb[..., ::-1])  # OpenCV writes BGR
    got = data.read_image(path)
    # Pillow decodes 16-bit colour PNGs to 8 bits per channel: right scale, 8-bit precision
    assert np.abs(got - rgb / 65535.0).max() < 1 / 255


def test_16bit_big_endian_tiff(tmp_path):
    values = np.array([[0, 1000, 40000], [65535, 300, 12345]], np.uint16)
    im = Image.frombytes("I;16B", (3, 2), values.astype(">u2").tobytes())
    path = _save(tmp_path, "g16b.tif", im)
    np.testing.assert_allclose(data.read_image(path, channels=1)[..., 0], values / 65535.0, atol=1e-6)


def test_float_pixels_in_unit_range_are_kept_others_refused(tmp_path):
    ok = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    got = data.read_image(_save(tmp_path, "ok.tif", Image.fromarray(ok)), channels=1)
    np.testing.assert_array_equal(got[..., 0], ok)
    with pytest.raises(ValueError, match=r"floating-point pixels outside \[0, 1\] .*rescale"):
        data.read_image(_save(tmp_path, "hdr.tif", Image.fromarray(ok * 255)))


def test_32bit_integer_pixels_are_refused_with_what_to_do(tmp_path):
    path = _save(tmp_path, "i32.tif", Image.fromarray(np.full((3, 4), 70000, np.int32)))
    with pytest.raises(ValueError, match="32-bit integer pixels .* no known white level; save .* 8- or 16-bit PNG"):
        data.read_image(path)


# ---- EXIF orientation ----------------------------------------------------------------------------


@pytest.mark.parametrize("orientation, upright", [
    (1, lambda a: a),
    (2, np.fliplr),
    (3, lambda a: np.rot90(a, 2)),
    (6, lambda a: np.rot90(a, -1)),  # camera turned clockwise: rotate 90 degrees clockwise to view
    (8, lambda a: np.rot90(a, 1)),
])
def test_exif_orientation_is_applied_png(tmp_path, orientation, upright):
    stored = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 2
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = orientation
    got = data.read_image(_save(tmp_path, "o.png", im, exif=exif))
    np.testing.assert_array_equal(got, upright(stored) / np.float32(255))


def test_exif_orientation_is_applied_jpeg(tmp_path):
    stored = np.zeros((32, 48, 3), np.uint8)
    stored[:, 24:] = 255  # left half black, right half white
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6
    got = data.read_image(_save(tmp_path, "o.jpg", im, exif=exif, quality=95), channels=1)[..., 0]
    assert got.shape == (48, 32)  # upright: portrait
    assert got[:20].max() < 0.1 and got[28:].min() > 0.9  # the left half is now on top


# ---- colour modes and alpha ------------------------------------------------------------------------

def _palette_image(transparent: bool):
    im = Image.new("P", (2, 2))
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.putdata([0, 1, 1, 0])
    if transparent:
        im.info["transparency"] = 1
    return im


def _la():
    return Image.merge("LA", [Image.new("L", (2, 2), 100), Image.new("L", (2, 2), 51)])


MODE_CASES = [
    # (name, image factory, file, channels, background, expected pixel (0, 0) or per-pixel array)
    ("L as RGB", lambda: Image.new("L", (2, 2), 51), "png", 3, 1.0, (0.2, 0.2, 0.2)),
    ("L as grey", lambda: Image.new("L", (2, 2), 51), "png", 1, 1.0, (0.2,)),
    ("1 bit", lambda: Image.new("1", (2, 2), 1), "png", 3, 1.0, (1.0, 1.0, 1.0)),
    ("palette", lambda: _palette_image(False), "png", 3, 1.0, [[RED, BLUE], [BLUE, RED]]),
    ("palette transparent", lambda: _palette_image(True), "png", 3, 1.0, [[RED, (1, 1, 1)], [(1, 1, 1), RED]]),
    ("palette transparent on black", lambda: _palette_image(True), "png", 3, 0.0, [[RED, (0, 0, 0)], [(0, 0, 0), RED]]),
    ("LA over white", _la, "png", 3, 1.0, (100 / 255 * 0.2 + 0.8,) * 3),
    ("LA over grey, as grey", _la, "png", 1, 0.5, (100 / 255 * 0.2 + 0.4,)),
    ("RGBA over white", lambda: Image.new("RGBA", (2, 2), (255, 0, 0, 51)), "png", 3, 1.0, (1.0, 0.8, 0.8)),
    ("RGBA over green", lambda: Image.new("RGBA", (2, 2), (255, 0, 0, 51)), "png", 3, GREEN, (0.2, 0.8, 0.0)),
    ("RGBA opaque", lambda: Image.new("RGBA", (2, 2), (10, 20, 30, 255)), "png", 3, 1.0,
     (10 / 255, 20 / 255, 30 / 255)),
    ("CMYK", lambda: Image.new("CMYK", (2, 2), (0, 255, 255, 0)), "tif", 3, 1.0, RED),
    ("RGB as grey", lambda: Image.new("RGB", (2, 2), (255, 0, 0)), "png", 1, 1.0, (float(LUMA[0]),)),
]


@pytest.mark.parametrize("name, make, ext, channels, background, expected", MODE_CASES, ids=[c[0] for c in MODE_CASES])
def test_colour_modes_are_converted_explicitly(tmp_path, name, make, ext, channels, background, expected):
    got = data.read_image(_save(tmp_path, f"m.{ext}", make()), channels=channels, background=background)
    want = np.asarray(expected, np.float32)
    want = np.broadcast_to(want if want.ndim == 3 else want[None, None], (2, 2, channels))
    assert got.shape == (2, 2, channels) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-6)


# ---- fitting the model input ---------------------------------------------------------------------------


def _bands(tmp_path, h, w):
    """An RGB PNG: left quarter red, middle half green, right quarter blue."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 4, 0] = a[:, w // 4 : 3 * w // 4, 1] = a[:, 3 * w // 4 :, 2] = 255
    return _save(tmp_path, "bands.png", Image.fromarray(a))


def test_center_crop_keeps_the_centre_exactly_at_scale_one(tmp_path):
    got = data.read_image(_bands(tmp_path, 10, 20), size=(10, 10))  # default resize="center-crop"
    np.testing.assert_array_equal(got, np.broadcast_to(np.float32(GREEN), (10, 10, 3)))


def test_center_crop_keeps_the_aspect_ratio_when_scaling(tmp_path):
    got = data.read_image(_bands(tmp_path, 40, 80), size=(8, 8), resize="center-crop")
    assert got.shape == (8, 8, 3)
    np.testing.assert_allclose(got[:, 1:-1], np.broadcast_to(GREEN, (8, 6, 3)), atol=1e-6)  # the green middle half
    # as if resized whole then cropped: the edge columns carry a trace of the red and blue bands, equally
    assert 0 < got[0, 0, 0] < 0.2 and got[0, -1, 2] == pytest.approx(got[0, 0, 0], abs=1e-5)


def test_squash_shows_the_whole_image(tmp_path):
    got = data.read_image(_bands(tmp_path, 40, 80), size=(8, 8), resize="squash")
    np.testing.assert_allclose(got[:, 0], np.broadcast_to(RED, (8, 3)), atol=0.01)
    np.testing.assert_allclose(got[:, 4], np.broadcast_to(GREEN, (8, 3)), atol=0.01)
    np.testing.assert_allclose(got[:, -1], np.broadcast_to(BLUE, (8, 3)), atol=0.01)


@pytest.mark.parametrize("background", [1.0, 0.0, (0.5, 0.25, 0.0)])
def test_pad_letterboxes_with_the_background(tmp_path, background):
    got = data.read_image(_bands(tmp_path, 20, 40), size=(10, 10), resize="pad", background=background)
    fill = np.broadcast_to(np.float32(background), (3,))
    # 20x40 fits as 5x10, centred: rows 2..6 hold the image, the rest is fill
    np.testing.assert_array_equal(got[:2], np.broadcast_to(fill, (2, 10, 3)))
    np.testing.assert_array_equal(got[7:], np.broadcast_to(fill, (3, 10, 3)))
    np.testing.assert_allclose(got[2:7, 0], np.broadcast_to(RED, (5, 3)), atol=0.01)
    np.testing.assert_allclose(got[2:7, -1], np.broadcast_to(BLUE, (5, 3)), atol=0.01)


def test_read_images_stacks_and_names_the_bad_file(tmp_path):
    good = _bands(tmp_path, 20, 40)
    batch = data.read_images([good, good], (6, 6), 1, "squash")
    assert batch.shape == (2, 6, 6, 1)
    (tmp_path / "bad.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"cannot read image '.*bad\.png': empty file"):
        data.read_images([good, tmp_path / "bad.png"], (6, 6))


# ---- files that are not images -------------------------------------------------------------------------


def _write(path, content):
    path.write_bytes(content)
    return path


def _truncated(tmp_path, ext):
    noise = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    path = _save(tmp_path, f"full.{ext}", Image.fromarray(noise))
    raw = path.read_bytes()
    (tmp_path / f"cut.{ext}").write_bytes(raw[: len(raw) // 2])
    return tmp_path / f"cut.{ext}"


@pytest.mark.parametrize("make, reason", [
    (lambda d: _write(d / "e.png", b""), "empty file"),
    (lambda d: _write(d / "t.png", b"hello, I am text"), "not an image"),
    (lambda d: _truncated(d, "png"), "truncated"),
    (lambda d: _truncated(d, "jpg"), "truncated"),
], ids=["empty", "text", "truncated-png", "truncated-jpeg"])
def test_unreadable_files_raise_a_short_reason(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(data.UnreadableImageError, match=f"{reason}$") as info:
        data.read_image(path, size=(8, 8))
    assert isinstance(info.value, ValueError) and info.value.reason == reason


@pytest.mark.parametrize("kwargs, match", [
    ({"channels": 4}, "Received: channels=4"),
    ({"resize": "stretch"}, "resize must be one of .*Received: resize='stretch'"),
    ({"background": 2.0}, "Received: background=2.0"),
    ({"size": (0, 5)}, r"Received: size=\(0, 5\)"),
])
def test_bad_arguments_fail_before_reading(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.read_image(tmp_path / "never-read.png", **kwargs)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(data.UnreadableImageError, match="'/no/such/image.png': no such file or directory$"):
        data.read_image("/no/such/image.png")
    with pytest.raises(data.UnreadableImageError, match="is a directory$"):
        data.read_image(tmp_path)
