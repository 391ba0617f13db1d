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
    add_shard_args(a)
    a.set_defaults(run=run)


SHARDING = """Data-set scale: with --workers (or --tf-config) the run is split over worker processes or hosts.
Worker I of N takes every N-th file of the sorted --data folder from position I and writes its
adversarial PNGs into --save-dir (shared by all workers) under the source paths. Each finished
chunk is recorded in --save-dir/.advinterp-shards/, so rerunning the same command after a kill
resumes without redoing or duplicating a file. The last worker to finish checks that every input
has exactly one PNG and writes labels.csv; --verify repeats that check. Sharded runs process
every image of the folder (--limit does not apply) and write no .npz; the worker's summary goes
to --out/shard-I-of-N.json. Example, two processes:
  advinterp attack --data imgs --save-dir adv --workers 2 --worker 0 &
  advinterp attack --data imgs --save-dir adv --workers 2 --worker 1"""


def add_shard_args(a) -> None:
    g = a.add_argument_group("sharding (data-set scale, resumable)", SHARDING)
    g.add_argument("--workers", type=int, default=None, metavar="N", help="number of workers sharing the folder")
    g.add_argument("--worker", type=int, default=None, metavar="I", help="this worker's index in [0, N-1]")
    g.add_argument("--tf-config", action="store_true",
                   help="take the worker index and count from TF_CONFIG (chief first, then workers)")
    g.add_argument("--devices", default="default", choices=["default", "mirrored"],
                   help="inside a worker: one device, or MirroredStrategy over every GPU (else every logical "
                        "CPU device) of the host (default: %(default)s)")
    g.add_argument("--chunk", type=int, default=None,
                   help="images per checkpoint (default: 4 x --batch-size)")
    g.add_argument("--max-files", type=int, default=None,
                   help="stop after this many files of the shard; rerun to continue")
    g.add_argument("--verify", action="store_true",
                   help="only check --save-dir: one PNG per input, none twice; writes labels.csv when complete")


def sharded(args) -> bool:
    return bool(args.workers is not None or args.worker is not None or args.tf_config or args.verify)


def run(args) -> None:
    import numpy as np

    from ..data import save_adversarial_folder

    if sharded(args):
        return run_sharded(args)
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


def run_sharded(args) -> None:
    """One worker of a sharded, resumable run (or ``--verify``): checks everything before the model loads."""
    from .. import distribute
    from ..data import NAMES

    if not args.save_dir:
        raise ValueError("a sharded run writes PNGs: give --save-dir OUT (shared by every worker)")
    if args.verify:
        report = distribute.merge(args.save_dir)
        common.emit(args, report.to_dict(), report.lines())
        if not report.complete:
            raise ValueError(f"{args.save_dir} is incomplete: {len(report.missing)} missing, "
                             f"{len(report.duplicates)} recorded twice")
        return
    spec = distribute.resolve_worker(args.worker, args.workers, tf_config=args.tf_config)
    if args.image or not args.data or not Path(args.data).is_dir():
        where = "--image" if args.image else f"--data {args.data}"
        if args.data and not args.image and args.data not in NAMES and not Path(args.data).exists():
            raise FileNotFoundError(f"--data folder does not exist: {args.data!r}")
        raise ValueError(f"sharded runs read an image folder: give --data FOLDER. Received: {where}")
    attack, ignored = common.build_attack(args)
    if args.attack == "uap":
        raise ValueError("uap fits one perturbation to a whole set, which sharding would split: run it without "
                         "--workers. Received: --attack uap")
    strategy = distribute.make_strategy(args.devices)
    with strategy.scope():  # each device holds its own copy of the weights
        clf = common.load_classifier(args)
    result = distribute.generate_shard(
        clf, attack, args.data, args.save_dir, worker=spec.index, workers=spec.count, strategy=strategy,
        target=args.target, labels=args.labels, resize=args.resize, batch_size=args.batch_size, chunk=args.chunk,
        max_files=args.max_files)
    summary = {**result.to_dict(), "attack": repr(attack), "model": clf.describe(), "source": spec.source}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"shard-{spec.index}-of-{spec.count}.json"
    path.write_text(json.dumps(summary, indent=2, default=str))
    rate = f"{result.generated / result.seconds:.2f} images/s" if result.generated else "nothing left to do"
    lines = [f"{attack!r} on {clf.name}: {spec}, {result.replicas} replica(s)",
             f"{'shard':<16}{result.assigned} files, {result.already_done} already done, "
             f"{result.generated} generated now ({rate})"]
    lines += [f"skipped {s}: {why}" for s, why in result.skipped]
    if ignored:
        lines.append(f"note: {attack.name} takes no {', '.join('--' + k.replace('_', '-') for k in ignored)}; "
                     f"ignored")
    lines += result.report.lines() if result.report else []
    if result.report and not result.report.complete:
        lines.append("(other workers may still be running: --verify checks again once all have finished)")
    lines.append(f"wrote {path}")
    common.emit(args, summary, lines)
