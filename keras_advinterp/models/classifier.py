"""The one object every tool in the package takes: a Classifier."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from .._batching import map_batches
from .._checks import as_images, positive
from .._compile import compile_fn, resolve_jit


class NoFeatureLayerError(ValueError):
    """The classifier has no Keras layers to read (a SavedModel graph): no CAM, Grad-CAM or layer surgery."""


class Classifier:
    """A Keras image classifier seen as raw pixels in [0, 1] -> logits.

    Preprocessing and resizing are layers inside ``model``, so attacks,
    epsilons and norms are all in pixel units, whatever the network.

    Attributes:
        model: Keras model, input (N, H, W, C) float32 in [0, 1] at any H, W
            (resized inside to ``input_size``), output logits (N, classes).
        class_names: one name per logit (``class_0``, ... when built with None).
        input_size: (height, width) the network runs at.
        channels: 1 or 3.
        feature_layer: name of the last convolutional output (4-D) that CAM
            and Grad-CAM read. A classifier made from a SavedModel folder has
            none (its graph has no Keras layers): reading it raises
            ``NoFeatureLayerError``, so every interpreter refuses it at
            construction, while predictions and attacks work.
        name: short model name (``shapes``, ``resnet50``, ...).
        weights_source: where the weights came from (a file, ``imagenet``
            with its cache path, ``random``, ``embedded:<file>``).
    """

    def __init__(
        self,
        model: keras.Model,
        *,
        class_names: Sequence[str] | None,
        input_size: tuple[int, int],
        feature_layer: str | None,
        name: str,
        weights_source: str,
        channels: int = 3,
    ):
        n_out = model.outputs[0].shape[-1]
        if class_names is None:
            class_names = [f"class_{i}" for i in range(n_out)]
        if n_out != len(class_names):
            raise ValueError(
                f"class_names has {len(class_names)} names but the model has {n_out} outputs. "
                f"Received: len(class_names)={len(class_names)}"
            )
        self.model = model
        self.class_names = list(class_names)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.channels = int(channels)
        self.name = name
        self.weights_source = weights_source
        self._feature_layer = None if feature_layer is None else self.check_feature_layer(feature_layer)
        self._compiled = {}

    @property
    def feature_layer(self) -> str:
        """The 4-D layer CAM / Grad-CAM read; ``NoFeatureLayerError`` when the model has none."""
        if self._feature_layer is None:
            raise NoFeatureLayerError(self._no_layers_message())
        return self._feature_layer

    def _no_layers_message(self) -> str:
        if any(isinstance(layer, keras.layers.TFSMLayer) for layer in self.model.layers):
            why, fix = "is a SavedModel graph with no Keras layers", "Load it from a .keras or .h5 file to explain it."
        else:
            why, fix = "has no layer with 4-D feature maps", "Give a model with convolutional feature maps."
        return (
            f"model {self.name!r} ({self.weights_source}) {why}, so it has no feature layer: CAM, Grad-CAM and "
            f"the other interpreters, and layer surgery, cannot run on it (predictions and attacks can). {fix}"
        )

    def check_feature_layer(self, name: str) -> str:
        """Returns ``name`` if it is a 4-D layer of the model, else raises ValueError listing some."""
        if getattr(self, "_feature_layer", "") is None:
            raise NoFeatureLayerError(self._no_layers_message())
        names = [layer.name for layer in self.model.layers]
        if name not in names:
            four_d = [layer.name for layer in self.model.layers if _is_4d(layer)]
            raise ValueError(
                f"feature_layer {name!r} is not a layer of model {self.model.name!r}; "
                f"4-D layers are: {four_d[-5:]} (last five). Received: feature_layer={name!r}"
            )
        if not _is_4d(self.model.get_layer(name)):
            raise ValueError(
                f"feature_layer must output 4-D feature maps (N, h, w, k). "
                f"Received: feature_layer={name!r} with output shape {self.model.get_layer(name).output.shape}"
            )
        return name

    # -- structure ---------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (*self.input_size, self.channels)

    @property
    def feature_model(self) -> keras.Model:
        """Raw pixels -> (feature maps of ``feature_layer``, logits)."""
        return self.features_and_logits(self.feature_layer)

    def features_and_logits(self, layer: str) -> keras.Model:
        """Raw pixels -> (output of 4-D ``layer``, logits); built once per layer."""
        def build():
            feats = self.model.get_layer(self.check_feature_layer(layer)).output
            return keras.Model(self.model.inputs[0], [feats, self.model.outputs[0]], name=f"{self.name}_{layer}")

        return self.compiled(("features_and_logits", layer), build)

    def compiled(self, key, build):
        """Caches one compiled function per key on this classifier.

        Attacks and interpreters keep their compiled functions here (keys
        from ``_compile.cache_key``), so a second call with the same settings
        never recompiles.
        """
        if key not in self._compiled:
            self._compiled[key] = build()
        return self._compiled[key]

    def flops_per_image(self) -> float:
        """Multiply-adds of one forward pass (conv, depthwise conv and dense layers), computed once.

        ``jit_compile="auto"`` reads it to choose XLA or not on a CPU.
        """
        if not hasattr(self, "_flops"):
            self._flops = float(sum(_layer_flops(layer) for layer in _all_layers(self.model)))
        return self._flops

    # -- prediction --------------------------------------------------------
    def compiled_forward(self, jit_compile="auto"):
        """The compiled raw-pixels -> logits function, shared by every tool (XLA per ``resolve_jit``)."""
        jit = resolve_jit(jit_compile, self)
        return self.compiled(
            ("forward", jit),
            lambda: compile_fn(lambda x: self.model(x, training=False), jit, reduce_retracing=True),
        )

    def check_images(self, x, name: str = "x") -> np.ndarray:
        """Validates ``x`` for this model (float NHWC in [0, 1], right channels)."""
        return as_images(x, channels=self.channels, name=name)

    def predict(self, x, *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Logits (N, classes) for images ``x`` (N, H, W, C) in [0, 1]."""
        x = self.check_images(x)
        batch_size = positive(batch_size, "batch_size", integer=True)
        return map_batches(self.compiled_forward(), [x], batch_size, progress=progress and "predict")

    def probabilities(self, x, **kwargs) -> np.ndarray:
        """Softmax of ``predict(x)``, (N, classes)."""
        return softmax(self.predict(x, **kwargs))

    def top_k(self, x, k: int = 5, **kwargs) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` class indices and probabilities, each (N, k), best first."""
        k = positive(k, "k", integer=True)
        if k > self.num_classes:
            raise ValueError(f"k must be <= the number of classes ({self.num_classes}). Received: k={k}")
        p = self.probabilities(x, **kwargs)
        idx = np.argsort(-p, axis=1)[:, :k]
        return idx, np.take_along_axis(p, idx, axis=1)

    def describe(self) -> dict:
        """Plain-data description for result files and ``advinterp models``."""
        return {
            "name": self.name,
            "weights_source": self.weights_source,
            "input_size": list(self.input_size),
            "channels": self.channels,
            "num_classes": self.num_classes,
            "feature_layer": self._feature_layer,
            "parameters": int(self.model.count_params()),
        }

    def __repr__(self) -> str:
        return (
            f"Classifier(name={self.name!r}, input={self.input_shape}, classes={self.num_classes}, "
            f"feature_layer={self._feature_layer!r}, weights={self.weights_source!r})"
        )

    @classmethod
    def from_keras(cls, model: keras.Model, **kwargs) -> Classifier:
        """Wraps any Keras image classifier; see ``models.wrap.from_keras``."""
        from .wrap import from_keras

        return from_keras(model, **kwargs)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis ((classes,) or (N, classes)), numerically stable."""
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def _layer_flops(layer) -> float:
    """Multiply-adds of one image through ``layer`` (0 for layers without weights that count)."""
    try:
        out = layer.output.shape
    except (AttributeError, ValueError):
        return 0.0
    if isinstance(layer, keras.layers.Dense):
        return float(layer.kernel.shape[0] * layer.kernel.shape[1]) * float(np.prod([d or 1 for d in out[1:-1]]))
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw, cin, mult = layer.kernel.shape
        return float(out[1] or 0) * float(out[2] or 0) * kh * kw * cin * mult
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
        kh, kw, cin, cout = layer.kernel.shape
        spatial = float(out[1] or 0) * float(out[2] or 0)
        return spatial * kh * kw * cin * cout
    return 0.0


def _is_4d(layer) -> bool:
    try:
        return len(layer.output.shape) == 4
    except (AttributeError, ValueError):
        return False


def live_classifier(model, *, input_size=None, feature_layer=None, what: str = "this tool") -> Classifier:
    """A Classifier around the same Keras model object, never a copy, for tools that follow a model in training.

    Attacks and interpreters compiled on it read the model's variables, so
    they see the weights as they are at each call (adversarial training
    steps, callbacks at epoch end). A Classifier is returned as it is.
    """
    if isinstance(model, Classifier):
        return model
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model (raw pixels in [0, 1] -> logits) or a Classifier. "
                         f"Received: model={type(model).__name__}")
    try:
        shape = tuple(model.inputs[0].shape)
    except (AttributeError, ValueError, IndexError) as e:
        raise ValueError(f"model {model.name!r} has no input shape yet: build it (keras.Input) before using it "
                         f"with {what}") from e
    if len(shape) != 4:
        raise ValueError(f"model must take images (N, H, W, C). Received: input shape {shape}")
    size = input_size or shape[1:3]
    if size[0] is None or size[1] is None:
        size = (1, 1)  # only read by tools that resize; attacks run on the images as given
    return Classifier(model, class_names=None, input_size=tuple(size), feature_layer=feature_layer,
                      name=model.name, weights_source="being trained", channels=int(shape[-1] or 3))
