"""``advinterp experiment``: list or run the papers' tables and figures (resumable)."""

from __future__ import annotations

from pathlib import Path

from . import _common as common


def add_parser(sub) -> None:
    x = sub.add_parser("experiment", help="list or run paper experiments (resumable)",
                       description="Runs experiments/<paper>/<name>.py; NAME is <paper>/<name> or a unique <name>.")
    x.add_argument("name", nargs="?", help="<paper>/<name> (see --list)")
    x.add_argument("--list", action="store_true")
    x.add_argument("--quick", action="store_true",
                   help="small smoke-size setting; written under <out>/<paper>/quick/, never over full results")
    x.add_argument("--model", help="model name or file; for experiments over several models, a comma-separated list")
    x.add_argument("--weights")
    x.add_argument("--data")
    x.add_argument("--limit", type=int)
    x.add_argument("--seed", type=int)
    x.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any setting of the experiment (VALUE read as JSON if it parses, else as text), "
                        "e.g. --set fgsm_eps_255=4 --set 'models=[\"vgg16\",\"resnet50\"]'")
    x.add_argument("--fresh", action="store_true", help="ignore checkpoints of this setting")
    x.add_argument("--out", default="results", help="results root (default: %(default)s)")
    x.add_argument("--dir", help="experiments folder (default: ./experiments or the source checkout's)")
    x.add_argument("--json", action="store_true", help="print JSON instead of text")
    x.set_defaults(run=run)


def parse_settings(pairs) -> dict:
    """``["key=value", ...]`` -> dict, each value read as JSON where it parses (numbers, lists), else text."""
    import json

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set takes KEY=VALUE. Received: --set {pair!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def run(args) -> None:
    from .. import runner

    if args.list or not args.name:
        found = runner.discover(args.dir)
        rows = {}
        for key in found:
            exp = runner.load_experiment(key, args.dir)
            rows[key] = {"paper": exp.paper, "title": exp.title, "script": str(found[key])}
        common.emit(args, rows, [f"{k:<44}{r['title']}" for k, r in rows.items()] or ["(none found)"])
        return
    exp = runner.load_experiment(args.name, args.dir)
    overrides = {"model": args.model, "data": args.data, "limit": args.limit, "seed": args.seed}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "model" in overrides and "model" not in exp.defaults and "models" in exp.defaults:
        overrides["models"] = [m.strip() for m in overrides.pop("model").split(",") if m.strip()]
    overrides.update(parse_settings(args.set))
    if args.weights is not None:
        overrides["weights"] = None if args.weights.lower() == "none" else args.weights
    rec = runner.run(exp, quick=args.quick, out_dir=args.out, fresh=args.fresh, progress=not args.json,
                     **overrides)
    stem = Path(rec["files"]["md"]).with_suffix("")
    md = Path(rec["files"]["md"]).read_text()
    common.emit(args, rec, [md.split("## Setting")[0].rstrip(), "",
                            f"wrote {stem}.md/.csv/.json" + (" and .png" if "figure" in rec else "")])
