import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_advinterp import cli


def test_help_lists_every_command():
    out = subprocess.run([sys.executable, "-m", "keras_advinterp.cli", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for command in ("demo", "attack", "explain", "models", "experiment"):
        assert command in out


def test_demo_writes_png_and_json(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path), "-n", "3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    saved = json.loads((tmp_path / "demo.json").read_text())
    assert saved["success_rate"] == summary["success_rate"] >= 2 / 3
    assert len(saved["images"]) == 3 and saved["model"]["name"] == "shapes"
    with Image.open(tmp_path / "demo.png") as im:
        assert im.size[0] > 800 and im.size[1] > 200
        im.load()
    first = saved["images"][0]
    assert first["linf"] <= 8 / 255 + 1e-6 and len(first["clean"]) == 5


def test_demo_on_user_images(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.png"
    Image.fromarray((rng.random((40, 40)) * 255).astype(np.uint8)).save(path)
    assert cli.main(["demo", "--model", "digits", "--image", str(path), "--out", str(tmp_path / "o"), "--json"]) == 0
    saved = json.loads((tmp_path / "o" / "demo.json").read_text())
    assert saved["labels"].startswith("the model's clean predictions") and saved["images"][0]["image"] == "noise.png"
    assert "warning" not in saved


def test_demo_warns_about_random_weights(tmp_path, capsys):
    assert cli.main(["demo", "--model", "digits", "--weights", "none", "-n", "2", "--steps", "2",
                     "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("warning: random weights")
    assert "random weights" in json.loads((tmp_path / "demo.json").read_text())["warning"]


def test_attack_explain_models(tmp_path, capsys):
    assert cli.main(["attack", "--model", "digits", "--limit", "16", "--eps", "0.15", "--out", str(tmp_path),
                     "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["count"] == 16 and s["max_norms"]["linf"] <= 0.15 + 1e-6 and s["success_rate"] > 0.5
    assert np.load(tmp_path / "adversarial.npz")["x_adv"].shape == (16, 32, 32, 1)
    assert cli.main(["explain", "--method", "cam", "--limit", "4", "--out", str(tmp_path), "--json"]) == 0
    e = json.loads(capsys.readouterr().out)
    assert np.load(e["maps"])["maps"].shape == (4, 64, 64)
    assert cli.main(["explain", "--method", "gradcam_xla", "--limit", "3", "--attack", "pgd", "--out", str(tmp_path),
                     "--json"]) == 0
    e = json.loads(capsys.readouterr().out)
    saved = np.load(e["maps"])
    assert saved["maps_adv"].shape == saved["maps"].shape == (3, 64, 64) and e["kendall_tau"] < 0.99
    with Image.open(e["figures"][0]) as im:
        assert im.size[1] > 300
    assert cli.main(["models", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shapes"]["present"] is True


@pytest.mark.parametrize("argv, match", [
    (["attack", "--eps=-1/255", "--limit", "2"], "eps must be >= 0"),
    (["attack", "--model", "resnet9"], "unknown model 'resnet9'"),
    (["demo", "--model", "resnet50", "--weights", "imagenet"], "not in the Keras cache"),
    (["explain", "--data", "/no/such/dir"], "unknown data set"),
])
def test_cli_errors_exit_2_with_message(argv, match, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert cli.main(argv) == 2
    assert match in capsys.readouterr().err


def test_bad_eps_text():
    with pytest.raises(SystemExit):
        cli.main(["attack", "--eps", "lots"])


def test_attack_help_lists_every_attack():
    from keras_advinterp.attacks import REGISTRY

    out = subprocess.run([sys.executable, "-m", "keras_advinterp.cli", "attack", "--help"], capture_output=True,
                         text=True, check=True).stdout
    listed = out.split("attacks:")[1]
    for name in REGISTRY:
        assert f"\n  {name} " in listed, name


def test_attack_save_dir_writes_lossless_copy_with_source_names(tmp_path, capsys, shapes_data):
    src = tmp_path / "set"
    for i in range(6):  # class/image layout with JPEG and PNG sources
        cls = src / shapes_data.class_names[shapes_data.y[i]]
        cls.mkdir(parents=True, exist_ok=True)
        img = Image.fromarray((shapes_data.x[i] * 255).round().astype(np.uint8))
        img.save(cls / f"img{i}.{'png' if i % 2 else 'jpg'}")
    adv = tmp_path / "adv"
    assert cli.main(["attack", "--attack", "pgd", "--data", str(src), "--eps", "8/255", "-p", "restarts=2",
                     "--out", str(tmp_path / "out"), "--save-dir", str(adv), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["params"]["restarts"] == 2 and s["saved"] == 6 and 0 <= s["success_rate_8bit"] <= 1
    written = sorted(p.relative_to(adv).as_posix() for p in adv.rglob("*.png"))
    expected = sorted(p.relative_to(src).with_suffix(".png").as_posix() for p in src.rglob("img*"))
    assert written == expected
    saved = np.load(tmp_path / "out" / "adversarial.npz")
    for f, x_adv in zip(saved["files"], saved["x_adv"]):
        back = np.asarray(Image.open(adv / Path(f).relative_to(src).with_suffix(".png")), np.float32) / 255
        assert np.abs(back - x_adv).max() <= 0.5 / 255 + 1e-6  # lossless up to 8-bit rounding
    lines = (adv / "labels.csv").read_text().splitlines()
    assert lines[0] == "file,label,adversarial_prediction" and len(lines) == 7
    # 8-bit rounding keeps the budget: sources are on the 1/255 grid and eps is a multiple of 1/255
    assert cli.main(["attack", "--attack", "fgsm", "--data", str(adv), "--eps", "0", "--out", str(tmp_path / "o2"),
                     "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 6


@pytest.mark.parametrize("argv, match", [
    (["attack", "--attack", "pgd", "-p", "binary_search_steps=3"],
     "attack 'pgd' has no parameter 'binary_search_steps'"),
    (["attack", "--attack", "pgd", "-p", "restarts"], "--param expects key=value"),
    (["attack", "--attack", "pgd", "-p", "restarts=0"], "restarts must be > 0"),
    (["attack", "--attack", "adv2", "-p", "framework=stadv", "-p", "eps=0.1"],
     "attack 'adv2' has no parameter 'eps'"),
    (["attack", "--attack", "advedge", "-p", "random_start=true"], "has no parameter 'random_start'"),
])
def test_attack_param_errors(argv, match, capsys):
    assert cli.main(argv) == 2
    assert match in capsys.readouterr().err


def test_experiment_takes_a_model_list_and_any_setting(tmp_path, capsys):
    argv = ["experiment", "ye_saliency/table5_comparison", "--quick", "--model", "shapes_mobile",
            "--set", "fgsm_eps_255=4", "--set", "limit=16", "--out", str(tmp_path), "--json"]
    assert cli.main(argv) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["settings"]["models"] == ["shapes_mobile"] and rec["settings"]["fgsm_eps_255"] == 4
    assert rec["settings"]["limit"] == 16 and len(rec["table"]) == 3
    assert cli.main(["experiment", "ye_saliency/table5_comparison", "--quick", "--set", "nonsense"]) == 2
    assert "--set takes KEY=VALUE" in capsys.readouterr().err
    assert cli.main(["experiment", "ye_saliency/table5_comparison", "--quick", "--set", "epz=3"]) == 2
    assert "unknown settings" in capsys.readouterr().err


def test_detect_measures_a_detector_against_an_attack(tmp_path, capsys):
    out = tmp_path / "det"
    argv = ["detect", "--attack", "fgsm", "--eps", "8/255", "--limit", "48", "--enhance", "color_reverse",
            "--out", str(out), "--json"]
    assert cli.main(argv) == 0
    rec = json.loads(capsys.readouterr().out)
    # measured: 92-96 % of the FGSM examples flagged, no clean input flagged
    assert rec["detection_rate"] >= 0.8 and rec["false_positive_rate"] <= 0.05 and rec["n_clean"] >= 40
    assert json.loads((out / "detect.json").read_text())["threshold"] == 0.0


def test_detect_scores_inputs_and_needs_a_threshold_for_squeezing(tmp_path, capsys):
    argv = ["detect", "--detector", "feature_squeezing", "--squeezers", "bit_depth_5,median_2x2", "--limit", "8",
            "--out", str(tmp_path)]
    assert cli.main(argv) == 2
    assert "needs a threshold" in capsys.readouterr().err
    assert cli.main(argv + ["--fpr", "0.25", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["flagged"] <= 2 and len(rec["inputs"]) == 8
    assert cli.main(["detect", "--limit", "4", "--enhance", "sepia"]) == 2
    assert "enhance must be one of" in capsys.readouterr().err


def test_attacks_on_interpreters_take_their_frameworks_flags():
    from keras_advinterp.cli import _common

    args = cli.build_parser().parse_args(["attack", "--attack", "advedge_plus", "-p", "framework=cw", "--eps", "8/255",
                                          "--steps", "7", "--confidence", "2", "-p", "interpreter=grad"])
    attack, ignored = _common.build_attack(args)
    assert ignored == ["eps"]  # C&W has no budget
    assert (attack.framework, attack.interpreter) == ("cw", "grad")
    assert attack.framework_params["steps"] == 7 and attack.framework_params["confidence"] == 2
    pgd, ignored = _common.build_attack(cli.build_parser().parse_args(
        ["attack", "--attack", "adv2", "--eps", "4/255", "--step-size", "1/255"]))
    assert ignored == [] and pgd.framework_params["eps"] == pytest.approx(4 / 255)
