"""models.load(path, preprocess=, class_names=, input_range=) and the text options behind them."""

import json

import keras
import numpy as np
import pytest

from keras_advinterp import models
from keras_advinterp.models import MeanStd, parse_preprocess, read_class_names

from .user_models import dense_softmax, trained_looking

applications_preprocess = keras.applications.imagenet_utils.preprocess_input


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    model = trained_looking(dense_softmax())
    path = tmp_path_factory.mktemp("options") / "user.keras"
    model.save(path)
    return str(path), model


@pytest.fixture(scope="module")
def pixels():
    return np.random.default_rng(3).random((3, 14, 14, 3), dtype=np.float32)


MEAN, STD = np.array([0.49, 0.48, 0.45]), np.array([0.25, 0.24, 0.26])

# load options -> what the user's own pipeline did to [0, 1] pixels before model.predict
PIPELINES = [
    ({}, lambda x: x),
    ({"input_range": "0-255"}, lambda x: x * 255),
    ({"preprocess": "caffe"}, lambda x: applications_preprocess(x * 255, mode="caffe")),
    ({"preprocess": "tf", "input_range": "0-255"}, lambda x: applications_preprocess(x * 255, mode="tf")),
    ({"preprocess": "torch"}, lambda x: applications_preprocess(x * 255, mode="torch")),
    ({"preprocess": "mean=0.49,0.48,0.45 std=0.25,0.24,0.26"}, lambda x: (x - MEAN) / STD),
    ({"preprocess": "mean=125, 122, 114 std=63", "input_range": "0-255"},
     lambda x: (x * 255 - np.array([125, 122, 114])) / 63),
    ({"preprocess": MeanStd((0.5,), (0.5,))}, lambda x: x * 2 - 1),
    ({"preprocess": lambda t: t * 2.0 - 1.0}, lambda x: x * 2 - 1),
    ({"preprocess": keras.applications.resnet50.preprocess_input, "input_range": "0-255"},
     lambda x: applications_preprocess(x * 255, mode="caffe")),
]


def _option_id(options: dict) -> str:
    """A test id that is the same in every process (no function addresses: pytest-xdist compares ids)."""
    return ", ".join(f"{k}={getattr(v, '__name__', v)}" for k, v in options.items())


@pytest.mark.parametrize("options, pipeline", PIPELINES, ids=[_option_id(o) for o, _ in PIPELINES])
def test_load_applies_preprocessing_like_the_users_pipeline(model_file, pixels, options, pipeline):
    path, model = model_file
    clf = models.load(path, **options)
    expected = model.predict(pipeline(pixels.astype(np.float64)).astype(np.float32), verbose=0)
    np.testing.assert_allclose(keras.ops.softmax(clf.predict(pixels)).numpy(), expected, atol=2e-5)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("torch", "torch"),
        (" Caffe ", "caffe"),
        ("mean=0.5,0.4,0.3 std=0.2,0.2,0.2", MeanStd((0.5, 0.4, 0.3), (0.2, 0.2, 0.2))),
        ("std=2 mean=1", MeanStd((1.0,), (2.0,))),
        ("mean = 0.5, 0.4, 0.3", MeanStd((0.5, 0.4, 0.3), (1.0,))),
        ("std=0.5", MeanStd((0.0,), (0.5,))),
    ],
)
def test_parse_preprocess(text, expected):
    assert parse_preprocess(text) == expected


@pytest.mark.parametrize(
    "text, match",
    [
        ("yolo", "preprocess must be one of"),
        ("mean=0.5 scale=2", "'scale' is not 'mean' or 'std'"),
        ("mean=0.5,0.4", "mean has 2 values"),
        ("mean=0.5,a,0.3", "not a number: '0.5,a,0.3'"),
        ("mean=1 mean=2", "'mean' is given twice"),
        ("std=0.2,0,0.2", "std values must be positive"),
        ("mean=", "mean has 0 values"),
        ("x mean=1", "preprocess must be one of"),
    ],
)
def test_parse_preprocess_errors_name_the_problem(text, match):
    with pytest.raises(ValueError, match=match) as info:
        parse_preprocess(text)
    assert str(info.value).endswith(f"Received: preprocess={text!r}")


@pytest.mark.parametrize(
    "options, match",
    [
        ({"preprocess": "caffe", "input_range": "0-1"}, "sets the pixel range itself"),
        ({"input_range": "0-100"}, r"input_range must be one of \['0-1', '0-255'\]"),
        ({"preprocess": "mean=0.5,0.5"}, "mean has 2 values"),
        ({"class_names": ["a", "b"]}, "class_names has 2 names but the model has 4 outputs"),
        ({"feature_layer": "nope"}, "feature_layer 'nope' is not a layer"),
    ],
)
def test_load_option_errors(model_file, options, match):
    with pytest.raises(ValueError, match=match):
        models.load(model_file[0], **options)


def test_mean_std_must_fit_the_channels():
    grey = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3), keras.layers.GlobalAveragePooling2D()])
    with pytest.raises(ValueError, match="mean needs 1 value for a 1-channel model"):
        models.from_keras(grey, preprocess="mean=0.1,0.2,0.3")


def test_named_models_reject_file_options_and_files_reject_weights(model_file):
    with pytest.raises(ValueError, match=r"'shapes' brings its own.*Received: preprocess='caffe'"):
        models.load("shapes", preprocess="caffe")
    with pytest.raises(ValueError, match="a model file brings its own weights"):
        models.load(model_file[0], weights=None)
    with pytest.raises(ValueError, match=r"unknown model 'resnet51'.*or a path to a \.keras / \.h5"):
        models.load("resnet51")


@pytest.mark.parametrize(
    "content, name, expected",
    [
        ('["cat", "dog", "ship", "truck"]', "names.json", ["cat", "dog", "ship", "truck"]),
        ("cat\n\n dog \nship\ntruck\n\n", "names.txt", ["cat", "dog", "ship", "truck"]),
        ('[\n "a b", "c"\n]', "names.txt", ["a b", "c"]),
    ],
)
def test_read_class_names(tmp_path, content, name, expected):
    path = tmp_path / name
    path.write_text(content)
    assert read_class_names(path) == expected


@pytest.mark.parametrize(
    "content, match",
    [
        ('{"0": "cat"}', "must hold a JSON list of non-empty strings"),
        ('["cat", ""]', "must hold a JSON list of non-empty strings"),
        ('["cat", ', "is not valid JSON"),
        ("\n \n", "holds no names"),
    ],
)
def test_read_class_names_errors_name_the_file(tmp_path, content, match):
    path = tmp_path / "names.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        read_class_names(path)
    assert str(path) in str(info.value)
    with pytest.raises(FileNotFoundError, match="class names file does not exist"):
        read_class_names(tmp_path / "missing.txt")


def test_load_with_options_takes_cli_strings(model_file, pixels, tmp_path):
    path, model = model_file
    names = tmp_path / "classes.txt"
    names.write_text("airplane\ncar\n\nbird\ncat\n")
    clf = models.load_with_options(path, preprocess="mean=0.5 std=0.25", classes=str(names), input_range="0-1")
    assert clf.class_names == ["airplane", "car", "bird", "cat"]
    expected = model.predict((pixels - 0.5) / 0.25, verbose=0)
    np.testing.assert_allclose(keras.ops.softmax(clf.predict(pixels)).numpy(), expected, atol=2e-5)
    (tmp_path / "three.json").write_text(json.dumps(["a", "b", "c"]))
    with pytest.raises(ValueError, match=r"three.json' has 3 names but the model has 4 outputs"):
        models.load_with_options(path, classes=str(tmp_path / "three.json"))
    with pytest.raises(ValueError, match="preprocess must be one of"):
        models.load_with_options(path, preprocess="nonsense")  # before any model loads
