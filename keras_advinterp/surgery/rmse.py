"""Feature-map RMSE between clean and adversarial images, per channel, ranked (Ding et al. Eq. 4).

    result = feature_map_rmse(clf, x_clean, x_adv)     # every conv layer
    result.top(10)      # the ten most changed channels: Tables 4 and 6
    result.bottom(10)   # the ten least changed: Tables 5 and 7

Our reading of Eq. 4, RMSE = sqrt(1/(H W C) sum_i sum_j sum_k (a - b)^2)
with a, b the clean and adversarial feature maps of size H x W x C: the
paper ranks single channels (Tables 4-7: "pool_1_pad_35 represents the 35th
feature map" of that layer), so one "feature map" is one channel, C = 1,
and the sums run over its H x W pixels. The paper gives one value per
channel for a whole data set without saying how images are combined; we
take each image's RMSE (``per_image``) and average over images
(``reduce="mean"``); ``reduce="pooled"`` is the other reading, one RMSE
over the pixels of all images (sqrt of the mean of per-image MSEs).
Channels are 0-based, the indices ``mask_channels`` and ``scale_filters``
take; names are ``<layer>_<channel>`` as in the paper (``conv1_relu_35``).
Feature maps are compared in the network's own units (after its
preprocessing, so caffe-preprocessed ResNet50 maps are in 0-255 scale as in
the paper's figures).

References:
    Ding et al. (seeds/000_f66802178e087466.txt), Sec. 4.4, Eq. 4, Tables 4-7.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from .._batching import map_batches
from .._checks import choice, positive
from .._compile import compile_fn
from .capture import FeatureCapture
from .graph import as_model, conv_layers

REDUCTIONS = ("mean", "pooled")


@dataclass(frozen=True)
class ChannelRMSE:
    """One channel's RMSE: ``name`` is ``<layer>_<channel>``."""

    name: str
    layer: str
    channel: int
    rmse: float


@dataclass(frozen=True)
class FeatureMapRMSE:
    """Per-channel RMSE between clean and adversarial feature maps.

    Attributes:
        layers: the layers compared, in graph order as given.
        per_image: ``{layer: (N, k)}`` RMSE of each image's channel.
        per_image_mse: ``{layer: (N, k)}`` the same before the square root.
        reduce: ``"mean"`` or ``"pooled"`` (module docstring).
        ranked: every channel of every layer, largest RMSE first (ties in
            layer, then channel order).
    """

    layers: tuple[str, ...]
    per_image_mse: dict[str, np.ndarray] = field(repr=False)
    reduce: str = "mean"
    ranked: tuple[ChannelRMSE, ...] = field(init=False, repr=False)

    def __post_init__(self):
        values = [self.by_layer(layer) for layer in self.layers]
        layer_of = np.concatenate([np.full(len(v), i) for i, v in enumerate(values)])
        channel = np.concatenate([np.arange(len(v)) for v in values])
        flat = np.concatenate(values)
        order = np.lexsort((channel, layer_of, -flat))
        object.__setattr__(self, "ranked", tuple(
            ChannelRMSE(f"{self.layers[layer_of[i]]}_{channel[i]}", self.layers[layer_of[i]], int(channel[i]),
                        float(flat[i])) for i in order))

    @property
    def per_image(self) -> dict[str, np.ndarray]:
        return {layer: np.sqrt(mse) for layer, mse in self.per_image_mse.items()}

    @property
    def num_images(self) -> int:
        return len(next(iter(self.per_image_mse.values())))

    def by_layer(self, layer: str) -> np.ndarray:
        """RMSE of every channel of ``layer`` (k,), reduced over images."""
        if layer not in self.per_image_mse:
            raise ValueError(f"layer was not compared; compared: {list(self.layers)}. Received: layer={layer!r}")
        mse = self.per_image_mse[layer].astype(np.float64)
        return np.sqrt(mse).mean(axis=0) if self.reduce == "mean" else np.sqrt(mse.mean(axis=0))

    def top(self, k: int = 10) -> list[ChannelRMSE]:
        """The ``k`` most changed channels, largest RMSE first (Tables 4 and 6)."""
        return list(self.ranked[:positive(k, "k", integer=True)])

    def bottom(self, k: int = 10) -> list[ChannelRMSE]:
        """The ``k`` least changed channels, smallest RMSE first (Tables 5 and 7)."""
        return list(self.ranked[::-1][:positive(k, "k", integer=True)])

    def rows(self) -> list[dict]:
        """Every channel as ``{name, layer, channel, rmse}``, ranked: for CSV and JSON files."""
        return [vars(c).copy() for c in self.ranked]

    def __len__(self) -> int:
        return len(self.ranked)


def feature_map_rmse(clf, x_clean, x_adv, layers: str | Sequence[str] | None = None, *, reduce: str = "mean",
                     batch_size: int = 16, jit_compile="auto", progress: bool = False) -> FeatureMapRMSE:
    """Per-channel RMSE of ``layers``' feature maps between clean and adversarial images (Eq. 4).

    Clean and adversarial images go through the network in one batch; the
    RMSE is reduced on the device per batch, so only (N, k) per layer ever
    reaches the host (every conv layer of ResNet50 is 42 MB per image).

    Args:
        clf: a Classifier.
        x_clean, x_adv: paired images (N, H, W, C) in [0, 1], same shape.
        layers: layer names with 4-D outputs; None: ``conv_layers(clf)``.
        reduce: ``"mean"`` of per-image RMSEs or ``"pooled"`` over images.
        batch_size: pairs per compiled call.

    Returns:
        A ``FeatureMapRMSE`` (``top(k)``, ``bottom(k)``, ``by_layer``, ``rows``).
    """
    as_model(clf)
    reduce = choice(reduce, "reduce", REDUCTIONS)
    x_clean = clf.check_images(x_clean, "x_clean")
    x_adv = clf.check_images(x_adv, "x_adv")
    if x_clean.shape != x_adv.shape:
        raise ValueError(f"x_clean and x_adv must be paired images of one shape. "
                         f"Received: x_clean.shape={x_clean.shape}, x_adv.shape={x_adv.shape}")
    cap = FeatureCapture(clf, conv_layers(clf) if layers is None else layers, batch_size=batch_size,
                         jit_compile=jit_compile)
    net = cap.model

    def pair_mse(a, b):
        maps = net(tf.concat([a, b], axis=0), training=False)
        n = tf.shape(a)[0]
        return {name: tf.reduce_mean(tf.square(m[:n] - m[n:]), axis=[1, 2]) for name, m in maps.items()}

    fn = clf.compiled(("feature_map_mse", cap.layers, cap.jit), lambda: compile_fn(pair_mse, cap.jit,
                                                                                  reduce_retracing=True))
    mse = map_batches(fn, [x_clean, x_adv], cap.batch_size, progress=progress and "feature-map RMSE")
    return FeatureMapRMSE(cap.layers, {name: mse[name] for name in cap.layers}, reduce)
