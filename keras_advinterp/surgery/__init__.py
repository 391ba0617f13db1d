"""Layer surgery: model modifiers that return a new Classifier, never mutating the original.

A modifier (as tf-keras-vis's ``ModelModifier``) is an object or function
``modifier(model) -> new keras.Model``; ``modify(clf, modifier)`` applies it
and wraps the result with the classifier's metadata. The first modifier is
``SmoothReLU`` (every ReLU made softplus(beta x) / beta, for attacks on
gradient maps); feature-map capture, channel masking and filter scaling
(seeds/000_f66802178e087466.txt Sec. 4.5-4.6) join them here.
"""

from __future__ import annotations

from .base import ModelModifier, modify
from .smooth import SmoothReLU, SmoothReLULayer, smooth_relu_copy

__all__ = ["ModelModifier", "modify", "SmoothReLU", "SmoothReLULayer", "smooth_relu_copy"]
