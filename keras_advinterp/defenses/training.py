"""Adversarial training as a ``train_step`` wrapper around any Keras classifier.

A callback cannot change the batch a model trains on, so adversarial
training lives in the training step: ``AdversarialTrainer`` wraps a Keras
model (raw pixels in [0, 1] -> logits) and, in every ``train_step``,
replaces a share ``ratio`` of the batch by adversarial examples made by a
graph-safe attack against the *current* weights (labels: the true ones),
then runs Keras's own loss / optimizer / metrics update on the mixed batch.
You keep your own ``compile()``, ``fit()``, callbacks and data pipeline:

    from keras_advinterp import attacks, models
    from keras_advinterp.defenses import AdversarialTrainer

    clf = models.load("shapes")
    trainer = AdversarialTrainer(clf, attacks.PGD(eps=8 / 255, steps=7), ratio=0.5,
                                 adversarial_metric=True)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
    trainer.fit(x_train, y_train, batch_size=32, epochs=3, validation_data=(x_val, y_val),
                callbacks=[keras.callbacks.CSVLogger("log.csv")])
    trainer.inner.save("robust.keras")      # the trained model itself, no wrapper

The attack's graph function (``Attack.graph_function``) is built on a
``Classifier`` around the very Keras model object being trained, so each
step attacks the weights as they are at that step. ``test_step`` is Keras's
(clean loss and metrics); ``adversarial_metric=True`` adds
``adv_accuracy``: the accuracy on the attack's examples of each validation
/ evaluation batch (only in ``evaluate`` and validation logs).

TensorFlow backend only (the step calls a TensorFlow function). The wrapper
holds no weights of its own: ``save_weights`` / ``load_weights`` and
``ModelCheckpoint(save_weights_only=True)`` work on it; to save a whole
model, save ``trainer.inner``.

Cost: on-the-fly PGD with ``k`` steps adds ``k`` input-gradient passes on
the attacked share of each batch, so an epoch at ``ratio=1`` costs about
``k + 1`` clean epochs: ``benchmarks/adversarial_training.py`` measured a
PGD-10 step at 11.7 clean steps on the shapes model and 7.6 on a ResNet-20
(an input-gradient pass is cheaper than a training step there).

References:
    Goodfellow et al., "Explaining and Harnessing Adversarial Examples"
    (mixing clean and adversarial examples in each batch); Madry et al.,
    "Towards Deep Learning Models Resistant to Adversarial Attacks" (PGD
    adversarial training); Ding et al., seeds/000_f66802178e087466.txt,
    Sec. 4.6 (retraining a pre-trained ResNet50 with adversarial examples
    labelled with their true classes).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .._checks import in_range
from ..models import Classifier
from ..models.classifier import live_classifier

ADV_METRIC = "adv_accuracy"


def _check_backend():
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "adversarial training needs the TensorFlow backend (its train_step calls a TensorFlow attack "
            f"function). Set KERAS_BACKEND=tensorflow. Received: backend={keras.backend.backend()!r}")


def _classifier(model, *, input_size=None, feature_layer=None) -> Classifier:
    """A Classifier around the same Keras model object (never a copy: the attack must see the live weights)."""
    return live_classifier(model, input_size=input_size, feature_layer=feature_layer, what="adversarial training")


def _graph_attack(attack, clf: Classifier, what: str):
    """``fn(x, y) -> x_adv``, pure TensorFlow, from an Attack (or a ready graph-safe function)."""
    if hasattr(attack, "graph_function"):
        try:
            return attack.graph_function(clf)
        except NotImplementedError as e:
            raise ValueError(f"{what} must have a graph-safe form for a train_step (FGSM, BIM, MIM, PGD or an "
                             f"objective on PGD such as AttentionAttack). {e}. Received: {what}={attack!r}") from e
    raise ValueError(f"{what} must be an attack with graph_function (e.g. attacks.PGD(...)). "
                     f"Received: {what}={attack!r}")


class AdversarialTrainer(keras.Model):
    """A Keras model whose ``train_step`` trains on partly adversarial batches.

    Args:
        model: the Keras model to train (raw pixels in [0, 1] -> logits), or
            a ``Classifier`` (use one when the attack needs its feature
            layer, as the attack on attention does). It is trained in
            place: ``trainer.inner`` is this very object.
        attack: a graph-safe attack (``attacks.PGD``, ``FGSM``, ``BIM``,
            ``MIM``, ``AttentionAttack``...), untargeted on the true labels.
        ratio: share of each batch replaced by adversarial examples, in
            [0, 1]; the first ``round(ratio * batch)`` images of the batch
            are attacked (``fit`` shuffles). 0 is plain training (the attack
            never runs), 1 trains on adversarial examples only.
        adversarial_metric: False, True (the training attack) or another
            attack: report ``adv_accuracy`` on adversarial versions of each
            evaluation batch.
        input_size, feature_layer: for a bare Keras model, what the
            Classifier around it records (an attack on attention needs
            ``feature_layer``).
        **kwargs: ``keras.Model`` arguments (``name``).

    Raises:
        ValueError: ratio outside [0, 1], an attack without a graph-safe
            form, a model that is not an image classifier.
        RuntimeError: a Keras backend other than TensorFlow.
    """

    def __init__(self, model, attack, *, ratio: float = 0.5, adversarial_metric=False, input_size=None,
                 feature_layer=None, **kwargs):
        _check_backend()
        self.ratio = float(in_range(ratio, "ratio", 0.0, 1.0))
        clf = _classifier(model, input_size=input_size, feature_layer=feature_layer)
        adv_fn = _graph_attack(attack, clf, "attack")
        metric_attack = attack if adversarial_metric is True else adversarial_metric or None
        eval_fn = None
        if metric_attack is not None:
            eval_fn = adv_fn if metric_attack is attack else _graph_attack(metric_attack, clf, "adversarial_metric")
        kwargs.setdefault("name", f"adversarial_{clf.model.name}")
        super().__init__(**kwargs)
        self.inner = clf.model
        self._clf, self._adv_fn, self._eval_fn = clf, adv_fn, eval_fn
        self.attack, self.metric_attack = attack, metric_attack
        self.adv_accuracy = keras.metrics.SparseCategoricalAccuracy(name=ADV_METRIC) if eval_fn else None
        self.built = bool(self.inner.built)  # no weights of its own: load_weights works before any call

    @property
    def classifier(self) -> Classifier:
        """The Classifier the attack runs on (around ``inner``, the model being trained)."""
        return self._clf

    def call(self, inputs, training=None):
        return self.inner(inputs, training=training)

    def adversarial_batch(self, x, y):
        """The batch with its first ``round(ratio * N)`` images replaced by adversarial ones (graph-safe)."""
        x = tf.convert_to_tensor(x, tf.float32)
        if self.ratio == 0.0:
            return x
        labels = tf.reshape(tf.cast(y, tf.int32), [-1])
        if self.ratio == 1.0:
            return tf.stop_gradient(self._adv_fn(x, labels))
        n = tf.shape(x)[0]
        k = tf.cast(tf.round(self.ratio * tf.cast(n, tf.float32)), tf.int32)
        x_adv = tf.stop_gradient(self._adv_fn(x[:k], labels[:k]))
        return tf.concat([x_adv, x[k:]], axis=0)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise ValueError("adversarial training needs labels: fit(x, y) or a dataset of (x, y) pairs")
        if self.ratio > 0:
            x = self.adversarial_batch(x, y)
        logs = super().train_step(keras.utils.pack_x_y_sample_weight(x, y, sample_weight))
        return {k: v for k, v in logs.items() if k != ADV_METRIC}  # measured on evaluation batches only

    def test_step(self, data):
        if self._eval_fn is not None:
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            labels = tf.reshape(tf.cast(y, tf.int32), [-1])
            x_adv = tf.stop_gradient(self._eval_fn(tf.convert_to_tensor(x, tf.float32), labels))
            self.adv_accuracy.update_state(labels, self.inner(x_adv, training=False), sample_weight=sample_weight)
        return super().test_step(data)

    def get_config(self):
        raise NotImplementedError(
            "an AdversarialTrainer holds an attack and is not saved as a whole model: save the trained model "
            "itself (trainer.inner.save('model.keras')) or the weights (trainer.save_weights(...))")


def adversarial_model(model, attack, ratio: float = 0.5, **kwargs) -> AdversarialTrainer:
    """``AdversarialTrainer(model, attack, ratio=ratio, **kwargs)``: compile and fit it like any Keras model."""
    return AdversarialTrainer(model, attack, ratio=ratio, **kwargs)
