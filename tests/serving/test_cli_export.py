"""``advinterp export``: writes a servable version from the command line, with clear errors."""

import json
import subprocess
import sys

import numpy as np
import tensorflow as tf

from keras_advinterp import cli, data, serving


def test_export_help_documents_the_signatures():
    out = subprocess.run([sys.executable, "-m", "keras_advinterp.cli", "export", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for word in ("serving_default", "explain", "guarded", "*_bytes", "models.config", "--detector", "--fpr"):
        assert word in out


def test_export_feature_squeezing_fit_on_the_models_own_data(tmp_path, capsys, shapes_clf):
    argv = ["export", "--base", str(tmp_path), "--detector", "feature_squeezing", "--fpr", "0.1", "--limit", "64",
            "--interpreter", "cam", "--json"]
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["version"] == 1 and summary["detector"]["name"] == "feature_squeezing"
    threshold = summary["detector"]["threshold"]
    x = data.load("shapes", "test", limit=64).x
    loaded = tf.saved_model.load(summary["path"])
    out = loaded.signatures["guarded"](images=tf.constant(x))
    # fit at 10 % false positives on these very images: at most 10 % of them are flagged
    assert np.mean(out["adversarial"].numpy()) <= 0.1 and np.all((out["detector_score"].numpy() > threshold)
                                                                 == out["adversarial"].numpy())
    assert serving.versions(tmp_path / "shapes") == [1]
    assert 'name: "shapes"' in (tmp_path / "models.config").read_text()

    assert cli.main(["export", "--base", str(tmp_path), "--detector", "none", "--name", "shapes-plain"]) == 0
    text = capsys.readouterr().out
    assert "docker run" in text and "shapes-plain:predict" in text and "guarded" not in text.split("TF Serving")[0]
    assert 'name: "shapes-plain"' in (tmp_path / "models.config").read_text()


def test_export_errors_exit_2_with_a_message(tmp_path, capsys):
    assert cli.main(["export", "--base", str(tmp_path), "--detector", "feature_squeezing"]) == 2
    assert "needs a threshold" in capsys.readouterr().err
    argv = ["export", "--base", str(tmp_path), "--detector", "feature_squeezing", "--threshold", "0.1",
            "--squeezers", "bit_depth_5,non_local_means_11_3_4"]
    assert cli.main(argv) == 2
    assert "outside TensorFlow" in capsys.readouterr().err
    assert cli.main(["export", "--base", str(tmp_path), "--detector", "none", "--version", "0"]) == 2
    assert "version" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
