"""SavedModel folders: predictions and attacks work, interpreters refuse with a clear error."""

import keras
import numpy as np
import pytest

from keras_advinterp import attacks, interpret, models

from .user_models import resnet_softmax_layer, trained_looking


def _user_model(softmax: bool):
    inp = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="maps")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(4, activation="softmax" if softmax else None, name="scores")(x)
    return trained_looking(keras.Model(inp, out, name="user"), seed=1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(model, .keras path, SavedModel folder) for a softmax and a logits model."""
    root = tmp_path_factory.mktemp("saved")
    out = {}
    for kind in ("probabilities", "logits"):
        model = _user_model(softmax=kind == "probabilities")
        model.save(root / f"{kind}.keras")
        model.export(str(root / kind), verbose=False)
        out[kind] = model, str(root / f"{kind}.keras"), str(root / kind)
    return out


@pytest.fixture(scope="module")
def pixels():
    return np.random.default_rng(5).random((6, 12, 12, 3), dtype=np.float32)


@pytest.mark.parametrize("kind", ["probabilities", "logits"])
def test_saved_model_predicts_like_the_model(exported, pixels, kind):
    model, _, folder = exported[kind]
    clf = models.load(folder, class_names=list("abcd"))
    expected = model.predict(pixels, verbose=0)
    got = clf.predict(pixels)
    if kind == "probabilities":  # auto-detected: its logits are log p, same softmax
        np.testing.assert_allclose(keras.ops.softmax(got).numpy(), expected, atol=1e-5)
        assert clf.model.layers[-1].name == "log_probabilities"
    else:
        np.testing.assert_allclose(got, expected, atol=1e-5)
    assert clf.class_names == list("abcd") and clf.input_size == (12, 12) and clf.channels == 3
    assert clf.describe()["feature_layer"] is None and "SavedModel" in clf.weights_source
    # any size in, resized inside, as for every Classifier
    assert clf.predict(np.random.default_rng(0).random((2, 20, 24, 3), dtype=np.float32)).shape == (2, 4)


def test_saved_model_file_path_and_output_option(exported, pixels):
    model, _, folder = exported["logits"]
    as_probs = models.files.load_file(folder + "/saved_model.pb", output="probabilities")
    assert as_probs.model.layers[-1].name == "log_probabilities"
    with pytest.raises(ValueError, match="output must be 'auto', 'logits' or 'probabilities'"):
        models.files.load_file(folder, output="softmax")
    with pytest.raises(ValueError, match="a SavedModel has no Keras layers"):
        models.load(folder, feature_layer="maps")


def test_attacks_on_a_saved_model_match_the_keras_model(exported, pixels):
    model, keras_file, folder = exported["probabilities"]
    labels = model.predict(pixels, verbose=0).argmax(1)
    pgd = attacks.PGD(eps=0.3, steps=10)
    on_graph = pgd(models.load(folder), pixels, labels)
    on_keras = pgd(models.load(keras_file), pixels, labels)
    assert on_graph.success_rate >= 0.5  # the attack really runs through the graph's gradients
    np.testing.assert_array_equal(on_graph.success, on_keras.success)
    assert np.abs(on_graph.x_adv - on_keras.x_adv).mean() < 1e-3
    assert on_graph.norms["linf"].max() <= 0.3 + 1e-6


@pytest.mark.parametrize("method", ["gradcam", "cam", "gradcam_xla"])
def test_feature_map_interpreters_refuse_a_saved_model_with_a_clear_error(exported, method):
    clf = models.load(exported["logits"][2])
    with pytest.raises(models.NoFeatureLayerError, match=r"SavedModel graph with no Keras layers.*attacks can"):
        interpret.get(method, clf)


@pytest.mark.parametrize("method", ["saliency", "grad"])
def test_gradient_maps_work_on_a_saved_model(exported, method):
    """Gradient maps need no feature layer: they run on the graph and agree with the Keras model's."""
    clf, ref = models.load(exported["logits"][2]), models.load(exported["logits"][1])
    x = np.random.default_rng(3).random((2, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(interpret.get(method, clf)(x, 0), interpret.get(method, ref)(x, 0), atol=1e-4)


def test_list_shaped_model_exports_and_loads(tmp_path):
    """A Keras-2-style model (``[input] -> [softmax]``) exports a signature taking ``[image]``."""
    model = trained_looking(resnet_softmax_layer())
    model.export(str(tmp_path / "listy"), verbose=False)
    clf = models.load(tmp_path / "listy")
    x = np.random.default_rng(2).random((3, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(clf.probabilities(x), model.predict(x, verbose=0), atol=1e-5)


def test_a_folder_that_is_not_a_saved_model(tmp_path):
    with pytest.raises(models.ModelFileError, match="holds no saved_model.pb"):
        models.load(tmp_path)
