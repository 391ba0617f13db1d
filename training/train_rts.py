"""Trains the RTS masking model of an embedded classifier and saves it beside its weights.

    python training/train_rts.py --model shapes     # ~6-10 min on 2 CPU cores

The classifier stays frozen; the masker learns from its gradients only
(interpret/rts.py). Prints the masks' top-20% IoU with the object masks on
the shapes test set, next to a centred-blob baseline.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from keras_advinterp import data, interpret, models
from keras_advinterp.interpret import metrics
from keras_advinterp.interpret.rts import rts_weights_file


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="shapes", choices=sorted(models.EMBEDDED))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--limit", type=int, default=None, help="training images (default: the whole train split)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--area", type=float, default=None, help="weight of the mask area term (default: rts.LOSS)")
    p.add_argument("--out", default=None, help="weights file (default: the shipped one)")
    a = p.parse_args()
    clf = models.load(a.model)
    spec = models.EMBEDDED[a.model]
    x, y = data.load(spec.data, "train", limit=a.limit, seed=a.seed)
    t = time.time()
    overrides = {} if a.area is None else {"area": a.area}
    masker = interpret.train_rts(clf, x, y, epochs=a.epochs, seed=a.seed, loss_weights=overrides)
    seconds = time.time() - t
    out = a.out or str(rts_weights_file(clf))
    masker.save_weights(out)
    report = {"model": a.model, "epochs": a.epochs, "train_images": len(x), "train_seconds": round(seconds, 1),
              "loss_overrides": overrides, "weights": out}
    test = data.load(spec.data, "test", limit=300)
    if test.masks is not None:
        maps = interpret.RTS(clf, weights=masker)(test.x, test.y)
        h, w = maps.shape[1:]
        yy, xx = np.mgrid[0:h, 0:w]
        blob = np.broadcast_to(-np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2), maps.shape)
        report["mask_iou_top20"] = round(float(metrics.mask_iou(maps, test.masks).mean()), 4)
        report["centred_blob_iou_top20"] = round(float(metrics.mask_iou(blob, test.masks).mean()), 4)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
