"""Ye et al., Fig. 2: constructing the subject-emphasis image x + theta * W^c.

For one clean, correctly classified image of the first model and its FGSM
example (the same image; add "cw" to ``kinds`` for C&W-L2): the input, its
Grad-CAM map W^c of the predicted class c, and the emphasis images
clip(x + theta * W^c, 0, 1) for theta in (0.1, 0.3, 0.5), each with the
model's label on it. The table lists, per image and theta, the true and
predicted classes, the label on the emphasis image, the detector's score
and whether it is flagged (label changed).

    advinterp experiment ye_saliency/fig2_emphasis [--quick]
    python experiments/ye_saliency/fig2_emphasis.py --quick
"""

from __future__ import annotations

from _common import DEFAULTS, QUICK, SOURCE, main, prepare_shown, setting_notes

from keras_advinterp.defenses import SaliencyDetector, emphasis_image
from keras_advinterp.interpret import show
from keras_advinterp.runner import Experiment, Table

TITLE = "Constructing the subject-emphasis image x + theta * Grad-CAM (Ye et al., Fig. 2)"
DEFAULTS = {**DEFAULTS, "models": ["shapes"], "images": 1, "kinds": ["clean", "fgsm"], "thetas": [0.1, 0.3, 0.5]}
SET_NAME = {"clean": "clean", "fgsm": "FGSM", "cw": "C&W-L2"}


def prepare(s):
    """The first model, every image's FGSM and C&W-L2 result, and the image(s) shown (``_common.prepare_shown``)."""
    unknown = set(s["kinds"]) - set(SET_NAME)
    if unknown or "clean" not in s["kinds"]:
        raise ValueError(f"kinds must hold 'clean' and any of 'fgsm', 'cw'. Received: kinds={s['kinds']!r}")
    return prepare_shown(s, kinds=[k for k in s["kinds"] if k != "clean"])




def explain(ctx, s, kind):
    """Map, label, and per theta the emphasis images, their labels and the detector's scores (memoised in ctx)."""
    memo = ctx.setdefault("explained", {})
    if kind not in memo:
        m = ctx["models"][ctx["name"]]
        x = m["sets"][kind][ctx["pick"]]
        det = SaliencyDetector(m["clf"], theta=s["thetas"][0], batch_size=s["batch_size"])
        e = det.explain(x)
        emph = [emphasis_image(x, e["maps"], th) for th in s["thetas"]]
        memo[kind] = {"maps": e["maps"], "label": e["label"], "emphasis": emph,
                      "label_emphasis": [m["clf"].predict(xe).argmax(1) for xe in emph],
                      "score": det.sweep_scores(x, s["thetas"])}
    return memo[kind]


def units(ctx, s):
    return list(s["kinds"])


def run_unit(ctx, s, kind):
    names, e = ctx["models"][ctx["name"]]["clf"].class_names, explain(ctx, s, kind)
    return [{"model": ctx["name"], "set": SET_NAME[kind], "image": i, "true": names[ctx["y"][i]],
             "predicted": names[e["label"][j]], "theta": th, "emphasis label": names[e["label_emphasis"][k][j]],
             "score": float(e["score"][j, k]), "flagged": bool(e["score"][j, k] > 0)}
            for k, th in enumerate(s["thetas"]) for j, i in enumerate(ctx["pick"])]


def summarize(rows, s, ctx):
    notes = [n for n in setting_notes(ctx, s) if not n.startswith("OSPA")] + [
        f"Paper figure: {SOURCE}, Fig. 2 (an ImageNet image, no adversarial example shown). Ours: the first clean "
        f"image(s) of {ctx['name']} on which every attack in {s['kinds']} succeeds, and their adversarial versions "
        "('image' is the index in the clean set). Map: Grad-CAM (our compiled GradCAMXLA) of the class predicted on "
        "the image, min-max scaled to [0, 1]; emphasis image clip(x + theta * map, 0, 1), no enhancement.",
        "Score: best other class's probability minus the predicted class's on the emphasis image; flagged when > 0 "
        "(the label changed).",
    ]
    return Table(rows=rows, notes=notes, title=TITLE, figure=lambda path: figure(path, s, ctx))


def figure(path, s, ctx):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, idx = ctx["models"][ctx["name"]]["clf"].class_names, ctx["pick"]
    lines = [(kind, j) for j in range(len(idx)) for kind in s["kinds"]]
    ncol = 2 + len(s["thetas"])
    fig, axes = plt.subplots(len(lines), ncol, figsize=(2.05 * ncol + 0.6, 2.35 * len(lines) + 0.7), squeeze=False)
    for r, (kind, j) in enumerate(lines):
        e = explain(ctx, s, kind)
        x = ctx["models"][ctx["name"]]["sets"][kind][idx[j]]
        pred, true = names[e["label"][j]], names[ctx["y"][idx[j]]]
        ax = axes[r]
        show(ax[0], x, title=f"input x\nlabel c: {pred}")
        if pred != true:
            ax[0].title.set_color("firebrick")
        ax[1].imshow(e["maps"][j], cmap="jet", vmin=0, vmax=1)
        ax[1].set_xticks([])
        ax[1].set_yticks([])
        ax[1].set_title(f"Grad-CAM W of '{pred}'", fontsize=8)
        for k, th in enumerate(s["thetas"]):
            after = names[e["label_emphasis"][k][j]]
            show(ax[2 + k], e["emphasis"][k][j], title=f"x + {th:g} W\nlabel: {after}")
            ax[2 + k].title.set_color("firebrick" if after != pred else "black")
        ax[0].set_ylabel(f"{SET_NAME[kind]}\n(image #{idx[j]}, true {true})", fontsize=9)
    fig.suptitle(f"Fig. 2 (ours): the subject-emphasis image clip(x + theta * W, 0, 1), model {ctx['name']}\n"
                 "red label: differs from c (adversarial input's label, or the emphasis image's label changed)",
                 fontsize=9)
    for ax in axes.flat:
        for im in ax.images:
            im.set_interpolation("nearest")  # crisp pixels at any zoom (and a smaller PNG)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(name="fig2_emphasis", paper="ye_saliency", title=TITLE, defaults=DEFAULTS, quick=QUICK,
                        prepare=prepare, units=units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
