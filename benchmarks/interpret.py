"""Compiled Grad-CAM (GradCAMXLA) against tf-keras-vis Gradcam, same inputs, one run.

    python benchmarks/interpret.py                     # resnet50 (random weights, batch 8) + shapes (batch 64)
    python benchmarks/interpret.py --models shapes

Prints warm seconds per batch (median of --repeats), the ratio, first-call
(compile) time, and the max abs difference of the maps. Writes
benchmarks/results/interpret.json and .png. Random weights are fine here:
this measures time and agreement, not interpretation quality.
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
from tf_keras_vis.gradcam import Gradcam  # noqa: E402
from tf_keras_vis.utils.scores import CategoricalScore  # noqa: E402

from keras_advinterp import interpret, models  # noqa: E402

BATCH = {"resnet50": 8, "vgg16": 8, "densenet169": 8, "mobilenet": 8, "mobilenet_v2": 8}


def bench(name, repeats):
    clf = models.load(name, weights=None if name in BATCH else "default")
    batch = BATCH.get(name, 64)
    rng = np.random.default_rng(0)
    x = rng.random((batch, *clf.input_shape), dtype=np.float32)
    cls = rng.integers(0, clf.num_classes, batch)

    vis = Gradcam(clf.model, clone=False)

    def reference():
        return vis(CategoricalScore(list(cls)), x, penultimate_layer=clf.feature_layer,
                   seek_penultimate_conv_layer=False)

    ours = interpret.GradCAMXLA(clf, batch_size=batch)
    t = time.perf_counter()
    mine = ours(x, cls)
    compile_s = time.perf_counter() - t
    ref = reference()
    row = {
        "model": name, "batch": batch, "ours_first_call_s": round(compile_s, 2),
        "tf_keras_vis_s": round(median_seconds(reference, repeats), 4),
        "ours_s": round(median_seconds(lambda: ours(x, cls), repeats), 4),
        "max_abs_diff": float(np.abs(mine - ref).max()),
    }
    fwd = tf.function(lambda a: clf.model(a, training=False), jit_compile=True)
    xt = tf.constant(x)
    fwd(xt)
    row["one_forward_s"] = round(median_seconds(lambda: fwd(xt).numpy(), repeats), 4)
    row["speedup"] = round(row["tf_keras_vis_s"] / row["ours_s"], 2)
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["resnet50", "shapes"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "interpret.json"))
    a = p.parse_args()
    rows = [bench(m, a.repeats) for m in a.models]
    print(f"{'model':<10}{'batch':>6}{'tf-keras-vis s':>16}{'ours s':>9}{'speedup':>9}{'forward s':>11}"
          f"{'compile s':>11}{'max |diff|':>12}")
    for r in rows:
        print(f"{r['model']:<10}{r['batch']:>6}{r['tf_keras_vis_s']:>16.3f}{r['ours_s']:>9.3f}{r['speedup']:>8.1f}x"
              f"{r['one_forward_s']:>11.3f}{r['ours_first_call_s']:>11.1f}{r['max_abs_diff']:>12.1e}")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "tensorflow": tf.__version__, "cpus": os.cpu_count()}, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    pos = np.arange(len(rows))
    ax.bar(pos - 0.2, [r["tf_keras_vis_s"] for r in rows], 0.4, label="tf-keras-vis Gradcam")
    ax.bar(pos + 0.2, [r["ours_s"] for r in rows], 0.4, label="GradCAMXLA (ours)")
    ax.set_xticks(pos)
    ax.set_xticklabels([f"{r['model']} (batch {r['batch']})" for r in rows])
    ax.set_ylabel("seconds per batch")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
