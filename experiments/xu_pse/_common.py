"""What the Xu et al. scripts share: models, the four targeted attacks, the paper's figures, PSR drawings.

seeds/001_13ab3436c62e81d7.txt attacks 5000 ImageNet images with targeted
IFGSM, C&W, EAD and Str-attack on ResNet_v2_101 and Inception_v3, with
13 x 13 grids. Offline we use the two embedded shapes models in the paper's
two model slots (the ResNet-style ``shapes`` for Resnet, the MobileNet-style
``shapes_mobile`` for Inception), their correctly classified test images, a
random other class as target, and 8 x 8 grids of 8 x 8 pixels (13 does not
divide 64). Adversarial sets are made once per setting and cached
(``runner.cached_attack``); with ImageNet weights and an image folder,
``models=[...], data=<folder>, grids=13`` runs the paper's setting (read
the images at a size 13 grids tile, 221 or 299 pixels a side).
"""

from __future__ import annotations

import numpy as np

from keras_advinterp import attacks, data, interpret, models
from keras_advinterp.analysis import pse
from keras_advinterp.runner import cached_attack, script_main

SOURCE = "seeds/001_13ab3436c62e81d7.txt"
PAPER_MODELS = ("Resnet", "Inception")
ATTACKS = ("ifgsm", "cw", "ead", "str")
ATTACK_LABEL = {"ifgsm": "IFGSM", "cw": "C&W", "ead": "EAD", "str": "Str"}

DEFAULTS = {
    "models": ["shapes", "shapes_mobile"], "weights": "default", "data": "shapes", "limit": 64, "seed": 0,
    "grids": 8, "xi": 1e-6, "cam_quantile": 0.7, "batch_size": 64,
    "ifgsm": {"eps": 8 / 255, "steps": 20},
    "cw": {"steps": 100, "binary_search_steps": 4, "initial_const": 0.1, "confidence": 1.0},
    "ead": {"steps": 100, "binary_search_steps": 4, "initial_const": 0.1, "confidence": 1.0, "beta": 1e-2},
    "str": {"steps": 100, "binary_search_steps": 3, "group_size": 8, "confidence": 1.0},
}
QUICK = {
    "models": ["shapes"], "limit": 8,
    "ifgsm": {"eps": 8 / 255, "steps": 5},
    "cw": {"steps": 20, "binary_search_steps": 2, "initial_const": 1.0, "confidence": 1.0},
    "ead": {"steps": 20, "binary_search_steps": 2, "initial_const": 1.0, "confidence": 1.0, "beta": 1e-2},
    "str": {"steps": 20, "binary_search_steps": 2, "group_size": 8, "confidence": 1.0},
}


def make_attack(kind: str, s: dict):
    p = s[kind]
    if kind == "ifgsm":
        return attacks.BIM(**p)
    if kind == "cw":
        return attacks.CarliniWagnerL2(**p)
    if kind == "ead":
        return attacks.EAD(**p)
    return attacks.StrAttack(**p)


def targets(y, num_classes: int, seed: int) -> np.ndarray:
    """A random class other than the true one per image (seeded): every attack here is targeted, as in the paper."""
    rng = np.random.default_rng(seed)
    return ((y + rng.integers(1, num_classes, len(y))) % num_classes).astype(np.int32)


def prepare_model(name: str, s: dict, kinds=ATTACKS) -> dict:
    """One model's clean set (correctly classified images), targets and the attacks' results on all of it."""
    clf = models.load(name, s["weights"])
    source = s["data"] if s["data"] != "default" else models.default_data(clf)
    d = data.load(source, "test", limit=s["limit"], seed=s["seed"])
    keep = clf.predict(d.x).argmax(1) == d.y
    x, y = d.x[keep], d.y[keep]
    t = targets(y, clf.num_classes, s["seed"])
    results = {k: cached_attack(make_attack(k, s), clf, x, y, t, seed=s["seed"], batch_size=s["batch_size"])
               for k in kinds}
    info = {"loaded": len(d), "clean_correct": int(keep.sum()),
            **{f"{k}_success_rate": float(np.mean(r.success)) for k, r in results.items()}}
    return {"clf": clf, "x": x, "y": y, "t": t, "results": results, "info": info, "data_name": d.name,
            "cam": interpret.CAM(clf, batch_size=s["batch_size"])}


def prepare(s: dict, kinds=ATTACKS) -> dict:
    return {"models": {name: prepare_model(name, s, kinds) for name in s["models"]}}


def model_attack_units(ctx, s: dict) -> list:
    """``[model, attack]`` for every model and attack: the units of the per-attack tables."""
    return [[name, kind] for name in s["models"] for kind in ATTACKS]


def successful(m: dict, kind: str):
    """``(x, x_adv, y, t, index)`` of the images the attack took to its target."""
    ok = m["results"][kind].success
    return m["x"][ok], m["results"][kind].x_adv[ok], m["y"][ok], m["t"][ok], np.flatnonzero(ok)


def sensitivity(m: dict, kind: str, s: dict) -> pse.GridSensitivity:
    """Grid sensitivity of the attack's successful examples (computed once per context)."""
    cache = m.setdefault("_sensitivity", {})
    if kind not in cache:
        x, xa, y, t, _ = successful(m, kind)
        cache[kind] = pse.grid_sensitivity(m["clf"], x, xa, y, t, grids=s["grids"], xi=s["xi"],
                                           chunk=s["batch_size"])
    return cache[kind]


def paper_slot(s: dict, name: str) -> str | None:
    i = list(s["models"]).index(name)
    return PAPER_MODELS[i] if i < len(PAPER_MODELS) else None


def setting_notes(ctx: dict, s: dict, kinds=ATTACKS) -> list[str]:
    """Models, data, attacks and counts, and how they differ from the paper's setting."""
    notes = []
    for name, m in ctx["models"].items():
        clf, info = m["clf"], m["info"]
        slot = paper_slot(s, name)
        rates = ", ".join(f"{ATTACK_LABEL[k]} {info[f'{k}_success_rate']:.0%}" for k in kinds)
        notes.append(f"Model {name} ({clf.weights_source}, {clf.input_size[0]}x{clf.input_size[1]})"
                     + (f" stands in the paper's {slot} rows" if slot else "")
                     + f": {info['clean_correct']} of {info['loaded']} {m['data_name']} test images classified "
                       f"correctly; targeted success rates {rates}. Only successful examples are measured.")
    if any(n not in ("resnet50", "mobilenet_v2", "densenet169", "vgg16") for n in s["models"]):
        notes.append(f"Setting differs from the paper: 5000 ImageNet images on ResNet_v2_101 / Inception_v3 with "
                     f"13 x 13 grids; ours are the embedded 64x64 shapes models on at most {s['limit']} generated "
                     f"test images with {s['grids']} x {s['grids']} grids. Compare orderings and trends between "
                     "attacks, not absolute values.")
    notes.append("Attacks (all targeted at a random other class, kappa = 1 as in the paper's Appendix 1): "
                 + "; ".join(f"{ATTACK_LABEL[k]} {make_attack(k, s)!r}" for k in kinds)
                 + ". IFGSM is our BIM (Linf). The paper does not give its attacks' budgets or steps; our Str-attack "
                   "groups are the analysis grids and tile the image (the paper's slide with a stride).")
    return notes


# -- drawing -------------------------------------------------------------------------------------
PSR_COLOURS = {pse.SUPPRESSION: (1.0, 1.0, 1.0), pse.BALANCE: (0.55, 0.55, 0.55), pse.PROMOTION: (0.0, 0.0, 0.0)}


def draw_psr(ax, image, cam_map, classes, shown, layout, title=None):
    """Xu et al.'s PSR picture: the CAM over the image, shown grids painted white / grey / black."""
    from matplotlib.patches import Rectangle

    interpret.show(ax, image, cam_map, title=title)
    ch, cw = layout.cell
    for i in np.flatnonzero(shown):
        r, c = divmod(int(i), layout.cols)
        ax.add_patch(Rectangle((c * cw - 0.5, r * ch - 0.5), cw, ch, facecolor=PSR_COLOURS[int(classes[i])],
                               edgecolor="none", alpha=0.7))


def psr_legend(fig):
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=PSR_COLOURS[c], edgecolor="k", label=f"{pse.CLASS_NAMES[c]}")
               for c in (pse.SUPPRESSION, pse.BALANCE, pse.PROMOTION)]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)


def main(experiment, doc):
    """The command line every script shares: ``--quick``, ``--fresh``, ``--out`` (``runner.script_main``)."""
    return script_main(experiment, doc)


# -- network dissection (Sec. 5, Figs. 7-8) ------------------------------------------------------
# The block outputs of the embedded models, shallow to deep: the stand-ins for the paper's conv2_3,
# conv3_8, conv4_36 and conv5_3 of ResNet_152 (the last ReLU of a building block).
DISSECTION_LAYERS = {
    "shapes": ["stem_relu", "block1_out", "block2_out", "features"],
    "shapes_mobile": ["stem_relu", "block1_out", "block3_out", "features"],
}
DISSECTION_DEFAULTS = {
    "models": ["shapes", "shapes_mobile"], "weights": "default", "data": "shapes", "limit": 512, "seed": 0,
    "layers": None, "quantile": 0.995, "detector_iou": 0.04, "batch_size": 64,
    "pgd": {"eps": 8 / 255, "steps": 20},
}


def dissection_layers(clf, s: dict) -> list[str]:
    """The layers dissected for ``clf``: ``s["layers"][model]`` if given, the table above, else four evenly spaced.

    A model outside the table without listed layers gets four of its 4-D layers evenly spaced over the
    graph, the last its feature layer; ``layers`` names are checked against the model's feature layers.
    """
    from keras_advinterp.surgery import feature_layers

    valid = feature_layers(clf)
    listed = (s.get("layers") or {}).get(clf.name) or DISSECTION_LAYERS.get(clf.name)
    if listed is None:
        try:
            last = clf.feature_layer
        except Exception:  # a model without a feature layer: its last 4-D layer
            last = valid[-1]
        end = valid.index(last) if last in valid else len(valid) - 1
        picks = np.linspace(0, end, 5)[1:].round().astype(int)
        listed = [valid[i] for i in dict.fromkeys(picks.tolist())]
    bad = [name for name in listed if name not in valid]
    if bad:
        raise ValueError(f"layers for model {clf.name!r} must be 4-D feature layers of it; valid names: {valid}. "
                         f"Received: {bad}")
    return list(listed)


def prepare_dissection(name: str, s: dict, attack: bool = True) -> dict:
    """One model's dissection set: the test images with concept masks, and untargeted PGD on the correct ones.

    The paper dissects Broden and attacks Broden's images with untargeted PGD; we dissect the generated
    shapes test set (its shape / colour / texture masks, ``dissection.shapes_concepts``) and attack the images
    the model classifies correctly, at ``s["pgd"]`` (Linf).
    """
    from keras_advinterp.analysis import dissection

    clf = models.load(name, s["weights"])
    layers = dissection_layers(clf, s)
    d = data.load(s["data"], "test", limit=s["limit"], seed=s["seed"])
    masks, concepts, categories = dissection.shapes_concepts(d)
    keep = clf.predict(d.x, batch_size=s["batch_size"]).argmax(1) == d.y
    pgd = attacks.PGD(**s["pgd"])
    adv = cached_attack(pgd, clf, d.x[keep], d.y[keep], seed=s["seed"], batch_size=s["batch_size"]) if attack \
        else None
    return {"clf": clf, "data": d, "masks": masks, "concepts": concepts, "categories": categories,
            "keep": np.flatnonzero(keep), "x_adv": adv.x_adv if attack else None,
            "success": adv.success if attack else None, "attack": pgd,
            "layers": layers, "_dissections": {}}


def dissect_layer(m: dict, layer: str, s: dict, quantile: float | None = None):
    """``dissection.dissect`` of ``layer`` over the whole set at ``quantile`` (default ``s["quantile"]``), once."""
    from keras_advinterp.analysis import dissection

    q = s["quantile"] if quantile is None else quantile
    cache = m["_dissections"]
    if (layer, q) not in cache:
        cache[layer, q] = dissection.dissect(m["clf"], layer, m["data"].x, m["masks"], m["concepts"],
                                             m["categories"], quantile=q, batch_size=s["batch_size"])
    return cache[layer, q]


def dissection_notes(ctx: dict, s: dict) -> list[str]:
    """Models, data and attack of a dissection run, and how they differ from the paper's setting."""
    notes = []
    for name, m in ctx["models"].items():
        clf = m["clf"]
        attacked = (f"{len(m['keep'])} classified correctly and attacked, untargeted PGD success "
                    f"{np.mean(m['success']):.0%}") if m["success"] is not None else \
            f"{len(m['keep'])} classified correctly"
        notes.append(f"Model {name} ({clf.weights_source}, {clf.input_size[0]}x{clf.input_size[1]}): layers "
                     f"{', '.join(m['layers'])}; {len(m['data'])} {m['data'].name} test images dissected, "
                     f"{attacked}.")
    notes.append(f"Setting differs from the paper: ResNet_152 dissected on Broden (colour, texture, material, part, "
                 f"object, scene) with layers conv2_3 / conv3_8 / conv4_36 / conv5_3 of 256-2048 units; ours are the "
                 f"embedded 64x64 shapes models, {s['limit']} generated test images, and three concept categories "
                 f"from the generator: 6 shapes (on the object; our stand-in for object), 8 colours (on the object) "
                 f"and 6 textures (the background), with layers of 16-128 units. Attack: {ctx['attack']!r} "
                 f"(the paper does not give its budget).")
    qs = " and ".join(f"{q:g}" for q in (s["quantiles"] if "quantiles" in s else [s["quantile"]]))
    notes.append(f"M_k thresholds T_k at the {qs} quantile of each unit's activations over the set "
                 f"(Bau et al.'s 0.995, the top 0.5 %; the paper's text says the top 5 %, 0.95); a concept detector "
                 f"has max_c IoU(k, c) > "
                 f"{s['detector_iou']:g}; IoU(k) is the mean of IoU(k, c) over the concepts.")
    return notes


def prepare_dissections(s: dict, attack: bool = True) -> dict:
    ctx = {"models": {name: prepare_dissection(name, s, attack) for name in s["models"]}}
    ctx["attack"] = next(iter(ctx["models"].values()))["attack"]
    return ctx


def draw_unit_mask(ax, image, mask, title=None):
    """An image with one unit's segmentation M_k: outside the mask dimmed, the mask's edge drawn."""
    img = np.clip(np.asarray(image, np.float32), 0, 1)
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    shown = np.where(mask[..., None], img, 0.25 * img)
    ax.imshow(shown, interpolation="nearest")
    if mask.any() and not mask.all():
        ax.contour(mask.astype(float), levels=[0.5], colors=["yellow"], linewidths=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=7)
