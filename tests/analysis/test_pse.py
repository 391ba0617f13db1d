"""Grid sensitivity, PSR, IS and refinement (Xu et al., seeds/001_13ab3436c62e81d7.txt, Secs. 3-4)."""

import keras
import numpy as np
import pytest

from keras_advinterp import attacks
from keras_advinterp.analysis import pse
from keras_advinterp.models import Classifier

H = W = 12


@pytest.fixture(scope="module")
def tiny():
    """A random 12x12 CNN with a CAM head (5 classes)."""
    keras.utils.set_random_seed(3)
    inp = keras.Input((H, W, 3))
    f = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="features")(inp)
    f = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="features2")(f)
    out = keras.layers.Dense(5, name="logits")(keras.layers.GlobalAveragePooling2D(name="gap")(f))
    return Classifier(keras.Model(inp, out), class_names=None, input_size=(H, W), feature_layer="features2",
                      name="tiny", weights_source="random")


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 0.9, (3, H, W, 3)).astype(np.float32)
    delta = rng.uniform(-0.1, 0.1, x.shape).astype(np.float32)
    delta[2, :4, :4] = 0  # grid 0 of image 2 untouched
    x_adv = np.clip(x + delta, 0, 1)
    return x, x_adv, np.array([0, 1, 2]), np.array([3, 4, 0])


def slow_reference(clf, x, x_adv, y, t, cell, xi):
    """Eqs. 1-3 by hand: one Keras call per image and grid."""
    n = len(x)
    rows, cols = H // cell, W // cell
    d0, dt = np.zeros((n, rows * cols)), np.zeros((n, rows * cols))
    for k in range(n):
        z = clf.model(x_adv[k : k + 1]).numpy()[0].astype(np.float64)
        for i in range(rows * cols):
            r, c = divmod(i, cols)
            copy = x_adv[k].copy()
            sl = np.s_[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell]
            copy[sl] = copy[sl] - (x_adv[k][sl] - x[k][sl])  # x' - delta_Gi
            zi = clf.model(copy[None]).numpy()[0].astype(np.float64)
            d0[k, i] = max(zi[y[k]] - z[y[k]], xi)
            dt[k, i] = max(z[t[k]] - zi[t[k]], xi)
    return d0, dt


@pytest.mark.parametrize("chunk, skip", [(64, True), (5, True), (7, False)])
def test_grid_sensitivity_equals_a_per_grid_keras_loop(tiny, pair, chunk, skip):
    x, x_adv, y, t = pair
    sens = pse.grid_sensitivity(tiny, x, x_adv, y, t, grids=3, xi=1e-6, chunk=chunk, skip_unperturbed=skip)
    d0, dt = slow_reference(tiny, x, x_adv, y, t, cell=4, xi=1e-6)
    np.testing.assert_allclose(sens.d0, d0, rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(sens.dt, dt, rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(sens.s, d0 + dt, rtol=1e-4, atol=4e-5)
    assert sens.layout.m == 9 and sens.s.shape == (3, 9)
    assert sens.perturbed[2, 0] == (not skip) and sens.perturbed[0].all()
    if skip:  # an untouched grid needs no forward: both changes exactly 0, d floored at xi
        assert sens.change0[2, 0] == 0 and sens.d0[2, 0] == 1e-6 and sens.dt[2, 0] == 1e-6
    # the biggest grid changes agree well beyond the floor
    assert np.abs(sens.change0).max() > 1e-3


def test_target_defaults_to_the_adversarial_prediction(tiny, pair):
    x, x_adv, y, _ = pair
    pred = tiny.predict(x_adv).argmax(1)
    y = (pred + 1) % 5
    a = pse.grid_sensitivity(tiny, x, x_adv, y, grids=(2, 3))
    b = pse.grid_sensitivity(tiny, x, x_adv, y, pred, cell=(6, 4))
    np.testing.assert_array_equal(a.target, pred)
    np.testing.assert_allclose(a.s, b.s, atol=1e-6)
    assert a.layout.describe() == {"grids": [2, 3], "cell": [6, 4], "m": 6}


@pytest.fixture(scope="module")
def linear():
    """Z_0 = -sum(grid 0) - sum(grid 1), Z_1 = sum(grid 1) + sum(grid 3): 2x2 grids of 6x6 pixels, 1 channel."""
    wmap = np.zeros((H, W, 2), np.float32)
    wmap[:6, :6, 0] = -1  # grid 0 (top left) lowers the true logit
    wmap[:6, 6:, 0], wmap[:6, 6:, 1] = -1, 1  # grid 1 (top right) lowers it and raises the target's
    wmap[6:, 6:, 1] = 1  # grid 3 (bottom right) raises the target logit
    inp = keras.Input((H, W, 1))
    out = keras.layers.Dense(2, use_bias=False)(keras.layers.Flatten()(inp))
    model = keras.Model(inp, out)
    model.layers[-1].set_weights([wmap.reshape(H * W, 2)])
    return Classifier(model, class_names=["true", "target"], input_size=(H, W), feature_layer=None, name="linear",
                      weights_source="hand-set", channels=1)


def test_psr_signs_on_a_constructed_case(linear):
    x = np.full((1, H, W, 1), 0.2, np.float32)
    x_adv = x + 0.5
    x_adv[0, 6:, :6] = 0.2  # grid 2 (row 1, col 0) untouched
    sens = pse.grid_sensitivity(linear, x, x_adv, [0], [1], grids=2, xi=1e-3)
    # grid 0 only lowers the true logit: removing it restores Z_t0 by 0.5 * 36
    np.testing.assert_allclose(sens.change0[0], [18, 18, 0, 0], atol=1e-4)
    np.testing.assert_allclose(sens.changet[0], [0, 18, 0, 18], atol=1e-4)
    np.testing.assert_allclose(sens.psr[0], [np.log2(1e-3 / 18), 0, 0, np.log2(18 / 1e-3)], atol=1e-4)
    assert sens.classes().tolist() == [[pse.SUPPRESSION, pse.BALANCE, pse.BALANCE, pse.PROMOTION]]
    assert pse.CLASS_NAMES[pse.SUPPRESSION] == "suppression"
    assert sens.classes(threshold=20).tolist() == [[0, 0, 0, 0]]


def test_psr_function_and_classes():
    r = pse.promotion_suppression_ratio([[1.0, 4.0, 1.0]], [[4.0, 1.0, 1.5]])
    np.testing.assert_allclose(r, [[2.0, -2.0, np.log2(1.5)]])
    assert pse.psr_classes(r).tolist() == [[1, -1, 0]]
    assert pse.psr_classes([[1.0, -1.0]]).tolist() == [[0, 0]]  # the paper's [-1, 1] is balance


def test_grid_norms_per_grid():
    delta = np.zeros((1, 4, 4, 2), np.float32)
    delta[0, 0, 0, 0], delta[0, 0, 1, 1] = 3, -4  # grid 0 (2x2 cells)
    delta[0, 3, 3, 1] = 0.5  # grid 3
    n = pse.grid_norms(delta, pse.grid_layout((4, 4), 2))
    np.testing.assert_allclose(n["l2"], [[5, 0, 0, 0.5]])
    np.testing.assert_allclose(n["linf"], [[4, 0, 0, 0.5]])


def test_interpretability_score_is_one_inside_and_zero_outside():
    rng = np.random.default_rng(1)
    region = np.zeros((3, 8, 8), bool)
    region[:, 2:6, 2:6] = True
    delta = rng.normal(size=(3, 8, 8, 3)).astype(np.float32)
    delta[0][~region[0]] = 0  # all inside B
    delta[1][region[1]] = 0  # all outside B
    delta[2] = 0
    delta[2, 2, 2, 0], delta[2, 0, 0, 1] = 3.0, 4.0  # 3 inside, 4 outside: IS = 3 / 5
    score = pse.interpretability_score(delta, region)
    np.testing.assert_allclose(score, [1.0, 0.0, 0.6], atol=1e-12)
    assert np.isnan(pse.interpretability_score(np.zeros((1, 8, 8, 3), np.float32), region[:1]))[0]


def test_cam_region_at_quantile():
    maps = np.tile(np.arange(100, dtype=np.float32).reshape(1, 10, 10), (2, 1, 1))
    maps[1] = 0
    maps[1, 0, :5] = 1  # a CAM zero over 95 % of the image still gives a 30 % region
    b = pse.cam_region_at(maps, 0.7)
    assert b.sum(axis=(1, 2)).tolist() == [30, 30]
    assert b[0].ravel()[70:].all() and not b[0].ravel()[:70].any()
    assert b[1, 0, :5].all()


def test_sensitive_grids_follow_the_cumulative_rule():
    s = np.array([[1.0, 1.0, 1.0, 7.0], [5.0, 1.0, 4.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    keep = pse.sensitive_grids(s, drop=0.3)
    # [1,1,1,7]: shares .1 .2 .3 -> beta = 1, keep s > 1; [0,1,4,5]: .0 .1 .5 -> beta = 4; all equal: the max only
    assert keep.tolist() == [[False, False, False, True], [True, False, False, False], [True, False, False, False]]
    assert pse.sensitive_grids(s, drop=0.0).all()
    kept = s[0] * pse.sensitive_grids(s[:1], drop=0.05)[0]
    assert kept.sum() == 7  # beta = 1 already at 5 %: grids tied with beta go with it


def test_top_grids_by_count():
    s = np.array([[0.1, 0.5, 0.3, 0.9, 0.2, 0.0, 0.7, 0.4, 0.6, 0.8]])
    top = pse.top_grids(s, 0.7)
    assert top.sum() == 7 and not top[0, [0, 4, 5]].any()


def test_sensitivity_correlation():
    norms = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]])
    values = np.array([[2.0, 4.0, 6.0, 8.0], [1.0, 8.0, 27.0, 64.0], [5.0, 5.0, 5.0, 5.0]])
    c = pse.sensitivity_correlation(values, norms)
    assert c["pearson"][0] == pytest.approx(1.0) and c["spearman"][1] == pytest.approx(1.0)
    assert c["pearson"][1] < 1.0 and np.isnan(c["pearson"][2]) and np.isnan(c["spearman"][2])


@pytest.mark.parametrize("attack", [attacks.BIM(eps=8 / 255, steps=5),
                                    attacks.CarliniWagnerL2(steps=20, binary_search_steps=2, initial_const=1.0),
                                    attacks.StrAttack(steps=20, binary_search_steps=2, group_size=4)],
                         ids=lambda a: a.name)
def test_refinement_keeps_the_perturbation_zero_outside_kept_grids(shapes_clf, shapes_correct, attack):
    x, y, _ = shapes_correct
    x, y = x[:6], y[:6]
    first = attacks.BIM(eps=8 / 255, steps=5)(shapes_clf, x, y)
    ok = first.success
    sens = pse.grid_sensitivity(shapes_clf, x[ok], first.x_adv[ok], y[ok], grids=8)
    grids_kept = pse.sensitive_grids(sens.s, drop=0.3)
    assert 0 < grids_kept.sum() < grids_kept.size
    keep = sens.layout.expand(grids_kept)
    res = pse.refined_attack(attack, shapes_clf, x[ok], y[ok], keep=keep)
    delta = res.x_adv - x[ok]
    assert np.all(delta[~keep] == 0.0)
    assert np.abs(delta[keep]).max() > 0
    # per grid: zero wherever S1 dropped the grid
    norms = pse.grid_norms(delta, sens.layout)["linf"]
    assert np.all(norms[~grids_kept] == 0.0)


@pytest.mark.parametrize("call, match", [
    (lambda c, x, a, y: pse.grid_sensitivity(c, x, a, y, grids=5), r"5x5 grids must divide the 12x12 image.*grids=5"),
    (lambda c, x, a, y: pse.grid_sensitivity(c, x, a, y, grids=13), r"13x13 grids need at least one pixel"),
    (lambda c, x, a, y: pse.grid_sensitivity(c, x, a, y, cell=16), r"cell 16x16 is larger than the 12x12 image"),
    (lambda c, x, a, y: pse.grid_sensitivity(c, x, a, y, cell=5), r"cell 5x5 must divide the 12x12 image"),
    (lambda c, x, a, y: pse.grid_sensitivity(c, x, a, y, grids=0), r"grids must be a positive int"),
    (lambda c, x, a, y: pse.grid_sensitivity(c, x, a[:, :8], y), r"x and x_adv must have one shape"),
    (lambda c, x, a, y: pse.grid_sensitivity(c, x, a[..., :1], y), r"x_adv must have 3 channel"),
    (lambda c, x, a, y: pse.grid_sensitivity(c, x, np.where(a > 0.5, np.nan, a), y), r"x_adv contains \d+ NaN"),
    (lambda c, x, a, y: pse.grid_sensitivity(c, x, a, y[:2], grids=3), r"y must hold one class index per image \(3\)"),
    (lambda c, x, a, y: pse.grid_sensitivity(c, x, a, y, y, grids=3), r"target must differ from the true label"),
    (lambda c, x, a, y: pse.grid_sensitivity(c, x, a, y, xi=0, grids=3), r"xi must be > 0. Received: xi=0"),
    (lambda c, x, a, y: pse.grid_sensitivity(c, x, a, y, chunk=0, grids=3), r"chunk must be > 0"),
    (lambda c, x, a, y: pse.grid_sensitivity(c.model, x, a, y), r"clf must be a keras_advinterp Classifier"),
])
def test_grid_sensitivity_rejects_bad_input(tiny, pair, call, match):
    x, x_adv, y, _ = pair
    with pytest.raises(ValueError, match=match):
        call(tiny, x, x_adv, y)


@pytest.mark.parametrize("call, match", [
    (lambda: pse.cam_region_at(np.zeros((1, 4, 4)), 1.0), r"quantile must be < 1"),
    (lambda: pse.cam_region_at(np.zeros((1, 4, 4)), 1.2), r"quantile must be in \[0.0, 1.0\]. Received: quantile=1.2"),
    (lambda: pse.cam_region_at(np.full((1, 4, 4), np.nan)), r"maps contain 16 NaN"),
    (lambda: pse.cam_region_at(np.zeros((4, 4))), r"maps must be \(N, H, W\)"),
    (lambda: pse.sensitive_grids(np.ones((2, 4)), drop=1.0), r"drop must be < 1"),
    (lambda: pse.sensitive_grids(np.ones((2, 4)), drop=-0.1), r"drop must be in \[0.0, 1.0\]"),
    (lambda: pse.sensitive_grids(np.array([[1.0, np.nan]])), r"s must be finite and >= 0"),
    (lambda: pse.sensitive_grids(np.ones(4)), r"s must be \(N, m\)"),
    (lambda: pse.top_grids(np.ones((1, 4)), 0.0), r"share must be > 0"),
    (lambda: pse.psr_classes([[0.0]], threshold=-1), r"threshold must be >= 0"),
    (lambda: pse.psr_classes([[np.nan]]), r"psr contains 1 NaN"),
    (lambda: pse.promotion_suppression_ratio([[0.0]], [[1.0]]), r"d0 must be finite and > 0"),
    (lambda: pse.promotion_suppression_ratio([[1.0]], [1.0, 2.0]), r"d0 and dt must have one shape"),
    (lambda: pse.interpretability_score(np.zeros((1, 4, 4, 3)), np.ones((1, 4, 4))), r"region must be bool"),
    (lambda: pse.interpretability_score(np.full((1, 4, 4, 3), np.nan), np.ones((1, 4, 4), bool)), r"delta contains"),
    (lambda: pse.grid_norms(np.zeros((1, 4, 4, 3)), pse.grid_layout((8, 8), 2)), r"images must be \(N, 8, 8, C\)"),
    (lambda: pse.sensitivity_correlation(np.ones((2, 3)), np.ones((2, 4))), r"values and norms must both be"),
    (lambda: pse.sensitivity_correlation(np.ones((2, 1)), np.ones((2, 1))), r"at least 2 grids"),
    (lambda: pse.refined_attack(None, None, None, None, keep=np.ones((1, 4, 4))), r"keep must be \(N, H, W\) bool"),
    (lambda: pse.grid_layout((4, 4, 3)), r"image_size must be \(H, W\)"),
    (lambda: pse.grid_layout((12, 12), 3).as_maps(np.ones((1, 5))), r"values must be \(N, m=9\)"),
])
def test_region_tools_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
