"""Feature maps of any named layers, read in one compiled forward pass.

    cap = FeatureCapture(clf, ["conv1_conv", "conv2_block1_1_conv"])
    maps = cap(x)        # {"conv1_conv": (N, 112, 112, 64), ...}
    maps = capture(clf, "features", x)

One multi-output Keras model per layer tuple is built once and cached on the
Classifier (``clf.compiled``), with its compiled function, so later calls
neither rebuild nor retrace. Layers inside nested models are read through a
flat re-run of the graph that calls the original layers (``graph.rebuild``).

References:
    Ding et al., universal adversarial examples and interpretable
    adversarial learning (seeds/000_f66802178e087466.txt), Sec. 4.4:
    feature maps of every layer for clean and adversarial images.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from .._batching import map_batches
from .._checks import positive
from .._compile import compile_fn, resolve_jit
from .graph import as_model, find_layer, is_flat, rebuild


class FeatureCapture:
    """Reads the outputs of named layers of a Classifier in one forward pass.

    Args:
        clf: a Classifier (raw pixels in [0, 1] -> logits).
        layers: one layer name or a sequence of them; each must output 4-D
            feature maps (N, h, w, k). Repeats are dropped, order is kept.
        batch_size: images per compiled call (padded to few sizes, so a
            new image count rarely recompiles).
        jit_compile: True, False or "auto" (``_compile.resolve_jit``).

    Calling it on images (N, H, W, C) in [0, 1] returns
    ``{layer: float32 array (N, h, w, k)}`` in the order of ``layers``.
    """

    def __init__(self, clf, layers: str | Sequence[str], *, batch_size: int = 32, jit_compile="auto"):
        model = as_model(clf)
        names = (layers,) if isinstance(layers, str) else tuple(dict.fromkeys(layers))
        if not names:
            raise ValueError(f"layers must name at least one layer. Received: layers={layers!r}")
        for name in names:
            find_layer(model, name, arg="layers")
        self.clf, self.layers = clf, names
        self.batch_size = positive(batch_size, "batch_size", integer=True)
        self.jit = resolve_jit(jit_compile, clf)
        self.model = clf.compiled(("feature_capture", names), lambda: capture_model(model, names))
        net = self.model
        self._fn = clf.compiled(("feature_capture_fn", names, self.jit),
                                lambda: compile_fn(lambda x: net(x, training=False), self.jit, reduce_retracing=True))

    def params(self) -> dict:
        return {"layers": self.layers, "batch_size": self.batch_size, "jit_compile": self.jit}

    def __call__(self, x, *, progress: bool = False) -> dict[str, np.ndarray]:
        x = self.clf.check_images(x)
        maps = map_batches(self._fn, [x], self.batch_size, progress=progress and "capture")
        return {name: maps[name] for name in self.layers}

    def __repr__(self) -> str:
        return f"FeatureCapture({self.clf.name!r}, layers={list(self.layers)!r})"


def capture(clf, layers: str | Sequence[str], x, *, batch_size: int = 32, jit_compile="auto",
            progress: bool = False) -> dict[str, np.ndarray]:
    """``{layer: feature maps (N, h, w, k)}`` of images ``x`` (N, H, W, C) in [0, 1]; see ``FeatureCapture``."""
    return FeatureCapture(clf, layers, batch_size=batch_size, jit_compile=jit_compile)(x, progress=progress)


def capture_model(model: keras.Model, layers: Sequence[str]) -> keras.Model:
    """Raw pixels -> ``{layer: output}``; the layers are the original ones (nothing is copied or changed).

    A layer called more than once (shared weights) is read at its first call.
    """
    if is_flat(model):
        inputs, outputs = model.inputs[0], {name: model.get_layer(name).output for name in layers}
    else:
        flat, found = rebuild(model, copy=False)
        inputs, outputs = flat.inputs[0], {name: found[name] for name in layers}
    return keras.Model(inputs, outputs, name=f"{model.name}_capture")
