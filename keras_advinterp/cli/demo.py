"""``advinterp demo``: the main job on the embedded default model (or yours)."""

from __future__ import annotations

from pathlib import Path

from . import _common as common


def add_parser(sub) -> None:
    d = sub.add_parser("demo", help="attack a few images and show how Grad-CAM moves (the main job)")
    common.add_model_args(d)
    common.add_input_args(d, limit=4)
    d.add_argument("-n", type=int, default=None, help="number of images (same as --limit; default 4)")
    d.add_argument("--eps", type=common.number, default=8 / 255, help="Linf budget, e.g. 8/255 (default)")
    d.add_argument("--steps", type=int, default=10)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", default="advinterp-out", help="output folder (default: %(default)s)")
    d.set_defaults(run=run)


def run(args) -> None:
    from ..attacks import PGD
    from ..demo import run_demo

    if args.n is not None:
        args.limit = args.n
    common.check_pixel_budget(PGD(eps=args.eps, steps=args.steps))
    clf = common.load_classifier(args)
    inputs = None
    if args.image or (args.data and Path(args.data).is_dir()) or args.labels == "predicted":
        inputs = common.load_inputs(args, clf)
    s = run_demo(clf=clf, inputs=inputs, data_name=args.data, n=args.limit, eps=args.eps, steps=args.steps,
                 out=args.out, seed=args.seed, progress=not args.json)
    lines = [f"model {s['model']['name']} ({s['model']['weights_source']}); "
             f"PGD Linf eps={args.eps * 255:.1f}/255, {args.steps} steps; labels: {s['labels']}",
             f"{'image':<22} {'true':<12} {'clean top-1':<24} {'adversarial top-1':<24} changed"]
    for im in s["images"]:
        clean, adv = (f"{_cut(t['class'], 14)} {t['p']:.1%}" for t in (im["clean"][0], im["adversarial"][0]))
        lines.append(f"{_cut(Path(im['image']).name, 22):<22} {_cut(im['label'], 12):<12} {clean:<24} {adv:<24} "
                     f"{'yes' if im['success'] else 'no'}")
    if "warning" in s:
        lines.insert(0, f"warning: {s['warning']}")
    if inputs is not None:
        lines += common.input_lines(inputs)
        s.update(skipped=common.input_summary(inputs)["skipped"])
    lines += [f"success rate {s['success_rate']:.0%}; {s['seconds']:.1f} s",
              f"figure: {s['figure']}", f"summary: {Path(args.out) / 'demo.json'}"]
    common.emit(args, s, lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"
