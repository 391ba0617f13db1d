"""Xu et al., Fig. 7: are the units most sensitive to an attack also the interpretable ones?

Network dissection of a few layers (shallow to deep) over the shapes set's
concept masks (Eq. 7), each unit's sensitivity v(k) = E ||M_k(x) - M_k(x')||_2
under untargeted Linf PGD (Eq. 8), then per layer (seeds/001_13ab3436c62e81d7.txt,
Sec. 5):

- Fig. 7a: the permutation p-value of the summed IoU(k) of the top-N most
  sensitive units against N units drawn at random, for several N;
- Fig. 7b: how many concept detectors (max_c IoU(k, c) > 0.04) the top-N
  sensitive units hold, per concept category (shape, colour, texture), with
  the count expected of N random units beside it.

    advinterp experiment xu_pse/fig7_dissection [--quick]
    python experiments/xu_pse/fig7_dissection.py --quick
"""

from __future__ import annotations

import numpy as np
from _common import DISSECTION_DEFAULTS, SOURCE, dissect_layer, dissection_notes, main, prepare_dissections

from keras_advinterp.analysis import dissection
from keras_advinterp.runner import Experiment, Table

TITLE = "Sensitivity and interpretability of units under PGD (Xu et al., Fig. 7)"
CATEGORIES = ("shape", "colour", "texture")
# The paper's layer slots, shallow to deep (ResNet_152), and what Sec. 5 reports for them. The paper gives
# Fig. 7 as plots only: no p-values or detector counts are quoted in its text, so none are copied here.
PAPER_LAYERS = ("conv2_3", "conv3_8", "conv4_36", "conv5_3")
PAPER_FINDING = {
    "conv2_3": "shallow: weaker link (p higher than deep layers); colour / texture detectors dominate",
    "conv3_8": "shallow: weaker link (p higher than deep layers); colour / texture detectors dominate",
    "conv4_36": "deep: stronger link (p < 0.05); object / part detectors emerge",
    "conv5_3": "deep: stronger link (p < 0.05); object / part detectors emerge",
}
DEFAULTS = {**{k: v for k, v in DISSECTION_DEFAULTS.items() if k != "quantile"}, "quantiles": [0.995, 0.95],
            "top_n": [4, 8, 12, 16, 24, 32], "detector_n": 12, "draws": 10000}
QUICK = {"models": ["shapes"], "limit": 48, "layers": {"shapes": ["block1_out", "features"]},
         "pgd": {"eps": 8 / 255, "steps": 5}, "top_n": [4, 8], "detector_n": 8, "draws": 500}


def prepare(s):
    qs = s["quantiles"]
    if not isinstance(qs, list) or not qs or not all(isinstance(q, float) and 0 < q < 1 for q in qs):
        raise ValueError(f"quantiles must be a non-empty list of numbers in (0, 1). Received: quantiles={qs!r}")
    return prepare_dissections(s)


def units(ctx, s):
    qs = s["quantiles"]
    return [[name, layer, q] for name, m in ctx["models"].items() for q in qs for layer in m["layers"]]


def run_unit(ctx, s, unit):
    """Every unit of one layer at one threshold quantile: v(k), IoU(k), its top concept, whether a detector."""
    name, layer, q = unit
    m = ctx["models"][name]
    diss = dissect_layer(m, layer, s, q)
    x = m["data"].x[m["keep"]]
    v = dissection.unit_sensitivity(m["clf"], layer, x, m["x_adv"], diss.thresholds, batch_size=s["batch_size"])
    det = diss.detectors(s["detector_iou"])
    return [{"model": name, "layer": layer, "quantile": q, "unit": k, "v": float(v[k]),
             "iou": float(diss.iou[k].mean()),
             "concept": diss.concepts[int(det["concept"][k])], "category": diss.categories[int(det["concept"][k])],
             "top iou": float(det["iou"][k]), "detector": bool(det["detector"][k])}
            for k in range(len(v))]


def layer_summary(mine: list[dict], s: dict) -> dict:
    """p-values of the top-N sensitive units (N up to half the layer) and their detectors per category."""
    mine = sorted(mine, key=lambda r: r["unit"])
    v = np.array([r["v"] for r in mine])
    iou = np.array([r["iou"] for r in mine])
    k = len(mine)
    out = {"units": k, "detectors": sum(r["detector"] for r in mine), "mean v": float(v.mean()),
           "Spearman v~IoU": spearman(v, iou)}
    for n in s["top_n"]:
        out[f"p N={n}"] = (dissection.sensitivity_p_value(v, iou, n, draws=s["draws"], seed=s["seed"])
                           if n <= k // 2 else None)
    n = min(s["detector_n"], k)
    top = [mine[i] for i in np.argsort(-v, kind="stable")[:n]]
    out["top N"] = n
    for cat in CATEGORIES:
        out[f"{cat} detectors in top N"] = sum(r["detector"] and r["category"] == cat for r in top)
        all_cat = sum(r["detector"] and r["category"] == cat for r in mine)
        out[f"{cat} expected of N random"] = round(all_cat * n / k, 2)
    return out


def spearman(a, b) -> float | None:
    """Rank correlation (average ranks for ties); None when either side is constant."""
    from scipy.stats import rankdata

    ra, rb = rankdata(a), rankdata(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def summarize(rows, s, ctx):
    out = []
    for q in s["quantiles"]:
        for name, m in ctx["models"].items():
            for i, layer in enumerate(m["layers"]):
                mine = [r for r in rows if r["model"] == name and r["layer"] == layer and r["quantile"] == q]
                slot = PAPER_LAYERS[round(i * (len(PAPER_LAYERS) - 1) / max(len(m["layers"]) - 1, 1))]
                out.append({"model": name, "layer": layer, "quantile": q, "paper layer": slot,
                            **layer_summary(mine, s), "paper finding": PAPER_FINDING[slot]})
    notes = dissection_notes(ctx, s) + [
        "Attack: untargeted as in the paper; v(k) averages over every attacked pair, successful or not.",
        f"Paper: {SOURCE}, Sec. 5 and Fig. 7 (plots only; the text reports p < 0.05 in most cases, a stronger "
        "link as N grows and in deep layers than in shallow ones, and more object / part detectors in deep layers "
        "while colour / texture dominate shallow ones). Paper layers are matched to ours by depth order.",
        f"p N=n: P(n random units' summed IoU(k) >= the top-n sensitive units'), {s['draws']} draws (seeded), "
        "shown for n up to half the layer's units (with more the top set is most of the layer and p says little); "
        f"the paper's N runs 10-100 of 256-2048 units. Detector counts are over the top {s['detector_n']} "
        "sensitive units (the paper: 100); 'expected of N random' is the layer's detectors of that category "
        "scaled by N / units. Spearman v~IoU: rank correlation of v(k) and IoU(k) over the layer's units.",
        "Two threshold quantiles: at 0.995 a unit's masks cover 0.5 % of the set's pixels, too few for an IoU above "
        "0.04 with a background texture (about a sixth of the set's pixels each), so texture detectors appear only "
        "at 0.95.",
    ]
    return Table(rows=out, notes=notes, title=TITLE, figure=lambda path: figure(path, out, s))


def figure(path, rows, s):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["model"] for r in rows))
    qs = s["quantiles"]
    fig, axes = plt.subplots(2, len(names), figsize=(5.6 * len(names), 7.4), squeeze=False)
    colours = {"shape": "tab:red", "colour": "tab:orange", "texture": "tab:green"}
    styles = ["-", "--", ":", "-."]
    for j, name in enumerate(names):
        ax = axes[0, j]
        layers = list(dict.fromkeys(r["layer"] for r in rows if r["model"] == name))
        for qi, q in enumerate(qs):
            for li, layer in enumerate(layers):
                r = next(r for r in rows if r["model"] == name and r["layer"] == layer and r["quantile"] == q)
                ns = [n for n in s["top_n"] if r[f"p N={n}"] is not None]
                ax.plot(ns, [r[f"p N={n}"] for n in ns], marker="o", ms=3, color=f"C{li}", ls=styles[qi % 4],
                        label=f"{layer} ({r['units']}), q={q:g}")
        ax.axhline(0.05, color="grey", ls=":", lw=1, label="p = 0.05")
        ax.set_yscale("log")
        ax.set_xlabel("N (top sensitive units)")
        ax.set_ylabel("p-value")
        ax.set_title(f"(a) {name}: interpretability of top-N sensitive units", fontsize=9)
        ax.legend(fontsize=6, ncol=2)
        ax = axes[1, j]
        width = 0.8 / len(qs)
        for qi, q in enumerate(qs):
            mine = [r for r in rows if r["model"] == name and r["quantile"] == q]
            xs = np.arange(len(mine)) + (qi - (len(qs) - 1) / 2) * width
            bottom = np.zeros(len(mine))
            for cat in CATEGORIES:
                h = np.array([r[f"{cat} detectors in top N"] for r in mine], float)
                ax.bar(xs, h, width * 0.9, bottom=bottom, color=colours[cat], hatch="//" if qi else None,
                       edgecolor="k", lw=0.4, label=f"{cat}, q={q:g}")
                bottom += h
            expected = [sum(r[f"{c} expected of N random"] for c in CATEGORIES) for r in mine]
            ax.scatter(xs, expected, color="k", marker="_", s=200, zorder=3,
                       label="all categories, N random" if qi == 0 else None)
        mine = [r for r in rows if r["model"] == name and r["quantile"] == qs[0]]
        ax.set_xticks(np.arange(len(mine)), [f"{r['layer']}\n(paper {r['paper layer']})" for r in mine], fontsize=7)
        ax.set_ylabel(f"concept detectors among top {mine[0]['top N']}")
        ax.set_ylim(0, 1.3 * max(r["top N"] for r in mine))
        ax.set_title(f"(b) {name}: detectors among the most sensitive units", fontsize=9)
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(name="fig7_dissection", paper="xu_pse", title=TITLE, defaults=DEFAULTS, quick=QUICK,
                        prepare=prepare, units=units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
