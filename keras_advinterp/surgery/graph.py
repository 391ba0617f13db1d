"""Finding layers by name and re-running a model's graph: what capture, masking and scaling share.

Layers are addressed by their Keras name (``conv1_conv``,
``conv2_block1_1_conv``), never by index. Layers inside nested models
(a functional or Sequential model used as a layer) are found too: their
graph is inlined into one flat model (``rebuild``), which needs every layer
name to be unique across the nesting and every nested functional model to
have a single output. Models from ``models.load`` and ``from_keras`` are
already flat.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator

import keras
import numpy as np

from ..models import Classifier

CONV_TYPES = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


def as_model(clf, *, allow_model: bool = False) -> keras.Model:
    """The Keras model of a Classifier (or, if ``allow_model``, a keras.Model itself).

    Raises NoFeatureLayerError for a classifier without 4-D layers (a SavedModel graph, an MLP).
    """
    if isinstance(clf, Classifier):
        clf.feature_layer  # noqa: B018 -- the property raises NoFeatureLayerError
        return clf.model
    if allow_model and isinstance(clf, keras.Model):
        return clf
    kind = "Classifier or a keras.Model" if allow_model else "Classifier"
    raise ValueError(f"expected a keras_advinterp {kind}. Received: {type(clf).__name__}")


def walk(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """Every layer of ``model`` in graph order, nested models opened (the models themselves left out)."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from walk(layer)
        else:
            yield layer


def feature_layers(clf) -> list[str]:
    """Names of the layers with a 4-D output (N, h, w, k) of a Classifier or keras.Model, input excluded.

    In graph order, nested models opened: the layers ``mask_channels`` and ``capture`` take.
    """
    return [layer.name for layer in walk(as_model(clf, allow_model=True))
            if not isinstance(layer, keras.layers.InputLayer) and _rank(layer) == 4]


def conv_layers(clf) -> list[str]:
    """Names of the Conv2D, DepthwiseConv2D and SeparableConv2D layers of a Classifier or keras.Model.

    In graph order, nested models opened: the layers ``scale_filters`` takes.
    """
    return [layer.name for layer in walk(as_model(clf, allow_model=True)) if isinstance(layer, CONV_TYPES)]


def find_layer(model: keras.Model, name, *, conv: bool = False, arg: str = "layer") -> keras.layers.Layer:
    """The layer called ``name`` (4-D output; a conv layer if ``conv``), else ValueError naming valid ones."""
    valid = conv_layers(model) if conv else feature_layers(model)
    if not isinstance(name, str) or name not in valid:
        kind = "conv layer (Conv2D, DepthwiseConv2D or SeparableConv2D)" if conv else \
            "layer with 4-D feature maps (N, h, w, k)"
        raise ValueError(f"{arg} must name a {kind} of model {model.name!r}; {_listing(valid, name)}. "
                         f"Received: {arg}={name!r}")
    return next(layer for layer in walk(model) if layer.name == name)


def _listing(valid: list[str], name) -> str:
    close = difflib.get_close_matches(str(name), valid, n=3, cutoff=0.6)
    hint = f"closest: {close}; " if close else ""
    if len(valid) <= 60:
        return f"{hint}valid names ({len(valid)}): {valid}"
    return (f"{hint}{len(valid)} valid names, from {valid[:3]} to {valid[-3:]} "
            f"(surgery.conv_layers(clf) / surgery.feature_layers(clf) list them all)")


def flat_name(model: keras.Model, flat: keras.Model, name: str) -> str:
    """What layer ``name`` of ``model`` is called in its flat rebuild: itself, or for a nested
    model that was inlined, the layer that made its output."""
    names = {layer.name for layer in flat.layers}
    layer = model.get_layer(name)
    while name not in names and isinstance(layer, keras.Model):
        out = layer.outputs[0]
        layer = next((inner for inner in reversed(layer.layers) if inner.output is out), layer.layers[-1])
        name = layer.name
    return name


def num_channels(layer) -> int:
    """The channel count k of a layer's (N, h, w, k) output."""
    return int(layer.output.shape[-1])


def check_channels(channels, count: int, *, layer: str, arg: str = "channels") -> tuple[int, ...]:
    """``channels`` (an int or a sequence of ints in [0, count)) as a sorted tuple without repeats."""
    values = np.atleast_1d(np.asarray(channels, dtype=object))
    ok = values.ndim == 1 and len(values) > 0 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values)
    if not ok:
        raise ValueError(f"{arg} must be a channel index or a non-empty list of them (integers in [0, {count}) for "
                         f"layer {layer!r}). Received: {arg}={channels!r}")
    bad = [int(v) for v in values if not 0 <= v < count]
    if bad:
        raise ValueError(f"{arg} of layer {layer!r} must be in [0, {count - 1}] (it has {count} channels). "
                         f"Received: {arg}={bad if len(bad) > 1 else bad[0]}")
    return tuple(sorted({int(v) for v in values}))


def is_flat(model: keras.Model) -> bool:
    return not any(isinstance(layer, keras.Model) for layer in model.layers)


def rebuild(model: keras.Model, *, copy: bool, after: Callable | None = None, rename: dict | None = None):
    """Re-runs ``model``'s graph on a new input, nested models inlined into one flat graph.

    Args:
        copy: give every layer a fresh copy with the original's weights (a new
            model that shares nothing); False calls the original layers (to
            read their outputs; nothing is changed).
        after: ``after(layer_name, output) -> output`` applied to each layer
            call's output before any consumer sees it (inserting a layer);
            ``layer_name`` is the original name.
        rename: ``{old name: new name}`` for copied layers (``copy`` only).

    Returns:
        ``(flat_model, outputs)``: the new model (same input and output) and
        ``{layer name: output tensor in its graph}`` (``after`` applied; a
        layer called more than once: its first call).
    """
    copies, outputs, original, renamed = {}, {}, {}, rename or {}

    def clone(layer):
        if isinstance(layer, keras.Model):
            return layer  # inlined by ``call``
        if id(layer) not in copies:  # one copy per layer, so shared layers stay shared
            new = layer.__class__.from_config(_fast_config(layer, renamed.get(layer.name, layer.name))) \
                if copy else layer
            copies[id(layer)] = (layer, new)
            original[id(new)] = layer.name
        return copies[id(layer)][1]

    def call(layer, *args, **kwargs):
        if isinstance(layer, keras.Sequential):
            tensor = args[0]
            for inner in layer.layers:
                tensor = call(clone(inner), tensor)
            return tensor
        if isinstance(layer, keras.Model):
            return inline(layer, args[0])
        out = layer(*args, **kwargs)
        name = original.get(id(layer), layer.name)
        if after is not None:
            out = after(name, out)
        outputs.setdefault(name, out)  # a shared layer is read at its first call, as ``layer.output`` is
        return out

    def inline(sub, tensors):
        """``(output tensor, the clone clone_model built)`` of nested model ``sub`` run on ``tensors``."""
        if isinstance(sub, keras.Sequential):  # clone_model takes no call_function for these
            return call(sub, tensors), None
        if len(sub.outputs) != 1:
            raise ValueError(f"layer surgery opens nested models with one output only; nested model {sub.name!r} "
                             f"has {len(sub.outputs)}. Received: model={model.name!r}")
        last = []

        def record(layer, *args, **kwargs):
            # Nodes run in topological order and every node feeds the single output, so the last call
            # makes it. A nested clone is not on the outer graph (its inputs are not keras.Input), so
            # its output is read here rather than from the model clone_model returns.
            last[:] = [call(layer, *args, **kwargs)]
            return last[0]

        clone_ = keras.models.clone_model(sub, input_tensors=keras.tree.map_structure(lambda _: tensors, sub.input),
                                          clone_function=clone, call_function=record)
        return last[0], clone_

    if len(model.inputs) != 1:
        raise ValueError(f"layer surgery takes one-input models. Received: {len(model.inputs)} inputs")
    source = next((layer.name for layer in model.layers if isinstance(layer, keras.layers.InputLayer)), None)
    inputs = keras.Input(batch_shape=model.inputs[0].shape, dtype=model.inputs[0].dtype, name=source)
    try:
        out, flat = inline(model, inputs)
        flat = flat or keras.Model(inputs, out, name=model.name)  # the top clone is on our graph: reuse it
    except ValueError as e:
        if "is used" in str(e) and "unique" in str(e):
            raise ValueError(f"layer surgery flattens nested models into one graph, which needs unique layer names: "
                             f"{e} Rename the nested model's layers. Received: model={model.name!r}") from e
        raise
    if copy:
        for old, new in copies.values():
            for key, value in old.get_config().items():
                if key.endswith("_initializer") and hasattr(new, key):  # the copy's config as the original's
                    setattr(new, key, keras.initializers.get(value))
            for target, value in zip(new.weights, old.weights, strict=True):
                target.assign(value)  # variable to variable: no trip through numpy
    return flat, outputs


def _fast_config(layer, name: str) -> dict:
    """``layer``'s config under ``name`` with zeros initializers: every weight is overwritten by the
    original's, and drawing VGG16's 138M random weights first took 6 of the 7 seconds of a copy."""
    config = {**layer.get_config(), "name": name}
    return {k: "zeros" if k.endswith("_initializer") and v is not None else v for k, v in config.items()}


def _rank(layer) -> int | None:
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):
        return None
