"""Ding et al. Tables 2-3 and Figs. 2-3 end to end on their quick settings (attacks made once, in a private cache)."""

import json
import os

import pytest

from keras_advinterp import runner


def run_quick(name, out_dir, **kwargs):
    """The quick setting on 18 clean images (the attacks are made once for every test here)."""
    return runner.run(runner.load_experiment(f"ding2023/{name}"), quick=True, out_dir=out_dir, progress=False,
                      limit=18, **kwargs)


def check_files(rec):
    assert rec["table"]
    assert os.path.getsize(rec["files"]["png"]) > 5000
    assert any("differs from the paper" in n for n in rec["notes"])


@pytest.mark.parametrize("name, paper", [("table2_pixel_change_damagenet", "DAmageNet"),
                                         ("table3_pixel_change_pgd", "PGD dataset")])
def test_pixel_change_tables_have_the_paper_layout_and_statistics(name, paper, tmp_path):
    rec = run_quick(name, tmp_path)
    check_files(rec)
    table = rec["table"]
    per_image = [r for r in table if r["image"] is not None]
    assert per_image and len(per_image) % 8 == 0  # 4 values x (before, after) per image
    for r in per_image:
        if r["change"] == "before":  # "before" is the unchanged image: the clean label is its class
            assert r["clean label"] == r["category"] != r["adversarial label"]
    stats = [r for r in table if r["category"] == "change statistics" and r["change"] == "mean change"]
    assert [r["pixel value"] for r in stats] == [0, 127, 200, 255]
    assert all(r[f"clean (paper, {paper})"] is not None and r[f"adversarial (paper, {paper})"] is not None
               for r in stats)
    assert len([r for r in table if r["category"] == "change statistics, every fooled image"]) == 8


def test_fig2_and_fig3_measure_clean_against_adversarial(tmp_path):
    fig2 = run_quick("fig2_histograms", tmp_path)
    check_files(fig2)
    means = [r for r in fig2["table"] if r["class"] == "all"]
    assert len(means) == 2 and all(0 < r["mean |diff| (gray values)"] <= r["max |diff|"] <= 8 for r in means)
    assert means[0]["mean |diff| (paper)"] == 4.2
    fig3 = run_quick("fig3_cam", tmp_path)
    check_files(fig3)
    shown = [r for r in fig3["table"] if r["clean label"] != "all"]
    assert shown and all(r["clean label"] != r["adversarial label"] for r in shown)
    assert all(0 <= r["region IoU"] <= 1 for r in fig3["table"])


def test_a_stopped_run_resumes_to_the_fresh_result(tmp_path):
    name = "table3_pixel_change_pgd"
    part = run_quick(name, tmp_path / "resumed", stop_after=1)
    assert part["status"] == "stopped" and part["done"] == 1
    resumed = run_quick(name, tmp_path / "resumed")
    fresh = run_quick(name, tmp_path / "fresh")
    assert resumed["timings"]["units_resumed"] == 1 and fresh["timings"]["units_resumed"] == 0
    assert json.dumps(resumed["table"]) == json.dumps(fresh["table"])
