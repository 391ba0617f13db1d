"""A detector that reads several interpreters' maps of one input at once (AdvEdge, Sec. VIII, Tables V-VI).

An attack on an interpretable system (ADV2, AdvEdge) keeps the map of the
interpreter it targets close to the benign one; the maps of other
interpreters, which read other aspects of the network, need not follow.
The detector stacks the maps of 2 or 3 interpreters as the channels of one
image (with 2, optionally their product as a third channel), extracts
convolutional features with a VGG-style backbone whose input layer takes
that many channels, pools them, and classifies benign vs adversarial with
scikit-learn's gradient boosting (the paper's replacement of VGG16's dense
head):

    det = MultiInterpreterDetector(clf, ["grad", "cam"], product_channel=True)
    det.train(x_clean, x_adv)                     # gradient boosting on pooled features
    det.evaluate(x_clean_test, x_adv_test)        # detection rate, false positives, ROC-AUC
    det.accuracy(x_clean_test, x_adv_test)        # the paper's figure (Tables V, VI)

Each map explains the class the guarded model predicts for the input (the
detector sees only the input). The score is the booster's P(adversarial);
the default threshold 0.5 is its own decision, ``fit(x_clean, fpr=...)``
moves it as for every detector.

Backbones (``backbone=``):

- ``"embedded"`` (default, offline): the convolutional part of a small VGG
  network (blocks of two 3x3 ReLU convolutions and a 2x2 max-pool), built in
  code with He-normal weights drawn from ``seed``, not trained. We chose it
  over the guarded classifier's own conv stack because that stack is tuned
  to RGB images, not to attribution maps, takes 3 channels only, and is the
  very network an attacker optimises against; a fixed random VGG stack takes
  any channel count natively, ships no file, is the same on every machine,
  and random convolutional features with a trained read-out are a known
  strong baseline (Jarrett et al., ICCV 2009; Saxe et al., ICML 2011).
  Trainable parts are the booster only, as the paper trains only the head.
- ``"vgg16"``: Keras's VGG16 with ImageNet weights (the paper's), read from
  Keras's cache (``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``).
  Offline and uncached, ``WeightsUnavailableError`` says which file to put
  where. Its input layer is replaced by one taking the stacked maps: the
  first convolution's kernel for each new channel is the ImageNet kernel
  averaged over RGB, times 3 / channels (a constant input gives the same
  response). The paper trains its replaced input layer; we adapt it instead,
  so the booster is the only part fitted.
- a ``keras.Model`` from (H, W, channels) maps to feature maps or vectors.

Features are the global average and global max of every block's output.

The booster runs on the host (scikit-learn), so the detector has no
pure-TensorFlow score: ``graph_safe`` is False, and ``as_layer`` /
``as_model`` / serving export raise ``NotGraphSafeError``.

References:
    seeds/003_95601c10b3bd7c9c.txt, Sec. VIII ("Adversarial Detector"),
    Tables V and VI.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from .. import interpret
from .._checks import positive
from ..models.applications import WeightsUnavailableError, keras_cache_dir, offline
from .base import DetectionReport, Detector, NotFittedError, NotGraphSafeError, roc_auc

INTERPRETERS = ("grad", "cam", "gradcam", "rts", "mask")
BACKBONES = ("embedded", "vgg16")
VGG16_NOTOP = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
_VGG16_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
_CAFFE_MEAN = 255 * 0.4588  # mean of the BGR ImageNet means, the centre VGG16's caffe preprocessing removes
_POOLED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # backbone -> its compiled pooling function


def build_vgg_backbone(channels: int, widths=(32, 64, 128), *, seed: int = 0) -> keras.Model:
    """Convolutional part of a small VGG: maps (N, H, W, channels) -> every block's pooled output.

    Blocks of two 3x3 ReLU convolutions and a 2x2 max-pool, He-normal
    kernels drawn from ``seed`` (two builds with one seed are equal), zero
    biases, untrained. H and W must be at least ``2 ** len(widths)``.
    """
    inp = keras.Input((None, None, int(channels)), name="maps")
    x, outs, k = inp, [], 0
    for b, width in enumerate(widths, start=1):
        for c in (1, 2):
            x = keras.layers.Conv2D(int(width), 3, padding="same", activation="relu", name=f"block{b}_conv{c}",
                                    kernel_initializer=keras.initializers.HeNormal(seed=int(seed) * 1000 + k))(x)
            k += 1
        x = keras.layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
        outs.append(x)
    return keras.Model(inp, outs, name=f"vgg_backbone_{channels}ch")


def vgg16_backbone(channels: int) -> keras.Model:
    """ImageNet VGG16's convolutional part with its input layer replaced to take ``channels`` maps in [0, 1].

    Raises:
        WeightsUnavailableError: the no-top weights are neither in Keras's
            cache nor downloadable (or ``KERAS_ADVINTERP_OFFLINE=1``).
    """
    path = keras_cache_dir() / VGG16_NOTOP
    if not path.is_file():
        hint = (f"ImageNet VGG16 weights for the multi-interpreter detector are not in the Keras cache. Place "
                f"{VGG16_NOTOP} (from {_VGG16_URL}{VGG16_NOTOP}) at {path}, or use backbone='embedded' offline.")
        if offline():
            raise WeightsUnavailableError(hint + " Downloads are off: KERAS_ADVINTERP_OFFLINE is set.")
        try:
            keras.utils.get_file(VGG16_NOTOP, _VGG16_URL + VGG16_NOTOP, cache_dir=str(path.parent.parent),
                                 cache_subdir="models")
        except Exception as e:  # any network or HTTP failure: the hint is what helps
            raise WeightsUnavailableError(f"{hint} Download error: {type(e).__name__}: {e}") from e
    vgg = keras.applications.VGG16(include_top=False, weights=None)
    vgg.load_weights(str(path))
    inp = keras.Input((None, None, int(channels)), name="maps")
    x = keras.layers.Rescaling(255.0, offset=-_CAFFE_MEAN, name="to_caffe_range")(inp)
    outs = []
    for layer in vgg.layers[1:]:
        if layer.name == "block1_conv1":
            kernel, bias = layer.get_weights()
            first = keras.layers.Conv2D(kernel.shape[-1], 3, padding="same", activation="relu", name=layer.name)
            x = first(x)
            k = np.repeat(kernel.mean(axis=2, keepdims=True), channels, axis=2) * (3.0 / channels)
            first.set_weights([k.astype(np.float32), bias])
        else:
            x = layer(x)
        if layer.name.endswith("_pool"):
            outs.append(x)
    return keras.Model(inp, outs, name=f"vgg16_imagenet_{channels}ch")


def build_interpreter(name: str, clf, **params) -> interpret.Interpreter:
    """The interpreter ``name`` (one of ``INTERPRETERS``) for ``clf``; ``gradcam`` is its compiled twin."""
    key = name.lower().replace("-", "_") if isinstance(name, str) else name
    if key not in INTERPRETERS:
        raise ValueError(f"unknown interpreter {name!r}; the detector takes {list(INTERPRETERS)} or an Interpreter "
                         f"built on the guarded classifier. Received: interpreter={name!r}")
    return interpret.compiled(key, clf, **params)


def _interpreter(spec, clf, params: dict):
    if isinstance(spec, interpret.Interpreter):
        twins = {v: k for k, v in interpret.COMPILED_TWINS.items()}
        return twins.get(spec.name, spec.name), interpret.compiled(spec, clf)
    key = spec.lower().replace("-", "_") if isinstance(spec, str) else spec
    return key, build_interpreter(spec, clf, **params.get(key, {}))


def _pooled_features(backbone: keras.Model):
    """``maps -> (N, F)``: global average and max of every 4-D output, compiled once per backbone."""
    fn = _POOLED.get(backbone)
    if fn is None:
        def pooled(maps):
            outs = backbone(maps, training=False)
            parts = []
            for o in outs if isinstance(outs, (list, tuple)) else [outs]:
                if len(o.shape) == 4:
                    parts += [tf.reduce_mean(o, axis=[1, 2]), tf.reduce_max(o, axis=[1, 2])]
                else:
                    parts.append(tf.reshape(o, [tf.shape(o)[0], -1]))
            return tf.concat(parts, axis=-1)

        fn = _POOLED[backbone] = tf.function(pooled, reduce_retracing=True)
    return fn


class MultiInterpreterDetector(Detector):
    """Gradient boosting on backbone features of 2-3 stacked interpreter maps.

    Args:
        clf: the Classifier to guard; its prediction picks the class each map explains.
        interpreters: 2 or 3 names from ``INTERPRETERS`` (or Interpreter
            instances built on ``clf``), in channel order.
        product_channel: with 2 interpreters, add their maps' product as a
            third channel (Table V's second case).
        backbone: ``"embedded"``, ``"vgg16"`` or a ``keras.Model`` (see the module docstring).
        interpreter_params: ``{name: kwargs}`` for built interpreters, e.g.
            ``{"mask": {"steps": 60}}``.
        n_estimators, max_depth, learning_rate: of scikit-learn's
            ``GradientBoostingClassifier``.
        seed: backbone weights (embedded) and the booster's random state.
        threshold: flag when P(adversarial) is above it (0.5: the booster's decision).
        batch_size: images per interpreter / backbone call.
    """

    name = "multi_interpreter"
    graph_safe = False  # the booster is scikit-learn on the host

    def __init__(self, clf, interpreters: Sequence = ("grad", "cam"), *, product_channel: bool = False,
                 backbone="embedded", interpreter_params: dict | None = None, n_estimators: int = 100,
                 max_depth: int = 3, learning_rate: float = 0.1, seed: int = 0, threshold: float | None = 0.5,
                 batch_size: int = 32, jit_compile="auto"):
        super().__init__(clf, threshold=threshold, batch_size=batch_size, jit_compile=jit_compile)
        if isinstance(interpreters, str) or not isinstance(interpreters, Sequence):
            raise ValueError(f"interpreters must be a list of 2 or 3 names. Received: interpreters={interpreters!r}")
        if not 2 <= len(interpreters) <= 3:
            raise ValueError(f"the detector stacks the maps of 2 or 3 interpreters; got {len(interpreters)}. "
                             f"Received: interpreters={list(interpreters)!r}")
        built = [_interpreter(s, clf, dict(interpreter_params or {})) for s in interpreters]
        names = [n for n, _ in built]
        if len(set(names)) != len(names):
            raise ValueError(f"interpreters must differ from each other. Received: interpreters={names}")
        if product_channel and len(names) != 2:
            raise ValueError(f"product_channel adds a third channel to 2 maps; with {len(names)} interpreters there "
                             "is no room for it. Received: product_channel=True")
        self.interpreter_names, self.interpreters = tuple(names), [i for _, i in built]
        self.product_channel = bool(product_channel)
        self.channels = len(names) + int(self.product_channel)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an int. Received: seed={seed!r}")
        self.seed = int(seed)
        self.n_estimators = int(positive(n_estimators, "n_estimators", integer=True))
        self.max_depth = int(positive(max_depth, "max_depth", integer=True))
        self.learning_rate = float(positive(learning_rate, "learning_rate"))
        self.backbone_name, self.backbone = self._backbone(backbone)
        self.booster = None
        self.map_shape: tuple[int, int] | None = None
        self.train_info: dict | None = None

    def _backbone(self, backbone):
        if isinstance(backbone, keras.Model):
            got = backbone.inputs[0].shape[-1]
            if got != self.channels:
                raise ValueError(f"backbone takes {got} channel(s) but the detector stacks {self.channels} "
                                 f"({list(self.interpreter_names)}{' + product' if self.product_channel else ''}). "
                                 f"Received: backbone input shape {tuple(backbone.inputs[0].shape)}")
            return backbone.name, backbone
        if backbone == "embedded":
            return "embedded", build_vgg_backbone(self.channels, seed=self.seed)
        if backbone == "vgg16":
            return "vgg16", vgg16_backbone(self.channels)
        raise ValueError(f"backbone must be one of {BACKBONES} or a keras.Model. Received: backbone={backbone!r}")

    def params(self) -> dict:
        return {**super().params(), "interpreters": self.interpreter_names, "product_channel": self.product_channel,
                "backbone": self.backbone_name, "n_estimators": self.n_estimators, "max_depth": self.max_depth,
                "learning_rate": self.learning_rate, "seed": self.seed}

    # -- maps and features ---------------------------------------------------
    def interpreter_maps(self, x, *, progress: bool = False) -> np.ndarray:
        """(N, H, W, len(interpreters)) maps in [0, 1], each explaining the guarded model's predicted class."""
        x = self.clf.check_images(x)
        pred = self.clf.predict(x, batch_size=self.batch_size).argmax(1)
        return np.stack([i(x, pred, progress=progress) for i in self.interpreters], axis=-1)

    def stack(self, maps) -> np.ndarray:
        """Interpreter maps (N, H, W, k) -> the backbone's input (the product channel appended when set)."""
        maps = np.asarray(maps, np.float32)
        k = len(self.interpreter_names)
        if maps.ndim != 4 or maps.shape[-1] != k:
            raise ValueError(f"maps must be (N, H, W, {k}), one channel per interpreter "
                             f"{list(self.interpreter_names)}. Received: maps.shape={maps.shape}")
        if self.map_shape is not None and tuple(maps.shape[1:3]) != self.map_shape:
            raise ValueError(f"the detector was trained on {self.map_shape[0]}x{self.map_shape[1]} maps. "
                             f"Received: maps.shape={maps.shape}")
        if not np.all(np.isfinite(maps)):
            raise ValueError("maps contain NaN or infinite values")
        if self.product_channel:
            maps = np.concatenate([maps, maps[..., :1] * maps[..., 1:2]], axis=-1)
        return maps

    def features(self, maps) -> np.ndarray:
        """(N, F) pooled backbone features (global average and max of every block) of interpreter maps."""
        stacked = self.stack(maps)
        fn = _pooled_features(self.backbone)
        out = [fn(tf.constant(stacked[i: i + self.batch_size])).numpy()
               for i in range(0, len(stacked), self.batch_size)]
        return np.concatenate(out).astype(np.float32)

    # -- training and scoring ------------------------------------------------
    def train(self, x_clean=None, x_adv=None, *, maps_clean=None, maps_adv=None) -> dict:
        """Fits the booster on benign (label 0) and adversarial (label 1) inputs, or on their maps; returns info.

        Give images (``x_clean``, ``x_adv``) or precomputed
        ``interpreter_maps`` (``maps_clean``, ``maps_adv``: several
        detectors over one set of maps, as the Tables V-VI experiment does).
        """
        from sklearn.ensemble import GradientBoostingClassifier

        maps_clean = self._maps_or_images(x_clean, maps_clean, "clean")
        maps_adv = self._maps_or_images(x_adv, maps_adv, "adv")
        if maps_clean.shape[1:] != maps_adv.shape[1:]:
            raise ValueError(f"clean and adversarial maps must have one shape. Received: {maps_clean.shape} and "
                             f"{maps_adv.shape}")
        self.map_shape = None
        t0 = time.perf_counter()
        feats = self.features(np.concatenate([maps_clean, maps_adv]))
        labels = np.concatenate([np.zeros(len(maps_clean), np.int32), np.ones(len(maps_adv), np.int32)])
        booster = GradientBoostingClassifier(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                             learning_rate=self.learning_rate, random_state=self.seed)
        booster.fit(feats, labels)
        self.booster, self.map_shape = booster, tuple(maps_clean.shape[1:3])
        self.train_info = {"n_clean": len(maps_clean), "n_adv": len(maps_adv), "features": int(feats.shape[1]),
                           "train_accuracy": float(booster.score(feats, labels)),
                           "seconds": round(time.perf_counter() - t0, 2)}
        return self.train_info

    def _maps_or_images(self, x, maps, which: str) -> np.ndarray:
        if (x is None) == (maps is None):
            raise ValueError(f"give either x_{which} (images) or maps_{which} (interpreter maps), not "
                             f"{'both' if x is not None else 'neither'}")
        maps = self.interpreter_maps(x) if maps is None else np.asarray(maps, np.float32)
        if maps.ndim != 4 or len(maps) == 0:
            raise ValueError(f"maps_{which} must be a non-empty (N, H, W, {len(self.interpreter_names)}) array. "
                             f"Received: maps_{which}.shape={maps.shape}")
        return maps

    def _checked_booster(self):
        if self.booster is None:
            raise NotFittedError(f"{type(self).__name__} is not trained: call train(x_clean, x_adv) (or "
                                 "train(maps_clean=..., maps_adv=...)) before scoring.")
        return self.booster

    def scores_from_maps(self, maps) -> np.ndarray:
        """(N,) P(adversarial) from interpreter maps (N, H, W, k)."""
        booster = self._checked_booster()
        return booster.predict_proba(self.features(maps))[:, 1].astype(np.float32)

    def scores_batch(self, x: np.ndarray) -> np.ndarray:
        self._checked_booster()
        return self.scores_from_maps(self.interpreter_maps(x))

    def tf_outputs(self, x) -> dict:
        raise NotGraphSafeError(f"{type(self).__name__} classifies with scikit-learn's gradient boosting on the "
                                "host: it has no pure-TensorFlow score and cannot sit in a Keras or serving graph.")

    def as_layer(self):
        raise NotGraphSafeError(f"{type(self).__name__} classifies with scikit-learn on the host; it cannot be "
                                "exported as a Keras layer or serving graph.")

    # -- figures ---------------------------------------------------------------
    def evaluate_maps(self, maps_clean, maps_adv) -> DetectionReport:
        """``evaluate`` on precomputed interpreter maps."""
        threshold = self.checked_threshold()
        clean, adv = self.scores_from_maps(maps_clean), self.scores_from_maps(maps_adv)
        return DetectionReport(
            detection_rate=float(np.mean(adv > threshold)), false_positive_rate=float(np.mean(clean > threshold)),
            roc_auc=roc_auc(clean, adv), threshold=threshold, n_clean=int(clean.size), n_adv=int(adv.size))

    def accuracy(self, x_clean, x_adv) -> float:
        """Share of benign and adversarial inputs classified right at the threshold (Tables V, VI)."""
        return detection_accuracy(self.evaluate(x_clean, x_adv))


def detection_accuracy(report: DetectionReport) -> float:
    """Accuracy of a detector's verdicts over both sets of a ``DetectionReport``."""
    right = report.detection_rate * report.n_adv + (1.0 - report.false_positive_rate) * report.n_clean
    return float(right / max(report.n_adv + report.n_clean, 1))
