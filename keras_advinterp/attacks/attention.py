"""Attack on attention (AoA): move the model's CAM / Grad-CAM away from the true class.

The attack behind DAmageNet, the adversarial ImageNet copy seed 000 uses.
Attention heat maps are similar across architectures, so an image whose
attention no longer points at its true class transfers well. Each step
ascends

    J(x) = -(log ||h(x, y)||_1 - log ||h(x, s)||_1) + lam * CE(x, y)

where ``h(x, c)`` is the class-``c`` attention map (un-normalised, ReLU'd),
``y`` the true class and ``s`` the clean image's runner-up class (or the
target, in a targeted attack, where the CE term becomes ``-CE(x, target)``).
Steps and projection use the same norm hooks as PGD.

Reference:
    Chen et al., "Universal Adversarial Attack on Attention and the Resulting
    Dataset DAmageNet" (IEEE TPAMI 2020). The paper's heat map is SGLRP; here
    it is the compiled, differentiable CAM or Grad-CAM of ``interpret``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .._checks import choice, positive
from .base import Attack
from .norms import L1, get_norm

INTERPRETERS = ("gradcam", "cam")


class AttentionAttack(Attack):
    """Attack on attention (AoA): suppress the true class's CAM / Grad-CAM mass.

    Args:
        eps: budget in pixel units ([0, 1] scale).
        steps: gradient steps (one compiled, unrolled loop).
        step_size: defaults to 2.5 * eps / steps.
        norm: ``linf`` or ``l2``.
        interpreter: ``gradcam`` (any model) or ``cam`` (GAP + dense heads).
        feature_layer: layer whose maps give the attention (default: the
            classifier's).
        lam: weight of the cross-entropy term (0: attention only).
    """

    name = "attention"

    def __init__(self, *, eps: float = 8 / 255, steps: int = 10, step_size: float | None = None,
                 norm: str = "linf", interpreter: str = "gradcam", feature_layer: str | None = None,
                 lam: float = 1.0):
        self.eps = positive(eps, "eps", allow_zero=True)
        self.steps = positive(steps, "steps", integer=True)
        if step_size is None:  # PGD's rule; with eps = 0 the step is irrelevant
            step_size = 2.5 * self.eps / self.steps if self.eps > 0 else 1e-3
        self.step_size = positive(step_size, "step_size")
        self.norm = get_norm(norm)
        if self.norm is L1:
            raise ValueError(f"attention supports norm 'linf' or 'l2'. Received: norm={norm!r}")
        self.interpreter = choice(interpreter, "interpreter", INTERPRETERS)
        self.feature_layer = feature_layer
        self.lam = positive(lam, "lam", allow_zero=True)

    def params(self) -> dict:
        return {"eps": self.eps, "steps": self.steps, "step_size": self.step_size, "norm": self.norm.name,
                "interpreter": self.interpreter, "feature_layer": self.feature_layer, "lam": self.lam}

    def build(self, clf, targeted):
        from ..interpret.differentiable import CAM, GradCAMXLA

        heat = (CAM if self.interpreter == "cam" else GradCAMXLA)(clf, feature_layer=self.feature_layer)
        norm, eps, alpha, lam = self.norm, self.eps, self.step_size, self.lam

        def mass(x, c):
            return tf.math.log(tf.reduce_sum(heat.raw(x, c), axis=[1, 2]) + 1e-8)

        def step(x, y, s, x_adv):
            with tf.GradientTape() as tape:
                tape.watch(x_adv)
                logits = clf.model(x_adv, training=False)
                ce = keras.losses.sparse_categorical_crossentropy(s if targeted else y, logits, from_logits=True)
                j = -(mass(x_adv, y) - mass(x_adv, s)) + lam * (-ce if targeted else ce)
                total = tf.reduce_sum(j)
            g = tape.gradient(total, x_adv)
            delta = norm.project(x_adv + alpha * norm.direction(g) - x, eps)
            return tf.clip_by_value(x + delta, 0.0, 1.0)

        @tf.function(jit_compile=True)
        def run(x, y, t, seed):
            if targeted:
                s = t
            else:  # the clean image's runner-up class
                logits = clf.model(x, training=False)
                s = tf.math.top_k(logits - 1e9 * tf.one_hot(y, tf.shape(logits)[1]), k=1).indices[:, 0]
            x_adv = x
            for _ in range(self.steps):
                x_adv = step(x, y, s, x_adv)
            return x_adv

        return run


def attention_mass(clf, x, class_index, interpreter: str = "gradcam", feature_layer: str | None = None):
    """Per-image L1 mass of the un-normalised class attention map (NumPy (N,))."""
    from ..interpret.differentiable import CAM, GradCAMXLA

    heat = (CAM if choice(interpreter, "interpreter", INTERPRETERS) == "cam" else GradCAMXLA)(
        clf, feature_layer=feature_layer)
    fn = clf.compiled(("attention_mass", interpreter, heat.feature_layer),
                      lambda: tf.function(lambda a, c: tf.reduce_sum(heat.raw(a, c), axis=[1, 2]), jit_compile=True))
    return fn(tf.constant(x, tf.float32), tf.constant(class_index, tf.int32)).numpy()
