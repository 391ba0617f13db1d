"""Explanations: ``Interpreter(clf)(x, class_index) -> maps (N, H, W) in [0, 1]``.

Grad-CAM, Grad-CAM++, Score-CAM, Saliency and SmoothGrad come from
tf-keras-vis (the reference). CAM, GradCAMXLA and Grad are compiled and
differentiable (``.maps(x, class_index)`` works inside tf.GradientTape);
they agree with tf-keras-vis (tests/interpret/test_differentiable.py).
"""

from __future__ import annotations

from . import metrics
from .base import Interpreter, normalize_maps
from .differentiable import CAM, Differentiable, Grad, GradCAMXLA
from .occlusion import Occlusion
from .overlay import overlay, show
from .perturbation import MASK
from .rts import RTS, train_rts
from .visual import GradCAM, GradCAMPlusPlus, Saliency, ScoreCAM, SmoothGrad

REGISTRY: dict[str, type[Interpreter]] = {
    cls.name: cls
    for cls in (CAM, GradCAM, GradCAMXLA, Grad, GradCAMPlusPlus, ScoreCAM, Saliency, SmoothGrad, MASK, RTS,
                Occlusion)
}


def get(name: str, clf, **params) -> Interpreter:
    """Builds an interpreter by name for ``clf``."""
    def norm(text):
        return text.lower().replace("_", "").replace("-", "").replace("plusplus", "++").replace("pp", "++")

    table = {norm(k): cls for k, cls in REGISTRY.items()}
    if norm(name) not in table:
        raise ValueError(f"unknown interpreter {name!r}; available: {sorted(REGISTRY)}. Received: name={name!r}")
    return table[norm(name)](clf, **params)


DIFFERENTIABLE = ("gradcam", "cam", "grad")
"""Names ``differentiable`` takes: the compiled twins that run inside a TensorFlow graph."""


COMPILED_TWINS = {"gradcam": "gradcam_xla"}
"""Names whose compiled, differentiable twin ``compiled`` builds instead of the tf-keras-vis reference."""


def compiled(interpreter, clf, **params) -> Interpreter:
    """An interpreter for ``clf`` to compute with: a name (``gradcam`` gives its compiled twin) or an instance.

    An instance must have been built on ``clf``. Attacks on interpreters,
    the multiple-interpreter detector and ``differentiable`` resolve their
    interpreters here.
    """
    if isinstance(interpreter, Interpreter):
        if interpreter.clf is not clf:
            raise ValueError(f"interpreter {interpreter!r} was built on another classifier; build it on this clf.")
        return interpreter
    key = interpreter.lower().replace("-", "_")
    return get(COMPILED_TWINS.get(key, key), clf, **params)


def differentiable(interpreter, clf, *, jit_compile="auto") -> Differentiable:
    """A differentiable interpreter for ``clf``: a name from ``DIFFERENTIABLE`` or an instance built on ``clf``.

    ``gradcam`` is the compiled twin ``GradCAMXLA``. Detectors and serving
    graphs take their maps from here (pure TensorFlow, one forward pass
    shared with the logits through ``maps_and_logits``).
    """
    if isinstance(interpreter, Differentiable):
        return compiled(interpreter, clf)
    if isinstance(interpreter, str):
        key = interpreter.lower().replace("-", "").replace("_", "")
        names = {"gradcam": "gradcam", "gradcamxla": "gradcam", "cam": "cam", "grad": "grad"}
        if key in names:
            return compiled(names[key], clf, jit_compile=jit_compile)
    raise ValueError(f"interpreter must be one of {DIFFERENTIABLE} or a differentiable interpreter "
                     f"(CAM, GradCAMXLA, Grad) instance. Received: interpreter={interpreter!r}")


__all__ = [
    "Interpreter", "CAM", "GradCAMXLA", "Grad", "MASK", "RTS", "train_rts", "GradCAM",
    "GradCAMPlusPlus", "ScoreCAM", "Saliency", "SmoothGrad", "get", "REGISTRY", "overlay", "show",
    "normalize_maps", "metrics", "Differentiable", "differentiable", "DIFFERENTIABLE", "compiled", "COMPILED_TWINS",
]
