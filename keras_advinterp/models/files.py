"""Whole-model files and SavedModel folders as Classifiers.

``load_file(path)`` reads a ``.keras`` file or a Keras-3-readable ``.h5``
(Keras 2 files included) with ``keras.models.load_model`` and wraps it with
``from_keras``; a SavedModel folder (``model.export(dir)``,
``tf.saved_model.save``) is called through ``keras.layers.TFSMLayer``.

A SavedModel graph has no Keras layers to read, so its Classifier has no
feature layer: predictions and every attack work (gradients flow through the
graph), CAM / Grad-CAM / the other interpreters and layer surgery raise
``NoFeatureLayerError``. Its output is taken as logits, or as log
probabilities when it is a softmax (``output="auto"`` checks on random
images), since a softmax inside a graph cannot be split off.

Anything Keras 3 cannot load raises one ``ModelFileError`` that names the
file, gives Keras's error in one line and says what to do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import h5py
import keras
import numpy as np

from .classifier import Classifier
from .layers import LogProbabilities
from .wrap import Preprocess, from_keras, image_input_shape, pixel_front

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_RESAVE = ("Re-save it with the Keras that made it as .keras (model.save('model.keras')), or load it yourself and "
           "call keras_advinterp.models.from_keras(model).")


class ModelFileError(ValueError):
    """A model file or folder that cannot be loaded; the message names it and says what to do.

    Attributes:
        path: the file or folder.
        keras_error: the underlying error in one line (``Type: message``), or ``""``.
    """

    def __init__(self, path, problem: str, advice: str = _RESAVE, keras_error: str = ""):
        self.path, self.keras_error = str(path), keras_error
        end = "" if keras_error.endswith("...") else "."
        detail = f" Keras {keras.__version__} says: {keras_error}{end}" if keras_error else ""
        super().__init__(f"cannot load a model from {self.path!r}: {problem}.{detail} {advice}")


def is_model_path(name) -> bool:
    """Whether ``name`` means a file or folder rather than a model name."""
    text = os.fspath(name)
    return (isinstance(name, os.PathLike) or os.path.exists(text) or text.lower().endswith(MODEL_SUFFIXES)
            or "/" in text or os.sep in text)


def load_file(
    path,
    *,
    preprocess: Preprocess = None,
    class_names: Sequence[str] | None = None,
    input_range: str | None = None,
    input_size: tuple[int, int] | None = None,
    feature_layer: str | None = None,
    output: str = "auto",
) -> Classifier:
    """A Classifier from a ``.keras`` / ``.h5`` model file or a SavedModel folder.

    Args:
        path: the file or folder (a ``saved_model.pb`` path means its folder).
        preprocess, class_names, input_range, input_size, feature_layer: as
            for ``from_keras`` (``feature_layer`` cannot be given for a
            SavedModel, which has none).
        output: SavedModel only: ``"logits"``, ``"probabilities"`` (taken
            through ``log``) or ``"auto"`` (probabilities if every row of
            its output on random images is non-negative and sums to 1).

    Raises:
        ModelFileError: missing, unreadable, weights-only, or a model Keras
            3 cannot rebuild.
        ValueError: bad options (the message names them).
    """
    path = Path(os.fspath(path))
    if path.name == "saved_model.pb":
        path = path.parent
    if not path.exists():
        raise ModelFileError(path, "there is no such file or folder", "Check the path.")
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise ModelFileError(path, "the folder holds no saved_model.pb, so it is not a SavedModel",
                                 "Give a .keras or .h5 file, or a folder written by model.export(dir).")
        if feature_layer is not None:
            raise ValueError(f"a SavedModel has no Keras layers to pick a feature layer from. "
                             f"Received: feature_layer={feature_layer!r}")
        return from_saved_model(path, preprocess=preprocess, class_names=class_names, input_range=input_range,
                                input_size=input_size, output=output)
    model = _load_keras_file(path)
    try:
        image_input_shape(model)
    except ValueError as e:
        raise ModelFileError(path, f"the model is not a single-input image classifier ({e})",
                             "keras_advinterp wraps models from images (N, H, W, 1 or 3) to class scores.") from e
    return from_keras(model, preprocess=preprocess, class_names=class_names, input_range=input_range,
                      input_size=input_size, feature_layer=feature_layer, name=path.stem, weights_source=str(path))


def _load_keras_file(path: Path) -> keras.Model:
    head = _head(path)
    if head.startswith(b"version https://git-lfs"):
        raise ModelFileError(path, "the file is a Git LFS pointer, not the model",
                             "Fetch the real file (git lfs pull) and try again.")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelFileError(path, f"Keras reads model files ending in {', '.join(MODEL_SUFFIXES)}",
                             "Rename the file to its format's suffix (.keras for a zip, .h5 for HDF5).")
    if head.startswith(_HDF5_MAGIC) and _weights_only_h5(path):
        raise ModelFileError(path, "the file holds weights only, no model architecture",
                             "Build the model in code, call model.load_weights(path), then "
                             "keras_advinterp.models.from_keras(model).")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types here; one clear error is what the user needs
        raise ModelFileError(path, *_diagnose(head, e), keras_error=_one_line(e)) from e
    if not isinstance(model, keras.Model):
        raise ModelFileError(path, f"it holds a {type(model).__name__}, not a keras.Model")
    return model


def _diagnose(head: bytes, error: Exception) -> tuple[str, str]:
    """(problem, advice) for a file that ``keras.models.load_model`` refused."""
    if not head.startswith((_HDF5_MAGIC, b"PK\x03\x04")):
        return ("it is neither a .keras (zip) nor an HDF5 file: damaged, cut short or another format",
                "Check that the file is complete and is a Keras model (an HTML error page saved by a failed "
                "download is a common cause).")
    if "Lambda" in str(error):
        return ("Keras 3 will not rebuild its Lambda layer (Python code stored in the file)",
                "If you trust the file, load it yourself with keras.models.load_model(path, safe_mode=False) and "
                "call keras_advinterp.models.from_keras(model); if that fails too (code from another Python "
                "version), build the model in code, load the file's weights, and call from_keras.")
    return "Keras 3 cannot rebuild the model in it", _RESAVE


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(64)


def _weights_only_h5(path: Path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return "model_config" not in f.attrs
    except OSError:
        return False  # a damaged file: load_model reports it


def _one_line(error: Exception, limit: int = 240) -> str:
    """``Type: first sentence of the first line``, at most ``limit`` characters."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    first = re.split(r"(?<=[a-z'`)\]])\. ", lines[0])[0] if lines else ""
    text = f"{type(error).__name__}: {first}".rstrip(": .")
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def from_saved_model(
    path,
    *,
    preprocess: Preprocess = None,
    class_names: Sequence[str] | None = None,
    input_range: str | None = None,
    input_size: tuple[int, int] | None = None,
    output: str = "auto",
) -> Classifier:
    """A SavedModel folder as a Classifier without a feature layer (see the module docstring)."""
    if output not in ("auto", "logits", "probabilities"):
        raise ValueError(f"output must be 'auto', 'logits' or 'probabilities'. Received: output={output!r}")
    path = Path(path)
    graph = _tfsm_layer(path)
    structure, shape = _endpoint_input(graph, path)
    size = input_size or shape[1:3]
    if size[0] is None or size[1] is None:
        raise ValueError(f"the SavedModel takes images of any size; give input_size=(height, width). "
                         f"Received: input shape {shape}")
    raw, x = pixel_front(shape[-1], size, preprocess=preprocess, input_range=input_range)
    outputs = keras.tree.flatten(graph(keras.tree.pack_sequence_as(structure, [x])))
    if len(outputs) != 1:
        raise ModelFileError(path, f"its serving function has {len(outputs)} outputs",
                             "keras_advinterp needs one output of class scores.")
    scores = outputs[0]
    model = keras.Model(raw, scores, name=f"{path.name}_classifier")
    if output == "probabilities" or (output == "auto" and _gives_probabilities(model, shape[-1], size)):
        model = keras.Model(raw, LogProbabilities(name="log_probabilities")(scores), name=model.name)
    return Classifier(model, class_names=class_names, input_size=tuple(size), feature_layer=None,
                      name=path.name, weights_source=f"SavedModel {path}", channels=shape[-1])


def _tfsm_layer(path: Path):
    errors = []
    for endpoint in ("serve", "serving_default"):  # model.export() / tf.saved_model.save()
        try:
            return keras.layers.TFSMLayer(str(path), call_endpoint=endpoint, name="saved_model")
        except Exception as e:  # a missing endpoint, or a folder TensorFlow cannot read
            errors.append(e)
    raise ModelFileError(path, "TensorFlow cannot call it through a 'serve' or 'serving_default' endpoint",
                         "Export the model with model.export(dir), or give its .keras / .h5 file.",
                         keras_error=_one_line(errors[-1])) from errors[-1]


def _endpoint_input(graph, path: Path):
    """(structure of the one argument the endpoint takes, its image shape); Keras 2 models take ``[image]``."""
    fn = graph.call_endpoint_fn
    spec = getattr(fn, "input_signature", None)
    if not spec:
        args, kwargs = fn.structured_input_signature
        spec = list(args) + list(kwargs.values())
    flat = keras.tree.flatten(spec)
    if len(flat) != 1 or len(flat[0].shape) != 4 or flat[0].shape[-1] not in (1, 3):
        raise ModelFileError(path, f"its serving function takes {spec}",
                             "keras_advinterp needs one image input (N, H, W, 1 or 3).")
    return spec[0], tuple(flat[0].shape)


def _gives_probabilities(model: keras.Model, channels: int, size) -> bool:
    x = np.random.default_rng(0).random((4, *size, channels), dtype=np.float32)
    p = keras.ops.convert_to_numpy(model(x, training=False)).astype(np.float64)
    return bool(p.min() >= 0 and np.allclose(p.sum(axis=1), 1.0, atol=1e-4))
