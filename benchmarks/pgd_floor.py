"""PGD-10 against its floor: 10 x one compiled forward+backward step.

    python benchmarks/pgd_floor.py                      # shapes (batch 32) + resnet50 (random weights, batch 8)
    python benchmarks/pgd_floor.py --models shapes      # the quick one

Reports first-call (compile) time separately from warm time, for the
unrolled and the while-loop forms. Writes benchmarks/results/pgd_floor.json.
The side-by-side runs against ART / Foolbox / CleverHans belong in
benchmarks/attacks.py (attack-suite issue).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from _timing import median_seconds  # noqa: E402
from keras_advinterp import attacks, models  # noqa: E402
from keras_advinterp.attacks.base import loss_gradient  # noqa: E402

BATCH = {"shapes": 32, "digits": 32}


def bench(name: str, steps: int, repeats: int) -> dict:
    clf = models.load(name, weights=None if name not in models.EMBEDDED else "embedded")
    batch = BATCH.get(name, 8)
    rng = np.random.default_rng(0)
    x = rng.random((batch, *clf.input_shape), dtype=np.float32)
    y = rng.integers(0, clf.num_classes, batch)

    step = tf.function(lambda a, b: loss_gradient(clf, a, b, False), jit_compile=True)
    xt, yt = tf.constant(x), tf.constant(y)
    one_step = median_seconds(lambda: step(xt, yt).numpy(), repeats)
    row = {"model": name, "batch": batch, "steps": steps, "one_step_s": round(one_step, 4),
           "floor_s": round(steps * one_step, 4)}
    for loop in ("unroll", "while"):
        attack = attacks.PGD(eps=8 / 255, steps=steps, loop=loop)
        t = time.perf_counter()
        attack(clf, x, y)
        row[f"{loop}_first_call_s"] = round(time.perf_counter() - t, 3)
        warm = median_seconds(lambda: attack(clf, x, y), repeats)
        row[f"{loop}_s"] = round(warm, 4)
        row[f"{loop}_vs_floor"] = round(warm / row["floor_s"], 3)
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["shapes", "resnet50"])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "pgd_floor.json"))
    a = p.parse_args()
    rows = [bench(m, a.steps, a.repeats) for m in a.models]
    print(f"{'model':<10}{'batch':>6}{'floor s':>10}{'unroll s':>10}{'x floor':>9}{'compile s':>11}"
          f"{'while s':>9}{'x floor':>9}")
    for r in rows:
        print(f"{r['model']:<10}{r['batch']:>6}{r['floor_s']:>10.3f}{r['unroll_s']:>10.3f}{r['unroll_vs_floor']:>9.2f}"
              f"{r['unroll_first_call_s']:>11.1f}{r['while_s']:>9.3f}{r['while_vs_floor']:>9.2f}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"rows": rows, "tensorflow": tf.__version__, "cpus": os.cpu_count()}, indent=2))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
