"""The modifier contract: ``modifier(model) -> new model``; ``modify`` keeps the Classifier's metadata."""

from __future__ import annotations

import keras

from ..models import Classifier
from .graph import flat_name


class ModelModifier:
    """Base class of model modifiers (tf-keras-vis's ``ModelModifier`` shape).

    Subclasses implement ``__call__(model) -> keras.Model``: a new model with
    the same input and output as ``model`` (weights copied, never shared by
    reference, so the original stays as it was), and ``params()``.
    """

    name = "modifier"

    def params(self) -> dict:
        return {}

    def __call__(self, model: keras.Model) -> keras.Model:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def modify(clf: Classifier, modifier, *, name: str | None = None) -> Classifier:
    """A new Classifier whose model is ``modifier(clf.model)``; ``clf`` is not changed.

    Args:
        modifier: a ``ModelModifier`` or a function ``model -> new model``.
        name: the new classifier's name (default ``<name>+<modifier>``).
    """
    if not isinstance(clf, Classifier):
        raise ValueError(f"clf must be a keras_advinterp Classifier. Received: clf={type(clf).__name__}")
    if not callable(modifier):
        raise ValueError(f"modifier must be a ModelModifier or a function model -> model. Received: {modifier!r}")
    model = modifier(clf.model)
    if not isinstance(model, keras.Model):
        raise ValueError(f"the modifier must return a keras.Model. Received: {type(model).__name__}")
    if model is clf.model:
        raise ValueError("the modifier returned the original model: modifiers must return a new model "
                         "(the original Classifier is never changed)")
    label = getattr(modifier, "name", getattr(modifier, "__name__", "modified"))
    feature_layer = flat_name(clf.model, model, clf.feature_layer)  # a nested model may have been inlined
    return Classifier(model, class_names=clf.class_names, input_size=clf.input_size,
                      feature_layer=feature_layer, name=name or f"{clf.name}+{label}",
                      weights_source=f"{clf.weights_source}, modified by {modifier!r}", channels=clf.channels)
