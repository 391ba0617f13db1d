"""Xu et al., Fig. 8: what the most sensitive concept detectors segment on a natural and an adversarial image.

For a few source -> target class pairs, two correctly classified images of
the source class are attacked to the same target (targeted Linf PGD); at each
dissected layer the concept detectors whose segmentation M_k changes most
over these images are drawn on the natural (Ori) and adversarial (Adv) image,
titled with the unit, its top concept and category (seeds/001_13ab3436c62e81d7.txt,
Sec. 5, Fig. 8). The table gives, per shown unit and image, the mask's area
and how much of the unit's concept it covers before and after the attack,
and whether the concept is the true class's shape or the target's.

    advinterp experiment xu_pse/fig8_segmentation [--quick]
    python experiments/xu_pse/fig8_segmentation.py --quick
"""

from __future__ import annotations

import numpy as np
from _common import (
    DISSECTION_DEFAULTS,
    SOURCE,
    dissect_layer,
    dissection_notes,
    draw_unit_mask,
    main,
    prepare_dissections,
    targets,
)

from keras_advinterp import attacks
from keras_advinterp.analysis import dissection
from keras_advinterp.runner import Experiment, Table, cached_attack

TITLE = "Segmentations of sensitive concept detectors, natural vs adversarial (Xu et al., Fig. 8)"
DEFAULTS = {**DISSECTION_DEFAULTS, "models": ["shapes"], "examples": 2, "images_per_example": 2,
            "units_per_layer": 2, "pgd": {"eps": 16 / 255, "steps": 40}}
QUICK = {"limit": 48, "layers": {"shapes": ["block1_out", "features"]}, "examples": 2, "units_per_layer": 1,
         "pgd": {"eps": 16 / 255, "steps": 20}}


def _check(s: dict):
    for key in ("examples", "images_per_example", "units_per_layer"):
        if not isinstance(s[key], int) or s[key] < 1:
            raise ValueError(f"{key} must be an integer >= 1. Received: {key}={s[key]!r}")


def prepare(s):
    _check(s)
    ctx = prepare_dissections(s, attack=False)
    ctx["attack"] = attacks.PGD(**s["pgd"])
    for m in ctx["models"].values():
        m["pairs"] = choose_pairs(m, s)
        m["_examples"] = {}
    return ctx


def choose_pairs(m: dict, s: dict) -> list[tuple[int, int]]:
    """``examples`` source classes with enough correctly classified images (in class order), a seeded target each."""
    y = m["data"].y[m["keep"]]
    counts = np.bincount(y, minlength=m["clf"].num_classes)
    sources = np.flatnonzero(counts >= s["images_per_example"])[: s["examples"]]
    if not len(sources):
        raise ValueError(f"no class of model {m['clf'].name!r} has {s['images_per_example']} correctly classified "
                         f"images among the {len(m['data'])} loaded; raise limit. Received: limit={s['limit']}")
    t = targets(sources, m["clf"].num_classes, s["seed"])
    return [(int(a), int(b)) for a, b in zip(sources, t)]


def example(ctx, s, name: str, i: int) -> dict:
    """The i-th pair's images (indices into the data set), their targeted PGD examples (cached) and masks."""
    m = ctx["models"][name]
    if i not in m["_examples"]:
        source, target = m["pairs"][i]
        idx = m["keep"][m["data"].y[m["keep"]] == source][: s["images_per_example"]]
        x = m["data"].x[idx]
        t = np.full(len(idx), target, np.int32)
        adv = cached_attack(ctx["attack"], m["clf"], x, m["data"].y[idx], t, seed=s["seed"],
                            batch_size=s["batch_size"])
        m["_examples"][i] = {"idx": idx, "x": x, "x_adv": adv.x_adv, "success": adv.success,
                             "pred": adv.logits.argmax(1), "source": source, "target": target}
    return m["_examples"][i]


def layer_masks(m, layer, x, s):
    """M_k(x) of every unit of ``layer`` for images ``x`` at the dissection thresholds: (n, H, W, K) bool."""
    from keras_advinterp.surgery import capture

    acts = capture(m["clf"], layer, x, batch_size=s["batch_size"])[layer]
    return dissection.unit_masks(acts, dissect_layer(m, layer, s).thresholds, x.shape[1:3])


def shown_units(diss, v, s) -> list[int]:
    """The most sensitive concept detectors of the layer (the most sensitive units if it has too few)."""
    det = diss.detectors(s["detector_iou"])["detector"]
    order = np.argsort(-v, kind="stable")
    picks = [int(k) for k in order if det[k]][: s["units_per_layer"]]
    picks += [int(k) for k in order if not det[k]][: s["units_per_layer"] - len(picks)]
    return picks


def run_unit(ctx, s, unit):
    name, i = unit
    m = ctx["models"][name]
    ex = example(ctx, s, name, i)
    names = m["clf"].class_names
    rows = []
    for layer in m["layers"]:
        diss = dissect_layer(m, layer, s)
        nat, adv = layer_masks(m, layer, ex["x"], s), layer_masks(m, layer, ex["x_adv"], s)
        v = np.sqrt((nat != adv).sum(axis=(1, 2))).mean(0)  # Eq. 8 over this pair's images
        det = diss.detectors(s["detector_iou"])
        for k in shown_units(diss, v, s):
            c = int(det["concept"][k])
            concept = diss.concepts[c]
            role = ("true-class shape" if concept == names[ex["source"]] else
                    "target shape" if concept == names[ex["target"]] else "")
            for j, image in enumerate(ex["idx"]):
                label = m["masks"][image, ..., c]
                area = label.sum()
                rows.append({
                    "model": name, "example": i, "true": names[ex["source"]], "target": names[ex["target"]],
                    "image": int(image), "adversarial label": names[int(ex["pred"][j])],
                    "attack success": bool(ex["success"][j]), "layer": layer, "unit": k, "concept": concept,
                    "category": diss.categories[c], "IoU": float(det["iou"][k]), "detector": bool(det["detector"][k]),
                    "role": role, "v (these images)": float(v[k]),
                    "mask % Ori": float(100 * nat[j, ..., k].mean()), "mask % Adv": float(100 * adv[j, ..., k].mean()),
                    "concept covered % Ori": float(100 * (nat[j, ..., k] & label).sum() / area) if area else None,
                    "concept covered % Adv": float(100 * (adv[j, ..., k] & label).sum() / area) if area else None,
                })
    return rows


def summarize(rows, s, ctx):
    notes = dissection_notes(ctx, s) + [
        f"Attack: targeted {ctx['attack']!r}, every image of an example to the same target class (as in the paper's "
        "Fig. 8, which attacks 'table lamp' -> 'studio couch' and 'airliner' -> 'seashore' on ImageNet). Budget "
        "Linf 16/255, twice Fig. 7's: at 8/255 targeted PGD (40 steps) reached its target on 67 % of 48 test images "
        "and never when the target was 'ring'.",
        "Shown units: per layer the concept detectors with the largest v(k) over the example's images (Eq. 8 "
        "restricted to them); the paper does not say how it chose its units. 'concept covered %' is the share of "
        "the unit's concept mask L_c on that image inside M_k (empty when the concept is absent from the image).",
        f"Paper ({SOURCE}, Sec. 5; pictures only, no figures to copy): low-level concepts (colour, texture) are "
        "detected at shallow layers; at conv5_3 the object concepts of the true label are suppressed on the "
        "adversarial image and those of the target promoted. Here compare 'concept covered %' Ori vs Adv of "
        "the rows whose role is 'true-class shape' (suppression) or 'target shape' (promotion; mask % Adv).",
    ]
    return Table(rows=rows, notes=notes, title=TITLE, figure=lambda path: figure(path, rows, s, ctx))


def figure(path, rows, s, ctx):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    blocks = list(dict.fromkeys((r["model"], r["example"]) for r in rows))
    per_block = [(b, list(dict.fromkeys((r["layer"], r["unit"]) for r in rows if (r["model"], r["example"]) == b)))
                 for b in blocks]
    cols = max(len(u) for _, u in per_block)
    nrows = sum(2 * s["images_per_example"] for _ in blocks)
    fig, axes = plt.subplots(nrows, cols, figsize=(1.7 * cols + 0.6, 1.75 * nrows), squeeze=False)
    row = 0
    for (name, i), shown in per_block:
        m = ctx["models"][name]
        ex = example(ctx, s, name, i)
        cache = {}
        for col, (layer, k) in enumerate(shown):
            if layer not in cache:
                cache[layer] = (layer_masks(m, layer, ex["x"], s), layer_masks(m, layer, ex["x_adv"], s))
            nat, adv = cache[layer]
            r0 = next(r for r in rows if (r["model"], r["example"], r["layer"], r["unit"]) == (name, i, layer, k))
            for j in range(len(ex["idx"])):
                title = f"{layer} #{k}\n{r0['concept']}-{r0['category']}" if j == 0 else None
                draw_unit_mask(axes[row + 2 * j, col], ex["x"][j], nat[j, ..., k], title)
                draw_unit_mask(axes[row + 2 * j + 1, col], ex["x_adv"][j], adv[j, ..., k])
        for col in range(len(shown), cols):
            for j in range(2 * len(ex["idx"])):
                axes[row + j, col].axis("off")
        for j in range(len(ex["idx"])):
            axes[row + 2 * j, 0].set_ylabel(f"Ori ({m['clf'].class_names[ex['source']]})", fontsize=7)
            axes[row + 2 * j + 1, 0].set_ylabel(f"Adv -> {m['clf'].class_names[ex['target']]}", fontsize=7)
        row += 2 * len(ex["idx"])
    fig.suptitle("Sensitive detectors' masks M_k\n(yellow edge): Ori vs Adv", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def units(ctx, s):
    return [[name, i] for name, m in ctx["models"].items() for i in range(len(m["pairs"]))]


EXPERIMENT = Experiment(name="fig8_segmentation", paper="xu_pse", title=TITLE, defaults=DEFAULTS, quick=QUICK,
                        prepare=prepare, units=units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
