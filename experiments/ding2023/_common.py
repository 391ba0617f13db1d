"""What the Ding et al. tables share: the model, the clean set, and the two adversarial sets.

seeds/000_f66802178e087466.txt studies ResNet50 (ImageNet weights) on ImageNet
validation images, their DAmageNet counterparts (universal adversarial
examples made by attacking the model's attention, AoA) and a PGD set. Offline
we use the embedded shapes model (a ResNet-style CNN) on its generated test
set; the "DAmageNet-style" set is made with our attack on attention
(``attacks.AttentionAttack``, DAmageNet's AoA idea) and the PGD set with PGD,
each made once per setting and cached (``runner.cached_attack``). With
ImageNet weights and the real data: ``--model resnet50 --set clean_dir=<ImageNet
val folder> --set adv_dir=<DAmageNet folder>`` (same relative file names in
both folders) replaces the generated universal set by the real one.

Context from ``prepare``:
    clf; x, y (clean images the model classifies correctly, their labels);
    files (names, for folders); sets {"damagenet": AdversarialSet-like,
    "pgd": ...}, each with ``x_adv`` aligned with ``x`` and ``success``;
    info (counts, success rates, sources).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from keras_advinterp import attacks, data, models
from keras_advinterp.runner import cached_attack, script_main

SOURCE = "seeds/000_f66802178e087466.txt"
SET_NAMES = {"damagenet": "DAmageNet-style (attack on attention)", "pgd": "PGD"}
PAPER_SET = {"damagenet": "DAmageNet", "pgd": "PGD dataset"}

DEFAULTS = {
    "model": "shapes", "weights": "default", "data": "shapes", "limit": 240, "seed": 0,
    "aoa": {"eps": 8 / 255, "steps": 10, "interpreter": "gradcam", "lam": 1.0},
    "pgd": {"eps": 8 / 255, "steps": 10},
    "batch_size": 64, "clean_dir": None, "adv_dir": None,
}
QUICK = {"limit": 36, "aoa": {"eps": 8 / 255, "steps": 4, "interpreter": "gradcam", "lam": 1.0},
         "pgd": {"eps": 8 / 255, "steps": 4}}


def load_clean(clf, s):
    """Clean images (and file names) from the data set or ``clean_dir``; only those classified correctly are kept."""
    if s["clean_dir"]:
        folder = data.load_folder(s["clean_dir"], size=clf.input_size, channels=clf.channels,
                                  class_names=clf.class_names, limit=s["limit"], warn=False)
        x, y, files, source = folder.x, folder.y, [str(f) for f in folder.files], str(s["clean_dir"])
    else:
        d = data.load(s["data"] if s["data"] != "default" else models.default_data(clf), "test", limit=s["limit"],
                      seed=s["seed"])
        x, y, files, source = d.x, d.y, [f"{d.name}[{i}]" for i in range(len(d))], f"{d.name} test split"
    keep = clf.predict(x).argmax(1) == y
    return x[keep], y[keep].astype(np.int32), [f for f, k in zip(files, keep) if k], len(x), source


def load_adv_dir(clf, s, files):
    """The real DAmageNet images matching ``files`` (same path relative to ``clean_dir``), as a set."""
    adv_root, clean_root = Path(s["adv_dir"]), Path(s["clean_dir"]).resolve()
    rel = [Path(f).resolve().relative_to(clean_root) for f in files]
    missing = [str(r) for r in rel if not (adv_root / r).is_file()]
    if missing:
        raise ValueError(f"adv_dir {str(adv_root)!r} lacks {len(missing)} file(s) of clean_dir, e.g. {missing[:3]}: "
                         "both folders must hold the same relative file names")
    x_adv = data.read_images([adv_root / r for r in rel], clf.input_size, clf.channels)
    return x_adv


def prepare(s: dict) -> dict:
    clf = models.load(s["model"], s["weights"])
    x, y, files, loaded, source = load_clean(clf, s)
    if len(x) == 0:
        raise ValueError(f"the model classifies none of the {loaded} clean images correctly: nothing to analyse")
    sets, info = {}, {"loaded": loaded, "clean_correct": len(x), "clean_source": source}
    for kind, attack in (("damagenet", attacks.AttentionAttack(**s["aoa"])), ("pgd", attacks.PGD(**s["pgd"]))):
        if kind == "damagenet" and s["adv_dir"]:
            x_adv = load_adv_dir(clf, s, files)
            pred = clf.predict(x_adv).argmax(1)
            sets[kind] = SimpleNamespace(x_adv=x_adv, success=pred != y, from_cache=False, source=str(s["adv_dir"]))
        else:
            res = cached_attack(attack, clf, x, y, seed=s["seed"], batch_size=s["batch_size"])
            sets[kind] = SimpleNamespace(x_adv=res.x_adv, success=res.success, from_cache=res.from_cache,
                                         source=f"{attack!r}, eps {attack.eps * 255:g}/255 {attack.norm.name}")
        info[f"{kind}_success_rate"] = float(np.mean(sets[kind].success))
        info[f"{kind}_source"] = sets[kind].source
    return {"clf": clf, "x": x, "y": y, "files": files, "sets": sets, "info": info}


def one_per_class(ctx, kind: str | None = None, n: int = 1) -> list[int]:
    """Indices of the first ``n`` images of each class (where the ``kind`` attack succeeded, if given).

    The paper's per-image tables show eight ImageNet categories, one image
    each; ours show one image per class of the model's data.
    """
    ok = np.ones(len(ctx["y"]), bool) if kind is None else ctx["sets"][kind].success
    out = []
    for c in range(ctx["clf"].num_classes):
        out.extend(int(i) for i in np.flatnonzero(ok & (ctx["y"] == c))[:n])
    return sorted(out)


def setting_notes(ctx, s) -> list[str]:
    """The lines every Ding table carries: model, data, sets, and how they differ from the paper."""
    clf, info = ctx["clf"], ctx["info"]
    notes = [
        f"Model: {clf.name} ({clf.weights_source}, {clf.input_size[0]}x{clf.input_size[1]}); the paper's is "
        "Keras's ResNet50 with ImageNet weights.",
        f"Clean set: {info['clean_correct']} of {info['loaded']} images from {info['clean_source']} classified "
        "correctly; the paper's are ImageNet validation images.",
        f"DAmageNet-style set: {info['damagenet_source']}, fooling {info['damagenet_success_rate']:.1%}; the paper "
        "uses DAmageNet (AoA on ImageNet validation images).",
        f"PGD set: {info['pgd_source']}, fooling {info['pgd_success_rate']:.1%}; the paper does not state its PGD "
        "budget.",
    ]
    if clf.name != "resnet50":
        notes.append("Setting differs from the paper (model, data, image size, classes): compare trends, not "
                     "absolute values.")
    return notes


def main(experiment, doc):
    """The command line every script shares: ``--quick``, ``--fresh``, ``--out`` (``runner.script_main``)."""
    return script_main(experiment, doc)
