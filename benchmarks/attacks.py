"""Our attacks against ART, Foolbox 3 and CleverHans 4: same inputs, same settings.

    python benchmarks/attacks.py                  # shapes (batch 32) + resnet50 (random weights, batch 8)
    python benchmarks/attacks.py --skip-resnet    # shapes only, full settings and cost curve
    python benchmarks/attacks.py --quick          # shapes only, tiny steps: checks the script (< 2 min)

Needs the peers extra (``pip install -e ".[peers]"``). For each model it runs
PGD-10 (Linf 8/255, unrolled and while loop), C&W-L2 with a fixed budget (10
steps, 1 binary-search step, c = 1, step 0.05, no early abort) and DeepFool
(10 steps), ours and each peer's version on the same images (``_peers.py``
maps the settings), calling every implementation twice: the first call
(compilation or tracing included) is reported apart from the steady-state
call, and ours must not retrace on the second call (asserted through the
tracing counts of the classifier's cached compiled functions). The floor is
the gradient evaluations an attack needs times one compiled
loss+input-gradient step called alone (PGD: steps; C&W: steps x
binary-search steps; DeepFool: the iterations ours ran x (candidates - 1)
gradients). CleverHans 4 has no working TF2 C&W (cleverhans#1205) and no TF2
DeepFool. Then a cost curve of our PGD (while loop) on shapes over batch
1..32 and steps 10..100 with a least-squares fit
``t = a + b*steps + c*batch*steps``.

Writes benchmarks/results/attacks.json, attacks.png and attacks_cost.png
(``--quick``: attacks_quick.*, so a check never overwrites real figures).
ResNet50 uses random weights: this measures time; the success rates only
show that every implementation attacked the same thing. Peers on ResNet50
are slow (ART's DeepFool and C&W compute class gradients eagerly, one
tape per label): expect an hour or more on 2 cores.
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

import _peers  # noqa: E402
from _timing import median_seconds  # noqa: E402
from keras_advinterp import data, models  # noqa: E402
from keras_advinterp.attacks import PGD  # noqa: E402
from keras_advinterp._compile import tracing_count  # noqa: E402
from keras_advinterp.attacks.base import loss_gradient  # noqa: E402
from keras_advinterp.attacks.deepfool import DeepFool  # noqa: E402
from keras_advinterp.attacks.optimization import CarliniWagnerL2  # noqa: E402

RESULTS = Path(__file__).parent / "results"
BATCH = {"shapes": 32, "resnet50": 8}


def suite(steps: int) -> dict:
    """The attacks compared, with one budget for every implementation."""
    return {
        f"pgd{steps}_unroll": PGD(eps=8 / 255, steps=steps, loop="unroll"),
        f"pgd{steps}_while": PGD(eps=8 / 255, steps=steps, loop="while"),
        "cw_l2": CarliniWagnerL2(steps=steps, binary_search_steps=1, initial_const=1.0, learning_rate=0.05,
                                 abort_early=False),
        "deepfool": DeepFool(steps=steps),
    }


def inputs(name: str, batch: int):
    """Shapes: correctly classified test images; others: random images labelled by the model."""
    clf = models.load(name, weights="embedded" if name in models.EMBEDDED else None)
    if name in models.EMBEDDED:
        d = data.load(name, "test", limit=4 * batch)
        keep = clf.predict(d.x).argmax(1) == d.y
        return clf, d.x[keep][:batch], d.y[keep][:batch].astype(np.int32)
    x = np.random.default_rng(0).random((batch, *clf.input_shape), dtype=np.float32)
    return clf, x, clf.predict(x).argmax(1).astype(np.int32)


def tracing_counts(clf) -> dict:
    """Tracing count of every compiled function the classifier caches (and those they close over)."""
    return {str(key): tracing_count(fn) for key, fn in clf._compiled.items()}


def timed(fn, repeats: int):
    """(first-call seconds, steady seconds (median of ``repeats`` more calls), last output)."""
    out = []
    t = time.perf_counter()
    out.append(fn())
    first = time.perf_counter() - t
    steady = median_seconds(lambda: out.append(fn()), repeats, warm=False)
    return first, steady, out[-1]


def evaluate(clf, x, y, x_adv) -> dict:
    success = clf.predict(x_adv).argmax(1) != y
    l2 = np.sqrt(((x_adv - x) ** 2).reshape(len(x), -1).sum(1))
    return {"success_rate": round(float(success.mean()), 4),
            "median_l2": round(float(np.median(l2[success])), 4) if success.any() else None}


def floor_step(clf, x, y, repeats: int) -> float:
    @tf.function(jit_compile=True)
    def step(a, b):
        return loss_gradient(clf, a, b, False)

    xt, yt = tf.constant(x), tf.constant(y)
    return median_seconds(lambda: step(xt, yt).numpy(), repeats)


def bench_model(name: str, steps: int, repeats: int, batch: int, peers: list[str], only: list[str]) -> list[dict]:
    clf, x, y = inputs(name, batch)
    one_step = floor_step(clf, x, y, repeats)
    print(f"[{name}] batch {len(x)}, one loss+gradient step {one_step:.4f} s", flush=True)
    rows = []
    for attack_name, attack in suite(steps).items():
        if not any(attack_name.startswith(o) for o in only):
            continue
        before = {}

        def ours():
            before.update(tracing_counts(clf))
            return attack(clf, x, y, batch_size=len(x))

        first, steady, result = timed(ours, repeats)
        retraced = {k: v for k, v in tracing_counts(clf).items() if before.get(k) != v}
        assert not retraced, f"{attack_name}: the second call retraced {retraced}"
        p = attack.params()
        if isinstance(attack, DeepFool):
            grads = int(result.iterations.max()) * (min(p["candidates"], clf.num_classes) - 1)
        else:
            grads = p["steps"] * p.get("binary_search_steps", 1)
        base = {"model": name, "batch": len(x), "attack": attack_name, "params": p,
                "floor_s": round(grads * one_step, 4)}
        rows.append({**base, "impl": "ours", "first_call_s": round(first, 3), "steady_s": round(steady, 4),
                     **evaluate(clf, x, y, result.x_adv)})
        print(f"  {attack_name:<14} ours       first {first:8.2f} s  steady {steady:8.3f} s", flush=True)
        for peer in peers:
            if not _peers.supports(peer, attack) or attack_name.endswith("_while"):
                continue  # the loop form is ours alone: peers already ran this PGD
            run = _peers.build(peer, attack, clf, batch_size=len(x))
            keras.utils.set_random_seed(0)
            first, steady, x_adv = timed(lambda: run(x, y), repeats)
            rows.append({**base, "impl": peer, "first_call_s": round(first, 3), "steady_s": round(steady, 4),
                         **evaluate(clf, x, y, x_adv)})
            print(f"  {attack_name:<14} {peer:<10} first {first:8.2f} s  steady {steady:8.3f} s", flush=True)
    ours_s = {r["attack"]: r["steady_s"] for r in rows if r["impl"] == "ours"}
    for r in rows:
        r["vs_ours"] = round(r["steady_s"] / ours_s[r["attack"]], 3)
        if r["attack"].endswith("_while") or r["attack"].endswith("_unroll"):  # peers vs our default form
            r["vs_ours"] = round(r["steady_s"] / ours_s[r["attack"].rsplit("_", 1)[0] + "_unroll"], 3)
        r["vs_floor"] = round(r["steady_s"] / r["floor_s"], 3)
    return rows


def cost_curve(batches, steps_list, repeats: int) -> dict:
    """Steady time of our PGD (default loop form) on shapes over batch x steps, with a linear fit.

    Also times the longest setting with ``loop="while"``, the form the
    default (``auto``: unrolled up to 20 steps, chunks of 10 beyond) replaces.
    """
    clf = models.load("shapes")
    d = data.load("shapes", "test", limit=max(batches))
    points = []
    for batch in batches:
        x, y = d.x[:batch], d.y[:batch]
        for steps in steps_list:
            attack = PGD(eps=8 / 255, steps=steps)
            first, steady, _ = timed(lambda: attack(clf, x, y, batch_size=batch), repeats)
            points.append({"batch": batch, "steps": steps, "first_call_s": round(first, 3),
                           "steady_s": round(steady, 4)})
            print(f"  cost batch {batch:>3} steps {steps:>4}: {steady:.3f} s (first {first:.1f} s)", flush=True)
    b = np.array([p["batch"] for p in points], float)
    s = np.array([p["steps"] for p in points], float)
    t = np.array([p["steady_s"] for p in points])
    design = np.stack([np.ones_like(s), s, b * s], axis=1)
    coef, *_ = np.linalg.lstsq(design, t, rcond=None)
    fitted = design @ coef
    r2 = 1 - ((t - fitted) ** 2).sum() / max(((t - t.mean()) ** 2).sum(), 1e-12)
    fit = {"formula": "t = a + b*steps + c*batch*steps", "a_s": float(coef[0]), "b_s_per_step": float(coef[1]),
           "c_s_per_image_step": float(coef[2]), "r2": float(r2)}
    print(f"  fit: t = {coef[0]:.4f} + {coef[1]:.2e}*steps + {coef[2]:.2e}*batch*steps   R^2 = {r2:.4f}")
    batch, steps = max(batches), max(steps_list)
    x, y = d.x[:batch], d.y[:batch]
    attack = PGD(eps=8 / 255, steps=steps, loop="while")
    _, steady_while, _ = timed(lambda: attack(clf, x, y, batch_size=batch), repeats)
    auto = [p["steady_s"] for p in points if p["batch"] == batch and p["steps"] == steps][0]
    print(f"  batch {batch}, {steps} steps: while loop {steady_while:.3f} s vs auto {auto:.3f} s "
          f"({steady_while / auto:.2f}x)")
    return {"model": "shapes", "attack": "pgd linf 8/255, loop auto (unrolled <= 20 steps, chunks of 10 beyond)",
            "points": points, "fit": fit,
            "while_loop": {"batch": batch, "steps": steps, "steady_s": round(steady_while, 4),
                           "vs_auto": round(steady_while / auto, 3)}}


def print_table(rows):
    print(f"\n{'model':<9}{'batch':>6} {'attack':<14}{'impl':<11}{'first s':>9}{'steady s':>10}{'x ours':>8}"
          f"{'floor s':>9}{'x floor':>8}{'success':>9}{'med L2':>8}")
    for r in rows:
        l2 = f"{r['median_l2']:.3f}" if r["median_l2"] is not None else "-"
        print(f"{r['model']:<9}{r['batch']:>6} {r['attack']:<14}{r['impl']:<11}{r['first_call_s']:>9.2f}"
              f"{r['steady_s']:>10.3f}{r['vs_ours']:>8.2f}{r['floor_s']:>9.3f}{r['vs_floor']:>8.2f}"
              f"{r['success_rate']:>9.2f}{l2:>8}")


def plot(rows, curve, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys((r["model"], r["attack"]) for r in rows))
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(groups)), 3.6))
    width = 0.8 / (len(impls) + 1)
    for j, impl in enumerate(impls + ["floor"]):
        heights = []
        for g in groups:
            match = [r for r in rows if (r["model"], r["attack"]) == g and r["impl"] in (impl, "ours")]
            value = {r["impl"]: r["steady_s"] for r in match}.get(impl)
            heights.append(match[0]["floor_s"] if impl == "floor" else (value if value is not None else np.nan))
        ax.bar(np.arange(len(groups)) + (j - len(impls) / 2) * width, heights, width, label=impl,
               color="lightgray" if impl == "floor" else None, edgecolor="gray" if impl == "floor" else None)
    ax.set_xticks(np.arange(len(groups)))
    ax.set_xticklabels([f"{m}\n{a}" for m, a in groups], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("steady seconds per batch (log)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    fit = curve["fit"]
    for batch in sorted({p["batch"] for p in curve["points"]}):
        pts = [p for p in curve["points"] if p["batch"] == batch]
        s = np.array([p["steps"] for p in pts])
        line = ax.plot(s, [p["steady_s"] for p in pts], "o", label=f"batch {batch}")[0]
        ax.plot(s, fit["a_s"] + fit["b_s_per_step"] * s + fit["c_s_per_image_step"] * batch * s, "--",
                color=line.get_color())
    ax.set_xlabel("PGD steps")
    ax.set_ylabel("steady seconds")
    ax.set_title(f"our PGD on shapes, fit R$^2$ = {fit['r2']:.3f}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out.with_name(out.stem + "_cost.png"), dpi=110)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="shapes only, batch 8, 3 steps, small cost curve")
    p.add_argument("--skip-resnet", action="store_true", help="shapes only")
    p.add_argument("--steps", type=int, default=10, help="steps of PGD, C&W and DeepFool")
    p.add_argument("--repeats", type=int, default=1, help="steady-state calls after the first (median)")
    p.add_argument("--peers", nargs="*", default=list(_peers.PEERS), choices=_peers.PEERS)
    p.add_argument("--attacks", nargs="*", default=["pgd", "cw", "deepfool"], help="attacks to run (prefixes)")
    p.add_argument("--resnet-attacks", nargs="*", default=["pgd", "cw"],
                   help="attacks on ResNet50 (ART's DeepFool there takes most of an hour)")
    p.add_argument("--out", default=None, help="JSON path (default results/attacks.json, attacks_quick.json)")
    a = p.parse_args()
    for peer in a.peers:
        _peers.require(peer)  # fail early with the install hint

    if a.quick:
        plan, steps, batches, steps_list = {"shapes": 8}, 3, [1, 4], [2, 4]
    else:
        plan = {m: b for m, b in BATCH.items() if not (a.skip_resnet and m == "resnet50")}
        steps, batches, steps_list = a.steps, [1, 4, 16, 32], [10, 50, 100]
    rows = []
    for name, batch in plan.items():
        only = a.resnet_attacks if name == "resnet50" else a.attacks
        rows += bench_model(name, steps, a.repeats, batch, a.peers, [o for o in a.attacks if o in only])
    print_table(rows)
    print("\n[cost curve]")
    curve = cost_curve(batches, steps_list, a.repeats)

    out = Path(a.out or RESULTS / ("attacks_quick.json" if a.quick else "attacks.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "cost_curve": curve, "quick": a.quick, "peers": _peers.versions(),
                               "tensorflow": tf.__version__, "keras": keras.__version__, "cpus": os.cpu_count()},
                              indent=2))
    plot(rows, curve, out)
    print(f"wrote {out}, {out.with_suffix('.png')} and {out.with_name(out.stem + '_cost.png')}")


if __name__ == "__main__":
    main()
