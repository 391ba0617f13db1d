"""Masking and scaling on the other Keras applications (random weights: structure only; ~12 s)."""

import numpy as np
import pytest

from keras_advinterp import models, surgery


@pytest.mark.parametrize("name, mask_layer, conv_layer, convs", [
    ("vgg16", "block1_conv2", "block3_conv1", 13),  # conv with a fused ReLU
    ("densenet169", "conv2_block1_concat", "conv3_block2_1_conv", 168),  # concatenations
    ("mobilenet_v2", "block_1_expand_relu", "block_1_depthwise", 52),  # inverted residuals, depthwise
])
def test_mask_and_scale_on_applications(small_images, name, mask_layer, conv_layer, convs):
    clf = models.load(name, weights=None)
    assert len(surgery.conv_layers(clf)) == convs
    before = surgery.capture(clf, [mask_layer, conv_layer], small_images)
    masked = surgery.capture(surgery.mask_channels(clf, mask_layer, [0, 5]), mask_layer, small_images)[mask_layer]
    scaled = surgery.capture(surgery.scale_filters(clf, conv_layer, [1, 7]), conv_layer, small_images)[conv_layer]
    assert np.all(masked[..., [0, 5]] == 0.0)
    np.testing.assert_array_equal(masked[..., 6:], before[mask_layer][..., 6:])
    ref = before[conv_layer]
    np.testing.assert_allclose(scaled[..., [1, 7]], 1.8 * ref[..., [1, 7]], rtol=1e-5, atol=1e-6 * np.abs(ref).max())
    np.testing.assert_array_equal(scaled[..., 8:], ref[..., 8:])
    np.testing.assert_array_equal(surgery.capture(clf, conv_layer, small_images)[conv_layer], ref)  # original as was
