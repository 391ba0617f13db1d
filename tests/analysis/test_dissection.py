"""Network dissection and unit sensitivity (Xu et al., Sec. 5, Eqs. 7-8)."""

import numpy as np
import pytest

from keras_advinterp import attacks
from keras_advinterp.analysis import dissection as nd


def test_unit_masks_threshold_at_the_dataset_quantile():
    acts = np.zeros((2, 4, 4, 2), np.float32)
    acts[0, :2, :2, 0] = 5.0  # unit 0 fires top-left in image 0 only
    acts[..., 1] = np.arange(16, dtype=np.float32).reshape(4, 4)  # unit 1: a ramp in both images
    t = nd.unit_thresholds(acts, quantile=0.9)
    assert t.tolist() == pytest.approx([4.5, 13.9])  # 0.9 of the 32 values of each unit, linear interpolation
    m = nd.unit_masks(acts, t, (4, 4))  # same size: no resampling
    assert m[0, :2, :2, 0].all() and m[0, :, :, 0].sum() == 4 and not m[1, :, :, 0].any()
    assert m[0, :, :, 1].sum() == 2 and m[0, 3, 2:, 1].all()  # the ramp's 14 and 15


def test_iou_against_a_hand_made_activation_and_mask():
    acts = np.zeros((2, 4, 4, 1), np.float32)
    acts[0, :2, :2, 0] = 1.0
    acts[1, :2, :, 0] = 1.0
    t = np.array([0.5], np.float32)
    m = nd.unit_masks(acts, t, (4, 4))
    lab = np.zeros((2, 4, 4, 1), bool)
    lab[0, :2, :, 0] = True  # 8 pixels, 4 shared
    lab[1, :2, :2, 0] = True  # 4 pixels, 4 shared, unit covers 8
    # sums over the set (Eq. 7): intersection 4 + 4, union 8 + 8; per-image IoUs would be 0.5 and 0.5 too,
    # so a third concept tells the two apart: all of image 1's top half, none of image 0
    lab = np.concatenate([lab, np.zeros_like(lab)], axis=3)
    lab[1, :2, :, 1] = True
    iou = nd.concept_iou(m, lab)
    assert iou.tolist() == [[0.5, 8 / 12]]  # concept 1: 8 shared of 12 in either (unit: 4 + 8 pixels)
    det = nd.concept_detectors(np.array([[0.5, 0.01], [0.02, 0.03]]))
    assert det["concept"].tolist() == [0, 1] and det["detector"].tolist() == [True, False]


@pytest.fixture(scope="module")
def shapes_dissection(shapes_clf, shapes_data):
    masks, names, cats = nd.shapes_concepts(shapes_data)
    return nd.dissect(shapes_clf, "features", shapes_data.x[:48], masks[:48], names, cats, quantile=0.95,
                      batch_size=16)


def test_dissect_streams_to_the_one_shot_iou(shapes_clf, shapes_data, shapes_dissection):
    masks, names, cats = nd.shapes_concepts(shapes_data)
    assert masks.shape == (len(shapes_data), 64, 64, 20) and cats.count("texture") == 6
    assert (masks[..., 14:] & shapes_data.masks[..., None]).sum() == 0  # textures lie off the object
    diss = shapes_dissection
    from keras_advinterp.surgery import capture

    acts = capture(shapes_clf, "features", shapes_data.x[:48])["features"]
    m = nd.unit_masks(acts, diss.thresholds, (64, 64)).reshape(-1, acts.shape[3]).astype(float)
    lab = masks[:48].reshape(-1, 20).astype(float)
    inter = m.T @ lab
    want = inter / (m.sum(0)[:, None] + lab.sum(0)[None] - inter)
    np.testing.assert_allclose(diss.iou, want, atol=1e-9)
    assert diss.iou.shape == (acts.shape[3], 20) and 0 <= diss.iou.min() and diss.iou.max() <= 1
    # the trained model has units that segment its concepts
    assert diss.detectors()["detector"].sum() > 0


def test_unit_sensitivity_is_zero_without_attack_and_positive_under_pgd(shapes_clf, shapes_correct, shapes_dissection):
    x, y, _ = shapes_correct
    x = x[:8]
    t = shapes_dissection.thresholds
    assert (nd.unit_sensitivity(shapes_clf, "features", x, x, t) == 0).all()
    x_adv = attacks.PGD(eps=8 / 255, steps=5)(shapes_clf, x, y[:8]).x_adv
    v = nd.unit_sensitivity(shapes_clf, "features", x, x_adv, t, batch_size=3)
    assert v.shape == t.shape and v.max() > 0


def test_p_value_small_for_aligned_units_and_large_for_random_ones():
    rng = np.random.default_rng(0)
    iou = rng.random(200)
    aligned = iou + 0.01 * rng.standard_normal(200)  # the most sensitive units are the most interpretable
    assert nd.sensitivity_p_value(aligned, iou, n=10, draws=2000) < 0.01
    unrelated = rng.random(200)
    assert nd.sensitivity_p_value(unrelated, iou, n=10, draws=2000) > 0.05


@pytest.mark.parametrize("call, match", [
    (lambda: nd.unit_thresholds(np.zeros((2, 4, 4))), r"activations must be \(N, h, w, K\)"),
    (lambda: nd.unit_thresholds(np.zeros((1, 2, 2, 1)), quantile=1.0), r"quantile must be < 1"),
    (lambda: nd.unit_thresholds(np.full((1, 2, 2, 1), np.nan)), r"4 NaN"),
    (lambda: nd.unit_masks(np.zeros((1, 2, 2, 3)), np.zeros(2), (4, 4)), r"thresholds \(K,\)"),
    (lambda: nd.sensitivity_p_value(np.ones(5), np.ones(4), n=2), r"must be \(K,\) each"),
    (lambda: nd.sensitivity_p_value(np.ones(5), np.ones(5), n=6), r"n must be in \[1, 5\]"),
    (lambda: nd.concept_detectors(np.ones(3)), r"iou must be \(K, C\)"),
    (lambda: nd.concept_iou(np.ones((1, 2, 2, 1), bool), np.ones((1, 3, 2, 1), bool)), r"over the same images"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_dissect_rejects_masks_of_the_wrong_shape(shapes_clf, shapes_data):
    with pytest.raises(ValueError, match=r"concept masks must be bool \(N, H, W, C\) = \(4, 64, 64, C\)"):
        nd.dissect(shapes_clf, "features", shapes_data.x[:4], np.ones((4, 32, 32, 2), bool), ["a", "b"])
    with pytest.raises(ValueError, match=r"valid names.*Received: layers='nope'"):
        nd.dissect(shapes_clf, "nope", shapes_data.x[:4], np.ones((4, 64, 64, 1), bool), ["a"])
