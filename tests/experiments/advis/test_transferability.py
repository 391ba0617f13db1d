"""AdVis's transferability table, quick run end to end, and the clear message for the ImageNet pair offline."""

import json

import pytest

from keras_advinterp import models, runner


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    exp = runner.load_experiment("advis/transferability")
    out = tmp_path_factory.mktemp("results")
    return runner.run(exp, quick=True, out_dir=out, progress=False), out


def _rows(rec, pair):
    return {r["eps (/255)"]: r for r in rec["table"] if r["source -> target"] == pair}


def test_quick_run_writes_the_table_under_quick_with_the_papers_column(quick):
    rec, out = quick
    assert rec["quick"] and (out / "advis" / "quick" / "transferability.md").is_file()
    assert (out / "advis" / "quick" / "transferability.png").stat().st_size > 5000
    assert not (out / "advis" / "transferability.md").exists()  # never the full result's place
    pairs = {r["source -> target"] for r in rec["table"]}
    assert pairs == {"shapes -> shapes", "shapes -> shapes_mobile", "shapes_mobile -> shapes_mobile",
                     "shapes_mobile -> shapes"}
    white = _rows(rec, "shapes -> shapes")
    assert white[4]["paper top-1, panda, MobileNetV1 examples (%)"] == "giant panda 7.05"
    assert _rows(rec, "shapes -> shapes_mobile")[16]["paper top-1, panda, MobileNetV1 examples (%)"] == \
        "Siamese cat 30.16"
    assert json.loads((out / "advis" / "quick" / "transferability.json").read_text())["settings"]["limit"] == 24


def test_white_box_fools_more_than_black_box_and_grows_with_eps(quick):
    rec, _ = quick
    for source, target in (("shapes", "shapes_mobile"), ("shapes_mobile", "shapes")):
        white, black = _rows(rec, f"{source} -> {source}"), _rows(rec, f"{source} -> {target}")
        assert white[0]["fooling rate"] == 0 and black[0]["fooling rate"] == 0
        assert white[16]["fooling rate"] > white[4]["fooling rate"]
        assert white[16]["fooling rate"] >= black[16]["fooling rate"]
        assert white[0]["mean abs saliency diff (source's examples)"] == 0
        sal = "mean abs saliency diff (source's examples)"
        assert white[16][sal] > white[4][sal]


def test_the_imagenet_pair_offline_says_which_weights_to_place(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    exp = runner.load_experiment("advis/transferability")
    with pytest.raises(models.WeightsUnavailableError, match=r"mobilenet_1_0_224_tf.h5.*Offline, run the default pair"):
        runner.run(exp, quick=True, out_dir=tmp_path, progress=False, models=["mobilenet", "mobilenet_v2"])


def test_two_models_with_different_classes_are_refused(tmp_path):
    exp = runner.load_experiment("advis/transferability")
    with pytest.raises(ValueError, match="share their classes"):
        runner.run(exp, quick=True, out_dir=tmp_path, progress=False, models=["shapes", "digits"])
