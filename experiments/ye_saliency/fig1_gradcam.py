"""Ye et al., Fig. 1: Grad-CAM maps of clean images and of their FGSM and C&W-L2 adversarial versions.

A few clean, correctly classified images of the first model and the FGSM and
targeted C&W-L2 examples made from those same images, each shown with its
Grad-CAM map (of the class the model predicts on it) overlaid: the paper's
observation is that the adversarial image's activated region differs from
the clean one's. The table lists, per shown image, the true and predicted
classes, the label on its subject-emphasis image (theta, no enhancement),
the detector's score and whether it is flagged.

    advinterp experiment ye_saliency/fig1_gradcam [--quick]
    python experiments/ye_saliency/fig1_gradcam.py --quick
"""

from __future__ import annotations

from _common import DEFAULTS, QUICK, SOURCE, main, prepare_shown, setting_notes

from keras_advinterp.defenses import SaliencyDetector
from keras_advinterp.interpret import show
from keras_advinterp.runner import Experiment, Table

TITLE = "Grad-CAM of clean images and their FGSM and C&W-L2 versions (Ye et al., Fig. 1)"
DEFAULTS = {**DEFAULTS, "models": ["shapes"], "images": 4, "theta": 0.1}
KINDS = ("clean", "fgsm", "cw")
SET_NAME = {"clean": "clean", "fgsm": "FGSM", "cw": "C&W-L2"}




def detector(ctx, s):
    return SaliencyDetector(ctx["models"][ctx["name"]]["clf"], theta=s["theta"], batch_size=s["batch_size"])


def units(ctx, s):
    return list(KINDS)


def run_unit(ctx, s, kind):
    clf, idx = ctx["models"][ctx["name"]]["clf"], ctx["pick"]
    e = detector(ctx, s).explain(ctx["models"][ctx["name"]]["sets"][kind][idx])
    names = clf.class_names
    return [{"model": ctx["name"], "set": SET_NAME[kind], "image": i, "true": names[ctx["y"][i]],
             "predicted": names[e["label"][j]], "theta": s["theta"], "emphasis label": names[e["label_emphasis"][j]],
             "score": float(e["score"][j]), "flagged": bool(e["score"][j] > 0)} for j, i in enumerate(idx)]


def summarize(rows, s, ctx):
    notes = [n for n in setting_notes(ctx, s) if not n.startswith("OSPA")] + [
        f"Paper figure: {SOURCE}, Fig. 1 (ImageNet images, Grad-CAM of the paper's model). Ours: the first "
        f"{len(ctx['pick'])} clean images of {ctx['name']} on which both FGSM and C&W-L2 succeed (one per class "
        "first, not chosen by how the maps look); 'image' is the index in the clean set, the same image in every "
        "set. Maps: Grad-CAM (our compiled GradCAMXLA, equal to tf-keras-vis) of the class predicted on the image "
        "shown, min-max scaled to [0, 1], drawn with the jet colour map over the image.",
        f"Emphasis label, score and flag: the saliency detector at theta = {s['theta']:g}, no enhancement "
        "(score = best other class's probability minus the predicted class's on the emphasis image; flagged when > 0).",
    ]
    return Table(rows=rows, notes=notes, title=TITLE, figure=lambda path: figure(path, rows, s, ctx))


def figure(path, rows, s, ctx):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m, idx = ctx["models"][ctx["name"]], ctx["pick"]
    det, names = detector(ctx, s), m["clf"].class_names
    n = len(idx)
    fig, axes = plt.subplots(2 * len(KINDS), n, figsize=(2.0 * n + 0.9, 2.15 * 2 * len(KINDS)), squeeze=False)
    for g, kind in enumerate(KINDS):
        x = m["sets"][kind][idx]
        e = det.explain(x)
        label = SET_NAME[kind]
        for j in range(n):
            pred, true = names[e["label"][j]], names[ctx["y"][idx[j]]]
            head = f"true: {true}" if kind == "clean" else f"pred: {pred}"
            show(axes[2 * g, j], x[j], title=f"#{idx[j]} {head}")
            show(axes[2 * g + 1, j], x[j], e["maps"][j], title=f"Grad-CAM of '{pred}'")
            if kind != "clean":
                axes[2 * g, j].title.set_color("firebrick" if pred != true else "black")
        axes[2 * g, 0].set_ylabel(f"{label}\nimage", fontsize=9)
        axes[2 * g + 1, 0].set_ylabel(f"{label}\nGrad-CAM", fontsize=9)
    fig.suptitle(f"Fig. 1 (ours): Grad-CAM of clean images and of their FGSM (eps {s['fgsm_eps_255']:g}/255) and "
                 f"targeted C&W-L2 versions\nmodel {ctx['name']}; the same {n} images in every row group; "
                 "adversarial predicted class in red when it differs from the true class", fontsize=9)
    for ax in axes.flat:
        for im in ax.images:
            im.set_interpolation("nearest")  # crisp pixels at any zoom (and a smaller PNG)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(name="fig1_gradcam", paper="ye_saliency", title=TITLE, defaults=DEFAULTS, quick=QUICK,
                        prepare=prepare_shown, units=units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
