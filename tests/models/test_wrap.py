import keras
import numpy as np
import pytest

from keras_advinterp import models
from keras_advinterp.models import Classifier


def _sequential_softmax():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(4, 3, activation="relu", name="c1"),
        keras.layers.Conv2D(6, 3, activation="relu", name="c2"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, activation="softmax", name="probs"),
    ], name="user_seq")


def _functional_softmax_layer():
    inp = keras.Input((20, 24, 3))
    a = keras.layers.Conv2D(5, 3, padding="same", name="a")(inp)
    b = keras.layers.Conv2D(5, 1, name="b")(inp)
    h = keras.layers.Add()([a, b])
    h = keras.layers.ReLU(name="last_maps")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    h = keras.layers.Dense(4, name="scores")(h)
    out = keras.layers.Softmax(name="softmax")(h)
    return keras.Model(inp, out, name="user_fn")


@pytest.mark.parametrize("build, channels", [(_sequential_softmax, 1), (_functional_softmax_layer, 3)])
def test_from_keras_splits_softmax_and_keeps_outputs(build, channels, rng):
    user = build()
    before = [w.copy() for w in user.get_weights()]
    clf = Classifier.from_keras(user, preprocess=lambda t: t * 2.0 - 1.0)
    h, w = user.inputs[0].shape[1:3]
    x = rng.random((3, h, w, channels), dtype=np.float32)
    logits = clf.predict(x)
    probs = user.predict(x * 2.0 - 1.0, verbose=0)
    np.testing.assert_allclose(keras.ops.softmax(logits).numpy(), probs, atol=1e-5)
    assert not np.allclose(logits.sum(1), 1.0)  # the softmax is gone
    assert clf.channels == channels and clf.input_size == (h, w)
    assert len(clf.model.get_layer(clf.feature_layer).output.shape) == 4
    for a, b in zip(before, user.get_weights()):
        np.testing.assert_array_equal(a, b)  # the user's model is untouched


def test_from_keras_finds_last_4d_layer_and_resizes(rng):
    clf = models.from_keras(_functional_softmax_layer(), class_names=list("abcd"))
    assert clf.feature_layer == "last_maps"
    assert clf.predict(rng.random((2, 40, 48, 3), dtype=np.float32)).shape == (2, 4)
    assert clf.class_names == list("abcd")


def test_from_keras_flattens_nested_model(rng):
    inner = _functional_softmax_layer()
    outer = keras.Sequential([keras.Input((20, 24, 3)), inner], name="outer")
    clf = models.from_keras(outer, feature_layer="last_maps")
    x = rng.random((2, 20, 24, 3), dtype=np.float32)
    np.testing.assert_allclose(keras.ops.softmax(clf.predict(x)).numpy(), outer.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"preprocess": "yolo"}, "preprocess must be one of"),
        ({"feature_layer": "nope"}, "feature_layer 'nope' is not a layer"),
        ({"class_names": ["a", "b"]}, "class_names has 2 names but the model has 3 outputs"),
    ],
)
def test_from_keras_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.from_keras(_sequential_softmax(), **kwargs)


def test_from_keras_rejects_non_image_models():
    inp = keras.Input((10,))
    dense = keras.Model(inp, keras.layers.Dense(2)(inp))
    with pytest.raises(ValueError, match=r"input must be \(N, H, W, C\)"):
        models.from_keras(dense)
    with pytest.raises(ValueError, match="must be a keras.Model"):
        models.from_keras("resnet50")
