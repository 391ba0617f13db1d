"""Interpretation-robust training as a ``train_step`` wrapper (AdvEdge, Sec. VIII, Eqs. 20-21).

AdvEdge's second countermeasure follows Boopathy et al. (ICML 2020): train
the classifier against the worst-case interpretation discrepancy between a
benign input and an adversarial one,

    min_theta  E[ CE(f(x), y) + beta * max_{||delta|| <= eps} D(x, x + delta) ],

with D the 2-class interpretation discrepancy (Eq. 20) and beta trading
accuracy for interpretation robustness (Eq. 21). As the paper, we solve the
inner maximisation with PGD: each ``train_step`` crafts x' = x + delta by a
graph-safe attack against the current weights (``attacks.PGD(...)``,
cross-entropy on the true labels), then adds beta * D(x, x') to Keras's own
loss. D is read from a differentiable interpreter (``cam``, ``gradcam`` or
``grad``; maps in [0, 1] per image, ``interpret.differentiable``):

- ``discrepancy="two_class"`` (default, Boopathy's 2-class form): the mean
  of the L1 map differences at the true class y and at the adversarial
  class y', ``0.5 * (|I(x, y) - I(x', y)|_1 + |I(x, y') - I(x', y')|_1)``
  with the L1 norms averaged over pixels; y' is the best class other than y
  at x' (the adversarial prediction when the attack succeeded, the
  runner-up otherwise);
- ``discrepancy="l1"``: the true-class term only.

The penalty's gradient flows through both maps (clean and adversarial
inputs; x' itself is a constant), so the network learns to keep its
explanation where PGD moves the input. The model is trained in place:

    trainer = InterpretationRobustTrainer(clf, attacks.PGD(eps=8 / 255, steps=3), beta=1.0)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-4),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    trainer.fit(x_train, y_train, batch_size=32, epochs=2)   # logs loss (total) and interpretation_loss

Cost per step: the attack (k input-gradient passes) plus four map
evaluations (two with ``discrepancy="l1"``) on top of a clean step.
TensorFlow backend only; save ``trainer.inner`` (the trained model).

References:
    seeds/003_95601c10b3bd7c9c.txt, Sec. VIII ("Interpretation-based
    Robust Training"), Eqs. 20-21, Table VII; Boopathy et al., "Proper
    Network Interpretability Helps Adversarial Robustness in
    Classification", ICML 2020.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .._checks import choice, positive
from ..interpret import differentiable
from .training import _check_backend, _classifier, _graph_attack

DISCREPANCIES = ("two_class", "l1")
PENALTY_METRIC = "interpretation_loss"


def map_discrepancy(maps_clean, maps_adv):
    """(N,) mean absolute difference of two batches of maps (N, H, W)."""
    return tf.reduce_mean(tf.abs(maps_clean - maps_adv), axis=[1, 2])


class InterpretationRobustTrainer(keras.Model):
    """A Keras model whose loss adds beta times the interpretation discrepancy under a PGD attack.

    Args:
        model: the Keras model to train (raw pixels in [0, 1] -> logits) or
            a ``Classifier``; trained in place (``trainer.inner``). A bare
            model needs ``feature_layer`` for ``cam`` / ``gradcam``.
        attack: a graph-safe attack (``attacks.PGD``, ``FGSM``, ...),
            untargeted on the true labels: the inner maximisation.
        beta: weight of the discrepancy, >= 0 (0 is plain training on
            clean inputs; the attack then never runs).
        interpreter: ``cam`` (the paper's), ``gradcam`` or ``grad``, or a
            differentiable interpreter built on the same Classifier.
        discrepancy: ``two_class`` (Eq. 20) or ``l1`` (true class only).
        bn_training: run the model in training mode in the loss (batch
            statistics in BatchNorm, moving averages updated, dropout on).
            False (default) runs it in inference mode, as the attack and
            the maps read it: with batch statistics the two loss terms see
            two different networks, and on the shapes model a short
            fine-tune then kept 100 % training accuracy while inference
            accuracy fell to 21-43 %.
        input_size, feature_layer: for a bare Keras model, what the
            Classifier around it records.
        **kwargs: ``keras.Model`` arguments (``name``).

    Raises:
        ValueError: beta < 0 or not a number, unknown interpreter or
            discrepancy, an attack without a graph-safe form, a model that
            is not an image classifier or has no CAM head for ``cam``.
        RuntimeError: a Keras backend other than TensorFlow.
    """

    def __init__(self, model, attack, *, beta: float = 1.0, interpreter="cam", discrepancy: str = "two_class",
                 bn_training: bool = False, input_size=None, feature_layer=None, **kwargs):
        _check_backend()
        self.bn_training = bool(bn_training)
        self.beta = float(positive(beta, "beta", allow_zero=True))
        self.discrepancy = choice(discrepancy, "discrepancy", DISCREPANCIES)
        clf = _classifier(model, input_size=input_size, feature_layer=feature_layer)
        self.interpreter = differentiable(interpreter, clf)
        adv_fn = _graph_attack(attack, clf, "attack")
        kwargs.setdefault("name", f"interpretation_robust_{clf.model.name}")
        super().__init__(**kwargs)
        self.inner = clf.model
        self._clf, self._adv_fn, self.attack = clf, adv_fn, attack
        self.penalty_tracker = keras.metrics.Mean(name=PENALTY_METRIC)
        self._pending = None  # (x_adv, labels) of the batch being trained on, set by train_step while it traces
        self.built = bool(self.inner.built)

    @property
    def classifier(self):
        """The Classifier the attack and the interpreter run on (around ``inner``)."""
        return self._clf

    def call(self, inputs, training=None):
        # The attack and the maps read the network in inference mode; the loss does too unless bn_training.
        return self.inner(inputs, training=bool(training) and self.bn_training)

    def interpretation_discrepancy(self, x, x_adv, labels):
        """(N,) discrepancy D(x, x') of ``discrepancy``'s form, differentiable in the weights."""
        maps = self.interpreter.maps
        d = map_discrepancy(maps(x, labels), maps(x_adv, labels))
        if self.discrepancy == "l1":
            return d
        logits_adv = self.inner(x_adv, training=False)
        others = logits_adv - 1e9 * tf.one_hot(labels, tf.shape(logits_adv)[-1], dtype=logits_adv.dtype)
        y_adv = tf.argmax(others, axis=-1, output_type=tf.int32)  # best class other than y at x'
        return 0.5 * (d + map_discrepancy(maps(x, y_adv), maps(x_adv, y_adv)))

    def train_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise ValueError("interpretation-robust training needs labels: fit(x, y) or a dataset of (x, y) pairs")
        if self.beta > 0:
            labels = tf.reshape(tf.cast(y, tf.int32), [-1])
            x_adv = tf.stop_gradient(self._adv_fn(tf.convert_to_tensor(x, tf.float32), labels))
            self._pending = (x_adv, labels)
        try:
            return super().train_step(data)
        finally:
            self._pending = None

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        if self._pending is None:  # evaluation, prediction, or beta = 0
            return loss
        x_adv, labels = self._pending
        penalty = tf.reduce_mean(self.interpretation_discrepancy(tf.cast(x, tf.float32), x_adv, labels))
        self.penalty_tracker.update_state(penalty)
        return loss + tf.cast(self.beta, loss.dtype) * tf.cast(penalty, loss.dtype)

    def test_step(self, data):
        logs = super().test_step(data)
        return {k: v for k, v in logs.items() if k != PENALTY_METRIC}  # measured on training batches only

    def get_config(self):
        raise NotImplementedError(
            "an InterpretationRobustTrainer holds an attack and an interpreter and is not saved as a whole model: "
            "save the trained model itself (trainer.inner.save('model.keras')) or trainer.save_weights(...)")
