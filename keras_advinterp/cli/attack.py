"""``advinterp attack``: run an attack over a data set, a folder or files, and summarise it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import _common as common
from ._catalog import ATTACKS, listing


def add_parser(sub) -> None:
    a = sub.add_parser("attack", help="run an attack over a data set and summarise it",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=f"attacks:\n{listing(ATTACKS)}\n\nAny constructor argument: --param key=value "
                              "(e.g. -p binary_search_steps=3 -p abort_early=false); "
                              "see help(keras_advinterp.attacks.<Class>).")
    common.add_model_args(a)
    common.add_input_args(a)
    common.add_attack_args(a)
    a.add_argument("--target", type=int, default=None, help="target class index (targeted attack)")
    a.add_argument("--batch-size", type=int, default=32)
    a.add_argument("--out", default="advinterp-out/attack", help="summary JSON and .npz (default: %(default)s)")
    a.add_argument("--save-dir", help="also write the adversarial images as PNG with the source file names")
    a.set_defaults(run=run)


def run(args) -> None:
    import numpy as np

    from ..data import save_adversarial_folder

    attack, ignored = common.build_attack(args)  # bad parameters fail before any model loads
    clf = common.load_classifier(args)
    inputs = common.load_inputs(args, clf)
    x, y, names = inputs["x"], inputs["y"], inputs["names"]
    result = attack(clf, x, y, target=args.target, batch_size=args.batch_size, progress=not args.json)
    summary = {**result.summary(), "model": clf.describe(), **common.input_summary(inputs)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "adversarial.npz", x_adv=result.x_adv, labels=result.labels,
                        predictions=result.predictions, success=result.success, files=np.asarray(names))
    m = summary["mean_norms"]
    lines = [f"{attack!r} on {clf.name} ({clf.weights_source}), {len(x)} images",
             f"{'success rate':<16}{summary['success_rate']:.1%}",
             f"{'mean Linf':<16}{m['linf']:.4f} ({m['linf'] * 255:.2f}/255)",
             f"{'mean L2':<16}{m['l2']:.4f}",
             f"{'mean L1':<16}{m['l1']:.3f}",
             f"{'mean L0':<16}{m['l0']:.0f} of {x[0].size} values",
             f"{'iterations':<16}{summary['mean_iterations']:.1f} per image",
             f"{'time per image':<16}{summary['seconds_per_image'] * 1000:.1f} ms (compilation included)"]
    lines += common.input_lines(inputs)
    if ignored:
        lines.append(f"note: {attack.name} takes no {', '.join('--' + k.replace('_', '-') for k in ignored)}; "
                     f"ignored")
    if "fooling_rate" in result.params:
        lines += uap_lines(result, attack, clf, x, y, summary)
    if args.save_dir:
        root = Path(args.data).resolve() if args.data and Path(args.data).is_dir() else None
        paths, saved = save_adversarial_folder(Path(args.save_dir), result.x_adv, names, result.labels,
                                               result.predictions, root)
        pred8 = clf.predict(saved).argmax(1)
        ok8 = pred8 == result.target if result.target is not None else pred8 != result.labels
        summary.update(save_dir=str(args.save_dir), saved=len(paths), success_rate_8bit=round(float(ok8.mean()), 4))
        lines.append(f"{'saved':<16}{len(paths)} PNG files in {args.save_dir} (8-bit: success {ok8.mean():.1%})")
    (out / "attack.json").write_text(json.dumps(summary, indent=2, default=str))
    lines.append(f"wrote {out / 'attack.json'} and {out / 'adversarial.npz'}")
    common.emit(args, summary, lines)


def uap_lines(result, attack, clf, x, y, summary: dict) -> list[str]:
    """The universal perturbation's fit and, when it fell short of its target, the budget it needs (measured)."""
    rate, goal = result.params["fooling_rate"], attack.target_fooling_rate
    lines = [f"{'fooling rate':<16}{rate:.1%} after {result.params['passes']} pass(es) (target {goal:.0%})"]
    if rate >= goal:
        return lines
    found = attack.budget_search(clf, x, y)
    unit = (lambda e: f"{e * 255:.0f}/255") if attack.norm.name == "linf" else (lambda e: f"{e:g}")
    tried = ", ".join(f"{unit(e)}: {r:.0%}" for e, r in found["rates"].items())
    summary["budget_search"] = {"eps": found["eps"], "rates": {str(e): r for e, r in found["rates"].items()},
                                "images": found["images"]}
    if found["eps"] is None:
        lines.append(f"note: eps {unit(attack.eps)} fell short of the {goal:.0%} target, and a quick search "
                     f"(sgd, {found['images']} images) reached it at no budget it tried ({tried})")
    else:
        lines.append(f"note: eps {unit(attack.eps)} fell short of the {goal:.0%} target; a quick search (sgd, "
                     f"{found['images']} images; {tried}) reached it at eps {unit(found['eps'])}: rerun with "
                     f"--eps {unit(found['eps'])}")
    return lines
