"""The ``advinterp`` command: demo, attack, explain, models, experiment."""

from __future__ import annotations

import argparse
import json
import os
import sys
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: keep C++ logs quiet


def _number(text: str) -> float:
    """Parses ``0.03``, ``8/255`` or ``8`` (values > 1 are read as /255)."""
    try:
        value = float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a number like 0.03 or 8/255. Received: {text!r}")
    return value / 255 if value > 1 else value


def _emit(args, payload: dict, lines: list[str]) -> None:
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
    else:
        print("\n".join(lines))


def _add_model_args(p, default_model="shapes"):
    p.add_argument("--model", default=default_model, help="model name (see `advinterp models`); default: %(default)s")
    p.add_argument("--weights", default="default",
                   help="'default', 'imagenet', 'embedded', 'none' (random) or a weights file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _weights(text):
    return None if str(text).lower() == "none" else text


def _inputs(args, clf):
    from . import data as datasets
    from .models import default_data

    if args.image:
        x = datasets.read_images(args.image, clf.input_size, clf.channels)
        return x, clf.predict(x).argmax(1), [Path(p).name for p in args.image]
    d = datasets.load(args.data or default_data(clf), args.split, limit=args.limit,
                      size=clf.input_size, channels=clf.channels)
    return d.x, d.y, d.files or [f"{d.name}[{i}]" for i in range(len(d))]


def cmd_demo(args):
    from .demo import run_demo

    s = run_demo(args.model, weights=_weights(args.weights), images=args.image, data_name=args.data, n=args.n,
                 eps=args.eps, steps=args.steps, out=args.out, seed=args.seed, progress=not args.json)
    lines = [f"model {s['model']['name']} ({s['model']['weights_source']}); "
             f"PGD Linf eps={args.eps * 255:.1f}/255, {args.steps} steps; labels: {s['labels']}",
             f"{'image':<18} {'true':<12} {'clean top-1':<24} {'adversarial top-1':<24} changed"]
    for im in s["images"]:
        c, a = im["clean"][0], im["adversarial"][0]
        lines.append(f"{im['image'][:18]:<18} {im['label'][:12]:<12} {c['class'][:14] + f' {c[chr(112)]:.1%}':<24} "
                     f"{a['class'][:14] + f' {a[chr(112)]:.1%}':<24} {'yes' if im['success'] else 'no'}")
    if "warning" in s:
        lines.insert(0, f"warning: {s['warning']}")
    lines += [f"success rate {s['success_rate']:.0%}; {s['seconds']:.1f} s",
              f"figure: {s['figure']}", f"summary: {Path(args.out) / 'demo.json'}"]
    _emit(args, s, lines)


def _attack_params(args, cls) -> dict:
    """Common flags the attack accepts, then ``--param key=value`` pairs (which win)."""
    import inspect

    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    common = {"eps": args.eps, "steps": args.steps, "step_size": args.step_size, "norm": args.norm,
              "confidence": args.confidence}
    params = {k: v for k, v in common.items() if v is not None and k in accepted}
    for item in args.param or []:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"--param expects key=value. Received: {item!r}")
        if key not in accepted:
            raise ValueError(f"attack {cls.name!r} has no parameter {key!r}; it takes {sorted(accepted)}. "
                             f"Received: --param {item}")
        params[key] = _literal(text)
    return params


def _literal(text: str):
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


def save_adversarial_folder(out: Path, x_adv, names, labels, predictions, root=None) -> tuple[list[Path], object]:
    """Writes lossless 8-bit PNGs with the source file names (DAmageNet style).

    Files from a folder keep their path relative to ``root`` (so a
    ``class/image.jpg`` layout becomes ``class/image.png``); other sources
    are numbered. A ``labels.csv`` (file,label,adversarial_prediction)
    lets ``--data <out>`` read the set back with its labels. Returns the
    written paths and the 8-bit pixels actually saved.
    """
    import numpy as np
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    q = np.round(np.clip(x_adv, 0, 1) * 255).astype(np.uint8)
    paths, rows = [], []
    for i, (img, name) in enumerate(zip(q, names)):
        rel = Path(f"{i:06d}.png")
        if root is not None and Path(name).resolve().is_relative_to(root):
            rel = Path(name).resolve().relative_to(root).with_suffix(".png")
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(path)
        paths.append(path)
        rows.append(f"{rel.as_posix()},{int(labels[i])},{int(predictions[i])}")
    (out / "labels.csv").write_text("file,label,adversarial_prediction\n" + "\n".join(rows) + "\n")
    return paths, q.astype(np.float32) / 255.0


def cmd_attack(args):
    import numpy as np

    from . import attacks, models

    cls = attacks.REGISTRY[args.attack]
    attack = cls(**_attack_params(args, cls))  # bad parameters fail before any model loads
    clf = models.load(args.model, _weights(args.weights))
    x, y, names = _inputs(args, clf)
    unknown = y < 0
    if unknown.any():  # a flat folder without labels: attack the model's own predictions
        y = np.where(unknown, clf.predict(x).argmax(1), y)
    result = attack(clf, x, y, target=args.target, batch_size=args.batch_size, progress=not args.json)
    summary = {**result.summary(), "model": clf.describe(), "images": len(x),
               "labels_from_predictions": int(unknown.sum())}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "adversarial.npz", x_adv=result.x_adv, labels=result.labels,
                        predictions=result.predictions, success=result.success, files=np.asarray(names))
    lines = [f"{attack!r} on {clf.name} ({clf.weights_source}), {len(x)} images"]
    if args.save_dir:
        root = Path(args.data).resolve() if args.data and Path(args.data).is_dir() else None
        paths, saved = save_adversarial_folder(Path(args.save_dir), result.x_adv, names, result.labels,
                                               result.predictions, root)
        pred8 = clf.predict(saved).argmax(1)
        ok8 = pred8 == result.target if result.target is not None else pred8 != result.labels
        summary.update(save_dir=str(args.save_dir), saved=len(paths), success_rate_8bit=round(float(ok8.mean()), 4))
        lines.append(f"{'saved':<16}{len(paths)} PNG files in {args.save_dir} (8-bit: success {ok8.mean():.1%})")
    (out / "attack.json").write_text(json.dumps(summary, indent=2, default=str))
    m = summary["mean_norms"]
    lines[1:1] = [f"{'success rate':<16}{summary['success_rate']:.1%}",
                  f"{'mean Linf':<16}{m['linf']:.4f} ({m['linf'] * 255:.2f}/255)",
                  f"{'mean L2':<16}{m['l2']:.4f}",
                  f"{'mean L1':<16}{m['l1']:.3f}",
                  f"{'mean L0':<16}{m['l0']:.0f} of {x[0].size} values",
                  f"{'iterations':<16}{summary['mean_iterations']:.1f} per image",
                  f"{'time per image':<16}{summary['seconds_per_image'] * 1000:.1f} ms (compilation included)"]
    if unknown.any():
        lines.append(f"note: {int(unknown.sum())} image(s) had no label; their clean prediction was attacked")
    lines.append(f"wrote {out / 'attack.json'} and {out / 'adversarial.npz'}")
    _emit(args, summary, lines)


def cmd_explain(args):
    import numpy as np

    from . import attacks, interpret, models
    from .interpret.figures import explanation_figure

    clf = models.load(args.model, _weights(args.weights))
    interp = interpret.get(args.method, clf)
    x, y, names = _inputs(args, clf)
    cls = np.full(len(x), args.class_index) if args.class_index is not None else y
    maps = interp(x, cls, progress=not args.json)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"maps": maps, "class_index": cls}
    x_adv = maps_adv = None
    if args.attack:
        result = attacks.get(args.attack, eps=args.eps)(clf, x, y)
        x_adv, maps_adv = result.x_adv, interp(result.x_adv, cls)
        arrays.update(x_adv=x_adv, maps_adv=maps_adv)
    np.savez_compressed(out / f"{interp.name}_maps.npz", **arrays)
    figure = out / f"{interp.name}.png"
    titles = [f"{names[i][:16]}\n{clf.class_names[cls[i]][:16]}" for i in range(len(x))]
    explanation_figure(figure, x, maps, titles, x_adv=x_adv, maps_adv=maps_adv, method=f"{interp.name} on {clf.name}")
    payload = {"method": interp.name, "model": clf.describe(), "images": len(x), "figure": str(figure),
               "maps": str(out / f"{interp.name}_maps.npz")}
    lines = [f"{interp.name} maps for {len(x)} images on {clf.name}", f"figure: {figure}", f"maps: {payload['maps']}"]
    if args.attack:
        tau = interpret.metrics.kendall_tau(maps, maps_adv)
        iou = interpret.metrics.top_iou(maps, maps_adv)
        payload.update(attack=args.attack, eps=args.eps, kendall_tau=float(tau.mean()), top20_iou=float(iou.mean()))
        lines.insert(1, f"clean vs {args.attack} (eps {args.eps * 255:.1f}/255): Kendall tau {tau.mean():.3f}, "
                        f"top-20% IoU {iou.mean():.3f}")
    _emit(args, payload, lines)


def cmd_models(args):
    from .models import available

    table = available()
    lines = [f"{'name':<14}{'kind':<20}{'weights present':<17}weights file"]
    for name, info in table.items():
        lines.append(f"{name:<14}{info['kind']:<20}{'yes' if info['present'] else 'no':<17}{info['weights']}")
    _emit(args, table, lines)


def cmd_experiment(args):
    from . import runner

    if args.list or not args.name:
        found = runner.discover(args.dir)
        rows = {}
        for name in found:
            exp = runner.load_experiment(name, args.dir)
            rows[name] = {"paper": exp.paper, "title": exp.title, "script": str(found[name])}
        _emit(args, rows, [f"{n:<32}{r['paper']:<10}{r['title']}" for n, r in rows.items()] or ["(none found)"])
        return
    exp = runner.load_experiment(args.name, args.dir)
    overrides = {"model": args.model, "data": args.data, "limit": args.limit, "seed": args.seed}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if args.weights is not None:
        overrides["weights"] = _weights(args.weights)
    rec = runner.run(exp, quick=args.quick, out_dir=args.out, fresh=args.fresh, progress=not args.json,
                     **overrides)
    stem = Path(args.out) / exp.paper / exp.name
    md = stem.with_suffix(".md").read_text()
    _emit(args, rec, [md.split("## Setting")[0].rstrip(), "",
                      f"wrote {stem}.md/.csv/.json" + (" and .png" if "figure" in rec else "")])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="advinterp", description="Adversarial attacks meet interpretation (Keras 3).")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="attack a few images and show how Grad-CAM moves (the main job)")
    _add_model_args(d)
    d.add_argument("--image", nargs="+", help="image file(s) to use instead of the model's data set")
    d.add_argument("--data", help="data set name or folder (default: the model's own)")
    d.add_argument("-n", type=int, default=4, help="number of images (default: %(default)s)")
    d.add_argument("--eps", type=_number, default=8 / 255, help="Linf budget, e.g. 8/255 (default)")
    d.add_argument("--steps", type=int, default=10)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", default="advinterp-out", help="output folder (default: %(default)s)")
    d.set_defaults(func=cmd_demo)

    def add_inputs(q):
        q.add_argument("--data", help="shapes, digits, photos or an image folder (default: the model's own)")
        q.add_argument("--image", nargs="+", help="image file(s)")
        q.add_argument("--split", default="test")
        q.add_argument("--limit", type=int, default=64, help="images to use (default: %(default)s)")

    from .attacks import REGISTRY as ATTACKS

    listing = "\n".join(f"  {n:<10} {(ATTACKS[n].__doc__ or '').strip().splitlines()[0]}" for n in sorted(ATTACKS))
    a = sub.add_parser("attack", help="run an attack over a data set and summarise it",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=f"attacks:\n{listing}\n\nAny constructor argument: --param key=value "
                              "(e.g. -p binary_search_steps=3 -p abort_early=false); "
                              "see help(keras_advinterp.attacks.<Class>).")
    _add_model_args(a)
    add_inputs(a)
    a.add_argument("--attack", default="pgd", choices=sorted(ATTACKS))
    a.add_argument("--eps", type=_number, default=None, help="budget, e.g. 8/255 (default: the attack's)")
    a.add_argument("--steps", type=int, default=None, help="iterations (default: the attack's)")
    a.add_argument("--step-size", type=_number, default=None)
    a.add_argument("--norm", default=None, choices=["linf", "l2", "l1"], help="(default: the attack's)")
    a.add_argument("--confidence", type=float, default=None, help="C&W / EAD kappa (default: the attack's)")
    a.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", help="any other attack parameter")
    a.add_argument("--target", type=int, default=None, help="target class index (targeted attack)")
    a.add_argument("--batch-size", type=int, default=32)
    a.add_argument("--out", default="advinterp-out/attack", help="summary JSON and .npz (default: %(default)s)")
    a.add_argument("--save-dir", help="also write the adversarial images as PNG with the source file names")
    a.set_defaults(func=cmd_attack)

    e = sub.add_parser("explain", help="explanation maps (CAM, Grad-CAM, ...) as PNG and .npz")
    _add_model_args(e)
    add_inputs(e)
    from .interpret import REGISTRY as INTERPRETERS

    e.add_argument("--method", default="gradcam", choices=sorted(INTERPRETERS))
    e.add_argument("--class-index", type=int, default=None, help="explain this class (default: the label)")
    e.add_argument("--attack", choices=sorted(ATTACKS), help="also attack and show clean vs adversarial maps")
    e.add_argument("--eps", type=_number, default=8 / 255, help="attack budget with --attack (default 8/255)")
    e.add_argument("--out", default="advinterp-out/explain")
    e.set_defaults(func=cmd_explain)

    m = sub.add_parser("models", help="list models and where their weights are")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)

    x = sub.add_parser("experiment", help="list or run paper experiments (resumable)")
    x.add_argument("name", nargs="?")
    x.add_argument("--list", action="store_true")
    x.add_argument("--quick", action="store_true", help="small smoke-size setting")
    x.add_argument("--model")
    x.add_argument("--weights")
    x.add_argument("--data")
    x.add_argument("--limit", type=int)
    x.add_argument("--seed", type=int)
    x.add_argument("--fresh", action="store_true", help="ignore checkpoints of this setting")
    x.add_argument("--out", default="results")
    x.add_argument("--dir", help="experiments folder (default: ./experiments or the source checkout's)")
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=cmd_experiment)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"advinterp {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        from .models import WeightsUnavailableError

        if isinstance(e, WeightsUnavailableError):
            print(f"advinterp {args.command}: error: {e}", file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
