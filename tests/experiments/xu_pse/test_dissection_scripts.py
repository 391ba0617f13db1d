"""Xu et al.'s network-dissection figures (Fig. 7, Fig. 8) end to end on their quick settings."""

import os

import pytest

from keras_advinterp import runner

from .conftest import check_written

NAMES = ("fig7_dissection", "fig8_segmentation")


@pytest.fixture(scope="module")
def records(quick_records):
    return quick_records


def test_both_scripts_are_listed_and_write_their_files(records):
    check_written(records)


def test_fig7_rows_p_values_and_detector_counts(records):
    rec = records["fig7_dissection"]
    s = rec["settings"]
    rows = {(r["layer"], r["quantile"]): r for r in rec["table"]}
    # quick: the ResNet-style model's block1_out (32 units) and features (96 units), at both quantiles
    assert set(rows) == {(layer, q) for layer in ("block1_out", "features") for q in (0.995, 0.95)}
    for (layer, _), r in rows.items():
        assert r["model"] == "shapes" and r["units"] == {"block1_out": 32, "features": 96}[layer]
        assert r["paper layer"] == {"block1_out": "conv2_3", "features": "conv5_3"}[layer]
        assert 0 <= r["detectors"] <= r["units"] and r["mean v"] > 0  # PGD moves the masks
        assert -1 <= r["Spearman v~IoU"] <= 1
        for n in s["top_n"]:
            p = r[f"p N={n}"]
            if n <= r["units"] // 2:
                assert 1 / (1 + s["draws"]) <= p <= 1  # the permutation p never reaches 0
            else:
                assert p is None
        counts = [r[f"{c} detectors in top N"] for c in ("shape", "colour", "texture")]
        assert r["top N"] == s["detector_n"] and sum(counts) <= r["top N"]
        assert sum(counts) <= r["detectors"]
        expected = sum(r[f"{c} expected of N random"] for c in ("shape", "colour", "texture"))
        assert expected == pytest.approx(r["detectors"] * r["top N"] / r["units"], abs=0.03)
        assert r["paper finding"]
    # a lower threshold makes larger masks, hence more units pass IoU > 0.04 (measured: 12 -> 31, 82 -> 96)
    for layer in ("block1_out", "features"):
        assert rows[layer, 0.95]["detectors"] >= rows[layer, 0.995]["detectors"]
    # Measured (quick): at 0.995 the deep layer's most sensitive units are its interpretable ones, p = 0.004.
    assert rows["features", 0.995]["p N=4"] < 0.05


def test_fig8_rows_describe_the_shown_units(records):
    rec = records["fig8_segmentation"]
    s = rec["settings"]
    rows = rec["table"]
    # quick: two examples, two layers, one unit each, two images per example
    assert len(rows) == s["examples"] * 2 * s["units_per_layer"] * s["images_per_example"]
    assert {r["layer"] for r in rows} == {"block1_out", "features"}
    for i in range(s["examples"]):
        mine = [r for r in rows if r["example"] == i]
        assert len({r["image"] for r in mine}) == s["images_per_example"]
        assert len({(r["true"], r["target"]) for r in mine}) == 1 and mine[0]["true"] != mine[0]["target"]
    for r in rows:
        assert 0 <= r["mask % Ori"] <= 100 and 0 <= r["mask % Adv"] <= 100
        for k in ("concept covered % Ori", "concept covered % Adv"):
            assert r[k] is None or 0 <= r[k] <= 100
        assert r["detector"] == (r["IoU"] > s["detector_iou"])
        assert r["category"] in ("shape", "colour", "texture")
        want = ("true-class shape" if r["concept"] == r["true"] else
                "target shape" if r["concept"] == r["target"] else "")
        assert r["role"] == want
        assert r["v (these images)"] >= 0
        if r["attack success"]:
            assert r["adversarial label"] == r["target"]


@pytest.mark.parametrize("name", NAMES)
def test_a_killed_run_resumes_to_the_same_table(records, tmp_path, name):
    exp = runner.load_experiment(f"xu_pse/{name}")
    part = runner.run(exp, quick=True, out_dir=tmp_path, progress=False, stop_after=1)
    assert part["status"] == "stopped" and part["done"] == 1
    rec = runner.run(exp, quick=True, out_dir=tmp_path, progress=False)
    assert rec["timings"]["units_resumed"] == 1
    assert rec["table"] == records[name]["table"]
    assert os.path.getsize(rec["files"]["png"]) > 5000


def test_bad_settings_are_rejected_naming_the_value(tmp_path):
    fig8 = runner.load_experiment("xu_pse/fig8_segmentation")
    with pytest.raises(ValueError, match=r"examples must be an integer >= 1. Received: examples=0"):
        runner.run(fig8, quick=True, out_dir=tmp_path, progress=False, examples=0)
    fig7 = runner.load_experiment("xu_pse/fig7_dissection")
    with pytest.raises(ValueError, match=r"layers for model 'shapes' must be 4-D feature layers.*'nope'"):
        runner.run(fig7, quick=True, out_dir=tmp_path, progress=False, layers={"shapes": ["nope"]})
    with pytest.raises(ValueError, match=r"quantiles must be a non-empty list.*quantiles=\[1.5\]"):
        runner.run(fig7, quick=True, out_dir=tmp_path, progress=False, quantiles=[1.5])
