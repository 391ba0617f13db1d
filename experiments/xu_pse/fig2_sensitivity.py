"""Xu et al., Fig. 2: one C&W example's per-grid perturbation norms, d0 / dt, and sorted PSR.

The first clean image of the first model that targeted C&W takes to its
target: the adversarial example and the heat map of ||delta_G||_2; the
per-grid ||delta_G||_2 and ||delta_G||_inf against the grid index; d0 and
dt (Eqs. 1-2) against the grid index; the PSR r (Eq. 4) sorted, with the
lines r = 1 and r = -1 (seeds/001_13ab3436c62e81d7.txt, Sec. 3, Fig. 2).
The table holds every grid's values (the figure's data).

    advinterp experiment xu_pse/fig2_sensitivity [--quick]
    python experiments/xu_pse/fig2_sensitivity.py --quick
"""

from __future__ import annotations

import numpy as np
from _common import DEFAULTS, QUICK, SOURCE, main, prepare, sensitivity, setting_notes, successful

from keras_advinterp.analysis import pse
from keras_advinterp.runner import Experiment, Table

TITLE = "Per-grid norms, d0 / dt and sorted PSR of one C&W example (Xu et al., Fig. 2)"
DEFAULTS = {**DEFAULTS, "models": ["shapes"], "attack": "cw", "example": 0}
QUICK = {**QUICK, "models": ["shapes"]}


def prepare_one(s):
    return prepare(s, kinds=(s["attack"],))


def units(ctx, s):
    return [[s["models"][0], s["attack"], s["example"]]]


def run_unit(ctx, s, unit):
    name, kind, k = unit
    m = ctx["models"][name]
    x, x_adv, y, t, idx = successful(m, kind)
    if k >= len(x):
        raise ValueError(f"example {k} asked for, but {kind} succeeded on {len(x)} image(s) of {name}")
    sens = sensitivity(m, kind, s)
    norms = pse.grid_norms(x_adv[k : k + 1] - x[k : k + 1], sens.layout)
    names = m["clf"].class_names
    cls = sens.classes()[k]
    return [{"image": int(idx[k]), "true": names[y[k]], "target": names[t[k]], "grid": g,
             "l2": float(norms["l2"][0, g]), "linf": float(norms["linf"][0, g]), "d0": float(sens.d0[k, g]),
             "dt": float(sens.dt[k, g]), "s": float(sens.s[k, g]), "psr": float(sens.psr[k, g]),
             "class": pse.CLASS_NAMES[int(cls[g])]} for g in range(sens.layout.m)]


def summarize(rows, s, ctx):
    l2 = np.array([r["l2"] for r in rows])
    share = {c: float(np.mean([r["class"] == c for r in rows])) for c in ("suppression", "balance", "promotion")}
    perturbed = l2 > 0
    corr = {k: float(np.corrcoef(np.array([r[k] for r in rows]), l2)[0, 1]) for k in ("d0", "dt", "s")}
    first = rows[0]
    notes = setting_notes(ctx, s, kinds=(s["attack"],)) + [
        f"Paper figure: {SOURCE}, Fig. 2, a 'badger'-to-'computer' C&W example on ImageNet, 13 x 13 grids; the paper "
        "reads from it that d0 and dt follow the perturbation strength and that most grids promote the target "
        "(no numbers are given). Ours: image "
        f"{first['image']} ('{first['true']}' to '{first['target']}'), {len(rows)} grids, {int(perturbed.sum())} "
        f"perturbed; Pearson correlation with ||delta_G||_2 over its grids: d0 {corr['d0']:.3f}, dt {corr['dt']:.3f}, "
        f"s {corr['s']:.3f}; PSR classes: suppression {share['suppression']:.0%}, balance {share['balance']:.0%}, "
        f"promotion {share['promotion']:.0%} of the grids (an untouched grid has d0 = dt = xi, r = 0: balance).",
    ]
    return Table(rows=rows, notes=notes, title=TITLE, figure=lambda path: figure(path, rows, s, ctx))


def figure(path, rows, s, ctx):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_advinterp import interpret

    m = ctx["models"][s["models"][0]]
    x, x_adv, *_ = successful(m, s["attack"])
    k = s["example"]
    layout = pse.grid_layout(x.shape, s["grids"])
    g = np.arange(len(rows))
    val = {key: np.array([r[key] for r in rows]) for key in ("l2", "linf", "d0", "dt", "psr")}
    fig = plt.figure(figsize=(8.5, 9.5))
    ax = fig.add_subplot(4, 2, 1)
    interpret.show(ax, x_adv[k], title=f"adversarial: '{rows[0]['true']}' -> '{rows[0]['target']}'")
    ax = fig.add_subplot(4, 2, 2)
    im = ax.imshow(layout.as_maps(val["l2"][None])[0], cmap="viridis")
    ax.set_title("||delta_G||_2 per grid", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax = fig.add_subplot(4, 1, 2)
    ax.plot(g, val["l2"], ".-", label="||delta_G||_2")
    ax.plot(g, val["linf"], ".-", label="||delta_G||_inf")
    ax.set_xlabel("grid index", fontsize=8)
    ax.legend(fontsize=7)
    ax = fig.add_subplot(4, 1, 3)
    ax.plot(g, val["d0"], ".-", label="d0 (suppression of the true class)")
    ax.plot(g, val["dt"], ".-", label="dt (promotion of the target)")
    ax.set_xlabel("grid index", fontsize=8)
    ax.legend(fontsize=7)
    ax = fig.add_subplot(4, 1, 4)
    ax.plot(np.sort(val["psr"]), ".-", color="k")
    for level in (1, -1):
        ax.axhline(level, ls="--", color="firebrick", lw=1)
    ax.set_xlabel("grids sorted by PSR", fontsize=8)
    ax.set_ylabel("r = log2(dt / d0)", fontsize=8)
    fig.suptitle(f"Fig. 2 (ours): {s['attack']} on {s['models'][0]}, {layout.rows} x {layout.cols} grids", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(name="fig2_sensitivity", paper="xu_pse", title=TITLE, defaults=DEFAULTS, quick=QUICK,
                        prepare=prepare_one, units=units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
