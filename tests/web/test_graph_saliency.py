"""Graph-based visual saliency (AdVis's saliency difference): it finds the object, and rejects bad input."""

import numpy as np
import pytest

from keras_advinterp.web import graph_saliency, saliency_difference


def test_the_object_is_more_salient_than_the_background(shapes_data):
    x, masks = shapes_data.x[:24], shapes_data.masks[:24]
    maps = np.stack([graph_saliency(im) for im in x])
    assert maps.shape == (24, 64, 64) and maps.min() >= 0 and maps.max() <= 1
    inside = np.array([m[k].mean() for m, k in zip(maps, masks)])
    outside = np.array([m[~k].mean() for m, k in zip(maps, masks)])
    assert (inside > outside).mean() >= 0.9 and inside.mean() > 2 * outside.mean()


def test_difference_is_zero_for_the_same_image_and_grows_with_noise(shapes_data):
    x = shapes_data.x[0]
    assert np.abs(saliency_difference(x, x)).max() == 0
    rng = np.random.default_rng(0)
    sign = rng.choice([-1.0, 1.0], x.shape).astype(np.float32)
    small, big = (np.abs(saliency_difference(x, np.clip(x + e * sign, 0, 1))).mean() for e in (2 / 255, 16 / 255))
    assert 0 < small < big


def test_flat_and_grey_images_work():
    assert np.isfinite(graph_saliency(np.full((32, 32, 3), 0.5, np.float32))).all()
    assert graph_saliency(np.random.default_rng(1).random((40, 30, 1), np.float32)).shape == (40, 30)


@pytest.mark.parametrize("image, kwargs, message", [
    (np.zeros((8, 8)), {}, r"image must be \(H, W, 1 or 3\)"),
    (np.full((8, 8, 3), 2.0), {}, "finite pixels in \\[0, 1\\]"),
    (np.full((8, 8, 3), np.nan), {}, "finite pixels"),
    (np.zeros((8, 8, 3)), {"grid": 2}, "grid must be an int >= 4"),
    (np.zeros((8, 8, 3)), {"sigma": 0}, r"sigma must be in \(0, 1\]"),
])
def test_bad_input_is_refused(image, kwargs, message):
    with pytest.raises(ValueError, match=message):
        graph_saliency(image, **kwargs)
