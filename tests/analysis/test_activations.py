"""Activation bias per layer (Xu et al., seeds/001_13ab3436c62e81d7.txt, Appendix 4, Fig. A8)."""

import keras
import numpy as np
import pytest

from keras_advinterp import attacks
from keras_advinterp.analysis.activations import activation_bias, activation_layers
from keras_advinterp.models import Classifier

H = W = 8


@pytest.fixture(scope="module")
def mixer():
    """Hand-set: unit 0 of ``mix`` = r + g + b, unit 1 = -(r + g + b); ``act`` is their ReLU."""
    inp = keras.Input((H, W, 3))
    mix = keras.layers.Conv2D(2, 1, use_bias=False, name="mix")(inp)
    act = keras.layers.ReLU(name="act")(mix)
    out = keras.layers.Dense(2, name="logits")(keras.layers.GlobalAveragePooling2D(name="gap")(act))
    model = keras.Model(inp, out)
    model.get_layer("mix").set_weights([np.array([[[[1.0, -1.0]] * 3]], np.float32).reshape(1, 1, 3, 2)])
    return Classifier(model, class_names=["a", "b"], input_size=(H, W), feature_layer="act", name="mixer",
                      weights_source="hand-set")


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0.2, 0.5, (5, H, W, 3)).astype(np.float32)


def test_bias_is_zero_for_identical_inputs(mixer, images, shapes_clf, shapes_data):
    b = activation_bias(mixer, ["mix", "act"], images, images)
    assert b.l2.shape == (5, 2) and (b.l2 == 0).all() and (b.mean_diff == 0).all() and (b.relative == 0).all()
    x = shapes_data.x[:3]
    b = activation_bias(shapes_clf, activation_layers(shapes_clf), x, x.copy())
    assert (b.l2 == 0).all() and (b.norm > 0).all()


@pytest.mark.parametrize("shift", [0.1, -0.1])
def test_a_known_shift_gives_the_hand_computed_bias_and_its_sign(mixer, images, shift):
    b = activation_bias(mixer, ["mix", "act"], images, images + shift, batch_size=2)
    s = 3 * shift  # every pixel's r + g + b moves by 3 * shift
    # mix: both units move by |s| everywhere (opposite signs, so the signed mean is 0)
    np.testing.assert_allclose(b.l2[:, 0], abs(s) * np.sqrt(H * W * 2), rtol=1e-5)
    np.testing.assert_allclose(b.mean_diff[:, 0], 0, atol=1e-6)
    # act: unit 1 stays at 0 (its input is negative before and after), unit 0 moves by s
    np.testing.assert_allclose(b.l2[:, 1], abs(s) * np.sqrt(H * W), rtol=1e-5)
    np.testing.assert_allclose(b.mean_diff[:, 1], s / 2, rtol=1e-5)
    norm = np.sqrt((images.sum(-1) ** 2).sum((1, 2)))
    np.testing.assert_allclose(b.norm[:, 1], norm, rtol=1e-5)
    np.testing.assert_allclose(b.relative[:, 1], abs(s) * np.sqrt(H * W) / norm, rtol=1e-5)
    assert b.size.tolist() == [H * W * 2, H * W * 2]
    rows = b.summary()
    assert [r["layer"] for r in rows] == ["mix", "act"] and np.sign(rows[1]["mean diff"]) == np.sign(shift)
    assert rows[1]["rms"] == pytest.approx(abs(s) / np.sqrt(2), rel=1e-5)


def test_pgd_moves_deep_layers_of_the_shapes_model(shapes_clf, shapes_correct):
    x, y, _ = shapes_correct
    x, y = x[:6], y[:6]
    x_adv = attacks.PGD(eps=8 / 255, steps=5)(shapes_clf, x, y).x_adv
    layers = activation_layers(shapes_clf)
    assert layers[0] == "stem_relu" and layers[-1] == "features" and "block1_out" in layers
    b = activation_bias(shapes_clf, layers, x, x_adv)
    assert (b.l2 > 0).all()
    # batched like one call per image
    one = activation_bias(shapes_clf, layers, x[:1], x_adv[:1])
    np.testing.assert_allclose(one.l2[0], b.l2[0], rtol=1e-4)


@pytest.mark.parametrize("kwargs, match", [
    ({"layers": "nope"}, r"valid names.*Received: layers='nope'"),
    ({"x_adv": np.zeros((2, H, W, 3), np.float32)}, r"x and x_adv must have one shape"),
    ({"x_adv": np.full((5, H, W, 3), np.nan, np.float32)}, r"x_adv"),
    ({"x_adv": np.full((5, H, W, 3), 2.0, np.float32)}, r"x_adv"),
    ({"batch_size": 0}, r"batch_size"),
])
def test_bad_input_is_rejected_before_work(mixer, images, kwargs, match):
    args = {"layers": ["act"], "x": images, "x_adv": images, **kwargs}
    with pytest.raises(ValueError, match=match):
        activation_bias(mixer, args.pop("layers"), args.pop("x"), args.pop("x_adv"), **args)


def test_a_model_without_activation_layers_is_named():
    inp = keras.Input((H, W, 3))
    out = keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.Conv2D(2, 1, name="c")(inp)))
    clf = Classifier(keras.Model(inp, out), class_names=None, input_size=(H, W), feature_layer="c", name="plain",
                     weights_source="random")
    with pytest.raises(ValueError, match=r"no 4-D ReLU / Activation layer.*Received: model='plain'"):
        activation_layers(clf)
