"""How far an attack moves each layer's activations: the activation bias (Xu et al., Fig. A8, Fig. 9).

seeds/001_13ab3436c62e81d7.txt, Appendix 4 (Fig. A8): the activation bias of
a layer is the Euclidean distance between its activations for an original
input x and its adversarial version x', ``||A_l(x') - A_l(x)||_2``, shown
layer by layer from the input to the output. Layers differ in size and
scale, so beside the paper's distance we give it relative to the natural
activations' norm, and the signed mean change (does the attack raise or
lower the layer's activations on average):

    bias = activation_bias(clf, activation_layers(clf), x, x_adv)
    bias.l2          # (N, L): ||A_l(x') - A_l(x)||_2 per image and layer
    bias.summary()   # one dict per layer: means over the images

One compiled forward pass per batch reads every layer for x and x' at once
and reduces each to a few numbers inside the graph, so no feature map
leaves the device and memory does not grow with the number of layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from .._batching import map_batches
from .._checks import positive
from .._compile import compile_fn, resolve_jit
from ..surgery import FeatureCapture, feature_layers
from ..surgery.graph import as_model, walk

_NONLINEAR = (keras.layers.ReLU, keras.layers.Activation, keras.layers.LeakyReLU, keras.layers.ELU,
              keras.layers.PReLU)


def activation_layers(clf) -> list[str]:
    """The layers whose outputs are neurons' activations: 4-D outputs of ReLU / Activation-type layers, in graph order.

    ResNet50's ``conv1_relu`` ... ``conv5_block3_out``; the embedded ``shapes`` model's ``stem_relu``,
    ``block1_1_relu``, ``block1_out`` ... ``features``.
    """
    four_d = set(feature_layers(clf))
    names = [layer.name for layer in walk(as_model(clf, allow_model=True))
             if isinstance(layer, _NONLINEAR) and layer.name in four_d]
    if not names:
        raise ValueError(f"model {clf.name!r} has no 4-D ReLU / Activation layer; pass layer names "
                         f"(feature layers: {feature_layers(clf)}). Received: model={clf.name!r}")
    return names


@dataclass
class ActivationBias:
    """Per image (rows) and layer (columns), natural x against adversarial x'.

    Attributes:
        layers: the layer names, in the order of the columns.
        l2: ``||A(x') - A(x)||_2`` over all of a layer's units and positions (the paper's bias), (N, L).
        norm: ``||A(x)||_2``, (N, L).
        mean_diff: the mean of ``A(x') - A(x)`` over the layer's values (signed), (N, L).
        size: values per image in each layer (h * w * k), (L,).
    """

    layers: list[str]
    l2: np.ndarray
    norm: np.ndarray
    mean_diff: np.ndarray
    size: np.ndarray

    @property
    def relative(self) -> np.ndarray:
        """``l2 / norm`` (0 where the natural activations are all zero), (N, L)."""
        return np.where(self.norm > 0, self.l2 / np.where(self.norm > 0, self.norm, 1.0), 0.0)

    @property
    def rms(self) -> np.ndarray:
        """``l2 / sqrt(size)``: the root-mean-square change of one value, comparable across layer sizes; (N, L)."""
        return self.l2 / np.sqrt(self.size)[None, :]

    def summary(self) -> list[dict]:
        """One row per layer: depth, size, and the mean (and std of ``l2``) over the images."""
        rel, rms = self.relative, self.rms
        return [{"layer": name, "depth": i, "size": int(self.size[i]), "l2": float(self.l2[:, i].mean()),
                 "l2 std": float(self.l2[:, i].std()), "relative": float(rel[:, i].mean()),
                 "rms": float(rms[:, i].mean()), "mean diff": float(self.mean_diff[:, i].mean())}
                for i, name in enumerate(self.layers)]


def _bias_fn(net, names):
    def fn(x, x_adv):
        n = tf.shape(x)[0]
        maps = net(tf.concat([x, x_adv], 0), training=False)
        out = {}
        for name in names:
            a = tf.reshape(tf.cast(maps[name], tf.float32), [2 * n, -1])
            d = a[n:] - a[:n]
            size = tf.fill([n], tf.cast(tf.shape(a)[1], tf.float32))
            out[name] = tf.stack([tf.norm(d, axis=1), tf.norm(a[:n], axis=1), tf.reduce_mean(d, axis=1), size], 1)
        return out

    return fn


def activation_bias(clf, layers: str | Sequence[str], x, x_adv, *, batch_size: int = 32,
                    jit_compile="auto") -> ActivationBias:
    """The activation bias of each of ``layers`` between ``x`` and ``x_adv``, image by image.

    Args:
        clf: a Classifier (raw pixels in [0, 1] -> logits).
        layers: one name or several, each a layer with 4-D outputs (``activation_layers(clf)`` lists the
            activation layers; ``surgery.feature_layers`` all 4-D ones).
        x, x_adv: (N, H, W, C) natural and adversarial images in [0, 1], same shape, N >= 1.
        batch_size: pairs per compiled call (each call runs 2 * batch_size images).

    Returns:
        ``ActivationBias`` with (N, L) arrays.

    Raises:
        ValueError: an unknown layer (the valid names listed), images of different shapes, NaN or values
            outside [0, 1], a batch size < 1; all before any forward pass.

    References:
        Xu et al., seeds/001_13ab3436c62e81d7.txt, Appendix 4 and Fig. A8 (the Euclidean distance between
        neurons' activations for original and adversarial inputs).
    """
    x = clf.check_images(x, "x")
    x_adv = clf.check_images(x_adv, "x_adv")
    if x.shape != x_adv.shape:
        raise ValueError(f"x and x_adv must have one shape. Received: x.shape={x.shape}, x_adv.shape={x_adv.shape}")
    if len(x) == 0:
        raise ValueError("x must hold at least one image. Received: x.shape=" + str(x.shape))
    batch_size = positive(batch_size, "batch_size", integer=True)
    cap = FeatureCapture(clf, layers, batch_size=batch_size, jit_compile=jit_compile)
    names, jit = cap.layers, resolve_jit(jit_compile, clf)
    fn = clf.compiled(("activation_bias", names, jit),
                      lambda: compile_fn(_bias_fn(cap.model, names), jit, reduce_retracing=True))
    stats = map_batches(fn, [x, x_adv], batch_size)
    cols = np.stack([np.asarray(stats[name], np.float64) for name in names], axis=1)  # (N, L, 4)
    return ActivationBias(list(names), cols[..., 0], cols[..., 1], cols[..., 2], cols[0, :, 3].astype(np.int64))
