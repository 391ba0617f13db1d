"""The main job: attack a few images and show how the explanation moves.

``run_demo`` runs PGD on the default embedded model (or any model), prints
clean vs adversarial top-1, and writes ``demo.png`` (clean, adversarial,
amplified perturbation, Grad-CAM of both images for the true and the
adversarial class, top-5 bars) and ``demo.json`` into ``out``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from . import attacks, data, interpret, models
from .attacks.base import plain
from .models.classifier import softmax


def _inputs(clf, inputs, data_name, n, seed):
    if inputs is not None:  # already read and labelled (the CLI's --image / --data FOLDER)
        return inputs["x"][:n], inputs["y"][:n], inputs["names"][:n], inputs["label_source"]
    name = data_name or models.default_data(clf)
    d = data.load(name, "test", limit=None if name == "photos" else max(n * 4, n), seed=seed)
    if len(d.class_names) != clf.num_classes:
        raise ValueError(f"data set {name!r} has {len(d.class_names)} classes but model {clf.name!r} "
                         f"has {clf.num_classes}; pass --data or --image. Received: data={name!r}")
    pred = clf.predict(d.x).argmax(1)
    pick = np.flatnonzero(pred == d.y)[:n]  # attack images the model gets right
    if len(pick) == 0:
        pick = np.arange(min(n, len(d)))
    names = d.files if d.files else [f"{name}[{i}]" for i in range(len(d))]
    return d.x[pick], d.y[pick], [names[i] for i in pick], "ground truth"


def run_demo(model: str = models.DEFAULT_MODEL, *, weights="default", clf=None, inputs: dict | None = None,
             data_name=None, n: int = 4, eps: float = 8 / 255, steps: int = 10, out="advinterp-out", seed: int = 0,
             progress: bool = True) -> dict:
    """Runs the demo and returns its JSON summary (also written to ``out/demo.json``).

    Args:
        model, weights: what ``models.load`` builds, unless ``clf`` is given.
        inputs: ``{x, y, names, label_source}`` to attack (the first ``n``);
            default: ``n`` images of the model's own data set that it
            classifies correctly.
    """
    t0 = time.perf_counter()
    clf = clf or models.load(model, weights)
    x, y, names, label_source = _inputs(clf, inputs, data_name, n, seed)
    attack = attacks.PGD(eps=eps, steps=steps)
    result = attack(clf, x, y, seed=seed, progress=progress)
    adv = result.predictions
    cam = interpret.GradCAM(clf)
    maps = {
        "clean_true": cam(x, y), "clean_adv": cam(x, adv),
        "adv_true": cam(result.x_adv, y), "adv_adv": cam(result.x_adv, adv),
    }
    p_clean, p_adv = clf.probabilities(x), softmax(result.logits)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figure = out / "demo.png"
    _figure(figure, clf, x, result.x_adv, y, adv, p_clean, p_adv, maps, names, eps)
    per_image = []
    for i in range(len(x)):
        per_image.append({
            "image": Path(names[i]).name,
            "label": clf.class_names[y[i]],
            "clean": _top5(clf, p_clean[i]),
            "adversarial": _top5(clf, p_adv[i]),
            "success": bool(result.success[i]),
            "linf": float(result.norms["linf"][i]),
            "l2": float(result.norms["l2"][i]),
            "gradcam_true_top20_iou_clean_vs_adv": float(
                interpret.metrics.top_iou(maps["clean_true"][i : i + 1], maps["adv_true"][i : i + 1])[0]),
        })
    summary = {
        "model": clf.describe(),
        "attack": {"name": attack.name, **plain(attack.params())},
        "labels": label_source,
        "success_rate": result.success_rate,
        "images": per_image,
        "figure": str(figure),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if clf.weights_source.startswith("random"):
        summary["warning"] = ("random weights: predictions and explanations mean nothing; "
                              "use them for shapes and timings only")
    (out / "demo.json").write_text(json.dumps(summary, indent=2))
    return summary


def _top5(clf, p):
    idx = np.argsort(-p)[: min(5, len(p))]
    return [{"class": clf.class_names[j], "index": int(j), "p": round(float(p[j]), 4)} for j in idx]


def _figure(path, clf, x, x_adv, y, adv, p_clean, p_adv, maps, names, eps):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 8
    fig, axes = plt.subplots(len(x), cols, figsize=(2.1 * cols, 2.3 * len(x)), squeeze=False)
    cn = clf.class_names
    for i in range(len(x)):
        a = axes[i]
        delta = x_adv[i] - x[i]
        amp = np.clip(0.5 + delta / (2 * max(float(np.abs(delta).max()), 1e-8)), 0, 1)
        interpret.show(a[0], x[i], title=f"{Path(names[i]).name}\nclean: {cn[y[i]]} {p_clean[i, y[i]]:.0%}")
        interpret.show(a[1], x_adv[i], title=f"adversarial: {cn[adv[i]]} {p_adv[i, adv[i]]:.0%}")
        interpret.show(a[2], amp, title=f"perturbation (Linf {np.abs(delta).max() * 255:.1f}/255, amplified)")
        interpret.show(a[3], x[i], maps["clean_true"][i], title=f"Grad-CAM clean | {cn[y[i]]}")
        interpret.show(a[4], x[i], maps["clean_adv"][i], title=f"Grad-CAM clean | {cn[adv[i]]}")
        interpret.show(a[5], x_adv[i], maps["adv_true"][i], title=f"Grad-CAM adv | {cn[y[i]]}")
        interpret.show(a[6], x_adv[i], maps["adv_adv"][i], title=f"Grad-CAM adv | {cn[adv[i]]}")
        _bars(a[7], clf, p_clean[i], p_adv[i])
    fig.suptitle(f"{clf.name}: PGD Linf eps={eps * 255:.1f}/255 - how the explanation moves", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bars(ax, clf, p_clean, p_adv):
    idx = list(dict.fromkeys([*np.argsort(-p_clean)[:5], *np.argsort(-p_adv)[:5]]))[:6]
    pos = np.arange(len(idx))
    ax.barh(pos - 0.2, p_clean[idx], height=0.4, label="clean", color="tab:blue")
    ax.barh(pos + 0.2, p_adv[idx], height=0.4, label="adv", color="tab:red")
    ax.set_yticks(pos)
    ax.set_yticklabels([clf.class_names[j][:14] for j in idx], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.tick_params(axis="x", labelsize=6)
    ax.legend(fontsize=6, loc="lower right")
    ax.set_title("top-5 probabilities", fontsize=8)
