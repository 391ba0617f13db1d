import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp.attacks.spatial import StAdv, flow_loss, flow_warp

N = 12


@pytest.fixture
def images(rng):
    return rng.random((2, 7, 9, 3)).astype(np.float32)


def test_zero_flow_is_the_identity(images):
    out = flow_warp(images, np.zeros((2, 7, 9, 2), np.float32))
    np.testing.assert_array_equal(out.numpy(), images)


@pytest.mark.parametrize("dy, dx", [(1, 0), (0, -2), (2, 3)])
def test_integer_flow_shifts_the_image(images, dy, dx):
    flow = np.broadcast_to(np.float32([dy, dx]), (2, 7, 9, 2))
    out = flow_warp(images, flow).numpy()
    h, w = 7, 9
    rows, cols = slice(max(0, -dy), h - max(0, dy)), slice(max(0, -dx), w - max(0, dx))
    src_rows, src_cols = slice(rows.start + dy, rows.stop + dy), slice(cols.start + dx, cols.stop + dx)
    np.testing.assert_array_equal(out[:, rows, cols], images[:, src_rows, src_cols])
    # outside the interior the border pixel is repeated
    if dy > 0 and dx == 0:
        np.testing.assert_array_equal(out[:, -1], images[:, -1])


def test_half_pixel_flow_interpolates_and_compiles(images):
    flow = np.zeros((2, 7, 9, 2), np.float32)
    flow[..., 1] = 0.5
    compiled = tf.function(flow_warp, jit_compile=True)
    out = compiled(tf.constant(images), tf.constant(flow)).numpy()
    np.testing.assert_allclose(out[:, :, :-1], (images[:, :, :-1] + images[:, :, 1:]) / 2, atol=1e-6)


def test_warp_is_differentiable_wrt_flow(images):
    flow = tf.Variable(tf.fill((2, 7, 9, 2), 0.3))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(flow_warp(images, flow))) + tf.reduce_sum(flow_loss(flow))
    grad = tape.gradient(loss, flow).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).mean() > 1e-3


def test_flow_loss_is_zero_for_constant_flow_and_grows_with_roughness():
    const = flow_loss(tf.fill((1, 4, 4, 2), 0.7)).numpy()
    rough = np.zeros((1, 4, 4, 2), np.float32)
    rough[0, 1, 1] = [3.0, 4.0]  # one pixel moved by 5: 4 neighbour pairs of length 5
    np.testing.assert_allclose(const, 24 * np.sqrt(1e-8), rtol=1e-3)
    np.testing.assert_allclose(flow_loss(rough).numpy(), 4 * 5.0 + 20 * np.sqrt(1e-8), rtol=1e-5)


FAST = dict(steps=50, learning_rate=0.05)
MEAN_FLOW = 0.15  # measured mean displacement 0.065 px on digits (max_flow=0.5, 20 steps, success 1.00)


@pytest.fixture(scope="module")
def stadv_result(shapes_clf, shapes_correct):
    x, y, _ = shapes_correct
    attack = StAdv(**FAST)
    return attack, attack(shapes_clf, x[:N], y[:N], batch_size=N), x[:N], y[:N]


def test_stadv_fools_shapes_model(stadv_result):
    _, result, x, y = stadv_result
    assert result.success_rate >= 0.4, result.summary()  # measured 0.50 (6/12); defaults (lr 0.01, 100 steps) 0.42
    assert np.array_equal(result.success, result.predictions != y)
    assert result.x_adv.min() >= 0.0 and result.x_adv.max() <= 1.0
    assert result.x_adv.shape == x.shape and result.x_adv.dtype == np.float32


def test_flows_are_small_smooth_bounded_and_give_x_adv(digits_clf, digits_data):
    x, y = digits_data.x[:N], digits_data.y[:N]
    attack = StAdv(max_flow=0.5, steps=20, learning_rate=0.1)
    result = attack(digits_clf, x, y, batch_size=N)
    flow = attack.flows(digits_clf, x, y, batch_size=N)  # the same compiled search, no retrace
    assert flow.shape == x.shape[:3] + (2,)
    np.testing.assert_allclose(np.clip(flow_warp(x, flow).numpy(), 0, 1), result.x_adv, atol=1e-5)
    length = np.sqrt((flow**2).sum(-1))
    assert length.max() <= 0.5 + 1e-5
    assert length.mean() < MEAN_FLOW, length.mean()


def test_targeted_stadv_reaches_target(digits_clf, digits_data):
    x, y = digits_data.x[:N], digits_data.y[:N]
    target = (y + 1) % digits_clf.num_classes
    result = StAdv(**FAST)(digits_clf, x, y, target=target, batch_size=N)
    assert np.array_equal(result.success, result.predictions == target)
    assert result.success_rate >= 0.75, result.summary()  # measured 1.00 (12/12)
    assert result.x_adv.min() >= 0.0 and result.x_adv.max() <= 1.0


@pytest.mark.parametrize("kwargs, match", [
    ({"tau": -0.1}, "tau must be >= 0"),
    ({"steps": 0}, "steps must be > 0"),
    ({"steps": 2.5}, "steps must be an integer"),
    ({"learning_rate": 0.0}, "learning_rate must be > 0"),
    ({"confidence": float("inf")}, "confidence must be >= 0"),
    ({"max_flow": 0}, "max_flow must be > 0"),
    ({"max_flow": "1"}, "max_flow must be a number"),
])
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StAdv(**kwargs)
