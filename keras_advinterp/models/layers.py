"""Weightless layers that put resizing and preprocessing inside a Classifier.

Both layers have no variables, so legacy topological ``.h5`` weight files
(Keras's ImageNet files) still load into a model that contains them.
"""

from __future__ import annotations

import keras
from keras import ops

# Mean/std of the ImageNet training set, as keras.applications uses them.
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)

PREPROCESSING_MODES = ("none", "caffe", "tf", "torch")


@keras.saving.register_keras_serializable(package="keras_advinterp")
class ResizeTo(keras.layers.Layer):
    """Bilinear resize of NHWC images to ``(height, width)``.

    Unlike ``keras.layers.Resizing`` it is the identity when the incoming
    spatial size already matches, so images at the native size pass
    through exactly (gradients and norms are not blurred by a no-op resize).
    """

    def __init__(self, height: int, width: int, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = int(height), int(width)

    def call(self, x):
        if x.shape[1] == self.height and x.shape[2] == self.width:
            return x
        return ops.image.resize(x, (self.height, self.width), interpolation="bilinear", antialias=False)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


@keras.saving.register_keras_serializable(package="keras_advinterp")
class PixelPreprocessing(keras.layers.Layer):
    """Maps raw pixels in [0, 1] to what a network was trained on.

    Modes follow ``keras.applications.imagenet_utils.preprocess_input`` but
    take [0, 1] input: ``caffe`` (x255, RGB->BGR, minus ImageNet mean;
    ResNet50, VGG16), ``tf`` (to [-1, 1]; MobileNet V1/V2), ``torch``
    (ImageNet mean/std; DenseNet) and ``none``.
    """

    def __init__(self, mode: str = "none", **kwargs):
        super().__init__(**kwargs)
        if mode not in PREPROCESSING_MODES:
            raise ValueError(f"mode must be one of {PREPROCESSING_MODES}. Received: mode={mode!r}")
        self.mode = mode

    def call(self, x):
        if self.mode == "caffe":
            x = x[..., ::-1] * 255.0
            return x - ops.convert_to_tensor(_CAFFE_MEAN_BGR, dtype=x.dtype)
        if self.mode == "tf":
            return x * 2.0 - 1.0
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_TORCH_MEAN, dtype=x.dtype)
            std = ops.convert_to_tensor(_TORCH_STD, dtype=x.dtype)
            return (x - mean) / std
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="keras_advinterp")
class Standardize(keras.layers.Layer):
    """Per-channel ``(x - mean) / std``, constants only (no variables).

    ``mean`` and ``std`` hold one value for every channel, or one value for
    all of them; they are in the units of the incoming pixels.
    """

    def __init__(self, mean=(0.0,), std=(1.0,), **kwargs):
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        if not self.std or any(s <= 0 for s in self.std):
            raise ValueError(f"std values must be positive. Received: std={self.std}")

    def call(self, x):
        mean = ops.convert_to_tensor(self.mean, dtype=x.dtype)
        std = ops.convert_to_tensor(self.std, dtype=x.dtype)
        return (x - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": list(self.mean), "std": list(self.std)}


@keras.saving.register_keras_serializable(package="keras_advinterp")
class LogProbabilities(keras.layers.Layer):
    """``log(p)`` of softmax probabilities: logits up to a per-image constant.

    For a network whose softmax cannot be split off (a SavedModel graph),
    ``softmax(log p) == p``, so losses, margins and predictions are those of
    the true logits. Probabilities are floored at 1e-30 (float32 stays finite).
    """

    def call(self, p):
        return ops.log(ops.maximum(p, ops.convert_to_tensor(1e-30, dtype=p.dtype)))

    def compute_output_shape(self, input_shape):
        return input_shape
