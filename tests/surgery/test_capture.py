"""Feature maps of named layers in one compiled pass; conv layers listed in graph order."""

import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp import surgery
from keras_advinterp._compile import tracing_count

SHAPES_CONVS = ["stem_conv", "block1_1_conv", "block1_proj", "block1_2_conv", "block2_1_conv", "block2_proj",
                "block2_2_conv", "block3_1_conv", "block3_proj", "block3_2_conv"]


def test_conv_layers_in_graph_order(shapes_clf, nested_clf):
    assert surgery.conv_layers(shapes_clf) == SHAPES_CONVS
    assert surgery.conv_layers(nested_clf) == ["stem", "inner_conv", "seq_conv"]
    assert "stem_relu" in surgery.feature_layers(shapes_clf) and "pixels" not in surgery.feature_layers(shapes_clf)


def test_capture_matches_a_hand_convolution(shapes_clf, shapes_data):
    x = shapes_data.x[:5]
    maps = surgery.capture(shapes_clf, ["features", "stem_conv"], x)
    assert list(maps) == ["features", "stem_conv"]
    assert maps["stem_conv"].shape == (5, 64, 64, 24) and maps["features"].shape == (5, 16, 16, 96)
    kernel = shapes_clf.model.get_layer("stem_conv").kernel
    want = tf.nn.conv2d(x * 2.0 - 1.0, kernel, 1, "SAME").numpy()  # 64x64 input: the resize is the identity
    np.testing.assert_allclose(maps["stem_conv"], want, rtol=1e-5, atol=1e-5)
    features, _ = shapes_clf.features_and_logits("features")(x)
    np.testing.assert_allclose(maps["features"], features, rtol=1e-4, atol=1e-4)  # another graph: oneDNN rounding


def test_one_model_per_layer_tuple_and_no_retrace(shapes_clf, shapes_data):
    first = surgery.FeatureCapture(shapes_clf, SHAPES_CONVS, batch_size=8)
    first(shapes_data.x[:5])
    traced = tracing_count(first._fn)
    again = surgery.FeatureCapture(shapes_clf, SHAPES_CONVS, batch_size=8)
    maps = again(shapes_data.x[:7])  # 5 and 7 images share one padded batch size
    assert again.model is first.model and tracing_count(again._fn) == traced
    assert len(again.model.outputs) == len(SHAPES_CONVS) and set(maps) == set(SHAPES_CONVS)


def test_layers_inside_nested_models(nested_clf, rng):
    x = rng.random((3, 16, 16, 3), dtype=np.float32)
    maps = surgery.capture(nested_clf, ["stem", "inner_conv", "inner_add", "seq_conv"], x)
    inner, seq = nested_clf.model.get_layer("inner"), nested_clf.model.get_layer("seq")
    stem = nested_clf.model.get_layer("stem")(x)
    np.testing.assert_allclose(maps["stem"], stem, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(maps["inner_conv"], inner.get_layer("inner_conv")(stem), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(maps["inner_add"], inner(stem), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(maps["seq_conv"], seq(inner(stem)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("layer, shape", [("conv1_conv", (112, 112, 64)), ("conv2_block1_1_conv", (56, 56, 64)),
                                          ("conv5_block3_out", (7, 7, 2048))])
def test_resnet50_named_layers(resnet50, small_images, layer, shape):
    maps = surgery.capture(resnet50, [layer], small_images)
    assert maps[layer].shape == (2, *shape) and np.isfinite(maps[layer]).all()


def test_resnet50_lists_its_53_convolutions(resnet50):
    convs = surgery.conv_layers(resnet50)
    assert len(convs) == 53 and convs[:2] == ["conv1_conv", "conv2_block1_1_conv"]
    assert convs[-1] == "conv5_block3_3_conv"
