"""Latency of an exported model's signatures, beside the Keras objects they were made from.

    python benchmarks/serving.py                    # shapes (embedded) and ResNet50 (random weights)
    python benchmarks/serving.py --models shapes    # no ResNet50
    python benchmarks/serving.py --quick            # shapes, few repeats: checks the script (< 1 min)

For each model, ``serving.export`` writes a SavedModel with the saliency
detector (Ye et al., theta 0.1, Grad-CAM) as its guard, and
``tf.saved_model.load`` reads it back. At batch 1 and 32 it times:

- ``serving_default`` (probabilities, top-5) against the Keras model called
  directly (``clf.compiled_forward()``, the package's compiled forward pass);
- ``explain`` (+ Grad-CAM map) against ``GradCAMXLA(clf)`` with the predicted
  classes (one compiled call);
- ``guarded`` (+ detector score and verdict) against the sum of its parts
  (``serving_default`` + ``explain`` + ``SaliencyDetector.scores``) and the
  detector alone. The issue's bar: guarded costs at most the sum of its
  parts;
- the same three signatures exported with ``jit_compile=True`` (``advinterp
  export --jit``: the numeric core XLA-compiled), as a ratio to the plain
  export, which is the default. It shares the detector's Grad-CAM map (one forward and partial
  backward pass), so it should cost about the detector alone.

Times are medians of interleaved rounds (``_timing.interleaved``): every
implementation runs once per round in rotating order, so load from other
processes hits all alike, and the share of the CPUs that other processes
used is recorded (figures taken while it is high are not comparable).
Signature inputs are tensors already (as a server holds them after parsing
a request); outputs are read back to NumPy. ResNet50 has random weights:
timings only. Writes benchmarks/results/serving.json and serving.md
(``--quick``: serving_quick.*).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _timing import Contention, interleaved  # noqa: E402

from keras_advinterp import data, defenses, interpret, models, serving  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def classifier(name: str):
    if name == "shapes":
        return models.load("shapes")
    return models.load(name, weights=None)


def inputs(clf, n: int, seed: int = 0) -> np.ndarray:
    if clf.name == "shapes":
        return np.asarray(data.load("shapes", "test", limit=n).x, np.float32)
    return np.random.default_rng(seed).random((n, *clf.input_shape), dtype=np.float32)


def bench_model(name: str, batches, repeats: int, workdir: Path) -> dict:
    clf = classifier(name)
    det = defenses.SaliencyDetector(clf, theta=0.1)
    with Contention() as c_export:
        exp = serving.export(clf, workdir, detector=det)
    xla_exp = serving.export(clf, workdir, detector=det, jit_compile=True)  # the --jit form, version 2
    loaded, loaded_xla = tf.saved_model.load(str(exp.path)), tf.saved_model.load(str(xla_exp.path))
    names = ("serving_default", "explain", "guarded")
    sig = {k: loaded.signatures[k] for k in names} | {f"{k}_xla": loaded_xla.signatures[k] for k in names}
    forward = clf.compiled_forward()
    gradcam = interpret.GradCAMXLA(clf)
    rows = []
    for n in batches:
        x = inputs(clf, n)
        xt = tf.constant(x)
        pred = clf.predict(x).argmax(1)
        det.batch_size = n  # one compiled call per batch

        def run(s):
            return lambda: {k: v.numpy() for k, v in sig[s](images=xt).items()}

        fns = {
            "serving_default": run("serving_default"),
            "keras_forward": lambda: forward(xt).numpy(),
            "explain": run("explain"),
            "keras_gradcam": lambda: gradcam(x, pred),
            "guarded": run("guarded"),
            "detector_scores": lambda: det.scores(x),
            **{f"{k}_xla": run(f"{k}_xla") for k in names},
        }

        def check(out):
            p = tf.nn.softmax(out["keras_forward"]).numpy()
            assert np.abs(out["serving_default"]["probabilities"] - p).max() < 1e-4
            assert np.abs(out["explain"]["map"] - out["keras_gradcam"]).max() < 1e-4
            assert np.array_equal(out["guarded"]["adversarial"], out["detector_scores"] > det.threshold)
            for k in names:
                assert np.abs(out[f"{k}_xla"]["probabilities"] - out[k]["probabilities"]).max() < 1e-4

        with Contention() as c:
            res = interleaved(fns, repeats, check)
        ms = {k: round(v["steady_s"] * 1000, 2) for k, v in res.items()}
        parts = ms["serving_default"] + ms["explain"] + ms["detector_scores"]
        rows.append({
            "batch": n, "ms": ms, "first_call_ms": {k: round(v["first_s"] * 1000, 1) for k, v in res.items()},
            "serving_over_keras": round(ms["serving_default"] / ms["keras_forward"], 2),
            "explain_over_keras": round(ms["explain"] / ms["keras_gradcam"], 2),
            "guarded_over_sum_of_parts": round(ms["guarded"] / parts, 2),
            "guarded_over_detector": round(ms["guarded"] / ms["detector_scores"], 2),
            "xla_over_plain": {k: round(ms[f"{k}_xla"] / ms[k], 2) for k in names},
            "contention": c.result,
        })
        print(f"{name} batch {n}: " + ", ".join(f"{k} {v} ms" for k, v in ms.items())
              + f"; guarded / sum of parts {rows[-1]['guarded_over_sum_of_parts']}", flush=True)
    return {"model": clf.describe(), "export_seconds": c_export.result["seconds"],
            "map_shared_with_detector": exp.metadata["map_shared_with_detector"], "rows": rows}


def markdown(results: dict) -> str:
    lines = ["# Serving latency (tf.saved_model.load) beside the Keras objects", "",
             f"{results['machine']}; TensorFlow {results['tensorflow']}; medians of {results['repeats']} "
             "interleaved rounds (ms per batch). `guarded/parts`: guarded over serving_default + explain + "
             "detector; the bar is <= 1.", "",
             "| model | batch | serving_default | Keras forward | explain | Keras Grad-CAM | guarded | detector "
             "alone | guarded/parts | XLA export / plain (default, explain, guarded) | other CPU share |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results["models"].items():
        for row in r["rows"]:
            m = row["ms"]
            lines.append(f"| {name} | {row['batch']} | {m['serving_default']} | {m['keras_forward']} | "
                         f"{m['explain']} | {m['keras_gradcam']} | {m['guarded']} | {m['detector_scores']} | "
                         f"{row['guarded_over_sum_of_parts']} | "
                         f"{', '.join(str(v) for v in row['xla_over_plain'].values())} | "
                         f"{row['contention']['other_cpu_share']:.0%} |")
    lines += ["", "ResNet50 has random weights (timings only). Written by `python benchmarks/serving.py`."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="shapes,resnet50")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    names = ["shapes"] if args.quick else [m.strip() for m in args.models.split(",") if m.strip()]
    repeats = 3 if args.quick else args.repeats
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "tensorflow": tf.__version__,
               "repeats": repeats, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            batches = (1, 4) if args.quick else (1, 32)
            results["models"][name] = bench_model(name, batches, repeats, Path(tmp))
    stem = "serving_quick" if args.quick else "serving"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=2))
    (RESULTS / f"{stem}.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
