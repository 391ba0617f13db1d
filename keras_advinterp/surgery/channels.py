"""Masking feature-map channels and scaling conv filters: new Classifiers, the original untouched.

    masked = mask_channels(clf, "conv1_relu", [35, 23])       # those channels are 0.0
    scaled = scale_filters(clf, "conv1_conv", [35, 23], 1.8)  # those filters x 1.8

Both copy every layer with its weights into a new model (``graph.rebuild``):
masking inserts a ``ChannelMask`` right after the layer, so every consumer
(both branches of a residual block) sees the zeros; the mask takes the
layer's name (the layer itself becomes ``<layer>_unmasked``), so reading
``layer`` by name reads the masked maps. Scaling multiplies the copied
kernel (and bias) of the chosen output filters.

References:
    Ding et al. (seeds/000_f66802178e087466.txt), Sec. 4.5: masking the
    feature maps most changed by adversarial examples (Tables 8-9), and
    enlarging the weights of the filters behind them by 1.8 (Tables 10-13).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from ..models import Classifier
from .base import ModelModifier, modify
from .graph import as_model, check_channels, find_layer, num_channels, rebuild, walk


@keras.saving.register_keras_serializable(package="keras_advinterp")
class ChannelMask(keras.layers.Layer):
    """Sets the chosen channels of a channels-last tensor to exactly 0.0 (also where the input is inf or NaN)."""

    def __init__(self, channels: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.channels = tuple(int(c) for c in channels)

    def build(self, input_shape):
        count = int(input_shape[-1])
        check_channels(self.channels, count, layer=self.name)
        keep = np.ones(count, dtype=bool)
        keep[list(self.channels)] = False
        self._keep = keep

    def call(self, x):
        return ops.where(ops.convert_to_tensor(self._keep), x, ops.zeros_like(x))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "channels": list(self.channels)}


class MaskChannels(ModelModifier):
    """Modifier: the output channels ``channels`` of layer ``layer`` are zeroed for every consumer.

    Args:
        layer: name of a layer with 4-D output (N, h, w, k): a conv, an
            activation, a pooling or padding layer.
        channels: channel indices in [0, k) (0-based, as in the paper-style
            names ``<layer>_<channel>`` of ``feature_map_rmse``).
    """

    name = "mask_channels"

    def __init__(self, layer: str, channels):
        self.layer, self.channels = layer, channels

    def params(self) -> dict:
        return {"layer": self.layer, "channels": self.channels}

    def __call__(self, model):
        target = find_layer(model, self.layer)
        channels = check_channels(self.channels, num_channels(target), layer=self.layer)
        names = {layer.name for layer in walk(model)}
        # The mask takes the layer's name, so reading that layer (capture, CAM) reads the masked maps.
        unmasked = next(n for n in (f"{self.layer}_unmasked{i or ''}" for i in range(len(names) + 1))
                        if n not in names)

        def after(name, out):
            return ChannelMask(channels, name=self.layer)(out) if name == self.layer else out

        return rebuild(model, copy=True, after=after, rename={self.layer: unmasked})[0]


class ScaleFilters(ModelModifier):
    """Modifier: conv layer ``layer``'s output filters ``filters`` have kernel and bias multiplied by ``factor``.

    The layer's pre-activation of those channels is scaled by ``factor``
    (others unchanged); a fused activation (``Conv2D(activation=...)``) is
    applied after. DepthwiseConv2D output channel ``c * depth_multiplier + m``
    is kernel[..., c, m]; SeparableConv2D scales its pointwise kernel.

    Args:
        layer: name of a Conv2D, DepthwiseConv2D or SeparableConv2D layer.
        filters: output channel indices in [0, filters).
        factor: any finite number (the paper enlarges by 1.8).
    """

    name = "scale_filters"

    def __init__(self, layer: str, filters, factor: float = 1.8):
        if isinstance(factor, bool) or not isinstance(factor, (int, float, np.integer, np.floating)) \
                or not np.isfinite(factor):
            raise ValueError(f"factor must be a finite number. Received: factor={factor!r}")
        self.layer, self.filters, self.factor = layer, filters, float(factor)

    def params(self) -> dict:
        return {"layer": self.layer, "filters": self.filters, "factor": self.factor}

    def __call__(self, model):
        target = find_layer(model, self.layer, conv=True)
        filters = check_channels(self.filters, num_channels(target), layer=self.layer, arg="filters")
        copy = rebuild(model, copy=True)[0]
        layer = copy.get_layer(self.layer)
        scale = np.ones(num_channels(layer), dtype=np.float32)
        scale[list(filters)] = self.factor
        kernel = layer.pointwise_kernel if isinstance(layer, keras.layers.SeparableConv2D) else layer.kernel
        if not isinstance(kernel, keras.Variable):  # LoRA or quantized layers compute their kernel
            raise ValueError(f"scale_filters needs a plain kernel variable; layer {self.layer!r} computes its kernel "
                             f"(LoRA or quantization). Received: layer={self.layer!r}")
        if isinstance(layer, keras.layers.DepthwiseConv2D):  # (kh, kw, in, multiplier): out = in * mult + m
            kernel_scale = scale.reshape(kernel.shape[2], kernel.shape[3])
        else:
            kernel_scale = scale
        kernel.assign(ops.convert_to_numpy(kernel) * kernel_scale)
        if layer.bias is not None:
            layer.bias.assign(ops.convert_to_numpy(layer.bias) * scale)
        return copy


def mask_channels(clf: Classifier, layer: str, channels, *, name: str | None = None) -> Classifier:
    """A new Classifier whose ``layer`` output has ``channels`` set to 0.0; ``clf`` is unchanged.

    Raises:
        ValueError: ``layer`` is not a 4-D layer of the model (the message
            lists valid names) or a channel is outside [0, k).
    """
    as_model(clf)
    return modify(clf, MaskChannels(layer, channels), name=name)


def scale_filters(clf: Classifier, layer: str, filters, factor: float = 1.8, *, name: str | None = None) -> Classifier:
    """A new Classifier whose conv ``layer`` has output ``filters`` (kernel and bias) x ``factor``; ``clf`` unchanged.

    Raises:
        ValueError: ``layer`` is not a conv layer of the model (the message
            lists them), a filter index is outside [0, filters), or
            ``factor`` is not a finite number.
    """
    as_model(clf)
    return modify(clf, ScaleFilters(layer, filters, factor), name=name)
