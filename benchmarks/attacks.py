"""Our attacks against ART, Foolbox 3 and CleverHans 4: same inputs, same settings.

    python benchmarks/attacks.py                  # shapes (32), resnet20 (64), resnet50 (random weights, 8)
    python benchmarks/attacks.py --skip-resnet    # shapes and resnet20 only, full settings and cost curve
    python benchmarks/attacks.py --quick          # shapes only, tiny steps: checks the script (< 2 min)

Needs the peers extra (``pip install -e ".[peers]"``). For each model it runs
PGD-10 (Linf 8/255; ours also with ``precision="bfloat16"``, its step
gradients from a bfloat16 copy of the model, a setting the peers lack),
C&W-L2 with a fixed budget (10 steps, 1 binary-search
step, c = 1, step 0.05, no early abort) and DeepFool (10 steps), ours with
default settings (``jit_compile="auto"``, ``loop="auto"``) and each peer's
version on the same images (``_peers.py`` maps the settings), each
implementation in a fresh state: the first call (tracing and compilation
included) is reported apart from the steady-state calls, and ours must not
retrace on later calls (asserted through the tracing counts of the
classifier's cached compiled functions), not even on a call with 3 images
fewer (``other_count_s``: ``map_batches`` pads both counts to one size). The
floor is the gradient evaluations an attack needs times one compiled
loss+input-gradient step called alone, in the faster of its XLA and plain
forms (PGD: steps; C&W: steps x binary-search steps; DeepFool: the
iterations ours ran x (candidates - 1) gradients). ``resnet20`` is the
CIFAR-10 ResNet-20 of ``_models.py`` (random weights, 32x32). CleverHans 4
has no working TF2 C&W (cleverhans#1205) and no TF2 DeepFool. Then a cost
curve of our PGD on shapes over batch 1..32 and steps 10..100 with a
least-squares fit ``t = a + b*steps + c*batch*steps``. The load average
before and after each model is recorded: figures from a busy machine are
not comparable.

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

import _peers  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _models import resnet20  # noqa: E402
from _timing import timed  # noqa: E402
from pgd_floor import step_times  # noqa: E402

from keras_advinterp import data, models  # noqa: E402
from keras_advinterp._compile import resolve_jit, tracing_count  # noqa: E402
from keras_advinterp.attacks import PGD  # noqa: E402
from keras_advinterp.attacks.deepfool import DeepFool  # noqa: E402
from keras_advinterp.attacks.optimization import CarliniWagnerL2  # noqa: E402

RESULTS = Path(__file__).parent / "results"
BATCH = {"shapes": 32, "resnet20": 64, "resnet50": 8}


def suite(steps: int) -> dict:
    """The attacks compared, with one budget for every implementation; ours with default settings."""
    return {
        f"pgd{steps}": PGD(eps=8 / 255, steps=steps),
        "cw_l2": CarliniWagnerL2(steps=steps, binary_search_steps=1, initial_const=1.0, learning_rate=0.05,
                                 abort_early=False),
        "deepfool": DeepFool(steps=steps),
    }


def inputs(name: str, batch: int):
    """Shapes: correctly classified test images; others: random images labelled by the model."""
    if name == "resnet20":
        clf = resnet20()
    else:
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




def _images(out):
    return out[0] if isinstance(out, tuple) else out


def evaluate(clf, x, y, x_adv) -> dict:
    success = clf.predict(x_adv).argmax(1) != y
    l2 = np.sqrt(((x_adv - x) ** 2).reshape(len(x), -1).sum(1))
    return {"success_rate": round(float(success.mean()), 4),
            "median_l2": round(float(np.median(l2[success])), 4) if success.any() else None}


def bench_model(name: str, steps: int, repeats: int, batch: int, peers: list[str], only: list[str]) -> list[dict]:
    load_before = round(os.getloadavg()[0], 2)
    clf, x, y = inputs(name, batch)
    clf.predict(x, batch_size=len(x))  # the shared forward pass compiles before any first call is timed
    timing = step_times(clf, x, y, repeats)
    steps_s = {form: timing[f"step_{form}_s"] for form in ("xla", "plain")}
    one_step = min(steps_s.values())
    print(f"[{name}] batch {len(x)}, one loss+gradient step: xla {steps_s['xla']:.4f} s, "
          f"plain {steps_s['plain']:.4f} s; load {load_before}", flush=True)
    rows = []
    for attack_name, attack in suite(steps).items():
        if not any(attack_name.startswith(o) for o in only):
            continue
        before = {}

        def ours(k=None):
            before.update(tracing_counts(clf))
            return attack(clf, x[:k], y[:k], batch_size=len(x))

        first, steady, result = timed(ours, repeats)
        retraced = {k: v for k, v in tracing_counts(clf).items() if before.get(k) != v}
        assert not retraced, f"{attack_name}: the second call retraced {retraced}"
        t = time.perf_counter()
        ours(len(x) - 3)
        other_count = time.perf_counter() - t
        retraced = {k: v for k, v in tracing_counts(clf).items() if before.get(k) != v}
        assert not retraced, f"{attack_name}: a call with {len(x) - 3} images retraced {retraced}"
        p = attack.params()
        if isinstance(attack, DeepFool):
            grads = int(result.iterations.max()) * (min(p["candidates"], clf.num_classes) - 1)
        else:
            grads = p["steps"] * p.get("binary_search_steps", 1)
        base = {"model": name, "batch": len(x), "attack": attack_name, "params": p,
                "floor_s": round(grads * one_step, 4), "floor_form": min(steps_s, key=steps_s.get),
                "mflops_per_image": round(clf.flops_per_image() / 1e6, 1)}
        rows.append({**base, "impl": "ours", "first_call_s": round(first, 3), "steady_s": round(steady, 4),
                     "other_count_s": round(other_count, 4), "jit": resolve_jit(attack.jit_compile, clf),
                     **evaluate(clf, x, y, result.x_adv)})
        print(f"  {attack_name:<14} ours       first {first:8.2f} s  steady {steady:8.3f} s  "
              f"({len(x) - 3} images {other_count:.3f} s)", flush=True)
        # The same work the peers do: images only, no AttackResult (its logits and success cost one
        # more forward pass, which CleverHans, Foolbox and ART leave to the caller).
        run, xt, yt, seed = attack.compiled_run(clf, False), tf.constant(x), tf.constant(y), tf.constant([0, 0])
        _, images_s, _ = timed(lambda: np.asarray(_images(run(xt, yt, yt, seed))), repeats)
        rows.append({**base, "impl": "ours (images only)", "first_call_s": None, "steady_s": round(images_s, 4)})
        print(f"  {attack_name:<14} ours, images only        steady {images_s:8.3f} s", flush=True)
        if type(attack) is PGD:  # the same PGD with its gradient from a bfloat16 copy (success judged in float32)
            low = PGD(eps=p["eps"], steps=p["steps"], precision="bfloat16")
            first, steady, low_result = timed(lambda: low(clf, x, y, batch_size=len(x)), repeats)
            rows.append({**base, "impl": "ours (bfloat16)", "first_call_s": round(first, 3),
                         "steady_s": round(steady, 4), **evaluate(clf, x, y, low_result.x_adv)})
            print(f"  {attack_name:<14} ours bf16  first {first:8.2f} s  steady {steady:8.3f} s", flush=True)
        for peer in peers:
            if not _peers.supports(peer, attack):
                continue
            run = _peers.build(peer, attack, clf, batch_size=len(x))
            keras.utils.set_random_seed(0)
            first, steady, x_adv = timed(lambda: run(x, y), repeats)
            rows.append({**base, "impl": peer, "first_call_s": round(first, 3), "steady_s": round(steady, 4),
                         **evaluate(clf, x, y, x_adv)})
            print(f"  {attack_name:<14} {peer:<10} first {first:8.2f} s  steady {steady:8.3f} s", flush=True)
    ours_s = {r["attack"]: r["steady_s"] for r in rows if r["impl"] == "ours"}
    images_s = {r["attack"]: r["steady_s"] for r in rows if r["impl"] == "ours (images only)"}
    load_after = round(os.getloadavg()[0], 2)
    for r in rows:
        r["vs_ours"] = round(r["steady_s"] / ours_s[r["attack"]], 3)
        r["vs_ours_images"] = round(r["steady_s"] / images_s[r["attack"]], 3) if r["attack"] in images_s else None
        r["vs_floor"] = round(r["steady_s"] / r["floor_s"], 3)
        r["load_before"], r["load_after"] = load_before, load_after
    print(f"[{name}] load {load_before} -> {load_after}", flush=True)
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
    print(f"\n{'model':<9}{'batch':>6} {'attack':<14}{'impl':<19}{'first s':>9}{'steady s':>10}{'x ours':>8}"
          f"{'x images':>9}{'floor s':>9}{'x floor':>8}{'success':>9}{'med L2':>8}")
    for r in rows:
        def num(key, fmt):
            return "-" if r.get(key) is None else format(r[key], fmt)

        print(f"{r['model']:<9}{r['batch']:>6} {r['attack']:<14}{r['impl']:<19}{num('first_call_s', '.2f'):>9}"
              f"{r['steady_s']:>10.3f}{r['vs_ours']:>8.2f}{num('vs_ours_images', '.2f'):>9}{r['floor_s']:>9.3f}"
              f"{r['vs_floor']:>8.2f}{num('success_rate', '.2f'):>9}{num('median_l2', '.3f'):>8}")


def plot(rows, curve, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys((r["model"], r["attack"]) for r in rows))
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    fig, axes = plt.subplots(2, 1, figsize=(max(6, 1.6 * len(groups)), 6.4), sharex=True)
    width = 0.8 / (len(impls) + 1)
    for ax, key, label in zip(axes, ("steady_s", "first_call_s"), ("steady", "first-call")):
        for j, impl in enumerate(impls + ["floor"] if key == "steady_s" else impls):
            heights = []
            for g in groups:
                match = {r["impl"]: r for r in rows if (r["model"], r["attack"]) == g}
                if impl == "floor":
                    heights.append(next(iter(match.values()))["floor_s"])
                else:
                    value = match[impl].get(key) if impl in match else None
                    heights.append(np.nan if value is None else value)
            ax.bar(np.arange(len(groups)) + (j - len(impls) / 2) * width, heights, width, label=impl,
                   color="lightgray" if impl == "floor" else f"C{j}", edgecolor="gray" if impl == "floor" else None)
        ax.set_yscale("log")
        ax.set_ylabel(f"{label} seconds per batch (log)", fontsize=8)
    axes[1].set_xticks(np.arange(len(groups)))
    axes[1].set_xticklabels([f"{m}\n{a}" for m, a in groups], fontsize=8)
    axes[0].legend(fontsize=7, ncol=len(impls) + 1)
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
    p.add_argument("--skip-resnet", action="store_true", help="shapes and resnet20 only (no ResNet50)")
    p.add_argument("--models", nargs="*", default=list(BATCH), choices=list(BATCH), help="models to run")
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
        plan = {m: BATCH[m] for m in a.models if not (a.skip_resnet and m == "resnet50")}
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
                              indent=2, default=str))
    plot(rows, curve, out)
    print(f"wrote {out}, {out.with_suffix('.png')} and {out.with_name(out.stem + '_cost.png')}")


if __name__ == "__main__":
    main()
