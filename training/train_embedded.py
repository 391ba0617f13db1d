"""Trains the embedded models and writes their shipped weight files.

    python training/train_embedded.py --model shapes   # ~10 min on 2 CPU cores
    python training/train_embedded.py --model digits   # ~30 s
    python training/train_embedded.py --model shapes_mobile   # ~6.5 min

Deterministic from ``--seed`` (op determinism on): the same command gives
the same weights on the same TF build. Prints test accuracy, which the
README and tests/models/test_embedded.py quote.
"""

from __future__ import annotations

import argparse
import json
import time

import keras
import numpy as np
import tensorflow as tf

from keras_advinterp import data
from keras_advinterp.models.embedded import EMBEDDED

SETTINGS = {
    "shapes": {"epochs": 10, "batch_size": 64, "lr": 2e-3},
    "digits": {"epochs": 30, "batch_size": 32, "lr": 3e-3},
    "shapes_mobile": {"epochs": 15, "batch_size": 64, "lr": 5e-3},
}


def train(name: str, seed: int = 0, out=None, epochs: int | None = None) -> dict:
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    spec = EMBEDDED[name]
    cfg = dict(SETTINGS[name])
    if epochs:
        cfg["epochs"] = epochs
    x_train, y_train = data.load(spec.data, "train", seed=seed)
    x_test, y_test = data.load(spec.data, "test", seed=seed)
    model = spec.build()
    steps = cfg["epochs"] * int(np.ceil(len(x_train) / cfg["batch_size"]))
    schedule = keras.optimizers.schedules.CosineDecay(cfg["lr"], steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    aug = _augment(spec.data, seed)
    t0 = time.time()
    model.fit(aug(x_train, y_train, cfg["batch_size"]), epochs=cfg["epochs"], verbose=2)
    seconds = time.time() - t0
    _, acc = model.evaluate(x_test, y_test, verbose=0)
    path = out or spec.weights_file
    shipped = spec.build()  # an uncompiled copy: the file holds no optimizer state
    shipped.set_weights(model.get_weights())
    shipped.save_weights(str(path))
    report = {"model": name, "test_accuracy": round(float(acc), 4), "test_count": len(x_test),
              "train_seconds": round(seconds, 1), "seed": seed, "weights": str(path), **cfg}
    print(json.dumps(report))
    return report


def _augment(data_name, seed):
    """Random flips for shapes (labels are flip-invariant), small shifts for digits."""

    def make(x, y, batch_size):
        ds = tf.data.Dataset.from_tensor_slices((np.asarray(x), np.asarray(y)))
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)

        def flip(img, label):
            img = tf.image.random_flip_left_right(img, seed=seed)
            return tf.image.random_flip_up_down(img, seed=seed + 1), label

        def shift(img, label):
            pad = tf.pad(img, [[2, 2], [2, 2], [0, 0]])
            return tf.image.random_crop(pad, tf.shape(img), seed=seed), label

        ds = ds.map(flip if data_name == "shapes" else shift)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    return make


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=sorted(EMBEDDED), action="append", help="model(s) to train (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--out", default=None, help="weights file (default: the shipped one)")
    args = p.parse_args()
    for name in args.model or sorted(EMBEDDED):
        train(name, args.seed, args.out, args.epochs)


if __name__ == "__main__":
    main()
