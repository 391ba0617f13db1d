"""What every interpreter shares: input checks, batching, the call shape.

    maps = GradCAM(clf)(x, class_index)   # (N, H, W) float32 in [0, 1]

``class_index`` is one int for all images or one per image. Maps have the
spatial size of ``x`` and are min-max normalised per image (an all-zero
map stays zero).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod

import numpy as np

from .._batching import map_batches
from .._checks import as_labels, positive
from .._compile import cache_key, check_jit, compile_fn, resolve_jit
from ..models import Classifier


class Interpreter(ABC):
    """Base class: subclasses set ``name`` and implement ``explain_batch``.

    Subclasses with settings extend ``params()`` with every constructor
    argument they add (it is the compile-cache key).

    Args:
        clf: the Classifier to explain.
        feature_layer: 4-D layer CAM-style maps read (default: the classifier's).
        batch_size: images per compiled call.
        jit_compile: True, False or ``auto`` (``_compile.resolve_jit``).
    """

    name = "interpreter"
    needs_feature_layer = True  # CAM-style maps read feature maps; gradient and perturbation maps do not

    def __init__(self, clf: Classifier, *, feature_layer: str | None = None, batch_size: int = 16,
                 jit_compile="auto"):
        if not isinstance(clf, Classifier):
            raise ValueError(f"clf must be a keras_advinterp Classifier. Received: clf={type(clf).__name__}")
        self.clf = clf
        if feature_layer is not None:
            clf.check_feature_layer(feature_layer)  # raises with the layer names
        self._feature_layer = feature_layer
        if self.needs_feature_layer:
            _ = self.feature_layer  # a classifier without one (a SavedModel graph) fails here, clearly
        self.batch_size = positive(batch_size, "batch_size", integer=True)
        self.jit_compile = check_jit(jit_compile)

    @property
    def feature_layer(self) -> str:
        """The 4-D layer CAM-style maps read: the one given, else the classifier's.

        Methods with ``needs_feature_layer = False`` (gradient and
        perturbation maps) also work on classifiers without one (a
        SavedModel graph).
        """
        return self._feature_layer or self.clf.feature_layer

    def params(self) -> dict:
        """Every constructor argument but ``clf``: the compile-cache key."""
        return {"feature_layer": self._feature_layer, "batch_size": self.batch_size, "jit_compile": self.jit_compile}

    def compiled(self, fn_or_build, *extra, build: bool = False):
        """``fn`` compiled (XLA where ``jit_compile`` resolves to it) and cached on the classifier.

        With ``build=True``, ``fn_or_build(jit)`` builds the callable instead.
        """
        jit = resolve_jit(self.jit_compile, self.clf)
        make = (lambda: fn_or_build(jit)) if build else (lambda: compile_fn(fn_or_build, jit))
        return self.clf.compiled(cache_key("interpret", self, jit, *extra), make)

    @abstractmethod
    def explain_batch(self, x: np.ndarray, class_index: np.ndarray) -> np.ndarray:
        """Maps (n, H, W) for a checked batch."""

    def __call__(self, x, class_index, *, progress: bool = False) -> np.ndarray:
        x = self.clf.check_images(x)
        idx = as_labels(class_index, len(x), self.clf.num_classes, "class_index")
        with warnings.catch_warnings():
            # tf-keras-vis calls models with a list input; Keras warns about the structure only.
            warnings.filterwarnings("ignore", message=r"(?s).*Expected: \S+.*Received: inputs=")
            maps = map_batches(self.explain_batch, [x, idx], self.batch_size, progress=progress and self.name)
        return np.clip(maps.astype(np.float32), 0.0, 1.0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(clf={self.clf.name!r}, feature_layer={self.feature_layer!r})"


def normalize_maps(maps: np.ndarray) -> np.ndarray:
    """Per-map min-max scaling to [0, 1], as tf-keras-vis ``normalize`` does."""
    maps = np.asarray(maps, np.float32)
    axes = tuple(range(1, maps.ndim))
    lo = maps.min(axis=axes, keepdims=True)
    hi = maps.max(axis=axes, keepdims=True)
    return (maps - lo) / (hi - lo + 1e-7)
