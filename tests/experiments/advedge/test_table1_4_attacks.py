"""Tables I-III and IV (attacks on interpreters, transferability) end to end on their quick settings, with resumes."""

import csv
import json

import pytest

from keras_advinterp import runner


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("advedge_attacks")


@pytest.fixture(scope="module")
def table1_3(folder):
    """The quick run, killed after one unit and resumed; then one checkpoint deleted and the run made again."""
    exp = runner.load_experiment("advedge/table1_3_attacks")
    part = runner.run(exp, quick=True, out_dir=folder, stop_after=1, progress=False)
    assert part["status"] == "stopped" and part["done"] == 1
    first = runner.run(exp, quick=True, out_dir=folder, progress=False)
    ckpt = folder / "advedge" / "quick" / ".checkpoints"
    (next(ckpt.glob("table1_3_attacks-*")) / "unit_00001.json").unlink()
    again = runner.run(exp, quick=True, out_dir=folder, progress=False)
    return exp, first, again


def test_table1_3_runs_resumes_and_writes_its_files(table1_3, folder):
    exp, first, again = table1_3
    assert first["timings"]["units_resumed"] == 1 and first["timings"]["units"] == len(first["table"]) == 2
    assert again["timings"]["units_resumed"] == 1 and again["timings"]["units_run"] == 1
    # the re-run unit reads its adversarial examples back from the cache: the same table to the last digit
    assert again["table"] == first["table"]
    out = folder / "advedge" / "quick"
    for suffix in (".md", ".csv", ".json", ".png", "_fig2.png"):
        assert (out / f"table1_3_attacks{suffix}").stat().st_size > 500, suffix
    with open(out / "table1_3_attacks.csv") as fh:
        cols = next(csv.reader(fh))
    for col in ("success rate", "success rate (paper)", "confidence", "confidence (paper)", "s/image",
                "s/image (paper)", "map L2", "map L1", "IoU top-0.2", "1-SSIM"):
        assert col in cols, col
    rows = {r["attack"]: r for r in first["table"]}
    assert set(rows) == {"plain", "ADV2"}
    adv2 = rows["ADV2"]
    assert (adv2["success rate (paper)"], adv2["confidence (paper)"], adv2["s/image (paper)"]) == (1.0, 0.553, 15.37)
    assert rows["plain"]["success rate (paper)"] is None  # the paper has no plain rows
    assert all(0 <= r["success rate"] <= 1 and r["s/image"] > 0 for r in first["table"])
    assert any("1,000" in n for n in first["notes"]) and any("AdvEdge+" in n for n in first["notes"])
    assert json.loads((out / "table1_3_attacks.json").read_text())["quick"] is True


def test_table1_3_raw_rows_are_per_image_and_bounded(table1_3, folder):
    exp, first, _ = table1_3
    with open(folder / "advedge" / "quick" / "table1_3_attacks_rows.csv") as fh:
        rows = list(csv.DictReader(fh))
    s = exp.settings(quick=True)
    assert len(rows) == 2 * s["images"]
    eps = s["pgd"]["eps"]
    for r in rows:
        assert float(r["linf"]) <= eps + 1e-6
        assert 0 <= float(r["target_prob"]) <= 1 and float(r["noise"]) >= 0
        ious = [float(r[f"iou@{k:g}"]) for k in s["fractions"]]
        assert all(0 <= v <= 1 for v in ious)
        assert ious[-1] == pytest.approx(1.0)  # top-100% of any two maps is the whole image
    # the map term keeps ADV2's CAM at most as far from the benign one as plain PGD's, image by image on average
    l2 = {k: [float(r["map_l2"]) for r in rows if r["attack"] == k] for k in ("plain", "adv2")}
    assert sum(l2["adv2"]) <= sum(l2["plain"]) + 0.02, l2


def test_table4_reads_table1_3s_examples_and_reports_the_paper_layout(table1_3, folder):
    _, first, _ = table1_3
    exp = runner.load_experiment("advedge/table4_transferability")
    rec = runner.run(exp, quick=True, out_dir=folder, progress=False)
    rows = {(r["attacked"], r["attack"]): r for r in rec["table"]}
    assert set(rows) == {(i, a) for i in ("CAM", "Grad") for a in ("plain", "ADV2")}
    # our reading of Table IV: row = attacked interpreter, column group = measured one
    assert rows["Grad", "ADV2"]["L2 CAM maps (paper)"] == 0.246
    assert rows["CAM", "ADV2"]["L2 Grad maps (paper)"] == 0.093
    assert rows["CAM", "ADV2"]["L2 CAM maps (paper)"] == 0.063
    # the diagonal is Table I-III's map L2 of the same examples (shared through the adversarial cache)
    t13 = {r["attack"]: r for r in first["table"]}
    for kind in ("plain", "ADV2"):
        assert rows["CAM", kind]["L2 CAM maps"] == t13[kind]["map L2"]
        assert rows["CAM", kind]["success rate"] == t13[kind]["success rate"]
    assert (folder / "advedge" / "quick" / "table4_transferability.png").stat().st_size > 1000
    assert any("our reading" in n.lower() for n in rec["notes"])
