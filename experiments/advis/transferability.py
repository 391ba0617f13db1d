"""FGSM transferability across architectures, white-box vs black-box (AdVis.js, "Transferability across Networks").

AdVis (seeds/004_3483dc02f8dd9934.txt) crafts FGSM examples of a panda photo
on MobileNetV1 at eps = 1, 4, 7, 10, 13, 16 and shows the top-5 classes of
MobileNetV1 (white-box) and MobileNetV2 (black-box) on them: V1 is fooled
from small eps, V2 keeps "giant panda" until eps 13. Its Sec. 3 compares the
graph-saliency difference S(adversarial) - S(clean) of attacks on the two
models. We run both directions on a whole test set and report, per source
model, target model and eps: accuracy and fooling rate on the target, the
target's mean top-1 confidence, the mean |saliency difference| of the
source's examples, and the target's top-3 on one example image (the
paper's table is one image).

Offline the pair is the two embedded shapes models (``shapes``, ResNet-style;
``shapes_mobile``, MobileNet-style depthwise blocks); with ImageNet weights
in the Keras cache, ``--model mobilenet,mobilenet_v2`` runs the paper's pair
on scikit-image's photos.

    advinterp experiment advis/transferability [--quick]
    advinterp experiment advis/transferability --model mobilenet,mobilenet_v2
    python experiments/advis/transferability.py --quick
"""

from __future__ import annotations

import sys

import numpy as np

from keras_advinterp import attacks, data, models
from keras_advinterp.runner import Experiment, Table
from keras_advinterp.web.graph_saliency import graph_saliency

SOURCE = "seeds/004_3483dc02f8dd9934.txt, 'Transferability across Networks' (table) and Sec. 3"
TITLE = "FGSM transferability, white-box vs black-box, against eps (AdVis.js, transferability table)"

# The paper's table: the top class (score, %) on its FGSM panda images made with MobileNetV1.
PAPER_TOP1 = {
    "white-box": {1: "howler monkey 4.07", 4: "giant panda 7.05", 7: "cocker spaniel 18.57",
                  10: "cocker spaniel 25.25", 13: "chihuahua 26.53", 16: "chihuahua 31.40"},
    "black-box": {1: "giant panda 67.49", 4: "giant panda 85.11", 7: "giant panda 35.29",
                  10: "giant panda 62.38", 13: "Siamese cat 30.32", 16: "Siamese cat 30.16"},
}

DEFAULTS = {"models": ["shapes", "shapes_mobile"], "weights": "default", "data": "default", "limit": 240,
            "eps_255": [0, 1, 4, 7, 10, 13, 16], "batch_size": 48, "saliency_images": 240, "seed": 0}
QUICK = {"limit": 24, "eps_255": [0, 4, 16], "saliency_images": 8}


def _load(name, weights):
    try:
        return models.load(name, weights)
    except models.WeightsUnavailableError as e:
        raise models.WeightsUnavailableError(
            f"the {name} setting needs ImageNet weights, which are not here: {e} Offline, run the default pair "
            f"(shapes -> shapes_mobile): advinterp experiment advis/transferability") from None


def prepare(s):
    if len(s["models"]) != 2:
        raise ValueError(f"models must name two models (source and target). Received: models={s['models']!r}")
    clfs = {name: _load(name, s["weights"]) for name in s["models"]}
    a, b = clfs.values()
    if a.class_names != b.class_names:
        raise ValueError(f"the two models must share their classes to compare predictions. "
                         f"Received: models={s['models']!r}")
    name = s["data"] if s["data"] != "default" else models.default_data(a)
    d = data.load(name, "test", limit=s["limit"], seed=s["seed"], size=a.input_size)
    n_sal = min(s["saliency_images"], len(d))
    return {"models": clfs, "data": d, "data_name": name, "n_saliency": n_sal,
            "clean_logits": {k: c.predict(d.x) for k, c in clfs.items()},
            "clean_saliency": np.stack([graph_saliency(x) for x in d.x[:n_sal]])}


def units(ctx, s):
    return [[source, eps] for source in s["models"] for eps in s["eps_255"]]


def run_unit(ctx, s, unit):
    source, eps_255 = unit
    d, clfs = ctx["data"], ctx["models"]
    x_adv = d.x if eps_255 == 0 else attacks.FGSM(eps=eps_255 / 255)(
        clfs[source], d.x, d.y, batch_size=s["batch_size"]).x_adv
    n = ctx["n_saliency"]
    sal = np.stack([graph_saliency(x) for x in x_adv[:n]]) - ctx["clean_saliency"]
    sal_diff = np.abs(sal).mean(axis=(1, 2))
    rows = []
    for target, clf in clfs.items():
        clean_pred = ctx["clean_logits"][target].argmax(1)
        p = clf.probabilities(x_adv)
        pred = p.argmax(1)
        top3 = np.argsort(-p[0])[:3]
        for i in range(len(d)):
            rows.append({"source": source, "target": target, "eps_255": eps_255, "index": i,
                         "correct_clean": bool(clean_pred[i] == d.y[i]), "correct": bool(pred[i] == d.y[i]),
                         "confidence": float(p[i].max()),
                         "saliency_diff": float(sal_diff[i]) if i < n else None,
                         "example_top3": ", ".join(f"{clf.class_names[k]} {100 * p[0, k]:.2f}" for k in top3)
                         if i == 0 else None})
    return rows


def summarize(rows, s, ctx):
    table = []
    for source in s["models"]:
        for target in s["models"]:
            kind = "white-box" if source == target else "black-box"
            for eps in s["eps_255"]:
                r = [row for row in rows if (row["source"], row["target"], row["eps_255"]) == (source, target, eps)]
                both = [row for row in r if row["correct_clean"]]
                sal = [row["saliency_diff"] for row in r if row["saliency_diff"] is not None]
                paper = PAPER_TOP1[kind].get(eps) if source == s["models"][0] else None
                table.append({
                    "source -> target": f"{source} -> {target}", "setting": kind, "eps (/255)": eps,
                    "accuracy": float(np.mean([row["correct"] for row in r])),
                    "fooling rate": float(np.mean([not row["correct"] for row in both])) if both else None,
                    "mean top-1 confidence": float(np.mean([row["confidence"] for row in r])),
                    "mean abs saliency diff (source's examples)": float(np.mean(sal)) if sal else None,
                    "example image top-3 (%)": next(row["example_top3"] for row in r if row["index"] == 0),
                    "paper top-1, panda, MobileNetV1 examples (%)": paper,
                    "images": len(r),
                })
    a, b = s["models"]
    notes = [
        f"Models: ours are {a} ({ctx['models'][a].weights_source}) and {b} ({ctx['models'][b].weights_source}) in "
        "the paper's MobileNetV1 and MobileNetV2 slots; the paper's are Keras/TF.js ImageNet MobileNets.",
        f"Data: ours is {len(ctx['data'])} {ctx['data_name']} test images (true labels); the paper's table is one "
        "ImageNet panda photo. 'example image' is our first test image; the paper's cell for it is the panda's.",
        "Attack: FGSM (attacks.FGSM, Linf, one signed step of eps in [0, 1] pixel units = eps/255 on 0-255) on the "
        "source model against the true label, as AdVis.js does against the panda class. We read the paper's eps "
        "1..16 as eps/255.",
        "Fooling rate: among images both models classify correctly when clean, the share the target gets wrong "
        "on the source's adversarial image; accuracy is over all images.",
        f"Saliency difference: mean |S(adv) - S(clean)| of our graph-based visual saliency "
        f"(keras_advinterp.web.graph_saliency: GBVS with the paper's Eq. (2) weights, one scale, Sobel "
        f"orientations) on the first {ctx['n_saliency']} images; the paper shows these maps without a number.",
        "Paper top-1 column: the paper's table, row 'MobileNetV1 examples' on V1 (white-box) and on V2 "
        "(black-box), filled only on the rows whose source is our first model. The paper's cells are not sorted "
        "by score; we give its highest-scoring class. Its second row is headed 'generated with MobileNetV2' while "
        "the text says V1 examples on V2: we follow the text.",
        f"Paper figures: {SOURCE}.",
    ]
    top = max(s["eps_255"])
    white = {r["source -> target"].split(" -> ")[0]: r for r in table
             if r["setting"] == "white-box" and r["eps (/255)"] == top}
    if len(white) == 2:
        (n1, r1), (n2, r2) = white.items()
        sal = "mean abs saliency diff (source's examples)"
        notes.append(f"Sec. 3 of the paper (attacks on V1 more effective, V2's saliency difference larger), ours at "
                     f"eps {top}/255: white-box fooling rate {n1} {_num(r1['fooling rate'], 3)} vs {n2} "
                     f"{_num(r2['fooling rate'], 3)}; saliency difference {n1} {_num(r1[sal], 4)} vs {n2} "
                     f"{_num(r2[sal], 4)}.")
    return Table(rows=table, notes=notes, title=TITLE, figure=lambda path: _figure(path, table, s))


def _num(value, digits: int) -> str:
    """A figure for a note; n/a where it is undefined (no image both models get right)."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def _figure(path, table, s):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for pair in dict.fromkeys(r["source -> target"] for r in table):
        r = [row for row in table if row["source -> target"] == pair]
        style = "o-" if r[0]["setting"] == "white-box" else "s--"
        axes[0].plot([x["eps (/255)"] for x in r], [x["fooling rate"] for x in r], style,
                     label=f"{pair} ({r[0]['setting']})")
        if r[0]["setting"] == "white-box":
            axes[1].plot([x["eps (/255)"] for x in r], [x["mean abs saliency diff (source's examples)"] for x in r],
                         style, label=f"FGSM on {pair.split(' -> ')[0]}")
    for kind, marker in (("white-box", "^"), ("black-box", "v")):
        eps = sorted(PAPER_TOP1[kind])
        fooled = [0.0 if PAPER_TOP1[kind][e].startswith("giant panda") else 1.0 for e in eps]
        axes[0].plot(eps, fooled, marker, color="grey", alpha=0.7, label=f"paper panda, {kind} (1 = fooled)")
    axes[0].set_title("fooling rate on the target model")
    axes[1].set_title("mean |GBVS saliency difference|")
    for ax in axes:
        ax.set_xlabel("eps (/255)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(
    name="transferability", paper="advis", title=TITLE, defaults=DEFAULTS, quick=QUICK,
    prepare=prepare, units=units, run_unit=run_unit, summarize=summarize,
)

if __name__ == "__main__":
    from keras_advinterp.runner import script_main

    try:
        script_main(EXPERIMENT, __doc__)
    except models.WeightsUnavailableError as e:
        sys.exit(f"advis/transferability: {e}")
