"""What on-the-fly PGD adversarial training costs, in clean epochs.

    python benchmarks/adversarial_training.py            # shapes + ResNet-20, PGD-3 and PGD-10, ratio 1 and 0.5
    python benchmarks/adversarial_training.py --quick    # shapes, PGD-3, ratio 1, 128 images

One epoch of ``defenses.AdversarialTrainer`` with PGD-k at ``ratio`` r adds
k input-gradient passes (a forward and a backward pass each, at inference
mode) on r of each batch to the training step (a forward and a backward
pass plus the optimizer update), so it should cost about ``r * k + 1`` clean
epochs (``k + 1`` at r = 1). Each row times ``fit(epochs=1)`` of the plain
model and of the wrapper on the same images (batch 32, Adam), after one
warm-up epoch that traces and compiles the step: the median of
``--repeats`` epochs, and the median training step (a callback's batch
begin-to-end time, free of fit's per-epoch overhead), each as a multiple of
the clean one beside ``r * k + 1``.
Models: the embedded shapes model (64x64, trained weights) and a random-
weight ResNet-20 at 32x32 (``_models.resnet20_model``, 6 classes). The load
average is recorded: timings on a busy machine are not comparable.

Writes benchmarks/results/adversarial_training.json (``--out`` to change; a
``--quick`` run writes /tmp/adversarial_training_quick.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _models import resnet20_model  # noqa: E402
from _timing import median_seconds  # noqa: E402

from keras_advinterp import attacks, data, models  # noqa: E402
from keras_advinterp.defenses import AdversarialTrainer  # noqa: E402

BATCH = 32
RESULTS = Path(__file__).parent / "results" / "adversarial_training.json"


def load(name: str, n: int):
    """(fresh Keras model or Classifier, images, labels) for a benchmark row."""
    if name == "shapes":
        x, y = data.load("shapes", "train", limit=n)
        return models.load("shapes"), x, y.astype(np.int32)
    rng = np.random.default_rng(0)
    x = rng.random((n, 32, 32, 3), dtype=np.float32)
    return resnet20_model(num_classes=6), x, rng.integers(0, 6, n).astype(np.int32)


class StepTimer(keras.callbacks.Callback):
    """Wall time of each training step (batch begin to batch end)."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_train_batch_begin(self, batch, logs=None):
        self._t = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds.append(time.perf_counter() - self._t)


def epoch_seconds(model, x, y, repeats: int) -> tuple[float, float, float]:
    """(first epoch incl. tracing, median steady epoch, median steady step) of ``model.fit`` on ``x, y``."""
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    t = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    first = time.perf_counter() - t
    timer = StepTimer()
    epoch = median_seconds(lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[timer]),
                           repeats, warm=False)
    return first, epoch, statistics.median(timer.seconds)


def bench(name: str, n: int, steps_list, ratios, repeats: int) -> list[dict]:
    net, x, y = load(name, n)
    keras_model = getattr(net, "model", net)
    load_before = round(os.getloadavg()[0], 2)
    first, clean, clean_step = epoch_seconds(keras_model, x, y, repeats)
    print(f"[{name}] {n} images, batch {BATCH}: clean epoch {clean:.2f} s, step {clean_step * 1e3:.0f} ms "
          f"(first epoch {first:.1f} s)", flush=True)
    rows = []
    for steps in steps_list:
        for ratio in ratios:
            trainer = AdversarialTrainer(net, attacks.PGD(eps=8 / 255, steps=steps), ratio=ratio)
            first_adv, adv, adv_step = epoch_seconds(trainer, x, y, repeats)
            expected = ratio * steps + 1
            row = {"model": name, "images": n, "batch": BATCH, "pgd_steps": steps, "ratio": ratio,
                   "clean_epoch_s": round(clean, 3), "adversarial_epoch_s": round(adv, 3),
                   "clean_step_ms": round(clean_step * 1e3, 1), "adversarial_step_ms": round(adv_step * 1e3, 1),
                   "adversarial_first_epoch_s": round(first_adv, 2),
                   "cost_in_clean_epochs": round(adv / clean, 2),
                   "cost_in_clean_steps": round(adv_step / clean_step, 2),
                   "expected_r_k_plus_1": expected,
                   "steps_measured_vs_expected": round(adv_step / clean_step / expected, 3),
                   "load_before": load_before, "load_after": round(os.getloadavg()[0], 2)}
            rows.append(row)
            print(f"  PGD-{steps:<3} ratio {ratio:<4} epoch {adv:7.2f} s = {adv / clean:5.2f} clean epochs; step "
                  f"{adv_step * 1e3:6.0f} ms = {adv_step / clean_step:5.2f} clean steps (r*k+1 = {expected:g})",
                  flush=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="shapes only, PGD-3 at ratio 1, 128 images, 1 repeat")
    p.add_argument("--models", nargs="+", default=["shapes", "resnet20"])
    p.add_argument("--steps", nargs="+", type=int, default=[3, 10])
    p.add_argument("--ratios", nargs="+", type=float, default=[1.0, 0.5])
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    if a.quick:
        a.models, a.steps, a.ratios, a.images, a.repeats = ["shapes"], [3], [1.0], 128, 1
    default = Path("/tmp/adversarial_training_quick.json") if a.quick else RESULTS  # quick never overwrites
    out = a.out or str(default)
    rows = []
    for m in a.models:
        rows.extend(bench(m, a.images, a.steps, a.ratios, a.repeats))
    print(f"\n{'model':<10}{'PGD':>5}{'ratio':>7}{'clean s':>9}{'adv s':>8}{'x epochs':>10}{'x steps':>9}{'r*k+1':>7}")
    for r in rows:
        print(f"{r['model']:<10}{r['pgd_steps']:>5}{r['ratio']:>7.2f}{r['clean_epoch_s']:>9.2f}"
              f"{r['adversarial_epoch_s']:>8.2f}{r['cost_in_clean_epochs']:>10.2f}{r['cost_in_clean_steps']:>9.2f}"
              f"{r['expected_r_k_plus_1']:>7g}")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"rows": rows, "tensorflow": tf.__version__, "keras": keras.__version__,
                                     "cpus": os.cpu_count(), "quick": a.quick}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
