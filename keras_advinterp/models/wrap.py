"""Bring your own Keras model: wrap it as a Classifier.

The user's graph is rebuilt flat on top of ``ResizeTo`` and preprocessing
layers (cloned layers, weights copied), so every layer, the feature layer
included, is reachable by name from the raw-pixel input; tf-keras-vis and
layer surgery need that. A final softmax is split off so attacks see logits.
"""

from __future__ import annotations

from typing import Callable, Sequence

import keras

from .classifier import Classifier
from .layers import PREPROCESSING_MODES, PixelPreprocessing, ResizeTo


def from_keras(
    model: keras.Model,
    *,
    class_names: Sequence[str] | None = None,
    preprocess: str | keras.layers.Layer | Callable | None = None,
    input_scale: float = 1.0,
    input_size: tuple[int, int] | None = None,
    feature_layer: str | None = None,
    name: str | None = None,
    weights_source: str = "user model",
) -> Classifier:
    """Wraps a Keras image classifier (Sequential or functional) as a Classifier.

    Args:
        model: single-input image model, channels last, 1 or 3 channels,
            output softmax probabilities or logits.
        class_names: one per output; defaults to ``class_0`` ...
        preprocess: what the model expects done to its input after scaling:
            a mode name (``caffe``, ``tf``, ``torch``, ``none``), a Keras
            layer, or a function of a tensor (wrapped in a Lambda layer).
        input_scale: raw pixels in [0, 1] are multiplied by this first (255
            for models trained on 0..255 input, e.g. with
            ``keras.applications.resnet50.preprocess_input``).
        input_size: (height, width) the model runs at; read from the model
            when its input shape is fixed.
        feature_layer: name of the 4-D layer CAM/Grad-CAM read; defaults to
            the last layer with a 4-D output.
        name: short name; defaults to ``model.name``.

    Returns:
        A Classifier; the original model is not changed (weights are copied).
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model. Received: model={type(model).__name__}")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"model must have one image input and one output. "
            f"Received: {len(model.inputs)} inputs, {len(model.outputs)} outputs"
        )
    in_shape = tuple(model.inputs[0].shape)
    if len(in_shape) != 4 or in_shape[-1] not in (1, 3):
        raise ValueError(
            f"model input must be (N, H, W, C) with C = 1 or 3, channels last. Received: input shape {in_shape}"
        )
    size = input_size or in_shape[1:3]
    if size[0] is None or size[1] is None:
        raise ValueError(
            f"model takes images of any size; give input_size=(height, width). Received: input shape {in_shape}"
        )
    channels = in_shape[-1]

    raw = keras.Input((None, None, channels), name="pixels")
    x = ResizeTo(*size, name="resize_to")(raw)
    if input_scale != 1.0:
        x = keras.layers.Rescaling(float(input_scale), name="input_scale")(x)
    x = _preprocessing_layer(preprocess)(x)
    logits = _rebuild(model, x, _output_layer(model))
    flat = keras.Model(raw, logits, name=f"{model.name}_classifier")

    n_out = logits.shape[-1]
    names = list(class_names) if class_names is not None else [f"class_{i}" for i in range(n_out)]
    if feature_layer is None:
        feature_layer = _last_4d_layer(flat)
    return Classifier(
        flat,
        class_names=names,
        input_size=tuple(size),
        feature_layer=feature_layer,
        name=name or model.name,
        weights_source=weights_source,
        channels=channels,
    )


def _preprocessing_layer(preprocess) -> keras.layers.Layer:
    if preprocess is None or isinstance(preprocess, str):
        mode = preprocess or "none"
        if mode not in PREPROCESSING_MODES:
            raise ValueError(f"preprocess must be one of {PREPROCESSING_MODES}, a layer or a function. "
                             f"Received: preprocess={preprocess!r}")
        return PixelPreprocessing(mode, name="preprocess")
    if isinstance(preprocess, keras.layers.Layer):
        return preprocess
    if callable(preprocess):
        return keras.layers.Lambda(preprocess, name="preprocess")
    raise ValueError(f"preprocess must be a mode name, a keras layer or a function. Received: preprocess={preprocess!r}")


def _output_layer(model: keras.Model):
    """The layer producing the model's output, looking inside nested models."""
    out = model.outputs[0]
    found = model.layers[-1]
    for layer in reversed(model.layers):
        try:
            if layer.output is out:
                found = layer
                break
        except (AttributeError, ValueError):
            continue
    return _output_layer(found) if isinstance(found, keras.Model) else found


def _is_softmax_layer(layer) -> bool:
    if isinstance(layer, keras.layers.Softmax):
        return True
    return isinstance(layer, keras.layers.Activation) and _activation_name(layer) == "softmax"


def _activation_name(layer) -> str | None:
    act = layer.get_config().get("activation")
    if isinstance(act, dict):  # serialized function
        act = act.get("config", act.get("class_name"))
    return act if isinstance(act, str) else None


def _rebuild(model: keras.Model, x, output_layer):
    """Applies clones of ``model``'s layers to tensor ``x``; returns the logits tensor."""
    copies = []
    skip = []  # the clone of a final Softmax layer: passed through, so the output is logits

    def clone(layer):
        if isinstance(layer, keras.Model):
            return layer  # flattened by ``call`` below
        config = layer.get_config()
        if layer is output_layer and _activation_name(layer) == "softmax":
            config["activation"] = "linear"
        new = layer.__class__.from_config(config)
        copies.append((layer, new))
        if layer is output_layer and _is_softmax_layer(layer):
            skip.append(new)
        return new

    def call(layer, *args, **kwargs):
        if isinstance(layer, keras.Model):
            return _apply(layer, args[0])
        if any(layer is s for s in skip):
            return args[0]
        return layer(*args, **kwargs)

    def _apply(sub, tensor):
        if isinstance(sub, keras.Sequential):
            for layer in sub.layers:
                tensor = call(clone(layer), tensor)
            return tensor
        holder = {}

        def record(layer, *args, **kwargs):
            holder["out"] = out = call(layer, *args, **kwargs)
            return out

        keras.models.clone_model(sub, input_tensors=tensor, clone_function=clone, call_function=record)
        return holder["out"]

    logits = _apply(model, x)
    for old, new in copies:
        if old.weights:
            new.set_weights(old.get_weights())
    return logits


def _last_4d_layer(model: keras.Model) -> str:
    skip = {"resize_to", "input_scale", "preprocess", "pixels"}
    for layer in reversed(model.layers):
        if layer.name in skip:
            continue
        try:
            if len(layer.output.shape) == 4:
                return layer.name
        except (AttributeError, ValueError):
            continue
    raise ValueError(f"model {model.name!r} has no layer with a 4-D output to use as feature_layer")
