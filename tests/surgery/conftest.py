"""Models for the surgery tests: ResNet50 with random weights (structure only) and a nested toy model."""

import keras
import numpy as np
import pytest
from keras import layers

from keras_advinterp.models import Classifier


@pytest.fixture(scope="session")
def resnet50():
    from keras_advinterp import models

    return models.load("resnet50", weights=None)


@pytest.fixture(scope="session")
def small_images():
    """Two 64x64 images: the applications resize them to 224 inside the model."""
    return np.random.default_rng(1).random((2, 64, 64, 3), dtype=np.float32)


def nested_model(seed: int = 0) -> keras.Model:
    """pixels -> conv "stem" -> functional "inner" (conv, relu, add) -> Sequential "seq" (conv) -> GAP -> dense."""
    keras.utils.set_random_seed(seed)
    inner_in = keras.Input((16, 16, 4))
    y = layers.Conv2D(4, 3, padding="same", name="inner_conv")(inner_in)
    y = layers.Add(name="inner_add")([layers.ReLU(name="inner_relu")(y), inner_in])
    inner = keras.Model(inner_in, y, name="inner")
    seq = keras.Sequential([keras.Input((16, 16, 4)), layers.Conv2D(5, 1, name="seq_conv")], name="seq")
    pixels = keras.Input((16, 16, 3), name="pixels")
    x = seq(inner(layers.Conv2D(4, 3, padding="same", name="stem")(pixels)))
    logits = layers.Dense(3, name="logits")(layers.GlobalAveragePooling2D(name="gap")(x))
    return keras.Model(pixels, logits, name="nested")


@pytest.fixture(scope="module")
def nested_clf():
    return Classifier(nested_model(), class_names=None, input_size=(16, 16), feature_layer="seq", name="nested",
                      weights_source="random")
