"""Differentiable, compiled interpreters: CAM, Grad-CAM and Grad (XLA where jit_compile says).

Attacks on interpreters (ADV2, AdvEdge; seeds/003_95601c10b3bd7c9c.txt, Sec. IV) differentiate
through the map, which tf-keras-vis cannot do. Each class here exposes
``maps(x, class_index)``, a pure TensorFlow function usable inside
``tf.GradientTape`` and inside other compiled functions, and its ``__call__``
runs it as one compiled ``tf.function`` (cached). Post-processing matches
tf-keras-vis exactly: ReLU, bilinear upsampling with aligned corners (what
``scipy.ndimage.zoom(order=1)`` does), per-map min-max with 1e-7.
tests/interpret/test_differentiable.py checks the agreement.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .._checks import positive
from ..surgery.smooth import smooth_relu_copy
from .base import Interpreter

_EPS = 1e-7  # keras.backend.epsilon(), as tf-keras-vis normalises


def zoom_matrix(out_size: int, in_size: int) -> np.ndarray:
    """(out, in) matrix of ``scipy.ndimage.zoom(order=1)`` along one axis (aligned corners)."""
    m = np.zeros((out_size, in_size), np.float32)
    if in_size == 1 or out_size == 1:
        m[:, 0] = 1.0
        return m
    pos = np.arange(out_size) * (in_size - 1) / (out_size - 1)
    lo = np.clip(np.floor(pos).astype(int), 0, in_size - 2)
    frac = (pos - lo).astype(np.float32)
    m[np.arange(out_size), lo] = 1.0 - frac
    m[np.arange(out_size), lo + 1] += frac
    return m


def upsample(maps, height: int, width: int):
    """(N, h, w) -> (N, height, width), differentiable, as tf-keras-vis's zoom.

    With a size unknown while tracing (a serving graph taking any image
    size), the same aligned-corner bilinear resize runs as a TensorFlow op.
    """
    h, w = maps.shape[1], maps.shape[2]
    if not (isinstance(height, int) and isinstance(width, int) and h is not None and w is not None):
        size = tf.cast(tf.stack([height, width]), tf.int32)
        return tf.raw_ops.ResizeBilinear(images=maps[..., None], size=size, align_corners=True)[..., 0]
    if (h, w) == (height, width):
        return maps
    ry = tf.constant(zoom_matrix(height, h))
    rx = tf.constant(zoom_matrix(width, w))
    return tf.einsum("Hh,nhw,Ww->nHW", ry, maps, rx)


def _spatial(x):
    """(height, width) of an NHWC batch: ints when known while tracing, else tensors."""
    h, w = x.shape[1], x.shape[2]
    if h is None or w is None:
        dyn = tf.shape(x)
        return (dyn[1] if h is None else h), (dyn[2] if w is None else w)
    return h, w


def normalize(maps):
    """Per-map min-max to [0, 1] (tf-keras-vis ``normalize``), differentiable."""
    lo = tf.reduce_min(maps, axis=[1, 2], keepdims=True)
    hi = tf.reduce_max(maps, axis=[1, 2], keepdims=True)
    return (maps - lo) / (hi - lo + _EPS)


def class_scores(logits, class_index):
    """Logit of each image's own class: (N,)."""
    return tf.gather(logits, tf.cast(class_index, tf.int32), axis=1, batch_dims=1)


class Differentiable(Interpreter):
    """Base: subclasses implement ``maps``; calls run it compiled and cached."""

    def maps(self, x, class_index):
        """(N, H, W) maps in [0, 1] as a differentiable TensorFlow expression."""
        raise NotImplementedError

    def maps_and_logits(self, x, class_index=None):
        """``(maps, logits)`` of ``x``; ``class_index`` None explains each image's predicted class.

        Subclasses share one forward pass between the two; this default
        runs the model once more for the logits.
        """
        logits = self.clf.model(x, training=False)
        if class_index is None:
            class_index = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return self.maps(x, class_index), logits

    def explain_batch(self, x, class_index):
        fn = self.compiled(self.maps)
        return fn(tf.constant(x), tf.constant(class_index, tf.int32)).numpy()


def dense_head(clf, feature_layer: str):
    """The Dense layer of a feature_layer -> GAP -> Dense head, or ValueError."""
    layers = clf.model.layers
    dense, gap = layers[-1], layers[-2] if len(layers) > 1 else None
    feeds = gap is not None and gap.input is clf.model.get_layer(feature_layer).output
    if not (isinstance(dense, keras.layers.Dense) and isinstance(gap, keras.layers.GlobalAveragePooling2D) and feeds):
        raise ValueError(
            f"CAM needs the head feature_layer -> GlobalAveragePooling2D -> Dense; model {clf.name!r} "
            f"ends with {[type(layer).__name__ for layer in layers[-3:]]}. Use GradCAM instead. "
            f"Received: feature_layer={feature_layer!r}"
        )
    return dense


class CAM(Differentiable):
    """Class activation mapping, CAM_c = ReLU(sum_k w_kc A_k), compiled and differentiable.

    Needs feature_layer -> GlobalAveragePooling2D -> Dense(logits). For such
    heads Grad-CAM reduces to CAM (dlogit_c / dA_k(i,j) = w_kc / (h w)), so
    it agrees with tf-keras-vis Gradcam.

    References:
        Zhou et al., "Learning Deep Features for Discriminative Localization"
        (CVPR 2016); seeds/000_f66802178e087466.txt, Sec. 4.3;
        seeds/001_13ab3436c62e81d7.txt, Table 2; seeds/003_95601c10b3bd7c9c.txt; seeds/004_3483dc02f8dd9934.txt.
    """

    name = "cam"

    def __init__(self, clf, **kwargs):
        super().__init__(clf, **kwargs)
        self.dense = dense_head(clf, self.feature_layer)

    def raw(self, x, class_index):
        """(N, h, w) un-normalised map at feature resolution (attention attacks use its mass)."""
        return self.raw_and_logits(x, class_index)[0]  # unused logits are pruned in the graph

    def raw_and_logits(self, x, class_index=None):
        """``(raw map, logits)`` from one forward pass; None explains the predicted class."""
        feats, logits = self.clf.features_and_logits(self.feature_layer)(x, training=False)
        if class_index is None:
            class_index = tf.argmax(logits, axis=-1, output_type=tf.int32)
        w = tf.gather(self.dense.kernel, tf.cast(class_index, tf.int32), axis=1)  # (k, N)
        return tf.nn.relu(tf.einsum("nhwk,kn->nhw", feats, tf.cast(w, feats.dtype))), logits

    def maps(self, x, class_index):
        return normalize(upsample(self.raw(x, class_index), *_spatial(x)))

    def maps_and_logits(self, x, class_index=None):
        raw, logits = self.raw_and_logits(x, class_index)
        return normalize(upsample(raw, *_spatial(x))), logits


class GradCAMXLA(Differentiable):
    """Grad-CAM as one compiled, differentiable function (twin of ``GradCAM``).

    References:
        Selvaraju et al., Grad-CAM (ICCV 2017).
    """

    name = "gradcam_xla"

    def raw(self, x, class_index):
        """(N, h, w) un-normalised map at feature resolution (attention attacks use its mass)."""
        return self.raw_and_logits(x, class_index)[0]

    def raw_and_logits(self, x, class_index=None):
        """``(raw map, logits)`` from one forward pass; None explains the predicted class."""
        # The tape must record the head while it runs; feats only exist after the
        # forward pass, so it watches variables (the default) rather than feats.
        with tf.GradientTape() as tape:
            feats, logits = self.clf.features_and_logits(self.feature_layer)(x, training=False)
            if class_index is None:
                class_index = tf.argmax(logits, axis=-1, output_type=tf.int32)
            score = tf.reduce_sum(class_scores(logits, class_index))
        grads = tape.gradient(score, feats)
        weights = tf.reduce_mean(grads, axis=[1, 2], keepdims=True)
        return tf.nn.relu(tf.reduce_sum(feats * weights, axis=-1)), logits

    def maps(self, x, class_index):
        return normalize(upsample(self.raw(x, class_index), *_spatial(x)))

    def maps_and_logits(self, x, class_index=None):
        raw, logits = self.raw_and_logits(x, class_index)
        return normalize(upsample(raw, *_spatial(x))), logits


class Grad(Differentiable):
    """The gradient map "Grad" (ADV2 / AdvEdge): max over channels of |d logit_c / dx|.

    Twin of tf-keras-vis ``Saliency``. ``relu_beta`` replaces every ReLU by
    softplus(beta x) / beta in a copy of the model, so the map has non-zero
    second derivatives (seeds/003_95601c10b3bd7c9c.txt, Sec. IV, the smoothed ReLU gradient that
    attacks on Grad need); None keeps the model as it is.

    References:
        Simonyan et al. (2014); Zhang et al., ADV2 (USENIX Security 2020).
    """

    name = "grad"
    needs_feature_layer = False

    def __init__(self, clf, *, relu_beta: float | None = None, **kwargs):
        super().__init__(clf, **kwargs)
        self.relu_beta = None if relu_beta is None else positive(relu_beta, "relu_beta")
        self._model = clf.model if relu_beta is None else smooth_relu_copy(clf.model, self.relu_beta)

    def params(self) -> dict:
        return {**super().params(), "relu_beta": self.relu_beta}

    def maps(self, x, class_index):
        return self.maps_and_logits(x, class_index)[0]

    def maps_and_logits(self, x, class_index=None):
        """``(maps, logits)``; the logits are the explained model's (the smoothed copy's with ``relu_beta``)."""
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            logits = self._model(x, training=False)
            if class_index is None:
                class_index = tf.argmax(logits, axis=-1, output_type=tf.int32)
            score = tf.reduce_sum(class_scores(logits, class_index))
        grads = tape.gradient(score, x)
        return normalize(tf.reduce_max(tf.abs(grads), axis=-1)), logits
