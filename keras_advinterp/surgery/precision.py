"""A copy of a model that computes in bfloat16: faster gradients where the hardware has bfloat16 units.

Keras's ``mixed_bfloat16`` policy on every layer except the input
conversions (resizing, pixel preprocessing, rescaling, normalisation),
which stay float32 so that small pixel perturbations are not rounded away
before the network sees them (bfloat16 keeps 8 significant bits: at the
255 scale of caffe preprocessing its spacing is 1, more than a 2/255
step). Weights stay float32 variables; the output is cast back to float32.

On a CPU with AVX512-BF16 (oneDNN) or a GPU with bfloat16 units a
ResNet50 loss-and-input-gradient step runs about 1.2-1.3x faster; on
hardware without them it can be slower (``benchmarks/attacks.py``
measures it). Logits differ from float32 by about 1% of their scale:
use the copy for the direction of an attack step, never to report
predictions (``PGD(precision="bfloat16")`` judges success with the float32
model).
"""

from __future__ import annotations

import keras

from .._checks import choice
from ..models import Classifier
from ..models.layers import PixelPreprocessing, ResizeTo
from .base import ModelModifier, modify
from .graph import is_flat, rebuild

PRECISIONS = ("float32", "bfloat16")
KEEP_FLOAT32 = (keras.layers.InputLayer, ResizeTo, PixelPreprocessing, keras.layers.Rescaling,
                keras.layers.Normalization, keras.layers.Resizing)


def mixed_precision_copy(model: keras.Model, precision: str = "bfloat16") -> keras.Model:
    """A copy of a functional model computing in ``precision`` (``mixed_<precision>`` policy), weights copied."""
    precision = choice(precision, "precision", PRECISIONS)
    if precision == "float32":
        raise ValueError("precision='float32' needs no copy: use the model itself")
    if not is_flat(model):
        model = rebuild(model, copy=False)[0]
    policy = f"mixed_{precision}"

    def clone(layer):
        config = layer.get_config()
        if not isinstance(layer, KEEP_FLOAT32):
            config = {**config, "dtype": policy}
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    out = keras.layers.Activation("linear", dtype="float32", name="to_float32")(copy.outputs[0])
    return keras.Model(copy.inputs[0], out, name=f"{model.name}_{precision}")


class MixedPrecision(ModelModifier):
    """Modifier: the model computing in bfloat16 (``mixed_precision_copy``), output float32.

    Args:
        precision: ``bfloat16``.
    """

    name = "mixed_precision"

    def __init__(self, precision: str = "bfloat16"):
        self.precision = choice(precision, "precision", PRECISIONS)
        if self.precision == "float32":
            raise ValueError("MixedPrecision takes a lower precision than the model's float32: 'bfloat16'. "
                             "Received: precision='float32'")

    def params(self) -> dict:
        return {"precision": self.precision}

    def __call__(self, model):
        return mixed_precision_copy(model, self.precision)


def precision_copy(clf: Classifier, precision: str) -> Classifier:
    """``clf`` itself for float32, else its ``MixedPrecision`` copy, made once and cached on ``clf``."""
    if choice(precision, "precision", PRECISIONS) == "float32":
        return clf
    return clf.compiled(("mixed_precision_copy", precision), lambda: modify(clf, MixedPrecision(precision)))
