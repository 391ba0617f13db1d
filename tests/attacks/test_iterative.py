"""BIM, MIM, PGD-L1, random restarts, the margin loss and the attention attack.

Figures in comments were measured on the first 32 correctly classified
shapes test images (``shapes_correct``), seed 0.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp import attacks
from keras_advinterp.attacks.norms import L1, perturbation_norms, within_budget

BIM_MIM_FLOOR = 0.25  # at 4/255: BIM 0.44, MIM 0.31 (PGD with random start at 3/255: 0.09)
PGD_L1_FLOOR = 0.25  # eps 10 (L1), 10 steps: 0.34 with a median of 164 changed values (of 12288)


@pytest.fixture(scope="module")
def batch(shapes_correct):
    x, y, _ = shapes_correct
    return x[:32], y[:32]


def _budget_and_box(result, x, norm, eps):
    worst = perturbation_norms(result.x_adv - x)[norm].max()
    assert within_budget(result.x_adv - x, norm, eps).all(), f"{norm} {worst} > {eps} (+ float32 rounding)"
    assert result.x_adv.min() >= 0.0 and result.x_adv.max() <= 1.0


@pytest.mark.parametrize("cls", [attacks.BIM, attacks.MIM])
def test_bim_mim_start_from_the_image_and_stay_in_budget(shapes_clf, batch, cls):
    x, y = batch
    result = cls(eps=4 / 255)(shapes_clf, x, y)
    _budget_and_box(result, x, "linf", 4 / 255)
    assert result.success_rate >= BIM_MIM_FLOOR, result.summary()
    again = cls(eps=4 / 255)(shapes_clf, x, y, seed=123)  # no random start: the seed is irrelevant
    np.testing.assert_array_equal(again.x_adv, result.x_adv)


def test_mim_momentum_changes_the_path(shapes_clf, batch):
    x, y = batch
    bim, mim = attacks.BIM(eps=4 / 255)(shapes_clf, x, y), attacks.MIM(eps=4 / 255)(shapes_clf, x, y)
    assert np.abs(bim.x_adv - mim.x_adv).max() > 1 / 255
    assert attacks.MIM(eps=4 / 255).params()["decay"] == 1.0


def test_restarts_never_lose_a_success(shapes_clf, batch):
    x, y = batch
    one = attacks.PGD(eps=3 / 255)(shapes_clf, x, y)
    three = attacks.PGD(eps=3 / 255, restarts=3)(shapes_clf, x, y)
    _budget_and_box(three, x, "linf", 3 / 255)
    assert np.all(three.success[one.success])  # restart 0 is the single run; successes are kept
    assert three.success_rate >= one.success_rate
    assert np.all(three.iterations == 30)


def test_margin_loss_attacks(shapes_clf, batch):
    x, y = batch
    result = attacks.PGD(eps=8 / 255, objective="margin")(shapes_clf, x, y)
    _budget_and_box(result, x, "linf", 8 / 255)
    assert result.success_rate >= 0.85, result.summary()  # measured 0.97


def test_l1_projection_is_exact():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(5, 4, 4, 3)).astype(np.float32)
    eps = 3.0
    p = L1.project(tf.constant(v), eps).numpy()
    l1 = np.abs(p).reshape(5, -1).sum(1)
    np.testing.assert_allclose(l1, eps, rtol=1e-5)  # every v is outside: projected onto the sphere
    inside = v / np.abs(v).reshape(5, -1).sum(1)[:, None, None, None]  # l1 = 1 <= eps: unchanged
    np.testing.assert_allclose(L1.project(tf.constant(inside), eps).numpy(), inside, rtol=1e-6)
    # Optimality (Duchi et al.): p = sign(v) max(|v| - theta, 0) for one theta per example
    for vi, pi in zip(v.reshape(5, -1), p.reshape(5, -1)):
        theta = (np.abs(vi) - np.abs(pi))[pi != 0]
        np.testing.assert_allclose(theta, theta.mean(), atol=1e-5)
        assert np.all(np.abs(vi)[pi == 0] <= theta.mean() + 1e-5)


def test_l1_steps_are_sparse(shapes_clf, batch):
    x, y = batch
    d = L1(0.99).direction(tf.constant(np.random.default_rng(1).normal(size=x[:2].shape), tf.float32)).numpy()
    assert np.count_nonzero(d[0]) == int(round(0.01 * x[0].size))
    np.testing.assert_allclose(np.abs(d).reshape(2, -1).sum(1), 1.0, rtol=1e-5)


def test_pgd_l1_in_budget_and_sparse(shapes_clf, batch):
    x, y = batch
    result = attacks.PGD(norm="l1", eps=10.0, steps=10)(shapes_clf, x, y)
    _budget_and_box(result, x, "l1", 10.0)
    assert result.success_rate >= PGD_L1_FLOOR, result.summary()
    # L1 attacks concentrate: far fewer values change than under Linf PGD
    dense = attacks.PGD(eps=8 / 255)(shapes_clf, x, y)
    assert np.median(result.norms["l0"]) < 0.5 * np.median(dense.norms["l0"])


def test_attention_attack_moves_attention_off_the_true_class(shapes_clf, batch):
    """AoA lowers log(true-class attention mass / runner-up's) more than PGD at the same budget.

    Measured at 8/255: median change -3.53 (AoA) vs -3.32 (PGD without random
    start); both flip every image. On this GAP model the CAM mass follows the
    logit, so PGD moves attention too; attention alone (lam=0) flips 0.94.
    """
    x, y = batch
    logits = shapes_clf.predict(x)
    runner_up = np.argsort(-(logits - 1e9 * np.eye(shapes_clf.num_classes)[y]), axis=1)[:, 0]

    def log_ratio(images):
        mass = attacks.attention_mass
        return np.log(mass(shapes_clf, images, y) / mass(shapes_clf, images, runner_up))

    aoa = attacks.AttentionAttack(eps=8 / 255)(shapes_clf, x, y)
    pgd = attacks.PGD(eps=8 / 255, random_start=False)(shapes_clf, x, y)
    _budget_and_box(aoa, x, "linf", 8 / 255)
    assert aoa.success_rate >= 0.9, aoa.summary()
    base = log_ratio(x)
    assert np.median(log_ratio(aoa.x_adv) - base) < np.median(log_ratio(pgd.x_adv) - base) < -1.0
    only = attacks.AttentionAttack(eps=8 / 255, lam=0.0)(shapes_clf, x, y)
    assert only.success_rate >= 0.8, only.summary()


@pytest.mark.parametrize("cls, params, match", [
    (attacks.PGD, {"restarts": 0}, "restarts must be > 0"),
    (attacks.PGD, {"momentum": -1}, "momentum must be >= 0"),
    (attacks.PGD, {"objective": "hinge"}, r"objective must be one of \(.ce., .margin.\)"),
    (attacks.PGD, {"norm": "l1", "l1_sparsity": 1.5}, r"l1_sparsity must be in \[0.0, 1.0\]"),
    (attacks.MIM, {"decay": -0.5}, "decay must be >= 0"),
    (attacks.BIM, {"random_start": True}, "random_start"),
    (attacks.FGSM, {"norm": "l1"}, "fgsm supports norm 'linf' or 'l2'"),
    (attacks.AttentionAttack, {"interpreter": "lrp"}, "interpreter must be one of"),
    (attacks.AttentionAttack, {"lam": -1}, "lam must be >= 0"),
])
def test_constructor_errors(cls, params, match):
    with pytest.raises((ValueError, TypeError), match=match):
        cls(**params)
