"""Bad layer names, channel indices and arguments fail early, naming valid values and the value received."""

import keras
import numpy as np
import pytest

from keras_advinterp import models, surgery
from keras_advinterp.models import NoFeatureLayerError


@pytest.mark.parametrize("call, match", [
    (lambda c: surgery.mask_channels(c, "stem_rel", [0]),
     r"layer must name a layer with 4-D feature maps .*'stem_relu'.*Received: layer='stem_rel'"),
    (lambda c: surgery.scale_filters(c, "stem_relu", [0]),
     r"layer must name a conv layer .*\['stem_conv', 'block1_1_conv', .*Received: layer='stem_relu'"),
    (lambda c: surgery.scale_filters(c, "logits", [0]), r"Received: layer='logits'"),
    (lambda c: surgery.mask_channels(c, "stem_relu", [3, 24]),
     r"channels of layer 'stem_relu' must be in \[0, 23\] \(it has 24 channels\). Received: channels=24"),
    (lambda c: surgery.scale_filters(c, "stem_conv", [-1, 30]),
     r"filters of layer 'stem_conv' must be in \[0, 23\].*Received: filters=\[-1, 30\]"),
    (lambda c: surgery.mask_channels(c, "stem_relu", []), r"non-empty list.*Received: channels=\[\]"),
    (lambda c: surgery.mask_channels(c, "stem_relu", [1.5]), r"integers in \[0, 24\).*Received: channels=\[1.5\]"),
    (lambda c: surgery.mask_channels(c, "stem_relu", True), r"Received: channels=True"),
    (lambda c: surgery.scale_filters(c, "stem_conv", [0], float("inf")), r"finite number. Received: factor=inf"),
    (lambda c: surgery.scale_filters(c, "stem_conv", [0], "big"), r"Received: factor='big'"),
    (lambda c: surgery.capture(c, ["features", "nope"], np.zeros((1, 64, 64, 3), np.float32)),
     r"layers must name .*Received: layers='nope'"),
    (lambda c: surgery.capture(c, [], np.zeros((1, 64, 64, 3), np.float32)), r"at least one layer"),
    (lambda c: surgery.capture(c, "features", np.full((1, 64, 64, 3), 2.0, np.float32)), r"pixels in \[0, 1\]"),
    (lambda c: surgery.feature_map_rmse(c, np.zeros((2, 64, 64, 3), np.float32), np.zeros((3, 64, 64, 3),
                                                                                              np.float32)),
     r"paired images of one shape"),
    (lambda c: surgery.feature_map_rmse(c, np.zeros((1, 64, 64, 3), np.float32),
                                        np.zeros((1, 64, 64, 3), np.float32), reduce="median"),
     r"reduce must be one of \('mean', 'pooled'\). Received: reduce='median'"),
])
def test_bad_arguments(shapes_clf, call, match):
    with pytest.raises(ValueError, match=match):
        call(shapes_clf)


def test_layer_lists_show_the_closest_names(resnet50):
    with pytest.raises(ValueError, match=r"closest: \['conv2_block1_1_conv'.*valid names \(53\): \['conv1_conv', "
                                         r".*Received: layer='conv2_block1_1_cnv'"):
        surgery.scale_filters(resnet50, "conv2_block1_1_cnv", [0])
    with pytest.raises(ValueError, match=r"closest: \['conv2_block1_out'.*\d+ valid names, from \['resize_to'.*"
                                         r"feature_layers\(clf\) list them all\)\. Received: layer='conv2_block1_ou'"):
        surgery.mask_channels(resnet50, "conv2_block1_ou", [0])
    with pytest.raises(ValueError, match=r"must be in \[0, 63\] \(it has 64 channels\). Received: filters=64"):
        surgery.scale_filters(resnet50, "conv1_conv", [64])


def test_rmse_result_rejects_unknown_layers_and_bad_k(shapes_clf):
    x = np.zeros((1, 64, 64, 3), np.float32)
    res = surgery.feature_map_rmse(shapes_clf, x, x, ["features"])
    with pytest.raises(ValueError, match=r"compared: \['features'\]. Received: layer='stem_conv'"):
        res.by_layer("stem_conv")
    with pytest.raises(ValueError, match=r"k must be > 0. Received: k=0"):
        res.top(0)


def test_a_model_without_feature_maps_is_refused():
    inp = keras.Input((8, 8, 3))
    mlp = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(inp)))
    clf = models.from_keras(mlp, name="mlp")
    with pytest.raises(NoFeatureLayerError, match="layer surgery"):
        surgery.conv_layers(clf)
    with pytest.raises(NoFeatureLayerError):
        surgery.mask_channels(clf, "dense", [0])


def test_nested_models_need_unique_names():
    inner_in = keras.Input((8, 8, 3))
    inner = keras.Model(inner_in, keras.layers.Conv2D(2, 1, name="conv")(inner_in), name="inner")
    pixels = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(3, 1, name="conv")(pixels)
    model = keras.Model(pixels, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inner(x))))
    clf = models.Classifier(model, class_names=None, input_size=(8, 8), feature_layer="inner", name="dup",
                            weights_source="random")
    with pytest.raises(ValueError, match=r"unique layer names"):
        surgery.capture(clf, "conv", np.zeros((1, 8, 8, 3), np.float32))


def test_a_bare_keras_model_is_listed_but_not_operated_on(shapes_clf):
    assert surgery.conv_layers(shapes_clf.model) == surgery.conv_layers(shapes_clf)
    with pytest.raises(ValueError, match=r"expected a keras_advinterp Classifier. Received: Functional"):
        surgery.mask_channels(shapes_clf.model, "stem_relu", [0])
    with pytest.raises(ValueError, match=r"expected a keras_advinterp Classifier"):
        surgery.feature_map_rmse(shapes_clf.model, np.zeros((1, 64, 64, 3)), np.zeros((1, 64, 64, 3)))
