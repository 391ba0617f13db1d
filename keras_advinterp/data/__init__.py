"""Data sets as raw pixels in [0, 1]: generated shapes, digits, photos, folders.

``load(name)`` returns a ``Data`` that unpacks as ``x, y = load(...)`` and
carries masks and concept labels where the set has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import digits, photos, shapes
from .folder import folder_dataset, index_folder, load_folder, read_image, read_images
from .imagenet import imagenet_class_index, imagenet_class_names, imagenet_synsets

NAMES = ("shapes", "digits", "photos")


@dataclass
class Data:
    """Images ``x`` (N, H, W, C) float32 in [0, 1] and int labels ``y`` (N,).

    ``masks`` (N, H, W) bool marks the object where known; ``concepts``
    holds extra per-image labels (e.g. colour, texture for shapes).
    """

    x: np.ndarray
    y: np.ndarray
    class_names: list[str]
    name: str
    masks: np.ndarray | None = None
    concepts: dict[str, np.ndarray] = field(default_factory=dict)
    files: list[str] | None = None

    def __iter__(self):
        return iter((self.x, self.y))

    def __len__(self) -> int:
        return len(self.x)

    def describe(self) -> dict:
        return {"name": self.name, "count": len(self), "shape": list(self.x.shape[1:])}


def load(name: str, split: str = "test", limit: int | None = None, *, seed: int = 0, size=None, channels: int = 3) -> Data:
    """Loads a data set by name, or an image folder by path.

    Args:
        name: ``shapes``, ``digits``, ``photos`` or a folder path.
        split: ``train``, ``val`` (shapes only) or ``test``.
        limit: keep the first ``limit`` images (same images for any limit).
        seed: generation / split seed.
        size: (H, W) for folders and photos.
        channels: 1 or 3 for folders.
    """
    if limit is not None and (not isinstance(limit, int) or limit <= 0):
        raise ValueError(f"limit must be a positive int or None. Received: limit={limit!r}")
    if name == "shapes":
        x, y, m, c, t = shapes.generate(split, seed, limit)
        return Data(x, y, list(shapes.SHAPES), name, masks=m, concepts={"colour": c, "texture": t})
    if name == "digits":
        x, y = digits.generate(split, seed)
        return Data(x[:limit], y[:limit], list(digits.CLASS_NAMES), name)
    if name == "photos":
        x, y, names = photos.generate(size[0] if size else 224)
        return Data(x[:limit], y[:limit], imagenet_class_names(), name, files=names[:limit])
    if Path(name).is_dir():
        x, y, idx = load_folder(name, size=size or (224, 224), channels=channels, limit=limit)
        return Data(x, y, idx.class_names, str(name), files=[str(f) for f in idx.files])
    raise ValueError(f"unknown data set {name!r}: expected one of {NAMES} or an existing folder. Received: name={name!r}")


__all__ = ["Data", "load", "NAMES", "load_folder", "folder_dataset", "index_folder", "read_image", "read_images",
           "imagenet_class_index", "imagenet_class_names", "imagenet_synsets"]
