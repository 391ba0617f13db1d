"""Files Keras 3 cannot load give one ModelFileError: the file, Keras's error in one line, what to do."""

import json
import re

import h5py
import keras
import numpy as np
import pytest

from keras_advinterp import models
from keras_advinterp.models import ModelFileError

from .user_models import dense_softmax, save_keras2_h5

RESAVE = r"Re-save it with the Keras that made it as \.keras .*or load it yourself and call .*from_keras\(model\)"
WEIGHTS_ONLY = r"weights only, no model architecture\. Build the model in code, call model\.load_weights"
NOT_A_MODEL = "neither a .keras .zip. nor an HDF5 file"


def _old_merge_layer(path):
    """A Keras 2 .h5 whose config names a layer class Keras 3 no longer has (Keras 1's Merge)."""
    save_keras2_h5(dense_softmax(), path)
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        layer = config["config"]["layers"][2]
        layer["class_name"], layer["config"] = "Merge", {"name": layer["config"]["name"], "mode": "sum"}
        f.attrs["model_config"] = json.dumps(config)
    return path


def _lambda_layer(path):
    inp = keras.Input((8, 8, 3))
    out = keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.Lambda(lambda t: t * 2.0)(inp)))
    return save_keras2_h5(keras.Model(inp, out), path)


def _random_bytes(path):
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    return path


def _weights_h5(path):
    dense_softmax().save_weights(path)
    return path


def _config_removed(path):
    """A Keras 2 ``save_weights('w.h5')`` file: HDF5 with layer weights and no model config."""
    save_keras2_h5(dense_softmax(), path)
    with h5py.File(path, "r+") as f:
        del f.attrs["model_config"]
    return path


def _lfs_pointer(path):
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 3591584\n")
    return path


def _vector_model(path):
    inp = keras.Input((10,))
    keras.Model(inp, keras.layers.Dense(3)(inp)).save(path)
    return path


CASES = [
    ("old.h5", _old_merge_layer, r"Keras 3 cannot rebuild the model in it\. Keras 3\.\d+\.\d+ says: \w+Error: .*Merge",
     RESAVE),
    ("lambda.h5", _lambda_layer, r"will not rebuild its Lambda layer.* says: ValueError: Requested the deserial",
     r"load_model\(path, safe_mode=False\)"),
    ("random.h5", _random_bytes, NOT_A_MODEL + r".* says: OSError", "Check that the file is complete"),
    ("random.keras", _random_bytes, NOT_A_MODEL, "Check that the file is complete"),
    ("model.weights.h5", _weights_h5, WEIGHTS_ONLY, r"then keras_advinterp\.models\.from_keras\(model\)"),
    ("keras2_weights.h5", _config_removed, WEIGHTS_ONLY, "load_weights"),
    ("pointer.h5", _lfs_pointer, "Git LFS pointer, not the model", r"git lfs pull"),
    ("vectors.keras", _vector_model, r"not a single-input image classifier \(model input must be \(N, H, W, C\)",
     "wraps models from images"),
]


@pytest.mark.parametrize("name, make, problem, advice", CASES, ids=[c[0] for c in CASES])
def test_unloadable_files_raise_one_clear_error(tmp_path, name, make, problem, advice):
    path = str(make(tmp_path / name))
    with pytest.raises(ModelFileError) as info:
        models.load(path)
    message = str(info.value)
    assert message.startswith(f"cannot load a model from {path!r}: ")
    assert "\n" not in message and len(message) < 800  # printable as one line, no traceback needed
    assert info.value.path == path
    assert isinstance(info.value, ValueError)
    assert re.search(problem, message), message
    assert re.search(advice, message), message


def test_keras_error_is_cut_to_one_line(tmp_path):
    path = str(_lambda_layer(tmp_path / "lambda.h5"))
    with pytest.raises(ModelFileError) as info:
        models.load_file(path)
    assert info.value.keras_error.startswith("ValueError: Requested the deserialization of a `Lambda` layer")
    assert len(info.value.keras_error) <= 240 and "\n" not in info.value.keras_error


@pytest.mark.parametrize(
    "path, match",
    [
        ("/no/such/model.h5", "there is no such file or folder"),
        ("missing.keras", "there is no such file or folder"),
    ],
)
def test_missing_paths(path, match):
    with pytest.raises(ModelFileError, match=match):
        models.load(path)


def test_a_file_without_a_model_suffix_is_told_to_rename(tmp_path):
    path = tmp_path / "model.bin"
    dense_softmax().save(tmp_path / "model.keras")
    path.write_bytes((tmp_path / "model.keras").read_bytes())
    with pytest.raises(ModelFileError, match=r"ending in \.keras, \.h5, \.hdf5\. Rename the file"):
        models.load(path)
