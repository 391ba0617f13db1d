"""Small numeric pieces shared by attacks, interpreters and analyses (TensorFlow).

Each is a pure function usable inside compiled code: an Adam update, a
per-image broadcast, keep-best-per-image and the input gradient of a
per-image quantity.
"""

from __future__ import annotations

import tensorflow as tf

ADAM = (0.9, 0.999, 1e-8)  # beta1, beta2, epsilon as in Kingma & Ba and the C&W reference code


def per_image(v, like):
    """Reshapes a per-image vector (N,) to broadcast against ``like`` (N, ...)."""
    return tf.reshape(v, [-1] + [1] * (like.shape.rank - 1))


def sum_per_image(t):
    """Sum over every axis but the first: (N, ...) -> (N,)."""
    return tf.reduce_sum(t, axis=list(range(1, t.shape.rank)))


def keep_best(better, new, old):
    """Per image: ``new`` where ``better`` (N,) bool, else ``old`` (any nest of (N, ...) tensors)."""
    return tf.nest.map_structure(lambda a, b: tf.where(per_image(better, a), a, b), new, old)


def adam_update(param, grad, m, v, step, lr, betas=ADAM):
    """One bias-corrected Adam step descending ``grad``.

    Args:
        step: 0-based step index (scalar int or tensor); the bias correction
            uses ``step + 1``.
    Returns:
        ``(param, m, v)`` after the step.
    """
    b1, b2, eps = betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * tf.square(grad)
    t = tf.cast(step, param.dtype) + 1.0
    param = param - lr * (m / (1 - b1**t)) / (tf.sqrt(v / (1 - b2**t)) + eps)
    return param, m, v


def input_gradient(fn, x):
    """``(fn(x), d sum(fn(x)) / dx)`` for a per-image quantity ``fn(x)`` (N,).

    Summing over the batch keeps each image's gradient independent of the
    others (the batch size never scales it).
    """
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x)
        value = fn(x)
        total = tf.reduce_sum(value)
    return value, tape.gradient(total, x)
