"""Checks on uploaded files: size, type, pixel count; then the package's honest image reader.

An upload is refused, with a message naming the file and the limit, when it
is empty or larger than ``MAX_BYTES`` (413), not an image format the page
takes (415), an image of more than ``MAX_PIXELS`` pixels (413), or an image
that does not decode (422). Accepted files are read by ``data.read_image``
(EXIF orientation, bit depth, alpha over white) and kept at most
``KEEP_SIDE`` pixels on their long side.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile

import numpy as np

from ..data import UnreadableImageError, read_image
from ..data.images import fit
from .checks import RequestError

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000
KEEP_SIDE = 1024
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")


def read_upload(blob: bytes, filename: str) -> tuple[str, np.ndarray]:
    """``(image id, pixels (H, W, 3) float32 in [0, 1])`` of an uploaded file, or ``RequestError``."""
    from PIL import Image, UnidentifiedImageError

    name = filename or "upload"
    if not blob:
        raise RequestError(f"{name!r} is an empty file; choose an image file ({', '.join(FORMATS)}).")
    if len(blob) > MAX_BYTES:
        raise RequestError(f"{name!r} is {len(blob) / 2**20:.1f} MB; the upload limit is {MAX_BYTES // 2**20} MB. "
                           "Choose a smaller image.", status=413)
    try:
        with Image.open(io.BytesIO(blob)) as im:
            kind, (w, h) = im.format, im.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise RequestError(f"{name!r} is not an image the page can read; expected one of {', '.join(FORMATS)}.",
                           status=415) from None
    if kind not in FORMATS:
        raise RequestError(f"{name!r} is a {kind} file; the page takes {', '.join(FORMATS)}.", status=415)
    if w * h > MAX_PIXELS:
        raise RequestError(f"{name!r} is {w} x {h} pixels ({w * h / 1e6:.0f} MP); the limit is "
                           f"{MAX_PIXELS / 1e6:.0f} MP. Choose a smaller image.", status=413)
    fd, path = tempfile.mkstemp(suffix=os.path.splitext(name)[1][:10])
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        pixels = read_image(path, None, 3)
    except UnreadableImageError as e:
        raise RequestError(f"{name!r} cannot be read: {e.reason}.", status=422) from None
    finally:
        os.unlink(path)
    h, w = pixels.shape[:2]
    if max(h, w) > KEEP_SIDE:
        s = KEEP_SIDE / max(h, w)
        pixels = fit(pixels, (max(1, round(h * s)), max(1, round(w * s))), "squash")
    return "upload:" + hashlib.sha1(blob).hexdigest()[:16], pixels
