"""Bring your own Keras model: wrap it as a Classifier.

The user's graph is rebuilt flat on top of ``ResizeTo`` and preprocessing
layers (cloned layers, weights copied), so every layer, the feature layer
included, is reachable by name from the raw-pixel input; tf-keras-vis and
layer surgery need that. A final softmax is split off so attacks see logits.

Keras-2-era files load with list-shaped inputs and outputs (``model.input``
is ``[tensor]``); nested models (functional in Sequential and the reverse)
are flattened the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras

from .classifier import Classifier
from .layers import PREPROCESSING_MODES, PixelPreprocessing, ResizeTo, Standardize
from .options import MeanStd, parse_preprocess, range_scale

Preprocess = str | MeanStd | keras.layers.Layer | Callable | None


def from_keras(
    model: keras.Model,
    *,
    class_names: Sequence[str] | None = None,
    preprocess: Preprocess = None,
    input_range: str | None = None,
    input_scale: float = 1.0,
    input_size: tuple[int, int] | None = None,
    input_shape: tuple[int | None, int | None, int] | None = None,
    feature_layer: str | None = None,
    name: str | None = None,
    weights_source: str = "user model",
) -> Classifier:
    """Wraps a Keras image classifier (Sequential or functional) as a Classifier.

    Pixels go ``[0, 1] -> resize -> x input_range -> preprocess -> model``.

    Args:
        model: single-input image model, channels last, 1 or 3 channels,
            output softmax probabilities or logits. Single-element list
            inputs/outputs (Keras 2 files) and nested models are fine.
        class_names: one per output; defaults to ``class_0`` ...
        preprocess: what the model expects done to its (scaled) input: a
            mode name (``none``; ``caffe``, ``tf``, ``torch``, which are
            ``keras.applications``' ``preprocess_input`` for 0-255 images
            and so fix the range themselves), ``"mean=R,G,B std=R,G,B"``
            text or a ``MeanStd`` (in the units of ``input_range``), a Keras
            layer, or a function of a tensor (wrapped in a Lambda layer).
        input_range: ``"0-1"`` (default) or ``"0-255"``: the pixel range
            the model expects before ``preprocess``.
        input_scale: the same as a number (255 is ``input_range="0-255"``).
        input_size: (height, width) the model runs at; read from the model
            when its input shape is fixed.
        input_shape: (height, width, channels) for a model without an input
            shape yet (a Sequential made without ``keras.Input``); a copy is
            built on it, the user's model is left unbuilt.
        feature_layer: name of the 4-D layer CAM/Grad-CAM read; defaults to
            the last layer with a 4-D output.
        name: short name; defaults to ``model.name``.
        weights_source: where the weights came from, for reports.

    Returns:
        A Classifier; the original model is not changed (weights are copied).

    Raises:
        ValueError: not a single-input image model, unbuilt without
            ``input_shape``, or a bad option (the message names it).
    """
    model = _with_input(model, input_shape)
    in_shape = image_input_shape(model)
    size = input_size or in_shape[1:3]
    if size[0] is None or size[1] is None:
        raise ValueError(
            f"model takes images of any size; give input_size=(height, width). Received: input shape {in_shape}"
        )
    channels = in_shape[-1]
    raw, x = pixel_front(channels, size, preprocess=preprocess, input_range=input_range, input_scale=input_scale)
    logits = _rebuild(model, x, _output_layer(model))
    flat = keras.Model(raw, logits, name=f"{model.name}_classifier")

    if feature_layer is None:
        feature_layer = _last_4d_layer(flat)
    return Classifier(
        flat,
        class_names=class_names,
        input_size=tuple(size),
        feature_layer=feature_layer,
        name=name or model.name,
        weights_source=weights_source,
        channels=channels,
    )


def image_input_shape(model: keras.Model) -> tuple:
    """The (N, H, W, C) input shape of a one-input, one-output image model; ValueError otherwise."""
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
    return in_shape


def pixel_front(channels: int, size, *, preprocess: Preprocess = None, input_range: str | None = None,
                input_scale: float = 1.0):
    """The shared front of every wrapped model: ``(raw input, tensor the network takes)``.

    ``raw`` is (N, any, any, channels) pixels in [0, 1]; the tensor is
    resized to ``size``, scaled to the input range and preprocessed.
    """
    if isinstance(preprocess, str):
        preprocess = parse_preprocess(preprocess)
    scale = _scale(preprocess, input_range, input_scale)
    raw = keras.Input((None, None, channels), name="pixels")
    x = ResizeTo(*size, name="resize_to")(raw)
    if scale != 1.0:
        x = keras.layers.Rescaling(scale, name="input_scale")(x)
    return raw, _preprocessing_layer(preprocess, channels)(x)


def _scale(preprocess, input_range, input_scale) -> float:
    from_range = range_scale(input_range)
    input_scale = float(input_scale)
    if from_range is not None and input_scale not in (1.0, from_range):
        raise ValueError(f"input_range={input_range!r} and input_scale={input_scale:g} disagree; give one. "
                         f"Received: input_scale={input_scale:g}")
    if isinstance(preprocess, str) and preprocess != "none":
        # keras.applications modes start from 0-255 images and scale themselves.
        if from_range == 1.0 or input_scale != 1.0:
            bad = f"input_range={input_range!r}" if from_range == 1.0 else f"input_scale={input_scale:g}"
            raise ValueError(
                f"preprocess={preprocess!r} is keras.applications' preprocess_input on 0-255 images and sets the "
                f"pixel range itself; for another scaling use preprocess='mean=R,G,B std=R,G,B' with "
                f"input_range. Received: {bad}")
        return 1.0
    return from_range if from_range is not None else input_scale


def _preprocessing_layer(preprocess, channels: int) -> keras.layers.Layer:
    if preprocess is None or isinstance(preprocess, str):
        return PixelPreprocessing(preprocess or "none", name="preprocess")
    if isinstance(preprocess, MeanStd):
        for key, values in (("mean", preprocess.mean), ("std", preprocess.std)):
            if len(values) not in (1, channels):
                count = "1 value" if channels == 1 else f"1 or {channels} values"
                raise ValueError(f"preprocess {key} needs {count} for a {channels}-channel model. "
                                 f"Received: {key}={values}")
        return Standardize(preprocess.mean, preprocess.std, name="preprocess")
    if isinstance(preprocess, keras.layers.Layer):
        return preprocess
    if callable(preprocess):
        return keras.layers.Lambda(preprocess, name="preprocess")
    raise ValueError(f"preprocess must be one of {PREPROCESSING_MODES}, 'mean=R,G,B std=R,G,B', a keras layer or "
                     f"a function. Received: preprocess={preprocess!r}")


def _with_input(model, input_shape):
    """``model`` with a defined input: as it is, or a built copy of an unbuilt Sequential."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model. Received: model={type(model).__name__}")
    if input_shape is not None:
        shape = tuple(input_shape)
        if len(shape) != 3 or shape[-1] not in (1, 3) or any(d is not None and int(d) < 1 for d in shape):
            raise ValueError(f"input_shape must be (height, width, channels) with 1 or 3 channels. "
                             f"Received: input_shape={input_shape!r}")
    try:
        inputs = model.inputs
    except AttributeError:
        inputs = None
    if inputs:
        if input_shape is not None:
            have = tuple(model.inputs[0].shape)[1:]
            if len(have) != 3 or any(h is not None and h != w for h, w in zip(have, input_shape)):
                raise ValueError(f"input_shape does not match the model's input {have}. "
                                 f"Received: input_shape={tuple(input_shape)}")
        return model
    if input_shape is None:
        raise ValueError(
            f"model {model.name!r} has no input shape yet (a Sequential model made without keras.Input, "
            f"never called): build it first with model.build((None, height, width, channels)) or pass "
            f"input_shape=(height, width, channels). Received: input_shape=None")
    if not isinstance(model, keras.Sequential):
        raise ValueError(f"model {model.name!r} has no layer graph (a subclassed model): call it on keras.Input "
                         f"inside a functional model first. Received: model={type(model).__name__}")
    copy = keras.models.clone_model(model)
    copy.build((None, *input_shape))
    for old, new in zip(model.layers, copy.layers):
        if old.weights:  # layers the user had built keep their weights
            new.set_weights(old.get_weights())
    return copy


def _single(x):
    """A tensor, unwrapped from the one-element lists Keras 2 files produce."""
    while isinstance(x, (list, tuple)) and len(x) == 1:
        x = x[0]
    return x


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
            return _single(args[0])
        return layer(*args, **kwargs)

    def _apply(sub, tensor):
        tensor = _single(tensor)
        if isinstance(sub, keras.Sequential):
            for layer in sub.layers:
                tensor = call(clone(layer), tensor)
            return _single(tensor)
        # Keras 2 files give ``model.input == [tensor]``: match that structure.
        inputs = keras.tree.map_structure(lambda _: tensor, sub.input)
        last = []

        def record(layer, *args, **kwargs):
            # Nodes run in topological order, so the last call makes the (single) output. The
            # model clone_model returns is not used: its tensors are copies off this graph.
            last[:] = [_single(call(layer, *args, **kwargs))]
            return last[0]

        keras.models.clone_model(sub, input_tensors=inputs, clone_function=clone, call_function=record)
        return last[0]

    logits = _apply(model, x)
    for old, new in copies:
        if old.weights:
            new.set_weights(old.get_weights())
    return logits


def _last_4d_layer(model: keras.Model) -> str | None:
    """The last layer with 4-D output, preferring maps larger than 1x1 (a final 8x8 pooling is no CAM layer)."""
    skip = {"resize_to", "input_scale", "preprocess", "pixels"}
    shapes = [(layer.name, _output_shape(layer)) for layer in model.layers if layer.name not in skip]
    four_d = [(n, s) for n, s in shapes if s is not None and len(s) == 4]
    if not four_d:
        return None  # an MLP on pixels: attacks work, the classifier refuses interpreters
    spatial = [n for n, s in four_d if (s[1] or 2) * (s[2] or 2) > 1]
    return (spatial or [n for n, _ in four_d])[-1]


def _output_shape(layer):
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return None
