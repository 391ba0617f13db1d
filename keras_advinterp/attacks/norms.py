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
    def random_start(shape, eps, seed):
        return tf.random.stateless_uniform(shape, seed, -eps, eps)

    @staticmethod
    def direction(grad):
        return tf.sign(grad)

    @staticmethod
    def project(delta, eps):
        return tf.clip_by_value(delta, -eps, eps)


class L2:
    name = "l2"

    @staticmethod
    def random_start(shape, eps, seed):
        # Uniform in the ball: Gaussian direction, radius eps * u^(1/d).
        s1, s2 = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        g = tf.random.stateless_normal(shape, s1)
        d = float(np.prod(shape[1:]))  # static shape: batches are padded to one size
        u = tf.random.stateless_uniform([shape[0]] + [1] * (len(shape) - 1), s2)
        return g / _per_example_l2(g) * eps * u ** (1.0 / d)

    @staticmethod
    def direction(grad):
        return grad / _per_example_l2(grad)

    @staticmethod
    def project(delta, eps):
        return delta * tf.minimum(1.0, eps / _per_example_l2(delta))


NORMS = {"linf": Linf, "l2": L2}


_ALIASES = {"inf": "linf", "2": "l2", "2.0": "l2"}


def get_norm(name):
    """Norm class by name: ``linf`` (or ``inf``, ``np.inf``) and ``l2`` (or 2)."""
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    if key not in NORMS:
        raise ValueError(f"norm must be one of {tuple(NORMS)}. Received: norm={name!r}")
    return NORMS[key]


def perturbation_norms(delta: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image L0 (changed values), L1, L2 and Linf of ``delta`` (N, ...)."""
    flat = delta.reshape(len(delta), -1).astype(np.float64)
    return {
        "l0": np.count_nonzero(np.abs(flat) > 1e-7, axis=1),
        "l1": np.abs(flat).sum(axis=1),
        "l2": np.sqrt((flat**2).sum(axis=1)),
        "linf": np.abs(flat).max(axis=1),
    }
