"""Ding et al. Tables 4-13 and Fig. 4 end to end on their quick settings (attacks made once, privately cached)."""

import os
import types

import numpy as np
import pytest

from keras_advinterp import runner, surgery

MAPS = ["table4_top10_damagenet", "table5_bottom10_damagenet", "table6_top10_pgd", "table7_bottom10_pgd"]
MASKING = ["table8_masking_damagenet", "table9_masking_pgd"]
SCALING = ["table10_scale_first_damagenet", "table11_scale_last_damagenet", "table12_scale_first_pgd",
           "table13_scale_last_pgd"]
ALL = MAPS + MASKING + SCALING + ["fig4_feature_maps"]
LIMIT = 24  # smaller than --quick's 36: enough for one fooled image per class


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """Every script run quick once; the first run makes the attacks, the rest read them from the cache."""
    out = tmp_path_factory.mktemp("results")
    return {name: runner.run(runner.load_experiment(f"ding2023/{name}"), quick=True, out_dir=out,
                             progress=False, limit=LIMIT) for name in ALL}


@pytest.fixture(scope="module")
def helpers(records):
    """The shared helper module and a prepared context (attacks from the module's cache)."""
    exp = runner.load_experiment("ding2023/table8_masking_damagenet")
    surgery_helpers = types.SimpleNamespace(**exp.run_unit.__globals__)  # run_unit is defined in _surgery.py
    return surgery_helpers, exp.prepare(exp.settings(quick=True, limit=LIMIT))


def test_every_script_writes_a_table_and_a_figure(records):
    for name, rec in records.items():
        assert rec["table"], name
        assert os.path.getsize(rec["files"]["md"]) > 500, name
        assert os.path.getsize(rec["files"]["png"]) > 5000, name
        assert any("Setting differs from the paper" in n for n in rec["notes"]), name


def test_ranked_lists_are_sorted_and_named_layer_channel(records):
    for name in MAPS:
        table = records[name]["table"]
        assert len(table) == 10 and [r["rank"] for r in table] == list(range(1, 11))
        rmse = [r["RMSE"] for r in table]
        assert rmse == sorted(rmse, reverse="top10" in name), name
        assert all(r["feature map"] == f"{r['layer']}_{r['channel']}" for r in table)
    top, bottom = records["table4_top10_damagenet"]["table"], records["table5_bottom10_damagenet"]["table"]
    assert min(r["RMSE"] for r in top) > max(r["RMSE"] for r in bottom)
    assert top[0]["feature map (paper)"] == "pool_1_pad_35" and top[0]["RMSE (paper)"] == 1148.25


def _per_image(table):
    rows = [r for r in table if r["when"] in ("before", "after")]
    return rows[0::2], rows[1::2]


def test_masking_and_scaling_change_some_prediction_and_print_the_paper_row(records):
    paper = {"table8_masking_damagenet": 7.71, "table9_masking_pgd": 1.127, "table10_scale_first_damagenet": -0.601,
             "table11_scale_last_damagenet": -25.79, "table12_scale_first_pgd": -5.523,
             "table13_scale_last_pgd": -18.58}
    for name in MASKING + SCALING:
        table = records[name]["table"]
        before, after = _per_image(table)
        assert len(before) == len(after) == 6  # one image per class
        assert all(b["image"] == a["image"] and b["clean label"] == b["category"] for b, a in zip(before, after))
        assert all(b["adversarial label"] != b["category"] for b in before)  # fooled images only
        assert any(abs(b[f"{k} confidence"] - a[f"{k} confidence"]) > 1e-3 or b[f"{k} label"] != a[f"{k} label"]
                   for b, a in zip(before, after) for k in ("clean", "adversarial")), name
        stats = table[-1]
        assert stats["category"] == "change statistics" and stats["clean (paper)"] == paper[name]
    assert any("stem_conv filters" in n for n in records["table10_scale_first_damagenet"]["notes"])
    assert any("block3_1_conv" in n or "block3_2_conv" in n for n in records["table13_scale_last_pgd"]["notes"])


def test_identity_surgery_changes_nothing_and_layer_rules_hold(helpers):
    helper, ctx = helpers
    clf = ctx["clf"]
    assert helper.producing_conv(clf, "stem_relu") == "stem_conv"
    assert helper.producing_conv(clf, "features") == "block3_2_conv"  # residual branch, not the shortcut
    assert helper.last_block_layers(clf) == ["block3_1_relu", "features"]
    for model in (helper.masked_model(ctx, {}), surgery.scale_filters(clf, "stem_conv", [0, 1], 1.0)):
        rows = helper.before_after_rows(ctx, "pgd", model)
        row, stats = helper.change_row(rows, 9)
        assert stats["clean"]["changed"] == stats["adversarial"]["changed"] == 0
        assert stats["clean"]["mean_change"] == 0 and stats["adversarial"]["mean_change"] == 0
    _, filters = helper.scale_choice(ctx, "damagenet", "first")
    assert list(filters) == ["stem_conv"] and len(filters["stem_conv"]) == 10
    chosen = helper.mask_choice(ctx, "damagenet")
    assert sum(len(c) for c in chosen.values()) == 10
    masked = helper.masked_model(ctx, chosen)
    layer, channels = next(iter(chosen.items()))
    maps = surgery.capture(masked, layer, ctx["x"][:2])[layer]
    assert np.all(maps[..., channels] == 0)
