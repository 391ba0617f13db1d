"""``advinterp models``: the models by name, and where their weights are."""

from __future__ import annotations

from . import _common as common


def add_parser(sub) -> None:
    m = sub.add_parser("models", help="list models and where their weights are",
                       description="Models by name. Any model file works too: --model my.keras / my.h5 / "
                                   "a SavedModel folder, with --preprocess, --classes and --input-range.")
    m.add_argument("--json", action="store_true", help="print JSON instead of text")
    m.set_defaults(run=run)


def run(args) -> None:
    from ..models import available

    table = available()
    lines = [f"{'name':<14}{'kind':<20}{'weights present':<17}weights file"]
    for name, info in table.items():
        lines.append(f"{name:<14}{info['kind']:<20}{'yes' if info['present'] else 'no':<17}{info['weights']}")
    lines.append("any model file works too: --model my.keras | my.h5 | saved_model_dir/ "
                 "(with --preprocess, --classes, --input-range)")
    common.emit(args, table, lines)
