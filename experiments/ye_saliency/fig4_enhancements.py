"""Ye et al., Fig. 4: the enhancements, colour reversing (RGB -> BGR) and zero mean, on clean images.

A few clean, correctly classified images of the first model, each shown
as is, colour reversed, zero mean and both, with the model's label on each
processed image: the paper's point is that these operations hardly change
what the model recognises on clean inputs. The table lists, per image and
enhancement, the true and predicted classes, the label on the processed
image and, for the detector with that enhancement at theta, the label on
the enhanced emphasis image, the score and whether it is flagged.

    advinterp experiment ye_saliency/fig4_enhancements [--quick]
    python experiments/ye_saliency/fig4_enhancements.py --quick
"""

from __future__ import annotations

import numpy as np
from _common import DEFAULTS, QUICK, SOURCE, main, paper_slot

from keras_advinterp import data, models
from keras_advinterp.defenses import ENHANCEMENTS, SaliencyDetector, enhance_images, neutral_pixel
from keras_advinterp.interpret import show
from keras_advinterp.runner import Experiment, Table

TITLE = "Colour reversing and zero mean on clean images, with the model's labels (Ye et al., Fig. 4)"
DEFAULTS = {**{k: v for k, v in DEFAULTS.items() if k not in ("fgsm_eps_255", "cw")},
            "models": ["shapes"], "images": 4, "theta": 0.1, "center": "auto"}
QUICK = {"limit": QUICK["limit"]}
SHOWN = {"none": "original", "color_reverse": "colour reversed (BGR)", "zero_mean": "zero mean",
         "color_reverse+zero_mean": "colour reversed + zero mean"}


def prepare(s):
    """The first model's clean (correctly classified) images and the ones shown: one per class first."""
    name = s["models"][0]
    clf = models.load(name, s["weights"])
    d = data.load(s["data"] if s["data"] != "default" else models.default_data(clf), "test", limit=s["limit"],
                  seed=s["seed"])
    keep = clf.predict(d.x).argmax(1) == d.y
    x, y = d.x[keep], d.y[keep]
    if len(x) == 0:
        raise ValueError("the model classifies none of the loaded images correctly: raise limit.")
    first = [i for i in range(len(y)) if y[i] not in y[:i]]
    pick = sorted((first + [i for i in range(len(y)) if i not in first])[: s["images"]])
    return {"name": name, "clf": clf, "x": x, "y": y, "pick": pick, "data_name": d.name,
            "info": {"loaded": len(d), "clean_correct": int(keep.sum())}}


def enhancements(ctx):
    """Every enhancement the model takes (colour reversing needs RGB)."""
    return [e for e in ENHANCEMENTS if ctx["clf"].channels == 3 or "color_reverse" not in e]


def units(ctx, s):
    return enhancements(ctx)


def processed(ctx, s, enhance):
    """The shown images with ``enhance`` applied, the model's labels on them, and the detector's outputs."""
    memo = ctx.setdefault("processed", {})
    if enhance not in memo:
        x = ctx["x"][ctx["pick"]]
        # zero mean leaves [0, 1]: the model sees it as the detector does
        xp = enhance_images(x, enhance, center(ctx, s))
        det = SaliencyDetector(ctx["clf"], theta=s["theta"], enhance=enhance, center=s["center"],
                               batch_size=s["batch_size"])
        e = det.explain(x)
        memo[enhance] = {"x": xp, "label_processed": np.argmax(ctx["clf"].model(xp, training=False), axis=1),
                         "label": e["label"], "label_emphasis": e["label_emphasis"], "score": e["score"]}
    return memo[enhance]


def run_unit(ctx, s, enhance):
    names, p = ctx["clf"].class_names, processed(ctx, s, enhance)
    return [{"model": ctx["name"], "set": "clean", "image": i, "enhancement": enhance, "true": names[ctx["y"][i]],
             "predicted": names[p["label"][j]], "label on processed image": names[p["label_processed"][j]],
             "theta": s["theta"], "emphasis label": names[p["label_emphasis"][j]], "score": float(p["score"][j]),
             "flagged": bool(p["score"][j] > 0)}
            for j, i in enumerate(ctx["pick"])]


def summarize(rows, s, ctx):
    slot = paper_slot(s, ctx["name"])
    notes = [
        f"Model {ctx['name']} ({ctx['clf'].weights_source}, {ctx['clf'].input_size[0]}x{ctx['clf'].input_size[1]})"
        + (f" stands in the paper's {slot}" if slot else "")
        + f": {ctx['info']['clean_correct']} of {ctx['info']['loaded']} {ctx['data_name']} test images classified "
        f"correctly; shown: the first {len(ctx['pick'])} of those, one per class first ('image' is the index among "
        "them, as in the other Ye figures).",
        f"Paper figure: {SOURCE}, Fig. 4 (ImageNet images, no labels printed). Setting differs from the paper: the "
        "embedded model on its own generated shapes set instead of Keras's ImageNet VGG16/ResNet50 on ILSVRC2012.",
        f"Colour reversing swaps the RGB channels to BGR; zero mean subtracts each image's per-channel mean and adds "
        f"{center(ctx, s)} (our reading, see keras_advinterp/defenses/emphasis.py). Zero-mean images can leave [0, 1] "
        "and "
        "are given to the model as they are; the figure shows those scaled about the centre into [0, 1] for viewing.",
        "'label on processed image' is the model's label on the enhanced image alone; 'emphasis label', 'score' and "
        f"'flagged' are the saliency detector's with that enhancement at theta = {s['theta']:g} (flagged when the "
        "label on the enhanced emphasis image differs from the input's predicted label, score > 0).",
    ]
    return Table(rows=rows, notes=notes, title=TITLE, figure=lambda path: figure(path, s, ctx))


def center(ctx, s):
    """The zero-mean centre: the setting, or with "auto" the pixel the model's preprocessing maps to 0."""
    return neutral_pixel(ctx["clf"]) if s["center"] == "auto" else s["center"]


def viewable(img, center=0.5):
    """``img`` as is when inside [0, 1]; else scaled about ``center`` into [0, 1] (for display only)."""
    reach = float(np.max(np.abs(img - center)))
    return img if reach <= 0.5 else center + (img - center) * (0.5 / reach)


def figure(path, s, ctx):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, idx, kinds = ctx["clf"].class_names, ctx["pick"], enhancements(ctx)
    fig, axes = plt.subplots(len(idx), len(kinds), figsize=(2.3 * len(kinds) + 0.6, 2.35 * len(idx) + 0.9),
                             squeeze=False)
    for k, enhance in enumerate(kinds):
        p = processed(ctx, s, enhance)
        for j, i in enumerate(idx):
            label = names[p["label_processed"][j]]
            img = viewable(p["x"][j], center(ctx, s)) if "zero_mean" in enhance else p["x"][j]
            show(axes[j, k], img, title=f"{SHOWN[enhance]}\nlabel: {label}")
            axes[j, k].title.set_color("firebrick" if p["label_processed"][j] != ctx["y"][i] else "black")
    for j, i in enumerate(idx):
        axes[j, 0].set_ylabel(f"image #{i}\n(true {names[ctx['y'][i]]})", fontsize=9)
    fig.suptitle(f"Fig. 4 (ours): colour reversing and zero mean on clean images, model {ctx['name']}; the model's "
                 "label on each (red: differs from the true class)\nzero-mean images are given to the model "
                 f"unscaled; any that leave [0, 1] are shown scaled about {s['center']} into [0, 1] for viewing",
                 fontsize=9)
    for ax in axes.flat:
        for im in ax.images:
            im.set_interpolation("nearest")  # crisp pixels at any zoom (and a smaller PNG)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(name="fig4_enhancements", paper="ye_saliency", title=TITLE, defaults=DEFAULTS, quick=QUICK,
                        prepare=prepare, units=units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
