import numpy as np
import pytest

from keras_advinterp.interpret import metrics


def test_identical_maps(rng):
    a = rng.random((3, 16, 16))
    np.testing.assert_allclose(metrics.top_iou(a, a, 0.2), 1.0)
    np.testing.assert_allclose(metrics.lp_distance(a, a, 1), 0.0)
    np.testing.assert_allclose(metrics.lp_distance(a, a, 2), 0.0)
    np.testing.assert_allclose(metrics.kendall_tau(a, a), 1.0)


def test_disjoint_and_reversed_maps():
    a = np.zeros((1, 10, 10))
    b = np.zeros((1, 10, 10))
    a[0, :2] = 1.0  # top 20% = first two rows
    b[0, -2:] = 1.0  # top 20% = last two rows
    assert metrics.top_iou(a, b, 0.2)[0] == 0.0
    ramp = np.arange(100, dtype=float).reshape(1, 10, 10)
    assert metrics.kendall_tau(ramp, -ramp)[0] == pytest.approx(-1.0)
    assert metrics.lp_distance(np.zeros((1, 4, 4)), np.ones((1, 4, 4)), 2)[0] == pytest.approx(1.0)


def test_top_region_size_and_mask_iou():
    ramp = np.arange(100, dtype=float).reshape(1, 10, 10)
    region = metrics.top_region(ramp, 0.3)
    assert region.sum() == 30 and region[0, -1, -1] and not region[0, 0, 0]
    mask = np.zeros((1, 10, 10), bool)
    mask[0, 7:] = True  # exactly the top 30%
    assert metrics.mask_iou(ramp, mask, 0.3)[0] == 1.0
    assert metrics.mask_iou(ramp, mask, 0.6)[0] == pytest.approx(0.5)


@pytest.mark.parametrize("call, match", [
    (lambda: metrics.top_region(np.zeros((1, 4, 4)), 0.0), r"fraction must be in \(0, 1\]"),
    (lambda: metrics.top_iou(np.zeros((1, 4, 4)), np.zeros((1, 5, 4))), "one shape"),
    (lambda: metrics.lp_distance(np.zeros((1, 4, 4)), np.zeros((1, 4, 4)), 3), "p must be 1 or 2"),
    (lambda: metrics.mask_iou(np.zeros((1, 4, 4)), np.zeros((2, 4, 4))), "one shape"),
])
def test_metric_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _is_reference(cam, delta, q=0.7):
    """Straight transcription of seeds/001_13ab3436c62e81d7.txt, Eq. 5-6 for one image."""
    nu = np.quantile(cam.ravel(), q)
    b = (cam >= nu).astype(float)[..., None]
    return np.linalg.norm((b * delta).ravel()) / np.linalg.norm(delta.ravel())


def test_interpretability_score_matches_numpy_reference(rng):
    cams = rng.random((4, 12, 12))
    delta = rng.normal(size=(4, 12, 12, 3))
    ours = metrics.interpretability_score(cams, delta)
    np.testing.assert_allclose(ours, [_is_reference(c, d) for c, d in zip(cams, delta)], rtol=1e-12)


def test_interpretability_score_extremes():
    cam = np.zeros((1, 10, 10))
    cam[0, :3] = 1.0  # discriminative region: the top three rows (30%)
    inside = np.zeros((1, 10, 10, 1))
    inside[0, 1, 4] = 0.1
    outside = np.zeros((1, 10, 10, 1))
    outside[0, 8, 4] = 0.1
    assert metrics.interpretability_score(cam, inside)[0] == pytest.approx(1.0)
    assert metrics.interpretability_score(cam, outside)[0] == 0.0
    assert metrics.interpretability_score(cam, np.zeros((1, 10, 10, 1)))[0] == 0.0
    with pytest.raises(ValueError, match="delta must be"):
        metrics.interpretability_score(cam, np.zeros((1, 10, 10)))


def test_ssim_noise(rng):
    x = rng.random((2, 32, 32, 3))
    assert np.allclose(metrics.ssim_noise(x, x), 0.0)
    noisy = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
    assert np.all(metrics.ssim_noise(x, noisy) > 0.05)
