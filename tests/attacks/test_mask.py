"""A perturbation mask applied inside the attack loop (Xu et al.'s refined attacks, Eq. 11)."""

import numpy as np
import pytest

from keras_advinterp import attacks

MASKED = [
    attacks.BIM(eps=8 / 255, steps=5),
    attacks.PGD(eps=8 / 255, steps=5, random_start=True),
    attacks.PGD(eps=1.0, steps=5, norm="l2"),
    attacks.CarliniWagnerL2(steps=20, binary_search_steps=2, initial_const=1.0),
    attacks.EAD(steps=20, binary_search_steps=2, initial_const=1.0, beta=1e-3),
    attacks.StrAttack(steps=20, binary_search_steps=2, group_size=4),
]


@pytest.fixture(scope="module")
def batch(shapes_correct):
    x, y, _ = shapes_correct
    x, y = x[:6], y[:6]
    keep = np.zeros(x.shape[:3], bool)
    keep[:, 16:40, 8:48] = True
    keep[1] = False  # an image that may not be perturbed at all
    return x, y, keep


@pytest.mark.parametrize("attack", MASKED, ids=lambda a: f"{a.name}-{a.params().get('norm', '')}")
def test_perturbation_is_exactly_zero_outside_the_mask(shapes_clf, batch, attack):
    x, y, keep = batch
    res = attack(shapes_clf, x, y, mask=keep)
    delta = res.x_adv - x
    assert np.all(delta[~keep] == 0.0)
    assert np.all(delta[1] == 0.0)
    assert np.abs(delta[keep]).max() > 0  # it did perturb inside
    free = attack(shapes_clf, x, y)
    assert np.abs(free.x_adv - x)[~keep].max() > 0  # the mask, not the attack, kept the outside clean


def test_a_full_mask_gives_the_unmasked_result(shapes_clf, batch):
    x, y, _ = batch
    attack = attacks.BIM(eps=8 / 255, steps=5)
    full = attack(shapes_clf, x, y, mask=np.ones(x.shape[:3], bool))
    free = attack(shapes_clf, x, y)
    np.testing.assert_allclose(full.x_adv, free.x_adv, atol=1e-6)
    assert (full.success == free.success).all()


def test_mask_accepts_channel_and_numeric_forms(shapes_clf, batch):
    x, y, keep = batch
    attack = attacks.BIM(eps=8 / 255, steps=3)
    a = attack(shapes_clf, x, y, mask=keep).x_adv
    b = attack(shapes_clf, x, y, mask=keep[..., None].astype(np.float32)).x_adv
    c = attack(shapes_clf, x, y, mask=np.repeat(keep[..., None], 3, axis=3).astype(np.uint8)).x_adv
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("mask, match", [
    (np.ones((6, 32, 32), bool), r"mask must be \(N, H, W\).*Received: mask.shape=\(6, 32, 32\)"),
    (np.ones((5, 64, 64), bool), r"Received: mask.shape=\(5, 64, 64\)"),
    (np.full((6, 64, 64), 0.5), r"mask must hold only 0 and 1.*0.5"),
    (np.full((6, 64, 64), np.nan), r"mask must hold only 0 and 1"),
    (np.full((6, 64, 64), "a"), r"mask must be bool or 0/1 numbers"),
])
def test_bad_masks_fail_before_work(shapes_clf, batch, mask, match):
    x, y, _ = batch
    with pytest.raises(ValueError, match=match):
        attacks.BIM(steps=2)(shapes_clf, x, y, mask=mask)


def test_attacks_without_mask_support_say_which_have_it(shapes_clf, batch):
    x, y, keep = batch
    with pytest.raises(ValueError, match=r"fgsm cannot restrict its perturbation to a mask; attacks that can: "
                                         r"\[.*'bim', 'cw', 'ead', 'mim', 'pgd', 'strattack'\]"):
        attacks.FGSM()(shapes_clf, x, y, mask=keep)
