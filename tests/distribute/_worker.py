"""A test worker process: distributed training or generation, run in its own interpreter.

Logical CPU devices and MultiWorkerMirroredStrategy must be set up before
TensorFlow starts its runtime, which a pytest process has long done; so the
tests start this script. It stops itself after ``--deadline`` seconds
(faulthandler prints where it hung and exits), and prints one JSON line
prefixed ``RESULT `` for the test to read.

    python _worker.py both --strategy mirrored --devices 2 --data DIR --out DIR
    TF_CONFIG=... python _worker.py train --strategy multiworker
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_ADVINTERP_OFFLINE"] = "1"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["train", "generate", "both"])
    p.add_argument("--strategy", default="default", choices=["default", "mirrored", "multiworker"])
    p.add_argument("--devices", type=int, default=1, help="logical CPU devices to split the host into")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--data")
    p.add_argument("--out")
    p.add_argument("--deadline", type=float, default=150)
    a = p.parse_args()
    faulthandler.dump_traceback_later(a.deadline, exit=True)  # self-stopping, whatever happens

    from keras_advinterp import distribute

    if a.strategy == "multiworker":
        strategy = distribute.make_strategy("multiworker")  # before any other TensorFlow work
    else:
        distribute.split_cpu(a.devices)
        strategy = distribute.make_strategy(a.strategy) if a.strategy == "mirrored" else None
    import keras

    keras.utils.set_random_seed(0)
    result = {}
    if a.mode in ("train", "both"):
        result["train"] = train(a, strategy)
    if a.mode in ("generate", "both"):
        result["generate"] = generate(a, strategy)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def train(a, strategy) -> dict:
    """A few epochs of PGD adversarial training of the shapes model; the loss per epoch and a weight checksum."""
    import numpy as np
    import tensorflow as tf

    from keras_advinterp import attacks, data, distribute

    start = time.perf_counter()
    x, y = data.load("shapes", "train", limit=a.images)
    trainer = distribute.adversarial_trainer("shapes", attacks.PGD(eps=8 / 255, steps=2), strategy=strategy,
                                             ratio=0.5, learning_rate=1e-3)
    task = getattr(getattr(strategy, "cluster_resolver", None), "task_id", None)
    print(f"{type(strategy or tf.distribute.get_strategy()).__name__}: "
          f"{(strategy or tf.distribute.get_strategy()).num_replicas_in_sync} replicas in sync, task index {task}, "
          f"{len(x)} images, global batch {a.batch}", flush=True)
    history = distribute.fit(trainer, x, y, strategy=strategy, batch_size=a.batch, epochs=a.epochs, verbose=True)
    weights = [w.numpy() for w in trainer.inner.trainable_weights]
    return {"replicas": history["replicas"], "steps_per_epoch": history["steps_per_epoch"],
            "loss": history["loss"], "accuracy": history["accuracy"],
            "weights_checksum": float(sum(np.abs(w).sum() for w in weights)),
            "chief": distribute.is_chief(strategy or tf.distribute.get_strategy()),
            "seconds": round(time.perf_counter() - start, 2)}


def generate(a, strategy) -> dict:
    """BIM (no random start) over the folder ``--data`` into ``--out``, the model loaded in the strategy's scope."""
    import tensorflow as tf

    from keras_advinterp import attacks, distribute, models

    start = time.perf_counter()
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        clf = models.load("shapes")
    r = distribute.generate_shard(clf, attacks.BIM(eps=8 / 255, steps=3), a.data, a.out, strategy=strategy,
                                  batch_size=8, chunk=8)
    return {"replicas": r.replicas, "devices": distribute.local_devices(), "generated": r.generated,
            "complete": r.report.complete, "seconds": round(time.perf_counter() - start, 2)}


if __name__ == "__main__":
    sys.exit(main())
