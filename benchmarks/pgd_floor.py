"""PGD-10 against its floor, with and without XLA, in each loop form.

    python benchmarks/pgd_floor.py                             # shapes, digits, resnet20, mobilenet, resnet50
    python benchmarks/pgd_floor.py --chunks 1 2                # + 2-step chunks (results/pgd_floor.json; ~7 min)
    python benchmarks/pgd_floor.py --models shapes resnet20    # the quick ones

The floor is ``steps`` x one compiled loss+input-gradient step called alone,
in the faster of its two forms: XLA (``jit_compile=True``) and a plain
``tf.function`` (TensorFlow's own kernels, oneDNN on a CPU); both are
reported. Then PGD-10 (Linf 8/255) runs with ``jit_compile`` True and False
in the loop forms that matter (XLA: unrolled, as ``loop="auto"`` does up to
20 steps; XLA's ``tf.while_loop`` only with ``--xla-while``, it is 3.6-5x
slower on a CPU; plain: unrolled, ``tf.while_loop``, and a Python loop over
one compiled chunk of k steps, ``chunk<k>``, what ``loop="auto"`` runs
without XLA with k = ``_compile.PLAIN_CHUNK``), each with its
first-call time (tracing and compilation included, the model's forward pass
already compiled) and its steady time (median of ``--repeats`` more calls).
These numbers set ``_compile.AUTO_JIT_MAX_FLOPS`` (the ``jit_compile="auto"``
rule) and ``_compile.PLAIN_CHUNK``; the comment above them quotes the
committed results. Shapes, digits and ResNet-20 run batch 32; MobileNet and ResNet50
(random weights) batch 8. The load average is recorded before and after each
model: timings from a busy machine are not comparable.

Writes benchmarks/results/pgd_floor.json (``--out`` to change).
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
from _models import resnet20  # noqa: E402
from _timing import median_seconds  # noqa: E402

from keras_advinterp import _compile, attacks, models  # noqa: E402
from keras_advinterp.attacks.base import loss_gradient  # noqa: E402

BATCH = {"shapes": 32, "digits": 32, "resnet20": 32}
FORMS = [(True, "unroll"), (False, "unroll"), (False, "while"), (False, "chunk1")]


def load(name: str):
    if name == "resnet20":
        return resnet20()
    return models.load(name, weights="embedded" if name in models.EMBEDDED else None)


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def timed_first(fn, repeats: int) -> tuple[float, float]:
    """(first-call seconds, median of ``repeats`` further calls)."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    return first, median_seconds(fn, repeats, warm=False)


def step_times(clf, x, y, repeats: int) -> dict:
    """First-call and steady seconds of one loss+gradient step, XLA and plain."""
    xt, yt = tf.constant(x), tf.constant(y)
    out = {}
    for form, jit in (("xla", True), ("plain", False)):
        step = tf.function(lambda a, b: loss_gradient(clf, a, b, False), jit_compile=jit)
        first, steady = timed_first(lambda: step(xt, yt).numpy(), repeats)
        out[f"step_{form}_first_s"], out[f"step_{form}_s"] = round(first, 3), round(steady, 4)
    return out


def bench(name: str, steps: int, repeats: int, forms) -> dict:
    clf = load(name)
    batch = BATCH.get(name, 8)
    rng = np.random.default_rng(0)
    x = rng.random((batch, *clf.input_shape), dtype=np.float32)
    y = rng.integers(0, clf.num_classes, batch).astype(np.int32)
    row = {"model": name, "batch": batch, "steps": steps, "mflops_per_image": round(clf.flops_per_image() / 1e6, 1),
           "load_before": load_average()}
    clf.predict(x, batch_size=batch)  # the forward pass compiles once for every form below
    row.update(step_times(clf, x, y, repeats))
    best = min(("xla", "plain"), key=lambda f: row[f"step_{f}_s"])
    row["floor_form"], row["floor_s"] = best, round(steps * row[f"step_{best}_s"], 4)
    for form in ("xla", "plain"):
        row[f"floor_{form}_s"] = round(steps * row[f"step_{form}_s"], 4)
    print(f"[{name}] batch {batch}, {row['mflops_per_image']} MFLOPs/image: step xla {row['step_xla_s']:.4f} s, "
          f"plain {row['step_plain_s']:.4f} s", flush=True)
    for jit, loop in forms:
        key = f"{'xla' if jit else 'plain'}_{loop}"
        if loop.startswith("chunk"):  # the plain "auto" form: a Python loop over one compiled chunk of k steps
            _compile.PLAIN_CHUNK, loop = int(loop[len("chunk"):]), "auto"
            clf._compiled = {k: v for k, v in clf._compiled.items() if k[0] != "attack"}
        attack = attacks.PGD(eps=8 / 255, steps=steps, loop=loop, jit_compile=jit)
        first, steady = timed_first(lambda: attack(clf, x, y, batch_size=batch), repeats)
        row[f"{key}_first_call_s"], row[f"{key}_s"] = round(first, 3), round(steady, 4)
        row[f"{key}_vs_floor"] = round(steady / row["floor_s"], 3)
        print(f"  {key:<14} first {first:7.2f} s  steady {steady:7.3f} s  {steady / row['floor_s']:.2f}x floor",
              flush=True)
    row["load_after"] = load_average()
    return row


def print_table(rows, forms):
    keys = [f"{'xla' if j else 'plain'}_{lp}" for j, lp in forms]
    head = f"{'model':<10}{'MFLOPs':>8}{'batch':>6}{'step xla':>10}{'step plain':>11}{'floor s':>9}"
    print("\n" + head + "".join(f"{k + ' first/steady (x floor)':>38}" for k in keys) + f"{'load':>11}")
    for r in rows:
        line = (f"{r['model']:<10}{r['mflops_per_image']:>8.0f}{r['batch']:>6}{r['step_xla_s']:>10.4f}"
                f"{r['step_plain_s']:>11.4f}{r['floor_s']:>9.3f}")
        for k in keys:
            if f"{k}_s" in r:
                line += f"{r[f'{k}_first_call_s']:>17.1f} / {r[f'{k}_s']:>7.3f} ({r[f'{k}_vs_floor']:.2f}x)".rjust(38)
        print(line + f"{r['load_before']:>5.1f}/{r['load_after']:<5.1f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["shapes", "digits", "resnet20", "mobilenet", "resnet50"])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--xla-while", action="store_true", help="also time XLA's tf.while_loop form")
    p.add_argument("--chunks", nargs="*", type=int, default=[1],
                   help="chunk sizes of the plain 'auto' form (a Python loop over a compiled chunk) to time")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "pgd_floor.json"))
    a = p.parse_args()
    forms = FORMS[:3] + [(False, f"chunk{k}") for k in a.chunks] + ([(True, "while")] if a.xla_while else [])
    rows = []
    for m in a.models:
        rows.append(bench(m, a.steps, a.repeats, forms))
    print_table(rows, forms)
    print(f"load average {os.getloadavg()}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"rows": rows, "tensorflow": tf.__version__, "cpus": os.cpu_count(),
                                       "models": a.models, "repeats": a.repeats}, indent=2))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
