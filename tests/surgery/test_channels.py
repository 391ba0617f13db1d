"""Masked channels are exactly 0.0 for every consumer; scaled filters scale their pre-activation by the factor.

Every case also checks the untouched channels are bit-for-bit the original's
and that the original classifier predicts as before (nothing mutated).
"""

import keras
import numpy as np
import pytest
from keras import layers

from keras_advinterp import models, surgery


def _toy_model():
    """Biased conv with a fused ReLU, depthwise (multiplier 2) and separable convs: every kernel layout."""
    keras.utils.set_random_seed(3)
    biases = {"use_bias": True, "bias_initializer": "random_normal"}
    inp = keras.Input((12, 12, 3))
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="fused", **biases)(inp)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw", **biases)(x)
    x = layers.SeparableConv2D(5, 3, depth_multiplier=2, padding="same", name="sep", **biases)(x)
    logits = layers.Dense(4, name="logits")(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inp, logits, name="toy")


@pytest.fixture(scope="module")
def toy_clf():
    return models.from_keras(_toy_model(), name="toy")


@pytest.fixture(scope="module")
def mobilenet():
    return models.load("mobilenet", weights=None)


@pytest.fixture(scope="module")
def clfs(shapes_clf, toy_clf, mobilenet, resnet50, nested_clf):
    return {"shapes": shapes_clf, "toy": toy_clf, "mobilenet": mobilenet, "resnet50": resnet50, "nested": nested_clf}


def _images(clf, n=3):
    size = (64, 64) if clf.input_size[0] > 64 else clf.input_size  # applications resize 64 -> 224 inside
    return np.random.default_rng(7).random((n, *size, clf.channels), dtype=np.float32)


def _unchanged(clf, x, before_logits, before_weights):
    np.testing.assert_array_equal(clf.predict(x), before_logits)
    for a, b in zip(clf.model.get_weights(), before_weights):
        np.testing.assert_array_equal(a, b)


def _operate(clf, layer, channels, operation):
    """``layer``'s maps before and after ``operation(clf)``; checks the touched channels had something to
    change, the others are bit-for-bit the same, and ``clf`` still predicts as it did."""
    x = _images(clf)
    logits, weights = clf.predict(x), clf.model.get_weights()
    before = surgery.capture(clf, layer, x)[layer]
    new = operation(clf)
    after = surgery.capture(new, layer, x)[layer]
    assert new.model is not clf.model and np.abs(before[..., channels]).max() > 0
    keep = np.setdiff1d(np.arange(before.shape[-1]), channels)
    np.testing.assert_array_equal(after[..., keep], before[..., keep])
    _unchanged(clf, x, logits, weights)
    return before, after, new


@pytest.mark.parametrize("model, layer, channels", [
    ("shapes", "stem_relu", [0, 3, 23]),
    ("shapes", "block2_1_conv", [5]),
    ("toy", "dw", [0, 11]),
    ("nested", "inner_relu", [1, 2]),
    ("mobilenet", "conv_dw_1_relu", [0, 31]),
])
def test_masked_channels_are_zero_and_others_untouched(clfs, model, layer, channels):
    clf = clfs[model]
    _, after, masked = _operate(clf, layer, channels, lambda c: surgery.mask_channels(c, layer, channels))
    assert np.all(after[..., channels] == 0.0) and not np.signbit(after[..., channels]).any()
    # The feature layer survives (a nested model's name becomes the flat layer that made its output).
    assert masked.model.get_layer(masked.feature_layer).output.shape == clf.feature_model.outputs[0].shape


def test_every_consumer_of_a_masked_layer_sees_zeros(shapes_clf, shapes_data):
    # stem_relu feeds both branches of block1 (projection shortcut and first conv), both without bias.
    masked = surgery.mask_channels(shapes_clf, "stem_relu", range(24))
    maps = surgery.capture(masked, ["block1_proj", "block1_1_conv"], shapes_data.x[:4])
    assert all(np.all(m == 0.0) for m in maps.values())


def test_mask_on_a_residual_output_reaches_the_identity_shortcut(resnet50, small_images):
    # conv2_block1_out feeds conv2_block2_1_conv and, through the identity shortcut, conv2_block2_add.
    logits, weights = resnet50.predict(small_images), resnet50.model.get_weights()
    before = surgery.capture(resnet50, "conv2_block1_out", small_images)["conv2_block1_out"]
    channels = list(range(0, 256, 2))
    masked = surgery.mask_channels(resnet50, "conv2_block1_out", channels)
    names = ["conv2_block1_out", "conv2_block2_3_bn", "conv2_block2_add"]
    maps = surgery.capture(masked, names, small_images)
    out, branch, total = (maps[n] for n in names)
    assert np.all(out[..., channels] == 0.0) and np.abs(before[..., channels]).max() > 0
    np.testing.assert_array_equal(out[..., 1::2], before[..., 1::2])
    np.testing.assert_array_equal(total, out + branch)
    _unchanged(resnet50, small_images, logits, weights)


@pytest.mark.parametrize("model, layer, filters", [
    ("shapes", "block1_1_conv", [2, 5]),
    ("toy", "fused", [0, 4]),  # bias and a fused ReLU: relu(1.8 z) = 1.8 relu(z)
    ("toy", "dw", [1, 6, 11]),  # output channel c * 2 + m
    ("toy", "sep", [2]),
    ("nested", "seq_conv", [0, 4]),
    ("mobilenet", "conv_dw_1", [0, 31]),
    ("resnet50", "conv1_conv", [35, 23]),
])
def test_scaled_filters_scale_the_pre_activation(clfs, model, layer, filters):
    before, after, _ = _operate(clfs[model], layer, filters, lambda c: surgery.scale_filters(c, layer, filters, 1.8))
    scale = np.abs(before).max()
    np.testing.assert_allclose(after[..., filters], 1.8 * before[..., filters], rtol=1e-5, atol=1e-6 * scale)


def test_modifiers_compose_and_keep_metadata(shapes_clf, shapes_data):
    both = surgery.scale_filters(surgery.mask_channels(shapes_clf, "stem_relu", [1]), "stem_conv", [0], 2.0)
    assert both.class_names == shapes_clf.class_names and both.input_size == shapes_clf.input_size
    assert "mask_channels" in both.name and "scale_filters" in both.name
    again = surgery.mask_channels(both, "stem_relu", [2])  # a second mask on the same layer
    maps = surgery.capture(again, ["stem_relu", "stem_conv"], shapes_data.x[:2])
    assert np.all(maps["stem_relu"][..., [1, 2]] == 0.0)
    base = surgery.capture(shapes_clf, "stem_conv", shapes_data.x[:2])["stem_conv"]
    np.testing.assert_allclose(maps["stem_conv"][..., 0], 2.0 * base[..., 0], rtol=1e-6, atol=1e-6)


def test_copies_keep_the_original_configs(shapes_clf):
    # Copies are built with zeros initializers (their weights are overwritten) and given the originals back.
    masked = surgery.mask_channels(shapes_clf, "stem_relu", [0])
    for name in ("stem_conv", "stem_bn", "logits"):
        assert masked.model.get_layer(name).get_config() == shapes_clf.model.get_layer(name).get_config()
    assert masked.model.get_layer("stem_relu_unmasked").get_config()["name"] == "stem_relu_unmasked"


def test_the_masked_model_saves_and_loads(shapes_clf, shapes_data, tmp_path):
    masked = surgery.mask_channels(shapes_clf, "features", [0, 1])
    path = tmp_path / "masked.keras"
    masked.model.save(path)
    loaded = keras.models.load_model(path)
    x = shapes_data.x[:3]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), masked.predict(x), rtol=1e-5, atol=1e-5)
