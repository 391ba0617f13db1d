"""Ye et al., Table IV: feature squeezing (Xu et al.) squeezer by squeezer, on clean and FGSM images.

For each squeezer (bit depth 1-6, median 2x2 and 3x3, non-local means
11-3-2 ... 13-3-4) and the paper's optimal combination (5-bit, 2x2,
11-3-4): the share of clean images whose label the squeezer leaves
unchanged (OSPA) and the share of FGSM examples whose label it changes (the
paper's rule), beside the paper's VGG16 figures. Two columns add Xu et
al.'s own rule: the L1 distance between predictions, thresholded at 5 %
false positives on half of the clean images and measured on the other half.

    advinterp experiment ye_saliency/table4_feature_squeezing [--quick]
    python experiments/ye_saliency/table4_feature_squeezing.py --quick
"""

from __future__ import annotations

import numpy as np
from _common import DEFAULTS, QUICK, SOURCE, batch, batch_units, main, prepare, setting_notes

from keras_advinterp.defenses import FeatureSqueezing, roc_auc, threshold_at_fpr
from keras_advinterp.runner import Experiment, Table

TITLE = "Feature squeezing, each squeezer and the combination, against FGSM (Ye et al., Table IV)"

# (method, parameters, squeezer specs, paper OSPA %, paper FGSM detection %), VGG16.
ROWS = [
    ("Image bit depth", "1-bit", ["bit_depth_1"], 13.0, 8.6),
    ("Image bit depth", "2-bit", ["bit_depth_2"], 55.8, 24.1),
    ("Image bit depth", "3-bit", ["bit_depth_3"], 84.2, 20.7),
    ("Image bit depth", "4-bit", ["bit_depth_4"], 94.0, 2.9),
    ("Image bit depth", "5-bit", ["bit_depth_5"], 97.7, 3.5),
    ("Image bit depth", "6-bit", ["bit_depth_6"], 99.5, 0.6),
    ("Median filtering", "2*2", ["median_2x2"], 86.1, 20.1),
    ("Median filtering", "3*3", ["median_3x3"], 76.7, 21.8),
    ("Nonlocal mean filtering", "11-3-2", ["non_local_means_11_3_2"], 96.3, 31.0),
    ("Nonlocal mean filtering", "11-3-4", ["non_local_means_11_3_4"], 90.7, 36.8),
    ("Nonlocal mean filtering", "13-3-2", ["non_local_means_13_3_2"], 96.7, 32.2),
    ("Nonlocal mean filtering", "13-3-4", ["non_local_means_13_3_4"], 91.2, 36.7),
    ("Optimal combination", "5-bit, 2*2, 11-3-4", ["bit_depth_5", "median_2x2", "non_local_means_11_3_4"], 78.6, 50.6),
]
SQUEEZERS = list(dict.fromkeys(spec for row in ROWS for spec in row[2]))

DEFAULTS = {**DEFAULTS, "models": ["shapes"], "fpr": 0.05}


def units(ctx, s):
    return batch_units(ctx, s, kinds=("clean", "fgsm"))


def run_unit(ctx, s, unit):
    clf = ctx["models"][unit[0]]["clf"]
    out = FeatureSqueezing(clf, SQUEEZERS, batch_size=s["batch_size"]).per_squeezer(batch(ctx, s, unit))
    original = out["original_label"]
    return [{"kind": unit[1], "index": unit[2] + i,
             "l1": [float(out[name]["l1"][i]) for name in SQUEEZERS],
             "changed": [bool(out[name]["label"][i] != original[i]) for name in SQUEEZERS]}
            for i in range(len(original))]


def summarize(rows, s, ctx):
    col = {name: j for j, name in enumerate(SQUEEZERS)}
    clean = [r for r in rows if r["kind"] == "clean"]
    adv = [r for r in rows if r["kind"] == "fgsm"]
    fit_half, test_half = clean[0::2], clean[1::2]
    table = []
    for method, params, specs, paper_ospa, paper_fgsm in ROWS:
        js = [col[name] for name in specs]

        def changed(rs):
            return np.array([any(r["changed"][j] for j in js) for r in rs], bool)

        def score(rs):
            return np.array([max(r["l1"][j] for j in js) for r in rs])

        threshold = threshold_at_fpr(score(fit_half), s["fpr"])
        table.append({
            "method": method, "parameters": params,
            "OSPA": 100 * (1 - changed(clean).mean()), "OSPA (paper)": paper_ospa,
            "FGSM": 100 * changed(adv).mean(), "FGSM (paper)": paper_fgsm,
            f"FGSM, L1 rule at {s['fpr']:.0%} FPR": 100 * float(np.mean(score(adv) > threshold)),
            "held-out clean FPR, L1 rule": 100 * float(np.mean(score(test_half) > threshold)),
            "ROC-AUC (L1)": roc_auc(score(clean), score(adv)),
        })
    notes = setting_notes(ctx, s) + [
        f"Paper figures: {SOURCE}, Table IV (VGG16, FGSM); values in %. OSPA and FGSM use the paper's rule: an "
        "input is flagged when a squeezer changes its predicted label (for the combination, when any of its "
        "squeezers does).",
        f"The L1 columns use Xu et al.'s rule (max L1 distance between softmax outputs over the squeezers), its "
        f"threshold fit at {s['fpr']:.0%} false positives on the even-indexed clean images and its false-positive "
        f"rate measured on the odd-indexed ones ({len(fit_half)} / {len(test_half)} images).",
        "Squeezers: bit depth and the median filter run in TensorFlow and equal ART's FeatureSqueezing and "
        "SpatialSmoothing outputs (tests/defenses/test_squeeze.py); non-local means is OpenCV's "
        "fastNlMeansDenoisingColored (search window - patch size - strength), as Xu et al.'s code.",
    ]
    return Table(rows=table, notes=notes, title=TITLE, figure=lambda path: _figure(path, table))


def _figure(path, table):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r["parameters"] for r in table]
    y = np.arange(len(table))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, key in zip(axes, ("OSPA", "FGSM")):
        ax.barh(y - 0.2, [r[key] for r in table], 0.4, label="ours")
        ax.barh(y + 0.2, [r[f"{key} (paper)"] for r in table], 0.4, label="paper (VGG16)", alpha=0.6)
        ax.set_title(key if key == "OSPA" else "FGSM detection (label changed)", fontsize=9)
        ax.set_xlim(0, 100)
        ax.grid(alpha=0.3, axis="x")
        ax.legend(fontsize=7)
    axes[0].set_yticks(y, labels, fontsize=7)
    axes[0].invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(name="table4_feature_squeezing", paper="ye_saliency", title=TITLE, defaults=DEFAULTS,
                        quick=QUICK, prepare=prepare, units=units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
