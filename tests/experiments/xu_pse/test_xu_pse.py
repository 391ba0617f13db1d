"""Xu et al.'s tables and figures end to end on their quick settings (the attacks made once, shared)."""

import os

import numpy as np
import pytest

from keras_advinterp import runner

NAMES = ("table1_correlation", "table2_is", "fig2_sensitivity", "fig4_5_psr_cam", "tableA1_fig6_refinement")


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """Every xu_pse experiment run once with --quick; the session cache shares the adversarial sets."""
    out = tmp_path_factory.mktemp("results")
    return {name: runner.run(runner.load_experiment(f"xu_pse/{name}"), quick=True, out_dir=out, progress=False)
            for name in NAMES}


def test_every_script_is_listed_and_writes_a_figure(records):
    keys = runner.discover()
    for name, rec in records.items():
        assert f"xu_pse/{name}" in keys
        assert rec["quick"] and "/quick/" in rec["files"]["md"].replace(os.sep, "/")
        assert os.path.getsize(rec["files"]["png"]) > 5000
        assert any("Setting differs from the paper" in n for n in rec["notes"])


def test_table1_correlations_beside_the_paper(records):
    rows = {r["attack"]: r for r in records["table1_correlation"]["table"]}
    assert set(rows) == {"IFGSM", "C&W", "EAD", "Str"}
    assert rows["Str"]["s (paper)"] == 0.783 and rows["IFGSM"]["d0 (paper)"] == 0.303
    assert rows["Str"]["paper model"] == "Resnet"
    for r in rows.values():
        assert r["images"] > 0
        for k in ("d0", "dt", "s", "s Spearman"):
            assert -1 <= r[k] <= 1
    # Measured (quick): s correlates 0.78-0.97 with ||delta_G||_2 for every attack.
    assert rows["C&W"]["s"] > 0.3 and rows["Str"]["s"] > 0.3
    assert rows["Str"]["mean perturbed grids"] < 64  # a group-sparse attack leaves grids untouched


def test_table2_scores_are_fractions_and_sparse_attacks_sit_in_the_cam(records):
    rows = {r["attack"]: r for r in records["table2_is"]["table"]}
    assert rows["C&W"]["IS (x', t) (paper)"] == 0.823 and rows["C&W"]["paper model"] == "Resnet"
    for r in rows.values():
        for k in ("IS (x0, t0)", "IS (x', t)", "IS (x0, t0) @0.6", "IS (x', t) @0.8"):
            assert 0 <= r[k] <= 1
        assert r["IS (x0, t0) @0.6"] >= r["IS (x0, t0)"] >= r["IS (x0, t0) @0.8"]  # a larger region holds more
    # Measured (quick): EAD 0.98-0.99, Str 0.92-0.96 against sqrt(0.3) = 0.55 for an evenly spread perturbation.
    assert rows["EAD"]["IS (x', t)"] > np.sqrt(0.3) and rows["Str"]["IS (x0, t0)"] > np.sqrt(0.3)


def test_fig2_has_every_grid_and_consistent_psr(records):
    rows = records["fig2_sensitivity"]["table"]
    assert [r["grid"] for r in rows] == list(range(64))
    for r in rows:
        assert r["d0"] >= 1e-6 and r["dt"] >= 1e-6
        assert r["psr"] == pytest.approx(np.log2(r["dt"] / r["d0"]))
        want = "suppression" if r["psr"] < -1 else "promotion" if r["psr"] > 1 else "balance"
        assert r["class"] == want
    assert max(r["l2"] for r in rows) > 0


def test_fig4_5_counts_the_shown_grids(records):
    rows = records["fig4_5_psr_cam"]["table"]
    four = [r for r in rows if r["figure"] == "Fig. 4"]
    five = [r for r in rows if r["figure"] == "Fig. 5"]
    assert 1 <= len(four) <= 2 and 1 <= len(five) <= 5
    assert len({r["target"] for r in five}) == len(five) and len({r["image"] for r in five}) == 1
    for r in rows:
        assert r["shown grids"] == round(0.7 * 64)
        assert r["suppression"] + r["balance"] + r["promotion"] == r["shown grids"]
    assert any("Jaccard" in n for n in records["fig4_5_psr_cam"]["notes"])


def test_tableA1_refinement_drops_perturbed_values(records):
    rows = {(r["set"], r["attack"]): r for r in records["tableA1_fig6_refinement"]["table"]}
    assert set(rows) == {("S1", "IFGSM"), ("S1", "C&W"), ("S1", "EAD"), ("S1", "Str"), ("S2", "Str")}
    assert rows[("S1", "C&W")]["l0 refine (paper)"] == 21103 and rows[("S1", "IFGSM")]["ASR refine % (paper)"] == 96.7
    assert rows[("S2", "Str")]["kept pixels"] == pytest.approx(0.3, abs=0.01)
    for key in (("S1", "IFGSM"), ("S1", "C&W")):
        r = rows[key]
        assert 0 < r["kept pixels"] < 1
        if r["l0 refine"] is not None:  # values outside S1 stay untouched (the script asserts it per image)
            assert r["l0 refine"] < 0.8 * r["l0 original"]


def test_a_killed_run_resumes_to_the_same_table(records, tmp_path):
    exp = runner.load_experiment("xu_pse/table2_is")
    part = runner.run(exp, quick=True, out_dir=tmp_path, progress=False, stop_after=2)
    assert part["status"] == "stopped"
    rec = runner.run(exp, quick=True, out_dir=tmp_path, progress=False)
    assert rec["timings"]["units_resumed"] == 2
    assert rec["table"] == records["table2_is"]["table"]
