import numpy as np
import pytest

from keras_advinterp import models
from keras_advinterp.models import WeightsUnavailableError, applications

APPS = ["resnet50", "vgg16", "mobilenet", "mobilenet_v2", "densenet169"]


@pytest.mark.parametrize("name", APPS)
def test_application_maps_pixels_to_logits(name, rng):
    clf = models.load(name, weights=None)
    x = rng.random((2, 160, 200, 3), dtype=np.float32)  # any size: resized inside the model
    logits = clf.predict(x)
    assert logits.shape == (2, 1000)
    assert np.all(np.isfinite(logits))
    assert clf.input_size == (224, 224) and clf.num_classes == 1000
    feats, out = clf.feature_model(x)
    assert len(feats.shape) == 4
    np.testing.assert_allclose(out.numpy(), logits, rtol=1e-3, atol=1e-3)
    # logits, not probabilities: rows do not sum to one
    assert not np.allclose(logits.sum(1), 1.0, atol=1e-3)
    assert clf.weights_source.startswith("random")
    assert clf.class_names[281].startswith("tabby")


def test_imagenet_weights_offline_error_names_file_and_place(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(WeightsUnavailableError, match=r"resnet50_weights_tf_dim_ordering_tf_kernels\.h5") as e:
        models.load("resnet50", weights="imagenet")
    assert str(tmp_path / "models") in str(e.value)


def test_failed_download_becomes_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_ADVINTERP_OFFLINE")

    def no_network(*args, **kwargs):
        raise OSError("URL fetch failure: network unreachable")

    monkeypatch.setattr(applications.keras.utils, "get_file", no_network)
    expected = "vgg16_weights_tf_dim_ordering_tf_kernels.h5.*network unreachable"
    with pytest.raises(WeightsUnavailableError, match=expected):
        models.load("vgg16", weights="imagenet")


def test_cached_imagenet_file_is_found_and_loaded(tmp_path, monkeypatch):
    """A file in $KERAS_HOME/models (Keras's legacy .h5 layout, as the ImageNet
    files are) is loaded into the wrapped model without any download."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format  # writes the ImageNet files' format

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    src = models.load("mobilenet", weights=None)
    (tmp_path / "models").mkdir()
    path = tmp_path / "models" / "mobilenet_1_0_224_tf.h5"
    with h5py.File(path, "w") as fh:
        legacy_h5_format.save_weights_to_hdf5_group(fh, src.model)
    clf = models.load("mobilenet", weights="imagenet")
    assert str(path) in clf.weights_source
    x = np.random.default_rng(1).random((1, 224, 224, 3), dtype=np.float32)
    np.testing.assert_allclose(clf.predict(x), src.predict(x), atol=1e-4)


@pytest.mark.parametrize(
    "name, weights, error, match",
    [
        ("resnet51", None, ValueError, "unknown model 'resnet51'"),
        ("shapes", "imagenet", ValueError, "no ImageNet weights"),
        ("resnet50", "embedded", ValueError, "not an embedded model"),
        ("shapes", "/no/such/file.h5", FileNotFoundError, "does not exist"),
        ("vgg16", "/no/such/file.h5", FileNotFoundError, "does not exist"),
    ],
)
def test_load_errors(name, weights, error, match):
    with pytest.raises(error, match=match):
        models.load(name, weights=weights)


def test_available_lists_every_model_with_weight_location():
    table = models.available()
    assert set(APPS) | {"shapes", "digits"} <= set(table)
    assert table["shapes"]["present"] and table["shapes"]["weights"].endswith("shapes.weights.h5")
