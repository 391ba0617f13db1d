"""Image folders: ``class/*.jpg`` layout, or a flat folder plus a labels file.

Files that cannot be read are reported (a warning ``skipped dog/empty.png:
empty file`` and the ``skipped`` list of (relative path, reason)) and left
out; they never stop a run. Hidden files are ignored silently. Given a
model's ``class_names``, folder classes are matched to them by name (see
``labels.match_class_names``), never by sorted order. A ``labels.csv`` at
the folder root (as ``save_adversarial_folder`` writes) is read
automatically. Large folders stream through tf.data with the same reader.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .images import DEFAULT_BACKGROUND, UnreadableImageError, check_read_args, read_image, read_images
from .labels import check_unmatched, is_index, lookup, match_class_names, read_labels_table

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
LABELS_FILENAME = "labels.csv"

__all__ = ["FolderIndex", "index_folder", "load_folder", "folder_dataset", "read_image", "read_images",
           "IMAGE_EXTENSIONS", "LABELS_FILENAME"]


@dataclass
class FolderIndex:
    """Files of an image folder with their labels, and after ``load_folder`` their pixels.

    ``labels`` (also ``y``) (N,) int32 index ``class_names`` (the model's
    names when given, else the sorted sub-folder names); -1 marks an image
    whose label is unknown and must come from predictions. ``x`` (N, H, W,
    C) float32 in [0, 1] once loaded, else None. ``skipped`` holds (path
    relative to ``root``, reason) pairs; ``unmatched`` the class names that
    matched no model class (their images are labelled -1); ``label_source``
    says in words where the labels came from. Unpacks as ``x, y, index``.
    """

    root: Path
    files: list[Path]
    labels: np.ndarray
    class_names: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    folder_classes: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    labels_file: Path | None = None
    label_source: str = ""
    x: np.ndarray | None = None

    @property
    def y(self) -> np.ndarray:
        return self.labels

    def __iter__(self):
        return iter((self.x, self.labels, self))

    def relative(self, path) -> str:
        """``path`` relative to the folder root, as a posix string (``dog/a.png``)."""
        return Path(path).relative_to(self.root).as_posix()

    def skipped_lines(self) -> list[str]:
        """One readable line per skipped file: ``skipped dog/empty.png: empty file``."""
        return [f"skipped {rel}: {why}" for rel, why in self.skipped]


def index_folder(root, labels_file=None, *, class_names=None, unmatched: str = "error") -> FolderIndex:
    """Lists the images under ``root`` and labels them.

    Layouts: ``root/<class>/<image>`` when ``root`` has sub-folders (files
    directly in ``root`` are skipped as "not in a class folder";
    sub-folders of a class folder as "subfolder ignored"), else a flat
    ``root/<image>``.

    Labels, in order of precedence: a labels table (``labels_file``, or
    ``root/labels.csv`` when present: ``file,label`` rows with the file
    relative to ``root``, the label a class index or a class name), then
    the class folder's name; -1 (in the table, or for a flat folder's
    unlisted file) means unknown. With ``class_names`` (the model's),
    indices in the table must lie in ``range(len(class_names))`` and names
    are matched to ``class_names`` by ``match_class_names``. Without it
    (data-only use) the sorted class folder names are the classes; if a
    table is present, labels come only from it (names as indices into its
    sorted names). Hidden files and folders (``.DS_Store``) are ignored.

    Args:
        root: the folder.
        labels_file: a labels table; default ``root/labels.csv`` if present.
        class_names: the model's class names in logit order, or None.
        unmatched: ``"error"`` (raise for names matching no model class) or
            ``"predict"`` (label their images -1).
    """
    check_unmatched(unmatched)
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder does not exist: {str(root)!r}")
    if labels_file is None and (root / LABELS_FILENAME).is_file():
        labels_file = root / LABELS_FILENAME
    labels_file = Path(labels_file) if labels_file is not None else None
    files, classes, folder_classes, skipped = _list_images(root, labels_file)
    table = read_labels_table(labels_file) if labels_file is not None else {}
    cells = [lookup(table, f.relative_to(root).as_posix()) for f in files]
    from_table = [None if t is None else int(t) if is_index(t) else t for t in cells]  # int index or name
    if class_names is None:
        names, labels = _data_only_labels(from_table, classes, folder_classes, bool(table))
        lost, folder_used = [], not table and any(c is not None for c in classes)
    else:
        names, labels, lost = _model_labels(from_table, classes, list(class_names), unmatched, labels_file)
        folder_used = any(v is None and c is not None for v, c in zip(from_table, classes))
    table_used = labels_file if any(v is not None for v in from_table) else None
    source = _label_source(table_used, folder_used, class_names is not None, -1 in labels, lost)
    return FolderIndex(root, files, np.asarray(labels, np.int32).reshape(-1), names, skipped, folder_classes,
                       lost, labels_file, source)


def _data_only_labels(from_table, classes, folder_classes, has_table):
    """(class names, labels) without a model: the table alone if there is one, else sorted folder names."""
    if not has_table:
        return folder_classes, [-1 if c is None else folder_classes.index(c) for c in classes]
    names = sorted({v for v in from_table if isinstance(v, str)})
    return names, [-1 if v is None else names.index(v) if isinstance(v, str) else v for v in from_table]


def _model_labels(from_table, classes, class_names, unmatched, labels_file):
    """(class names, labels, unmatched names): table entries first, then class folders, matched to the model."""
    wanted = [v if v is not None else c for v, c in zip(from_table, classes)]
    _check_indices([v for v in wanted if isinstance(v, int)], len(class_names), labels_file)
    mapping = match_class_names(sorted({v for v in wanted if isinstance(v, str)}), class_names, unmatched=unmatched)
    labels = [-1 if v is None else mapping[v] if isinstance(v, str) else v for v in wanted]
    return class_names, labels, sorted(n for n, i in mapping.items() if i < 0)


def _label_source(table_file, folder_used: bool, matched: bool, some_unknown: bool, unmatched) -> str:
    """Where the labels came from, in words (``labels.csv, class folder names matched to ...``)."""
    parts = [table_file.name] if table_file is not None else []
    if folder_used:
        parts.append("class folder names " + ("matched to the model's classes" if matched else "in sorted order"))
    if some_unknown:
        parts.append("the model's clean predictions where no label is known")
    return ", ".join(parts) + (f" (no model class for: {', '.join(unmatched)})" if unmatched else "")


def _list_images(root: Path, labels_path):
    """(image files, their class folder name or None, class folder names, skipped), all sorted."""
    skipped, files, classes = [], [], []
    entries = [p for p in sorted(root.iterdir()) if not p.name.startswith(".")]
    class_dirs = [p for p in entries if p.is_dir()]
    for d in class_dirs:
        for f in sorted(d.iterdir()):
            if f.name.startswith("."):
                continue
            if f.is_dir():
                skipped.append((f.relative_to(root).as_posix(), "subfolder ignored"))
            elif _has_image_extension(f, root, skipped):
                files.append(f)
                classes.append(d.name)
    for f in entries:
        if f.is_dir() or (labels_path is not None and f.resolve() == labels_path.resolve()):
            continue
        if class_dirs:
            skipped.append((f.name, "not in a class folder"))
        elif _has_image_extension(f, root, skipped):
            files.append(f)
            classes.append(None)
    return files, classes, [d.name for d in class_dirs], skipped


def _has_image_extension(f: Path, root: Path, skipped) -> bool:
    if f.suffix.lower() in IMAGE_EXTENSIONS:
        return True
    skipped.append((f.relative_to(root).as_posix(), "not an image file extension"))
    return False


def _check_indices(indices, n: int, labels_file) -> None:
    bad = sorted({i for i in indices if not -1 <= i < n})  # -1: unknown, label from predictions
    if bad:
        raise ValueError(f"class indices in {str(labels_file)!r} are outside the model's {n} classes "
                         f"(0..{n - 1}): {bad[:10]}. Received: labels_file={str(labels_file)!r}")


def load_folder(root, *, size=(224, 224), channels: int = 3, class_names=None, unmatched: str = "error",
                limit=None, resize: str = "center-crop", background=DEFAULT_BACKGROUND, labels_file=None,
                warn: bool = True):
    """Reads a folder into memory, skipping unreadable files.

    Args:
        root: the folder (see ``index_folder`` for layouts and labels).
        size, channels, resize, background: as for ``read_image``.
        class_names: the model's class names: labels become indices into
            them. None keeps the sorted folder names (data-only use).
        unmatched: ``"error"`` or ``"predict"`` (see ``match_class_names``).
        limit: stop after this many readable images (unreadable files do
            not count); None reads all.
        labels_file: a labels table; default ``root/labels.csv`` if present.
        warn: also report each skipped file as a ``UserWarning``; False
            when the caller prints ``skipped`` itself.

    Returns:
        A ``FolderIndex`` (unpacks as ``x, y, index``): ``x`` (N, H, W,
        channels) float32 in [0, 1]; ``y`` (N,) int32 indices into
        ``class_names`` (-1: label from predictions); ``files`` the N files
        read; ``skipped`` the (relative path, reason) pairs left out;
        ``label_source`` where the labels came from, in words.
    """
    if limit is not None and (not isinstance(limit, int) or limit <= 0):
        raise ValueError(f"limit must be a positive int or None. Received: limit={limit!r}")
    size = _required_size(check_read_args(size, channels, resize, background))
    idx = index_folder(root, labels_file, class_names=class_names, unmatched=unmatched)
    images, keep = [], []
    for i, f in enumerate(idx.files):
        if limit is not None and len(images) == limit:
            break
        try:
            images.append(read_image(f, size, channels, resize, background=background))
            keep.append(i)
        except UnreadableImageError as e:
            idx.skipped.append((idx.relative(f), e.reason))
    if warn:
        _report(idx.skipped)
    idx.files = [idx.files[i] for i in keep]
    idx.labels = idx.labels[keep]
    if images:
        idx.x = np.stack(images)
    else:
        first = f"; {idx.skipped_lines()[0]}" if idx.skipped else ""
        raise ValueError(f"no readable images in {str(idx.root)!r} ({len(idx.skipped)} skipped{first}). "
                         f"Received: root={str(root)!r}")
    return idx


def folder_dataset(root, *, size=(224, 224), channels: int = 3, batch_size: int = 32, class_names=None,
                   unmatched: str = "error", resize: str = "center-crop", background=DEFAULT_BACKGROUND,
                   labels_file=None, warn: bool = True):
    """A batched ``tf.data.Dataset`` of (images, labels, file index) streaming from disk.

    Same reading and labelling as ``load_folder``; the file index points
    into the returned ``FolderIndex.files``. Unreadable files are reported
    and dropped as they are met (added to ``index.skipped``; a warning
    each unless ``warn=False``).
    """
    import tensorflow as tf

    size = _required_size(check_read_args(size, channels, resize, background))
    idx = index_folder(root, labels_file, class_names=class_names, unmatched=unmatched)
    report = _report if warn else (lambda skipped: None)
    report(idx.skipped)

    def gen():
        for i, f in enumerate(idx.files):
            try:
                yield read_image(f, size, channels, resize, background=background), idx.labels[i], i
            except UnreadableImageError as e:
                idx.skipped.append((idx.relative(f), e.reason))
                report(idx.skipped[-1:])

    sig = (
        tf.TensorSpec((size[0], size[1], channels), tf.float32),
        tf.TensorSpec((), tf.int32),
        tf.TensorSpec((), tf.int32),
    )
    ds = tf.data.Dataset.from_generator(gen, output_signature=sig)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE), idx


def _required_size(size):
    if size is None:
        raise ValueError(f"a folder's images need one size to form a batch. Received: size={size!r}")
    return size


def _report(skipped) -> None:
    for rel, why in skipped:
        warnings.warn(f"skipped {rel}: {why}", stacklevel=3)
