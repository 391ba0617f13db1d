"""``advinterp export``: a TF Serving SavedModel with prediction, explanation and a detector's verdict."""

from __future__ import annotations

import argparse

from . import _common as common
from .detect import add_detector_args, build_detector

GRAPH_SAFE_SQUEEZERS = "bit_depth_5,median_2x2"


def add_parser(sub) -> None:
    e = sub.add_parser(
        "export", help="write a TF Serving model: predict, explain and guarded signatures",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Writes <base>/<name>/<version>/ (a SavedModel) and <base>/models.config, then prints how to serve "
               "and call it.\n\nsignatures (each also as *_bytes, taking encoded image files; predict_bytes for "
               "serving_default):\n"
               "  serving_default  images (N,H,W,C) float in [0, 1] -> probabilities, top_k_classes, "
               "top_k_probabilities, top_k_names\n"
               "  explain          ... + map (N,H,W) of the top class, by --interpreter\n"
               "  guarded          ... + detector_score, adversarial (score > the threshold frozen at export)\n\n"
               "The detector needs a threshold: saliency has one (0: the label changed); feature_squeezing takes "
               "--threshold or --fpr (fit on clean inputs from --data, default the model's own data); binary takes "
               "--detector-weights. --detector none exports without guarded signatures.")
    common.add_model_args(e)
    g = e.add_argument_group("export")
    g.add_argument("--base", default="advinterp-out/serving", help="serving root folder (default: %(default)s)")
    g.add_argument("--name", default=None, help="serving name (default: the model's name)")
    g.add_argument("--version", type=int, default=None, help="version number (default: one above the highest present)")
    g.add_argument("--overwrite", action="store_true", help="replace an existing version")
    g.add_argument("--interpreter", default="gradcam", choices=["gradcam", "cam", "grad"],
                   help="the map of explain and guarded (default: %(default)s)")
    g.add_argument("--top-k", type=int, default=5, help="classes listed per image (default: %(default)s)")
    g.add_argument("--resize", default=common.RESIZE_DEFAULT, choices=common.RESIZE_CHOICES,
                   help="how the *_bytes signatures fit images to the input (default: %(default)s)")
    g.add_argument("--jit", action="store_true",
                   help="XLA-compile each signature's numeric core (0.57-1.04x the plain export's time on a "
                        "2-core CPU, benchmarks/serving.py; the server must be built with XLA)")
    g.add_argument("--container-root", default="/models",
                   help="where --base is mounted for the server, written into models.config (default: %(default)s)")
    det = add_detector_args(e, squeezers=GRAPH_SAFE_SQUEEZERS, choices=["saliency", "feature_squeezing", "binary",
                                                                        "none"])
    det.add_argument("--fpr", type=float, default=None,
                     help="fit the threshold at this false-positive rate on clean inputs from --data")
    det.add_argument("--data", help="clean images for --fpr: shapes, digits, photos or a folder (default: the "
                                    "model's own data)")
    det.add_argument("--limit", type=int, default=256, help="clean images for --fpr (default: %(default)s)")
    # what the shared input and detector helpers read; labels are unused (clean images only)
    e.set_defaults(run=run, split="test", image=None, labels="predicted", batch_size=32)


def run(args) -> None:
    from .. import serving
    from ..models import default_data

    if args.fpr is not None and not 0.0 <= args.fpr <= 1.0:
        raise ValueError(f"--fpr must be in [0, 1]. Received: --fpr {args.fpr}")
    clf = common.load_classifier(args)
    det = None
    lines = []
    if args.detector != "none":
        det = build_detector(args, clf)
        if args.threshold is not None:
            det.threshold = float(args.threshold)
        elif args.fpr is not None:
            inputs = common.load_inputs(args, clf)
            det.fit(inputs["x"], fpr=args.fpr)
            lines.append(f"threshold {det.threshold:.4g}: fit at {args.fpr:.0%} false positives on "
                         f"{len(inputs['x'])} clean images from {args.data or default_data(clf)}")
        elif det.threshold is None:
            raise ValueError(f"the {args.detector} detector needs a threshold: give --threshold T, or --fpr F to fit "
                             "it on clean images (--data, default the model's own), or --detector none")
    exp = serving.export(clf, args.base, name=args.name, version=args.version, detector=det,
                         interpreter=args.interpreter, top_k=args.top_k, resize=args.resize, jit_compile=args.jit,
                         overwrite=args.overwrite, container_root=args.container_root)
    summary = {"path": str(exp.path), "name": exp.name, "version": exp.version, "config": str(exp.config),
               **exp.metadata}
    common.emit(args, summary, lines + [exp.describe()])
