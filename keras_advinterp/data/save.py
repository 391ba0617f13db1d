"""Writing adversarial images back to disk as a folder that reads back with its labels."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .folder import LABELS_FILENAME


def save_adversarial_folder(out, x_adv, names, labels, predictions, root=None) -> tuple[list[Path], np.ndarray]:
    """Writes lossless 8-bit PNGs with the source file names (DAmageNet style).

    Files from a folder keep their path relative to ``root`` (a
    ``class/image.jpg`` layout becomes ``class/image.png``), other files
    keep their name (``cat.jpg`` becomes ``cat.png``), and the rest (images
    of a named data set) are numbered (``000003.png``). Two sources that would land on the same
    PNG (``a.jpg`` and ``a.png``) get a numbered suffix instead of
    overwriting each other. ``labels.csv`` (``file,label,adversarial_prediction``,
    file a posix path relative to ``out``, label a model class index) lets
    ``load_folder(out, class_names=...)`` read the set back with its labels.

    Args:
        out: output folder (created).
        x_adv: (N, H, W, C) pixels in [0, 1], C = 1 or 3; rounded to 8 bits.
        names: N source file paths or display names.
        labels: N class indices (the labels attacked).
        predictions: N class indices predicted on the adversarial images.
        root: folder the sources came from, or None to number the files.

    Returns:
        (written paths, the 8-bit pixels actually saved as float32 in [0, 1]).
    """
    x_adv = np.asarray(x_adv)
    if x_adv.ndim != 4 or x_adv.shape[-1] not in (1, 3):
        raise ValueError(f"x_adv must be (N, H, W, 1 or 3) pixels. Received: x_adv.shape={x_adv.shape}")
    if not len(names) == len(labels) == len(predictions) == len(x_adv):
        raise ValueError(f"names, labels and predictions need one entry per image ({len(x_adv)}). Received: "
                         f"len(names)={len(names)}, len(labels)={len(labels)}, len(predictions)={len(predictions)}")
    from PIL import Image

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(root).resolve() if root is not None else None
    q = np.round(np.clip(x_adv, 0, 1) * 255).astype(np.uint8)
    paths, rows, used = [], [], set()
    for i, (img, name) in enumerate(zip(q, names)):
        rel = _relative_png(name, root, i)
        if rel in used:
            rel = rel.with_name(f"{rel.stem}-{i:06d}.png")
        used.add(rel)
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(path)
        paths.append(path)
        rows.append((rel.as_posix(), int(labels[i]), int(predictions[i])))
    with open(out / LABELS_FILENAME, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("file", "label", "adversarial_prediction"))
        writer.writerows(rows)
    return paths, q.astype(np.float32) / 255.0


def _relative_png(name, root, i: int) -> Path:
    source = Path(name)
    if root is not None and source.resolve().is_relative_to(root):
        return source.resolve().relative_to(root).with_suffix(".png")
    if source.is_file():  # a file given on its own (--image): keep its name
        return Path(source.stem + ".png")
    return Path(f"{i:06d}.png")
