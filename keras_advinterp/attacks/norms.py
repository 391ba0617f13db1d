"""Norm balls as small objects: the hooks every gradient attack loop uses.

Each norm knows how to draw a random start inside its ball, turn a gradient
into a unit step direction, and project a perturbation back into the ball
(as in Foolbox 3's ``LinfBaseGradientDescent`` family).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

_TINY = 1e-12


def _per_example_l2(t):
    axes = list(range(1, t.shape.rank))
    return tf.sqrt(tf.reduce_sum(tf.square(t), axis=axes, keepdims=True) + _TINY)


class Linf:
    name = "linf"

    @staticmethod
    def random_start(x, eps, seed):
        return tf.random.stateless_uniform(tf.shape(x), seed, -eps, eps)

    @staticmethod
    def direction(grad):
        return tf.sign(grad)

    @staticmethod
    def project(delta, eps):
        return tf.clip_by_value(delta, -eps, eps)


class L2:
    name = "l2"

    @staticmethod
    def random_start(x, eps, seed):
        # Uniform in the ball: Gaussian direction, radius eps * u^(1/d).
        s1, s2 = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        g = tf.random.stateless_normal(tf.shape(x), s1)
        return g / _per_example_l2(g) * eps * _radius(x, s2)

    @staticmethod
    def direction(grad):
        return grad / _per_example_l2(grad)

    @staticmethod
    def project(delta, eps):
        return delta * tf.minimum(1.0, eps / _per_example_l2(delta))


class L1:
    """The L1 ball with sparse steps (Tramer & Boneh's SLIDE, NeurIPS 2019).

    A dense L1-normalised step spreads the budget thinly; SLIDE moves only
    the coordinates whose gradient magnitude is in the top ``1 - sparsity``
    fraction, each by the same amount, skipping those the [0, 1] box would
    clip. Projection is Duchi et al.'s sort-based L1-ball projection.
    """

    name = "l1"

    def __init__(self, sparsity: float = 0.99):
        self.sparsity = sparsity

    @staticmethod
    def random_start(x, eps, seed):
        # Laplace direction, radius eps * u^(1/d): uniform in the ball.
        s1, s2, s3 = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
        mag = -tf.math.log(tf.random.stateless_uniform(tf.shape(x), s1, 1e-12, 1.0))
        g = mag * tf.sign(tf.random.stateless_uniform(tf.shape(x), s2, -1.0, 1.0))
        return g / _per_example_l1(g) * eps * _radius(x, s3)

    def direction(self, grad, x_adv=None):
        if x_adv is not None:  # a step the box would clip is wasted budget
            blocked = ((x_adv <= 0.0) & (grad < 0.0)) | ((x_adv >= 1.0) & (grad > 0.0))
            grad = tf.where(blocked, tf.zeros_like(grad), grad)
        flat = tf.reshape(grad, [tf.shape(grad)[0], -1])
        k = max(1, int(round((1.0 - self.sparsity) * flat.shape[1])))
        kth = tf.math.top_k(tf.abs(flat), k=k).values[:, -1:]
        keep = tf.cast((tf.abs(flat) >= kth) & (tf.abs(flat) > 0), flat.dtype)
        step = tf.sign(flat) * keep / tf.maximum(tf.reduce_sum(keep, axis=1, keepdims=True), 1.0)
        return tf.reshape(step, tf.shape(grad))

    @staticmethod
    def project(delta, eps):
        flat = tf.reshape(delta, [tf.shape(delta)[0], -1])
        d = flat.shape[1]
        mag = tf.abs(flat)
        u = tf.sort(mag, axis=1, direction="DESCENDING")
        cssv = tf.cumsum(u, axis=1) - eps
        j = tf.range(1, d + 1, dtype=flat.dtype)
        rho = tf.reduce_sum(tf.cast(u - cssv / j > 0, tf.int32), axis=1, keepdims=True)  # >= 1 when outside
        theta = tf.gather(cssv, tf.maximum(rho - 1, 0), batch_dims=1) / tf.cast(tf.maximum(rho, 1), flat.dtype)
        inside = tf.reduce_sum(mag, axis=1, keepdims=True) <= eps
        shrunk = tf.sign(flat) * tf.nn.relu(mag - theta)
        return tf.reshape(tf.where(inside, flat, shrunk), tf.shape(delta))


def _radius(x, seed):
    """Per-image ``u^(1/d)``, u uniform: the radius law of a uniform point in a d-ball (batch may be unknown)."""
    d = float(np.prod(x.shape[1:]))  # image dimensions are static; the batch may not be
    shape = tf.concat([tf.shape(x)[:1], tf.ones([x.shape.rank - 1], tf.int32)], axis=0)
    return tf.random.stateless_uniform(shape, seed) ** (1.0 / d)


def _per_example_l1(t):
    axes = list(range(1, t.shape.rank))
    return tf.reduce_sum(tf.abs(t), axis=axes, keepdims=True) + _TINY


NORMS = {"linf": Linf, "l2": L2, "l1": L1}


_ALIASES = {"inf": "linf", "2": "l2", "2.0": "l2", "1": "l1", "1.0": "l1"}


def get_norm(name):
    """Norm class by name: ``linf`` (or ``inf``, ``np.inf``), ``l2`` (or 2), ``l1`` (or 1)."""
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    if key not in NORMS:
        raise ValueError(f"norm must be one of {tuple(NORMS)}. Received: norm={name!r}")
    return NORMS[key]


# x_adv = x + delta is rounded to float32 (half an ulp at 1.0 is 2**-25 per
# value) and eps itself is a float32 inside the loop, so a norm measured on
# the images may exceed eps by that rounding alone; L1 projection also sorts
# and sums every value in float32. One stated bound, used by every test.
_ROUNDING = {"linf": (2.0**-24, 2.0**-23), "l2": (2.0**-24, 2.0**-20), "l1": (2.0**-24, 2.0**-13)}


def budget_slack(norm: str, eps: float, size: int) -> float:
    """How far a measured ``norm`` of a perturbation with ``size`` values may exceed ``eps`` by float32 rounding."""
    key = get_norm(norm).name
    per_value, relative = _ROUNDING[key]
    spread = {"linf": 1.0, "l2": float(np.sqrt(size)), "l1": float(size)}[key]
    return per_value * spread + relative * float(eps)


def within_budget(delta: np.ndarray, norm: str, eps: float) -> np.ndarray:
    """Per image: is ``delta`` (N, ...) inside the ``norm`` ball of radius ``eps`` up to float32 rounding?"""
    delta = np.asarray(delta)
    size = int(np.prod(delta.shape[1:]))
    return perturbation_norms(delta)[get_norm(norm).name] <= eps + budget_slack(norm, eps, size)


def perturbation_norms(delta: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image L0 (changed values), L1, L2 and Linf of ``delta`` (N, ...)."""
    flat = delta.reshape(len(delta), -1).astype(np.float64)
    return {
        "l0": np.count_nonzero(np.abs(flat) > 1e-7, axis=1),
        "l1": np.abs(flat).sum(axis=1),
        "l2": np.sqrt((flat**2).sum(axis=1)),
        "linf": np.abs(flat).max(axis=1),
    }
