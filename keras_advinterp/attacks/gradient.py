"""Gradient-sign / gradient-direction attacks: FGSM and PGD (Linf, L2).

References:
    Goodfellow et al., "Explaining and Harnessing Adversarial Examples" (FGSM).
    Madry et al., "Towards Deep Learning Models Resistant to Adversarial
    Attacks" (PGD). Used throughout seeds 000-004 (see seeds/INDEX.md).
"""

from __future__ import annotations

import tensorflow as tf

from .._checks import positive
from .base import Attack, loss_gradient
from .norms import get_norm

LOOPS = ("auto", "unroll", "while")
# Unrolling lets XLA fuse across steps (about 2x faster than a while loop on
# CPU for ResNet50) but compile time grows with the step count.
UNROLL_MAX_STEPS = 20


class FGSM(Attack):
    """Fast gradient (sign) method: one step of size ``eps``.

    Args:
        eps: perturbation budget in pixel units ([0, 1] scale), e.g. 8/255.
        norm: ``linf`` (sign step) or ``l2`` (normalised gradient step).
    """

    name = "fgsm"

    def __init__(self, *, eps: float = 8 / 255, norm: str = "linf"):
        self.eps = positive(eps, "eps", allow_zero=True)
        self.norm = get_norm(norm)

    def params(self) -> dict:
        return {"eps": self.eps, "norm": self.norm.name}

    def build(self, clf, targeted):
        norm, eps = self.norm, self.eps

        @tf.function(jit_compile=True)
        def run(x, y, t, seed):
            g = loss_gradient(clf, x, t if targeted else y, targeted)
            return tf.clip_by_value(x + eps * norm.direction(g), 0.0, 1.0)

        return run


class PGD(Attack):
    """Projected gradient descent in an Linf or L2 ball, one compiled loop.

    Args:
        eps: ball radius in pixel units ([0, 1] scale).
        steps: gradient steps.
        step_size: size of each step; defaults to 2.5 * eps / steps.
        norm: ``linf`` or ``l2``.
        random_start: start from a uniform point in the ball.
        loop: ``unroll`` (Python loop traced into one XLA program), ``while``
            (``tf.while_loop``), or ``auto`` (unroll up to 20 steps).
    """

    name = "pgd"

    def __init__(self, *, eps: float = 8 / 255, steps: int = 10, step_size: float | None = None,
                 norm: str = "linf", random_start: bool = True, loop: str = "auto"):
        self.eps = positive(eps, "eps", allow_zero=True)
        self.steps = positive(steps, "steps", integer=True)
        if step_size is None:  # Madry et al.'s rule; with eps = 0 the step is irrelevant
            step_size = 2.5 * self.eps / self.steps if self.eps > 0 else 1e-3
        self.step_size = positive(step_size, "step_size")
        self.norm = get_norm(norm)
        self.random_start = bool(random_start)
        if loop not in LOOPS:
            raise ValueError(f"loop must be one of {LOOPS}. Received: loop={loop!r}")
        self.loop = loop

    def params(self) -> dict:
        return {"eps": self.eps, "steps": self.steps, "step_size": self.step_size,
                "norm": self.norm.name, "random_start": self.random_start, "loop": self.loop}

    def build(self, clf, targeted):
        norm, eps, alpha, steps = self.norm, self.eps, self.step_size, self.steps
        unroll = self.loop == "unroll" or (self.loop == "auto" and steps <= UNROLL_MAX_STEPS)

        def step(x, labels, x_adv):
            g = loss_gradient(clf, x_adv, labels, targeted)
            delta = norm.project(x_adv + alpha * norm.direction(g) - x, eps)
            return tf.clip_by_value(x + delta, 0.0, 1.0)

        @tf.function(jit_compile=True)
        def run(x, y, t, seed):
            labels = t if targeted else y
            x_adv = x
            if self.random_start:
                x_adv = tf.clip_by_value(x + norm.random_start(x.shape.as_list(), eps, seed), 0.0, 1.0)
            if unroll:
                for _ in range(steps):
                    x_adv = step(x, labels, x_adv)
                return x_adv
            return tf.while_loop(lambda i, _: i < steps, lambda i, xa: (i + 1, step(x, labels, xa)),
                                 (tf.constant(0), x_adv))[1]

        return run
