"""PGD's objective hook and step-weighting hook."""

import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp import attacks
from keras_advinterp._compile import cache_key
from keras_advinterp.attacks.objectives import Context, Objective, StepWeight, margin


@pytest.fixture(scope="module")
def batch(shapes_correct):
    x, y, _ = shapes_correct
    return x[:16], y[:16]


def test_named_and_object_objectives_give_the_same_images(shapes_clf, batch):
    x, y = batch
    by_name = attacks.PGD(eps=4 / 255, steps=5, objective="margin")(shapes_clf, x, y)
    by_object = attacks.PGD(eps=4 / 255, steps=5, objective=attacks.Margin())(shapes_clf, x, y)
    np.testing.assert_array_equal(by_name.x_adv, by_object.x_adv)


def test_a_plain_function_is_an_objective(shapes_clf, batch):
    x, y = batch

    def neg_margin(clf, x_adv, labels, context):
        return -margin(clf.model(x_adv, training=False), labels, context.targeted, kappa=float("inf"))

    ours = attacks.PGD(eps=4 / 255, steps=5, objective=neg_margin)(shapes_clf, x, y)
    ref = attacks.PGD(eps=4 / 255, steps=5, objective="margin")(shapes_clf, x, y)
    np.testing.assert_allclose(ours.x_adv, ref.x_adv, atol=1e-6)


class TowardsClass(Objective):
    """Ascends the logit of a fixed class chosen in ``setup`` (reads ``context.extras``)."""

    name = "towards"

    def __init__(self, cls: int):
        self.cls = cls

    def params(self):
        return {"cls": self.cls}

    def setup(self, clf, context):
        return {"goal": tf.fill(tf.shape(context.y), self.cls)}

    def __call__(self, clf, x_adv, labels, context):
        logits = clf.model(x_adv, training=False)
        return tf.gather(logits, context.extras["goal"], batch_dims=1)


def test_objective_setup_reaches_the_loop(shapes_clf, batch):
    x, y = batch
    goal = 2
    keep = y != goal
    result = attacks.PGD(eps=16 / 255, steps=20, objective=TowardsClass(goal))(shapes_clf, x[keep], y[keep])
    assert np.mean(result.predictions == goal) >= 0.8, result.predictions  # moved towards the chosen class
    # a different setting is a different compiled function
    assert cache_key("attack", attacks.PGD(objective=TowardsClass(1)), False, True) != \
        cache_key("attack", attacks.PGD(objective=TowardsClass(2)), False, True)
    assert cache_key("attack", attacks.PGD(objective="ce"), False, True) == \
        cache_key("attack", attacks.PGD(objective=attacks.CrossEntropy()), False, True)


class LeftHalfFrozen(StepWeight):
    """Weight 0 on the left half of the image, 1 elsewhere."""

    def __call__(self, clf, context):
        w = context.x.shape[2]
        cols = tf.cast(tf.range(w) >= w // 2, tf.float32)
        return tf.reshape(cols, [1, 1, w, 1]) * tf.ones_like(context.x[..., :1])


@pytest.mark.parametrize("norm, eps", [("linf", 8 / 255), ("l2", 2.0)])
def test_step_weight_multiplies_the_update(shapes_clf, batch, norm, eps, in_budget):
    x, y = batch
    result = attacks.PGD(eps=eps, steps=10, norm=norm, random_start=False, step_weight=LeftHalfFrozen())(
        shapes_clf, x, y)
    delta = result.x_adv - x
    w = x.shape[2]
    assert np.abs(delta[:, :, : w // 2]).max() == 0.0  # nothing moved where the weight is 0
    assert np.abs(delta[:, :, w // 2:]).max() > 0.5 * (eps if norm == "linf" else 1 / 255)
    in_budget(result.x_adv, x, norm, eps)
    assert result.success_rate > 0.3, result.summary()


def test_context_is_a_plain_record(batch):
    x, y = batch
    ctx = Context(x=tf.constant(x), y=tf.constant(y), labels=tf.constant(y), targeted=False)
    assert ctx.at(tf.constant(3)).step.numpy() == 3 and ctx.step is None and ctx.extras == {}


@pytest.mark.parametrize("bad", [42, "hinge"])
def test_bad_objectives_are_rejected(bad):
    with pytest.raises(ValueError, match="objective must be"):
        attacks.PGD(objective=bad)


def test_bad_step_weight_is_rejected():
    with pytest.raises(ValueError, match="step_weight must be"):
        attacks.PGD(step_weight=3)
