"""Image files as float pixels in [0, 1], read correctly or not at all.

Every file goes through the same steps: decode with Pillow, turn the
camera's EXIF orientation into upright pixels, scale by the file's real bit
depth (8-bit by 255, 16-bit by 65535), convert the colour mode explicitly
(palette, grey, CMYK, alpha composited over a background), then fit the
requested size. A file that cannot be read this way raises
``UnreadableImageError`` (a ``ValueError``) with a short reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

RESIZE_MODES = ("center-crop", "squash", "pad")
"""How ``read_image`` fits an image to the model input (``--resize``):

- ``center-crop`` (default): keep the aspect ratio, scale the short side to
  the target, cut the centre (the whole short side is kept, as in
  ``keras.utils.load_img(keep_aspect_ratio=True)``);
- ``squash``: scale each side to the target, distorting the aspect ratio;
- ``pad``: keep the aspect ratio, fit the long side, centre the image and
  fill the borders with the background colour (letterbox).
"""

DEFAULT_BACKGROUND = 1.0
"""White: what transparent pixels and ``pad`` borders become by default."""

# ITU-R 601-2 luma, the weights Pillow's convert("L") uses; applied in float.
LUMA = np.asarray([0.299, 0.587, 0.114], np.float32)

# 8-bit modes -> the mode Pillow converts them to before scaling by 255.
_EIGHT_BIT = {"1": "L", "L": "L", "LA": "LA", "La": "LA", "P": "RGB", "PA": "RGBA", "RGB": "RGB",
              "RGBA": "RGBA", "RGBa": "RGBA", "RGBX": "RGB", "CMYK": "RGB", "YCbCr": "RGB", "HSV": "RGB"}
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


class UnreadableImageError(ValueError):
    """A file that is not a readable image; ``reason`` is short (``empty file``, ``truncated``, ...)."""

    def __init__(self, path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"cannot read image {self.path!r}: {reason}")


def read_image(path, size=None, channels: int = 3, resize: str = "center-crop", *,
               background=DEFAULT_BACKGROUND) -> np.ndarray:
    """Reads one image file as float32 pixels in [0, 1].

    Args:
        path: image file (any format Pillow reads; animated files give their
            first frame).
        size: (H, W) of the result, an int for a square, or None to keep the
            file's size (after EXIF orientation).
        channels: 3 (RGB; grey files are repeated) or 1 (grey; colour files
            become ITU-R 601-2 luma).
        resize: one of ``RESIZE_MODES``; used only when ``size`` differs from
            the image's size. Resampling is bilinear, antialiased when shrinking.
        background: grey level in [0, 1] or an (r, g, b) triple in [0, 1]:
            transparent pixels are composited over it and ``pad`` borders are
            filled with it. Default white.

    Returns:
        float32 array (H, W, channels) in [0, 1].

    Raises:
        UnreadableImageError: (a ``ValueError``) missing or unopenable file,
            empty file, not an image, truncated or corrupt data, or pixels
            without a known white level.
        ValueError: a bad ``size``, ``channels``, ``resize`` or ``background``.
    """
    size = check_read_args(size, channels, resize, background)
    pixels = to_channels(decode(path), channels, background)
    return pixels if size is None else fit(pixels, size, resize, background)


def read_images(paths, size, channels: int = 3, resize: str = "center-crop", *,
                background=DEFAULT_BACKGROUND) -> np.ndarray:
    """Image files as one float32 batch (N, H, W, channels) in [0, 1].

    Same arguments as ``read_image``; ``size`` is needed unless all files
    have the same size. Raises ``UnreadableImageError`` naming the first bad file.
    """
    return np.stack([read_image(p, size, channels, resize, background=background) for p in paths])


def check_read_args(size, channels, resize, background):
    """Validates ``read_image`` arguments early; returns ``size`` as an (H, W) tuple or None."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB). Received: channels={channels!r}")
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}. Received: resize={resize!r}")
    bg = np.asarray(background, np.float64)
    if bg.shape not in ((), (3,)) or not np.all((bg >= 0) & (bg <= 1)):
        raise ValueError(f"background must be a grey level or an (r, g, b) triple in [0, 1]. "
                         f"Received: background={background!r}")
    if size is None:
        return None
    pair = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in pair):
        raise ValueError(f"size must be None, a positive int or (height, width). Received: size={size!r}")
    return int(pair[0]), int(pair[1])


def decode(path) -> np.ndarray:
    """Decoded, upright pixels as float32 (H, W, k) in [0, 1], k = 1 (grey), 2 (+alpha), 3 (RGB) or 4 (RGBA)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        fh = open(path, "rb")
    except OSError as e:  # missing, a directory, no permission
        raise UnreadableImageError(path, (e.strerror or type(e).__name__).lower()) from e
    try:
        with fh, Image.open(fh) as im:
            im.load()
            bits = _declared_bits(im)
            upright = ImageOps.exif_transpose(im)
    except UnidentifiedImageError:
        reason = "empty file" if path.stat().st_size == 0 else "not an image"
        raise UnreadableImageError(path, reason) from None
    except Image.DecompressionBombError as e:
        raise UnreadableImageError(path, f"too large to decode safely ({e})") from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        text = str(e)
        reason = "truncated" if "truncat" in text.lower() else f"corrupt image data ({text})"
        raise UnreadableImageError(path, reason) from e
    return _scaled_pixels(upright, bits, path)


def _declared_bits(im):
    """Bits per sample the file declares for 32-bit integer (mode ``I``) pixels, or None."""
    if im.mode != "I":
        return None
    if im.format == "PNG":  # Pillow versions that open 16-bit grey PNGs as I
        return 16
    bits = getattr(im, "tag_v2", {}).get(258)  # TIFF BitsPerSample
    return bits[0] if isinstance(bits, tuple) and len(bits) == 1 else bits


def _scaled_pixels(im, bits, path) -> np.ndarray:
    mode = im.mode
    if mode in _EIGHT_BIT:
        target = _EIGHT_BIT[mode]
        if target in ("L", "RGB") and ("transparency" in im.info or (mode == "P" and im.palette.mode == "RGBA")):
            target += "A"
        arr = np.asarray(im if mode == target else im.convert(target), np.float32) / 255.0
    elif mode in _SIXTEEN_BIT:
        arr = np.asarray(im).astype(np.float32) / 65535.0
    elif mode == "I":
        arr = np.asarray(im)
        if bits not in (8, 16) or arr.min() < 0:
            raise UnreadableImageError(
                path, f"32-bit integer pixels (values {arr.min()}..{arr.max()}, {bits or 'unknown'} bits declared) "
                      "have no known white level; save the image as an 8- or 16-bit PNG")
        arr = arr.astype(np.float32) / float(2**bits - 1)
    elif mode == "F":
        arr = np.asarray(im, np.float32)
        if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
            raise UnreadableImageError(
                path, f"floating-point pixels outside [0, 1] (min {np.nanmin(arr):.4g}, max {np.nanmax(arr):.4g}); "
                      "rescale them to [0, 1] or save the image as an 8- or 16-bit PNG")
    else:
        raise UnreadableImageError(path, f"colour mode {mode} is not supported; convert the image to RGB")
    return arr.reshape(arr.shape[0], arr.shape[1], -1)


def to_channels(pixels: np.ndarray, channels: int, background=DEFAULT_BACKGROUND) -> np.ndarray:
    """(H, W, k) pixels from ``decode`` -> (H, W, channels), alpha composited over ``background``.

    Grey becomes RGB by repetition, RGB becomes grey by ITU-R 601-2 luma;
    compositing is ``colour * alpha + background * (1 - alpha)``.
    """
    k = pixels.shape[-1]
    alpha = pixels[..., -1:] if k in (2, 4) else None
    colour = pixels[..., : k - 1] if alpha is not None else pixels
    if colour.shape[-1] == 1 and channels == 3:
        colour = np.repeat(colour, 3, axis=-1)
    elif colour.shape[-1] == 3 and channels == 1:
        colour = colour @ LUMA[:, None]
    if alpha is not None:
        colour = colour * alpha + background_pixel(background, channels) * (1.0 - alpha)
    return np.clip(colour, 0.0, 1.0).astype(np.float32)


def background_pixel(background, channels: int) -> np.ndarray:
    """``background`` as a float32 (channels,) pixel (an RGB triple becomes luma for grey)."""
    bg = np.broadcast_to(np.asarray(background, np.float32), (3,))
    if channels == 3:
        return bg
    return bg[:1] if np.all(bg == bg[0]) else (bg @ LUMA).reshape(1)  # a grey level stays exact


def fit(pixels: np.ndarray, size, resize: str = "center-crop", background=DEFAULT_BACKGROUND) -> np.ndarray:
    """Fits (h, w, C) pixels to ``size`` = (H, W) by one of ``RESIZE_MODES``; returns (H, W, C) float32."""
    h, w, c = pixels.shape
    target_h, target_w = size
    if (h, w) == (target_h, target_w):
        return pixels
    if resize == "squash":
        return _resample(pixels, (target_h, target_w), (0, 0, w, h))
    if resize == "center-crop":
        scale = max(target_h / h, target_w / w)
        crop_w, crop_h = target_w / scale, target_h / scale
        box = ((w - crop_w) / 2, (h - crop_h) / 2, (w + crop_w) / 2, (h + crop_h) / 2)
        return _resample(pixels, (target_h, target_w), box)
    scale = min(target_h / h, target_w / w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    out = np.empty((target_h, target_w, c), np.float32)
    out[...] = background_pixel(background, c)
    top, left = (target_h - new_h) // 2, (target_w - new_w) // 2
    out[top : top + new_h, left : left + new_w] = _resample(pixels, (new_h, new_w), (0, 0, w, h))
    return out


def _resample(pixels, size, box) -> np.ndarray:
    """Bilinear resampling of the (left, top, right, bottom) ``box`` to (H, W), one float channel at a time."""
    from PIL import Image

    target_h, target_w = size
    left, top, right, bottom = box
    if right - left == target_w and bottom - top == target_h and float(left).is_integer() and float(top).is_integer():
        return pixels[int(top) : int(top) + target_h, int(left) : int(left) + target_w]  # no resampling needed
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(pixels[..., i]))
                         .resize((target_w, target_h), Image.BILINEAR, box=box)) for i in range(pixels.shape[-1])]
    return np.clip(np.stack(planes, axis=-1), 0.0, 1.0).astype(np.float32)
