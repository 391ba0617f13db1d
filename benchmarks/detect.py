"""Our detectors' speed: feature squeezing against ART 1.20, the saliency detector in forward passes.

    python benchmarks/detect.py                  # squeezers, shapes (batch 64), resnet50 (random weights, batch 8)
    python benchmarks/detect.py --models shapes  # no ResNet50
    python benchmarks/detect.py --quick          # tiny sizes, shapes batch 8: checks the script (< 1 min)

Needs ART (the peers extra, ``pip install -e ".[peers]"``) and OpenCV.

1. Squeezers. Our ``BitDepth(5)`` against ART's
   ``FeatureSqueezing(clip_values=(0, 1), bit_depth=5)`` and our ``Median(2)``
   against ART's ``SpatialSmoothing(window_size=2)`` (scipy's median filter),
   on the same random batches (64 images at 64x64, 16 at 224x224). Ours runs
   three ways: called on a NumPy array as a user calls it (eager TensorFlow,
   NumPy back), inside a ``tf.function``, and inside an XLA-compiled one
   (tensor in, NumPy out, as ``FeatureSqueezing.scores`` runs it). Every
   output must equal ART's exactly (as float32) before any timing.
2. The feature-squeezing detector. ``FeatureSqueezing(clf, squeezers).scores(x)``
   (one compiled call: the squeezers and one forward pass over the original
   and every squeezed batch stacked) against an ART-style pipeline: ART's
   squeezers on the host, one ``clf.predict`` per batch (ours, compiled) or
   ART's ``TensorFlowV2Classifier.predict``, and the L1 distances of the
   softmaxes in NumPy; with bit depth 5 + median 2x2, and with non-local
   means 11-3-4 added (ART has none: both sides run the same OpenCV call,
   our ``NonLocalMeans.numpy_call``). The scores must agree (max |diff| is
   reported).
3. The subject-emphasis detector. ``SaliencyDetector(clf, theta=0.1).scores(x)``
   in forward-pass equivalents: its time over one compiled forward pass
   (``clf.compiled_forward()``, NumPy in and out) on the same batch. The
   paper's scheme is forward, Grad-CAM, forward on the emphasis image; ours
   takes the logits and the Grad-CAM map from one forward pass with a
   partial backward pass, then one more forward pass. Also shown: the map
   with its logits alone, the scheme as three separate calls (predict,
   ``GradCAMXLA``, predict; scores checked equal), and ``sweep_scores`` over
   6 thetas (one map, 6 forward passes) per theta.

Each implementation's first call (tracing and compilation included; the
model's forward pass already compiled) is reported apart from its steady time,
the median of ``--repeats`` rounds in which every implementation compared
(and, in parts 2 and 3, the forward pass they are divided by) runs once in
turn, so that other jobs' load changes hit all of them alike. Our detectors run with
``batch_size`` = the batch, so one batch is one compiled call, and default
``jit_compile`` (``auto``: plain ``tf.function`` on a CPU). The share of the
CPUs used by other processes during each part is measured from /proc/stat
and written with the results: figures taken while it is high are not
comparable. Writes benchmarks/results/detect.json and detect.md
(``--quick``: detect_quick.*, so a check never overwrites real figures).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import _peers  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _timing import Contention, interleaved  # noqa: E402

from keras_advinterp import data, interpret, models  # noqa: E402
from keras_advinterp._compile import resolve_jit  # noqa: E402
from keras_advinterp.defenses import BitDepth, FeatureSqueezing, Median, NonLocalMeans, SaliencyDetector  # noqa: E402

RESULTS = Path(__file__).parent / "results"
BATCH = {"shapes": 64, "resnet50": 8}
SQUEEZER_SIZES = [(64, 64), (16, 224)]  # (images, side)
THETAS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
NLM = "non_local_means_11_3_4"






def softmax(logits) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _versions() -> dict:
    out = {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
           "numpy": np.__version__}
    for dist in ("adversarial-robustness-toolbox", "scipy", "opencv-python-headless", "opencv-python",
                 "keras-advinterp"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    except OSError:
        return "?"


# -- 1. squeezers ---------------------------------------------------------------
def squeezer_rows(sizes, repeats: int) -> list[dict]:
    from art.defences.preprocessor import FeatureSqueezing as ArtBitDepth
    from art.defences.preprocessor import SpatialSmoothing

    rng = np.random.default_rng(0)
    rows = []
    for n, side in sizes:
        x = rng.random((n, side, side, 3), dtype=np.float32)
        pairs = [
            ("bit_depth_5", BitDepth(5), "FeatureSqueezing(clip_values=(0,1), bit_depth=5)",
             ArtBitDepth(clip_values=(0.0, 1.0), bit_depth=5)),
            ("median_2x2", Median(2), "SpatialSmoothing(window_size=2)", SpatialSmoothing(window_size=2)),
        ]
        for name, ours, art_name, art in pairs:
            plain = tf.function(ours.tf_call)  # fresh functions: their first calls include tracing
            xla = tf.function(ours.tf_call, jit_compile=True)
            art_impl = f"ART {art_name}"
            impls = {
                art_impl: lambda: np.asarray(art(x)[0]),
                "ours, called on NumPy (eager TF)": lambda: ours(x),
                "ours, tf.function": lambda: plain(tf.constant(x)).numpy(),
                "ours, tf.function XLA": lambda: xla(tf.constant(x)).numpy(),
            }

            def identical(outs):
                reference = np.asarray(outs[art_impl]).astype(np.float32)
                for impl, out in outs.items():
                    out = np.asarray(out)
                    if out.shape != reference.shape or not np.array_equal(out.astype(np.float32), reference):
                        diff = float(np.abs(out.astype(np.float32) - reference).max())
                        raise AssertionError(f"{name} {n}x{side}: {impl} differs from ART (max |diff| {diff:.3g})")

            measured = interleaved(impls, repeats, check=identical)
            art_s = measured[art_impl]["steady_s"]
            for impl, m in measured.items():
                rows.append({"images": n, "side": side, "squeezer": name, "impl": impl,
                             "first_call_s": round(m["first_s"], 5), "steady_s": round(m["steady_s"], 5),
                             "min_s": round(m["min_s"], 5), "art_over_this": round(art_s / m["steady_s"], 2),
                             "identical_to_art": True})
                print(f"  {n:>3} x {side:>3}  {name:<12} {impl:<55} first {m['first_s']:8.4f} s  "
                      f"steady {m['steady_s']:8.4f} s  ART/this {art_s / m['steady_s']:6.2f}", flush=True)
        # Context for the detector rows: ART has no non-local means, so this host cost is the same on both sides.
        nlm = NonLocalMeans(11, 3, 4)
        m = interleaved({"nlm": lambda: nlm(x)}, repeats)["nlm"]
        rows.append({"images": n, "side": side, "squeezer": NLM, "impl": "ours (OpenCV on the host; ART has none)",
                     "first_call_s": round(m["first_s"], 5), "steady_s": round(m["steady_s"], 5),
                     "min_s": round(m["min_s"], 5), "art_over_this": None, "identical_to_art": None})
        print(f"  {n:>3} x {side:>3}  {NLM:<12} {rows[-1]['impl']:<55} first {m['first_s']:8.4f} s  "
              f"steady {m['steady_s']:8.4f} s", flush=True)
    return rows


# -- models -------------------------------------------------------------------
def inputs(name: str, batch: int):
    """Shapes: test images; ResNet50: random weights and random images (timing only)."""
    if name in models.EMBEDDED:
        clf = models.load(name)
        return clf, data.load(name, "test", limit=batch).x.astype(np.float32)
    clf = models.load(name, weights=None)
    return clf, np.random.default_rng(0).random((batch, *clf.input_shape), dtype=np.float32)


def forward_fn(clf, x):
    """One compiled forward pass on the batch, NumPy in and out (compiled here, before any first call is timed)."""
    fwd = clf.compiled_forward()
    fwd(tf.constant(x))
    clf.predict(x, batch_size=len(x))
    return lambda: fwd(tf.constant(x)).numpy()


FORWARD = "one compiled forward pass (clf.compiled_forward())"


# -- 2. the feature-squeezing detector -------------------------------------------
def art_style_scores(x, squeezers, predict) -> np.ndarray:
    """Xu et al.'s joint score the ART way: squeeze on the host, one prediction per batch, L1 in NumPy."""
    p0 = softmax(predict(x))
    return np.max([np.abs(softmax(predict(sq(x))) - p0).sum(axis=1) for sq in squeezers], axis=0)


def feature_squeezing_rows(name, clf, x, forward, repeats: int) -> list[dict]:
    from art.defences.preprocessor import FeatureSqueezing as ArtBitDepth
    from art.defences.preprocessor import SpatialSmoothing

    n = len(x)
    art_clf = _peers.art_classifier(clf)
    art_bits, art_median = ArtBitDepth(clip_values=(0.0, 1.0), bit_depth=5), SpatialSmoothing(window_size=2)
    art_sq = {"bit_depth_5": lambda a: art_bits(a)[0], "median_2x2": lambda a: art_median(a)[0],
              NLM: NonLocalMeans(11, 3, 4).numpy_call}  # ART has no non-local means: the same OpenCV call
    predictors = {"ART squeezers + clf.predict + NumPy L1": lambda a: clf.predict(a, batch_size=n),
                  "ART squeezers + ART TensorFlowV2Classifier.predict + NumPy L1":
                      lambda a: art_clf.predict(a, batch_size=n)}
    ours_impl = "ours FeatureSqueezing.scores"
    rows = []
    for specs in (("bit_depth_5", "median_2x2"), ("bit_depth_5", "median_2x2", NLM)):
        det = FeatureSqueezing(clf, specs, batch_size=n)
        fns = {FORWARD: forward, ours_impl: lambda: det.scores(x)}
        for label, predict in predictors.items():
            fns[label] = lambda predict=predict: art_style_scores(x, [art_sq[s] for s in specs], predict)
        diffs = {}

        def agree(outs):
            for impl, out in outs.items():
                if impl != FORWARD:
                    diffs[impl] = float(np.abs(np.asarray(out, np.float64) - outs[ours_impl]).max())
                    if diffs[impl] > 1e-3:
                        raise AssertionError(f"{name} {specs}: {impl} scores differ from ours by {diffs[impl]:.3g}")

        measured = interleaved(fns, repeats, check=agree)
        fwd_s, ours_s = measured[FORWARD]["steady_s"], measured[ours_impl]["steady_s"]
        base = {"model": name, "batch": n, "squeezers": "+".join(specs), "forward_s": round(fwd_s, 4)}
        for impl, m in measured.items():
            if impl == FORWARD:
                continue
            f, st = m["first_s"], m["steady_s"]
            rows.append({**base, "impl": impl, "first_call_s": round(f, 4), "steady_s": round(st, 4),
                         "min_s": round(m["min_s"], 4), "forward_equivalents": round(st / fwd_s, 2),
                         "this_over_ours": round(st / ours_s, 2), "max_abs_score_diff": diffs[impl]})
            print(f"  {name:<9}{n:>4}  {base['squeezers']:<45} {impl:<62} first {f:7.3f} s  steady {st:7.3f} s  "
                  f"{st / fwd_s:5.2f} fwd ({fwd_s:.3f} s)  x ours {st / ours_s:5.2f}", flush=True)
    return rows


# -- 3. the subject-emphasis detector ----------------------------------------------
def saliency_rows(name, clf, x, forward, repeats: int) -> list[dict]:
    n = len(x)
    det = SaliencyDetector(clf, theta=0.1, batch_size=n)
    maps_fn = tf.function(det.interpreter.maps_and_logits, jit_compile=resolve_jit(det.jit_compile, clf))
    gradcam = interpret.GradCAMXLA(clf, batch_size=n)

    def three_calls():
        label = clf.predict(x, batch_size=n).argmax(axis=1)
        maps = gradcam(x, label)
        p = softmax(clf.predict(np.clip(x + np.float32(0.1) * maps[..., None], 0.0, 1.0), batch_size=n))
        own = p[np.arange(n), label]
        p[np.arange(n), label] = -1.0
        return p.max(axis=1) - own

    scores_impl = "SaliencyDetector(theta=0.1).scores"
    three_impl = "the paper's scheme as 3 calls: predict, GradCAMXLA, predict"
    sweep_impl = f"sweep_scores, {len(THETAS)} thetas (per call)"
    fns = {FORWARD: forward,
           "clf.predict (the same, through map_batches)": lambda: clf.predict(x, batch_size=n),
           scores_impl: lambda: det.scores(x),
           "its Grad-CAM map + logits alone (one compiled call)": lambda: [t.numpy() for t in maps_fn(tf.constant(x))],
           three_impl: three_calls,
           sweep_impl: lambda: det.sweep_scores(x, THETAS)}
    diffs = {}

    def agree(outs):
        diffs[three_impl] = float(np.abs(outs[three_impl] - outs[scores_impl]).max())
        diffs[sweep_impl] = float(np.abs(outs[sweep_impl][:, THETAS.index(0.1)] - outs[scores_impl]).max())
        for impl, diff in diffs.items():
            if diff > 1e-3:
                raise AssertionError(f"{name}: {impl} scores differ from SaliencyDetector.scores by {diff:.3g}")

    measured = interleaved(fns, repeats, check=agree)
    fwd_s = measured[FORWARD]["steady_s"]
    rows = []
    for what, m in measured.items():
        warm = what in (FORWARD, "clf.predict (the same, through map_batches)")  # compiled before the run
        rows.append({"model": name, "batch": n, "what": what, "first_call_s": None if warm else round(m["first_s"], 3),
                     "steady_s": round(m["steady_s"], 4), "min_s": round(m["min_s"], 4),
                     "forward_equivalents": round(m["steady_s"] / fwd_s, 2), "max_abs_score_diff": diffs.get(what)})
    sweep_s = measured[sweep_impl]["steady_s"]
    rows.append({"model": name, "batch": n, "what": "sweep_scores, per theta", "first_call_s": None,
                 "steady_s": round(sweep_s / len(THETAS), 4), "min_s": None,
                 "forward_equivalents": round(sweep_s / len(THETAS) / fwd_s, 2), "max_abs_score_diff": None})
    for r in rows:
        first = "-" if r["first_call_s"] is None else f"{r['first_call_s']:.3f}"
        print(f"  {name:<9}{n:>4}  {r['what']:<62} first {first:>7} s  steady {r['steady_s']:7.4f} s  "
              f"{r['forward_equivalents']:5.2f} fwd", flush=True)
    return rows


# -- output ---------------------------------------------------------------------
def _table(header, rows) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(str(c) for c in r) + " |" for r in rows)]


def _s(v, digits=4):
    return "-" if v is None else f"{v:.{digits}f}"


def markdown(result: dict) -> str:
    env = result["environment"]
    lines = ["# Detector timings (`benchmarks/detect.py`)", "",
             f"Command: `{result['command']}`. " + ("**Quick run (tiny sizes): not for claims.** " if result["quick"]
                                                    else ""),
             f"Steady = median of {result['repeats']} rounds after the first calls, every implementation of a group "
             "called once per round (interleaved); first call (tracing and compilation) apart. Seconds per batch.",
             "",
             f"Environment: {env['nproc']} CPUs (`nproc`; {env['cpu_model']}), "
             + ", ".join(f"{k} {v}" for k, v in env["versions"].items()) + ".", ""]
    busy = [f"{part} {c['other_cpu_share']:.0%} (load {c['load_before']} -> {c['load_after']}, {c['seconds']} s)"
            for part, c in result["contention"].items()]
    lines += ["Share of the CPUs used by other processes during each part: " + "; ".join(busy) + "."]
    worst = max((c["other_cpu_share"] for c in result["contention"].values()), default=0.0)
    if worst > 0.15:
        lines += ["", f"**Other jobs shared the CPU** (up to {worst:.0%} of it during a part): absolute seconds are "
                  "inflated and noisier than on an idle machine; ratios measured in the same part are less affected."]
    lines += ["", "## 1. Squeezers vs ART (outputs identical before timing)", ""]
    lines += _table(["images", "squeezer", "implementation", "first s", "steady s", "ART / this"],
                    [(f"{r['images']} x {r['side']}x{r['side']}", r["squeezer"], r["impl"], _s(r["first_call_s"]),
                      _s(r["steady_s"]), "n/a" if r["art_over_this"] is None else f"{r['art_over_this']:.2f}")
                     for r in result["squeezers"]])
    lines += ["", "## 2. Feature-squeezing detector vs an ART-style pipeline (scores checked equal)", ""]
    lines += _table(["model", "batch", "squeezers", "implementation", "first s", "steady s", "forward s",
                     "forward passes", "this / ours", "max abs score diff"],
                    [(r["model"], r["batch"], r["squeezers"], r["impl"], _s(r["first_call_s"], 3),
                      _s(r["steady_s"]), _s(r["forward_s"]), f"{r['forward_equivalents']:.2f}",
                      f"{r['this_over_ours']:.2f}", f"{r['max_abs_score_diff']:.1e}")
                     for r in result["feature_squeezing"]])
    lines += ["", "## 3. Subject-emphasis (saliency) detector in forward-pass equivalents", ""]
    lines += _table(["model", "batch", "what", "first s", "steady s", "forward passes"],
                    [(r["model"], r["batch"], r["what"], _s(r["first_call_s"], 3), _s(r["steady_s"]),
                      f"{r['forward_equivalents']:.2f}") for r in result["saliency"]])
    lines += ["", "## What was measured", "", result["method"], ""]
    return "\n".join(lines)


METHOD = (
    "Squeezers: ours (`BitDepth(5)`, `Median(2)`) and ART 1.20's `FeatureSqueezing(clip_values=(0,1), bit_depth=5)` "
    "and `SpatialSmoothing(window_size=2)` on the same random float32 batches; each output equals ART's exactly "
    "(as float32) before it is timed. Ours is timed as a user calls it on a NumPy array (eager TensorFlow, "
    "NumPy back) and compiled (`tf.function`, plain and XLA; a tensor in, NumPy out), the form it takes inside "
    "`FeatureSqueezing.scores`. Detector: `FeatureSqueezing(clf, squeezers, batch_size=N).scores(x)` (one compiled "
    "call: squeezers, one forward pass over the original and squeezed batches stacked, softmax L1) against ART's "
    "squeezers on the host + one prediction per batch (our compiled `clf.predict`, or ART's "
    "`TensorFlowV2Classifier.predict`) + NumPy softmax L1; ART has no non-local means, so both sides run the same "
    "OpenCV call for it (that shared host cost narrows the ratio). \"forward passes\" divides by one compiled "
    "forward pass (`clf.compiled_forward()`, NumPy in and out) on the same batch. Saliency detector: "
    "`SaliencyDetector(clf, theta=0.1, batch_size=N).scores(x)` over that forward pass; the paper's scheme is about "
    "three forward-pass equivalents (forward, Grad-CAM, forward on the emphasis image); ours takes the label and the "
    "Grad-CAM map from one forward pass and a backward pass to the feature layer, then one forward pass on the "
    "emphasis image, in one compiled call. The three-call version and `sweep_scores` (one map, one forward pass per "
    "theta) are checked to give the same scores. ResNet50 has random weights (timing only); shapes is the embedded "
    "model on its test images. `jit_compile` is the default (`auto`: plain `tf.function` on a CPU). Each group "
    "(one squeezer at one size; one detector setting with its ART-style pipelines and the forward pass; the "
    "saliency rows of one model) runs its first calls, checks the outputs, then times rounds in which each of its "
    "functions runs once, in rotating order: ratios come from medians over the same rounds.")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes (squeezers 8 x 32x32, shapes batch 8), no ResNet50")
    p.add_argument("--models", nargs="*", default=list(BATCH), choices=list(BATCH), help="models for parts 2 and 3")
    p.add_argument("--repeats", type=int, default=None,
                   help="steady-state rounds after the first calls (default 7; quick 2)")
    p.add_argument("--out", default=None, help="JSON path (default results/detect.json; quick: detect_quick.json)")
    a = p.parse_args()
    _peers.require("art")
    repeats = a.repeats or (2 if a.quick else 7)
    sizes = [(8, 32)] if a.quick else SQUEEZER_SIZES
    plan = {"shapes": 8} if a.quick else {m: BATCH[m] for m in a.models}
    command = "python benchmarks/detect.py" + (" --quick" if a.quick else "") + \
        ("" if a.models == list(BATCH) or a.quick else " --models " + " ".join(a.models)) + \
        ("" if a.repeats is None else f" --repeats {a.repeats}")
    env = {"nproc": os.cpu_count(), "cpu_model": _cpu_model(), "versions": _versions()}
    print(f"[environment] {env}", flush=True)

    contention = {}
    print("\n[1. squeezers vs ART]", flush=True)
    with Contention() as c:
        squeezers = squeezer_rows(sizes, repeats)
    contention["squeezers"] = c.result
    fs_rows, sal_rows = [], []
    for name, batch in plan.items():
        print(f"\n[{name}, batch {batch}]", flush=True)
        with Contention() as c:
            clf, x = inputs(name, batch)
            forward = forward_fn(clf, x)
            fs_rows += feature_squeezing_rows(name, clf, x, forward, repeats)
            sal_rows += saliency_rows(name, clf, x, forward, repeats)
        contention[name] = c.result
        print(f"  other processes used {c.result['other_cpu_share']:.0%} of the CPUs "
              f"(load {c.result['load_before']} -> {c.result['load_after']})", flush=True)

    result = {"command": command, "quick": a.quick, "repeats": repeats, "environment": env,
              "contention": contention, "squeezers": squeezers, "feature_squeezing": fs_rows, "saliency": sal_rows,
              "method": METHOD}
    out = Path(a.out or RESULTS / ("detect_quick.json" if a.quick else "detect.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    text = markdown(result)
    out.with_suffix(".md").write_text(text)
    print("\n" + text)
    print(f"wrote {out} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
