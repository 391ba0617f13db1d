"""Xu et al., Table 1: correlation of the grid sensitivity d0, dt, s with the grid's ||delta_G||_2.

For every successful targeted example of each attack and model: the grid
sensitivity of Eqs. 1-3 and each grid's L2 perturbation norm, their
correlation over the grids of the image (Pearson, and Spearman beside it),
averaged over images; the paper's figures beside ours
(seeds/001_13ab3436c62e81d7.txt, Sec. 3, Table 1).

    advinterp experiment xu_pse/table1_correlation [--quick]
    python experiments/xu_pse/table1_correlation.py --quick
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
    sensitivity,
    setting_notes,
    successful,
)

from keras_advinterp.analysis import pse
from keras_advinterp.runner import Experiment, Table

TITLE = "Correlation between grid sensitivity and ||delta_G||_2 (Xu et al., Table 1)"
# attack -> model slot -> (d0, dt, s), Table 1 of SOURCE
PAPER = {
    "ifgsm": {"Resnet": (0.303, 0.480, 0.522), "Inception": (0.170, 0.220, 0.248)},
    "cw": {"Resnet": (0.507, 0.538, 0.609), "Inception": (0.545, 0.517, 0.620)},
    "ead": {"Resnet": (0.602, 0.630, 0.710), "Inception": (0.639, 0.655, 0.697)},
    "str": {"Resnet": (0.625, 0.720, 0.783), "Inception": (0.643, 0.614, 0.702)},
}
MEASURES = ("d0", "dt", "s")


def run_unit(ctx, s, unit):
    name, kind = unit
    m = ctx["models"][name]
    x, x_adv, _, _, idx = successful(m, kind)
    if not len(x):
        return []
    sens = sensitivity(m, kind, s)
    l2 = pse.grid_norms(x_adv - x, sens.layout)["l2"]
    corr = {k: pse.sensitivity_correlation(getattr(sens, k), l2) for k in MEASURES}
    rows = []
    for j, i in enumerate(idx):
        on = sens.perturbed[j]
        inner = pse.sensitivity_correlation(sens.s[j : j + 1, on], l2[j : j + 1, on]) if on.sum() > 1 else None
        rows.append({"model": name, "attack": kind, "image": int(i),
                     **{f"{k} {c}": float(corr[k][c][j]) for k in MEASURES for c in ("pearson", "spearman")},
                     "s pearson perturbed": float(inner["pearson"][0]) if inner else float("nan"),
                     "perturbed grids": int(on.sum())})
    return rows


def summarize(rows, s, ctx):
    out = []
    for kind in ATTACKS:
        for name in s["models"]:
            mine = [r for r in rows if r["model"] == name and r["attack"] == kind]
            slot = paper_slot(s, name)
            row = {"attack": ATTACK_LABEL[kind], "model": name, "paper model": slot, "images": len(mine)}
            for j, k in enumerate(MEASURES):
                vals = np.array([r[f"{k} pearson"] for r in mine], float)
                ranks = np.array([r[f"{k} spearman"] for r in mine], float)
                row[k] = float(np.nanmean(vals)) if np.isfinite(vals).any() else None
                row[f"{k} (paper)"] = PAPER[kind][slot][j] if slot else None
                row[f"{k} Spearman"] = float(np.nanmean(ranks)) if np.isfinite(ranks).any() else None
            inner = np.array([r["s pearson perturbed"] for r in mine], float)
            row["s, perturbed grids only"] = float(np.nanmean(inner)) if np.isfinite(inner).any() else None
            row["mean perturbed grids"] = float(np.mean([r["perturbed grids"] for r in mine])) if mine else None
            out.append(row)
    m = s["grids"] ** 2
    notes = setting_notes(ctx, s) + [
        f"Paper figures: {SOURCE}, Table 1 (its correlation is not named; we give Pearson in the d0 / dt / s "
        "columns, beside the paper's, and Spearman after them). Ours: per image, the correlation over its "
        f"{m} grids of d (Eqs. 1-2, xi = {s['xi']:g}) or s (Eq. 3) with ||delta_G||_2, then the mean over images "
        "(images with a constant row, no correlation defined, are left out of the mean).",
        "Grids an attack left untouched count with norm 0 and d = xi: for the sparse attacks (EAD, Str) they are a "
        "large part of every image ('mean perturbed grids') and lift the correlation; 's, perturbed grids only' "
        "is the Pearson correlation of s over the grids the attack changed.",
    ]
    return Table(rows=out, notes=notes, title=TITLE, figure=lambda path: figure(path, out, s))


def figure(path, rows, s):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(s["models"]), figsize=(4.8 * len(s["models"]), 3.4), squeeze=False)
    for ax, name in zip(axes[0], s["models"]):
        slot = paper_slot(s, name)
        mine = [r for r in rows if r["model"] == name]
        xs = np.arange(len(mine))
        for j, k in enumerate(MEASURES):
            ax.bar(xs + (j - 1) * 0.27, [r[k] or 0 for r in mine], 0.27, label=f"{k} (ours)")
            if slot:
                ax.scatter(xs + (j - 1) * 0.27, [r[f"{k} (paper)"] for r in mine], color="k", marker="_",
                           s=120, zorder=3, label="paper" if j == 0 else None)
        ax.set_xticks(xs, [r["attack"] for r in mine])
        ax.set_ylim(-0.2, 1)
        ax.set_title(f"{name}" + (f" (paper: {slot})" if slot else ""), fontsize=9)
        ax.set_ylabel("mean Pearson corr. with ||delta_G||_2")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(name="table1_correlation", paper="xu_pse", title=TITLE, defaults=DEFAULTS, quick=QUICK,
                        prepare=prepare, units=model_attack_units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
