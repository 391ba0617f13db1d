"""The compiled functions the page calls, built once per model and kept warm.

A slider move must not compile anything. The package's attack objects bake
their budget into the compiled function (``eps`` is part of ``params()``,
the compile-cache key), which is right for a batch job and wrong for a
slider with 65 positions. So the functions here take ``eps`` as a tensor:

- FGSM needs no compiled call per move at all: its step
  ``clip(x + eps * sign(grad), 0, 1)`` uses the gradient of the clean image,
  which does not depend on eps, so ``gradient_sign`` runs once per image and
  every slider position is a NumPy expression (tests check it equals
  ``attacks.FGSM``);
- PGD's loop is ``_compile.compiled_loop`` over a one-step body whose
  consts carry eps and the step size, with the norm hooks of
  ``attacks.norms`` and the ``ce`` objective (the same step as
  ``attacks.PGD``, traced once for every eps);
- DeepFool has no budget: ``attacks.DeepFool`` runs once per image;
- ``explain`` returns logits and a CAM / Grad-CAM map of a chosen class in
  one forward pass (the differentiable twins' ``maps_and_logits``).

Every function runs on a batch of one image at the model's input size, so
each is traced exactly once.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .._compile import compiled_loop
from .._tensor import input_gradient
from ..attacks import DeepFool
from ..attacks.norms import Linf
from ..attacks.objectives import Context, get_objective
from ..interpret import CAM, GradCAMXLA
from ..models import Classifier

PGD_STEPS = 10
PGD_STEP_FACTOR = 2.5  # step size = factor * eps / steps, attacks.PGD's default
DEEPFOOL = {"steps": 50, "overshoot": 0.02, "candidates": 10, "norm": "linf"}


def cam_methods(clf: Classifier) -> list[str]:
    """The overlay methods ``clf`` supports: ``cam`` needs a feature -> GAP -> Dense head, ``gradcam`` any CNN."""
    try:
        CAM(clf)
    except ValueError:
        return ["gradcam"]
    return ["cam", "gradcam"]


class ModelSteps:
    """Compiled, warm per-model functions for one image at a time (see the module docstring).

    Args:
        clf: the Classifier; its own compiled forward pass is reused.
        seed: seed of PGD's random start (fixed, so a slider position always
            gives the same image).
    """

    def __init__(self, clf: Classifier, *, seed: int = 0):
        self.clf = clf
        self.seed = int(seed)
        self.methods = cam_methods(clf)
        shape = (1, *clf.input_size, clf.channels)
        image = tf.TensorSpec(shape, tf.float32)
        label = tf.TensorSpec((1,), tf.int32)
        objective = get_objective("ce")

        def loss(x, labels):
            ctx = Context(x=x, y=labels, labels=labels, targeted=False)
            return objective(clf, x, labels, ctx)

        def sign(x, labels):
            return tf.sign(input_gradient(lambda a: loss(a, labels), x)[1])

        self._sign = tf.function(sign, input_signature=[image, label])
        self._forward = tf.function(lambda x: clf.model(x, training=False), input_signature=[image])

        def start(x, eps):
            return tf.clip_by_value(x + Linf.random_start(x, eps, tf.constant([self.seed, 0])), 0.0, 1.0)

        def step(i, state, consts):
            x, labels, eps, size = consts
            _, g = input_gradient(lambda a: loss(a, labels), state)
            return tf.clip_by_value(x + Linf.project(state + size * Linf.direction(g) - x, eps), 0.0, 1.0)

        scalar = tf.TensorSpec((), tf.float32)
        self._start = tf.function(start, input_signature=[image, scalar])
        self._pgd_loop = compiled_loop(step, PGD_STEPS, jit=False)
        self._explainers = {}
        for method in self.methods:
            interp = CAM(clf) if method == "cam" else GradCAMXLA(clf)
            self._explainers[method] = tf.function(interp.maps_and_logits, input_signature=[image, label])
        self._deepfool = DeepFool(**DEEPFOOL)

    # Each public method takes one image (H, W, C) float32 in [0, 1] at the model's input size.
    def logits(self, x: np.ndarray) -> np.ndarray:
        return self._forward(x[None]).numpy()[0]

    def gradient_sign(self, x: np.ndarray, label: int) -> np.ndarray:
        """sign(d CE(label) / dx): FGSM's direction, (H, W, C) in {-1, 0, 1}."""
        return self._sign(x[None], tf.constant([label], tf.int32)).numpy()[0]

    def pgd(self, x: np.ndarray, label: int, eps: float) -> np.ndarray:
        """PGD-10 Linf at ``eps`` (step 2.5 eps / 10, fixed-seed random start) against ``label``."""
        if eps <= 0:
            return x.copy()
        xb = tf.constant(x[None])
        e = tf.constant(eps, tf.float32)
        consts = (xb, tf.constant([label], tf.int32), e, tf.constant(PGD_STEP_FACTOR * eps / PGD_STEPS, tf.float32))
        return self._pgd_loop(self._start(xb, e), consts).numpy()[0]

    def explain(self, x: np.ndarray, class_index: int, method: str) -> tuple[np.ndarray, np.ndarray]:
        """``(map (H, W) in [0, 1] of class_index, logits (classes,))`` from one forward pass."""
        maps, logits = self._explainers[method](x[None], tf.constant([class_index], tf.int32))
        return maps.numpy()[0], logits.numpy()[0]

    def deepfool(self, x: np.ndarray, label: int):
        """``attacks.DeepFool`` (Linf) on one image: its ``AttackResult``."""
        return self._deepfool(self.clf, x[None], np.asarray([label], np.int32), batch_size=1)

    def warm_up(self) -> None:
        """Traces every function once (a blank image), so the first real request compiles nothing."""
        x = np.full((*self.clf.input_size, self.clf.channels), 0.5, np.float32)
        self.logits(x)
        self.gradient_sign(x, 0)
        self.pgd(x, 0, 1 / 255)
        for method in self.methods:
            self.explain(x, 0, method)
        self.deepfool(x, int(np.argmax(self.logits(x))))
