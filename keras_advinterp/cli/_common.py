"""Flags and steps every command shares: the model, the inputs, the attack, the output.

Nothing here imports TensorFlow at module level: ``advinterp --help`` and
argument errors answer before the TensorFlow import.
"""

from __future__ import annotations

import argparse
import inspect
import json
from fractions import Fraction
from pathlib import Path

from ._catalog import ATTACKS, listing

RESIZE_DEFAULT = "center-crop"
RESIZE_CHOICES = ("center-crop", "squash", "pad")  # data.RESIZE_MODES (a test keeps them equal; no TF import here)


# -- numbers ---------------------------------------------------------------
def number(text: str) -> float:
    """Parses ``0.03``, ``8/255`` or ``2`` exactly as written (never rescaled)."""
    try:
        return float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a number like 0.03, 2 or 8/255. Received: {text!r}") from None


def check_pixel_budget(attack) -> None:
    """An Linf budget above 1 is a /255 mistake on [0, 1] pixels: say so before any work."""
    params = attack.params()
    if str(params.get("norm", "linf")) != "linf":
        return
    for key in ("eps", "step_size"):
        value = params.get(key)
        if isinstance(value, float) and value > 1:
            flag = "--" + key.replace("_", "-")
            raise ValueError(
                f"{flag} {value:g} is above 1, but pixels are in [0, 1], so an Linf {key} above 1 changes "
                f"nothing: did you mean {flag} {value:g}/255? Received: {key}={value:g}")


# -- flags -----------------------------------------------------------------
def add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", default="shapes",
                   help="model name (see `advinterp models`) or a model file: .keras, .h5 or a SavedModel "
                        "folder (default: %(default)s)")
    g.add_argument("--weights", default="default",
                   help="for a model name: 'default', 'imagenet', 'embedded', 'none' (random) or a weights file")
    g.add_argument("--preprocess", default=None,
                   help="for a model file: what it expects done to [0, 1] pixels: none, caffe, tf, torch or "
                        "'mean=R,G,B std=R,G,B' (default: none)")
    g.add_argument("--classes", default=None, metavar="FILE",
                   help="for a model file: class names, a JSON list or one per line (default: class_0 ...)")
    g.add_argument("--input-range", default=None, choices=["0-1", "0-255"],
                   help="for a model file: the pixel range it was trained on, before --preprocess (default 0-1)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def add_input_args(p: argparse.ArgumentParser, *, limit: int = 64) -> None:
    g = p.add_argument_group("inputs")
    g.add_argument("--data", help="shapes, digits, photos or an image folder (default: the model's own data)")
    g.add_argument("--image", nargs="+", help="image file(s); their labels are the model's clean predictions")
    g.add_argument("--split", default="test")
    g.add_argument("--limit", type=int, default=limit, help="readable images to use (default: %(default)s)")
    g.add_argument("--resize", default=RESIZE_DEFAULT, choices=RESIZE_CHOICES,
                   help="how files are fitted to the model's input: keep the aspect ratio and crop the centre "
                        "(default, as Keras's ImageNet evaluation), squash, or pad")
    g.add_argument("--labels", default="folder", choices=["folder", "predicted"],
                   help="folder: class folders matched to the model's class names (an error if some match "
                        "none); predicted: attack the model's own predictions (default: %(default)s)")


def add_attack_args(p: argparse.ArgumentParser, *, default: str | None = "pgd", what: str = "attack") -> None:
    g = p.add_argument_group("attack", f"any constructor argument: -p KEY=VALUE\n{listing(ATTACKS)}")
    g.add_argument("--attack", default=default, choices=sorted(ATTACKS), help=f"{what} (default: %(default)s)")
    g.add_argument("--eps", type=number, default=None,
                   help="budget in [0, 1] pixel units, e.g. 8/255 (Linf) or 2 (L2) (default: the attack's)")
    g.add_argument("--steps", type=int, default=None, help="iterations (default: the attack's)")
    g.add_argument("--step-size", type=number, default=None, help="(default: the attack's)")
    g.add_argument("--norm", default=None, choices=["linf", "l2", "l1"], help="(default: the attack's)")
    g.add_argument("--confidence", type=float, default=None, help="C&W / EAD / StAdv kappa (default: the attack's)")
    g.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", help="any other attack parameter")


# -- building things from flags ----------------------------------------------
def build_attack(args):
    """The attack named by ``--attack`` with the flags it takes; checks the budget's units."""
    from .. import attacks

    cls = attacks.REGISTRY[args.attack]
    given = {}
    for item in args.param or []:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"--param expects key=value. Received: {item!r}")
        given[key] = literal(text)
    accepted = attack_parameters(cls, given.get("framework", "pgd"))
    unknown = sorted(set(given) - accepted)
    if unknown:
        raise ValueError(f"attack {cls.name!r} has no parameter {unknown[0]!r}; it takes {sorted(accepted)}. "
                         f"Received: --param {unknown[0]}={given[unknown[0]]}")
    common = {"eps": args.eps, "steps": args.steps, "step_size": args.step_size, "norm": args.norm,
              "confidence": args.confidence}
    params = {k: v for k, v in common.items() if v is not None and k in accepted}
    ignored = sorted(k for k, v in common.items() if v is not None and k not in accepted)
    params.update(given)
    attack = cls(**params)
    check_pixel_budget(attack)
    return attack, ignored


def attack_parameters(cls, framework: str = "pgd") -> set[str]:
    """The keyword arguments ``cls`` takes; for attacks on interpreters, also their framework's."""
    params = inspect.signature(cls.__init__).parameters
    names = {k for k, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)} - {"self"}
    framework_class = getattr(cls, "framework_class", None)
    if framework_class is not None and any(p.kind == p.VAR_KEYWORD for p in params.values()):
        names |= attack_parameters(framework_class(framework)) - set(cls.owned_params)
    return names


def literal(text: str):
    """``--param`` values: numbers (8/255 allowed), booleans, None, else the string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        return text.strip()
    return int(value) if value.denominator == 1 and "." not in text else float(value)


def load_classifier(args):
    """The Classifier named by ``--model`` (a name, which wins, or a model file) and its options."""
    from .. import models

    weights = None if str(args.weights).lower() == "none" else args.weights
    return models.load_with_options(args.model, weights=weights, preprocess=args.preprocess, classes=args.classes,
                                    input_range=args.input_range)


def load_inputs(args, clf) -> dict:
    """Images for ``clf`` from ``--image`` / ``--data``, labelled as the flags say.

    Returns ``{x, y, names, label_source, skipped, skipped_lines, resize, predicted}``: ``y``
    holds the model's clean predictions where a label had to come from it.
    """
    import numpy as np

    from .. import data as datasets
    from ..models import default_data

    if args.limit is not None and args.limit <= 0:
        raise ValueError(f"--limit must be a positive number of images. Received: --limit {args.limit}")
    skipped, skipped_lines, resize = [], [], args.resize
    if args.image:
        x = datasets.read_images(args.image, clf.input_size, clf.channels, resize=resize)
        y = np.full(len(x), -1, np.int32)
        names, source = [str(p) for p in args.image], "the model's clean predictions (--image has no labels)"
    elif args.data and Path(args.data).is_dir():
        folder = datasets.load_folder(args.data, size=clf.input_size, channels=clf.channels, resize=resize,
                                      class_names=clf.class_names, limit=args.limit,
                                      unmatched="predict" if args.labels == "predicted" else "error", warn=False)
        x, y, names, skipped = folder.x, folder.y, [str(f) for f in folder.files], folder.skipped
        skipped_lines = folder.skipped_lines()
        source = folder.label_source
    else:
        name = args.data or default_data(clf)
        d = datasets.load(name, args.split, limit=args.limit, size=clf.input_size, channels=clf.channels)
        if len(d.class_names) != clf.num_classes:
            raise ValueError(f"data set {name!r} has {len(d.class_names)} classes but model {clf.name!r} has "
                             f"{clf.num_classes}; pass --data FOLDER or --image FILES. Received: --data {name}")
        x, y, names = d.x, d.y.astype(np.int32), d.files or [f"{name}[{i}]" for i in range(len(d))]
        source, resize = f"the {name} data set's labels", None
    if args.labels == "predicted":
        y = np.full(len(x), -1, np.int32)
        source = "the model's clean predictions (--labels predicted)"
    predicted = y < 0
    if predicted.any():
        y = np.where(predicted, clf.predict(x).argmax(1), y).astype(np.int32)
    return {"x": x, "y": y, "names": names, "label_source": source, "skipped": skipped,
            "skipped_lines": skipped_lines, "resize": resize, "predicted": int(predicted.sum())}


def input_lines(inputs: dict) -> list[str]:
    """Text lines about where the inputs came from and what was skipped."""
    lines = [f"labels: {inputs['label_source']}"]
    if inputs["resize"]:
        lines.append(f"resize: {inputs['resize']} to the model's input")
    lines += inputs["skipped_lines"]
    if inputs["skipped"]:
        lines.append(f"{len(inputs['skipped'])} file(s) skipped")
    return lines


def input_summary(inputs: dict) -> dict:
    return {"images": len(inputs["x"]), "labels": inputs["label_source"], "resize": inputs["resize"],
            "labels_from_predictions": inputs["predicted"],
            "skipped": [{"file": rel, "reason": why} for rel, why in inputs["skipped"]]}


def emit(args, payload: dict, lines: list[str]) -> None:
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
    else:
        print("\n".join(lines))
