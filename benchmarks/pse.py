"""Grid sensitivity (Xu et al., Eqs. 1-3): chunked batched forwards against a per-grid predict loop.

    python benchmarks/pse.py            # ResNet50 (random weights), one 221x221 image, 13 x 13 = 169 grids
    python benchmarks/pse.py --quick    # the embedded shapes model, 8 x 8 grids: checks the script (< 1 min)

One image (13 x 17 = 221 pixels a side, so 13 x 13 grids tile it; the
classifier resizes to 224 inside) with a dense random +-8/255 perturbation,
so all 169 grids need a forward pass. Timed, each warm (one call first,
reported apart) and as the median of --repeats:

- ``pse.grid_sensitivity`` at each chunk size (masked copies per compiled
  call), with ``method="full"`` (the 169 copies and the Z(x') row built
  inside the compiled function, every copy through the whole network,
  ceil(170 / chunk) calls) and ``method="incremental"`` (each copy's
  feature maps computed on its grid's window only, up to half a map; the
  x' row computed once per call);
- the per-grid loop a user would write: for each grid, the copy in NumPy,
  then ``model.predict(copy)`` (Keras) -- and the same loop through our
  compiled forward (``clf.predict``), which drops Keras's per-call set-up.

Memory: the process's peak resident set after each stage
(``ru_maxrss``, which only grows; stages run smallest chunk first, so
each increase is what the larger chunk added). Also timed: the same image
with only a third of its grids perturbed (a sparse attack), where grids the
attack left alone need no forward pass.

Network dissection (Sec. 5, Eq. 7) of the embedded shapes model over the
shapes concept set (1,200 test images, 20 shape / colour / texture masks;
``--quick``: 128), per layer: ``dissection.dissect`` (activations and the
(N, 64, 64, 20) concept masks in memory, exact quantiles) against
``dissection.dissect_stream`` over a tf.data pipeline
(``shapes_concept_batches``: masks made per batch; three passes). Images per
second (warm: each function's compiled steps traced once before timing),
peak traced Python / NumPy memory of the call (``tracemalloc``, which sees
NumPy's buffers but not TensorFlow's), the process's peak RSS after each
(``ru_maxrss``; the stream runs first, so a rise is the in-memory path's),
and the largest IoU difference between the two. ``--part`` picks grid,
dissection or both.

Writes benchmarks/results/pse.json (``--quick``: pse_quick.json) with the
load average before and after: this 2-core machine is shared with other
agents' jobs, so the figures carry their noise.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _timing import timed  # noqa: E402

from keras_advinterp import data, models  # noqa: E402
from keras_advinterp.analysis import dissection, pse  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)




def per_grid_loop(predict, x, x_adv, layout, y, t):
    """Eqs. 1-3 the plain way: one copy and one predict call per grid."""
    z = predict(x_adv)[0]
    ids = layout.ids()
    d0, dt = np.zeros(layout.m), np.zeros(layout.m)
    for i in range(layout.m):
        copy = np.where((ids == i)[None, :, :, None], x, x_adv)
        zi = predict(copy)[0]
        d0[i], dt[i] = zi[y] - z[y], z[t] - zi[t]
    return d0, dt


def traced(fn):
    """(seconds, peak traced MB, output) of one call of ``fn`` under tracemalloc."""
    tracemalloc.start()
    t = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, round(peak / 2**20, 1), out


def dissection_benchmark(quick: bool, batch_size: int = 64) -> dict:
    """In-memory against streamed dissection of the shapes model over the shapes concept set, per layer."""
    clf = models.load("shapes")
    d = data.load("shapes", "test", limit=128 if quick else None)
    w = data.load("shapes", "test", limit=batch_size)
    warm_masks, names, cats = dissection.shapes_concepts(w)
    warm = w.x, warm_masks
    layers = ["block1_out", "features"] if quick else ["stem_relu", "block1_out", "block2_out", "features"]
    stream = dissection.shapes_concept_batches(d, batch_size)
    out = {"images": len(d), "concepts": len(names), "batch_size": batch_size, "layers": {}}
    for layer in layers:
        dissection.dissect_stream(clf, layer, [warm], names, cats)  # trace the compiled steps once
        dissection.dissect(clf, layer, warm[0], warm[1], names, cats, batch_size=batch_size)
        s_sec, s_mb, s_res = traced(lambda: dissection.dissect_stream(clf, layer, stream, names, cats))
        s_rss = peak_mb()

        def in_memory():
            masks = dissection.shapes_concepts(d)[0]
            return dissection.dissect(clf, layer, d.x, masks, names, cats, batch_size=batch_size)

        m_sec, m_mb, m_res = traced(in_memory)
        row = {"in_memory": {"seconds": round(m_sec, 2), "images_per_s": round(len(d) / m_sec, 1),
                             "peak_traced_mb": m_mb, "peak_rss_mb_after": peak_mb()},
               "stream": {"seconds": round(s_sec, 2), "images_per_s": round(len(d) / s_sec, 1),
                          "peak_traced_mb": s_mb, "peak_rss_mb_after": s_rss},
               "max_abs_iou_difference": float(np.abs(m_res.iou - s_res.iou).max())}
        out["layers"][layer] = row
        print(f"[dissection] {layer}: in memory {row['in_memory']['images_per_s']} img/s, {m_mb} MB traced; stream "
              f"{row['stream']['images_per_s']} img/s, {s_mb} MB traced; max |IoU diff| "
              f"{row['max_abs_iou_difference']:.1e}", flush=True)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="shapes model, 8 x 8 grids, one repeat")
    p.add_argument("--chunks", default="16,32,64", help="chunk sizes to time (comma-separated)")
    p.add_argument("--repeats", type=int, default=3, help="steady-state calls after the first (median)")
    p.add_argument("--part", choices=("all", "grid", "dissection"), default="all", help="what to time")
    p.add_argument("--out", default=None, help="JSON path (default results/pse.json, pse_quick.json)")
    a = p.parse_args()
    if a.part == "dissection":
        load_before = round(os.getloadavg()[0], 2)
        record = {"dissection": dissection_benchmark(a.quick), "quick": a.quick, "load_before": load_before,
                  "load_after": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(), "tensorflow": tf.__version__}
        return write(record, a)
    name, size, grids = ("shapes", 64, 8) if a.quick else ("resnet50", 221, 13)
    repeats = 1 if a.quick else a.repeats

    load_before = round(os.getloadavg()[0], 2)
    clf = models.load(name, weights=None if name == "resnet50" else "default")
    rng = np.random.default_rng(0)
    x = rng.random((1, size, size, 3), dtype=np.float32)
    x_adv = np.clip(x + (8 / 255) * np.sign(rng.standard_normal(x.shape)).astype(np.float32), 0, 1)
    y, t = 0, 1
    layout = pse.grid_layout(x.shape, grids)
    record = {"model": clf.name, "weights": clf.weights_source, "image": [size, size], "grids": layout.describe(),
              "rows_per_image": layout.m + 1, "peak_rss_mb_after_load": peak_mb()}
    print(f"{clf.name}, {size}x{size} image, {layout.rows}x{layout.cols} = {layout.m} grids", flush=True)

    batched, incremental, ref, diffs = {}, {}, None, []
    for chunk in (int(c) for c in a.chunks.split(",")):
        for method, table in (("full", batched), ("incremental", incremental)):
            first, steady, sens = timed(lambda c=chunk, m=method: pse.grid_sensitivity(
                clf, x, x_adv, [y], [t], grids=grids, chunk=c, method=m), repeats)
            calls = -(-(layout.m + 1) // chunk) if method == "full" else -(-layout.m // chunk)
            table[chunk] = {"first_s": round(first, 3), "steady_s": round(steady, 3), "calls": calls,
                            "peak_rss_mb": peak_mb()}
            print(f"[{method}] chunk {chunk}: {steady:.2f} s (first {first:.1f} s), peak RSS {peak_mb():.0f} MB",
                  flush=True)
            if ref is None:
                ref = sens
            else:
                diffs.append(max(np.abs(sens.change0 - ref.change0).max(), np.abs(sens.changet - ref.changet).max()))
    fwd, _ = pse.sensitivity._incremental(clf, layout, 3, 0.5, False, "incremental")
    record["incremental_plan"] = {"conv_macs_left_out": round(fwd.saving, 4), "max_fraction": 0.5,
                                  "windowed_conv_layers": sum(1 for n, k, _ in fwd.plan if k == "window" and
                                                              "conv" in n),
                                  "max_abs_change_diff_full_vs_incremental": float(max(diffs))}
    print(f"[incremental] leaves out {fwd.saving:.1%} of the conv multiply-adds; max |change difference| "
          f"between methods {max(diffs):.2e}", flush=True)

    keras_predict = lambda v: clf.model.predict(v, verbose=0)  # noqa: E731
    loops = {}
    for label, predict in (("keras_model_predict", keras_predict), ("clf_predict", clf.predict)):
        predict(x_adv)  # warm
        t0 = time.perf_counter()
        d0, dt = per_grid_loop(predict, x, x_adv, layout, y, t)
        loops[label] = {"seconds": round(time.perf_counter() - t0, 3), "calls": layout.m + 1,
                        "max_abs_diff_vs_batched": float(max(np.abs(d0 - ref.change0[0]).max(),
                                                             np.abs(dt - ref.changet[0]).max()))}
        print(f"[loop] {label}: {loops[label]['seconds']:.2f} s, max |difference| vs batched "
              f"{loops[label]['max_abs_diff_vs_batched']:.2e}", flush=True)

    sparse_adv = x_adv.copy()
    untouched = rng.permutation(layout.m)[: 2 * layout.m // 3]
    sparse_adv[0][np.isin(layout.ids(), untouched)] = x[0][np.isin(layout.ids(), untouched)]
    best = min(incremental, key=lambda c: incremental[c]["steady_s"])
    best_full = min(batched, key=lambda c: batched[c]["steady_s"])
    _, sparse_s, s_sens = timed(lambda: pse.grid_sensitivity(clf, x, sparse_adv, [y], [t], grids=grids, chunk=best),
                                repeats)
    sparse = {"perturbed_grids": int(s_sens.perturbed.sum()), "chunk": best, "steady_s": round(sparse_s, 3)}
    print(f"[sparse] {sparse['perturbed_grids']} of {layout.m} grids perturbed, chunk {best}: {sparse_s:.2f} s")

    fastest, fastest_full = incremental[best]["steady_s"], batched[best_full]["steady_s"]
    record.update({
        "batched": batched, "incremental": incremental, "loops": loops, "sparse": sparse, "best_chunk": best,
        "best_chunk_full": best_full,
        "speedup_vs_keras_predict_loop": round(loops["keras_model_predict"]["seconds"] / fastest, 2),
        "speedup_vs_clf_predict_loop": round(loops["clf_predict"]["seconds"] / fastest, 2),
        "full_speedup_vs_keras_predict_loop": round(loops["keras_model_predict"]["seconds"] / fastest_full, 2),
        "incremental_vs_full": round(fastest_full / fastest, 2),
        "quick": a.quick, "load_before": load_before, "load_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(), "tensorflow": tf.__version__, "keras": keras.__version__,
        "note": "2-core CPU shared with other agents' jobs during the run; see the load averages.",
    })
    print(f"speed-up of incremental chunk {best}: {record['speedup_vs_keras_predict_loop']}x vs the Keras predict "
          f"loop, {record['speedup_vs_clf_predict_loop']}x vs the clf.predict loop, "
          f"{record['incremental_vs_full']}x vs full chunk {best_full} "
          f"({record['full_speedup_vs_keras_predict_loop']}x vs the Keras loop); load {load_before} -> "
          f"{record['load_after']} on {os.cpu_count()} CPUs")
    if a.part == "all":
        record["dissection"] = dissection_benchmark(a.quick)
    write(record, a)


def write(record: dict, a) -> None:
    """Writes ``record``; a dissection-only run keeps the grid figures already in the file (and the reverse)."""
    out = Path(a.out or RESULTS / ("pse_quick.json" if a.quick else "pse.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(out.read_text()) if out.is_file() else {}
    if a.part == "dissection":
        record = {**old, "dissection": record["dissection"], "dissection_load": [record["load_before"],
                                                                                 record["load_after"]]}
    elif a.part == "grid" and "dissection" in old:
        record = {**record, "dissection": old["dissection"]}
    out.write_text(json.dumps(record, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
