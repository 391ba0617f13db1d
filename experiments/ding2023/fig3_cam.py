"""Ding et al., Fig. 3: CAM of clean images and of their adversarial versions.

One clean image per class (the first whose DAmageNet-style and PGD versions
both fool the model), each shown with its CAM for the class the model
predicts on it, then its DAmageNet-style and PGD versions with theirs: the
paper's observation is that the adversarial image's attended region
differs from the clean one's. The table measures the difference per shown
image and over every fooled image of each set: the overlap (IoU) of the two
maps' top-20% regions, the share of the adversarial map's mass inside the
clean region, and the maps' correlation.

    advinterp experiment ding2023/fig3_cam [--quick]
    python experiments/ding2023/fig3_cam.py --quick
"""

from __future__ import annotations

import numpy as np
from _common import DEFAULTS, QUICK, SET_NAMES, SOURCE, main, prepare, setting_notes
from fig2_histograms import KINDS, both_fooled

from keras_advinterp import interpret
from keras_advinterp.analysis import cam_region
from keras_advinterp.runner import Experiment, Table

TITLE = "CAM of clean vs adversarial images (Ding et al., Fig. 3)"
DEFAULTS = {**DEFAULTS, "images": 6, "region_top": 0.2, "interpreter": "cam"}
MEASURES = ("region IoU", "adversarial mass in clean region (%)", "map correlation")


def maps(ctx, s, x):
    """CAM of each image for the class the model predicts on it, and that class."""
    pred = ctx["clf"].predict(x).argmax(1)
    return interpret.get(s["interpreter"], ctx["clf"])(x, pred), pred


def compare(clean, adv, top) -> dict:
    """Per image: IoU of the top regions, adversarial map mass in the clean region (%), Pearson correlation."""
    rc, ra = cam_region(clean, top), cam_region(adv, top)
    iou = (rc & ra).sum((1, 2)) / np.maximum((rc | ra).sum((1, 2)), 1)
    mass = 100 * (adv * rc).sum((1, 2)) / np.maximum(adv.sum((1, 2)), 1e-12)
    a = clean.reshape(len(clean), -1) - clean.reshape(len(clean), -1).mean(1, keepdims=True)
    b = adv.reshape(len(adv), -1) - adv.reshape(len(adv), -1).mean(1, keepdims=True)
    corr = (a * b).sum(1) / np.maximum(np.sqrt((a * a).sum(1) * (b * b).sum(1)), 1e-12)
    return dict(zip(MEASURES, (iou, mass, corr)))


def units(ctx, s):
    return [[kind, part] for kind in KINDS for part in ("shown", "all")]


def run_unit(ctx, s, unit):
    kind, part = unit
    st = ctx["sets"][kind]
    idx = both_fooled(ctx, s["images"]) if part == "shown" else [int(i) for i in np.flatnonzero(st.success)]
    mc, pc = maps(ctx, s, ctx["x"][idx])
    ma, pa = maps(ctx, s, st.x_adv[idx])
    m = compare(mc, ma, s["region_top"])
    names = ctx["clf"].class_names
    return [{"set": SET_NAMES[kind], "part": part, "image": i, "clean label": names[pc[k]],
             "adversarial label": names[pa[k]], **{key: round(float(v[k]), 4) for key, v in m.items()}}
            for k, i in enumerate(idx)]


def summarize(rows, s, ctx):
    table = []
    for kind in KINDS:
        name = SET_NAMES[kind]
        table += [{k: v for k, v in r.items() if k != "part"} for r in rows if r["set"] == name
                  and r["part"] == "shown"]
        every = [r for r in rows if r["set"] == name and r["part"] == "all"]
        table.append({"set": name, "image": f"mean of {len(every)} fooled", "clean label": "all",
                      "adversarial label": None,
                      **{k: round(float(np.mean([r[k] for r in every])), 4) if every else None for k in MEASURES}})
    notes = setting_notes(ctx, s) + [
        f"Paper figure: {SOURCE}, Fig. 3 (ImageNet validation images and their DAmageNet versions, CAM of ResNet50; "
        "pictures only, no numbers, so there is no paper column). Ours adds the PGD set.",
        f"Ours: the first {s['images']} clean images (one per class first) whose versions in both sets fool the model "
        "('image' is the index in the clean set), then the mean over every image each attack fooled. Maps: "
        f"{s['interpreter'].upper()} of the class predicted on the image shown (clean: the true class; adversarial: "
        "the wrong one), min-max scaled to [0, 1].",
        f"Region IoU: overlap of the two maps' top {s['region_top']:.0%} regions (the 'red' area; 1 = the same "
        f"region, {s['region_top'] / (2 - s['region_top']):.2f} expected for unrelated random regions); adversarial "
        f"mass in clean region: share of the adversarial map's sum inside the clean top region ({s['region_top']:.0%} "
        "for a flat map); map correlation: Pearson correlation of the two maps.",
    ]
    return Table(rows=table, notes=notes, title=TITLE, figure=lambda path: figure(path, s, ctx))


def figure(path, s, ctx):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    idx = both_fooled(ctx, s["images"])
    names = ctx["clf"].class_names
    groups = [("clean", ctx["x"][idx], None)] + [(SET_NAMES[k].split(" (")[0], ctx["sets"][k].x_adv[idx], k)
                                                 for k in KINDS]
    n = len(idx)
    fig, axes = plt.subplots(2 * len(groups), n, figsize=(1.75 * n + 0.9, 1.85 * 2 * len(groups) + 0.6),
                             squeeze=False)
    clean_maps = None
    for g, (label, x, kind) in enumerate(groups):
        m, pred = maps(ctx, s, x)
        if kind is None:
            clean_maps = m
            iou = None
        else:
            iou = compare(clean_maps, m, s["region_top"])["region IoU"]
        for j, i in enumerate(idx):
            wrong = pred[j] != ctx["y"][i]
            interpret.show(axes[2 * g, j], x[j], title=f"#{i} {names[pred[j]]}")
            axes[2 * g, j].title.set_color("firebrick" if wrong else "black")
            interpret.show(axes[2 * g + 1, j], x[j], m[j],
                           title=f"CAM '{names[pred[j]]}'" + ("" if iou is None else f"\nIoU {iou[j]:.2f}"))
        axes[2 * g, 0].set_ylabel(f"{label}\nimage", fontsize=9)
        axes[2 * g + 1, 0].set_ylabel(f"{label}\nCAM", fontsize=9)
    for ax in axes.flat:
        for im in ax.images:
            im.set_interpolation("nearest")
    fig.suptitle(f"Fig. 3 (ours): CAM of clean images and of their DAmageNet-style and PGD versions\n"
                 f"each for the class predicted on it (wrong labels in red); IoU = overlap of the top "
                 f"{s['region_top']:.0%} regions with the clean map's", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


EXPERIMENT = Experiment(name="fig3_cam", paper="ding2023", title=TITLE, defaults=DEFAULTS, quick={**QUICK},
                        prepare=prepare, units=units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
