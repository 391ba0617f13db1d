"""Classifiers: Keras applications, embedded models, and your own models.

``load(name_or_path, ...)`` builds one; ``available()`` lists names with
where their weights are; ``from_keras`` wraps a model in memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from ..data.imagenet import imagenet_class_names
from .applications import APPLICATIONS, WeightsUnavailableError, build_application, keras_cache_dir
from .classifier import Classifier, NoFeatureLayerError
from .embedded import EMBEDDED, build_embedded
from .files import ModelFileError, from_saved_model, is_model_path, load_file
from .options import INPUT_RANGES, MeanStd, parse_preprocess, range_scale, read_class_names
from .wrap import from_keras

DEFAULT_MODEL = "shapes"


def load(
    name: str | os.PathLike = DEFAULT_MODEL,
    weights: str | None = "default",
    *,
    preprocess: str | MeanStd | Callable | None = None,
    class_names: Sequence[str] | None = None,
    input_range: str | None = None,
    input_size: tuple[int, int] | None = None,
    feature_layer: str | None = None,
) -> Classifier:
    """Builds a Classifier from a model name or a model file.

    Args:
        name: an embedded model (``shapes``, ``digits``), a Keras
            application (``resnet50``, ``vgg16``, ``mobilenet``,
            ``mobilenet_v2``, ``densenet169``), or a path: a whole-model
            ``.keras`` / ``.h5`` file or a SavedModel folder (see
            ``files.load_file``). Names win over files of the same name.
        weights: for names: ``"default"`` (embedded weights for embedded
            models, ImageNet for applications), ``"imagenet"``,
            ``"embedded"``, ``None`` for random weights, or a path to a
            weights file. A model file brings its own: keep ``"default"``.
        preprocess: model files only: ``none`` | ``caffe`` | ``tf`` |
            ``torch`` | ``"mean=R,G,B std=R,G,B"`` | a function (see
            ``from_keras``).
        class_names: model files only: one per output (default ``class_0``...);
            ``read_class_names`` reads them from a file.
        input_range: model files only: ``"0-1"`` or ``"0-255"``, the pixel
            range the model expects before ``preprocess``.
        input_size, feature_layer: model files only, as for ``from_keras``.

    Raises:
        ValueError: unknown name, or an option the model does not take.
        ModelFileError: a model file that cannot be loaded (the message says why and what to do).
        WeightsUnavailableError: ImageNet weights neither cached nor downloadable.
    """
    options = {"preprocess": preprocess, "class_names": class_names, "input_range": input_range,
               "input_size": input_size, "feature_layer": feature_layer}
    if isinstance(name, str) and (name in EMBEDDED or name in APPLICATIONS):
        given = {k: v for k, v in options.items() if v is not None}
        if given:
            key, value = next(iter(given.items()))
            raise ValueError(f"{name!r} brings its own preprocessing, classes and size; {', '.join(given)} "
                             f"apply to model files. Received: {key}={value!r}")
        return _load_named(name, weights)
    if is_model_path(name):
        if weights != "default":
            raise ValueError(f"a model file brings its own weights; load other weights into the model yourself "
                             f"and call from_keras. Received: weights={weights!r}")
        return load_file(name, **options)
    raise ValueError(f"unknown model {name!r}; available: {sorted(available())}, or a path to a .keras / .h5 "
                     f"file or a SavedModel folder. Received: name={name!r}")


def load_with_options(
    model: str,
    *,
    weights: str | None = "default",
    preprocess: str | None = None,
    classes: str | None = None,
    input_range: str | None = None,
) -> Classifier:
    """``load`` for the command line: every option is text, ``classes`` a file of class names.

    Bad text fails before the model loads; a class count that does not match
    the model's outputs fails naming the file.
    """
    if preprocess is not None:
        parse_preprocess(preprocess)
    range_scale(input_range)
    clf = load(model, weights, preprocess=preprocess, input_range=input_range)
    if classes is not None:
        clf.class_names = read_class_names(classes, num_classes=clf.num_classes)
    return clf


def _load_named(name: str, weights) -> Classifier:
    if name in EMBEDDED:
        weights = "embedded" if weights == "default" else weights
        if weights == "imagenet":
            raise ValueError(f"embedded model {name!r} has no ImageNet weights. Received: weights='imagenet'")
        return build_embedded(name, weights)
    weights = "imagenet" if weights == "default" else weights
    if weights == "embedded":
        raise ValueError(f"{name!r} is a Keras application, not an embedded model. Received: weights='embedded'")
    return build_application(name, weights)


def default_data(clf: Classifier) -> str:
    """The data set a model is meant for: its own for embedded models, else the photos."""
    return EMBEDDED[clf.name].data if clf.name in EMBEDDED else "photos"


def available() -> dict[str, dict]:
    """Model name -> {kind, weights location, present}."""
    out = {}
    for name, spec in EMBEDDED.items():
        path = spec.weights_file
        out[name] = {"kind": "embedded", "weights": str(path), "present": path.is_file(), "about": spec.description}
    cache = keras_cache_dir()
    for name, spec in APPLICATIONS.items():
        path = cache / spec.weights_file
        out[name] = {"kind": "keras application", "weights": str(path), "present": path.is_file(),
                     "about": f"keras.applications ImageNet model, {spec.preprocessing} preprocessing"}
    return out


__all__ = [
    "Classifier", "load", "load_with_options", "available", "from_keras", "load_file", "from_saved_model",
    "is_model_path", "read_class_names", "parse_preprocess", "MeanStd", "INPUT_RANGES", "ModelFileError",
    "NoFeatureLayerError",
    "WeightsUnavailableError", "imagenet_class_names", "DEFAULT_MODEL", "EMBEDDED", "APPLICATIONS",
    "default_data",
]
