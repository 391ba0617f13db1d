"""Smoothed ReLUs: softplus(beta x) / beta in place of every ReLU.

Attacks on gradient maps (Grad; seeds/003_95601c10b3bd7c9c.txt Sec. IV)
need non-zero second derivatives, which a ReLU network does not have.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .._checks import positive
from .base import ModelModifier


@keras.saving.register_keras_serializable(package="keras_advinterp")
class SmoothReLULayer(keras.layers.Layer):
    """softplus(beta x) / beta, capped at ``max_value`` if given: a ReLU with curvature."""

    def __init__(self, beta: float = 10.0, max_value: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.beta, self.max_value = float(beta), max_value

    def call(self, x):
        y = tf.nn.softplus(self.beta * x) / self.beta
        return y if self.max_value is None else tf.minimum(y, self.max_value)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "max_value": self.max_value}


def smooth_relu_copy(model: keras.Model, beta: float) -> keras.Model:
    """A copy of a flat functional model with every ReLU made smooth (weights copied)."""
    beta = positive(beta, "beta")
    smooth = lambda t: tf.nn.softplus(beta * t) / beta  # noqa: E731

    def clone(layer):
        if isinstance(layer, keras.layers.ReLU):
            return SmoothReLULayer(beta, layer.get_config().get("max_value"), name=layer.name)
        if isinstance(layer, keras.layers.Activation) and layer.get_config().get("activation") == "relu":
            return SmoothReLULayer(beta, name=layer.name)
        new = layer.__class__.from_config(layer.get_config())
        if layer.get_config().get("activation") == "relu":
            new.activation = smooth
        return new

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


class SmoothReLU(ModelModifier):
    """Modifier: every ReLU (layers and ``activation="relu"``) becomes softplus(beta x) / beta.

    Args:
        beta: sharpness; large beta approaches the ReLU.
    """

    name = "smooth_relu"

    def __init__(self, beta: float = 10.0):
        self.beta = positive(beta, "beta")

    def params(self) -> dict:
        return {"beta": self.beta}

    def __call__(self, model):
        return smooth_relu_copy(model, self.beta)
