"""The real experiment end to end on a small setting, with a resume."""

import json

from keras_advinterp import runner


def test_experiment_runs_resumes_and_reports_paper_columns(tmp_path):
    exp = runner.load_experiment("advedge/pgd_interpretation_shift")
    settings = {"limit": 24, "eps_255": [0, 8], "batch_size": 12}
    part = runner.run(exp, out_dir=tmp_path, stop_after=1, progress=False, **settings)
    assert part["status"] == "stopped"
    rec = runner.run(exp, out_dir=tmp_path, progress=False, **settings)
    assert rec["timings"]["units_resumed"] == 1 and rec["timings"]["units"] == 4
    rows = {r["eps (/255)"]: r for r in rec["table"]}
    assert rows[0]["Kendall tau"] > 0.999 and rows[0]["accuracy"] >= 0.9
    assert rows[8]["accuracy"] < 0.2  # PGD at 8/255 breaks the model
    assert rows[8]["Kendall tau"] < rows[0]["Kendall tau"]
    assert rows[8]["accuracy (paper)"] == 0.085 and rows[8]["Kendall tau (paper)"] == -0.100
    assert any("Wide-ResNet" in n for n in rec["notes"])
    folder = tmp_path / "advedge"
    assert (folder / "pgd_interpretation_shift.png").stat().st_size > 1000
    assert json.loads((folder / "pgd_interpretation_shift.json").read_text())["context"]["model"]["name"] == "shapes"
