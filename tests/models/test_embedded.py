"""The embedded models reach the accuracy the README reports.

Reported (training/train_embedded.py, seed 0): see README, "Embedded models".
"""

import numpy as np
import pytest

from keras_advinterp import data, models

# README figures minus a small margin; retraining must keep them.
FLOORS = {"shapes": 0.95, "digits": 0.97}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_embedded_accuracy_on_test_split(name):
    clf = models.load(name)
    x, y = data.load(models.EMBEDDED[name].data, "test")
    acc = float(np.mean(clf.predict(x).argmax(1) == y))
    assert acc >= FLOORS[name], f"{name}: test accuracy {acc:.4f} < {FLOORS[name]}"


def test_embedded_models_are_cam_compatible(shapes_clf, digits_clf):
    for clf in (shapes_clf, digits_clf):
        layers = clf.model.layers
        assert type(layers[-1]).__name__ == "Dense" and type(layers[-2]).__name__ == "GlobalAveragePooling2D"
        assert clf.feature_layer == "features"
    assert shapes_clf.channels == 3 and digits_clf.channels == 1


def test_classifier_top_k_and_errors(shapes_clf, shapes_data):
    idx, p = shapes_clf.top_k(shapes_data.x[:4], k=3)
    assert idx.shape == p.shape == (4, 3)
    assert np.all(np.diff(p, axis=1) <= 0) and np.all(p <= 1)
    with pytest.raises(ValueError, match="k must be <= the number of classes"):
        shapes_clf.top_k(shapes_data.x[:1], k=7)
