"""Str-attack: group-sparse adversarial perturbations solved by ADMM.

References:
    Xu et al., "Structured Adversarial Attack: Towards General Implementation
    and Better Interpretability", ICLR 2019 (Sec. 3, Algorithm 1). Used by
    seeds/001_13ab3436c62e81d7.txt, Appendix 1, Eq. 9-10 (Xu et al.,
    "Interpreting Adversarial Examples by Activation Promotion and Suppression").
"""

from __future__ import annotations

import math

import tensorflow as tf

from .._checks import choice, in_range, positive
from .._compile import LOOPS, check_jit, compiled_loop
from .base import Attack
from .objectives import margin
from .optimization import binary_search

_TINY = 1e-12


def _blocks(t, g):
    """(N, H, W, C) -> (N, H'/g, g, W'/g, g, C), zero-padded to multiples of g."""
    _, h, w, c = t.shape
    hp, wp = math.ceil(h / g) * g, math.ceil(w / g) * g
    t = tf.pad(t, [[0, 0], [0, hp - h], [0, wp - w], [0, 0]])
    return tf.reshape(t, [-1, hp // g, g, wp // g, g, c])


def _unblock(b, h, w):
    shape = b.shape
    return tf.reshape(b, [-1, shape[1] * shape[2], shape[3] * shape[4], shape[5]])[:, :h, :w, :]


def group_norms(delta, group_size: int):
    """L2 norm of each ``group_size`` x ``group_size`` x C grid cell of ``delta``.

    Args:
        delta: (N, H, W, C) perturbation; H, W need not be multiples of
            ``group_size`` (the last row/column of cells is smaller).
    Returns:
        (N, ceil(H/g), ceil(W/g)) tensor of group norms.
    """
    b = _blocks(tf.convert_to_tensor(delta, tf.float32), group_size)
    return tf.sqrt(tf.reduce_sum(tf.square(b), axis=[2, 4, 5]))


def group_shrink(a, group_size: int, threshold):
    """Proximal operator of ``threshold * sum_G ||a_G||_2`` (group soft-thresholding)."""
    _, h, w, _ = a.shape
    b = _blocks(a, group_size)
    norm = tf.sqrt(tf.reduce_sum(tf.square(b), axis=[2, 4, 5], keepdims=True))
    return _unblock(b * tf.nn.relu(1.0 - threshold / tf.maximum(norm, _TINY)), h, w)


class StrAttack(Attack):
    """Structured (group-sparse) attack by linearised ADMM.

    Solves, per image, ``min c * f(x + z) + l2_weight * ||delta||^2 +
    group_weight * sum_G ||y_G||_2`` subject to ``delta = z = y = w`` and
    ``x + w`` in [0, 1] (and ``|w| <= eps`` if given), where ``f`` is C&W's
    logit margin with ``confidence`` and the groups ``G`` are non-overlapping
    ``group_size`` x ``group_size`` squares spanning all channels. Each ADMM
    iteration has closed-form delta (shrinkage), w (box projection) and y
    (group soft-thresholding) steps and a linearised z step, one gradient of
    ``f`` with proximal weight ``sqrt(k + 1) / learning_rate`` (the paper's
    ``eta_k``). The candidate at every iteration is ``x + clip(y)``, which
    keeps y's group sparsity; the smallest-L2 successful one is kept. An
    outer binary search over ``c`` (per image, as C&W) reruns the compiled
    ADMM loop. Images never fooled are returned unchanged.

    The paper's optional retraining (refinement on the found support) is not
    implemented; its groups overlap with a stride, here they tile the image.

    Args:
        group_size: side of a square group in pixels (>= 1).
        rho: ADMM penalty.
        steps: ADMM iterations per binary-search step.
        learning_rate: step of the linearised z update.
        const: initial weight ``c`` of the adversarial loss.
        binary_search_steps: rounds of the search over ``c`` (x10 until the
            first success, then bisection).
        group_weight: weight of the group-lasso penalty (paper's tau).
        l2_weight: weight of the squared L2 distortion (paper's gamma).
        confidence: C&W kappa, logit margin required for success.
        eps: optional Linf bound on the perturbation ([0, 1] pixel scale).
        abort_early: freeze an image once it has succeeded and its best L2
            has not improved for ``max(10, steps // 10)`` iterations.
        loop: loop form (``_compile.compiled_loop``; ``auto``: chunks of 10
            compiled, unrolled steps, stopping when every image is frozen).
        jit_compile: True, False or ``auto`` (``_compile.resolve_jit``).
    """

    name = "strattack"
    supports_mask = True

    def __init__(self, *, group_size: int = 2, rho: float = 1.0, steps: int = 100,
                 learning_rate: float = 0.5, const: float = 1.0, binary_search_steps: int = 3,
                 group_weight: float = 0.2, l2_weight: float = 1.0, confidence: float = 0.0,
                 eps: float | None = None, abort_early: bool = True, loop: str = "auto", jit_compile="auto"):
        self.group_size = positive(group_size, "group_size", integer=True)
        self.rho = positive(rho, "rho")
        self.steps = positive(steps, "steps", integer=True)
        self.learning_rate = positive(learning_rate, "learning_rate")
        self.const = positive(const, "const")
        self.binary_search_steps = positive(binary_search_steps, "binary_search_steps", integer=True)
        self.group_weight = positive(group_weight, "group_weight", allow_zero=True)
        self.l2_weight = positive(l2_weight, "l2_weight", allow_zero=True)
        self.confidence = positive(confidence, "confidence", allow_zero=True)
        self.eps = None if eps is None else in_range(eps, "eps", 1e-6, 1.0)
        self.abort_early = bool(abort_early)
        self.loop = choice(loop, "loop", LOOPS)
        self.jit_compile = check_jit(jit_compile)

    def params(self) -> dict:
        return {"group_size": self.group_size, "rho": self.rho, "steps": self.steps,
                "learning_rate": self.learning_rate, "const": self.const,
                "binary_search_steps": self.binary_search_steps, "group_weight": self.group_weight,
                "l2_weight": self.l2_weight, "confidence": self.confidence, "eps": self.eps,
                "abort_early": self.abort_early, "loop": self.loop, "jit_compile": self.jit_compile}

    @property
    def iterations(self) -> int:
        return self.steps * self.binary_search_steps

    def build(self, clf, targeted, jit):
        rho, g, kappa, steps = self.rho, self.group_size, self.confidence, self.steps
        shrink_delta = rho / (rho + 2.0 * self.l2_weight)
        threshold = self.group_weight / rho
        patience = max(10, steps // 10) if self.abort_early else steps + 1
        bound = 1.0 if self.eps is None else self.eps

        def raw_margin(x_adv, labels):
            return margin(clf.model(x_adv, training=False), labels, targeted, kappa=float("inf"))

        def body(k, state, consts):
            z, u, v, s, best_l2, best_delta, found, since, its, active = state
            x, labels, const, mask = consts
            lo, hi = tf.maximum(-x, -bound), tf.minimum(1.0 - x, bound)
            if mask is not None:  # a zero-width box outside the mask: w and the candidate are 0 there
                lo, hi = tf.where(mask > 0, lo, 0.0), tf.where(mask > 0, hi, 0.0)
            delta = shrink_delta * (z - u)
            w = tf.clip_by_value(z - s, lo, hi)
            y = group_shrink(z - v, g, threshold)
            x_in = tf.clip_by_value(x + z, 0.0, 1.0)
            with tf.GradientTape() as tape:
                tape.watch(x_in)
                loss = tf.reduce_sum(const * tf.maximum(raw_margin(x_in, labels), -kappa))
            grad = tape.gradient(loss, x_in)
            if mask is not None:
                grad = grad * mask
            eta = tf.sqrt(tf.cast(k, tf.float32) + 1.0) / self.learning_rate
            z_new = (eta * z - grad + rho * (delta + u + w + s + y + v)) / (eta + 3.0 * rho)
            # candidate: the group-sparse variable, projected into the box
            cand = tf.clip_by_value(y, lo, hi)
            l2 = tf.reduce_sum(tf.square(cand), axis=[1, 2, 3])
            ok = raw_margin(x + cand, labels) < -kappa
            better = active & ok & (l2 < best_l2)
            a4 = active[:, None, None, None]
            keep = lambda new, old: tf.where(a4, new, old)  # noqa: E731 (frozen images keep state)
            found = found | (active & ok)
            since = tf.where(better, 0, since + tf.cast(found & active, tf.int32))
            return (keep(z_new, z), keep(u + delta - z_new, u), keep(v + y - z_new, v),
                    keep(s + w - z_new, s), tf.where(better, l2, best_l2),
                    tf.where(better[:, None, None, None], cand, best_delta), found, since,
                    its + tf.cast(active, tf.int32), active & ~(found & (since >= patience)))

        iterate = compiled_loop(body, steps, loop=self.loop, until=lambda state: ~tf.reduce_any(state[-1]), jit=jit)

        def admm(x, labels, const, best_l2, best_x, mask=None, extras=None):
            """One ADMM run per image constant, in ``binary_search``'s terms (best images, not deltas)."""
            n = x.shape[0]
            zeros = tf.zeros_like(x)
            state = (zeros, zeros, zeros, zeros, best_l2, best_x - x, tf.zeros([n], tf.bool),
                     tf.zeros([n], tf.int32), tf.zeros([n], tf.int32), tf.ones([n], tf.bool))
            out = iterate(state, (x, labels, const, mask))
            return out[4], tf.clip_by_value(x + out[5], 0.0, 1.0), out[6], out[8]

        def run(x, y, t, seed, mask=None):
            return binary_search(admm, x, t if targeted else y, self.binary_search_steps, self.const, mask)

        return run
