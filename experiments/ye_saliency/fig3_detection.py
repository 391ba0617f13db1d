"""Ye et al., Fig. 3: the detection framework on real inputs, label before -> after and the verdict.

One clean, correctly classified image of the first model and its FGSM and
C&W-L2 examples (the same image), each taken through the detector: the
input and its predicted label c, its Grad-CAM map, the subject-emphasis
image x + theta * W^c, the enhanced emphasis image (zero mean by default,
the paper's Table V setting with theta = 0.1) and the model's label t on it;
the input is flagged when t != c. The table lists, per input, the true and
predicted classes, the label after, the score (> 0 exactly when the label
changed) and the verdict.

    advinterp experiment ye_saliency/fig3_detection [--quick]
    python experiments/ye_saliency/fig3_detection.py --quick
"""

from __future__ import annotations

import numpy as np
from _common import DEFAULTS, QUICK, SOURCE, main, prepare_shown, setting_notes

from keras_advinterp.defenses import SaliencyDetector
from keras_advinterp.interpret import show
from keras_advinterp.runner import Experiment, Table

TITLE = "The saliency detection framework on a clean, an FGSM and a C&W-L2 input (Ye et al., Fig. 3)"
DEFAULTS = {**DEFAULTS, "models": ["shapes"], "images": 1, "theta": 0.1, "enhance": "zero_mean", "center": "auto"}
KINDS = ("clean", "fgsm", "cw")
SET_NAME = {"clean": "clean", "fgsm": "FGSM", "cw": "C&W-L2"}




def detector(ctx, s):
    return SaliencyDetector(ctx["models"][ctx["name"]]["clf"], theta=s["theta"], enhance=s["enhance"],
                            center=s["center"], batch_size=s["batch_size"])


def units(ctx, s):
    return list(KINDS)


def run_unit(ctx, s, kind):
    idx, det = ctx["pick"], detector(ctx, s)
    e, names = det.explain(ctx["models"][ctx["name"]]["sets"][kind][idx]), det.clf.class_names
    return [{"model": ctx["name"], "set": SET_NAME[kind], "image": i, "true": names[ctx["y"][i]],
             "predicted": names[e["label"][j]], "theta": s["theta"], "enhancement": det.enhance,
             "emphasis label": names[e["label_emphasis"][j]], "score": float(e["score"][j]),
             "flagged": bool(e["score"][j] > 0), "verdict": "flagged" if e["score"][j] > 0 else "passed"}
            for j, i in enumerate(idx)]


def summarize(rows, s, ctx):
    notes = [n for n in setting_notes(ctx, s) if not n.startswith("OSPA")] + [
        f"Paper figure: {SOURCE}, Fig. 3 (a diagram of the framework). Ours runs it on the first clean image(s) of "
        f"{ctx['name']} on which both FGSM and C&W-L2 succeed (one per class first; not chosen by verdict), and on "
        "their adversarial versions ('image' is the index in the clean set). Detector: Grad-CAM (our GradCAMXLA) of "
        f"the predicted class c, emphasis image clip(x + {s['theta']:g} * map, 0, 1), enhancement "
        f"{detector(ctx, s).enhance!r} (zero mean re-centres each channel on {detector(ctx, s).center}), label t on "
        "the result; "
        "verdict 'flagged' when t != c (score = best other class's probability minus c's, > 0 exactly then).",
        "A single image per set illustrates the pipeline; detection rates are Tables I-V's business.",
    ]
    return Table(rows=rows, notes=notes, title=TITLE, figure=lambda path: figure(path, s, ctx))


def viewable(img, center=0.5):
    """``img`` as is when inside [0, 1]; else scaled about ``center`` into [0, 1] (for display only)."""
    reach = float(np.max(np.abs(img - center)))
    return img if reach <= 0.5 else center + (img - center) * (0.5 / reach)


def figure(path, s, ctx):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    idx, det = ctx["pick"], detector(ctx, s)
    names, enhanced = det.clf.class_names, det.enhance != "none"
    lines = [(kind, j) for j in range(len(idx)) for kind in KINDS]
    ncol = 4 + enhanced
    fig, axes = plt.subplots(len(lines), ncol, figsize=(2.2 * ncol + 0.6, 2.45 * len(lines) + 0.9), squeeze=False)
    sets = {kind: ctx["models"][ctx["name"]]["sets"][kind][idx] for kind in KINDS}
    explained = {kind: det.explain(x) for kind, x in sets.items()}
    for r, (kind, j) in enumerate(lines):
        x, e = sets[kind], explained[kind]
        c, t, score = names[e["label"][j]], names[e["label_emphasis"][j]], float(e["score"][j])
        ax = axes[r]
        show(ax[0], x[j], title=f"input x\nlabel c: {c}")
        show(ax[1], x[j], e["maps"][j], title=f"Grad-CAM W of '{c}'")
        show(ax[2], e["emphasis"][j], title=f"emphasis x + {s['theta']:g} W" + ("" if enhanced else f"\nlabel t: {t}"))
        if enhanced:
            shown = viewable(e["enhanced"][j], det.center if "zero_mean" in det.enhance else 0.5)
            show(ax[3], shown, title=f"{det.enhance.replace('_', ' ')}\nlabel t: {t}")
        flagged = score > 0
        ax[-1].axis("off")
        ax[-1].text(0.5, 0.5, f"{c} -> {t}\nscore {score:+.3f}\n{'FLAGGED' if flagged else 'passed'}",
                    ha="center", va="center", fontsize=11, transform=ax[-1].transAxes,
                    color="firebrick" if flagged else "darkgreen",
                    bbox={"boxstyle": "round", "fc": "white", "ec": "firebrick" if flagged else "darkgreen"})
        ax[-1].set_title("verdict (t != c ?)", fontsize=8)
        ax[0].set_ylabel(f"{SET_NAME[kind]}\n(image #{idx[j]}, true {names[ctx['y'][idx[j]]]})", fontsize=9)
    extra = (";\nzero-mean images can leave [0, 1]: those are shown scaled about the centre into [0, 1] for viewing"
             if "zero_mean" in det.enhance else "")
    fig.suptitle(f"Fig. 3 (ours): the detector on real inputs, model {ctx['name']}, theta {s['theta']:g}, "
                 f"enhancement {det.enhance}\nflagged when the label t on the enhanced emphasis image differs from "
                 f"the input's label c{extra}", fontsize=9)
    for ax in axes.flat:
        for im in ax.images:
            im.set_interpolation("nearest")  # crisp pixels at any zoom (and a smaller PNG)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(name="fig3_detection", paper="ye_saliency", title=TITLE, defaults=DEFAULTS, quick=QUICK,
                        prepare=prepare_shown, units=units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
