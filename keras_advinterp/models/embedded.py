"""Small CAM-compatible CNNs that ship with the package (weights included).

All end in conv blocks -> global average pooling -> dense logits, the head
CAM needs. Their weights come from ``training/train_embedded.py``, which
reproduces them from a seed; they need no network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
from keras import layers

from ..data import digits as digits_data
from ..data import shapes as shapes_data
from .classifier import Classifier
from .layers import ResizeTo

WEIGHTS_DIR = Path(__file__).parent / "weights"


def _conv_bn_relu(x, filters, stride, name):
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _residual_block(x, filters, stride, name):
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = _conv_bn_relu(x, filters, stride, f"{name}_1")
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    y = layers.BatchNormalization(name=f"{name}_2_bn")(y)
    return layers.Add(name=f"{name}_add")([shortcut, y])


def _cam_cnn(input_size, channels, num_classes, widths, name, residual=True) -> keras.Model:
    """Raw pixels [0,1] -> logits; last conv output is the layer named ``features``."""
    raw = keras.Input((None, None, channels), name="pixels")
    x = ResizeTo(*input_size, name="resize_to")(raw)
    x = layers.Rescaling(2.0, offset=-1.0, name="preprocess")(x)
    x = _conv_bn_relu(x, widths[0], 1, "stem")
    for i, w in enumerate(widths[1:], start=1):
        if residual:
            x = _residual_block(x, w, 2 if i < len(widths) - 1 else 1, f"block{i}")
            x = layers.ReLU(name="features" if i == len(widths) - 1 else f"block{i}_out")(x)
        else:
            x = _conv_bn_relu(x, w, 2 if i < len(widths) - 1 else 1, f"block{i}")
    if not residual:
        x = layers.Activation("linear", name="features")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(raw, logits, name=name)


def _separable_block(x, filters, stride, name):
    """MobileNet V1 block: depthwise 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU."""
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(name=f"{name}_dw_bn")(x)
    x = layers.ReLU(name=f"{name}_dw_relu")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    return layers.BatchNormalization(name=f"{name}_pw_bn")(x)


def _mobile_cnn(input_size, channels, num_classes, stem, blocks, name) -> keras.Model:
    """Like ``_cam_cnn`` but with depthwise-separable blocks; ``blocks`` is ((filters, stride), ...).

    The last block's closing ReLU is the layer named ``features``.
    """
    raw = keras.Input((None, None, channels), name="pixels")
    x = ResizeTo(*input_size, name="resize_to")(raw)
    x = layers.Rescaling(2.0, offset=-1.0, name="preprocess")(x)
    x = _conv_bn_relu(x, stem, 1, "stem")
    for i, (filters, stride) in enumerate(blocks, start=1):
        x = _separable_block(x, filters, stride, f"block{i}")
        x = layers.ReLU(name="features" if i == len(blocks) else f"block{i}_out")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(raw, logits, name=name)


# 64x64 stem -> 32x32 -> 16x16: features are 16x16, the same CAM grid as "shapes".
_MOBILE_BLOCKS = ((32, 2), (32, 1), (64, 2), (64, 1), (128, 1), (128, 1))


@dataclass(frozen=True)
class EmbeddedSpec:
    build: Callable[[], keras.Model]
    class_names: tuple[str, ...]
    input_size: tuple[int, int]
    channels: int
    data: str
    description: str

    @property
    def weights_file(self) -> Path:
        return WEIGHTS_DIR / f"{self.build().name}.weights.h5"


EMBEDDED = {
    "shapes": EmbeddedSpec(
        lambda: _cam_cnn((64, 64), 3, len(shapes_data.SHAPES), (24, 32, 64, 96), "shapes"),
        shapes_data.SHAPES, (64, 64), 3, "shapes",
        "ResNet-style CNN (3 residual blocks, GAP, dense) on the generated shapes set",
    ),
    "digits": EmbeddedSpec(
        lambda: _cam_cnn((32, 32), 1, 10, (16, 32, 64), "digits", residual=False),
        digits_data.CLASS_NAMES, (32, 32), 1, "digits",
        "plain CNN (3 conv blocks, GAP, dense) on scikit-learn's handwritten digits",
    ),
    "shapes_mobile": EmbeddedSpec(
        lambda: _mobile_cnn((64, 64), 3, len(shapes_data.SHAPES), 16, _MOBILE_BLOCKS, "shapes_mobile"),
        shapes_data.SHAPES, (64, 64), 3, "shapes",
        "MobileNet-style CNN (6 depthwise-separable blocks, GAP, dense) on the generated shapes set",
    ),
}


def build_embedded(name: str, weights: str | None = "embedded") -> Classifier:
    """An embedded model; ``weights`` is ``"embedded"`` (shipped), None or a file."""
    spec = EMBEDDED[name]
    model = spec.build()
    if weights == "embedded":
        path = spec.weights_file
        if not path.is_file():
            raise FileNotFoundError(
                f"embedded weights are missing: {path}. Reinstall the package or run "
                f"`python training/train_embedded.py --model {name}`."
            )
        model.load_weights(str(path))
        source = f"embedded ({path.name})"
    elif weights is None:
        source = "random (weights=None)"
    else:
        if not Path(weights).is_file():
            raise FileNotFoundError(f"weights file does not exist. Received: weights={str(weights)!r}")
        model.load_weights(str(weights))
        source = str(weights)
    return Classifier(
        model,
        class_names=spec.class_names,
        input_size=spec.input_size,
        feature_layer="features",
        name=name,
        weights_source=source,
        channels=spec.channels,
    )
