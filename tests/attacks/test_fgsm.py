import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp import attacks


def _hand_fgsm(clf, x, y, eps, target=None, jit=None):
    """x + eps * sign(grad of the CE loss) by hand; ``jit`` True / False computes the
    gradient in a tf.function with / without XLA like the attack does (same float
    order), None eagerly."""

    def grad(xt):
        with tf.GradientTape() as tape:
            tape.watch(xt)
            logits = clf.model(xt, training=False)
            labels = y if target is None else target
            ce = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
            loss = tf.reduce_sum(ce if target is None else -ce)
        return tape.gradient(loss, xt)

    g = (grad if jit is None else tf.function(grad, jit_compile=jit))(tf.constant(x)).numpy()
    return np.clip(x + eps * np.sign(g), 0, 1), g


@pytest.mark.parametrize("jit", [True, False])
def test_fgsm_equals_hand_computed_sign_step(shapes_clf, shapes_data, in_budget, jit):
    x, y = shapes_data.x[:16], shapes_data.y[:16]
    eps = 4 / 255
    result = attacks.FGSM(eps=eps, jit_compile=jit)(shapes_clf, x, y)
    expected, _ = _hand_fgsm(shapes_clf, x, y, eps, jit=jit)
    np.testing.assert_allclose(result.x_adv, expected, atol=1e-6)
    # Eagerly computed gradients differ from compiled ones only where a ReLU
    # input sits within rounding of 0: a handful of pixels in a hundred thousand.
    eager, _ = _hand_fgsm(shapes_clf, x, y, eps)
    assert np.mean(np.abs(result.x_adv - eager) < 1e-6) > 0.9995
    in_budget(result.x_adv, x, "linf", eps)


def test_targeted_fgsm_descends_target_loss(shapes_clf, shapes_data):
    x, y = shapes_data.x[:8], shapes_data.y[:8]
    target = (y + 2) % shapes_clf.num_classes
    result = attacks.FGSM(eps=2 / 255, jit_compile=False)(shapes_clf, x, y, target=target)
    expected, _ = _hand_fgsm(shapes_clf, x, y, 2 / 255, target, jit=False)
    np.testing.assert_allclose(result.x_adv, expected, atol=1e-6)
    before = shapes_clf.probabilities(x)[np.arange(8), target]
    after = shapes_clf.probabilities(result.x_adv)[np.arange(8), target]
    assert np.mean(after > before) >= 0.75


def test_fgsm_l2_step_has_norm_eps(digits_clf, digits_data, in_budget):
    x, y = digits_data.x[:8], digits_data.y[:8]
    result = attacks.FGSM(eps=0.3, norm="l2")(digits_clf, x, y)
    in_budget(result.x_adv, x, "l2", 0.3)
