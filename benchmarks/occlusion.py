"""Occlusion maps: ours (incremental inference, and every copy whole) against tf-explain, one run.

    python benchmarks/occlusion.py                      # resnet50 (random weights) + shapes
    python benchmarks/occlusion.py --models shapes --repeats 2

tf-explain's ``OcclusionSensitivity`` (0.3.1, needs ``pip install tf-explain``)
covers non-overlapping patches with grey (127.5 on 0-255 images) and sends
all covered copies of an image through one ``model.predict``; its map is
1 - the class probability per patch, resized to the image. The same
setting here: patch P, stride P, a grey baseline, probability scores, the
model given to tf-explain as ``Rescaling(1/255) + ours + softmax`` on the
image x 255. Agreement: our drops plus (1 - the clean probability)
against tf-explain's per-patch grid, read before its final cv2 resize
(replaced by the identity for the check).

Each of ours also with ``jit_compile=True`` (XLA) beside the default
(plain ``tf.function`` on a CPU). Then our default setting (stride P/2,
overlapping patches), incremental vs whole. Random weights are fine: this measures time and agreement, not
explanations. Writes benchmarks/results/occlusion.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _timing import timed  # noqa: E402

from keras_advinterp import interpret, models  # noqa: E402

SETTINGS = {  # model: (images, patch)
    "resnet50": (2, 16),
    "shapes": (8, 8),
}


def tf_explain_map(model255, image, cls, patch, batch):
    """tf-explain's per-patch grid (1 - probability) for one [0, 1] image, without its final resize."""
    from tf_explain.core import occlusion_sensitivity as tfx

    resize = tfx.cv2.resize
    tfx.cv2.resize = lambda grid, size: grid  # noqa: ARG005 -- read the grid itself
    try:
        return tfx.OcclusionSensitivity(batch_size=batch).get_sensitivity_map(model255, image * 255.0, cls, patch)
    finally:
        tfx.cv2.resize = resize


def bench(name: str, repeats: int, chunk: int) -> dict:
    keras.utils.disable_interactive_logging()  # tf-explain's model.predict prints a progress bar per image
    n, patch = SETTINGS[name]
    clf = models.load(name, weights=None if name == "resnet50" else "default")
    rng = np.random.default_rng(0)
    x = rng.random((n, *clf.input_shape), dtype=np.float32)
    cls = rng.integers(0, clf.num_classes, n).astype(np.int32)
    h, w = clf.input_shape[:2]
    row = {"model": name, "images": n, "image": [h, w], "patch": patch, "chunk": chunk}

    inp = keras.Input((h, w, 3))
    model255 = keras.Model(inp, keras.layers.Softmax()(clf.model(keras.layers.Rescaling(1 / 255)(inp))))
    first, steady, theirs = timed(lambda: np.stack([tf_explain_map(model255, x[i], int(cls[i]), patch, chunk)
                                                    for i in range(n)]), repeats)
    row["tf_explain"] = {"first_s": round(first, 3), "steady_s": round(steady, 3)}
    print(f"[{name}] tf-explain: {steady:.3f} s (first {first:.2f})", flush=True)

    p_clean = tf.nn.softmax(clf.predict(x), -1).numpy()[np.arange(n), cls]
    for method, jit in (("incremental", "auto"), ("full", "auto"), ("incremental", True), ("full", True)):
        occ = interpret.Occlusion(clf, patch=patch, stride=patch, baseline=0.5, method=method, chunk=chunk,
                                  jit_compile=jit)
        first, steady, drops = timed(lambda occ=occ: occ.drops(x, cls), repeats)
        diff = float(np.abs(drops + (1 - p_clean)[:, None, None] - theirs).max())
        key = f"ours_{method}" + ("_xla" if jit is True else "")
        row[key] = {"first_s": round(first, 3), "steady_s": round(steady, 3),
                    "max_abs_diff_vs_tf_explain": diff, "how": occ.how(x.shape[1:])}
        print(f"[{name}] {key}: {steady:.3f} s (first {first:.2f}), {occ.how(x.shape[1:])}; "
              f"max |diff| vs tf-explain {diff:.2e}", flush=True)
    row["patches_per_image"] = int(np.prod(theirs.shape[1:]))

    overlap = {}
    for method in ("incremental", "full"):
        occ = interpret.Occlusion(clf, patch=patch, method=method, chunk=chunk)  # stride patch / 2
        first, steady, maps = timed(lambda occ=occ: occ(x, cls), repeats)
        overlap[method] = {"first_s": round(first, 3), "steady_s": round(steady, 3), "maps": maps}
    overlap_diff = float(np.abs(overlap["incremental"].pop("maps") - overlap["full"].pop("maps")).max())
    row["overlapping"] = {**overlap, "stride": max(1, patch // 2), "patches_per_image": len(occ.boxes(h, w)),
                          "max_abs_map_diff": overlap_diff}
    print(f"[{name}] overlapping (stride {patch // 2}): incremental {overlap['incremental']['steady_s']:.3f} s, "
          f"full {overlap['full']['steady_s']:.3f} s, max map diff {overlap_diff:.1e}", flush=True)
    return row


def markdown(rows: list[dict], command: str) -> str:
    lines = ["# Occlusion maps: ours against tf-explain 0.3.1", "",
             f"{platform.machine()}, {os.cpu_count()} CPUs; TensorFlow {tf.__version__}. Steady seconds for all "
             "images (median of the calls after the first), first call in brackets. Same patches (stride = "
             "patch, grey), same model and images; tf-explain predicts all covered copies of an image in "
             "one `model.predict`.", "",
             "| model | images | patches per image | tf-explain s | ours, incremental s | ours, whole copies s | "
             "tf-explain / ours incremental | tf-explain / ours whole | max abs diff |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        t, inc, full = r["tf_explain"], r["ours_incremental"], r["ours_full"]
        lines.append(f"| {r['model']} ({r['image'][0]}x{r['image'][1]}, patch {r['patch']}) | {r['images']} | "
                     f"{r['patches_per_image']} | {t['steady_s']} ({t['first_s']}) | {inc['steady_s']} "
                     f"({inc['first_s']}) | {full['steady_s']} ({full['first_s']}) | "
                     f"{t['steady_s'] / inc['steady_s']:.2f}x | {t['steady_s'] / full['steady_s']:.2f}x | "
                     f"{max(inc['max_abs_diff_vs_tf_explain'], full['max_abs_diff_vs_tf_explain']):.1e} |")
    lines += ["", "XLA (`jit_compile=True`) against the default (`auto`: plain `tf.function` on a CPU), same runs:", "",
              "| model | incremental, XLA s | incremental, plain s | whole copies, XLA s | whole copies, plain s |",
              "|---|---|---|---|---|"]
    for r in rows:
        cells = [r[k] for k in ("ours_incremental_xla", "ours_incremental", "ours_full_xla", "ours_full")]
        lines.append(f"| {r['model']} | " + " | ".join(f"{c['steady_s']} ({c['first_s']})" for c in cells) + " |")
    lines += ["", "Our default, overlapping patches (stride = patch / 2; tf-explain has no stride):", "",
              "| model | patches per image | incremental s | whole copies s | whole / incremental | max map diff |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        o = r["overlapping"]
        lines.append(f"| {r['model']} | {o['patches_per_image']} | {o['incremental']['steady_s']} | "
                     f"{o['full']['steady_s']} | {o['full']['steady_s'] / o['incremental']['steady_s']:.2f}x | "
                     f"{o['max_abs_map_diff']:.1e} |")
    lines += ["", "ResNet50 has random weights here: its probabilities are near-uniform (about 1/1000), so its "
              "agreement figure says little; the trained shapes model is the check (drops up to 0.4), and "
              "tests/interpret/test_occlusion.py asserts it (`pytest -m peers`)."]
    lines += ["", "How each ran: " + "; ".join(f"{r['model']}: {r['ours_incremental']['how']}" for r in rows),
              "", f"Written by `{command}`."]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["resnet50", "shapes"], choices=sorted(SETTINGS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--chunk", type=int, default=64)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "occlusion.json"))
    args = p.parse_args()
    start = time.perf_counter()
    rows = [bench(name, args.repeats, args.chunk) for name in args.models]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/occlusion.py " + " ".join(
        f"--{k} {' '.join(v) if isinstance(v, list) else v}" for k, v in vars(args).items()
        if k != "out" and v != p.get_default(k)) + (f" --out {args.out}" if args.out != p.get_default("out") else "")
    out.write_text(json.dumps({"rows": rows, "seconds": round(time.perf_counter() - start, 1),
                               "tensorflow": tf.__version__}, indent=2))
    out.with_suffix(".md").write_text(markdown(rows, command.strip()))
    print(f"wrote {out} and {out.with_suffix('.md')} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
