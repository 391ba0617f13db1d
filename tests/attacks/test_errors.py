"""Bad input fails before any work, with the value in the message."""

import numpy as np
import pytest

from keras_advinterp import attacks


@pytest.mark.parametrize("params, match", [
    ({"eps": -0.1}, r"eps must be >= 0. Received: eps=-0.1"),
    ({"steps": 0}, r"steps must be > 0. Received: steps=0"),
    ({"steps": 2.5}, r"steps must be an integer"),
    ({"norm": "l3"}, r"norm must be one of \('linf', 'l2', 'l1'\). Received: norm='l3'"),
    ({"step_size": float("nan")}, r"step_size must be > 0"),
    ({"loop": "fast"}, r"loop must be one of"),
    ({"eps": "big"}, r"eps must be a number"),
])
def test_pgd_constructor_rejects(params, match):
    with pytest.raises(ValueError, match=match):
        attacks.PGD(**params)


def test_registry():
    assert isinstance(attacks.get("PGD", eps=0.1), attacks.PGD)
    with pytest.raises(ValueError, match="unknown attack 'deepfoolx'"):
        attacks.get("deepfoolx")
    with pytest.raises(ValueError, match="bad parameters for attack 'fgsm'"):
        attacks.get("fgsm", steps=3)


@pytest.fixture
def good(shapes_data):
    return shapes_data.x[:4].copy(), shapes_data.y[:4].copy()


def _nan(x):
    x[0, 0, 0, 0] = np.nan
    return x


@pytest.mark.parametrize("mutate, match", [
    (lambda x: x * 2.0, r"pixels in \[0, 1\]. Received: x in \[0, 2"),
    (lambda x: x - 0.5, r"pixels in \[0, 1\]"),
    (_nan, "NaN or infinite"),
    (lambda x: x[0, :, :, 0], r"\(N, H, W, C\)"),
    (lambda x: x[..., :1], "must have 3 channel"),
    (lambda x: (x * 255).astype(np.uint8), "not uint8"),
    (lambda x: x[:0], "empty batch"),
])
def test_bad_images_rejected(shapes_clf, good, mutate, match):
    x, y = good
    with pytest.raises(ValueError, match=match):
        attacks.PGD()(shapes_clf, mutate(x), y)


@pytest.mark.parametrize("kwargs, match", [
    ({"y": np.array([0, 1])}, r"one class index per image \(4\)"),
    ({"y": np.array([0, 1, 2, 6])}, r"class indices in \[0, 6\). Received: y in \[0, 6\]"),
    ({"target": 9}, r"target must hold class indices in \[0, 6\)"),
    ({"target": np.array([-1, 0, 0, 0])}, r"target must hold class indices"),
    ({"batch_size": 0}, "batch_size must be > 0"),
])
def test_bad_labels_targets_batch(shapes_clf, good, kwargs, match):
    x, y = good
    call = {"y": y, **kwargs}
    with pytest.raises(ValueError, match=match):
        attacks.PGD()(shapes_clf, x, call.pop("y"), **call)


def test_classifier_required(shapes_data):
    with pytest.raises(ValueError, match="must be a keras_advinterp Classifier"):
        attacks.FGSM()(object(), shapes_data.x[:2], shapes_data.y[:2])


@pytest.mark.parametrize("name", sorted(attacks.REGISTRY))
def test_every_attack_checks_inputs_before_work(shapes_clf, good, name):
    x, y = good
    attack = attacks.get(name)
    built = set(shapes_clf._compiled)
    with pytest.raises(ValueError, match="NaN or infinite"):
        attack(shapes_clf, _nan(x.copy()), y)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        attack(shapes_clf, x[0, :, :, 0], y)
    with pytest.raises(ValueError, match="target must hold class indices|has no targeted mode"):
        attack(shapes_clf, x, y, target=99)
    assert set(shapes_clf._compiled) == built  # nothing was built
