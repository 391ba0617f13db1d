"""Ding et al. Sec. 4.7 (binary detector) and Fig. 5 (its CAM) end to end on their quick settings."""

import os

import pytest

from keras_advinterp import runner


@pytest.fixture(scope="module")
def run_quick(tmp_path_factory):
    """Runs a ding2023 experiment quick into a private cache (Fig. 5 reads the detector Sec. 4.7 trained)."""
    out = tmp_path_factory.mktemp("results")

    def run(name):
        rec = runner.run(runner.load_experiment(f"ding2023/{name}"), quick=True, out_dir=out, progress=False)
        assert os.path.getsize(rec["files"]["png"]) > 5000 and os.path.getsize(rec["files"]["md"]) > 500
        assert any("differs from the paper" in n for n in rec["notes"])
        return rec

    return run


def test_sec47_reports_both_attacks_beside_the_paper(run_quick):
    table = run_quick("sec47_binary_detector")["table"]
    assert [r["trained and tested on"] for r in table] == ["DAmageNet-style (attack on attention)", "PGD"]
    dam, pgd = table
    assert dam["accuracy on clean (%) (paper)"] == 98.42 and dam["AUC (paper)"] == 0.9875
    assert pgd["AUC (paper)"] is None
    for r in table:
        assert 0 <= r["accuracy on clean (%)"] <= 100 and 0 <= r["accuracy on adversarial (%)"] <= 100
        assert 0 <= r["AUC"] <= 1 and r["epochs"] == 2 and not r["detector from cache"]
        assert not any(k.startswith("_") for k in r)


def test_fig5_shows_both_cams_for_clean_and_adversarial_images(run_quick):
    rec = run_quick("fig5_binary_cam")
    table = rec["table"]
    assert len(table) >= 2 and len(table) % 2 == 0
    assert [r["set"] for r in table[:2]] == ["clean", "DAmageNet-style"]
    assert all(r["detector"] in ("clean", "adversarial") for r in table)
    assert all((r["detector"] == "adversarial") == (r["P(adversarial)"] > 0.5) for r in table)
    assert all(r["classifier"] == r["true"] for r in table if r["set"] == "clean")
    assert all(r["classifier"] != r["true"] for r in table if r["set"] != "clean")  # attacks that fooled the model
    assert any("(read from the cache)" in n for n in rec["notes"])  # the detector Sec. 4.7 trained
