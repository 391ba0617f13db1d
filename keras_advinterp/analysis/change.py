"""Top-1 label and confidence before and after an intervention, and the change statistics of Ding et al."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..models import Classifier


@dataclass
class Top1:
    """Each image's top-1 class index, its name and its softmax confidence in [0, 1]."""

    label: np.ndarray
    confidence: np.ndarray
    names: list[str]

    def __len__(self) -> int:
        return len(self.label)


def top1(clf: Classifier, x, *, batch_size: int = 64) -> Top1:
    """The top-1 prediction of ``clf`` on each image of ``x`` (checked as every input is)."""
    p = clf.probabilities(x, batch_size=batch_size)
    label = p.argmax(1).astype(np.int32)
    return Top1(label, p[np.arange(len(p)), label].astype(np.float32), [clf.class_names[i] for i in label])


def change_statistics(before: Top1, after: Top1) -> dict:
    """Ding et al.'s "change statistics" row: how much an intervention moved the top-1 predictions.

    Over the images whose top-1 label did not change, ``mean_abs_change``
    is the mean of |confidence before - confidence after| in percentage
    points (our reading of the paper's "average differences between the
    confidence values of label-unchanged categories before and after the
    change"; a larger value is a larger change); ``mean_change`` is the
    signed mean (after - before: negative when confidence fell).
    ``changed`` counts the images whose label changed.
    """
    if len(before) != len(after):
        raise ValueError(f"before and after must describe the same images. Received: {len(before)} and "
                         f"{len(after)} images")
    same = before.label == after.label
    diff = (after.confidence[same].astype(np.float64) - before.confidence[same]) * 100
    return {
        "images": int(len(before)),
        "changed": int((~same).sum()),
        "unchanged": int(same.sum()),
        "mean_abs_change": float(np.abs(diff).mean()) if diff.size else None,
        "mean_change": float(diff.mean()) if diff.size else None,
    }
