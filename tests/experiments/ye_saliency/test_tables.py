"""Ye et al. Tables I-V end to end on their quick settings (attacks made once, from a private cache)."""

import os

import pytest

from keras_advinterp import runner


@pytest.fixture(scope="module")
def run_quick(tmp_path_factory):
    """Runs a ye_saliency experiment quick; every table reads the adversarial sets the first one made."""
    out = tmp_path_factory.mktemp("results")

    def run(name, **kwargs):
        exp = runner.load_experiment(f"ye_saliency/{name}")
        return runner.run(exp, quick=True, out_dir=kwargs.pop("out_dir", out), progress=False, **kwargs)

    return run


def _row(table, theta):
    return next(r for r in table if r["theta"] == theta)


def test_table1_resumes_to_the_same_table_and_trades_ospa_for_detection(run_quick, tmp_path):
    part = run_quick("table1_saliency", out_dir=tmp_path, stop_after=2)
    assert part["status"] == "stopped"
    resumed = run_quick("table1_saliency", out_dir=tmp_path)
    assert resumed["timings"]["units_resumed"] == 2
    fresh = run_quick("table1_saliency", out_dir=tmp_path / "fresh")
    assert resumed["table"] == fresh["table"]
    table = fresh["table"]
    zero, half = _row(table, 0.0), _row(table, 0.5)
    for m in ("shapes", "shapes_mobile"):
        assert zero[f"{m} OSPA"] == 100 and zero[f"{m} FGSM"] == 0 and zero[f"{m} C&W2"] == 0
        assert half[f"{m} FGSM"] > 30 and half[f"{m} OSPA"] < 100
    assert zero["OSPA (paper, VGG16)"] == 100.0 and half["FGSM (paper, ResNet50)"] == 83.3
    assert any("stands in the paper's VGG16" in n for n in fresh["notes"])
    assert os.path.getsize(fresh["files"]["png"]) > 5000


def test_table2_colour_reversing_detects_without_theta(run_quick):
    rec = run_quick("table2_color_reverse")
    zero = _row(rec["table"], 0.0)
    # Measured (quick setting): shapes FGSM 88-96 %, OSPA 100 %; the paper's VGG16: 70.7 % / 94.8 %.
    assert zero["shapes FGSM"] >= 60 and zero["shapes OSPA"] >= 90
    assert zero["FGSM (paper, VGG16)"] == 70.7


def test_table3_zero_mean_runs_and_reports_the_paper(run_quick):
    rec = run_quick("table3_zero_mean")
    assert [r["theta"] for r in rec["table"]] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert _row(rec["table"], 0.3)["C&W2 (paper, ResNet50)"] == 77.2
    assert _row(rec["table"], 0.0)["shapes FGSM"] > 0  # zero mean alone already moves adversarial labels


def test_table4_combination_is_the_union_of_its_squeezers(run_quick):
    rec = run_quick("table4_feature_squeezing")
    rows = {r["parameters"]: r for r in rec["table"]}
    assert len(rows) == 13
    combo = rows["5-bit, 2*2, 11-3-4"]
    parts = [rows["5-bit"], rows["2*2"], rows["11-3-4"]]
    assert combo["FGSM"] >= max(p["FGSM"] for p in parts)
    assert combo["OSPA"] <= min(p["OSPA"] for p in parts)
    assert rows["1-bit"]["OSPA"] < rows["6-bit"]["OSPA"]
    assert combo["FGSM (paper)"] == 50.6 and rows["3-bit"]["OSPA (paper)"] == 84.2
    assert 0.5 <= combo["ROC-AUC (L1)"] <= 1.0


def test_table5_agrees_with_table4_on_feature_squeezing(run_quick):
    t4 = {r["parameters"]: r for r in run_quick("table4_feature_squeezing")["table"]}
    rec = run_quick("table5_comparison")
    rows = {r["method"]: r for r in rec["table"]}
    assert set(rows) == {"Feature Squeezing", "saliency map & color reversing", "saliency map & zero mean"}
    fs = rows["Feature Squeezing"]
    assert fs["OSPA"] == pytest.approx(t4["5-bit, 2*2, 11-3-4"]["OSPA"])
    assert fs["FGSM"] == pytest.approx(t4["5-bit, 2*2, 11-3-4"]["FGSM"])
    assert rows["saliency map & zero mean"]["FGSM (paper)"] == 82.8


def test_experiments_are_listed():
    keys = runner.discover()
    for name in ("table1_saliency", "table2_color_reverse", "table3_zero_mean", "table4_feature_squeezing",
                 "table5_comparison"):
        assert f"ye_saliency/{name}" in keys
