"""Data sets as raw pixels in [0, 1]: generated shapes, digits, photos, folders.

``load(name)`` returns a ``Data`` that unpacks as ``x, y = load(...)`` and
carries masks and concept labels where the set has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import digits, photos, shapes
from .folder import LABELS_FILENAME, FolderIndex, folder_dataset, index_folder, load_folder
from .imagenet import imagenet_class_index, imagenet_class_names, imagenet_synsets
from .images import DEFAULT_BACKGROUND, RESIZE_MODES, UnreadableImageError, read_image, read_images
from .labels import UNMATCHED_POLICIES, match_class_names
from .save import save_adversarial_folder

NAMES = ("shapes", "digits", "photos")


@dataclass
class Data:
    """Images ``x`` (N, H, W, C) float32 in [0, 1] and int labels ``y`` (N,).

    ``masks`` (N, H, W) bool marks the object where known; ``concepts``
    holds extra per-image labels (e.g. colour, texture for shapes). For a
    folder, ``files`` are the images read, ``skipped`` the (path relative
    to the folder, reason) pairs left out, and ``y`` is -1 where the label
    must come from the model's predictions.
    """

    x: np.ndarray
    y: np.ndarray
    class_names: list[str]
    name: str
    masks: np.ndarray | None = None
    concepts: dict[str, np.ndarray] = field(default_factory=dict)
    files: list[str] | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __iter__(self):
        return iter((self.x, self.y))

    def __len__(self) -> int:
        return len(self.x)

    def describe(self) -> dict:
        return {"name": self.name, "count": len(self), "shape": list(self.x.shape[1:])}


def load(name: str, split: str = "test", limit: int | None = None, *, seed: int = 0, size=None, channels: int = 3,
         class_names=None, unmatched: str = "error", resize: str = "center-crop",
         background=DEFAULT_BACKGROUND) -> Data:
    """Loads a data set by name, or an image folder by path.

    Args:
        name: ``shapes``, ``digits``, ``photos`` or a folder path.
        split: ``train``, ``val`` (shapes only) or ``test``.
        limit: keep the first ``limit`` images (same images for any limit;
            for folders, unreadable files do not count).
        seed: generation / split seed.
        size: (H, W) for folders and photos.
        channels: 1 or 3 for folders.
        class_names: folders only: the model's class names; labels become
            indices into them (see ``match_class_names``). None keeps the
            sorted folder names.
        unmatched: folders only: ``"error"`` or ``"predict"`` for class
            names that match no model class.
        resize, background: folders only: see ``read_image``.
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
        x, y, idx = load_folder(name, size=size or (224, 224), channels=channels, class_names=class_names,
                                unmatched=unmatched, limit=limit, resize=resize, background=background)
        return Data(x, y, idx.class_names, str(name), files=[str(f) for f in idx.files], skipped=idx.skipped)
    raise ValueError(f"unknown data set {name!r}: expected one of {NAMES} or an existing folder. "
                     f"Received: name={name!r}")


__all__ = ["Data", "load", "NAMES", "load_folder", "folder_dataset", "index_folder", "FolderIndex", "read_image",
           "read_images", "RESIZE_MODES", "DEFAULT_BACKGROUND", "UnreadableImageError", "match_class_names",
           "UNMATCHED_POLICIES", "save_adversarial_folder", "LABELS_FILENAME",
           "imagenet_class_index", "imagenet_class_names", "imagenet_synsets"]
