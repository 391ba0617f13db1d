"""Explanations: ``Interpreter(clf)(x, class_index) -> maps (N, H, W) in [0, 1]``.

Grad-CAM, Grad-CAM++, Score-CAM, Saliency and SmoothGrad come from
tf-keras-vis (the reference). CAM, GradCAMXLA and Grad are compiled and
differentiable (``.maps(x, class_index)`` works inside tf.GradientTape);
they agree with tf-keras-vis (tests/interpret/test_differentiable.py).
"""

from __future__ import annotations

from . import metrics
from .base import Interpreter, normalize_maps
from .differentiable import CAM, Grad, GradCAMXLA
from .overlay import overlay, show
from .perturbation import MASK
from .rts import RTS, train_rts
from .visual import GradCAM, GradCAMPlusPlus, Saliency, ScoreCAM, SmoothGrad

REGISTRY: dict[str, type[Interpreter]] = {
    cls.name: cls
    for cls in (CAM, GradCAM, GradCAMXLA, Grad, GradCAMPlusPlus, ScoreCAM, Saliency, SmoothGrad, MASK, RTS)
}


def get(name: str, clf, **params) -> Interpreter:
    """Builds an interpreter by name for ``clf``."""
    def norm(text):
        return text.lower().replace("_", "").replace("-", "").replace("plusplus", "++").replace("pp", "++")

    table = {norm(k): cls for k, cls in REGISTRY.items()}
    if norm(name) not in table:
        raise ValueError(f"unknown interpreter {name!r}; available: {sorted(REGISTRY)}. Received: name={name!r}")
    return table[norm(name)](clf, **params)


__all__ = [
    "Interpreter", "CAM", "GradCAMXLA", "Grad", "MASK", "RTS", "train_rts", "GradCAM",
    "GradCAMPlusPlus", "ScoreCAM", "Saliency", "SmoothGrad", "get", "REGISTRY", "overlay", "show",
    "normalize_maps", "metrics",
]
