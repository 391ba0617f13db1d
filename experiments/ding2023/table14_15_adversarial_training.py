"""Ding et al., Tables 14 and 15: retraining the pre-trained model with k adversarial examples.

For each adversarial set (Table 14: DAmageNet-style, made by our attack on
attention; Table 15: PGD) and each training-set size k, the pre-trained
model is fine-tuned on a fixed clean training subset plus k fixed,
pre-generated adversarial versions of training images labelled with their
true classes (Adam, lr 1e-3, beta 0.9 / 0.999, batch 32, as Sec. 4.6), then
scored on the clean test split and on the held-out adversarial test set of
the same kind (made once against the pre-trained model, like DAmageNet's
validation images). The pre-trained model's figures sit beside each row, as
the paper's parentheses, and the paper's own figures beside ours. An extra
row (Table 15) trains with on-the-fly PGD instead (``defenses.
AdversarialTrainer``: each batch attacked against the current weights),
with the same number of steps and adversarial share as the largest k.

    advinterp experiment ding2023/table14_15_adversarial_training [--quick]
    python experiments/ding2023/table14_15_adversarial_training.py --quick
"""

from __future__ import annotations

import keras
import numpy as np
from _common import DEFAULTS, QUICK, SET_NAMES, SOURCE, main, prepare, setting_notes

from keras_advinterp import attacks, data, models
from keras_advinterp.defenses import AdversarialTrainer
from keras_advinterp.runner import Experiment, Table, cached_attack

TITLE = ("Adversarial training with k DAmageNet-style / PGD examples: clean and adversarial accuracy "
         "(Ding et al., Tables 14-15)")

# Paper (ResNet50, ImageNet): training-set size -> (acc. ImageNet val %, acc. adversarial val %);
# pre-trained: 41.77 % clean, 4.430 % DAmageNet, 0.130 % PGD.
PAPER = {
    "damagenet": {"table": 14, "baseline": (41.77, 4.430),
                  "rows": [(10000, 15.07, 3.891), (20000, 19.21, 5.684), (30000, 29.98, 6.987),
                           (40000, 54.60, 19.739)]},
    "pgd": {"table": 15, "baseline": (41.77, 0.130),
            "rows": [(10000, 25.71, 11.77), (20000, 31.53, 12.21), (30000, 44.98, 15.68),
                     (40000, 67.42, 24.08)]},
}
ON_THE_FLY = "on-the-fly"

DEFAULTS = {**DEFAULTS, "ks": [0, 400, 800, 1200, 1600], "train_clean": 800, "epochs": 2, "lr": 1e-3,
            "beta_1": 0.9, "beta_2": 0.999, "train_batch": 32, "on_the_fly": True}
QUICK = {**QUICK, "ks": [16], "train_clean": 16, "epochs": 1, "on_the_fly": False}


def _attack(kind, s):
    return attacks.AttentionAttack(**s["aoa"]) if kind == "damagenet" else attacks.PGD(**s["pgd"])


def prepare_training(s):
    ctx = prepare(s)
    clf = ctx["clf"]
    name = s["data"] if s["data"] != "default" else models.default_data(clf)
    test = data.load(name, "test", limit=s["limit"], seed=s["seed"])
    pool = max(s["ks"])
    train = data.load(name, "train", limit=s["train_clean"] + pool, seed=s["seed"])
    ctx["test"] = (test.x, test.y.astype(np.int32))
    ctx["train"] = (train.x, train.y.astype(np.int32))
    ctx["train_adv"] = {}
    for kind in ("damagenet", "pgd"):  # adversarial versions of the first max(ks) training images, made once
        if pool:
            res = cached_attack(_attack(kind, s), clf, train.x[:pool], train.y[:pool], seed=s["seed"] + 1,
                                batch_size=s["batch_size"])
            ctx["train_adv"][kind] = res.x_adv
            ctx["info"][f"train_{kind}_success_rate"] = float(np.mean(res.success))
    ctx["baseline"] = _scores(clf, ctx)
    return ctx


def _scores(clf, ctx) -> dict:
    xt, yt = ctx["test"]
    out = {"clean": 100 * float(np.mean(clf.predict(xt).argmax(1) == yt))}
    for kind, st in ctx["sets"].items():
        out[kind] = 100 * float(np.mean(clf.predict(st.x_adv).argmax(1) == ctx["y"]))
    return out


def units(ctx, s):
    out = [[kind, k] for kind in ("damagenet", "pgd") for k in s["ks"]]
    if s["on_the_fly"]:
        out.append(["pgd", ON_THE_FLY])
    return out


def run_unit(ctx, s, unit):
    kind, k = unit
    keras.utils.set_random_seed(s["seed"])
    clf = models.load(s["model"], s["weights"])  # a fresh pre-trained copy per row
    opt = keras.optimizers.Adam(s["lr"], beta_1=s["beta_1"], beta_2=s["beta_2"])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x, y = ctx["train"]
    n_clean = s["train_clean"]
    if k == ON_THE_FLY:  # same steps and adversarial share as the largest fixed set, attacked per batch
        k_max = max(s["ks"])
        model = AdversarialTrainer(clf, _attack(kind, s), ratio=k_max / (n_clean + k_max))
        xs, ys = x[: n_clean + k_max], y[: n_clean + k_max]
    else:
        model = clf.model
        xs = np.concatenate([x[:n_clean], ctx["train_adv"][kind][:k]]) if k else x[:n_clean]
        ys = np.concatenate([y[:n_clean], y[:k]])
    model.compile(optimizer=opt, loss=loss)
    hist = model.fit(xs, ys, batch_size=s["train_batch"], epochs=s["epochs"], shuffle=True, verbose=0)
    scores = _scores(clf, ctx)
    white_box = attacks.PGD(**s["pgd"])(clf, ctx["x"], ctx["y"], batch_size=s["batch_size"], seed=s["seed"])
    return [{"set": kind, "k": k, "train_images": len(xs), "clean": scores["clean"], "adversarial": scores[kind],
             "other_set": scores["pgd" if kind == "damagenet" else "damagenet"],
             "white_box_pgd": 100 * (1 - white_box.success_rate), "final_loss": float(hist.history["loss"][-1])}]


def summarize(rows, s, ctx):
    base = ctx["baseline"]
    fixed_ks = [k for k in s["ks"] if k]
    table = []
    for r in rows:
        kind, k = r["set"], r["k"]
        paper = PAPER[kind]
        p = paper["rows"][fixed_ks.index(k)] if k in fixed_ks and len(fixed_ks) == len(paper["rows"]) else None
        table.append({
            "table": paper["table"], "adversarial set": SET_NAMES[kind],
            "adversarial training images": k, "training images": r["train_images"],
            "acc. clean %": round(r["clean"], 2), "acc. clean, pre-trained %": round(base["clean"], 2),
            "acc. adversarial %": round(r["adversarial"], 2),
            "acc. adversarial, pre-trained %": round(base[kind], 2),
            "acc. other adversarial set %": round(r["other_set"], 2),
            "acc. white-box PGD %": round(r["white_box_pgd"], 2),
            "paper training-set size": p[0] if p else None,
            "acc. clean (paper) %": p[1] if p else None, "acc. adversarial (paper) %": p[2] if p else None,
            "pre-trained (paper) %": f"{paper['baseline'][0]} / {paper['baseline'][1]}",
        })
    info = ctx["info"]
    notes = setting_notes(ctx, s) + [
        f"Paper figures: {SOURCE}, Tables 14 (DAmageNet) and 15 (PGD): ResNet50 retrained with 10000-40000 "
        "adversarial examples, scored on 10000 ImageNet validation images and 10000 held-out adversarial ones. "
        f"Our k = {fixed_ks} stand for the paper's 10000-40000 by rank (the same 1:2:3:4 steps); k = 0 is a "
        "control the paper lacks (the same fine-tuning on clean images only).",
        f"Training set: the first {s['train_clean']} clean images of the training split plus the adversarial "
        f"versions of its first k images (true labels, as the paper), shuffled; {s['epochs']} epochs of Adam "
        f"(lr {s['lr']:g}, beta {s['beta_1']} / {s['beta_2']}), batch {s['train_batch']}, from the pre-trained "
        "weights each time (BatchNorm statistics update). The paper states neither its clean training images nor "
        "its epochs.",
        "Fixed pre-generated sets, as the paper (it retrains on a fixed set of adversarial images): the training "
        "examples are made once against the pre-trained model with the same attack and budget as the test set "
        f"(fooling {info.get('train_damagenet_success_rate', 0):.1%} (attention) and "
        f"{info.get('train_pgd_success_rate', 0):.1%} (PGD) of the training images).",
        "Test sets: clean accuracy on all test images loaded (pre-trained models classify some wrongly); "
        "adversarial accuracy on the held-out DAmageNet-style / PGD test set made against the pre-trained model "
        "from the correctly classified ones, so after retraining it is a transfer (fixed set) score, as "
        "DAmageNet's is in the paper.",
    ]
    notes.append("'acc. other adversarial set': the fixed test set of the other kind (PGD for Table 14, "
                 "DAmageNet-style for Table 15). 'acc. white-box PGD': a new PGD attack (the PGD set's settings) "
                 "against the retrained model on the clean test images the pre-trained model classifies correctly "
                 "(for the pre-trained model it is the PGD set: "
                 f"{base['pgd']:.1f} %); not in the paper, it shows what robustness the retraining gives against "
                 "an attacker who knows the new weights. One seed per row: rows differ by a few points from run "
                 "noise (Adam at lr 1e-3 with no decay, the last step decides).")
    notes.extend(_findings(rows, base))
    if s["on_the_fly"]:
        notes.append(f"Row '{ON_THE_FLY}': defenses.AdversarialTrainer on the first {s['train_clean'] + max(s['ks'])} "
                     "clean training images, each batch's adversarial share (as the largest k) attacked with the "
                     "PGD set's settings against the current weights; same steps and optimizer. Not in the paper.")
    return Table(rows=table, notes=notes, title=TITLE, figure=lambda path: _figure(path, table, s))


def _findings(rows, base) -> list[str]:
    """One measured sentence per set: the fixed-set gain against the white-box one, and the on-the-fly row."""
    out = []
    for kind in ("damagenet", "pgd"):
        fixed = [r for r in rows if r["set"] == kind and r["k"] != ON_THE_FLY]
        if not fixed:
            continue
        top = max(fixed, key=lambda r: (r["k"], 0))
        out.append(f"Measured ({SET_NAMES[kind]}): with k = {top['k']} the held-out fixed set's accuracy goes from "
                   f"{base[kind]:.1f} % (pre-trained) to {top['adversarial']:.1f} % and clean accuracy is "
                   f"{top['clean']:.1f} % ({base['clean']:.1f} % before), but a new white-box PGD attack on the "
                   f"retrained model still leaves {top['white_box_pgd']:.1f} % (best over k: "
                   f"{max(r['white_box_pgd'] for r in fixed):.1f} %): retraining on a fixed set mostly teaches the "
                   "model that set, the paper's measure.")
    for r in rows:
        if r["k"] == ON_THE_FLY:
            out.append(f"Measured (on-the-fly PGD): white-box PGD accuracy {r['white_box_pgd']:.1f} %, fixed PGD set "
                       f"{r['adversarial']:.1f} %, clean {r['clean']:.1f} % with the same number of steps.")
    return out


def _figure(path, table, s):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k_max = max(s["ks"]) or 1
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.2), sharey=True)
    for ax, kind in zip(axes, ("damagenet", "pgd")):
        rows = [r for r in table if r["adversarial set"] == SET_NAMES[kind]
                and r["adversarial training images"] != ON_THE_FLY]
        share = [r["adversarial training images"] / k_max for r in rows]
        for key, colour, label in (("acc. clean %", "C0", "clean"), ("acc. adversarial %", "C3", "adversarial")):
            ax.plot(share, [r[key] for r in rows], "o-", color=colour, label=f"ours: {label}")
            if rows:
                ax.axhline(rows[0][key.replace(" %", ", pre-trained %")], color=colour, ls=":", lw=1,
                           label=f"ours pre-trained: {label}")
        ax.plot(share, [r["acc. white-box PGD %"] for r in rows], "^-", color="C2", label="ours: white-box PGD")
        paper = PAPER[kind]
        ps = [p[0] / 40000 for p in paper["rows"]]
        ax.plot(ps, [p[1] for p in paper["rows"]], "s--", color="C0", alpha=0.45, label="paper: ImageNet val")
        ax.plot(ps, [p[2] for p in paper["rows"]], "s--", color="C3", alpha=0.45, label="paper: adversarial val")
        fly = [r for r in table if r["adversarial set"] == SET_NAMES[kind]
               and r["adversarial training images"] == ON_THE_FLY]
        for r in fly:
            ax.plot([1.0], [r["acc. adversarial %"]], "*", ms=12, color="C3", label="ours: on-the-fly PGD, adv.")
            ax.plot([1.0], [r["acc. white-box PGD %"]], "*", ms=12, color="C2", label="ours: on-the-fly, white-box")
            ax.plot([1.0], [r["acc. clean %"]], "*", ms=12, color="C9", label="ours: on-the-fly PGD, clean")
        ax.set_title(f"Table {paper['table']}: {SET_NAMES[kind]}", fontsize=9)
        ax.set_xlabel(f"adversarial training images / largest (ours {k_max}, paper 40000)")
        ax.set_ylim(0, 102)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    axes[0].set_ylabel("accuracy %")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(name="table14_15_adversarial_training", paper="ding2023", title=TITLE, defaults=DEFAULTS,
                        quick=QUICK, prepare=prepare_training, units=units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
