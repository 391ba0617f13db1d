"""Xu et al., Fig. 9 and Fig. A9: activations of a natural and an adversarially trained model, natural vs adversarial.

The natural model is the embedded one; the robust one is the same network
fine-tuned with our adversarial training (``defenses.AdversarialTrainer``:
each batch partly replaced by PGD examples made against the current
weights) on the generated shapes training images, inside ``prepare`` and
cached (the weights file is keyed by every training setting, so a resumed
or repeated run loads it instead of training again). Each model is then
attacked with untargeted Linf PGD on the test images the natural model
classifies correctly, and for chosen layers we record, per model:

- the activation bias ||A_l(x') - A_l(x)||_2, relative to ||A_l(x)||_2
  (``analysis.activations``), and the cosine similarity of A_l(x) and A_l(x');
- how much of the input's local structure a layer keeps: the correlation
  of its channel-mean activation map (upsampled) with the image's edge
  map (Sobel magnitude), for x and for x'.

The figure shows, per example, the natural model's response to the original
and to its adversarial example, then the robust model's, as Fig. A9.
(seeds/001_13ab3436c62e81d7.txt, Sec. 5, last paragraph; Fig. 9; Appendix 4, Fig. A9.)

    advinterp experiment xu_pse/fig9_robust_activations [--quick]
    python experiments/xu_pse/fig9_robust_activations.py --quick
"""

from __future__ import annotations

import json
import time

import keras
import numpy as np
from _common import SOURCE, main

from keras_advinterp import attacks, data, models
from keras_advinterp.analysis.activations import activation_bias
from keras_advinterp.defenses import AdversarialTrainer
from keras_advinterp.runner import Experiment, Table, cache_path, cached_attack
from keras_advinterp.runner.report import write_atomic
from keras_advinterp.surgery import FeatureCapture, feature_layers

TITLE = "Natural vs adversarially trained model: layer activations on natural and adversarial inputs (Xu et al., " \
        "Fig. 9, A9)"
PAPER_CLAIM = ("robust training introduces a model-based correction: the internal response keeps finer local features "
               "of the input at the first 20 layers; the response shows a sharp transition towards misclassification "
               "at deep layers (CIFAR-10, Madry et al.'s natural and robust ResNets; pictures only)")
DEFAULTS = {
    "model": "shapes", "weights": "default", "data": "shapes", "limit": 160, "seed": 0,
    "layers": ["stem_relu", "block1_out", "block2_out", "features"],
    "train": {"images": 2400, "epochs": 2, "batch": 32, "lr": 5e-4, "ratio": 0.5, "eps": 8 / 255, "steps": 3},
    "pgd": {"eps": 8 / 255, "steps": 10}, "examples": 4, "batch_size": 64,
}
QUICK = {"limit": 12, "train": {"images": 32, "epochs": 1, "batch": 32, "lr": 5e-4, "ratio": 0.5, "eps": 8 / 255,
                                "steps": 2},
         "pgd": {"eps": 8 / 255, "steps": 3}, "examples": 2}
TRAIN_KEYS = ("images", "epochs", "batch", "lr", "ratio", "eps", "steps")


def _check(s):
    t = s["train"]
    if not isinstance(t, dict) or set(t) != set(TRAIN_KEYS):
        raise ValueError(f"train must set exactly {list(TRAIN_KEYS)}. Received: train={t!r}")
    for k in ("images", "epochs", "batch"):
        if not isinstance(t[k], int) or t[k] < 1:
            raise ValueError(f"train[{k!r}] must be an integer >= 1. Received: {k}={t[k]!r}")
    if not isinstance(s["examples"], int) or s["examples"] < 1:
        raise ValueError(f"examples must be an integer >= 1. Received: examples={s['examples']!r}")


def robust_weights(s: dict, natural) -> tuple[str, dict]:
    """The adversarially fine-tuned weights file: read from the cache, or trained now and cached.

    Keyed by the model, its starting weights, the data, the seed, every training setting and the package
    version. Returns ``(path, info)``; ``info["from_cache"]`` says whether training was skipped.
    """
    t = s["train"]
    meta = {"model": natural.name, "weights": natural.weights_source, "data": s["data"], "seed": s["seed"],
            "train": t}
    stem = cache_path("robust", natural.name, meta)
    path, info_path = stem.with_name(stem.name + ".weights.h5"), stem.with_name(stem.name + ".json")
    folder = stem.parent
    if path.is_file() and info_path.is_file():
        return str(path), {**json.loads(info_path.read_text()), "from_cache": True}
    keras.utils.set_random_seed(s["seed"])
    clf = models.load(s["model"], s["weights"])  # a fresh copy, trained in place
    train = data.load(s["data"], "train", limit=t["images"], seed=s["seed"])
    trainer = AdversarialTrainer(clf, attacks.PGD(eps=t["eps"], steps=t["steps"]), ratio=t["ratio"])
    trainer.compile(optimizer=keras.optimizers.Adam(t["lr"]),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    t0 = time.perf_counter()
    hist = trainer.fit(train.x, train.y.astype(np.int32), batch_size=t["batch"], epochs=t["epochs"], shuffle=True,
                       verbose=0)
    info = {"train_seconds": round(time.perf_counter() - t0, 1), "final_loss": float(hist.history["loss"][-1]),
            "final_train_accuracy": float(hist.history["accuracy"][-1]), "train_images": len(train), **meta}
    folder.mkdir(parents=True, exist_ok=True)
    tmp = stem.with_name(stem.name + ".tmp.weights.h5")
    clf.model.save_weights(str(tmp))
    tmp.replace(path)
    write_atomic(info_path, json.dumps(info, indent=1, default=str))
    return str(path), {**info, "from_cache": False}


def prepare(s):
    _check(s)
    natural = models.load(s["model"], s["weights"])
    bad = [name for name in s["layers"] if name not in feature_layers(natural)]
    if bad or not s["layers"]:
        raise ValueError(f"layers must be 4-D feature layers of model {natural.name!r}: {feature_layers(natural)}. "
                         f"Received: {bad or s['layers']}")
    path, info = robust_weights(s, natural)
    robust = models.load(s["model"], path)
    d = data.load(s["data"], "test", limit=s["limit"], seed=s["seed"])
    keep = natural.predict(d.x, batch_size=s["batch_size"]).argmax(1) == d.y
    x, y = d.x[keep], d.y[keep]
    pgd = attacks.PGD(**s["pgd"])
    ctx = {"x": x, "y": y, "loaded": len(d), "data_name": d.name, "robust_info": info, "attack": pgd,
           "models": {"natural": natural, "robust": robust}, "adv": {}}
    for role, clf in ctx["models"].items():
        ctx["adv"][role] = cached_attack(pgd, clf, x, y, seed=s["seed"], batch_size=s["batch_size"])
        ctx[f"{role}_clean_accuracy"] = float(np.mean(clf.predict(d.x, batch_size=s["batch_size"]).argmax(1) == d.y))
    return ctx


def edge_map(images) -> np.ndarray:
    """Sobel gradient magnitude of each image's grey levels, (N, H, W)."""
    from scipy import ndimage

    g = np.asarray(images, np.float32).mean(-1)
    return np.hypot(ndimage.sobel(g, axis=1), ndimage.sobel(g, axis=2))


def mean_maps(clf, layer, x, size, batch_size) -> np.ndarray:
    """The channel mean of ``layer``'s activations, bilinearly upsampled to ``size``; (N, H, W)."""
    import tensorflow as tf

    a = FeatureCapture(clf, layer, batch_size=batch_size)(x)[layer].mean(-1, keepdims=True)
    return tf.image.resize(a, size, method="bilinear").numpy()[..., 0]


def edge_alignment(acts, edges) -> np.ndarray:
    """Per image: the mean over channels of |Pearson corr| between a channel's map and the edge map pooled to it.

    acts (N, h, w, K), edges (N, H, W) with H, W multiples of h, w; (N,).
    """
    n, h, w, k = acts.shape
    pooled = edges.reshape(n, h, edges.shape[1] // h, w, edges.shape[2] // w).mean((2, 4))
    a = acts.reshape(n, h * w, k) - acts.reshape(n, h * w, k).mean(1, keepdims=True)
    e = pooled.reshape(n, h * w, 1) - pooled.reshape(n, h * w, 1).mean(1, keepdims=True)
    den = np.sqrt((a * a).sum(1) * (e * e).sum(1))
    return np.abs(np.where(den > 0, (a * e).sum(1) / np.where(den > 0, den, 1), 0.0)).mean(1)


def _corr(a, b) -> np.ndarray:
    a = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(1, keepdims=True)
    b = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(1, keepdims=True)
    den = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    return np.where(den > 0, (a * b).sum(1) / np.where(den > 0, den, 1), 0.0)


def units(ctx, s):
    return [["natural"], ["robust"]]


def run_unit(ctx, s, unit):
    (role,) = unit
    clf, adv = ctx["models"][role], ctx["adv"][role]
    x, xa = ctx["x"], adv.x_adv
    b = activation_bias(clf, s["layers"], x, xa, batch_size=s["batch_size"])
    cap = FeatureCapture(clf, s["layers"], batch_size=s["batch_size"])
    ax, aa = cap(x), cap(xa)
    edges = edge_map(x)
    adv_acc = float(np.mean(clf.predict(xa, batch_size=s["batch_size"]).argmax(1) == ctx["y"]))
    rows = []
    for i, layer in enumerate(s["layers"]):
        corr = _corr(ax[layer], aa[layer])  # a Pearson correlation over the layer's values
        rows.append({"model": role, "layer": layer, "depth": i, "images": len(x),
                     "clean accuracy %": 100 * ctx[f"{role}_clean_accuracy"], "PGD accuracy %": 100 * adv_acc,
                     "relative bias": float(b.relative[:, i].mean()), "l2 bias": float(b.l2[:, i].mean()),
                     "corr A(x), A(x')": float(corr.mean()),
                     "edge corr x": float(edge_alignment(ax[layer], edges).mean()),
                     "edge corr x'": float(edge_alignment(aa[layer], edges).mean())})
    return rows


def summarize(rows, s, ctx):
    info = ctx["robust_info"]
    t = s["train"]
    by = {(r["model"], r["layer"]): r for r in rows}
    findings = []
    corr, edge = "corr A(x), A(x')", "edge corr x'"
    for layer in s["layers"]:
        n, r = by["natural", layer], by["robust", layer]
        findings.append(f"Measured ({layer}): relative bias natural {n['relative bias']:.3f} vs robust "
                        f"{r['relative bias']:.3f}; {corr} {n[corr]:.3f} vs {r[corr]:.3f}; edge corr on x' "
                        f"{n[edge]:.3f} vs {r[edge]:.3f}.")
    nat, rob = by["natural", s["layers"][0]], by["robust", s["layers"][0]]
    notes = [
        f"Paper: {SOURCE}, Sec. 5 (last paragraph), Fig. 9 and Appendix 4, Fig. A9: {PAPER_CLAIM}. No numbers are "
        "given, so ours stand beside the claim.",
        f"Setting differs from the paper: CIFAR-10 ResNets (Madry et al.'s natural and PGD-trained models, trained "
        f"from scratch); ours are the embedded 64x64 shapes model ({ctx['models']['natural'].weights_source}) and the "
        f"same network fine-tuned from it with defenses.AdversarialTrainer: {info['train_images']} generated training "
        f"images, {t['epochs']} epoch(s), batch {t['batch']}, Adam lr {t['lr']:g}, a share {t['ratio']:g} of each "
        f"batch replaced by PGD-{t['steps']} (Linf {t['eps'] * 255:g}/255) examples against the current weights; "
        f"{info['train_seconds']} s of training "
        + ("(this run read the cached weights)." if info["from_cache"] else "(trained in this run and cached).")
        + " A CPU budget, not Madry et al.'s full schedule.",
        f"Test images: {len(ctx['x'])} of {ctx['loaded']} {ctx['data_name']} test images the natural model classifies "
        f"correctly; each model attacked by its own untargeted PGD, Linf {ctx['attack'].eps * 255:g}/255, "
        f"{s['pgd']['steps']} steps (the paper: untargeted, budget not given). Clean accuracy over all "
        f"{ctx['loaded']} images: natural {nat['clean accuracy %']:.1f} %, robust {rob['clean accuracy %']:.1f} %; "
        f"under PGD: natural {nat['PGD accuracy %']:.1f} %, robust {rob['PGD accuracy %']:.1f} %.",
        "Layers (shallow to deep) stand for the paper's 'first 11 / 20 layers' and the deep ones. relative bias = "
        "||A(x') - A(x)||_2 / ||A(x)||_2 (analysis.activations); corr A(x), A(x') = Pearson correlation of a layer's "
        "values for x and x'; edge corr = the mean over channels of |Pearson correlation| between a channel's map and "
        "the Sobel edge magnitude of the original x averaged to the layer's resolution, for the response to x and "
        "to x' (our measure of 'finer local features of the input'). The figure shows each layer's channel mean, one "
        "colour scale per model, layer and example for its original and adversarial rows.",
    ] + findings
    return Table(rows=rows, notes=notes, title=TITLE, figure=lambda path: figure(path, rows, ctx, s))


def figure(path, rows, ctx, s):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers, k = s["layers"], min(s["examples"], len(ctx["x"]))
    idx = np.linspace(0, len(ctx["x"]) - 1, k).round().astype(int)
    size = ctx["x"].shape[1:3]
    maps = {}
    for role, clf in ctx["models"].items():
        for src, imgs in (("x", ctx["x"][idx]), ("x'", ctx["adv"][role].x_adv[idx])):
            for layer in layers:
                maps[role, src, layer] = mean_maps(clf, layer, imgs, size, s["batch_size"])
    cols = 1 + len(layers)
    fig = plt.figure(figsize=(1.5 * cols + 3.6, 1.45 * 4 * k + 0.6))
    grid = fig.add_gridspec(4 * k, cols + 2)
    for e in range(k):
        for r, (role, src) in enumerate((("natural", "x"), ("natural", "x'"), ("robust", "x"), ("robust", "x'"))):
            row = 4 * e + r
            img = ctx["x"][idx[e]] if src == "x" else ctx["adv"][role].x_adv[idx[e]]
            ax = fig.add_subplot(grid[row, 0])
            ax.imshow(np.clip(img, 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(f"{role}\n{'original' if src == 'x' else 'adversarial'}", fontsize=6)
            for j, layer in enumerate(layers):
                pair = np.stack([maps[role, "x", layer][e], maps[role, "x'", layer][e]])
                ax = fig.add_subplot(grid[row, 1 + j])
                ax.imshow(maps[role, src, layer][e], cmap="viridis", vmin=pair.min(), vmax=pair.max())
                ax.set_xticks([])
                ax.set_yticks([])
                if row == 0:
                    ax.set_title(layer, fontsize=7)
    for i, key in enumerate(("relative bias", "edge corr x'")):
        ax = fig.add_subplot(grid[2 * k * i: 2 * k * (i + 1) - 1, cols:])
        for role in ("natural", "robust"):
            mine = [r for r in rows if r["model"] == role]
            ax.plot([r["depth"] for r in mine], [r[key] for r in mine], marker="o", label=role)
        ax.set_xticks(range(len(layers)), layers, rotation=45, ha="right", fontsize=6)
        ax.set_title(key, fontsize=8)
        ax.legend(fontsize=7)
    fig.suptitle("Fig. 9 / A9 (ours): channel-mean activations, natural vs robust model, original vs adversarial",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    fig.savefig(path, dpi=100)
    plt.close(fig)


EXPERIMENT = Experiment(name="fig9_robust_activations", paper="xu_pse", title=TITLE, defaults=DEFAULTS, quick=QUICK,
                        prepare=prepare, units=units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
