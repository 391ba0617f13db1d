"""How far PGD moves a model's explanation, against eps (AdvEdge, Table VII).

AdvEdge (seeds/003_95601c10b3bd7c9c.txt, Sec. VIII, Table VII) reports, for a
normally trained Wide-ResNet on CIFAR-10 under a PGD attack, test accuracy
and the Kendall tau between the clean and adversarial CAM at eps = 0..10/255.
We measure the same two quantities on our setting, plus the top-20% IoU of
the two maps, their L1 distance, and how well each map still covers the
object (IoU with the shapes mask).

    advinterp experiment advedge/pgd_interpretation_shift [--quick]
    python experiments/advedge/pgd_interpretation_shift.py --quick

A quick run writes results/advedge/quick/pgd_interpretation_shift.*; the
full run writes results/advedge/pgd_interpretation_shift.*.
"""

from __future__ import annotations

import numpy as np

from keras_advinterp import attacks, data, interpret, models
from keras_advinterp.interpret import metrics
from keras_advinterp.runner import Experiment, Table

SOURCE = "seeds/003_95601c10b3bd7c9c.txt, Sec. VIII, Table VII"
TITLE = "Explanation shift under PGD vs eps (AdvEdge, Table VII)"

# The "Normal" rows of SOURCE. The tau row has six values for seven eps
# columns; we read it as eps = 2..10 (tau at eps 0 is 1 by definition).
PAPER_ACCURACY = {0: 0.785, 2: 0.190, 4: 0.090, 6: 0.080, 8: 0.085, 9: 0.085, 10: 0.080}
PAPER_TAU = {2: 0.542, 4: 0.132, 6: -0.06, 8: -0.100, 9: -0.083, 10: -0.183}

DEFAULTS = {
    "model": "shapes", "weights": "default", "data": "shapes", "limit": 240,
    "eps_255": [0, 2, 4, 6, 8, 10], "steps": 10, "interpreter": "cam",
    "fraction": 0.2, "batch_size": 48, "seed": 0,
}


def prepare(s):
    clf = models.load(s["model"], s["weights"])
    d = data.load(s["data"], "test", limit=s["limit"], seed=s["seed"])
    interp = interpret.get(s["interpreter"], clf)
    clean_maps = interp(d.x, d.y)
    return {"model": clf, "data": d, "interpreter": interp, "clean_maps": clean_maps}


def units(ctx, s):
    n = len(ctx["data"])
    return [[eps, start] for eps in s["eps_255"] for start in range(0, n, s["batch_size"])]


def run_unit(ctx, s, unit):
    eps_255, start = unit
    d, clf = ctx["data"], ctx["model"]
    sl = slice(start, start + s["batch_size"])
    x, y = d.x[sl], d.y[sl]
    if eps_255 == 0:
        x_adv = x
    else:
        eps = eps_255 / 255
        attack = attacks.PGD(eps=eps, steps=s["steps"], step_size=2.5 * eps / s["steps"])
        x_adv = attack(clf, x, y, seed=s["seed"] + start).x_adv
    pred = clf.predict(x_adv).argmax(1)
    clean, adv = ctx["clean_maps"][sl], ctx["interpreter"](x_adv, y)
    tau = metrics.kendall_tau(clean, adv)
    top = metrics.top_iou(clean, adv, s["fraction"])
    l1 = metrics.lp_distance(clean, adv, 1)
    rows = []
    for i in range(len(x)):
        row = {"eps_255": eps_255, "index": start + i, "correct": bool(pred[i] == y[i]),
               "tau": float(tau[i]), "top_iou": float(top[i]), "map_l1": float(l1[i])}
        if d.masks is not None:
            row["mask_iou_clean"] = float(metrics.mask_iou(clean[i : i + 1], d.masks[sl][i : i + 1], s["fraction"])[0])
            row["mask_iou_adv"] = float(metrics.mask_iou(adv[i : i + 1], d.masks[sl][i : i + 1], s["fraction"])[0])
        rows.append(row)
    return rows


def summarize(rows, s, ctx):
    table = []
    for eps in s["eps_255"]:
        r = [row for row in rows if row["eps_255"] == eps]
        mean = lambda k: float(np.mean([row[k] for row in r])) if r and k in r[0] else None  # noqa: E731
        table.append({
            "eps (/255)": eps,
            "accuracy": mean("correct"), "accuracy (paper)": PAPER_ACCURACY.get(eps),
            "Kendall tau": mean("tau"), "Kendall tau (paper)": PAPER_TAU.get(eps),
            f"top-{s['fraction']:.0%} IoU clean vs adv": mean("top_iou"),
            "map L1": mean("map_l1"),
            "mask IoU clean": mean("mask_iou_clean"), "mask IoU adv": mean("mask_iou_adv"),
            "images": len(r),
        })
    clf = ctx["model"]
    notes = [
        f"Model: ours is {clf.name} ({clf.weights_source}), {clf.input_size[0]}x{clf.input_size[1]} input; "
        "the paper's is a normally trained Wide-ResNet on CIFAR-10.",
        f"Data: ours is {len(ctx['data'])} {s['data']} test images; the paper's is the CIFAR-10 test set.",
        f"Interpreter: ours is {s['interpreter']} on layer {clf.feature_layer!r}; the paper's is CAM.",
        f"Attack: ours is PGD Linf, {s['steps']} steps, step 2.5*eps/steps, random start; "
        "the paper does not state its PGD steps or step size.",
        f"Paper figures: {SOURCE}, 'Normal' rows.",
        "Paper tau row has 6 values for 7 eps columns; we assign them to eps 2..10 (our reading).",
        "Accuracy at eps 0 is clean accuracy; absolute values are not comparable across these settings, "
        "the trend with eps is.",
    ]
    return Table(rows=table, notes=notes, title=TITLE,
                 figure=lambda path: _figure(path, table))


def _figure(path, table):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    eps = [r["eps (/255)"] for r in table]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, key in zip(axes, ("accuracy", "Kendall tau")):
        ax.plot(eps, [r[key] for r in table], "o-", label="ours")
        paper = [(e, r[f"{key} (paper)"]) for e, r in zip(eps, table) if r[f"{key} (paper)"] is not None]
        if paper:
            ax.plot(*zip(*paper), "s--", label="paper (AdvEdge, Table VII)")
        ax.set_xlabel("eps (/255)")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(
    name="pgd_interpretation_shift", paper="advedge",
    title=TITLE,
    defaults=DEFAULTS, quick={"limit": 48, "eps_255": [0, 4, 8]},
    prepare=prepare, units=units, run_unit=run_unit, summarize=summarize,
)

if __name__ == "__main__":
    from keras_advinterp.runner import script_main

    script_main(EXPERIMENT, __doc__)
