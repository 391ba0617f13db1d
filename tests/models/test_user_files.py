"""Users' own models through real files: Keras-2-style .h5 and .keras round trips.

Each model is built the way third-party files are (list-shaped inputs, nested
models, a separate final softmax, softmax inside the last Dense), saved, read
back by ``models.load(path)``, and compared with the original model's output.
"""

import keras
import numpy as np
import pytest

from keras_advinterp import models

from .user_models import BUILDERS, dense_softmax, resnet_softmax_layer, save_keras2_h5, trained_looking


def _save(model, path, fmt):
    if fmt == "keras2.h5":
        return save_keras2_h5(model, str(path) + ".h5")
    model.save(str(path) + ".keras")
    return str(path) + ".keras"


@pytest.mark.parametrize("fmt", ["keras2.h5", "keras"])
@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_file_round_trip_gives_logits_of_the_original(builder, fmt, tmp_path, rng):
    original = trained_looking(BUILDERS[builder]())
    path = _save(original, tmp_path / builder, fmt)
    clf = models.load(path)
    x = rng.random((4, *original.inputs[0].shape[1:]), dtype=np.float32)
    probs = original.predict(x, verbose=0)
    logits = clf.predict(x)
    np.testing.assert_allclose(keras.ops.softmax(logits).numpy(), probs, atol=1e-5)
    assert not np.allclose(logits.sum(1), 1.0, atol=1e-3)  # the softmax was split off
    assert probs.max(1).min() > 0.36  # the outputs are far from uniform, so the check means something
    assert clf.name == builder and clf.weights_source == path
    assert clf.class_names == [f"class_{i}" for i in range(probs.shape[1])]
    assert len(clf.model.get_layer(clf.feature_layer).output.shape) == 4


def test_keras2_h5_loads_list_shaped_and_wraps_without_rewiring(tmp_path, rng):
    original = trained_looking(resnet_softmax_layer())
    path = save_keras2_h5(original, tmp_path / "resnet.h5")
    loaded = keras.models.load_model(path, compile=False)
    assert isinstance(loaded.input, list) and len(loaded.inputs) == 1  # as Keras 2 files load
    clf = models.from_keras(loaded)  # used to fail: `input_tensors` must have the same structure
    x = rng.random((3, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(keras.ops.softmax(clf.predict(x)).numpy(), loaded.predict(x, verbose=0), atol=1e-5)
    # The 1x1 average pool is skipped: CAM needs spatial maps.
    assert clf.feature_layer == "block_out"
    assert clf.model.layers[-1].name == "dense"  # the separate softmax layer is gone


def test_dense_softmax_survives_h5_and_keras_round_trips(tmp_path, rng):
    original = trained_looking(dense_softmax())
    x = rng.random((3, 14, 14, 3), dtype=np.float32)
    for fmt in ("keras2.h5", "keras"):
        clf = models.load(_save(original, tmp_path / f"m_{fmt}", fmt))
        last = clf.model.layers[-1]
        assert last.name == "probs" and last.get_config()["activation"] == "linear"
        np.testing.assert_allclose(keras.ops.softmax(clf.predict(x)).numpy(), original.predict(x, verbose=0),
                                   atol=1e-5)


def _unbuilt_sequential():
    return keras.Sequential([
        keras.layers.Conv2D(3, 3, activation="relu", name="c"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, name="out"),
    ], name="no_shape")


def test_unbuilt_sequential_asks_for_input_shape():
    with pytest.raises(ValueError, match=r"no input shape yet.*model.build.*input_shape=\(height, width, channels\)"):
        models.from_keras(_unbuilt_sequential())


def test_unbuilt_sequential_wraps_with_input_shape_and_stays_unbuilt(rng):
    user = _unbuilt_sequential()
    clf = models.from_keras(user, input_shape=(9, 11, 3))
    assert clf.input_size == (9, 11) and clf.channels == 3 and clf.feature_layer == "c"
    assert clf.predict(rng.random((2, 9, 11, 3), dtype=np.float32)).shape == (2, 2)
    assert not user.built  # the user's model was not built behind their back


def test_input_shape_is_checked_against_a_built_model():
    built = dense_softmax()
    assert models.from_keras(built, input_shape=(14, 14, 3)).input_size == (14, 14)
    with pytest.raises(ValueError, match=r"does not match the model's input \(14, 14, 3\)"):
        models.from_keras(built, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="input_shape must be"):
        models.from_keras(built, input_shape=(14, 14))


def test_mlp_without_feature_maps_wraps_for_attacks_only(rng):
    inp = keras.Input((6, 6, 1))
    mlp = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Flatten()(inp)), name="mlp")
    clf = models.from_keras(mlp)
    x = rng.random((2, 6, 6, 1), dtype=np.float32)
    np.testing.assert_allclose(clf.predict(x), mlp.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(models.NoFeatureLayerError, match="no layer with 4-D feature maps"):
        _ = clf.feature_layer
