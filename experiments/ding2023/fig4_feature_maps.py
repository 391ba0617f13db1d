"""Ding et al., Fig. 4: clean vs adversarial feature maps of the four most different maps.

The four feature maps with the largest Eq. 4 RMSE between clean and
DAmageNet-style images (the head of Table 4's list) are drawn for one image
per class: the clean image's map above its adversarial counterpart's, on
one colour scale per pair. The table lists each map's RMSE over the set and
on each drawn image.

    advinterp experiment ding2023/fig4_feature_maps [--quick]
    python experiments/ding2023/fig4_feature_maps.py --quick
"""

from __future__ import annotations

import _common
import _surgery
import numpy as np

from keras_advinterp import surgery
from keras_advinterp.runner import Experiment, Table

TITLE = "Clean vs adversarial feature maps of the four most different maps (Ding et al., Fig. 4)"
KIND = "damagenet"
DEFAULTS = {**_common.DEFAULTS, "maps": 4, "images": 3}


def _images(ctx, s):
    return _common.one_per_class(ctx, KIND)[:s["images"]]


def run_unit(ctx, s, unit):
    res = _surgery.ranking(ctx, unit)
    rows = []
    for rank, c in enumerate(res.top(s["maps"]), 1):
        per_image = res.per_image[c.layer][:, c.channel]
        row = {"rank": rank, "feature map": c.name, "RMSE (set mean)": c.rmse}
        for i in _images(ctx, s):
            row[f"RMSE image {i} ({ctx['clf'].class_names[int(ctx['y'][i])]})"] = float(per_image[i])
        row["feature map (paper)"], row["RMSE (paper)"] = _surgery.PAPER_MOST[unit][rank - 1]
        rows.append(row)
    return rows


def summarize(rows, s, ctx):
    notes = _common.setting_notes(ctx, s) + [
        _surgery.rank_note(ctx),
        f"Drawn: the {s['maps']} most different maps of the DAmageNet-style set (Table 4's head, as the paper) for "
        f"{s['images']} images (one per class among those the attack fooled), clean above adversarial, one colour "
        "scale per pair. The paper's Fig. 4 shows four ResNet50 pairs (pool_1_pad / activation_1 maps) of one "
        f"ImageNet image and finds them hard to tell apart by eye ({_common.SOURCE}).",
    ]
    return Table(rows=rows, notes=notes, title=TITLE, figure=lambda path: _figure(path, ctx, s, rows))


def _figure(path, ctx, s, rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    idx = _images(ctx, s)
    chosen = _surgery.ranking(ctx, KIND).top(s["maps"])
    layers = sorted({c.layer for c in chosen})
    xc, xa = ctx["x"][idx], ctx["sets"][KIND].x_adv[idx]
    clean, adv = surgery.capture(ctx["clf"], layers, xc), surgery.capture(ctx["clf"], layers, xa)
    adv_names = ctx["clf"].predict(xa).argmax(1)
    n_col = 1 + len(chosen)
    fig, axes = plt.subplots(2 * len(idx), n_col, figsize=(1.9 * n_col, 3.8 * len(idx)), squeeze=False)
    for r, i in enumerate(idx):
        top, bottom = axes[2 * r], axes[2 * r + 1]
        top[0].imshow(xc[r])
        top[0].set_title(f"clean: {ctx['clf'].class_names[int(ctx['y'][i])]}", fontsize=8)
        bottom[0].imshow(xa[r])
        bottom[0].set_title(f"adversarial: {ctx['clf'].class_names[adv_names[r]]}", fontsize=8)
        for j, c in enumerate(chosen, 1):
            a, b = clean[c.layer][r, ..., c.channel], adv[c.layer][r, ..., c.channel]
            vmax = float(max(a.max(), b.max(), 1e-6))
            top[j].imshow(a, cmap="viridis", vmin=0, vmax=vmax)
            bottom[j].imshow(b, cmap="viridis", vmin=0, vmax=vmax)
            rmse = float(np.sqrt(np.mean((a - b) ** 2)))
            top[j].set_title(c.name, fontsize=8)
            bottom[j].set_title(f"RMSE {rmse:.3g}", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(TITLE, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(name="fig4_feature_maps", paper="ding2023", title=TITLE, defaults=DEFAULTS,
                        quick=_common.QUICK, prepare=_common.prepare, units=lambda ctx, s: [KIND],
                        run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    _common.main(EXPERIMENT, __doc__)
