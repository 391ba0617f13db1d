"""Xu et al.'s activation figures (Fig. A8 activation bias, Fig. 9 / A9 natural vs robust) on their quick settings."""

import pytest

from keras_advinterp import runner

from .conftest import check_written

NAMES = ("figA8_activation_bias", "fig9_robust_activations")
SHAPES_ACTIVATIONS = ["stem_relu", "block1_1_relu", "block1_out", "block2_1_relu", "block2_out", "block3_1_relu",
                      "features"]


@pytest.fixture(scope="module")
def records(quick_records):
    return quick_records


def test_both_scripts_are_listed_and_write_their_files(records):
    check_written(records)


def test_figA8_bias_per_layer_rises_towards_the_deep_layers(records):
    rows = records["figA8_activation_bias"]["table"]
    assert [r["layer"] for r in rows] == SHAPES_ACTIVATIONS  # quick: the ResNet-style model only, in graph order
    for r in rows:
        assert r["model"] == "shapes" and r["paper model"] == "Resnet"
        for attack in ("IFGSM", "C&W", "EAD", "Str"):
            assert r[f"{attack} l2"] > 0 and r[f"{attack} relative"] > 0
    # Measured (quick): relative bias 0.11-0.17 at stem_relu, 0.60-0.73 at features for every attack: the paper's
    # sharp transition at deep layers.
    first, last = rows[0], rows[-1]
    for attack in ("IFGSM", "C&W", "EAD", "Str"):
        assert last[f"{attack} relative"] > 2 * first[f"{attack} relative"]
    assert sum("Measured (shapes" in n for n in records["figA8_activation_bias"]["notes"]) == 4


def test_fig9_rows_for_both_models_and_the_robust_weights_are_cached(records):
    rec = records["fig9_robust_activations"]
    s = rec["settings"]
    rows = {(r["model"], r["layer"]): r for r in rec["table"]}
    assert set(rows) == {(m, layer) for m in ("natural", "robust") for layer in s["layers"]}
    for r in rows.values():
        assert r["images"] > 0 and 0 <= r["PGD accuracy %"] <= 100 and r["clean accuracy %"] >= 50
        assert r["relative bias"] > 0 and -1 <= r["corr A(x), A(x')"] <= 1
        assert 0 <= r["edge corr x"] <= 1 and 0 <= r["edge corr x'"] <= 1
    assert rows["natural", "features"]["PGD accuracy %"] < 50  # PGD breaks the natural model
    assert rows["natural", "features"]["relative bias"] > rows["natural", "stem_relu"]["relative bias"]
    assert any("trained in this run and cached" in n or "read the cached weights" in n for n in rec["notes"])
    # preparing the same setting again (a resumed or repeated run) loads the cached weights instead of training
    exp = runner.load_experiment("xu_pse/fig9_robust_activations")
    ctx = exp.prepare(exp.settings(quick=True))
    assert ctx["robust_info"]["from_cache"] and ctx["robust_info"]["train_seconds"] > 0
    assert ctx["models"]["robust"].weights_source.endswith(".weights.h5")
    assert 100 * ctx["robust_clean_accuracy"] == pytest.approx(rows["robust", "stem_relu"]["clean accuracy %"])


def test_bad_settings_are_rejected_naming_the_value(tmp_path):
    fig9 = runner.load_experiment("xu_pse/fig9_robust_activations")
    with pytest.raises(ValueError, match=r"train\['epochs'\] must be an integer >= 1. Received: epochs=0"):
        runner.run(fig9, quick=True, out_dir=tmp_path, progress=False,
                   train={**fig9.quick["train"], "epochs": 0})
    with pytest.raises(ValueError, match=r"layers must be 4-D feature layers of model 'shapes'.*\['nope'\]"):
        runner.run(fig9, quick=True, out_dir=tmp_path, progress=False, layers=["nope"])
