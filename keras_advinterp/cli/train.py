"""``advinterp train``: adversarial training on one device, one host's devices, or hosts in TF_CONFIG."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import _common as common

STRATEGY_HELP = """Strategies:
  default      one device
  mirrored     MirroredStrategy over every GPU of this host (else every logical CPU device)
  multiworker  MultiWorkerMirroredStrategy over the hosts listed in TF_CONFIG: run the same command
               on every host, each with its own task index; every host needs the data (--data)
Every variable is made inside the strategy's scope; in each step every replica attacks its slice of
the global batch (--batch-size, split over all replicas) against the current weights. Only the
chief (worker 0) writes --save. Example, two hosts:
  host0$ TF_CONFIG='{"cluster": {"worker": ["host0:2222", "host1:2222"]},
                     "task": {"type": "worker", "index": 0}}' advinterp train --strategy multiworker ...
  host1$ TF_CONFIG='... "index": 1}}' advinterp train --strategy multiworker ..."""


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="adversarial training, optionally distributed with tf.distribute",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=STRATEGY_HELP)
    common.add_model_args(t)
    common.add_attack_args(t, what="attack that makes the training examples (graph-safe: fgsm, bim, mim, pgd)")
    g = t.add_argument_group("training")
    g.add_argument("--data", default="shapes", help="shapes, digits or a class/image folder (default: %(default)s)")
    g.add_argument("--split", default="train")
    g.add_argument("--limit", type=int, default=None, help="training images to use (default: all)")
    g.add_argument("--strategy", default="default", choices=["default", "mirrored", "multiworker"])
    g.add_argument("--ratio", type=float, default=0.5, help="share of each batch made adversarial (default: 0.5)")
    g.add_argument("--epochs", type=int, default=3)
    g.add_argument("--batch-size", type=int, default=64, help="global batch over all replicas (default: 64)")
    g.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    g.add_argument("--save", default=None, help="write the trained model here (.keras), from the chief only")
    t.set_defaults(run=run)


def run(args) -> None:
    from .. import distribute

    if args.strategy == "multiworker":
        distribute.worker_from_tf_config()  # a malformed TF_CONFIG fails before anything starts
    if args.limit is not None and args.limit <= 0:
        raise ValueError(f"--limit must be a positive number of images. Received: --limit {args.limit}")
    if args.save and Path(args.save).suffix != ".keras":
        raise ValueError(f"--save writes a Keras model file ending in .keras. Received: --save {args.save}")
    attack, _ = common.build_attack(args)
    strategy = distribute.make_strategy(args.strategy)  # before other TensorFlow work (multiworker needs it)
    from .. import data

    holder = {}

    def build():
        holder["clf"] = common.load_classifier(args)
        return holder["clf"]

    trainer = distribute.adversarial_trainer(build, attack, strategy=strategy, ratio=args.ratio,
                                             learning_rate=args.lr)
    clf = holder["clf"]
    d = data.load(args.data, args.split, limit=args.limit, size=clf.input_size, channels=clf.channels,
                  class_names=clf.class_names)
    if (d.y < 0).any() or len(d.class_names) != clf.num_classes:
        raise ValueError(f"training needs a label per image in the model's {clf.num_classes} classes. "
                         f"Received: --data {args.data} ({len(d.class_names)} classes, {int((d.y < 0).sum())} "
                         f"unlabelled images)")
    history = distribute.fit(trainer, d.x, d.y, strategy=strategy, batch_size=args.batch_size, epochs=args.epochs,
                             verbose=not args.json)
    chief = distribute.is_chief(strategy)
    summary = {"strategy": args.strategy, "replicas": history["replicas"], "images": len(d.x),
               "attack": repr(attack), "ratio": args.ratio, "chief": chief,
               **{k: v for k, v in history.items() if k not in ("replicas",)}}
    lines = [f"{repr(attack)} at ratio {args.ratio} on {clf.name}, {len(d.x)} images, {args.strategy} strategy "
             f"with {history['replicas']} replica(s), {history['steps_per_epoch']} steps per epoch"]
    if args.save and chief:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        trainer.inner.save(args.save)
        summary["saved"] = args.save
        lines.append(f"wrote {args.save}")
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print("\n".join(lines))
