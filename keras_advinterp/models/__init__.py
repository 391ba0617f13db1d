"""Classifiers: Keras applications, embedded models, and your own models.

``load(name, weights=...)`` builds one; ``available()`` lists names with
where their weights are.
"""

from __future__ import annotations

from .applications import APPLICATIONS, WeightsUnavailableError, build_application, keras_cache_dir
from .classifier import Classifier
from .embedded import EMBEDDED, build_embedded
from ..data.imagenet import imagenet_class_names
from .wrap import from_keras

DEFAULT_MODEL = "shapes"


def load(name: str = DEFAULT_MODEL, weights: str | None = "default") -> Classifier:
    """Builds a Classifier by name.

    Args:
        name: an embedded model (``shapes``, ``digits``) or a Keras
            application (``resnet50``, ``vgg16``, ``mobilenet``,
            ``mobilenet_v2``, ``densenet169``).
        weights: ``"default"`` (embedded weights for embedded models,
            ImageNet for applications), ``"imagenet"``, ``"embedded"``,
            ``None`` for random weights, or a path to a weights file.

    Raises:
        ValueError: unknown name or weights kind for that model.
        WeightsUnavailableError: ImageNet weights neither cached nor downloadable.
    """
    if name in EMBEDDED:
        weights = "embedded" if weights == "default" else weights
        if weights == "imagenet":
            raise ValueError(f"embedded model {name!r} has no ImageNet weights. Received: weights='imagenet'")
        return build_embedded(name, weights)
    if name in APPLICATIONS:
        weights = "imagenet" if weights == "default" else weights
        if weights == "embedded":
            raise ValueError(f"{name!r} is a Keras application, not an embedded model. Received: weights='embedded'")
        return build_application(name, weights)
    raise ValueError(f"unknown model {name!r}; available: {sorted(available())}. Received: name={name!r}")


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
    "Classifier", "load", "available", "from_keras", "WeightsUnavailableError",
    "imagenet_class_names", "DEFAULT_MODEL", "EMBEDDED", "APPLICATIONS", "default_data",
]
