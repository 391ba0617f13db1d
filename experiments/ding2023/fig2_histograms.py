"""Ding et al., Fig. 2: pixel-value histograms of clean images and of their adversarial versions.

A few clean images (one per class, the first whose DAmageNet-style and PGD
versions both fool the model) beside their per-channel histograms of 8-bit
pixel values, and the same for both adversarial versions (the clean
histogram drawn faintly behind). The paper's reading: the distributions
differ only a little. The table measures how little, per shown image and
over every fooled image of each set: the mean and largest |adversarial -
clean| in gray values (the paper gives 4.2 for DAmageNet on average, Sec.
4.1), the share of pixel values that changed, and the histogram distance
(the share of pixel values that would have to move to another bin).

    advinterp experiment ding2023/fig2_histograms [--quick]
    python experiments/ding2023/fig2_histograms.py --quick
"""

from __future__ import annotations

import numpy as np
from _common import DEFAULTS, PAPER_SET, QUICK, SET_NAMES, SOURCE, main, prepare, setting_notes

from keras_advinterp.analysis import pixel_histograms
from keras_advinterp.runner import Experiment, Table

TITLE = "Pixel-value histograms of clean vs adversarial images (Ding et al., Fig. 2)"
KINDS = ("damagenet", "pgd")
PAPER_MEAN_DIFF = {"damagenet": 4.2}  # Sec. 4.1: average difference in gray values per pixel
DEFAULTS = {**DEFAULTS, "images": 4, "bins": 256}


def both_fooled(ctx, n: int) -> list[int]:
    """The first ``n`` clean images (one per class first) whose versions in every set fool the model."""
    ok = np.logical_and.reduce([ctx["sets"][k].success for k in KINDS])
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        raise ValueError("no image fooled by both attacks: raise limit or the attack strength")
    first = [int(i) for c in range(ctx["clf"].num_classes) for i in idx[ctx["y"][idx] == c][:1]]
    rest = [int(i) for i in idx if int(i) not in first]
    return sorted(first[:n]) + rest[:max(0, n - len(first))]


def measures(x, x_adv, bins: int) -> dict:
    """Per image: mean and max |difference| (gray values), share of changed values, histogram distance (%)."""
    d = np.abs(np.rint(x_adv * 255) - np.rint(x * 255))
    hc, _ = pixel_histograms(x, bins)
    ha, _ = pixel_histograms(x_adv, bins)
    total = hc.sum(axis=(1, 2))
    return {"mean |diff| (gray values)": d.mean(axis=(1, 2, 3)), "max |diff|": d.max(axis=(1, 2, 3)),
            "changed values (%)": 100 * (d > 0).mean(axis=(1, 2, 3)),
            "histogram distance (%)": 100 * np.abs(ha - hc).sum(axis=(1, 2)) / (2 * total)}


def units(ctx, s):
    return [[kind, part] for kind in KINDS for part in ("shown", "all")]


def run_unit(ctx, s, unit):
    kind, part = unit
    st = ctx["sets"][kind]
    idx = both_fooled(ctx, s["images"]) if part == "shown" else [int(i) for i in np.flatnonzero(st.success)]
    m = measures(ctx["x"][idx], st.x_adv[idx], s["bins"])
    names = ctx["clf"].class_names
    pred = ctx["clf"].predict(st.x_adv[idx]).argmax(1)
    rows = []
    for k, i in enumerate(idx):
        row = {"set": SET_NAMES[kind], "part": part, "image": i, "class": names[ctx["y"][i]],
               "adversarial label": names[pred[k]]}
        row.update({key: round(float(v[k]), 3) for key, v in m.items()})
        rows.append(row)
    return rows


def summarize(rows, s, ctx):
    table = []
    keys = list(measures(ctx["x"][:1], ctx["x"][:1], s["bins"]))
    for kind in KINDS:
        name = SET_NAMES[kind]
        for r in rows:
            if r["set"] == name and r["part"] == "shown":
                table.append({k: v for k, v in r.items() if k != "part"}
                             | {"mean |diff| (paper)": None})
        every = [r for r in rows if r["set"] == name and r["part"] == "all"]
        mean = {k: round(float(np.mean([r[k] for r in every])), 3) if every else None for k in keys}
        mean["max |diff|"] = max((r["max |diff|"] for r in every), default=None)
        table.append({"set": name, "image": f"mean of {len(every)} fooled", "class": "all",
                      "adversarial label": None, **mean,
                      "mean |diff| (paper)": PAPER_MEAN_DIFF.get(kind)})
    notes = setting_notes(ctx, s) + [
        f"Paper figure: {SOURCE}, Fig. 2 (ImageNet validation images and their DAmageNet versions; histograms only, "
        "no numbers). The paper's only figure for the size of the change: DAmageNet images differ from their clean "
        f"images by 4.2 gray values per pixel on average (Sec. 4.1), set beside our {SET_NAMES['damagenet']} mean; "
        f"it gives none for its {PAPER_SET['pgd']}.",
        f"Ours: the first {s['images']} clean images (one per class first) whose versions in both sets fool the "
        "model, then the mean over every image each attack fooled. Values in 8-bit gray levels (pixels rounded to "
        "0..255); 'changed values' = share of (pixel, channel) values that differ; 'histogram distance' = half the "
        f"L1 distance of the per-channel {s['bins']}-bin histograms over the pixel count (0: same histogram, 100: "
        "disjoint). Max |diff| is bounded by each attack's eps (8/255: 8 gray values).",
    ]
    return Table(rows=table, notes=notes, title=TITLE, figure=lambda path: figure(path, s, ctx))


def figure(path, s, ctx):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    idx = both_fooled(ctx, s["images"])
    names = ctx["clf"].class_names
    x = ctx["x"][idx]
    groups = [("clean", x, None)] + [(SET_NAMES[k].split(" (")[0], ctx["sets"][k].x_adv[idx], k) for k in KINDS]
    fig, axes = plt.subplots(len(idx), 2 * len(groups), figsize=(2.2 * 2 * len(groups), 1.9 * len(idx) + 0.8),
                             squeeze=False, gridspec_kw={"width_ratios": [1, 1.6] * len(groups)})
    hc, edges = pixel_histograms(x, s["bins"])
    centers = (edges[:-1] + edges[1:]) / 2
    colors = ("tab:red", "tab:green", "tab:blue") if x.shape[-1] == 3 else ("k",)
    for g, (label, imgs, kind) in enumerate(groups):
        h, _ = pixel_histograms(imgs, s["bins"])
        pred = ctx["clf"].predict(imgs).argmax(1)
        for j, i in enumerate(idx):
            ax_img, ax_h = axes[j, 2 * g], axes[j, 2 * g + 1]
            ax_img.imshow(np.clip(imgs[j], 0, 1) if imgs.shape[-1] == 3 else imgs[j, ..., 0], cmap="gray",
                          interpolation="nearest")
            ax_img.set_xticks([])
            ax_img.set_yticks([])
            ax_img.set_title(f"#{i} {label}: {names[pred[j]]}", fontsize=7,
                             color="firebrick" if pred[j] != ctx["y"][i] else "black")
            top = max(np.sort(hc[j, c])[-3] for c in range(hc.shape[1]))  # the clean image's third highest bin
            for c, color in enumerate(colors):
                if kind is not None:
                    ax_h.plot(centers, hc[j, c], color="0.75", lw=0.6)
                ax_h.plot(centers, h[j, c], color=color, lw=0.6)
            ax_h.set_ylim(0, top * 1.15 + 1)
            ax_h.set_xlim(0, 256)
            ax_h.tick_params(labelsize=6)
            if kind is not None:
                d = np.abs(np.rint(imgs[j] * 255) - np.rint(x[j] * 255)).mean()
                ax_h.set_title(f"mean |diff| {d:.1f} gray values", fontsize=7)
            else:
                ax_h.set_title("histogram (R, G, B)", fontsize=7)
    fig.suptitle("Fig. 2 (ours): images and per-channel pixel-value histograms, clean | DAmageNet-style | PGD "
                 "(clean histogram in grey behind the adversarial ones;\ny axis cut at the clean image's third highest "
                 "bin, the same in a row: flat backgrounds spike)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


EXPERIMENT = Experiment(name="fig2_histograms", paper="ding2023", title=TITLE, defaults=DEFAULTS, quick={**QUICK},
                        prepare=prepare, units=units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
