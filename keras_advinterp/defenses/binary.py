"""A CNN trained from scratch to tell clean from adversarial images (Ding et al., Sec. 4.7).

The paper is seeds/000_f66802178e087466.txt.

    det = BinaryDetector(clf)                          # a fresh 2-class ResNet-style CNN
    det.train(x_clean, x_adv, epochs=6, seed=0)        # Adam, softmax cross-entropy
    det.detect(x)                                      # flagged when P(adversarial) > 0.5
    cam = interpret.get("cam", det.detector_clf)       # where the detector looks (Fig. 5)

The paper trains ResNet50 from scratch as a two-class classifier (batch 32,
Adam, learning rate 1e-3, betas 0.9 / 0.999) on 25000 ImageNet validation
images and their 25000 DAmageNet versions, and reports 98.42 % accuracy on
held-out clean images, 99.07 % on held-out adversarial ones, AUC 0.9875.
Ours is the same recipe on a small network built like the embedded models
(``models.embedded``: residual blocks, a ``features`` layer, global average
pooling, a dense 2-way head), so CAM explains its decisions.

The score is the softmax probability of "adversarial"; the default
threshold 0.5 is the classifier's own decision (argmax), and
``fit(x_clean, fpr=...)`` moves it to a false-positive target as for any
detector. ``tf_outputs`` returns the guarded classifier's logits beside the
score, so ``as_model()`` serves the prediction with the verdict.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .._checks import in_range, positive
from ..models import Classifier
from .base import Detector

CLASS_NAMES = ("clean", "adversarial")
DEFAULT_WIDTHS = (16, 32, 48, 64)
_FORMAT = "keras_advinterp.BinaryDetector/1"


def build_binary_cnn(input_size: tuple[int, int], channels: int, widths=DEFAULT_WIDTHS, *, seed: int = 0,
                     bn_momentum: float = 0.9, name: str = "binary_detector") -> keras.Model:
    """A ResNet-style 2-class CNN, raw pixels [0, 1] -> logits (clean, adversarial), seeded initial weights.

    Built as the embedded models are (stem, residual blocks, ``features``,
    GAP, Dense), with every kernel drawn from Glorot-uniform under ``seed``
    (so two builds with one seed are equal, whatever Keras's global seed)
    and batch-norm momentum ``bn_momentum`` (Keras's 0.99 leaves the moving
    statistics far from the data after the few hundred steps a small
    training set gives).
    """
    from ..models.embedded import _cam_cnn

    widths = tuple(positive(w, "widths", integer=True) for w in widths)
    if len(widths) < 2:
        raise ValueError(f"widths needs a stem width and at least one block width. Received: widths={widths}")
    model = _cam_cnn(tuple(input_size), channels, len(CLASS_NAMES), widths, name)
    momentum = in_range(bn_momentum, "bn_momentum", 0.0, 1.0)
    k = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum
        kernel = getattr(layer, "kernel", None)
        if kernel is not None:
            init = keras.initializers.GlorotUniform(seed=int(seed) * 1000 + k)
            kernel.assign(init(tuple(kernel.shape), dtype=kernel.dtype))
            k += 1
    return model


class BinaryDetector(Detector):
    """Flags inputs that a CNN trained from scratch on clean vs adversarial images calls adversarial.

    Args:
        clf: the Classifier to guard (its logits ride along in ``tf_outputs``).
        detector_model: the 2-class Keras model (pixels [0, 1] -> logits
            for ("clean", "adversarial")), or None to build a fresh
            ``build_binary_cnn`` at ``clf``'s input size and channels.
        widths: stem and block widths of the model built when
            ``detector_model`` is None.
        seed: seed of the built model's initial weights and the default
            seed of ``train``.
        threshold: flag when P(adversarial) is above it; 0.5 (the default)
            is the 2-class model's own decision.
        batch_size, jit_compile: as every detector.

    References:
        Ding et al., seeds/000_f66802178e087466.txt, Sec. 4.7 and Fig. 5.
    """

    name = "binary"

    def __init__(self, clf, detector_model=None, *, widths=DEFAULT_WIDTHS, seed: int = 0,
                 threshold: float | None = 0.5, batch_size: int = 32, jit_compile="auto"):
        super().__init__(clf, threshold=threshold, batch_size=batch_size, jit_compile=jit_compile)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an int. Received: seed={seed!r}")
        self.seed = int(seed)
        self.widths = tuple(int(positive(w, "widths", integer=True)) for w in widths)
        if detector_model is None:
            model = build_binary_cnn(clf.input_size, clf.channels, self.widths, seed=self.seed,
                                     name=f"{clf.name}_binary")
            source = f"random (seed {self.seed}), untrained"
            self._built = True
        else:
            model = detector_model.model if isinstance(detector_model, Classifier) else detector_model
            if not isinstance(model, keras.Model):
                raise ValueError("detector_model must be a keras.Model, a Classifier or None. "
                                 f"Received: detector_model={type(detector_model).__name__}")
            source = getattr(detector_model, "weights_source", "given model")
            self._built = False
        self.detector_clf = self._as_classifier(model, source)
        self.train_info: dict | None = None

    def _as_classifier(self, model: keras.Model, source: str) -> Classifier:
        clf = self.clf
        n_out = model.outputs[0].shape[-1]
        if n_out != len(CLASS_NAMES):
            raise ValueError(f"detector_model must output 2 logits (clean, adversarial). Received: a model with "
                             f"{n_out} outputs")
        in_shape = model.inputs[0].shape
        if in_shape[-1] != clf.channels:
            raise ValueError(f"detector_model takes {in_shape[-1]} channel(s) but the guarded classifier "
                             f"{clf.name!r} takes {clf.channels}: both must read the same images. "
                             f"Received: detector_model input shape {tuple(in_shape)}")
        h, w = in_shape[1], in_shape[2]
        size = (h, w) if h is not None and w is not None else clf.input_size
        for layer in model.layers:  # a ResizeTo layer states the size the network runs at
            if hasattr(layer, "height") and hasattr(layer, "width"):
                size = (int(layer.height), int(layer.width))
                break
        names = [layer.name for layer in model.layers]
        return Classifier(model, class_names=CLASS_NAMES, input_size=size,
                          feature_layer="features" if "features" in names else None,
                          name=f"{clf.name}_binary", weights_source=source, channels=clf.channels)

    @property
    def model(self) -> keras.Model:
        """The 2-class Keras model (pixels -> logits for clean, adversarial)."""
        return self.detector_clf.model

    def params(self) -> dict:
        # The detector model is part of the compiled function: its identity keys the cache.
        return {**super().params(), "widths": self.widths, "seed": self.seed,
                "detector_model": f"{self.model.name}@{id(self.model):x}"}

    # -- the computation -----------------------------------------------------
    def tf_outputs(self, x) -> dict:
        logits = self.clf.model(x, training=False)
        p = tf.nn.softmax(self.model(x, training=False), axis=-1)
        return {"logits": logits, "score": p[:, 1]}

    def probabilities(self, x) -> np.ndarray:
        """(N, 2) softmax of the detector model: P(clean), P(adversarial)."""
        s = self.scores(x)
        return np.stack([1.0 - s, s], axis=1)

    # -- training ------------------------------------------------------------
    def train(self, x_clean, x_adv, *, epochs: int = 6, batch_size: int = 32, learning_rate: float = 1e-3,
              validation=None, seed: int | None = None, verbose: int = 0) -> dict:
        """Trains the detector model on ``x_clean`` (label 0) and ``x_adv`` (label 1); returns the history.

        Adam (``learning_rate``, betas 0.9 / 0.999) on the softmax
        cross-entropy, the paper's recipe. Each epoch visits the images in
        an order drawn from ``seed`` (default: the detector's), and the
        built model's initial weights come from the detector's seed, so a
        run is repeatable up to the nondeterminism of multi-threaded CPU
        kernels.

        Args:
            validation: None; a fraction in (0, 1) of each set held out
                (drawn with ``seed``); or a pair ``(x_clean_val, x_adv_val)``.
                The history then has ``val_loss`` and ``val_accuracy``.
            verbose: passed to ``keras.Model.fit``.

        Returns:
            ``{"loss": [...], "accuracy": [...], ...}``, one value per epoch.
        """
        x_clean = self._training_images(x_clean, "x_clean")
        x_adv = self._training_images(x_adv, "x_adv")
        if x_clean.shape[1:] != x_adv.shape[1:]:
            raise ValueError(f"x_clean and x_adv must hold images of one shape. Received: x_clean.shape="
                             f"{x_clean.shape}, x_adv.shape={x_adv.shape}")
        epochs = int(positive(epochs, "epochs", integer=True))
        batch_size = int(positive(batch_size, "batch_size", integer=True))
        learning_rate = float(positive(learning_rate, "learning_rate"))
        seed = self.seed if seed is None else seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an int or None. Received: seed={seed!r}")
        rng = np.random.default_rng(int(seed))
        x_clean, x_adv, val = self._split(x_clean, x_adv, validation, rng)
        x = np.concatenate([x_clean, x_adv])
        y = np.concatenate([np.zeros(len(x_clean), np.int32), np.ones(len(x_adv), np.int32)])
        model = self.model
        model.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.9, beta_2=0.999),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        history: dict[str, list[float]] = {}
        t0 = time.perf_counter()
        for epoch in range(epochs):
            order = rng.permutation(len(x))
            h = model.fit(x[order], y[order], batch_size=batch_size, epochs=1, shuffle=False, verbose=verbose,
                          validation_data=val)
            for key, values in h.history.items():
                history.setdefault(key, []).extend(float(v) for v in values)
            if verbose:
                print(f"epoch {epoch + 1}/{epochs}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in history.items()))
        self.detector_clf.weights_source = (f"trained from scratch ({len(x_clean)} clean + {len(x_adv)} adversarial, "
                                            f"{epochs} epochs, seed {int(seed)})")
        self.train_info = {"n_clean": len(x_clean), "n_adv": len(x_adv), "epochs": epochs, "batch_size": batch_size,
                           "learning_rate": learning_rate, "seed": int(seed),
                           "n_val": 0 if val is None else len(val[0]), "seconds": round(time.perf_counter() - t0, 2),
                           "history": history}
        return history

    def _training_images(self, x, name: str) -> np.ndarray:
        x = np.asarray(x.numpy() if hasattr(x, "numpy") else x)
        if x.ndim == 4 and x.shape[0] == 0:
            raise ValueError(f"{name} is empty: training needs at least one clean and one adversarial image. "
                             f"Received: {name}.shape={x.shape}")
        return self.clf.check_images(x, name)

    def _split(self, x_clean, x_adv, validation, rng):
        if validation is None:
            return x_clean, x_adv, None
        if isinstance(validation, (tuple, list)):
            if len(validation) != 2:
                raise ValueError("validation must be None, a fraction, or a pair (x_clean_val, x_adv_val). "
                                 f"Received: a sequence of {len(validation)}")
            vc = self._training_images(validation[0], "validation[0] (clean)")
            va = self._training_images(validation[1], "validation[1] (adversarial)")
        else:
            frac = in_range(validation, "validation", 0.0, 1.0)
            if not 0.0 < frac < 1.0:
                raise ValueError(f"validation as a fraction must be in (0, 1). Received: validation={validation!r}")
            parts = []
            for x, name in ((x_clean, "x_clean"), (x_adv, "x_adv")):
                n_val = int(round(frac * len(x)))
                if n_val < 1 or n_val >= len(x):
                    raise ValueError(f"validation={frac:g} of {len(x)} {name} images leaves an empty training or "
                                     "validation part: give more images or another fraction")
                perm = rng.permutation(len(x))
                parts.append((x[perm[n_val:]], x[perm[:n_val]]))
            (x_clean, vc), (x_adv, va) = parts
        xv = np.concatenate([vc, va])
        yv = np.concatenate([np.zeros(len(vc), np.int32), np.ones(len(va), np.int32)])
        return x_clean, x_adv, (xv, yv)

    # -- saving ----------------------------------------------------------------
    def save(self, path) -> Path:
        """Writes the detector model's weights, its architecture settings and the threshold to ``path`` (.npz)."""
        path = Path(path)
        meta = {"format": _FORMAT, "widths": list(self.widths), "built": self._built,
                "input_size": list(self.detector_clf.input_size), "channels": self.clf.channels,
                "guarded": self.clf.name, "threshold": self.threshold, "seed": self.seed,
                "model_name": self.model.name, "weights_source": self.detector_clf.weights_source,
                "train_info": self.train_info}
        weights = self.model.get_weights()
        buf = io.BytesIO()
        np.savez_compressed(buf, meta=np.asarray(json.dumps(meta, default=str)),
                            **{f"w{i:04d}": w for i, w in enumerate(weights)})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.getvalue())
        return path

    @classmethod
    def load(cls, path, clf, detector_model=None, **kwargs) -> BinaryDetector:
        """A detector for ``clf`` with the weights (and threshold) ``save`` wrote to ``path``.

        ``detector_model`` is needed only when the saved detector was not
        built by this class; ``kwargs`` (threshold, batch_size, ...)
        override the saved settings.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no saved binary detector at {str(path)!r}")
        try:
            with np.load(path, allow_pickle=False) as f:
                meta = json.loads(str(f["meta"]))
                weights = [f[k] for k in sorted(k for k in f.files if k.startswith("w"))]
        except (OSError, KeyError, ValueError) as e:
            raise ValueError(f"{str(path)!r} is not a file BinaryDetector.save wrote ({e})") from None
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{str(path)!r} is not a file BinaryDetector.save wrote (format {meta.get('format')!r})")
        if not isinstance(clf, Classifier):
            raise ValueError(f"clf must be a keras_advinterp Classifier. Received: clf={type(clf).__name__}")
        if meta["channels"] != clf.channels:
            raise ValueError(f"the saved detector reads {meta['channels']}-channel images but {clf.name!r} takes "
                             f"{clf.channels}: load it for a classifier of the same channels")
        if detector_model is None:
            if not meta["built"]:
                raise ValueError(f"{str(path)!r} holds weights of a detector model BinaryDetector did not build: "
                                 "pass that model as detector_model=")
            if tuple(meta["input_size"]) != clf.input_size:
                detector_model = build_binary_cnn(meta["input_size"], clf.channels, meta["widths"],
                                                  seed=meta["seed"], name=meta["model_name"])
        kwargs = {"widths": tuple(meta["widths"]), "seed": meta["seed"], "threshold": meta["threshold"], **kwargs}
        det = cls(clf, detector_model, **kwargs)
        det._built = meta["built"] if detector_model is not None else True
        current = det.model.get_weights()
        shapes = [tuple(w.shape) for w in current]
        saved = [tuple(w.shape) for w in weights]
        if shapes != saved:
            raise ValueError(f"the weights in {str(path)!r} do not fit the detector model: {len(saved)} arrays "
                             f"saved, {len(shapes)} expected; first difference "
                             f"{next(((a, b) for a, b in zip(saved, shapes) if a != b), (len(saved), len(shapes)))}")
        det.model.set_weights(weights)
        det.detector_clf.weights_source = str(path)
        det.train_info = meta.get("train_info")
        return det
