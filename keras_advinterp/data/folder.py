"""Image folders: ``class/*.jpg`` layout, or a flat folder plus a labels file.

Corrupt and non-image files are reported (a warning and ``skipped``) and
left out; they never stop a run. Large folders stream through tf.data.
"""

from __future__ import annotations

import csv
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass
class FolderIndex:
    """Files of an image folder with their labels (-1 where unknown)."""

    root: Path
    files: list[Path]
    labels: np.ndarray
    class_names: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)


def index_folder(root, labels_file=None) -> FolderIndex:
    """Lists images under ``root``.

    Layout 1: ``root/<class>/<image>`` (class names sorted = indices).
    Layout 2: flat ``root/<image>`` with optional ``labels_file``: CSV or
    whitespace lines ``filename,label`` where label is an int index or a
    class name.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder does not exist: {str(root)!r}")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    skipped: list[tuple[str, str]] = []
    if subdirs and labels_file is None:
        files, labels = [], []
        for i, d in enumerate(subdirs):
            for f in sorted(d.iterdir()):
                if _is_image_name(f, skipped):
                    files.append(f)
                    labels.append(i)
        return FolderIndex(root, files, np.asarray(labels, np.int32), [d.name for d in subdirs], skipped)
    files = [f for f in sorted(root.iterdir()) if f.is_file() and _is_image_name(f, skipped)]
    if labels_file is None:
        return FolderIndex(root, files, np.full(len(files), -1, np.int32), [], skipped)
    table = _read_labels(labels_file)
    names = sorted({v for v in table.values() if not v.lstrip("-").isdigit()})
    labels = []
    for f in files:
        v = table.get(f.name, table.get(f.stem))
        labels.append(-1 if v is None else int(v) if v.lstrip("-").isdigit() else names.index(v))
    return FolderIndex(root, files, np.asarray(labels, np.int32), names, skipped)


def _is_image_name(f: Path, skipped) -> bool:
    if f.name.startswith("."):
        return False
    if f.suffix.lower() not in IMAGE_EXTENSIONS:
        skipped.append((str(f), "not an image file extension"))
        return False
    return True


def _read_labels(path) -> dict[str, str]:
    table = {}
    with open(path, newline="") as fh:
        for row in csv.reader(fh):
            if len(row) == 1:
                row = row[0].split()
            if len(row) < 2 or row[0].strip().lower() in ("filename", "file", "image"):
                continue
            table[row[0].strip()] = row[1].strip()
    return table


def read_image(path, size=None, channels: int = 3) -> np.ndarray:
    """One image as float32 (H, W, channels) in [0, 1]; raises ValueError if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("L" if channels == 1 else "RGB")
            if size is not None:
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"cannot read image {str(path)!r}: {e}") from e
    return arr[..., None] if channels == 1 else arr


def read_images(paths, size, channels: int = 3) -> np.ndarray:
    """Image files as one float32 batch (N, H, W, channels) in [0, 1]; raises ValueError naming a bad file."""
    return np.stack([read_image(p, size, channels) for p in paths])


def load_folder(root, *, size=(224, 224), channels: int = 3, labels_file=None, limit=None):
    """Reads a whole folder into memory: (x, y, index) with bad files skipped."""
    idx = index_folder(root, labels_file)
    images, keep = [], []
    for i, f in enumerate(idx.files[:limit]):
        try:
            images.append(read_image(f, size, channels))
            keep.append(i)
        except ValueError as e:
            idx.skipped.append((str(f), str(e)))
    _report(idx.skipped)
    idx.files = [idx.files[i] for i in keep]
    idx.labels = idx.labels[keep]
    if not images:
        raise ValueError(f"no readable images in {str(idx.root)!r} ({len(idx.skipped)} skipped)")
    return np.stack(images), idx.labels, idx


def folder_dataset(root, *, size=(224, 224), channels: int = 3, batch_size: int = 32, labels_file=None):
    """A batched ``tf.data.Dataset`` of (images, labels, file index) streaming from disk.

    Unreadable files are reported and dropped as they are met.
    """
    import tensorflow as tf

    idx = index_folder(root, labels_file)
    _report(idx.skipped)

    def gen():
        for i, f in enumerate(idx.files):
            try:
                yield read_image(f, size, channels), idx.labels[i], i
            except ValueError as e:
                idx.skipped.append((str(f), str(e)))
                _report([(str(f), str(e))])

    sig = (
        tf.TensorSpec((size[0], size[1], channels), tf.float32),
        tf.TensorSpec((), tf.int32),
        tf.TensorSpec((), tf.int32),
    )
    ds = tf.data.Dataset.from_generator(gen, output_signature=sig)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE), idx


def _report(skipped) -> None:
    for path, why in skipped:
        warnings.warn(f"skipped {os.path.basename(path)}: {why}", stacklevel=3)
