"""``advinterp explain``: explanation maps as PNG pages and .npz, optionally clean vs adversarial."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import _common as common
from ._catalog import INTERPRETERS, listing


def add_parser(sub) -> None:
    e = sub.add_parser("explain", help="explanation maps (CAM, Grad-CAM, ...) as PNG and .npz",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=f"methods:\n{listing(INTERPRETERS)}")
    common.add_model_args(e)
    common.add_input_args(e, limit=16)
    e.add_argument("--method", default="gradcam", choices=sorted(INTERPRETERS), help="(default: %(default)s)")
    e.add_argument("--class-index", type=int, default=None, help="explain this class (default: the label)")
    common.add_attack_args(e, default=None, what="also attack and show clean vs adversarial maps")
    e.add_argument("--out", default="advinterp-out/explain", help="(default: %(default)s)")
    e.set_defaults(run=run)


def run(args) -> None:
    import numpy as np

    from .. import interpret
    from ..interpret.figures import explanation_figures

    attack, ignored = common.build_attack(args) if args.attack else (None, [])
    clf = common.load_classifier(args)
    interp = interpret.get(args.method, clf)
    inputs = common.load_inputs(args, clf)
    x, y, names = inputs["x"], inputs["y"], inputs["names"]
    if args.class_index is not None and not 0 <= args.class_index < clf.num_classes:
        raise ValueError(f"--class-index must be in [0, {clf.num_classes}). Received: --class-index {args.class_index}")
    cls = np.full(len(x), args.class_index) if args.class_index is not None else y
    maps = interp(x, cls, progress=not args.json)
    p_clean = clf.probabilities(x)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"maps": maps, "class_index": cls, "files": np.asarray(names)}
    payload = {"method": interp.name, "model": clf.describe(), **common.input_summary(inputs)}
    lines = [f"{interp.name} maps for {len(x)} images on {clf.name}"]
    fig = {"clean_pred": p_clean.argmax(1), "clean_conf": p_clean.max(1)}
    if attack is not None:
        result = attack(clf, x, y, progress=not args.json)
        maps_adv = interp(result.x_adv, cls)
        p_adv = clf.probabilities(result.x_adv)
        arrays.update(x_adv=result.x_adv, maps_adv=maps_adv, success=result.success)
        fig.update(x_adv=result.x_adv, maps_adv=maps_adv, adv_pred=p_adv.argmax(1), adv_conf=p_adv.max(1),
                   success=result.success)
        tau = interpret.metrics.kendall_tau(maps, maps_adv)
        iou = interpret.metrics.top_iou(maps, maps_adv)
        payload.update(attack=repr(attack), attack_params=attack.params(), success_rate=result.success_rate,
                       kendall_tau=float(tau.mean()), top20_iou=float(iou.mean()))
        lines += [f"{attack!r}: success rate {result.success_rate:.1%} "
                  f"({int(result.success.sum())} of {len(x)})",
                  f"clean vs adversarial maps: Kendall tau {tau.mean():.3f}, top-20% IoU {iou.mean():.3f}"]
        if ignored:
            lines.append(f"note: {attack.name} takes no "
                         f"{', '.join('--' + k.replace('_', '-') for k in ignored)}; ignored")
    np.savez_compressed(out / f"{interp.name}_maps.npz", **arrays)
    method = f"{interp.name} on {clf.name}"
    if args.class_index is not None:  # the maps explain this class, not each image's label
        method += f", class {clf.class_names[args.class_index]}"
    pages = explanation_figures(out / f"{interp.name}.png", x, maps, [Path(n).name for n in names],
                                class_names=clf.class_names, labels=y, method=method, **fig)
    payload.update(figures=[str(p) for p in pages], maps=str(out / f"{interp.name}_maps.npz"))
    lines += common.input_lines(inputs)
    lines += [f"figure{'s' if len(pages) > 1 else ''}: {', '.join(str(p) for p in pages)}",
              f"maps: {payload['maps']}"]
    common.emit(args, payload, lines)
