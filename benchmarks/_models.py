"""Benchmark models that the package does not ship: a CIFAR-10-style ResNet-20.

    clf = resnet20()                  # random weights, 32x32x3 -> 10 logits
    clf, x, y = resnet20_on_shapes()  # trained briefly on shapes at 32x32 (weights cached under /tmp)

``resnet20`` is He et al.'s CIFAR ResNet (3 stages x 3 basic blocks, 16/32/64
filters, about 41M multiply-adds per image): the "small model" of the speed
comparisons. A random-weight ResNet has near-uniform outputs, fine for
timings but not for minimal-perturbation (L2) comparisons, so
``resnet20_on_shapes`` trains one on the shapes training set resized to
32x32 (6 classes, 10 epochs with a cosine learning rate, about 3 minutes on 2 cores) and caches its
weights in ``$ADVINTERP_BENCH_CACHE`` (default /tmp/advinterp-bench), never in
the repository.

References:
    He et al., "Deep Residual Learning for Image Recognition" (CVPR 2016),
    Sec. 4.2 (the CIFAR-10 networks, n = 3).
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_advinterp import data, models

CACHE = Path(os.environ.get("ADVINTERP_BENCH_CACHE", "/tmp/advinterp-bench"))


def _block(x, filters, stride, name):
    shortcut = x
    if stride != 1:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_1_conv")(x)
    y = layers.ReLU(name=f"{name}_1_relu")(layers.BatchNormalization(name=f"{name}_1_bn")(y))
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    y = layers.BatchNormalization(name=f"{name}_2_bn")(y)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([shortcut, y]))


def resnet20_model(num_classes: int = 10, seed: int = 0) -> keras.Model:
    """The bare Keras ResNet-20: (N, 32, 32, 3) in [0, 1] -> logits."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((32, 32, 3), name="image")
    x = layers.Rescaling(2.0, offset=-1.0, name="scale")(inp)
    x = layers.Conv2D(16, 3, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.ReLU(name="stem_relu")(layers.BatchNormalization(name="stem_bn")(x))
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            x = _block(x, filters, 2 if stage > 0 and block == 0 else 1, f"stage{stage + 1}_block{block + 1}")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inp, layers.Dense(num_classes, name="logits")(x), name="resnet20")


def resnet20(num_classes: int = 10, seed: int = 0):
    """A random-weight ResNet-20 as a Classifier (32x32x3 raw pixels -> logits)."""
    return models.from_keras(resnet20_model(num_classes, seed), name="resnet20", weights_source="random")


def shapes_32(split: str, limit: int | None = None):
    """Shapes images resized to 32x32 (area averaging) and their labels."""
    d = data.load("shapes", split, limit=limit)
    x = tf.image.resize(d.x, (32, 32), method="area").numpy().astype(np.float32)
    return np.clip(x, 0.0, 1.0), d.y.astype(np.int32)


def resnet20_on_shapes(epochs: int = 10, n_test: int = 256, seed: int = 0):
    """A ResNet-20 trained on shapes at 32x32: ``(clf, x_test, y_test)``, test images it classifies right.

    Weights are cached under ``CACHE`` (keyed by epochs and seed), so only
    the first call trains.
    """
    names = data.load("shapes", "test", limit=1).class_names
    net = resnet20_model(num_classes=6, seed=seed)
    path = CACHE / f"resnet20_shapes_e{epochs}_s{seed}.weights.h5"
    if path.exists():
        net.load_weights(path)
    else:
        x, y = shapes_32("train")
        decay = keras.optimizers.schedules.CosineDecay(2e-3, epochs * -(-len(x) // 64))
        net.compile(optimizer=keras.optimizers.Adam(decay),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        net.fit(x, y, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        net.save_weights(path)
    clf = models.from_keras(net, class_names=names, name="resnet20_shapes",
                            weights_source=f"trained on shapes 32x32, {epochs} epochs (benchmarks/_models.py)")
    x, y = shapes_32("test", limit=n_test)
    keep = clf.predict(x).argmax(1) == y
    return clf, x[keep], y[keep]
