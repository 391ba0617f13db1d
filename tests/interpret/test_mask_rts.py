"""MASK and RTS localise the object better than a centred blob on shapes."""

import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp import interpret
from keras_advinterp.interpret import metrics
from keras_advinterp.interpret.perturbation import gaussian_blur


def _blob_iou(masks):
    h, w = masks.shape[1:]
    yy, xx = np.mgrid[0:h, 0:w]
    blob = np.broadcast_to(-np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2), masks.shape)
    return metrics.mask_iou(blob, masks).mean()


@pytest.fixture(scope="module")
def subset(shapes_correct):
    x, y, masks = shapes_correct
    return x[:32], y[:32], masks[:32]


def test_mask_localises_and_its_region_matters(shapes_clf, subset):
    x, y, masks = subset
    maps = interpret.MASK(shapes_clf, steps=150)(x, y)
    assert maps.shape == x.shape[:3] and 0 <= maps.min() and maps.max() <= 1
    assert metrics.mask_iou(maps, masks).mean() > _blob_iou(masks) + 0.05
    # deleting MASK's top-20% region hurts the class more than deleting a random 20%
    blurred = gaussian_blur(tf.constant(x), 3.2).numpy()
    top = metrics.top_region(maps, 0.2)[..., None]
    rand = metrics.top_region(np.random.default_rng(0).random(maps.shape), 0.2)[..., None]
    p = lambda z: shapes_clf.probabilities(z)[np.arange(len(y)), y]  # noqa: E731
    assert p(np.where(top, blurred, x)).mean() < p(np.where(rand, blurred, x)).mean() - 0.1


def test_rts_localises_with_the_shipped_masker(shapes_clf, subset):
    x, y, masks = subset
    maps = interpret.RTS(shapes_clf)(x, y)
    assert maps.shape == x.shape[:3] and 0 <= maps.min() and maps.max() <= 1
    assert metrics.mask_iou(maps, masks).mean() > _blob_iou(masks) + 0.05


def test_rts_without_a_masker_says_how_to_train_one(digits_clf):
    with pytest.raises(FileNotFoundError, match="train_rts.py --model digits"):
        interpret.RTS(digits_clf)


def test_train_rts_runs_on_a_few_images(digits_clf, digits_data):
    masker = interpret.train_rts(digits_clf, digits_data.x[:32], digits_data.y[:32], epochs=1, batch_size=16,
                                 progress=False)
    maps = interpret.RTS(digits_clf, weights=masker)(digits_data.x[:4], digits_data.y[:4])
    assert maps.shape == (4, 32, 32) and np.all(np.isfinite(maps))


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 0}, "steps must be > 0"),
    ({"mask_scale": 2.0}, r"mask_scale must be in \(0, 1\]"),
    ({"l1": -1.0}, "l1 must be >= 0"),
])
def test_mask_parameter_errors(shapes_clf, kwargs, match):
    with pytest.raises(ValueError, match=match):
        interpret.MASK(shapes_clf, **kwargs)
