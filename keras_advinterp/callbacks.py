"""Keras callbacks that watch robustness and explanations while a model trains in your own ``fit()``.

    monitor = RobustnessMonitor(attacks.PGD(eps=8 / 255, steps=5), x_val[:64], y_val[:64])
    logger = ExplanationLogger(x_val[:8], out_dir="runs/cam", tensorboard_dir="runs/tb")
    model.fit(x, y, epochs=10, callbacks=[monitor, logger, keras.callbacks.EarlyStopping("val_robust_accuracy")])

Both follow the model as it trains: they wrap the same Keras model object
(``models.classifier.live_classifier``), so the attack and the map are
compiled once and read the current weights at every epoch end. The model
must map raw pixels in [0, 1] to logits, as every model in this package
does; an ``AdversarialTrainer`` is followed through its ``inner`` model.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from ._checks import as_images, as_labels, positive
from .models.classifier import live_classifier


def _followed_model(model):
    """The model a callback should attack or explain (an AdversarialTrainer's inner model)."""
    return getattr(model, "inner", model)


class _EpochCallback(keras.callbacks.Callback):
    """Runs ``_on_epoch`` every ``every`` epochs (and at the last one), on a Classifier built once."""

    def __init__(self, *, every: int = 1, input_size=None, feature_layer=None):
        super().__init__()
        self.every = positive(every, "every", integer=True)
        self.input_size = input_size
        self.feature_layer = feature_layer
        self._clf = None

    def classifier(self):
        if self._clf is None or self._clf.model is not _followed_model(self.model):
            self._clf = live_classifier(_followed_model(self.model), input_size=self.input_size,
                                        feature_layer=self.feature_layer, what=type(self).__name__)
        return self._clf

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.params.get("epochs"):
            self._on_epoch(epoch, logs if logs is not None else {})

    def _on_epoch(self, epoch, logs):
        raise NotImplementedError


class RobustnessMonitor(_EpochCallback):
    """At epoch end, attacks a fixed held-out batch and logs accuracy under attack to ``logs``.

    Adds ``<prefix>robust_accuracy`` (share of images still classified
    correctly after the attack), ``<prefix>attack_success`` (the attack's
    own success rate) and ``<prefix>clean_accuracy`` to the epoch logs, so
    EarlyStopping, ModelCheckpoint, CSVLogger and TensorBoard see them.
    The attack runs with a fixed seed, so two epochs differ only by the
    weights.

    Args:
        attack: any attack (``attacks.PGD(eps=8/255, steps=5)``, ...).
        x, y: held-out images in [0, 1] and their labels.
        prefix: log-key prefix (default ``val_``, so Keras's ``val_`` conventions apply).
        every: run every this many epochs (and at the last).
        seed, batch_size: passed to the attack.
        input_size: (h, w) when the model takes any size and the attack needs one.
    """

    def __init__(self, attack, x, y, *, prefix: str = "val_", every: int = 1, seed: int = 0, batch_size: int = 64,
                 input_size=None):
        super().__init__(every=every, input_size=input_size)
        if not callable(attack) or not hasattr(attack, "params"):
            raise ValueError(f"attack must be an attack object such as attacks.PGD(eps=8/255). Received: {attack!r}")
        self.attack = attack
        self.x = as_images(x)
        self.y = as_labels(y, len(self.x), 2**31 - 1)
        self.prefix = str(prefix)
        self.seed = int(seed)
        self.batch_size = positive(batch_size, "batch_size", integer=True)
        self.history: list[dict] = []

    def measure(self) -> dict:
        """The three numbers for the model's current weights (what ``on_epoch_end`` logs)."""
        clf = self.classifier()
        if self.y.max() >= clf.num_classes:
            raise ValueError(f"y holds class {int(self.y.max())} but the model has {clf.num_classes} outputs")
        clean = clf.predict(self.x, batch_size=self.batch_size).argmax(1)
        res = self.attack(clf, self.x, self.y, batch_size=self.batch_size, seed=self.seed)
        return {f"{self.prefix}robust_accuracy": float(np.mean(res.predictions == self.y)),
                f"{self.prefix}attack_success": float(np.mean(res.success)),
                f"{self.prefix}clean_accuracy": float(np.mean(clean == self.y))}

    def _on_epoch(self, epoch, logs):
        values = self.measure()
        logs.update(values)
        self.history.append({"epoch": epoch, **values})


class ExplanationLogger(_EpochCallback):
    """At epoch end, saves explanation overlays of fixed images (PNG, and TensorBoard images if asked).

    Writes ``<out_dir>/<method>_epoch_<NNN>.png`` (one row of overlays with
    the predicted class and its probability) and, with ``tensorboard_dir``,
    an image summary ``explanations/<method>`` per epoch that TensorBoard's
    Images tab shows as a slider over epochs.

    Args:
        x: the images to explain (a few: 4-16), pixels in [0, 1].
        class_index: explain these classes (one int or one per image);
            None explains each image's predicted class at that epoch.
        method: a differentiable interpreter (``gradcam_xla``, ``cam``,
            ``grad``): compiled once, it reads the live weights.
        feature_layer: the 4-D layer CAM-style maps read (default: the last
            layer with 4-D output).
        out_dir, tensorboard_dir: where to write (either may be None, not both).
    """

    def __init__(self, x, *, class_index=None, method: str = "gradcam_xla", out_dir="explanations",
                 tensorboard_dir=None, every: int = 1, feature_layer=None, input_size=None):
        super().__init__(every=every, input_size=input_size, feature_layer=feature_layer)
        if out_dir is None and tensorboard_dir is None:
            raise ValueError("give out_dir, tensorboard_dir or both: the logger has nowhere to write")
        if tensorboard_dir is not None:
            try:
                import tensorboard  # noqa: F401  (tf.summary.image needs it; the tensorflow wheel does not bring it)
            except ImportError as e:
                raise ValueError("tensorboard_dir needs TensorBoard: pip install 'keras-advinterp[tensorboard]' "
                                 "(or tensorboard), or give out_dir only") from e
        self.x = as_images(x)
        if len(self.x) > 64:
            raise ValueError(f"x holds {len(self.x)} images: the logger draws one row, give at most 64")
        self.class_index = class_index
        self.method = method
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.tensorboard_dir = None if tensorboard_dir is None else Path(tensorboard_dir)
        self._interp = None
        self._writer = None
        self.written: list[Path] = []

    def classifier(self):
        if self.feature_layer is None:
            from .surgery import feature_layers

            layers = feature_layers(_followed_model(self.model))
            if not layers:
                raise ValueError("the model has no layer with 4-D output to explain; use method='grad'")
            self.feature_layer = layers[-1]
        return super().classifier()

    def maps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(maps, predicted class, its probability) for the model's current weights."""
        from . import interpret
        from .interpret.differentiable import Differentiable

        clf = self.classifier()
        if self._interp is None or self._interp.clf is not clf:
            self._interp = interpret.get(self.method, clf)
            if not isinstance(self._interp, Differentiable):
                raise ValueError(f"method must be a differentiable interpreter (gradcam_xla, cam, grad) that reads "
                                 f"the live weights. Received: method={self.method!r}")
        p = clf.probabilities(self.x)
        pred = p.argmax(1)
        cls = pred if self.class_index is None else as_labels(self.class_index, len(self.x), clf.num_classes,
                                                              "class_index")
        return self._interp(self.x, cls), pred, p[np.arange(len(p)), pred]

    def _on_epoch(self, epoch, logs):
        from .interpret import overlay

        maps, pred, prob = self.maps()
        images = np.stack([overlay(img, m) for img, m in zip(self.x, maps)])
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            path = self.out_dir / f"{self.method}_epoch_{epoch + 1:03d}.png"
            _save_row(path, images, [f"class {c}: {q:.0%}" for c, q in zip(pred, prob)],
                      f"{self.method}, epoch {epoch + 1}")
            self.written.append(path)
        if self.tensorboard_dir is not None:
            import tensorflow as tf

            if self._writer is None:
                self._writer = tf.summary.create_file_writer(str(self.tensorboard_dir))
            with self._writer.as_default():
                tf.summary.image(f"explanations/{self.method}", images.astype(np.float32), step=epoch + 1,
                                 max_outputs=len(images))
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _save_row(path: Path, images: np.ndarray, labels: list[str], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(images)
    fig, axes = plt.subplots(1, n, figsize=(1.9 * n, 2.3), squeeze=False)
    for ax, img, label in zip(axes[0], images, labels):
        ax.imshow(np.clip(img, 0, 1), interpolation="nearest")
        ax.set_title(label, fontsize=7)
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["RobustnessMonitor", "ExplanationLogger"]
