"""Xu et al., Figs. 4-5: PSR of the most sensitive grids drawn over the CAMs, one image to several targets.

Fig. 4: for a few targeted C&W examples, F(x0, t0), x0, F(x', t), and the
PSR of the top 70 % grids by s painted over F(x', t): white suppression
(r < -1), black promotion (r > 1), grey balance. Fig. 5: one image attacked
towards every other class, the same picture per target
(seeds/001_13ab3436c62e81d7.txt, Sec. 4, Figs. 4-5, A2-A3, A7).

The paper reads the pictures; we also count: per example, how many shown
grids fall in each class, what share of suppression grids lie in the
natural CAM region B(x0, t0) and of promotion grids in B(x', t) (a grid is
in a region when most of its pixels are), against the share of all shown
grids; and for Fig. 5, how much the suppression and promotion grids of two
targets overlap (the paper: suppression stays, promotion moves).

    advinterp experiment xu_pse/fig4_5_psr_cam [--quick]
    python experiments/xu_pse/fig4_5_psr_cam.py --quick
"""

from __future__ import annotations

import itertools

import numpy as np
from _common import (
    DEFAULTS,
    QUICK,
    SOURCE,
    draw_psr,
    main,
    make_attack,
    prepare,
    psr_legend,
    sensitivity,
    setting_notes,
    successful,
)

from keras_advinterp.analysis import pse
from keras_advinterp.runner import Experiment, Table, cached_attack

TITLE = "PSR over CAM for the most sensitive grids, and one image to every target (Xu et al., Figs. 4-5)"
DEFAULTS = {**DEFAULTS, "models": ["shapes"], "attack": "cw", "images": 3, "top_share": 0.7, "psr_threshold": 1.0}
QUICK = {**QUICK, "models": ["shapes"], "images": 2}


def prepare_one(s):
    ctx = prepare(s, kinds=(s["attack"],))
    m = ctx["models"][s["models"][0]]
    x, _, y, _, idx = successful(m, s["attack"])
    if not len(x):
        raise ValueError(f"{s['attack']} succeeded on no image of {s['models'][0]}: raise limit or the attack's steps")
    # Fig. 5: the first successful image, attacked to each other class
    k = int(idx[0])
    others = np.array([c for c in range(m["clf"].num_classes) if c != m["y"][k]], np.int32)
    xs, ys = np.repeat(m["x"][k : k + 1], len(others), 0), np.full(len(others), m["y"][k], np.int32)
    res = cached_attack(make_attack(s["attack"], s), m["clf"], xs, ys, others, seed=s["seed"],
                        batch_size=s["batch_size"])
    ctx["targets"] = {"image": k, "x": xs, "x_adv": res.x_adv, "y": ys, "t": others, "success": res.success}
    return ctx


def units(ctx, s):
    return [["fig4", s["images"]], ["fig5", len(ctx["targets"]["t"])]]


def describe(clf, x, x_adv, y, t, sens, s, cam):
    """Counts of PSR classes among the shown grids and their overlap with the two CAM regions."""
    shown = pse.top_grids(sens.s, s["top_share"])
    classes = sens.classes(s["psr_threshold"])
    layout = sens.layout
    b_nat = layout.blocks(pse.cam_region_at(cam(x, y), s["cam_quantile"])[..., None]).mean(2) > 0.5
    b_adv = layout.blocks(pse.cam_region_at(cam(x_adv, t), s["cam_quantile"])[..., None]).mean(2) > 0.5
    out = []
    for j in range(len(x)):
        sup, pro = shown[j] & (classes[j] == pse.SUPPRESSION), shown[j] & (classes[j] == pse.PROMOTION)

        def share(sel, region, j=j):
            return float(region[j][sel].mean()) if sel.any() else None

        out.append({"true": clf.class_names[y[j]], "target": clf.class_names[t[j]], "shown grids": int(shown[j].sum()),
                    "suppression": int(sup.sum()), "balance": int((shown[j] & (classes[j] == pse.BALANCE)).sum()),
                    "promotion": int(pro.sum()),
                    "suppression in B(x0,t0)": share(sup, b_nat), "shown in B(x0,t0)": share(shown[j], b_nat),
                    "promotion in B(x',t)": share(pro, b_adv), "shown in B(x',t)": share(shown[j], b_adv),
                    "_suppression": np.flatnonzero(sup).tolist(), "_promotion": np.flatnonzero(pro).tolist()})
    return out


def run_unit(ctx, s, unit):
    which, count = unit
    m = ctx["models"][s["models"][0]]
    clf = m["clf"]
    if which == "fig4":
        x, x_adv, y, t, idx = successful(m, s["attack"])
        sens = sensitivity(m, s["attack"], s)
        n = min(count, len(x))
        sl = slice(0, n)
        sub = pse.GridSensitivity(sens.change0[sl], sens.changet[sl], sens.xi, sens.layout, sens.labels[sl],
                                  sens.target[sl], sens.z_adv[sl], sens.perturbed[sl])
        rows = describe(clf, x[sl], x_adv[sl], y[sl], t[sl], sub, s, m["cam"])
        return [{"figure": "Fig. 4", "image": int(idx[j]), **r} for j, r in enumerate(rows)]
    g = ctx["targets"]
    ok = g["success"]
    if not ok.any():
        return []
    sens = pse.grid_sensitivity(clf, g["x"][ok], g["x_adv"][ok], g["y"][ok], g["t"][ok], grids=s["grids"],
                                xi=s["xi"], chunk=s["batch_size"])
    rows = describe(clf, g["x"][ok], g["x_adv"][ok], g["y"][ok], g["t"][ok], sens, s, m["cam"])
    return [{"figure": "Fig. 5", "image": g["image"], **r} for r in rows]


def _jaccard(a, b):
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a | b else None


def summarize(rows, s, ctx):
    five = [r for r in rows if r["figure"] == "Fig. 5"]
    pairs = list(itertools.combinations(five, 2))
    jac = {k: [v for v in (_jaccard(a[f"_{k}"], b[f"_{k}"]) for a, b in pairs) if v is not None]
           for k in ("suppression", "promotion")}
    table = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]

    def avg(key):
        v = [r[key] for r in table if r[key] is not None]
        return f"{np.mean(v):.2f}" if v else "n/a"

    pro_in, shown_adv = avg("promotion in B(x',t)"), avg("shown in B(x',t)")
    notes = setting_notes(ctx, s, kinds=(s["attack"],)) + [
        f"Paper figures: {SOURCE}, Figs. 4-5 (ImageNet, C&W; pictures, no numbers). Shown grids: the top "
        f"{s['top_share']:.0%} by s (Eq. 3); classes at |r| > {s['psr_threshold']:g}; B regions: the top "
        f"{1 - s['cam_quantile']:.0%} of each CAM, a grid counted in B when more than half its pixels are.",
        f"The paper's reading: suppression grids sit on F(x0, t0), promotion grids on F(x', t). Ours, mean over the "
        f"rows: suppression grids in B(x0,t0) {avg('suppression in B(x0,t0)')} (all shown grids "
        f"{avg('shown in B(x0,t0)')}); promotion grids in B(x',t) {pro_in} (all shown {shown_adv}).",
        "Fig. 5's reading: with the target changed, suppression stays and promotion moves. Ours, mean Jaccard overlap "
        "of the grid sets between two targets of the same image: suppression "
        + (f"{np.mean(jac['suppression']):.2f}" if jac["suppression"] else "n/a") + ", promotion "
        + (f"{np.mean(jac['promotion']):.2f}" if jac["promotion"] else "n/a")
        + f" ({len(five)} targets reached).",
    ]
    return Table(rows=table, notes=notes, title=TITLE, figure=lambda path: figure(path, s, ctx))


def figure(path, s, ctx):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_advinterp import interpret

    m = ctx["models"][s["models"][0]]
    clf, cam = m["clf"], m["cam"]
    x, x_adv, y, t, idx = successful(m, s["attack"])
    n4 = min(s["images"], len(x))
    g = ctx["targets"]
    ok = np.flatnonzero(g["success"])
    rows = n4 + (1 if ok.size else 0)
    cols = max(4, 1 + ok.size)
    fig, axes = plt.subplots(rows, cols, figsize=(2.1 * cols, 2.3 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    sens = sensitivity(m, s["attack"], s)
    names = clf.class_names
    for j in range(n4):
        nat, adv = cam(x[j : j + 1], y[j : j + 1])[0], cam(x_adv[j : j + 1], t[j : j + 1])[0]
        interpret.show(axes[j, 0], x[j], nat, title=f"F(x0, '{names[y[j]]}')")
        interpret.show(axes[j, 1], x[j], title=f"x0 #{idx[j]}")
        interpret.show(axes[j, 2], x_adv[j], adv, title=f"F(x', '{names[t[j]]}')")
        draw_psr(axes[j, 3], x_adv[j], adv, sens.classes(s["psr_threshold"])[j],
                 pse.top_grids(sens.s[j : j + 1], s["top_share"])[0], sens.layout, title="PSR on F(x', t)")
    if ok.size:
        r = n4
        k = g["image"]
        interpret.show(axes[r, 0], g["x"][0], cam(g["x"][:1], g["y"][:1])[0],
                       title=f"Fig. 5: F(x0, '{names[m['y'][k]]}')")
        s5 = pse.grid_sensitivity(clf, g["x"][ok], g["x_adv"][ok], g["y"][ok], g["t"][ok], grids=s["grids"],
                                  xi=s["xi"], chunk=s["batch_size"])
        shown = pse.top_grids(s5.s, s["top_share"])
        for c, j in enumerate(ok):
            adv = cam(g["x_adv"][j : j + 1], g["t"][j : j + 1])[0]
            draw_psr(axes[r, 1 + c], g["x_adv"][j], adv, s5.classes(s["psr_threshold"])[c], shown[c], s5.layout,
                     title=f"to '{names[g['t'][j]]}'")
    psr_legend(fig)
    fig.suptitle(f"Figs. 4-5 (ours): {s['attack']} on {s['models'][0]}; PSR of the top {s['top_share']:.0%} grids "
                 "by s", fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(name="fig4_5_psr_cam", paper="xu_pse", title=TITLE, defaults=DEFAULTS, quick=QUICK,
                        prepare=prepare_one, units=units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
