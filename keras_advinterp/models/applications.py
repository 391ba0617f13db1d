"""Keras applications as Classifiers, with ImageNet weights from Keras's cache.

The network is built on top of ``ResizeTo`` + ``PixelPreprocessing`` with
``input_tensor``, so the model is flat (every layer reachable by name from
the raw-pixel input) and outputs logits (``classifier_activation=None``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras

from ..data.imagenet import imagenet_class_names
from .classifier import Classifier
from .layers import PixelPreprocessing, ResizeTo

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither cached nor downloadable."""


@dataclass(frozen=True)
class AppSpec:
    build: Callable[..., keras.Model]
    preprocessing: str
    feature_layer: str
    weights_file: str
    weights_url: str
    input_size: tuple[int, int] = (224, 224)


APPLICATIONS = {
    "resnet50": AppSpec(
        keras.applications.ResNet50, "caffe", "conv5_block3_out",
        "resnet50_weights_tf_dim_ordering_tf_kernels.h5", _BASE + "resnet/"),
    "vgg16": AppSpec(
        keras.applications.VGG16, "caffe", "block5_conv3",
        "vgg16_weights_tf_dim_ordering_tf_kernels.h5", _BASE + "vgg16/"),
    "mobilenet": AppSpec(
        keras.applications.MobileNet, "tf", "conv_pw_13_relu",
        "mobilenet_1_0_224_tf.h5", _BASE + "mobilenet/"),
    "mobilenet_v2": AppSpec(
        keras.applications.MobileNetV2, "tf", "out_relu",
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5", _BASE + "mobilenet_v2/"),
    "densenet169": AppSpec(
        keras.applications.DenseNet169, "torch", "relu",
        "densenet169_weights_tf_dim_ordering_tf_kernels.h5", _BASE + "densenet/"),
}


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models`` (default ~/.keras/models)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def offline() -> bool:
    return os.environ.get("KERAS_ADVINTERP_OFFLINE", "").lower() in ("1", "true", "yes")


def imagenet_weights_path(name: str) -> Path:
    """Path of the cached ImageNet weights, downloading them if allowed.

    Raises:
        WeightsUnavailableError: not cached and the download failed (or
            ``KERAS_ADVINTERP_OFFLINE=1``); the message says which file to put where.
    """
    spec = APPLICATIONS[name]
    cache = keras_cache_dir()
    path = cache / spec.weights_file
    if path.is_file():
        return path
    help_text = (
        f"ImageNet weights for {name!r} are not in the Keras cache and could not be downloaded. "
        f"Place the file {spec.weights_file} (from {spec.weights_url}{spec.weights_file}) at {path} "
        f"(set KERAS_HOME to use another cache folder), or pass weights=None for random weights "
        f"or weights='/path/to/file.h5'."
    )
    if offline():
        raise WeightsUnavailableError(help_text + " Downloads are off: KERAS_ADVINTERP_OFFLINE is set.")
    try:
        got = keras.utils.get_file(
            spec.weights_file, spec.weights_url + spec.weights_file,
            cache_dir=str(cache.parent), cache_subdir="models",
        )
    except Exception as e:  # any network or HTTP failure: the message above is what helps
        raise WeightsUnavailableError(f"{help_text} Download error: {type(e).__name__}: {e}") from e
    return Path(got)


def build_application(name: str, weights: str | None = "imagenet") -> Classifier:
    """A Keras application as a Classifier over raw pixels in [0, 1].

    Args:
        name: one of ``APPLICATIONS``.
        weights: ``"imagenet"``, ``None`` (random) or a path to a weights file.
    """
    spec = APPLICATIONS[name]
    if weights == "imagenet":
        path = imagenet_weights_path(name)
        source = f"imagenet ({path})"
    elif weights is None:
        path, source = None, "random (weights=None)"
    else:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"weights file does not exist. Received: weights={str(weights)!r}")
        source = str(path)

    raw = keras.Input((None, None, 3), name="pixels")
    x = ResizeTo(*spec.input_size, name="resize_to")(raw)
    x = PixelPreprocessing(spec.preprocessing, name="preprocess")(x)
    net = spec.build(input_tensor=x, weights=None, classifier_activation=None)
    model = keras.Model(raw, net.output, name=name)
    if path is not None:
        model.load_weights(str(path))
    return Classifier(
        model,
        class_names=imagenet_class_names(),
        input_size=spec.input_size,
        feature_layer=spec.feature_layer,
        name=name,
        weights_source=source,
    )
