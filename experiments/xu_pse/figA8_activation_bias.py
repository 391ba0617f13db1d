"""Xu et al., Fig. A8: the activation bias of every layer between natural and adversarial inputs, four attacks.

For each model and each targeted attack (IFGSM, C&W, EAD, Str-attack; the
adversarial sets the other Xu et al. scripts make and cache), the
Euclidean distance ||A_l(x') - A_l(x)||_2 between the activations of every
activation layer l for a natural image x and its successful adversarial
example x', from the first layer to the last (seeds/001_13ab3436c62e81d7.txt,
Appendix 4 and Fig. A8; ``analysis.activations``). Beside the paper's
distance: the same relative to ||A_l(x)||_2 (layers differ in size and
scale) and the signed mean change.

    advinterp experiment xu_pse/figA8_activation_bias [--quick]
    python experiments/xu_pse/figA8_activation_bias.py --quick
"""

from __future__ import annotations

import numpy as np
from _common import (
    ATTACK_LABEL,
    ATTACKS,
    DEFAULTS,
    QUICK,
    SOURCE,
    main,
    model_attack_units,
    paper_slot,
    prepare,
    setting_notes,
    successful,
)

from keras_advinterp.analysis.activations import activation_bias, activation_layers
from keras_advinterp.runner import Experiment, Table

TITLE = "Activation bias per layer between natural and adversarial inputs (Xu et al., Fig. A8)"
PAPER_CLAIM = ("the network's behaviour shows a sharp transition towards misclassification only at deep layers "
               "(ResNet_101 and Inception_v3, 5000 ImageNet images, IFGSM / C&W / EAD / Str; plots only)")
DEFAULTS = {**DEFAULTS, "layers": None}
QUICK = {**QUICK}


def model_layers(clf, s: dict) -> list[str]:
    """``s["layers"][model]`` if given (any 4-D layers), else every activation layer of the model."""
    return list((s.get("layers") or {}).get(clf.name) or activation_layers(clf))


def run_unit(ctx, s, unit):
    """One model and attack: the bias of each layer, averaged over the attack's successful examples."""
    name, kind = unit
    m = ctx["models"][name]
    x, xa, _, _, _ = successful(m, kind)
    if not len(x):
        return []
    b = activation_bias(m["clf"], model_layers(m["clf"], s), x, xa, batch_size=s["batch_size"])
    return [{"model": name, "attack": ATTACK_LABEL[kind], "images": len(x), **r,
             "relative std": float(b.relative[:, r["depth"]].std())} for r in b.summary()]


def transition(rows: list[dict], key: str = "relative") -> dict:
    """Where the bias of one model and attack climbs: the depth of its largest rise, and deep over shallow."""
    v = np.array([r[key] for r in rows])
    rises = np.diff(v)
    third = max(len(v) // 3, 1)
    return {"largest rise after": rows[int(rises.argmax())]["layer"] if len(rises) else None,
            "largest rise at depth %": round(100 * (int(rises.argmax()) + 1) / (len(v) - 1), 1) if len(rises) else None,
            "deep / shallow": float(v[-third:].mean() / v[:third].mean()) if v[:third].mean() > 0 else None}


def summarize(rows, s, ctx):
    out = []
    for name in ctx["models"]:
        layers = list(dict.fromkeys(r["layer"] for r in rows if r["model"] == name))
        for layer in layers:
            row = {"model": name, "paper model": paper_slot(s, name), "layer": layer}
            for kind in ATTACKS:
                r = next((r for r in rows if r["model"] == name and r["attack"] == ATTACK_LABEL[kind]
                          and r["layer"] == layer), None)
                row[f"{ATTACK_LABEL[kind]} l2"] = r["l2"] if r else None
                row[f"{ATTACK_LABEL[kind]} relative"] = r["relative"] if r else None
                row[f"{ATTACK_LABEL[kind]} mean diff"] = r["mean diff"] if r else None
            out.append(row)
    findings = []
    for name in ctx["models"]:
        for kind in ATTACKS:
            mine = [r for r in rows if r["model"] == name and r["attack"] == ATTACK_LABEL[kind]]
            if not mine:
                continue
            t = transition(mine)
            findings.append(f"Measured ({name}, {ATTACK_LABEL[kind]}, {mine[0]['images']} images): relative bias "
                            f"{mine[0]['relative']:.3f} at {mine[0]['layer']} -> {mine[-1]['relative']:.3f} at "
                            f"{mine[-1]['layer']}; last third / first third of the layers "
                            f"{t['deep / shallow']:.2f}x; largest rise after {t['largest rise after']} "
                            f"({t['largest rise at depth %']} % of the depth).")
    notes = setting_notes(ctx, s) + [
        f"Paper: {SOURCE}, Appendix 4 and Fig. A8: {PAPER_CLAIM}. The paper gives no numbers, so ours stand beside "
        "its claim, not its values. The grid settings in the notes above belong to the other Xu et al. scripts "
        "that share these adversarial sets; no grid enters this figure.",
        "Layers: every 4-D ReLU / Activation output of the model in graph order (analysis.activations."
        "activation_layers; the paper: 'each layer', unnamed). l2 is the paper's bias, ||A_l(x') - A_l(x)||_2 over a "
        "layer's values, averaged over the attack's successful examples; relative = l2 / ||A_l(x)||_2 (per image, "
        "then averaged); mean diff = the mean signed change of the layer's values (positive: the attack raises "
        "activations on average).",
    ] + findings
    return Table(rows=out, notes=notes, title=TITLE, figure=lambda path: figure(path, rows, ctx))


def figure(path, rows, ctx):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(ctx["models"])
    fig, axes = plt.subplots(2, len(names), figsize=(6 * len(names), 7), squeeze=False)
    for j, name in enumerate(names):
        for i, key in enumerate(("l2", "relative")):
            ax = axes[i, j]
            for kind in ATTACKS:
                mine = [r for r in rows if r["model"] == name and r["attack"] == ATTACK_LABEL[kind]]
                if mine:
                    ax.plot([r["depth"] for r in mine], [r[key] for r in mine], marker="o", ms=3,
                            label=f"{ATTACK_LABEL[kind]} ({mine[0]['images']})")
            layers = [r["layer"] for r in rows if r["model"] == name and r["attack"] == rows[0]["attack"]]
            ax.set_xticks(range(len(layers)), layers, rotation=60, ha="right", fontsize=6)
            ax.set_ylabel("||A(x') - A(x)||_2" if key == "l2" else "||A(x') - A(x)||_2 / ||A(x)||_2")
            ax.set_title(f"{name}: activation bias ({'paper measure' if key == 'l2' else 'relative'})", fontsize=9)
            ax.legend(fontsize=7)
    fig.suptitle("Fig. A8 (ours): activation bias per layer, natural vs successful targeted adversarial", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment(name="figA8_activation_bias", paper="xu_pse", title=TITLE, defaults=DEFAULTS, quick=QUICK,
                        prepare=prepare, units=model_attack_units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
