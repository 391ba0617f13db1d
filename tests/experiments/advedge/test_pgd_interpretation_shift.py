"""The real experiment end to end on a small setting, with a resume: NT rows and the robust (AT) rows."""

import json

import numpy as np
import pytest

from keras_advinterp import runner

SMALL = {"limit": 24, "eps_255": [0, 8], "batch_size": 12, "robust_train": 32, "robust_epochs": 1,
         "robust_steps": 1}


def test_experiment_runs_resumes_and_reports_paper_columns(tmp_path):
    exp = runner.load_experiment("advedge/pgd_interpretation_shift")
    part = runner.run(exp, out_dir=tmp_path, stop_after=1, progress=False, **SMALL)
    assert part["status"] == "stopped"
    rec = runner.run(exp, out_dir=tmp_path, progress=False, **SMALL)
    assert rec["timings"]["units_resumed"] == 1 and rec["timings"]["units"] == 8
    rows = {(r["model"], r["eps (/255)"]): r for r in rec["table"]}
    assert rows["NT", 0]["Kendall tau"] > 0.999 and rows["NT", 0]["accuracy"] >= 0.9
    assert rows["NT", 8]["accuracy"] < 0.2  # PGD at 8/255 breaks the model
    assert rows["NT", 8]["Kendall tau"] < rows["NT", 0]["Kendall tau"]
    assert rows["NT", 8]["accuracy (paper)"] == 0.085 and rows["NT", 8]["Kendall tau (paper)"] == -0.100
    assert rows["AT", 8]["accuracy (paper)"] == 0.280 and rows["AT", 8]["Kendall tau (paper)"] == 0.703
    assert rows["AT", 0]["Kendall tau"] > 0.999 and rows["AT", 0]["accuracy"] >= 0.9
    assert any("Wide-ResNet" in n for n in rec["notes"])
    # the robust model trained by the stopped run is read back, not retrained
    assert any(n.startswith("Model AT") and "read from the cache" in n for n in rec["notes"])
    folder = tmp_path / "advedge"
    assert (folder / "pgd_interpretation_shift.png").stat().st_size > 1000
    assert json.loads((folder / "pgd_interpretation_shift.json").read_text())["context"]["model"]["name"] == "shapes"


def test_a_cifar10_style_npz_is_read_as_pixels_in_0_1(tmp_path):
    exp = runner.load_experiment("advedge/pgd_interpretation_shift")
    load_npz = exp.prepare.__globals__["load_npz"]
    rng = np.random.default_rng(0)
    path = tmp_path / "cifar10.npz"
    np.savez(path, x=rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8), y=np.arange(5).reshape(5, 1))
    d = load_npz(str(path), "test", limit=4)
    assert d.x.shape == (4, 32, 32, 3) and d.x.dtype == np.float32 and d.x.max() <= 1.0
    assert d.y.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="x_train"):
        load_npz(str(path), "train")
