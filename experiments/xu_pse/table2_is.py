"""Xu et al., Table 2: the interpretability score IS of each attack's perturbations, by CAM region.

IS(delta) = ||B o delta||_2 / ||delta||_2 (Eq. 6), B the CAM's pixels above
its 70 % quantile (Eq. 5), for the natural image's CAM of the true label,
B(x0, t0), and the adversarial example's CAM of the target, B(x', t);
averaged over each attack's successful targeted examples, the paper's
figures beside ours (seeds/001_13ab3436c62e81d7.txt, Sec. 4, Table 2).

    advinterp experiment xu_pse/table2_is [--quick]
    python experiments/xu_pse/table2_is.py --quick
"""

from __future__ import annotations

import numpy as np
from _common import (
    ATTACK_LABEL,
    ATTACKS,
    DEFAULTS,
    QUICK,
    SOURCE,
    main,
    model_attack_units,
    paper_slot,
    prepare,
    setting_notes,
    successful,
)

from keras_advinterp.analysis import pse
from keras_advinterp.runner import Experiment, Table

TITLE = "Interpretability score of perturbations by CAM region (Xu et al., Table 2)"
# attack -> model slot -> (IS w.r.t. (x0, t0), IS w.r.t. (x', t)), Table 2 of SOURCE
PAPER = {
    "ifgsm": {"Resnet": (0.594, 0.604), "Inception": (0.634, 0.655)},
    "cw": {"Resnet": (0.610, 0.823), "Inception": (0.654, 0.784)},
    "ead": {"Resnet": (0.625, 0.880), "Inception": (0.630, 0.865)},
    "str": {"Resnet": (0.626, 0.941), "Inception": (0.767, 0.983)},
}
DEFAULTS = {**DEFAULTS, "quantiles": [0.6, 0.7, 0.8]}


def run_unit(ctx, s, unit):
    name, kind = unit
    m = ctx["models"][name]
    x, x_adv, y, t, idx = successful(m, kind)
    if not len(x):
        return []
    natural, adversarial = m["cam"](x, y), m["cam"](x_adv, t)
    delta = x_adv - x
    scores = {}
    for q in s["quantiles"]:
        scores[f"IS x0,t0 @{q:g}"] = pse.interpretability_score(delta, pse.cam_region_at(natural, q))
        scores[f"IS x',t @{q:g}"] = pse.interpretability_score(delta, pse.cam_region_at(adversarial, q))
    return [{"model": name, "attack": kind, "image": int(i), **{k: float(v[j]) for k, v in scores.items()}}
            for j, i in enumerate(idx)]


def summarize(rows, s, ctx):
    q = s["cam_quantile"]
    out = []
    for kind in ATTACKS:
        for name in s["models"]:
            mine = [r for r in rows if r["model"] == name and r["attack"] == kind]
            slot = paper_slot(s, name)
            row = {"attack": ATTACK_LABEL[kind], "model": name, "paper model": slot, "images": len(mine)}

            def mean(key, mine=mine):
                v = np.array([r[key] for r in mine], float)
                return float(np.nanmean(v)) if np.isfinite(v).any() else None

            row["IS (x0, t0)"] = mean(f"IS x0,t0 @{q:g}")
            row["IS (x0, t0) (paper)"] = PAPER[kind][slot][0] if slot else None
            row["IS (x', t)"] = mean(f"IS x',t @{q:g}")
            row["IS (x', t) (paper)"] = PAPER[kind][slot][1] if slot else None
            for other in s["quantiles"]:
                if other != q:
                    row[f"IS (x0, t0) @{other:g}"] = mean(f"IS x0,t0 @{other:g}")
                    row[f"IS (x', t) @{other:g}"] = mean(f"IS x',t @{other:g}")
            out.append(row)
    notes = setting_notes(ctx, s) + [
        f"Paper figures: {SOURCE}, Table 2. B is the top {1 - q:.0%} of each CAM's pixels (the paper's 70 % "
        "quantile; `analysis.pse.cam_region_at`, ties broken by position so a CAM that is zero over most of the "
        "image still gives a region of that size); CAM is our compiled CAM (equal to tf-keras-vis Grad-CAM on "
        "these GAP heads), min-max scaled. Columns '@q' repeat the score at the other quantiles: the paper says its "
        "results are insensitive to a +-10 % shift.",
        f"Reference point: a perturbation spread evenly over the image scores sqrt({1 - q:.1f}) = "
        f"{np.sqrt(1 - q):.3f}; the higher an attack's IS, the more its energy sits in the CAM region.",
    ]
    return Table(rows=out, notes=notes, title=TITLE, figure=lambda path: figure(path, out, s))


def figure(path, rows, s):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = ("IS (x0, t0)", "IS (x', t)")
    fig, axes = plt.subplots(1, len(s["models"]), figsize=(4.8 * len(s["models"]), 3.4), squeeze=False)
    for ax, name in zip(axes[0], s["models"]):
        slot = paper_slot(s, name)
        mine = [r for r in rows if r["model"] == name]
        xs = np.arange(len(mine))
        for j, c in enumerate(cols):
            ax.bar(xs + (j - 0.5) * 0.38, [r[c] or 0 for r in mine], 0.38, label=f"{c} (ours)")
            if slot:
                ax.scatter(xs + (j - 0.5) * 0.38, [r[f"{c} (paper)"] for r in mine], color="k", marker="_",
                           s=160, zorder=3, label="paper" if j == 0 else None)
        ax.axhline(np.sqrt(1 - s["cam_quantile"]), color="grey", ls=":", lw=1, label="evenly spread")
        ax.set_xticks(xs, [r["attack"] for r in mine])
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{name}" + (f" (paper: {slot})" if slot else ""), fontsize=9)
        ax.set_ylabel("interpretability score")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(name="table2_is", paper="xu_pse", title=TITLE, defaults=DEFAULTS, quick=QUICK,
                        prepare=prepare, units=model_attack_units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
