import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp import attacks
from keras_advinterp.attacks.structured import StrAttack, group_norms, group_shrink

N = 12
FAST = dict(steps=30, binary_search_steps=2)


def active_fraction(delta, group_size):
    """Per image fraction of group_size x group_size cells with nonzero energy."""
    return (group_norms(delta, group_size).numpy() > 1e-6).reshape(len(delta), -1).mean(1)


@pytest.fixture(scope="module")
def str_result(shapes_clf, shapes_correct):
    x, y, _ = shapes_correct
    return StrAttack(**FAST)(shapes_clf, x[:N], y[:N], batch_size=N), x[:N], y[:N]


def test_group_shrink_is_the_group_lasso_prox():
    a = np.zeros((1, 5, 5, 2), np.float32)  # 5 is not a multiple of 2: the last cells are smaller
    a[0, 0:2, 0:2, :] = 0.1  # norm 0.283 < 0.5: zeroed
    a[0, 2:4, 2:4, :] = 1.0  # norm 2.83: scaled by 1 - 0.5 / 2.83
    a[0, 4, 4, :] = 3.0  # 1x1x2 corner cell, norm 4.24
    out = group_shrink(tf.constant(a), 2, 0.5).numpy()
    np.testing.assert_array_equal(out[0, 0:2, 0:2], 0.0)
    np.testing.assert_allclose(out[0, 2:4, 2:4], 1.0 - 0.5 / np.sqrt(8), rtol=1e-6)
    np.testing.assert_allclose(out[0, 4, 4], 3.0 * (1 - 0.5 / np.sqrt(18)), rtol=1e-6)
    assert group_norms(a, 2).shape == (1, 3, 3)


def test_strattack_fools_shapes_model_within_box(str_result):
    result, x, y = str_result
    assert result.success_rate >= 0.9, result.summary()  # measured 1.00 (12/12)
    assert result.x_adv.min() >= 0.0 and result.x_adv.max() <= 1.0
    assert np.array_equal(result.success, result.predictions != y)
    assert result.iterations.shape == (N,) and result.iterations.max() <= 60
    assert result.iterations.min() < 60  # abort_early froze some images (measured 32-60)


def test_perturbation_is_group_sparse_unlike_pgd(shapes_clf, str_result):
    result, x, y = str_result
    ok = result.success
    sparse = active_fraction(result.x_adv - x, 2)[ok].mean()
    # PGD-L2 with the same mean L2 as Str-attack's, for reference
    pgd = attacks.PGD(eps=float(result.norms["l2"][ok].mean()), steps=10, norm="l2")(shapes_clf, x, y)
    dense = active_fraction(pgd.x_adv - x, 2).mean()
    # measured: Str-attack 0.13 of 2x2 groups at mean L2 1.15; PGD-L2 1.00
    assert sparse < 0.3 and dense > 0.9, (sparse, dense)


def test_larger_groups_give_fewer_block_structured_groups(shapes_clf, str_result):
    small, x, y = str_result
    big = StrAttack(group_size=4, **FAST)(shapes_clf, x, y, batch_size=N)
    assert big.success_rate >= 0.9, big.summary()  # measured 1.00
    ok = small.success & big.success
    d_small, d_big = small.x_adv - x, big.x_adv - x
    count = lambda d, g: (group_norms(d, g).numpy() > 1e-6).reshape(N, -1).sum(1)  # noqa: E731
    assert count(d_big, 4)[ok].mean() < count(d_small, 2)[ok].mean()  # measured 62 vs 138 groups
    # every 2x2 cell of an active 4x4 group is perturbed: the support is a union of 4x4 blocks
    np.testing.assert_allclose(active_fraction(d_big, 2)[ok], active_fraction(d_big, 4)[ok])
    assert active_fraction(d_small, 2)[ok].mean() < active_fraction(d_small, 4)[ok].mean()


def test_targeted_with_group_size_not_dividing_the_image(digits_clf, digits_data):
    x, y = digits_data.x[:N], digits_data.y[:N]
    target = (y + 1) % digits_clf.num_classes
    result = StrAttack(group_size=3, **FAST)(digits_clf, x, y, target=target, batch_size=N)  # 32 = 10 * 3 + 2
    assert np.array_equal(result.success, result.predictions == target)
    assert result.success_rate >= 0.75, result.summary()  # measured 1.00 (12/12)
    assert result.x_adv.shape == x.shape and result.x_adv.min() >= 0.0 and result.x_adv.max() <= 1.0
    assert active_fraction(result.x_adv - x, 3)[result.success].mean() < 0.75  # measured 0.53 of 121 groups


@pytest.mark.parametrize("kwargs, match", [
    ({"group_size": 0}, "group_size must be > 0"),
    ({"group_size": 1.5}, "group_size must be an integer"),
    ({"rho": -1.0}, "rho must be > 0"),
    ({"steps": 0}, "steps must be > 0"),
    ({"learning_rate": 0}, "learning_rate must be > 0"),
    ({"const": float("nan")}, "const must be > 0"),
    ({"binary_search_steps": 0}, "binary_search_steps must be > 0"),
    ({"group_weight": -0.1}, "group_weight must be >= 0"),
    ({"confidence": -1}, "confidence must be >= 0"),
    ({"eps": 2.0}, "eps must be in"),
])
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StrAttack(**kwargs)
