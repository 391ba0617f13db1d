"""The images the page can attack: samples from the package's data sets and uploads.

Ids are ``sample:<data set>:<index>`` (shapes, digits, photos; they work
before the page has listed them) and ``upload:<hash of the file>`` (the same
file uploaded twice is one image). Uploads beyond ``max_uploads`` drop the
oldest.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .. import data as datasets
from . import render
from .checks import RequestError

SAMPLES_PER_SET = 12


@dataclass
class Image:
    """An image: ``pixels`` (H, W, C) float32 in [0, 1] at its own size, fitted to each model when used."""

    id: str
    pixels: np.ndarray
    name: str
    label: str | None = None  # the data set's label name, for samples


class ImageStore:
    def __init__(self, max_uploads: int = 64):
        self._lock = threading.RLock()
        self._images: dict[str, Image] = {}
        self._uploads: list[str] = []
        self.max_uploads = max_uploads

    def samples(self, data_name: str) -> list[dict]:
        """The first test images of a data set, one of each class first, as ``info`` dicts."""
        with self._lock:
            ids = [i for i in self._images if i.startswith(f"sample:{data_name}:")]
            if not ids:
                d = datasets.load(data_name, "test", limit=60 if data_name != "photos" else None)
                names = d.files or []
                for k in _one_per_class_first(d.y)[:SAMPLES_PER_SET]:
                    image_id = f"sample:{data_name}:{k}"
                    name = names[k] if k < len(names) else f"{data_name} test image {k}"
                    self._images[image_id] = Image(image_id, d.x[k], name, d.class_names[int(d.y[k])])
                    ids.append(image_id)
            return [self.info(i) for i in ids]

    def add_upload(self, image_id: str, pixels: np.ndarray, name: str) -> dict:
        with self._lock:
            if image_id not in self._images:
                self._images[image_id] = Image(image_id, pixels, name)
                self._uploads.append(image_id)
                while len(self._uploads) > self.max_uploads:
                    self._images.pop(self._uploads.pop(0), None)
            return self.info(image_id)

    def get(self, image_id: str) -> Image:
        """The image, or ``RequestError`` (404) naming the id."""
        kind, _, rest = str(image_id).partition(":")
        data_name = rest.partition(":")[0]
        if image_id not in self._images and kind == "sample" and data_name in datasets.NAMES:
            self.samples(data_name)
        if image_id not in self._images:
            raise RequestError(f"unknown image {image_id!r}: pick a sample (GET /api/samples) or upload one. "
                               f"Received: image={image_id!r}", status=404)
        return self._images[image_id]

    def info(self, image_id: str) -> dict:
        im = self.get(image_id)
        return {"id": im.id, "name": im.name, "label": im.label, "size": list(im.pixels.shape[:2]),
                "thumbnail": render.png(im.pixels, scale_to=96)}


def _one_per_class_first(y: np.ndarray) -> list[int]:
    seen, first, rest = set(), [], []
    for i, c in enumerate(np.asarray(y).tolist()):
        (rest if c in seen else first).append(i)
        seen.add(c)
    return first + rest
