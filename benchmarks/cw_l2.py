"""C&W-L2 quality at a fixed budget: our median L2 beside Foolbox's and ART's.

    python benchmarks/cw_l2.py                       # shapes (embedded) + ResNet-20 trained on shapes (~15 min)
    python benchmarks/cw_l2.py --models shapes       # the quick one

Budget: 20 Adam steps x 3 binary-search steps, learning rate 0.01, initial
constant 0.01 (the settings of the "Core, second pass" issue) and the same
with initial constant 1: ART doubles c per failed round where Foolbox and we
multiply it by 10, so from 0.01 its three rounds (0.01, 0.02, 0.04) fool no
image of shapes (and 78 % of the ResNet-20's), so the second budget
compares its L2 too. Ours runs with the default early abort, without it,
and with 50 and 100 steps per search, to find which setting reaches ART's
L2 (a learning rate of 0.05 is worse: ResNet-20, c 0.01: 0.2945 against
0.2642); Foolbox with its default early abort and without; ART (gradient
descent with a line search, no early abort). Per-image L2 are kept in the
JSON, so medians on the images two implementations both fool can be taken.
Images: correctly classified test images of trained models (a random-weight
network has near-uniform outputs, useless for minimal-perturbation
comparisons). Writes benchmarks/results/cw_l2.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import _peers  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _models import resnet20_on_shapes  # noqa: E402

from keras_advinterp import data, models  # noqa: E402
from keras_advinterp.attacks.optimization import CarliniWagnerL2  # noqa: E402

BUDGET = dict(steps=20, binary_search_steps=3, learning_rate=0.01, initial_const=0.01)
OURS = {
    "ours": {},
    "ours no abort": {"abort_early": False},
    "ours 50 steps": {"steps": 50},
    "ours 100 steps": {"steps": 100},
}
PEERS = {"foolbox": {}, "foolbox no abort": {"abort_early": False}, "art": {}}


def images(name: str, n: int):
    if name == "resnet20":
        clf, x, y = resnet20_on_shapes()
        return clf, x[:n], y[:n]
    clf = models.load(name)
    d = data.load(name, "test", limit=4 * n)
    keep = clf.predict(d.x).argmax(1) == d.y
    return clf, d.x[keep][:n], d.y[keep][:n].astype(np.int32)


def per_image_l2(x, x_adv) -> list[float]:
    return [round(float(v), 4) for v in np.sqrt(((x_adv - x) ** 2).reshape(len(x), -1).sum(1))]


def measure(clf, x, y, x_adv, seconds) -> dict:
    success = clf.predict(x_adv).argmax(1) != y
    l2 = np.sqrt(((x_adv - x) ** 2).reshape(len(x), -1).sum(1))
    return {"success_rate": round(float(success.mean()), 4),
            "median_l2": round(float(np.median(l2[success])), 4) if success.any() else None,
            "median_l2_all": round(float(np.median(np.where(success, l2, np.inf))), 4), "seconds": round(seconds, 2)}


def bench(name: str, n: int, which, const: float) -> list[dict]:
    clf, x, y = images(name, n)
    budget = {**BUDGET, "initial_const": const}
    rows = []
    for label, extra in OURS.items():
        if which and label not in which:
            continue
        attack = CarliniWagnerL2(**{**budget, **extra})
        attack(clf, x, y)  # compile outside the timing
        t = time.perf_counter()
        r = attack(clf, x, y)
        rows.append({"model": name, "impl": label, "params": attack.params(),
                     **measure(clf, x, y, r.x_adv, time.perf_counter() - t), "l2": per_image_l2(x, r.x_adv),
                     "mean_iterations": round(float(r.iterations.mean()), 1)})
        print({k: v for k, v in rows[-1].items() if k not in ("params", "l2")}, flush=True)
    for label, extra in PEERS.items():
        if which and label not in which:
            continue
        attack = CarliniWagnerL2(**{**budget, **extra})
        keras.utils.set_random_seed(0)
        run = _peers.build(label.split()[0], attack, clf, batch_size=len(x))
        t = time.perf_counter()
        x_adv = run(x, y)
        rows.append({"model": name, "impl": label, "params": attack.params(),
                     **measure(clf, x, y, x_adv, time.perf_counter() - t), "l2": per_image_l2(x, x_adv)})
        print({k: v for k, v in rows[-1].items() if k not in ("params", "l2")}, flush=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["shapes", "resnet20"])
    p.add_argument("-n", type=int, default=32, help="images per model")
    p.add_argument("--only", nargs="*", default=None, help="implementations to run (labels)")
    p.add_argument("--consts", nargs="+", type=float, default=[0.01, 1.0], help="initial constants")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "cw_l2.json"))
    a = p.parse_args()
    rows = [r for m in a.models for c in a.consts for r in bench(m, a.n, a.only, c)]
    print(f"\n{'model':<10}{'c0':>6} {'impl':<18}{'success':>8}{'median L2':>10}{'seconds':>9}")
    for r in rows:
        l2 = f"{r['median_l2']:.4f}" if r["median_l2"] is not None else "-"
        print(f"{r['model']:<10}{r['params']['initial_const']:>6} {r['impl']:<18}{r['success_rate']:>8.2f}{l2:>10}"
              f"{r['seconds']:>9.1f}")
    Path(a.out).write_text(json.dumps({"budget": BUDGET, "rows": rows, "peers": _peers.versions(),
                                       "tensorflow": tf.__version__, "n": a.n}, indent=2, default=str))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
