"""Reading a Broden folder (Bau et al.'s densely labelled concept set) for network dissection.

The layout (broden1_224 / broden1_227, as its README describes it):

- ``index.csv``: one row per image, columns ``image, split, ih, iw, sh, sw``
  then one column per category (``color, object, material, part, scene,
  texture``). ``image`` is relative to ``images/``; ``sh, sw`` is the size
  of the segmentation masks. A category cell holds zero or more entries
  separated by ``;``: a mask file name (per-pixel labels) or a decimal
  label number (a label of the whole image).
- mask files: PNG images whose pixel label is ``red + 256 * green``; 0 is
  no label.
- ``label.csv``: ``number, name, category, ...`` with category cells such as
  ``material(36);object(3)`` (the category first, then the number of images
  it was seen in). Without it, labels are named by their number and take
  the category of the column they were found in.

``load_broden`` returns images, one bool mask per concept and the concept
names and categories, ready for ``dissection.dissect``;
``broden_batches`` is the same as a ``tf.data`` stream for
``dissection.dissect_stream``. A row whose image or mask is missing or
unreadable is left out with a warning that names the file and the reason
(``BrodenSet.skipped`` keeps them); the run goes on.

    b = load_broden("broden1_224", categories=["color", "object"], limit=500)
    diss = dissection.dissect(clf, "conv5_block3_out", b.x, b.masks, b.concepts, b.categories)
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._checks import positive
from ..data.images import UnreadableImageError, read_image

BASE_COLUMNS = ("image", "split", "ih", "iw", "sh", "sw")
CATEGORIES = ("color", "object", "material", "part", "scene", "texture")


@dataclass
class BrodenSet:
    """Images (N, H, W, 3) float32 in [0, 1], concept masks (N, H, W, C) bool, and what each concept is."""

    x: np.ndarray
    masks: np.ndarray
    concepts: list[str]
    categories: list[str]
    labels: list[int]
    files: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class _Row:
    image: str
    split: str
    seg_size: tuple[int, int]
    cells: dict[str, list[str]]


def read_index(root, *, categories=None, split: str | None = None) -> tuple[list[_Row], list[str]]:
    """The rows of ``root/index.csv`` and the category columns read (``categories`` or every one present)."""
    path = Path(root) / "index.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no index.csv in the Broden folder. Received: root={str(root)!r}")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in BASE_COLUMNS if c not in header]
        if missing:
            raise ValueError(f"{path} must have the columns {list(BASE_COLUMNS)} then category columns; missing "
                             f"{missing}. Received: header={header}")
        present = [c for c in header if c not in BASE_COLUMNS]
        wanted = present if categories is None else list(categories)
        unknown = [c for c in wanted if c not in present]
        if unknown or not wanted:
            raise ValueError(f"categories must be category columns of {path}: {present}. Received: "
                             f"categories={categories!r}")
        rows = []
        for r in reader:
            if split is not None and r["split"] != split:
                continue
            try:
                seg = (int(r["sh"]), int(r["sw"]))
            except (TypeError, ValueError):
                seg = (0, 0)  # reported when the row is read
            rows.append(_Row(r["image"], r["split"], seg,
                             {c: [v for v in (r.get(c) or "").split(";") if v.strip()] for c in wanted}))
    return rows, wanted


def read_labels(root) -> dict[int, tuple[str, str]]:
    """``{label number: (name, main category)}`` from ``root/label.csv``; {} without that file."""
    path = Path(root) / "label.csv"
    if not path.is_file():
        return {}
    out = {}
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            cats = [c.split("(")[0] for c in (r.get("category") or "").split(";") if c]
            counts = [int(c.split("(")[1].rstrip(")")) if "(" in c else 0
                      for c in (r.get("category") or "").split(";") if c]
            main = cats[int(np.argmax(counts))] if cats else ""
            out[int(r["number"])] = (r["name"], main)
    return out


def read_label_mask(path) -> np.ndarray:
    """A Broden mask file's labels, ``red + 256 * green``, as int32 (h, w)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"), np.int32)
    except FileNotFoundError as e:
        raise UnreadableImageError(path, "missing file") from e
    except UnidentifiedImageError:
        raise UnreadableImageError(path, "empty file" if Path(path).stat().st_size == 0 else "not an image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise UnreadableImageError(path, f"corrupt image data ({e})") from e
    return rgb[..., 0] + 256 * rgb[..., 1]


def _nearest(labels: np.ndarray, size) -> np.ndarray:
    """Nearest-neighbour resize of a label map (never blends two labels)."""
    h, w = labels.shape
    if (h, w) == tuple(size):
        return labels
    rows = np.minimum((np.arange(size[0]) + 0.5) * h / size[0], h - 1).astype(int)
    cols = np.minimum((np.arange(size[1]) + 0.5) * w / size[1], w - 1).astype(int)
    return labels[rows][:, cols]


def _read_row(root: Path, row: _Row, size):
    """The row's image (H, W, 3) and ``{label: (H, W) bool}`` with the category each label was found under."""
    images = root / "images"
    x = read_image(images / row.image, size, 3, "squash")
    found: dict[int, tuple[np.ndarray, str]] = {}
    for cat, entries in row.cells.items():
        for entry in entries:
            if entry.strip().isdigit():  # a whole-image label
                masks = {int(entry): np.ones(x.shape[:2], bool)}
            else:
                lab = read_label_mask(images / entry)
                if row.seg_size != (0, 0) and lab.shape != row.seg_size:
                    raise UnreadableImageError(images / entry, f"mask is {lab.shape[0]}x{lab.shape[1]}, index.csv "
                                                               f"says sh x sw = {row.seg_size[0]}x{row.seg_size[1]}")
                lab = _nearest(lab, x.shape[:2])
                masks = {int(v): lab == v for v in np.unique(lab) if v != 0}
            for number, mask in masks.items():
                old = found.get(number)
                found[number] = (mask if old is None else old[0] | mask, old[1] if old else cat)
    return x, found


def _rows(root, categories, split, limit, size):
    if size is None or len(size) != 2 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in size):
        raise ValueError(f"size must be (H, W), positive integers: every image and mask is resized to it. "
                         f"Received: size={size!r}")
    rows, cats = read_index(root, categories=categories, split=split)
    if limit is not None:
        rows = rows[: positive(limit, "limit", integer=True)]
    return rows, cats


def load_broden(root, *, size=(224, 224), categories=None, concepts=None, split: str | None = None,
                limit: int | None = None) -> BrodenSet:
    """Images and per-concept masks of a Broden folder, in memory (see ``broden_batches`` for a stream).

    Args:
        root: the folder holding ``index.csv``, ``images/`` and (optionally) ``label.csv``.
        size: (H, W) the images are resized to (stretched; Broden's are square) and the masks with
            nearest-neighbour sampling.
        categories: category columns to read (default: all of ``index.csv``'s).
        concepts: label names or numbers to keep (default: every label found in the rows read, by number).
        split: ``"train"`` or ``"val"`` rows only (default: all).
        limit: read at most this many rows (before skipping unreadable ones).

    Returns:
        ``BrodenSet``; ``concepts`` are label names, ``categories`` each label's main category
        (label.csv's most frequent, else the column it was found in), ``labels`` their numbers.

    Memory: N * H * W * C bools; full Broden (63k images, 1197 labels) needs ``limit`` / ``concepts`` or the
    stream.
    """
    root = Path(root)
    rows, _ = _rows(root, categories, split, limit, size)
    names = read_labels(root)
    read, skipped = [], []
    for row in rows:
        try:
            read.append((row.image, *_read_row(root, row, size)))
        except UnreadableImageError as e:
            skipped.append((row.image, f"{Path(e.path).name}: {e.reason}"))
    for image, why in skipped:
        warnings.warn(f"Broden: skipped {image}: {why}", stacklevel=2)
    if not read:
        raise ValueError(f"no readable image in {root} ({len(skipped)} skipped, {len(rows)} rows selected)")
    found = {}
    for _, _, masks in read:
        for number, (_, cat) in masks.items():
            found.setdefault(number, cat)
    labels = _select(sorted(found), concepts, names)
    h, w = read[0][1].shape[:2]
    m = np.zeros((len(read), h, w, len(labels)), bool)
    for i, (_, _, masks) in enumerate(read):
        for j, number in enumerate(labels):
            if number in masks:
                m[i, ..., j] = masks[number][0]
    return BrodenSet(np.stack([r[1] for r in read]), m, [names.get(n, (str(n), ""))[0] for n in labels],
                     [names.get(n, ("", ""))[1] or found.get(n, "") for n in labels], labels,
                     [r[0] for r in read], skipped)


def _select(numbers, concepts, names) -> list[int]:
    if concepts is None:
        return list(numbers)
    by_name = {name: n for n, (name, _) in names.items()}
    out, unknown = [], []
    for c in concepts:
        n = int(c) if isinstance(c, (int, np.integer)) or str(c).isdigit() else by_name.get(c)
        (out if n is not None else unknown).append(n if n is not None else c)
    if unknown:
        raise ValueError(f"concepts must be label numbers or label.csv names. Received unknown: {unknown}")
    return out


def broden_batches(root, concepts, *, size=(224, 224), categories=None, split: str | None = None,
                   limit: int | None = None, batch_size: int = 32):
    """``load_broden`` as a ``tf.data.Dataset`` of ``(images, masks)`` batches, read file by file.

    ``concepts`` (names or numbers) must be given: a stream cannot look ahead for every label. Rows that
    cannot be read are skipped with a warning, as in ``load_broden``. Returns ``(dataset, names, categories)``.
    """
    import tensorflow as tf

    root = Path(root)
    rows, _ = _rows(root, categories, split, limit, size)
    batch_size = positive(batch_size, "batch_size", integer=True)
    names = read_labels(root)
    labels = _select([], concepts, names)
    size = (int(size[0]), int(size[1]))

    def gen():
        xs, ms = [], []
        for row in rows:
            try:
                x, masks = _read_row(root, row, size)
            except UnreadableImageError as e:
                warnings.warn(f"Broden: skipped {row.image}: {Path(e.path).name}: {e.reason}", stacklevel=2)
                continue
            xs.append(x)
            ms.append(np.stack([masks[n][0] if n in masks else np.zeros(size, bool) for n in labels], -1))
            if len(xs) == batch_size:
                yield np.stack(xs), np.stack(ms)
                xs, ms = [], []
        if xs:
            yield np.stack(xs), np.stack(ms)

    sig = (tf.TensorSpec((None, *size, 3), tf.float32), tf.TensorSpec((None, *size, len(labels)), tf.bool))
    ds = tf.data.Dataset.from_generator(gen, output_signature=sig)
    return ds, [names.get(n, (str(n), ""))[0] for n in labels], [names.get(n, ("", ""))[1] for n in labels]
