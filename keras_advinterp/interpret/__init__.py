"""Explanations: ``Interpreter(clf)(x, class_index) -> maps (N, H, W) in [0, 1]``.

CAM is computed from the dense head; Grad-CAM, Grad-CAM++, Score-CAM,
Saliency and SmoothGrad come from tf-keras-vis.
"""

from __future__ import annotations

from .base import Interpreter, normalize_maps
from .cam import CAM
from . import metrics
from .overlay import overlay, show
from .visual import GradCAM, GradCAMPlusPlus, Saliency, ScoreCAM, SmoothGrad

REGISTRY: dict[str, type[Interpreter]] = {
    cls.name: cls for cls in (CAM, GradCAM, GradCAMPlusPlus, ScoreCAM, Saliency, SmoothGrad)
}


def get(name: str, clf, **params) -> Interpreter:
    """Builds an interpreter by name for ``clf``."""
    key = name.lower().replace("_", "").replace("-", "")
    key = {"gradcampp": "gradcam++", "gradcamplusplus": "gradcam++"}.get(key, key)
    if key not in REGISTRY:
        raise ValueError(f"unknown interpreter {name!r}; available: {sorted(REGISTRY)}. Received: name={name!r}")
    return REGISTRY[key](clf, **params)


__all__ = ["Interpreter", "CAM", "GradCAM", "GradCAMPlusPlus", "ScoreCAM", "Saliency", "SmoothGrad",
           "get", "REGISTRY", "overlay", "show", "normalize_maps", "metrics"]
