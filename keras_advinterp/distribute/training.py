"""Adversarial training under ``MirroredStrategy`` and ``MultiWorkerMirroredStrategy``.

    strategy = make_strategy("multiworker")        # first thing in the program (TF_CONFIG set)
    trainer = adversarial_trainer(lambda: models.load("shapes"), attacks.PGD(eps=8 / 255, steps=7),
                                  strategy=strategy, ratio=0.5, learning_rate=1e-3)
    history = fit(trainer, x, y, strategy=strategy, batch_size=64, epochs=3)
    if is_chief(strategy):
        trainer.inner.save("robust.keras")

The model, the ``defenses.AdversarialTrainer`` around it, its optimizer
and metrics are all made inside ``strategy.scope()``, so every variable is
mirrored on each device of each worker. In each step every replica runs the
trainer's ``train_step`` on its slice of the global batch: the attack's
graph-safe function makes that slice's adversarial examples against the
replica's (identical) weights, and the optimizer all-reduces the gradients.

``fit`` is a small loop of ``strategy.run(trainer.train_step)`` rather than
``trainer.fit``: Keras 3.15's ``fit`` fails under
``MultiWorkerMirroredStrategy`` (it reduces the first batch and each
step's scalar logs along an axis that a multi-worker reduce rejects;
keras-team/keras#20585). Under ``MirroredStrategy`` on one host
``trainer.fit`` works and keeps its callbacks (tested); ``fit`` here runs
the same step on every strategy.

Each worker feeds its own part of the data (``distribute_datasets_from_function``:
input pipeline ``p`` of ``P`` keeps examples ``p, p + P, ...``), and every
worker runs the same number of steps, which collective all-reduces need.
"""

from __future__ import annotations

import time
import weakref

import keras
import numpy as np
import tensorflow as tf

from .._checks import as_images, positive
from ..defenses import AdversarialTrainer
from ..models import Classifier


def _built_in_scope(strategy, build):
    model = build()
    if not isinstance(model, (keras.Model, Classifier)):
        raise ValueError(f"model must build a keras.Model or a Classifier. Received: {type(model).__name__}")
    keras_model = model.model if isinstance(model, Classifier) else model
    if keras_model.weights and not strategy.extended.variable_created_in_scope(keras_model.weights[0].value):
        raise ValueError("the model's variables were made outside strategy.scope(): pass a function that builds "
                         "the model (e.g. lambda: models.load('shapes')) so it is built inside the scope. "
                         f"Received: model={keras_model.name!r} built elsewhere")
    return model


def _metric(m):
    """A metric object (made in the scope now: inside a replica step Keras could not create its variables)."""
    if isinstance(m, keras.metrics.Metric):
        return m
    if m in ("accuracy", "acc"):
        return keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    found = keras.metrics.get(m)
    if isinstance(found, type):
        return found()
    if isinstance(found, keras.metrics.Metric):
        return found
    return keras.metrics.MeanMetricWrapper(found, name=str(m))


def adversarial_trainer(model, attack, *, strategy=None, ratio: float = 0.5, optimizer="adam",
                        learning_rate: float = 1e-3, loss=None, metrics=("accuracy",), **kwargs) -> AdversarialTrainer:
    """A compiled ``AdversarialTrainer`` whose every variable lives in ``strategy``'s scope.

    Args:
        model: a function returning a Keras model (raw pixels in [0, 1] ->
            logits) or a ``Classifier``, called inside the scope (e.g.
            ``lambda: models.load("shapes")``); a model name such as
            ``"shapes"`` for ``models.load(name)``. With the default
            strategy a ready model is accepted too.
        attack: a graph-safe attack (``attacks.PGD(...)``, FGSM, BIM, MIM).
        strategy: a ``tf.distribute.Strategy`` (``make_strategy``), or None
            for the default one.
        ratio: share of each batch replaced by adversarial examples.
        optimizer: a Keras optimizer name, or a function returning one
            (called in the scope).
        learning_rate: for an optimizer given by name.
        loss: default sparse categorical cross-entropy on logits.
        metrics: names (``"accuracy"``) or metric objects.
        **kwargs: more ``AdversarialTrainer`` arguments.
    """
    strategy = tf.distribute.get_strategy() if strategy is None else strategy
    if not isinstance(strategy, tf.distribute.Strategy):
        raise ValueError(f"strategy must be a tf.distribute.Strategy or None. Received: strategy={strategy!r}")
    learning_rate = positive(learning_rate, "learning_rate")
    if isinstance(model, str):
        from ..models import load

        name, model = model, (lambda: load(name))
    elif not callable(model) or isinstance(model, keras.Model):
        ready = model
        model = lambda: ready  # noqa: E731  (checked below to live in the scope)
    with strategy.scope():
        net = _built_in_scope(strategy, model)
        trainer = AdversarialTrainer(net, attack, ratio=ratio, **kwargs)
        opt = optimizer() if callable(optimizer) else keras.optimizers.get(
            {"class_name": optimizer, "config": {"learning_rate": learning_rate}})
        trainer.compile(optimizer=opt, loss=loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=[_metric(m) for m in metrics or ()])
        opt.build(trainer.trainable_variables)  # slots made here, not inside a replica step
    return trainer


def _dataset_fn(x, y, global_batch: int, seed: int):
    def make(context: tf.distribute.InputContext):
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        ds = ds.shard(context.num_input_pipelines, context.input_pipeline_id)
        ds = ds.shuffle(len(x), seed=seed + context.input_pipeline_id, reshuffle_each_iteration=True)
        return ds.repeat().batch(context.get_per_replica_batch_size(global_batch), drop_remainder=True)

    return make


_STEPS = weakref.WeakKeyDictionary()  # trainer -> {strategy id: traced step}: a second fit() does not retrace


def _distributed_step(trainer: AdversarialTrainer, strategy):
    """``step(iterator) -> logs``: one ``train_step`` on every replica, logs averaged over them (traced once)."""
    steps = _STEPS.setdefault(trainer, {})
    if id(strategy) not in steps:
        @tf.function
        def step(iterator):
            logs = strategy.run(trainer.train_step, args=(next(iterator),))
            return {k: strategy.reduce("MEAN", v, axis=None) for k, v in logs.items()}

        steps[id(strategy)] = (strategy, step)  # the strategy is kept alive, so its id stays its own
    return steps[id(strategy)][1]


def fit(trainer: AdversarialTrainer, x, y, *, strategy=None, batch_size: int = 32, epochs: int = 1,
        steps_per_epoch: int | None = None, seed: int = 0, verbose: bool = False) -> dict:
    """Trains ``trainer`` (from ``adversarial_trainer``) on ``x, y`` under ``strategy``.

    Args:
        x, y: every worker's copy of the training images (N, H, W, C) in
            [0, 1] and labels (N,); worker ``p`` of ``P`` uses examples
            ``p, p + P, ...`` (shuffled per epoch with ``seed``).
        batch_size: the global batch, over all replicas of all workers; a
            multiple of ``strategy.num_replicas_in_sync``.
        steps_per_epoch: default ``N // batch_size``.

    Returns:
        ``{"loss": [...], "<metric>": [...], "seconds": [...], "steps_per_epoch": k,
        "replicas": r}``: each metric as at the end of each epoch (the
        mean over replicas of their running means), wall seconds per epoch.
    """
    strategy = tf.distribute.get_strategy() if strategy is None else strategy
    if not isinstance(trainer, AdversarialTrainer):
        raise ValueError(f"trainer must be an AdversarialTrainer (see adversarial_trainer). "
                         f"Received: trainer={type(trainer).__name__}")
    x = as_images(x, name="x")
    y = np.asarray(y).astype(np.int32).reshape(-1)
    if len(y) != len(x):
        raise ValueError(f"y must hold one label per image ({len(x)}). Received: len(y)={len(y)}")
    replicas = strategy.num_replicas_in_sync
    batch_size, epochs = positive(batch_size, "batch_size", integer=True), positive(epochs, "epochs", integer=True)
    if batch_size % replicas:
        raise ValueError(f"batch_size must be a multiple of the {replicas} replicas (it is split evenly between "
                         f"them). Received: batch_size={batch_size}")
    if batch_size > len(x):
        raise ValueError(f"batch_size must be at most the {len(x)} training images. Received: "
                         f"batch_size={batch_size}")
    steps = len(x) // batch_size if steps_per_epoch is None else positive(steps_per_epoch, "steps_per_epoch",
                                                                          integer=True)
    iterator = iter(strategy.distribute_datasets_from_function(_dataset_fn(x, y, batch_size, seed)))
    train_step = _distributed_step(trainer, strategy)

    history = {"seconds": [], "steps_per_epoch": int(steps), "replicas": int(replicas)}
    for epoch in range(int(epochs)):
        trainer.reset_metrics()
        start = time.perf_counter()
        for _ in range(int(steps)):
            logs = train_step(iterator)
        history["seconds"].append(time.perf_counter() - start)
        for k, v in logs.items():
            history.setdefault(k, []).append(float(v))
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: " + ", ".join(f"{k} {float(v):.4f}" for k, v in logs.items()),
                  flush=True)
    return history
