"""Layer surgery: model modifiers that return a new Classifier, never mutating the original.

A modifier (as tf-keras-vis's ``ModelModifier``) is an object or function
``modifier(model) -> new keras.Model``; ``modify(clf, modifier)`` applies it
and wraps the result with the classifier's metadata. Modifiers:
``SmoothReLU`` (every ReLU made softplus(beta x) / beta, for attacks on
gradient maps), ``MaskChannels`` and ``ScaleFilters``
(seeds/000_f66802178e087466.txt Sec. 4.5), ``MixedPrecision`` (a bfloat16
copy for faster attack steps). Readers:
``IncrementalForward`` (logits of many copies of one image, each changed
only inside its own box, computed window by window: grid sensitivity and
occlusion maps), ``capture`` /
``FeatureCapture`` (any layers' feature maps in one compiled pass),
``conv_layers``, ``feature_layers`` and ``feature_map_rmse`` (Sec. 4.4,
Eq. 4). Layers are addressed by Keras name; nested models are opened
(``graph.rebuild``).
"""

from __future__ import annotations

from .base import ModelModifier, modify
from .capture import FeatureCapture, capture
from .channels import ChannelMask, MaskChannels, ScaleFilters, mask_channels, scale_filters
from .graph import conv_layers, feature_layers
from .incremental import IncrementalForward
from .precision import MixedPrecision, mixed_precision_copy
from .rmse import ChannelRMSE, FeatureMapRMSE, feature_map_rmse
from .smooth import SmoothReLU, SmoothReLULayer, smooth_relu_copy

__all__ = [
    "ModelModifier", "modify", "SmoothReLU", "SmoothReLULayer", "smooth_relu_copy",
    "FeatureCapture", "capture", "conv_layers", "feature_layers",
    "ChannelMask", "MaskChannels", "ScaleFilters", "mask_channels", "scale_filters",
    "ChannelRMSE", "FeatureMapRMSE", "feature_map_rmse", "MixedPrecision", "mixed_precision_copy",
    "IncrementalForward",
]
