"""What the Ding et al. surgery tables (4-13, Fig. 4) share: the ranking, the layer rules, the paper's figures.

Rules (written into every table's notes):
    * Ranked maps: every channel of every activation layer (ReLU and other
      activation layers: ``activation_layers``). The paper's lists name only
      activation layers (``activation_N``) and the zero-padded copy of the
      first one (``pool_1_pad``), so we rank the activation outputs; the
      padding copy would repeat the first activation's channels and is left
      out.
    * RMSE: ``surgery.feature_map_rmse`` (Eq. 4 per channel, each image's
      RMSE averaged over all clean/adversarial pairs of the set).
    * First layer (Tables 10, 12): the first activation layer; the filters
      scaled are those of the conv that produces it (``producing_conv``),
      at the indices of that activation's ten most different maps.
    * Last residual block (Tables 11, 13): the activation layers after the
      one that follows the second-to-last ``Add`` (the previous block's
      output); its ten least different maps
      pick the filters, each scaled in the conv producing its layer.
    * ``producing_conv``: walk back from a layer through per-channel layers
      (normalisation, activation, padding, pooling, dropout) to a conv; at
      an ``Add``, the input whose conv comes last in graph order (the
      residual branch, not the shortcut).
"""

from __future__ import annotations

import keras
import numpy as np
from _common import SET_NAMES, SOURCE, one_per_class, setting_notes

from keras_advinterp import surgery
from keras_advinterp.analysis.change import change_statistics, top1

ACTIVATIONS = (keras.layers.ReLU, keras.layers.Activation, keras.layers.LeakyReLU, keras.layers.ELU,
               keras.layers.PReLU)
PASS_THROUGH = ACTIVATIONS + (keras.layers.BatchNormalization, keras.layers.LayerNormalization,
                              keras.layers.ZeroPadding2D, keras.layers.MaxPooling2D,
                              keras.layers.AveragePooling2D, keras.layers.Dropout)
K = 10
FACTOR = 1.8

# The paper's lists (ResNet50, ImageNet), read from its Tables 4-7: (feature map, RMSE).
PAPER_MOST = {
    "damagenet": [("pool_1_pad_35", 1148.25), ("pool_1_pad_23", 1147.14), ("pool_1_pad_54", 1141.76),
                  ("pool_1_pad_29", 1138.84), ("pool_1_pad_26", 1127.24), ("activation_1_35", 1108.30),
                  ("pool_1_pad_3", 1108.21), ("activation_1_23", 1107.19), ("activation_1_37", 1104.14),
                  ("activation_1_54", 1101.80)],
    "pgd": [("pool_1_pad_31", 1128.23), ("activation_1_54", 1060.35), ("pool_1_pad_1", 1056.91),
            ("activation_1_1", 1016.91), ("pool_1_pad_41", 1011.25), ("pool_1_pad_56", 955.07),
            ("activation_1_56", 955.07), ("pool_1_pad_8", 952.31), ("pool_1_pad_6", 935.65),
            ("pool_1_pad_48", 927.72)],
}
PAPER_LEAST = {
    "damagenet": [(f"activation_{n}", 0.0883) for n in
                  ("43_1098", "42_226", "42_144", "41_451", "35_52", "35_244", "35_183", "35_161", "32_94",
                   "32_219")],
    "pgd": [(f"activation_{n}", 0.0883) for n in
            ("42_168", "41_507", "41_27", "41_247", "41_196", "41_165", "33_154", "32_79", "32_177", "1_23")],
}
PAPER_TABLE = {("most", "damagenet"): 4, ("least", "damagenet"): 5, ("most", "pgd"): 6, ("least", "pgd"): 7}
# Change statistics (signed mean confidence change in points over label-unchanged images), clean and
# adversarial, and how many of the paper's eight images changed label (clean, adversarial).
PAPER_CHANGE = {
    8: (7.710, 2.970, 0, 1), 9: (1.127, 1.351, 0, 0), 10: (-0.601, -4.650, 0, 4), 11: (-25.79, -4.656, 1, 3),
    12: (-5.523, -8.221, 0, 0), 13: (-18.58, -18.27, 0, 0),
}

RANK_NOTE = ("Ranked feature maps: every channel of every activation layer ({layers}: {maps} maps), named "
             "<layer>_<channel> with 0-based channels (the paper does not say whether its indices start at 0 or "
             "1). The paper's lists name ResNet50 activation layers (activation_N) and the zero-padded copy of "
             "the first one (pool_1_pad), which repeats activation_1's channels; we leave padding copies out. "
             "RMSE is Eq. 4 per channel, each image's RMSE averaged over the {n} clean/adversarial pairs of the "
             "set; the paper's values are in caffe-preprocessed 0-255 units, ours in the shapes model's [0, 1] "
             "input scale, so only the ranking and the layers compare.")


def activation_layers(clf) -> list[str]:
    """Activation layers with 4-D output, in graph order: the layers whose channels are ranked."""
    feats = set(surgery.feature_layers(clf))
    return [layer.name for layer in clf.model.layers if layer.name in feats and isinstance(layer, ACTIVATIONS)]


def _inputs(layer) -> list:
    return [t._keras_history.operation for t in keras.tree.flatten(layer._inbound_nodes[0].input_tensors)]


def producing_conv(clf, name: str) -> str:
    """The conv layer whose output filters make ``name``'s channels (module docstring rule)."""
    order = {n: i for i, n in enumerate(surgery.conv_layers(clf))}

    def back(layer):
        if layer.name in order:
            return layer.name
        if isinstance(layer, keras.layers.Add):
            found = [c for c in (back(p) for p in _inputs(layer)) if c is not None]
            return max(found, key=order.get) if found else None
        if isinstance(layer, PASS_THROUGH):
            return back(_inputs(layer)[0])
        return None

    conv = back(clf.model.get_layer(name))
    if conv is None:
        raise ValueError(f"no conv layer found behind {name!r}")
    return conv


def last_block_layers(clf) -> list[str]:
    """The activation layers of the last residual block: after the activation that follows the second-to-last Add."""
    names = [layer.name for layer in clf.model.layers]
    adds = [i for i, layer in enumerate(clf.model.layers) if isinstance(layer, keras.layers.Add)]
    acts = activation_layers(clf)
    if len(adds) < 2:
        return acts
    out = [names.index(a) for a in acts if names.index(a) > adds[-2]][0]  # the previous block's output
    return [a for a in acts if names.index(a) > out]


def ranking(ctx, kind):
    """The set's ranked per-channel RMSE over every activation layer (computed once per context)."""
    cache = ctx.setdefault("_rankings", {})
    if kind not in cache:
        cache[kind] = surgery.feature_map_rmse(ctx["clf"], ctx["x"], ctx["sets"][kind].x_adv,
                                               layers=activation_layers(ctx["clf"]))
    return cache[kind]


def rank_note(ctx) -> str:
    layers = activation_layers(ctx["clf"])
    maps = sum(surgery.capture(ctx["clf"], layers, ctx["x"][:1])[n].shape[-1] for n in layers)
    per_layer = {kind: ", ".join(f"{layer} {ranking(ctx, kind).by_layer(layer).mean():.3g}" for layer in layers)
                 for kind in ctx["sets"]}
    return RANK_NOTE.format(layers=", ".join(layers), maps=maps, n=len(ctx["x"])) + (
        " Mean RMSE per layer: " + "; ".join(f"{kind}: {v}" for kind, v in per_layer.items()) + ".")


def maps_rows(ctx, kind, end):
    """Rows for Tables 4-7: our k most ("most") or least ("least") different maps beside the paper's."""
    res = ranking(ctx, kind)
    ours = res.top(K) if end == "most" else res.bottom(K)
    paper = (PAPER_MOST if end == "most" else PAPER_LEAST)[kind]
    return [{"rank": i + 1, "feature map": c.name, "layer": c.layer, "channel": c.channel, "RMSE": c.rmse,
             "feature map (paper)": p[0], "RMSE (paper)": p[1]} for i, (c, p) in enumerate(zip(ours, paper))]


def group(channels) -> dict[str, list[int]]:
    """``{layer: sorted unique channels}`` of ChannelRMSE entries, layers in first-seen order."""
    out: dict[str, list[int]] = {}
    for c in channels:
        out.setdefault(c.layer, [])
        if c.channel not in out[c.layer]:
            out[c.layer].append(c.channel)
    return {k: sorted(v) for k, v in out.items()}


def mask_choice(ctx, kind) -> dict[str, list[int]]:
    """``{layer: channels}`` of the set's ten most different maps: what Tables 8-9 mask."""
    return group(ranking(ctx, kind).top(K))


def masked_model(ctx, chosen):
    """The model with ``chosen`` (``{layer: channels}``) zeroed in every listed layer."""
    clf = ctx["clf"]
    for layer, channels in chosen.items():
        clf = surgery.mask_channels(clf, layer, channels)
    return clf


def scale_choice(ctx, kind, where):
    """The maps picked and ``{conv: filters}`` to scale: ``where`` "first" (sensitive) or "last" (insensitive)."""
    clf, res = ctx["clf"], ranking(ctx, kind)
    if where == "first":
        layer = activation_layers(clf)[0]
        picked = [c for c in res.ranked if c.layer == layer][:K]
    else:
        block = set(last_block_layers(clf))
        picked = [c for c in reversed(res.ranked) if c.layer in block][:K]
    filters: dict[str, list[int]] = {}
    for layer, channels in group(picked).items():
        conv = producing_conv(clf, layer)
        filters[conv] = sorted(set(filters.get(conv, [])) | set(channels))
    return picked, filters


def scaled_model(ctx, filters):
    """The model with ``filters`` (``{conv: filter indices}``) multiplied by 1.8 (kernel and bias)."""
    model = ctx["clf"]
    for conv, f in filters.items():
        model = surgery.scale_filters(model, conv, f, FACTOR)
    return model


def before_after_rows(ctx, kind, modified, category="category"):
    """Per image (one per class where the attack succeeded): top-1 before/after on clean and adversarial."""
    idx = one_per_class(ctx, kind)
    x, xa, clf = ctx["x"][idx], ctx["sets"][kind].x_adv[idx], ctx["clf"]
    tops = {("clean", "before"): top1(clf, x), ("clean", "after"): top1(modified, x),
            ("adv", "before"): top1(clf, xa), ("adv", "after"): top1(modified, xa)}
    rows = []
    for j, i in enumerate(idx):
        for when in ("before", "after"):
            c, a = tops[("clean", when)], tops[("adv", when)]
            rows.append({category: clf.class_names[int(ctx["y"][i])], "image": i, "when": when,
                         "clean label": c.names[j], "clean confidence": 100 * float(c.confidence[j]),
                         "adversarial label": a.names[j], "adversarial confidence": 100 * float(a.confidence[j])})
    return rows


def _top1_of(rows, prefix, when):
    from keras_advinterp.analysis.change import Top1

    sel = [r for r in rows if r["when"] == when]
    return Top1(np.array([r[f"{prefix} label"] for r in sel]),
                np.array([r[f"{prefix} confidence"] / 100 for r in sel], np.float32),
                [r[f"{prefix} label"] for r in sel])


def change_row(rows, table_no):
    """The change-statistics row (ours: ``analysis.change.change_statistics``) with the paper's beside."""
    stats = {p: change_statistics(_top1_of(rows, p, "before"), _top1_of(rows, p, "after"))
             for p in ("clean", "adversarial")}
    pc, pa, pcc, pac = PAPER_CHANGE[table_no]
    row = {"category": "change statistics", "image": None, "when": None,
           "clean label": f"{stats['clean']['changed']}/{stats['clean']['images']} labels changed",
           "clean confidence": stats["clean"]["mean_change"],
           "adversarial label": f"{stats['adversarial']['changed']}/{stats['adversarial']['images']} labels changed",
           "adversarial confidence": stats["adversarial"]["mean_change"],
           "clean (paper)": pc, "adversarial (paper)": pa,
           "clean labels changed (paper)": f"{pcc}/8", "adversarial labels changed (paper)": f"{pac}/8"}
    return row, stats


def change_notes(ctx, s, table_no, kind, what):
    pc, pa, _, _ = PAPER_CHANGE[table_no]
    return setting_notes(ctx, s) + [
        rank_note(ctx),
        what,
        f"Images: one per class of the model's data ({ctx['clf'].num_classes}) among those the {SET_NAMES[kind]} "
        "attack fooled, each with its clean original (one_per_class); the paper shows eight ImageNet categories, "
        "so its per-image rows do not pair with ours and only its change statistics are printed beside ours.",
        "Change statistics: mean of (confidence after - confidence before), in points, over the images whose "
        "top-1 label did not change (analysis.change.change_statistics, mean_change), the reading that "
        f"reproduces the paper's rows from its per-image values; paper Table {table_no}: clean {pc:+}, "
        f"adversarial {pa:+} ({SOURCE}). 'x/n labels changed' counts images whose top-1 label changed.",
    ]


def change_figure(rows, title):
    """Confidence before/after per image, clean and adversarial; a changed label is marked x."""
    def draw(path):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        per = [r for r in rows if r["when"] in ("before", "after")]
        cats = list(dict.fromkeys(f"{r['category']}#{r['image']}" for r in per))
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
        for ax, prefix, name in zip(axes, ("clean", "adversarial"), ("clean", "adversarial")):
            pos = np.arange(len(cats))
            for off, when, col in ((-0.2, "before", "tab:gray"), (0.2, "after", "tab:orange")):
                sel = [r for r in per if r["when"] == when]
                ax.bar(pos + off, [r[f"{prefix} confidence"] for r in sel], 0.4, color=col, label=when)
                for p, r, b in zip(pos, sel, [r for r in per if r["when"] == "before"]):
                    ax.text(p + off, 2, r[f"{prefix} label"], rotation=90, fontsize=7, ha="center", va="bottom")
                    if when == "after" and r[f"{prefix} label"] != b[f"{prefix} label"]:
                        ax.plot(p + off, r[f"{prefix} confidence"] + 4, "kx")
            ax.set_xticks(pos, [c.split("#")[0] for c in cats], fontsize=8, rotation=30)
            ax.set_title(f"{name} images", fontsize=9)
            ax.set_ylim(0, 108)
            ax.grid(alpha=0.3, axis="y")
        axes[0].set_ylabel("top-1 confidence (%)")
        axes[0].legend(fontsize=7, loc="upper right")
        fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)

    return draw


def maps_figure(rows, title):
    """Our ten RMSEs as bars (the paper's are in other units, listed in the table)."""
    def draw(path):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.4))
        layers = list(dict.fromkeys(r["layer"] for r in rows))
        colours = {layer: plt.cm.tab10(i % 10) for i, layer in enumerate(layers)}
        ax.barh(np.arange(len(rows))[::-1], [r["RMSE"] for r in rows], color=[colours[r["layer"]] for r in rows])
        ax.set_yticks(np.arange(len(rows))[::-1], [r["feature map"] for r in rows], fontsize=8)
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=colours[layer], label=layer) for layer in layers], fontsize=7,
                  loc="lower right")
        ax.set_xlabel("RMSE (Eq. 4, mean over image pairs)")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3, axis="x")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)

    return draw


def layer_summary(rows) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["layer"]] = counts.get(r["layer"], 0) + 1
    return ", ".join(f"{n} in {layer}" for layer, n in counts.items())


def maps_notes(ctx, s, table_no, end, rows) -> list[str]:
    if end == "most":
        paper = ("all ten maps lie in the first activation layer (activation_1) or its zero-padded copy "
                 "(pool_1_pad), seven distinct channels")
    else:
        paper = ("higher-level activations (activation_32 to activation_43, ResNet50's fourth and fifth stages) "
                 "plus, in one column, activation_1_23; every value 0.0883. The extracted text leaves which of its "
                 "two columns is Table 5 and which Table 7 uncertain: we take the left for Table 5")
    return setting_notes(ctx, s) + [
        rank_note(ctx),
        f"Paper (Table {table_no}, {SOURCE}): {paper}. Ours: {layer_summary(rows)}.",
    ]


def scale_note(ctx, kind, where, picked, filters) -> str:
    clf = ctx["clf"]
    convs = "; ".join(f"{conv} filters {f}" for conv, f in filters.items())
    maps = ", ".join(f"{c.name} ({c.rmse:.3g})" for c in picked)
    if where == "first":
        first = activation_layers(clf)[0]
        top = {c.name for c in ranking(ctx, kind).top(K)}
        shared = sum(c.name in top for c in picked)
        return (f"Scaled by {FACTOR} (kernel and bias, surgery.scale_filters): {convs}. Rule: the first activation "
                f"layer ({first}; the paper's activation_1 / pool_1_pad of ResNet50) is where the paper's sensitive "
                f"maps lie; its ten most different maps pick the filters of the conv producing it ({convs.split()[0]}, "
                f"ResNet50's conv1), through the per-channel batch normalisation. Maps: {maps}; {shared} of them "
                "are in the global top-10 list (the paper's are all there).")
    return (f"Scaled by {FACTOR} (kernel and bias, surgery.scale_filters): {convs}. Rule: the last residual block "
            f"(the activation layers after the previous block's output: {', '.join(last_block_layers(clf))}) "
            "stands for "
            "the paper's fifth residual block of ResNet50, where its insensitive maps lie; that block's ten least "
            "different maps pick the filters, each in the conv producing its layer (a block output's channel: the "
            f"residual branch's last conv, the shortcut untouched). Maps: {maps}.")


# -- the experiments of Tables 4-13: each script is its docstring and one of these calls ------------------
def _experiment(name: str, title: str, kind: str, run_unit, summarize):
    import _common

    from keras_advinterp.runner import Experiment

    return Experiment(name=name, paper="ding2023", title=title, defaults={**_common.DEFAULTS}, quick=_common.QUICK,
                      prepare=_common.prepare, units=lambda ctx, s: [kind], run_unit=run_unit, summarize=summarize)


def maps_experiment(name: str, title: str, kind: str, end: str):
    """Tables 4-7: the ten most (``end="most"``) or least different feature maps for one set."""
    from keras_advinterp.runner import Table

    def summarize(rows, s, ctx):
        notes = maps_notes(ctx, s, PAPER_TABLE[(end, kind)], end, rows)
        return Table(rows=rows, notes=notes, title=title, figure=maps_figure(rows, title))

    return _experiment(name, title, kind, lambda ctx, s, unit: maps_rows(ctx, unit, end), summarize)


def masking_experiment(name: str, title: str, kind: str, table_no: int):
    """Tables 8-9: top-1 before/after masking the set's ten most different feature maps."""
    from keras_advinterp.runner import Table

    def run_unit(ctx, s, unit):
        return before_after_rows(ctx, unit, masked_model(ctx, mask_choice(ctx, unit)))

    def summarize(rows, s, ctx):
        chosen = mask_choice(ctx, kind)
        row, _ = change_row(rows, table_no)
        what = (f"Masked: the ten most different maps of Table {PAPER_TABLE[('most', kind)]}'s ranking (as the "
                "paper, its top-10 list), set to exactly 0.0 after their layer for every consumer "
                "(surgery.mask_channels): " + "; ".join(f"{layer} channels {ch}" for layer, ch in chosen.items())
                + ". The paper's list lies in ResNet50's first activation (and its padded copy); where ours lies "
                "is in the list above.")
        notes = change_notes(ctx, s, table_no, kind, what)
        return Table(rows=rows + [row], notes=notes, title=title, figure=change_figure(rows, title))

    return _experiment(name, title, kind, run_unit, summarize)


def scaling_experiment(name: str, title: str, kind: str, table_no: int, where: str):
    """Tables 10-13: top-1 before/after enlarging by 1.8 the first layer's sensitive or the last block's
    insensitive filters (``where`` "first" or "last")."""
    from keras_advinterp.runner import Table

    def run_unit(ctx, s, unit):
        return before_after_rows(ctx, unit, scaled_model(ctx, scale_choice(ctx, unit, where)[1]))

    def summarize(rows, s, ctx):
        picked, filters = scale_choice(ctx, kind, where)
        row, _ = change_row(rows, table_no)
        notes = change_notes(ctx, s, table_no, kind, scale_note(ctx, kind, where, picked, filters))
        return Table(rows=rows + [row], notes=notes, title=title, figure=change_figure(rows, title))

    return _experiment(name, title, kind, run_unit, summarize)
