"""RTS: real-time saliency, a masking model trained once, then one forward pass.

The masking model reads the classifier's own (frozen) feature maps, gates
them with a learned embedding of the class asked about, and decodes a mask
m in [0, 1] (with a U-Net style skip from the layer at twice the feature
resolution, when there is one), upsampled to the input. It is trained so
that the kept region alone preserves the class and its deletion destroys it:
    tv * TV(m) + area * mean(m) - log p_c(keep(x, m)) + destroy * p_c(keep(x, 1 - m))^0.3
with keep(x, m) = m x + (1 - m) blur(x).

References:
    Dabkowski and Gal, "Real Time Image Saliency for Black Box Classifiers"
    (NeurIPS 2017); the RTS interpreter of seeds/003_95601c10b3bd7c9c.txt, Sec. IV, Eq. 16.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..models.embedded import WEIGHTS_DIR
from .base import Interpreter
from .differentiable import class_scores, normalize, upsample
from .perturbation import gaussian_blur, total_variation

LOSS = {"tv": 0.05, "area": 0.5, "destroy": 2.0, "destroy_power": 0.3, "blur_sigma": 0.05}


def _skip_layer(clf, feature_layer: str) -> str | None:
    """The last layer before ``feature_layer`` at twice its resolution (a U-Net style skip), if any."""
    layers = clf.model.layers
    names = [layer.name for layer in layers]
    size = clf.model.get_layer(feature_layer).output.shape[1]
    for layer in reversed(layers[: names.index(feature_layer)]):
        shape = getattr(layer, "output", None)
        shape = getattr(shape, "shape", ())
        if len(shape) == 4 and shape[1] == 2 * size:
            return layer.name
    return None


def build_encoder(clf, feature_layer: str | None = None) -> keras.Model:
    """Pixels -> [feature maps, skip maps at twice the resolution (when the model has them)]."""
    layer = feature_layer or clf.feature_layer
    skip = _skip_layer(clf, layer)
    outs = [clf.model.get_layer(layer).output] + ([clf.model.get_layer(skip).output] if skip else [])
    return keras.Model(clf.model.inputs[0], outs, name=f"{clf.name}_rts_encoder")


def encode(encoder, x) -> list:
    out = encoder(x, training=False)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def build_masker(clf, feature_layer: str | None = None, width: int = 64) -> keras.Model:
    """Masking model: (encoder outputs..., class index) -> mask logits (N, h, w).

    The class gates the feature maps; with a skip layer the decoder upsamples
    once and mixes in the finer maps. The mask is ``sigmoid(logits)``; maps
    rank pixels by the logits, which do not saturate (a saturated sigmoid
    ties whole regions at 1.0).
    """
    enc = build_encoder(clf, feature_layer)
    enc_in = [keras.Input(t.shape[1:], name=f"encoded_{i}") for i, t in enumerate(enc.outputs)]
    k = enc_in[0].shape[-1]
    cls_in = keras.Input((), dtype="int32", name="class_index")
    gate = keras.layers.Embedding(clf.num_classes, k, embeddings_initializer="ones", name="class_gate")(cls_in)
    h = keras.layers.Multiply(name="gated")([enc_in[0], keras.layers.Reshape((1, 1, k))(gate)])
    h = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="dec1")(h)
    h = keras.layers.Conv2D(width // 2, 3, padding="same", activation="relu", name="dec2")(h)
    if len(enc_in) > 1:
        h = keras.layers.UpSampling2D(2, interpolation="bilinear", name="up")(h)
        s = keras.layers.Conv2D(width // 2, 1, activation="relu", name="skip_proj")(enc_in[1])
        h = keras.layers.Concatenate(name="merge")([h, s])
        h = keras.layers.Conv2D(width // 2, 3, padding="same", activation="relu", name="dec3")(h)
    logit = keras.layers.Conv2D(1, 1, name="mask_logit")(h)
    return keras.Model([*enc_in, cls_in], keras.layers.Reshape(logit.shape[1:3])(logit), name=f"{clf.name}_rts")


def rts_weights_file(clf) -> Path:
    return WEIGHTS_DIR / f"{clf.name}_rts.weights.h5"


class RTS(Interpreter):
    """Real-time saliency maps from a trained masking model (one forward pass).

    Args:
        weights: ``"embedded"`` (the shipped masker for an embedded model),
            a weights file, or a trained ``keras.Model`` from ``train_rts``.
    """

    name = "rts"

    def __init__(self, clf, *, weights="embedded", **kwargs):
        super().__init__(clf, **kwargs)
        self.weights = weights
        self._encoder = build_encoder(clf, self.feature_layer)
        if isinstance(weights, keras.Model):
            self.masker = weights
            return
        self.masker = build_masker(clf, self.feature_layer)
        path = rts_weights_file(clf) if weights == "embedded" else Path(weights)
        if not path.is_file():
            raise FileNotFoundError(
                f"no RTS masking model for {clf.name!r} at {path}; train one with "
                f"`python training/train_rts.py --model {clf.name}` or interpret.rts.train_rts(clf, x, y)"
            )
        self.masker.load_weights(str(path))

    def maps(self, x, class_index):
        logits = self.masker([*encode(self._encoder, x), class_index], training=False)
        return normalize(upsample(logits, x.shape[1], x.shape[2]))

    def masks(self, x, class_index):
        """The masks themselves, sigmoid(logits) in [0, 1], (N, H, W)."""
        logits = self.masker([*encode(self._encoder, x), class_index], training=False)
        return upsample(tf.sigmoid(logits), x.shape[1], x.shape[2])

    def params(self) -> dict:
        # the masker object, not the weights argument: two RTS built from one file hold different maskers
        return {**super().params(), "weights": self.weights if isinstance(self.weights, keras.Model) else
                (str(self.weights), id(self.masker))}

    def explain_batch(self, x, class_index):
        fn = self.compiled(self.maps)
        return fn(tf.constant(x), tf.constant(class_index, tf.int32)).numpy()


def rts_loss(clf, encoder, masker, x, y, weights=LOSS):
    """Per-batch RTS objective (scalar) and the masks (N, H, W)."""
    small = tf.sigmoid(masker([*encode(encoder, x), y], training=True))
    m = upsample(small, x.shape[1], x.shape[2])
    blurred = gaussian_blur(x, weights["blur_sigma"] * max(x.shape[1], x.shape[2]))
    mm = m[..., None]
    keep = mm * x + (1 - mm) * blurred
    drop = (1 - mm) * x + mm * blurred
    p_keep = class_scores(tf.nn.softmax(clf.model(keep, training=False)), y)
    p_drop = class_scores(tf.nn.softmax(clf.model(drop, training=False)), y)
    loss = (weights["tv"] * total_variation(small, 2.0) + weights["area"] * tf.reduce_mean(small, axis=[1, 2])
            - tf.math.log(p_keep + 1e-6) + weights["destroy"] * (p_drop + 1e-6) ** weights["destroy_power"])
    return tf.reduce_mean(loss), m


def train_rts(clf, x, y, *, epochs: int = 3, batch_size: int = 64, lr: float = 2e-3, seed: int = 0,
              loss_weights: dict | None = None, progress: bool = True) -> keras.Model:
    """Trains a masking model for ``clf`` on images ``x`` with labels ``y`` (classifier frozen).

    ``loss_weights`` overrides entries of ``LOSS`` (tv, area, destroy, destroy_power, blur_sigma).
    """
    unknown = set(loss_weights or {}) - set(LOSS)
    if unknown:
        raise ValueError(f"unknown RTS loss weights {sorted(unknown)}; known: {sorted(LOSS)}")
    weights = {**LOSS, **(loss_weights or {})}
    keras.utils.set_random_seed(seed)
    encoder = build_encoder(clf)
    masker = build_masker(clf)
    opt = keras.optimizers.Adam(lr)

    @tf.function(jit_compile=True)
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss, _ = rts_loss(clf, encoder, masker, xb, yb, weights)
        grads = tape.gradient(loss, masker.trainable_variables)
        opt.apply_gradients(zip(grads, masker.trainable_variables))
        return loss

    rng = np.random.default_rng(seed)
    n = (len(x) // batch_size) * batch_size  # whole batches only: one compiled shape
    for epoch in range(epochs):
        order = rng.permutation(len(x))[:n]
        losses = []
        bar = tqdm(range(0, n, batch_size), desc=f"RTS epoch {epoch + 1}/{epochs}", disable=not progress)
        for s in bar:
            idx = order[s : s + batch_size]
            losses.append(float(step(tf.constant(x[idx]), tf.constant(y[idx], tf.int32))))
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    return masker
