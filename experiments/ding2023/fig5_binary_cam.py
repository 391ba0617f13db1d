"""Ding et al., Fig. 5: CAM of the classifier beside CAM of the binary (clean vs adversarial) detector.

For one image per class (the first whose DAmageNet-style version fools the
model): the clean image, the CAM of the shapes classifier (its predicted
class), the CAM of the binary detector of Sec. 4.7 (its predicted class,
"clean" or "adversarial"); then the DAmageNet-style image and the same two
CAMs. The paper's reading: the classifier looks at the object, the detector
at small local regions. The table lists, per image, the classifier's and the
detector's labels and the detector's P(adversarial).

The detector is the one ``sec47_binary_detector`` trains on the
DAmageNet-style set (same settings, read from the cache when that run made
it).

    advinterp experiment ding2023/fig5_binary_cam [--quick]
    python experiments/ding2023/fig5_binary_cam.py --quick
"""

from __future__ import annotations

import numpy as np
from _common import SOURCE, main, prepare, setting_notes
from sec47_binary_detector import DEFAULTS, QUICK, test_pair, trained_detector

from keras_advinterp import interpret
from keras_advinterp.interpret import show
from keras_advinterp.runner import Experiment, Table

TITLE = "CAM of the classifier and of the binary detector, clean and adversarial (Ding et al., Fig. 5)"
KIND = "damagenet"


def prepare_fig(s):
    ctx = prepare(s)
    ctx["detector"] = trained_detector(ctx, s, KIND)
    ok, y = test_pair(ctx, s, KIND)[2], _labels(ctx, s)
    # one image per class, the first whose adversarial version fools the model (_common.one_per_class's rule)
    ctx["pick"] = sorted(int(np.flatnonzero(ok & (y == c))[0]) for c in range(ctx["clf"].num_classes)
                         if np.any(ok & (y == c)))
    if not ctx["pick"]:
        raise ValueError("the DAmageNet-style attack fooled the model on none of the test images: nothing to show")
    return ctx


def _labels(ctx, s):
    return ctx["y"][1::2] if s["clean_dir"] else ctx["y"]


def _views(ctx, s):
    """(clean images, adversarial images, labels) of the measured set, in the pick's indexing."""
    x, x_adv, _ = test_pair(ctx, s, KIND)
    return x, x_adv, _labels(ctx, s)


def units(ctx, s):
    return [int(i) for i in ctx["pick"]]


def _explain(ctx, x):
    """Per image: the classifier's label and CAM, the detector's label, P(adversarial) and CAM."""
    clf, det = ctx["clf"], ctx["detector"]
    pred = clf.predict(x).argmax(1)
    dpred = det.detector_clf.predict(x).argmax(1)
    return {"pred": pred, "cam": interpret.get("cam", clf)(x, pred), "dpred": dpred, "score": det.scores(x),
            "dcam": interpret.get("cam", det.detector_clf)(x, dpred)}


def run_unit(ctx, s, i):
    x, x_adv, y = _views(ctx, s)
    names, dnames = ctx["clf"].class_names, ctx["detector"].detector_clf.class_names
    rows = []
    for label, images in (("clean", x), ("DAmageNet-style", x_adv)):
        e = _explain(ctx, images[i : i + 1])
        rows.append({"image": i, "set": label, "true": names[y[i]], "classifier": names[e["pred"][0]],
                     "detector": dnames[e["dpred"][0]], "P(adversarial)": float(e["score"][0])})
    return rows


def summarize(rows, s, ctx):
    det = ctx["detector"]
    notes = setting_notes(ctx, s) + [
        f"Paper figure: {SOURCE}, Fig. 5 (ImageNet validation images and their DAmageNet versions; CAM of the "
        "1000-class pretrained ResNet50 and of the 2-class ResNet50 trained from scratch).",
        f"Ours: one image per class, the first of the test set whose DAmageNet-style version fools the model (not "
        f"chosen by how the maps look). Detector: defenses.BinaryDetector, {det.trained_on}; "
        f"{det.detector_clf.weights_source} ({'read from the cache' if det.from_cache else 'trained in this run'}). "
        "CAMs are of each model's predicted class, min-max scaled per image, "
        "drawn with the jet colour map over the image.",
    ]
    return Table(rows=rows, notes=notes, title=TITLE, figure=lambda path: figure(path, ctx, s))


def figure(path, ctx, s):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    idx = ctx["pick"]
    x, x_adv, y = _views(ctx, s)
    names = ctx["clf"].class_names
    n = len(idx)
    fig, axes = plt.subplots(6, n, figsize=(1.9 * n + 1.0, 1.95 * 6), squeeze=False)
    for g, (label, images) in enumerate((("clean", x[idx]), ("DAmageNet-style", x_adv[idx]))):
        e = _explain(ctx, images)
        for j in range(n):
            pred = names[e["pred"][j]]
            head = f"true: {names[y[idx[j]]]}" if g == 0 else f"pred: {pred}"
            show(axes[3 * g, j], images[j], title=f"#{idx[j]} {head}")
            if g == 1 and e["pred"][j] != y[idx[j]]:
                axes[3 * g, j].title.set_color("firebrick")
            show(axes[3 * g + 1, j], images[j], e["cam"][j], title=f"CAM of '{pred}'")
            verdict = "adversarial" if e["dpred"][j] == 1 else "clean"
            show(axes[3 * g + 2, j], images[j], e["dcam"][j], title=f"'{verdict}' p={e['score'][j]:.2f}")
        axes[3 * g, 0].set_ylabel(f"{label}\nimage", fontsize=8)
        axes[3 * g + 1, 0].set_ylabel(f"{label}\nclassifier CAM", fontsize=8)
        axes[3 * g + 2, 0].set_ylabel(f"{label}\ndetector CAM", fontsize=8)
    for ax in axes.flat:
        for im in ax.images:
            im.set_interpolation("nearest")
    fig.suptitle(f"Fig. 5 (ours): CAM of {ctx['clf'].name} ({ctx['clf'].num_classes} classes) and of the binary "
                 "detector (clean / adversarial),\non clean images and their DAmageNet-style versions; detector CAM "
                 "of its predicted class, p = P(adversarial)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(name="fig5_binary_cam", paper="ding2023", title=TITLE, defaults=DEFAULTS, quick=QUICK,
                        prepare=prepare_fig, units=units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
