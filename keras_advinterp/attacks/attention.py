"""Attack on attention (AoA): move the model's CAM / Grad-CAM away from the true class.

The attack behind DAmageNet, the adversarial ImageNet copy
seeds/000_f66802178e087466.txt (Ding et al.) interprets.
Attention heat maps are similar across architectures, so an image whose
attention no longer points at its true class transfers well. Each step
ascends

    J(x) = -(log ||h(x, y)||_1 - log ||h(x, s)||_1) + lam * CE(x, y)

where ``h(x, c)`` is the class-``c`` attention map (un-normalised, ReLU'd),
``y`` the true class and ``s`` the clean image's runner-up class (or the
target, in a targeted attack, where the CE term becomes ``-CE(x, target)``).
The attack is PGD (from the clean image) ascending the ``Attention``
objective, so it shares PGD's loop, norms and graph-safe form.

Reference:
    Chen et al., "Universal Adversarial Attack on Attention and the Resulting
    Dataset DAmageNet" (IEEE TPAMI 2020). The paper's heat map is SGLRP; here
    it is the compiled, differentiable CAM or Grad-CAM of ``interpret``.
"""

from __future__ import annotations

import tensorflow as tf

from .._checks import choice, positive
from .gradient import PGD
from .norms import L1
from .objectives import Objective, cross_entropy

INTERPRETERS = ("gradcam", "cam")


def _heat(clf, interpreter: str, feature_layer: str | None):
    from ..interpret.differentiable import CAM, GradCAMXLA

    return (CAM if interpreter == "cam" else GradCAMXLA)(clf, feature_layer=feature_layer)


class Attention(Objective):
    """The AoA objective: ``-(log ||h(x, y)||_1 - log ||h(x, s)||_1) + lam * CE``.

    ``s`` is the clean image's runner-up class (untargeted) or the target;
    ``setup`` finds it once per batch.

    Args:
        interpreter: ``gradcam`` (any model) or ``cam`` (GAP + dense heads).
        feature_layer: layer whose maps give the attention (default: the
            classifier's).
        lam: weight of the cross-entropy term (0: attention only).
    """

    name = "attention"

    def __init__(self, *, interpreter: str = "gradcam", feature_layer: str | None = None, lam: float = 1.0):
        self.interpreter = choice(interpreter, "interpreter", INTERPRETERS)
        self.feature_layer = feature_layer
        self.lam = positive(lam, "lam", allow_zero=True)
        self._heats = {}

    def params(self) -> dict:
        return {"interpreter": self.interpreter, "feature_layer": self.feature_layer, "lam": self.lam}

    def _heat(self, clf):
        if id(clf) not in self._heats:
            self._heats[id(clf)] = _heat(clf, self.interpreter, self.feature_layer)
        return self._heats[id(clf)]

    def setup(self, clf, context):
        if context.targeted:
            return {"other": context.labels}
        logits = clf.model(context.x, training=False)  # the clean image's runner-up class
        runner_up = tf.math.top_k(logits - 1e9 * tf.one_hot(context.y, tf.shape(logits)[1]), k=1).indices[:, 0]
        return {"other": runner_up}

    def __call__(self, clf, x_adv, labels, context):
        heat = self._heat(clf)

        def mass(c):
            return tf.math.log(tf.reduce_sum(heat.raw(x_adv, c), axis=[1, 2]) + 1e-8)

        ce = cross_entropy(clf.model(x_adv, training=False), labels, context.targeted)
        return -(mass(context.y) - mass(context.extras["other"])) + self.lam * ce


class AttentionAttack(PGD):
    """Attack on attention (AoA): suppress the true class's CAM / Grad-CAM mass.

    PGD from the clean image ascending the ``Attention`` objective.

    Args:
        eps: budget in pixel units ([0, 1] scale).
        steps: gradient steps.
        step_size: defaults to 2.5 * eps / steps.
        norm: ``linf`` or ``l2``.
        interpreter: ``gradcam`` (any model) or ``cam`` (GAP + dense heads).
        feature_layer: layer whose maps give the attention (default: the
            classifier's).
        lam: weight of the cross-entropy term (0: attention only).
        loop, jit_compile: as ``PGD``.
    """

    name = "attention"

    def __init__(self, *, eps: float = 8 / 255, steps: int = 10, step_size: float | None = None,
                 norm: str = "linf", interpreter: str = "gradcam", feature_layer: str | None = None,
                 lam: float = 1.0, loop: str = "auto", jit_compile="auto"):
        objective = Attention(interpreter=interpreter, feature_layer=feature_layer, lam=lam)
        super().__init__(eps=eps, steps=steps, step_size=step_size, norm=norm, random_start=False,
                         objective=objective, loop=loop, jit_compile=jit_compile)
        if self.norm is L1:
            raise ValueError(f"attention supports norm 'linf' or 'l2'. Received: norm={norm!r}")

    def params(self) -> dict:
        keep = ("eps", "steps", "step_size", "norm", "loop", "jit_compile")
        return {**{k: v for k, v in super().params().items() if k in keep}, **self.objective.params()}


def attention_mass(clf, x, class_index, interpreter: str = "gradcam", feature_layer: str | None = None):
    """Per-image L1 mass of the un-normalised class attention map (NumPy (N,))."""
    heat = _heat(clf, choice(interpreter, "interpreter", INTERPRETERS), feature_layer)
    fn = heat.compiled(lambda a, c: tf.reduce_sum(heat.raw(a, c), axis=[1, 2]), "attention_mass")
    return fn(tf.constant(x, tf.float32), tf.constant(class_index, tf.int32)).numpy()
