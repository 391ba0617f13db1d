"""Layer surgery timings: every conv layer's feature maps in one pass, and feature-map RMSE (Ding et al.).

    python benchmarks/surgery.py            # ResNet50 (random weights): capture at batch 8, RMSE over 100 pairs
    python benchmarks/surgery.py --quick    # batch 2, 8 pairs, one repeat: checks the script (< 2 min)

Capture: ``FeatureCapture`` of all 53 conv layers of ResNet50 against the
classifier's compiled forward pass (logits only) on the same batch, both
warm (median of --repeats after a first call, which is reported apart).
The capture is timed twice: the compiled multi-output call alone (maps as
tensors) and the public call (maps as numpy arrays, 42 MB per image). The
issue's target is capture <= 1.5x one forward pass.

RMSE: ``feature_map_rmse`` over all conv layers for clean / "adversarial"
pairs, where the adversarial image is the clean one plus random +-8/255
sign noise (timing only; any perturbation costs the same), first call and
steady seconds, and per image.

Writes benchmarks/results/surgery.json (``--quick``: surgery_quick.json).
The load average before and after is recorded: figures from a busy machine
are not comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _timing import median_seconds  # noqa: E402

from keras_advinterp import models, surgery  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def first_and_steady(fn, repeats: int) -> tuple[float, float]:
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    return first, median_seconds(fn, repeats, warm=False)


def bench_capture(clf, batch: int, repeats: int) -> dict:
    x = np.random.default_rng(0).random((batch, *clf.input_shape), dtype=np.float32)
    convs = surgery.conv_layers(clf)
    forward = clf.compiled_forward()
    xt = tf.constant(x)
    fwd_first, fwd = first_and_steady(lambda: forward(xt).numpy(), repeats)
    t = time.perf_counter()
    cap = surgery.FeatureCapture(clf, convs, batch_size=batch)
    build = time.perf_counter() - t
    graph_first, graph = first_and_steady(lambda: [v.numpy() for v in cap._fn(xt).values()], repeats)
    _, public = first_and_steady(lambda: cap(x), repeats)
    maps = cap(x)
    return {
        "model": clf.name, "batch": batch, "layers": len(convs),
        "feature_floats_per_image": int(sum(v[0].size for v in maps.values())),
        "forward_first_s": round(fwd_first, 3), "forward_s": round(fwd, 4),
        "capture_build_s": round(build, 3), "capture_first_s": round(graph_first, 3),
        "capture_compiled_s": round(graph, 4), "capture_numpy_s": round(public, 4),
        "ratio_compiled": round(graph / fwd, 2), "ratio_numpy": round(public / fwd, 2),
    }


def bench_rmse(clf, pairs: int, batch: int, repeats: int) -> dict:
    rng = np.random.default_rng(1)
    x = rng.random((pairs, *clf.input_shape), dtype=np.float32)
    x_adv = np.clip(x + (8 / 255) * np.sign(rng.standard_normal(x.shape)).astype(np.float32), 0, 1)
    result = []

    def run():
        result[:] = [surgery.feature_map_rmse(clf, x, x_adv, batch_size=batch)]

    first, steady = first_and_steady(run, repeats)
    res = result[0]
    return {
        "model": clf.name, "pairs": pairs, "batch": batch, "layers": len(res.layers), "channels": len(res),
        "first_s": round(first, 2), "steady_s": round(steady, 2), "per_image_s": round(steady / pairs, 4),
        "top3": [(c.name, round(c.rmse, 3)) for c in res.top(3)],
        "bottom3": [(c.name, round(c.rmse, 5)) for c in res.bottom(3)],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="batch 2, 8 pairs, one repeat")
    p.add_argument("--batch", type=int, default=8, help="capture batch")
    p.add_argument("--pairs", type=int, default=100, help="clean/adversarial pairs for the RMSE")
    p.add_argument("--rmse-batch", type=int, default=16, help="pairs per compiled RMSE call")
    p.add_argument("--repeats", type=int, default=3, help="steady-state calls after the first (median)")
    p.add_argument("--out", default=None, help="JSON path (default results/surgery.json, surgery_quick.json)")
    a = p.parse_args()
    if a.quick:
        a.batch, a.pairs, a.rmse_batch, a.repeats = 2, 8, 4, 1

    load_before = round(os.getloadavg()[0], 2)
    clf = models.load("resnet50", weights=None)
    cap = bench_capture(clf, a.batch, a.repeats)
    print(f"[capture] {cap['model']} batch {cap['batch']}, {cap['layers']} conv layers "
          f"({cap['feature_floats_per_image'] * 4 / 1e6:.0f} MB per image): forward {cap['forward_s']:.3f} s, "
          f"capture {cap['capture_compiled_s']:.3f} s compiled ({cap['ratio_compiled']:.2f}x), "
          f"{cap['capture_numpy_s']:.3f} s as numpy ({cap['ratio_numpy']:.2f}x); first call "
          f"{cap['capture_first_s']:.1f} s", flush=True)
    rmse = bench_rmse(clf, a.pairs, a.rmse_batch, a.repeats if not a.quick else 1)
    print(f"[rmse] {rmse['pairs']} pairs, {rmse['layers']} layers, {rmse['channels']} channels: "
          f"{rmse['steady_s']:.2f} s ({rmse['per_image_s'] * 1000:.0f} ms per pair), first call "
          f"{rmse['first_s']:.1f} s; top {rmse['top3']}", flush=True)
    load_after = round(os.getloadavg()[0], 2)
    print(f"load average {load_before} -> {load_after} on {os.cpu_count()} CPUs")

    out = Path(a.out or RESULTS / ("surgery_quick.json" if a.quick else "surgery.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"capture": cap, "rmse": rmse, "quick": a.quick, "load_before": load_before,
                               "load_after": load_after, "tensorflow": tf.__version__, "keras": keras.__version__,
                               "cpus": os.cpu_count()}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
