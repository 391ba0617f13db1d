"""Feature-map RMSE (Ding et al. Eq. 4) against a numpy reference; ranking and paper-style names."""

import numpy as np
import pytest

from keras_advinterp import surgery

LAYERS = ["stem_relu", "block1_1_conv", "features"]


@pytest.fixture(scope="module")
def pairs(shapes_data):
    x = shapes_data.x[:6]
    noise = np.random.default_rng(5).normal(0, 0.05, x.shape).astype(np.float32)
    return x, np.clip(x + noise, 0, 1)


def _reference(clf, x, x_adv):
    a, b = surgery.capture(clf, LAYERS, x), surgery.capture(clf, LAYERS, x_adv)
    return {n: np.sqrt(((a[n].astype(np.float64) - b[n]) ** 2).mean(axis=(1, 2))) for n in LAYERS}


def test_matches_numpy(shapes_clf, pairs):
    per_image = _reference(shapes_clf, *pairs)
    res = surgery.feature_map_rmse(shapes_clf, *pairs, LAYERS, batch_size=4)  # 6 pairs: two batches
    pooled = surgery.feature_map_rmse(shapes_clf, *pairs, LAYERS, reduce="pooled")
    for n in LAYERS:
        np.testing.assert_allclose(res.per_image[n], per_image[n], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(res.by_layer(n), per_image[n].mean(0), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(pooled.by_layer(n), np.sqrt((per_image[n] ** 2).mean(0)), rtol=1e-4, atol=1e-6)
    assert res.num_images == 6 and len(res) == 24 + 32 + 96


def test_ranked_descending_with_paper_names(shapes_clf, pairs):
    res = surgery.feature_map_rmse(shapes_clf, *pairs, LAYERS)
    values = [c.rmse for c in res.ranked]
    assert values == sorted(values, reverse=True)
    best, worst = res.top(1)[0], res.bottom(1)[0]
    assert best.name == f"{best.layer}_{best.channel}" and best.rmse == res.by_layer(best.layer).max()
    assert worst.rmse == min(values) and [c.rmse for c in res.bottom(3)] == sorted(values)[:3]
    assert [c.name for c in res.top(5)] == [r["name"] for r in res.rows()[:5]]


def test_identical_images_give_zero_and_default_layers_are_the_convs(shapes_clf, pairs):
    res = surgery.feature_map_rmse(shapes_clf, pairs[0], pairs[0])
    assert res.layers == tuple(surgery.conv_layers(shapes_clf))
    assert all(c.rmse == 0.0 for c in res.ranked)
    # Ties keep layer, then channel order.
    assert [c.name for c in res.top(2)] == ["stem_conv_0", "stem_conv_1"]
