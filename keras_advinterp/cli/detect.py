"""``advinterp detect``: flag adversarial inputs, or measure a detector against an attack."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import _common as common
from ._catalog import DETECTORS, listing

DEFAULT_SQUEEZERS = "bit_depth_5,median_2x2,non_local_means_11_3_4"
RULES = {"saliency": "(the detector's rule: flagged when the label changes)",
         "binary": "(the detector's rule: flagged when P(adversarial) > 0.5, the 2-class model's decision)"}


def add_parser(sub) -> None:
    d = sub.add_parser(
        "detect", help="flag adversarial inputs, or measure a detector against an attack",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"detectors:\n{listing(DETECTORS)}\n\nWithout --attack, scores the inputs and lists the flagged ones. "
               "With --attack, attacks the inputs and reports the detection rate on the successful adversarial "
               "examples, the false-positive rate on the clean inputs the model gets right, and ROC-AUC.")
    common.add_model_args(d)
    common.add_input_args(d)
    add_detector_args(d).add_argument(
        "--fpr", type=float, default=None,
        help="fit the threshold at this false-positive rate on clean inputs (with --attack: on half of "
             "them, the other half measures it; feature squeezing with --attack defaults to 0.05)")
    common.add_attack_args(d, default=None, what="also attack the inputs and measure detection")
    d.add_argument("--batch-size", type=int, default=32)
    d.add_argument("--out", default="advinterp-out/detect", help="detect.json and scores.npz (default: %(default)s)")
    d.set_defaults(run=run)


def add_detector_args(p, *, squeezers: str = DEFAULT_SQUEEZERS, choices=None, default: str = "saliency"):
    """The detector flags ``detect`` and ``export`` share (``build_detector`` reads them); returns the group."""
    g = p.add_argument_group("detector")
    g.add_argument("--detector", default=default, choices=choices or sorted(DETECTORS), help="(default: %(default)s)")
    g.add_argument("--theta", type=float, default=0.1, help="saliency: weight of the map (default: %(default)s)")
    g.add_argument("--enhance", default="none",
                   help="saliency: none, color_reverse, zero_mean or both (default: %(default)s)")
    g.add_argument("--squeezers", default=squeezers,
                   help="feature_squeezing: comma-separated squeezers (default: %(default)s)")
    g.add_argument("--detector-weights", metavar="FILE",
                   help="binary: a detector saved by BinaryDetector.save (the Python API, or the one "
                        "experiments/ding2023/sec47_binary_detector.py trains, in the cache's detectors/ folder)")
    g.add_argument("--threshold", type=float, default=None,
                   help="flag when the score is above it (default: saliency 0, i.e. the label changed)")
    return g


def build_detector(args, clf):
    from .. import defenses

    if args.detector == "binary":
        if not args.detector_weights:
            raise ValueError("the binary detector is a CNN trained on clean and adversarial images: give "
                             "--detector-weights FILE, a detector saved by BinaryDetector.save (train one with "
                             "defenses.BinaryDetector(clf).train(x_clean, x_adv), or run "
                             "experiments/ding2023/sec47_binary_detector.py)")
        return defenses.BinaryDetector.load(args.detector_weights, clf, batch_size=args.batch_size)
    if args.detector == "saliency":
        return defenses.SaliencyDetector(clf, theta=args.theta, enhance=args.enhance, batch_size=args.batch_size)
    squeezers = [s.strip() for s in args.squeezers.split(",") if s.strip()]
    return defenses.FeatureSqueezing(clf, squeezers, batch_size=args.batch_size)


def run(args) -> None:
    import numpy as np

    attack, ignored = common.build_attack(args) if args.attack else (None, [])
    if args.fpr is not None and not 0.0 <= args.fpr <= 1.0:
        raise ValueError(f"--fpr must be in [0, 1]. Received: --fpr {args.fpr}")
    clf = common.load_classifier(args)
    det = build_detector(args, clf)  # bad detector settings fail before the images are read
    if args.threshold is not None:
        det.threshold = float(args.threshold)
    fpr = args.fpr
    if fpr is None and det.threshold is None and attack is not None:
        fpr = 0.05  # Xu et al.'s choice for feature squeezing
    if fpr is None and det.threshold is None:
        raise ValueError(f"the {args.detector} detector needs a threshold: give --threshold T, or --fpr F to fit it "
                         "on these inputs taken as clean, or --attack to measure it (fits at 5% on clean inputs)")
    inputs = common.load_inputs(args, clf)
    x, y, names = inputs["x"], inputs["y"], inputs["names"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"detector": repr(det), "model": clf.describe(), **common.input_summary(inputs)}
    lines = [f"{det!r} on {clf.name} ({clf.weights_source}), {len(x)} images"]
    if attack is None:
        if fpr is not None:
            det.fit(x, fpr=fpr)
            lines.append(f"threshold {det.threshold:.4g}: fit at {fpr:.0%} false positives on these {len(x)} images, "
                         "taken as clean")
        scores = det.scores(x, progress=not args.json)
        flags = scores > det.threshold
        summary.update(threshold=det.threshold, flagged=int(flags.sum()),
                       inputs=[{"file": n, "score": float(s), "flagged": bool(f)}
                               for n, s, f in zip(names, scores, flags)])
        np.savez_compressed(out / "scores.npz", scores=scores, flagged=flags, files=np.asarray(names))
        lines.append(f"{'flagged':<16}{int(flags.sum())} of {len(x)} (score > {det.threshold:.4g})")
        lines += [f"  {n}  score {s:.4f}" for n, s, f in zip(names, scores, flags) if f][:20]
        if flags.sum() > 20:
            lines.append(f"  ... and {int(flags.sum()) - 20} more in {out / 'detect.json'}")
    else:
        correct = clf.predict(x).argmax(1) == y
        xc, yc = x[correct], y[correct]
        if len(xc) < 2:
            raise ValueError(f"the model classifies {len(xc)} of the {len(x)} inputs correctly; the measurement "
                             "needs at least 2 clean, correctly classified inputs")
        result = attack(clf, xc, yc, batch_size=args.batch_size, progress=not args.json)
        x_adv = result.x_adv[result.success]
        if len(x_adv) == 0:
            raise ValueError(f"{attack!r} fooled none of the {len(xc)} correctly classified inputs: nothing to "
                             "detect; raise the budget (--eps)")
        clean_eval, how = xc, f"threshold {det.threshold:.4g} " + (
            "as given" if args.threshold is not None else RULES.get(args.detector, "(the detector's rule)"))
        if fpr is not None:
            det.fit(xc[0::2], fpr=fpr)
            clean_eval = xc[1::2] if len(xc) > 1 else xc
            how = (f"threshold {det.threshold:.4g}: fit at {fpr:.0%} false positives on {len(xc[0::2])} clean "
                   f"inputs, measured on the other {len(clean_eval)}")
        rep = det.evaluate(clean_eval, x_adv)
        auc = "n/a" if rep.roc_auc is None else f"{rep.roc_auc:.3f}"
        summary.update(attack=repr(attack), attack_success_rate=float(result.success.mean()),
                       clean_correct=int(correct.sum()), **rep.as_dict())
        lines += [f"attack          {attack!r}: fooled {result.success.mean():.1%} of {len(xc)} correctly "
                  f"classified inputs",
                  f"{'detection rate':<16}{rep.detection_rate:.1%} of {rep.n_adv} adversarial examples",
                  f"{'false positives':<16}{rep.false_positive_rate:.1%} of {rep.n_clean} clean inputs "
                  f"(passed: {rep.clean_pass_rate:.1%})",
                  f"{'ROC-AUC':<16}{auc}", how]
        if ignored:
            lines.append(f"note: {attack.name} takes no {', '.join('--' + k.replace('_', '-') for k in ignored)}; "
                         "ignored")
    lines += common.input_lines(inputs)
    (out / "detect.json").write_text(json.dumps(summary, indent=2, default=str))
    lines.append(f"wrote {out / 'detect.json'}")
    common.emit(args, summary, lines)
