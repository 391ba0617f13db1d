"""The compiled, differentiable twins agree with tf-keras-vis and have gradients."""

import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp import interpret, models
from keras_advinterp.interpret.differentiable import upsample, zoom_matrix


def test_zoom_matrix_matches_scipy(rng):
    from scipy.ndimage import zoom

    small = rng.random((2, 5, 7)).astype(np.float32)
    ours = upsample(tf.constant(small), 23, 16).numpy()
    ref = zoom(small, (1, 23 / 5, 16 / 7), order=1)
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    assert zoom_matrix(9, 1).sum() == 9


@pytest.mark.parametrize("twin, reference", [
    (interpret.CAM, interpret.GradCAM),
    (interpret.GradCAMXLA, interpret.GradCAM),
    (interpret.Grad, interpret.Saliency),
])
@pytest.mark.parametrize("model", ["shapes", "digits"])
def test_twin_agrees_with_tf_keras_vis_on_embedded_models(twin, reference, model, shapes_clf, digits_clf,
                                                           shapes_data, digits_data):
    clf, d = (shapes_clf, shapes_data) if model == "shapes" else (digits_clf, digits_data)
    x, y = d.x[:8], d.y[:8]
    interp, ref = twin(clf), reference(clf)(x, y)
    # the same math as tf-keras-vis: run eagerly, the twin matches it everywhere
    eager = interp.maps(tf.constant(x), tf.constant(y)).numpy()
    assert np.abs(eager - ref).max() < 1e-3
    # compiled with XLA: the same except where a ReLU input sits within
    # rounding of 0; one such flip moves the gradient over that unit's
    # receptive field (seen: 56 of 32768 pixels on shapes for Grad)
    compiled = interp(x, y)
    assert np.mean(np.abs(compiled - ref) < 1e-3) > 0.995
    assert np.median(np.abs(compiled - ref)) < 1e-5


@pytest.fixture(scope="module")
def resnet():
    return models.load("resnet50", weights=None)


def test_gradcam_twin_agrees_on_resnet50(resnet, rng):
    x = rng.random((2, 224, 224, 3), dtype=np.float32)
    cls = np.array([3, 997])
    ours = interpret.GradCAMXLA(resnet)(x, cls)
    ref = interpret.GradCAM(resnet)(x, cls)
    assert np.abs(ours - ref).max() < 1e-3
    assert np.abs(interpret.CAM(resnet)(x, cls) - ref).max() < 1e-3  # GAP + dense head


@pytest.mark.parametrize("make", [
    lambda c: interpret.CAM(c),
    lambda c: interpret.GradCAMXLA(c),
    lambda c: interpret.Grad(c, relu_beta=10.0),
])
def test_maps_are_differentiable_in_the_input(make, digits_clf, digits_data):
    interp = make(digits_clf)
    x = tf.constant(digits_data.x[:4])
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(interp.maps(x, tf.constant(digits_data.y[:4]))[:, :8, :8])
    g = tape.gradient(loss, x)
    assert g is not None and float(tf.reduce_mean(tf.abs(g))) > 1e-4


def test_plain_relu_grad_has_no_second_derivative_smooth_one_does(digits_clf, digits_data):
    """Why relu_beta exists (seeds/003_95601c10b3bd7c9c.txt, Sec. IV): ReLU nets give an all-zero Hessian."""
    x = tf.constant(digits_data.x[:4])
    y = tf.constant(digits_data.y[:4])
    norms = []
    for beta in (None, 10.0):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(interpret.Grad(digits_clf, relu_beta=beta).maps(x, y)[:, :8, :8])
        norms.append(float(tf.reduce_sum(tf.abs(tape.gradient(loss, x)))))
    assert norms[0] == 0.0 and norms[1] > 1e-3


def test_smooth_relu_copy_stays_close(digits_clf, digits_data):
    plain = interpret.Grad(digits_clf)(digits_data.x[:8], digits_data.y[:8])
    smooth = interpret.Grad(digits_clf, relu_beta=50.0)(digits_data.x[:8], digits_data.y[:8])
    assert metrics_tau(plain, smooth) > 0.5


def metrics_tau(a, b):
    return interpret.metrics.kendall_tau(a, b).mean()


def test_compiled_twin_is_cached_per_setting(digits_clf, digits_data):
    interpret.CAM(digits_clf)(digits_data.x[:4], digits_data.y[:4])
    keys = [k for k in digits_clf._compiled if k[:2] == ("interpret", "cam")]
    interpret.CAM(digits_clf)(digits_data.x[:4], digits_data.y[:4])
    assert [k for k in digits_clf._compiled if k[:2] == ("interpret", "cam")] == keys and len(keys) == 1


def test_grad_twin_agrees_with_saliency_on_resnet50(resnet, rng):
    x = rng.random((2, 224, 224, 3), dtype=np.float32)
    cls = np.array([1, 500])
    eager = interpret.Grad(resnet).maps(tf.constant(x), tf.constant(cls)).numpy()
    assert np.abs(eager - interpret.Saliency(resnet)(x, cls)).max() < 1e-3


def test_gradcam_twin_honours_a_feature_layer_override(shapes_clf, shapes_data):
    x, y = shapes_data.x[:4], shapes_data.y[:4]
    ours = interpret.GradCAMXLA(shapes_clf, feature_layer="block1_out").maps(tf.constant(x), tf.constant(y)).numpy()
    ref = interpret.GradCAM(shapes_clf, feature_layer="block1_out")(x, y)
    assert np.abs(ours - ref).max() < 1e-3
    default = interpret.GradCAMXLA(shapes_clf)(x, y)
    assert np.abs(ours - default).max() > 0.05  # a different layer gives a different map
