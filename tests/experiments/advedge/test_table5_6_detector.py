"""Tables V-VI end to end on a small setting, with a resume; the attack setting and its interpreter."""

import json

import pytest

from keras_advinterp import runner

SMALL = {"limit": 36, "interpreters": ["grad", "cam", "rts"], "n_estimators": 20, "attack": "pgd",
         "attack_params": {"eps": 8 / 255, "steps": 3}, "test_fraction": 0.35}


@pytest.fixture(scope="module")
def experiment():
    return runner.load_experiment("advedge/table5_6_detector")


def test_experiment_runs_resumes_and_reports_paper_columns(experiment, tmp_path):
    part = runner.run(experiment, out_dir=tmp_path, stop_after=2, progress=False, **SMALL)
    assert part["status"] == "stopped"
    rec = runner.run(experiment, out_dir=tmp_path, progress=False, **SMALL)
    assert rec["timings"]["units_resumed"] == 2 and rec["timings"]["units"] == 7  # 3 pairs x 2 + 1 triple
    rows = {(r["interpreters"], r["channels"]): r for r in rec["table"]}
    assert rows["Grad, CAM", "2 maps"]["accuracy (paper)"] == 0.896
    assert rows["Grad, CAM", "2 maps + product"]["accuracy (paper)"] == 0.890
    assert rows["Grad, CAM, RTS", "3 maps"]["accuracy (paper)"] == 0.861
    assert rows["Grad, CAM, RTS", "3 maps"]["table"] == "VI"
    accuracies = [r["accuracy"] for r in rec["table"]]
    # Measured on this setting (36 images, 23 + 23 training maps, 13 + 13 held out): mean accuracy 0.725 (0.54-0.85).
    assert sum(accuracies) / len(accuracies) > 0.65, accuracies
    assert all(0 <= r["ROC-AUC"] <= 1 for r in rec["table"])
    folder = tmp_path / "advedge"
    assert (folder / "table5_6_detector.png").stat().st_size > 1000
    assert json.loads((folder / "table5_6_detector.json").read_text())["context"]["model"]["name"] == "shapes"


def test_an_interpretation_attack_is_aimed_at_the_chosen_interpreter(experiment):
    make = experiment.prepare.__globals__["_attack"]
    s = dict(experiment.defaults)
    if "advedge" in make.__globals__["attacks"].REGISTRY:
        attack = make({**s, "attack": "advedge", "attack_interpreter": "grad"})
        assert attack.params()["interpreter"] == "grad"
    assert type(make({**s, "attack": "pgd", "attack_params": {"eps": 0.03}})).__name__ == "PGD"
    with pytest.raises(ValueError, match="unknown attack 'nope'"):
        make({**s, "attack": "nope"})
