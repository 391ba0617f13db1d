"""Incremental inference (each grid's copy computed on its window only) gives the plain forward's logits."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp import models
from keras_advinterp.analysis import pse
from keras_advinterp.models import Classifier
from keras_advinterp.models.layers import PixelPreprocessing, ResizeTo
from keras_advinterp.surgery import incremental
from keras_advinterp.surgery.incremental import IncrementalForward


@keras.saving.register_keras_serializable(package="tests")
class Unknown(keras.layers.Layer):
    """A layer incremental inference does not know: the copies are written out whole before it."""

    def call(self, x):
        return x * 0.5 + 0.1


def every_kind(resize: int | None = None, unknown: bool = False) -> keras.Model:
    """A random CNN with every layer kind the windows pass through (and optionally one they do not)."""
    keras.utils.set_random_seed(5)
    inp = keras.Input((None, None, 3))
    x = ResizeTo(24, 24)(inp) if resize else inp
    x = PixelPreprocessing("tf")(x)
    x = keras.layers.ZeroPadding2D(((1, 2), (2, 1)))(x)
    x = keras.layers.Conv2D(8, 5, strides=2, padding="valid", activation="relu")(x)
    a = keras.layers.Conv2D(8, 3, padding="same", dilation_rate=2)(x)
    a = keras.layers.BatchNormalization()(a)
    b = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=1)(x)
    b = keras.layers.LeakyReLU(0.1)(b)
    x = keras.layers.Add()([a, b])
    x = keras.layers.MaxPooling2D(3, strides=1, padding="same")(x)
    if unknown:
        x = Unknown()(x)
    c = keras.layers.Conv2D(4, 1)(x)
    d = keras.layers.AveragePooling2D(2, strides=1, padding="valid")(keras.layers.ZeroPadding2D(((1, 0), (1, 0)))(x))
    x = keras.layers.Concatenate()([c, keras.layers.Multiply()([d, d])])
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(6, 3, padding="same")(x)
    out = keras.layers.Dense(5)(keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(inp, out)


def masked_copies(x0, xa, boxes, ids):
    copies = np.repeat(xa[None], len(ids), axis=0)
    for j, i in enumerate(ids):
        y0, y1, c0, c1 = boxes[i]
        copies[j, y0:y1, c0:c1] = x0[y0:y1, c0:c1]
    return copies


@pytest.mark.parametrize("size, resize, unknown", [(24, None, False), (21, 24, False), (24, None, True)],
                         ids=["native", "resized", "unknown-layer"])
def test_every_layer_kind_gives_the_plain_forwards_logits(size, resize, unknown):
    model = every_kind(resize, unknown)
    layout = pse.grid_layout((size, size), 3 if size == 21 else 4)
    boxes = layout.boxes()
    fwd = IncrementalForward(model, boxes, (size, size, 3), max_fraction=0.9)
    rng = np.random.default_rng(1)
    x0 = rng.uniform(0, 1, (size, size, 3)).astype(np.float32)
    xa = np.clip(x0 + rng.uniform(-0.1, 0.1, x0.shape), 0, 1).astype(np.float32)
    ids = np.array([0, layout.m - 1, layout.m // 2, 1, layout.m // 2], np.int32)  # corners, middle, a repeat
    z_clean, z = tf.function(fwd)(xa, x0, ids)
    ref = model(masked_copies(x0, xa, boxes, ids)).numpy()
    np.testing.assert_allclose(z_clean.numpy(), model(xa[None]).numpy()[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(z.numpy(), ref, rtol=1e-5, atol=1e-5)
    # the copies really differ, and the windows really ran: the first convs computed less than their maps
    assert np.abs(ref - model(xa[None]).numpy()).max() > 1e-3
    how = {name: (kind, share) for name, kind, share in fwd.plan}
    first_conv = next(name for name, kind, _ in fwd.plan if name.startswith("conv2d"))
    assert how[first_conv][0] == "window" and how[first_conv][1] < 0.5
    assert fwd.saving > 0.2
    if resize:
        assert how[next(n for n in how if n.startswith("resize_to"))][0] == "whole, then windows"
    if unknown:  # the unknown layer and everything after it run on whole copies
        after = [kind for name, kind, _ in fwd.plan[[n for n, *_ in fwd.plan].index("unknown") :]]
        assert set(after) == {"whole"}


def test_windows_stop_at_max_fraction():
    model = every_kind()
    boxes = pse.grid_layout((24, 24), 4).boxes()
    small = IncrementalForward(model, boxes, (24, 24, 3), max_fraction=0.05)
    large = IncrementalForward(model, boxes, (24, 24, 3), max_fraction=1.0)
    assert all(share <= 0.05 for name, kind, share in small.plan if kind == "window" and "conv" in name)
    assert small.saving < large.saving


def test_grid_sensitivity_incremental_equals_full_on_the_shapes_model():
    clf = models.load("shapes")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (2, 64, 64, 3)).astype(np.float32)
    x_adv = np.clip(x + (8 / 255) * np.sign(rng.standard_normal(x.shape)), 0, 1).astype(np.float32)
    x_adv[1, :8, :8] = x[1, :8, :8]  # one untouched grid: no forward, exact zeros either way
    y, t = np.array([0, 1]), np.array([2, 3])
    full = pse.grid_sensitivity(clf, x, x_adv, y, t, grids=8, method="full", chunk=16)
    inc = pse.grid_sensitivity(clf, x, x_adv, y, t, grids=8, method="incremental", chunk=16)
    np.testing.assert_allclose(inc.z_adv, full.z_adv, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(inc.change0, full.change0, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(inc.changet, full.changet, rtol=1e-3, atol=1e-4)
    assert inc.change0[1, 0] == 0 and inc.changet[1, 0] == 0
    assert np.abs(full.change0).max() > 1e-2
    fwd, _ = pse.sensitivity._incremental(clf, inc.layout, 3, 0.5, False)
    assert fwd.saving > 0.5  # auto takes it (MIN_SAVING)


def test_bad_settings_are_named():
    clf = models.load("shapes")
    x = np.zeros((1, 64, 64, 3), np.float32)
    with pytest.raises(ValueError, match=r"method must be one of .*Received: method='fast'"):
        pse.grid_sensitivity(clf, x, x + 0.1, [0], [1], grids=8, method="fast")
    with pytest.raises(ValueError, match=r"max_fraction must be in \(0, 1\]"):
        pse.grid_sensitivity(clf, x, x + 0.1, [0], [1], grids=8, max_fraction=0)
    with pytest.raises(ValueError, match=r"box 1 is \[0, 9, 0, 4\]"):
        IncrementalForward(clf.model, [[0, 4, 0, 4], [0, 9, 0, 4]], (8, 8, 3))
    inp = keras.Input((8, 8, 1))
    linear = Classifier(keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(inp))), class_names=None,
                        input_size=(8, 8), feature_layer=None, name="lin", weights_source="random", channels=1)
    z = np.zeros((1, 8, 8, 1), np.float32)
    sens = pse.grid_sensitivity(linear, z, z + 0.5, [0], [1], grids=2)  # auto: no convs, the plain forward
    fwd, _ = pse.sensitivity._incremental(linear, sens.layout, 1, 0.5, False, "incremental")
    assert sens.s.shape == (1, 4) and fwd.saving == 0



def test_a_model_the_window_rules_cannot_run_takes_the_plain_forward(monkeypatch):
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3))
    out = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, padding="same")(inp)))
    clf = Classifier(keras.Model(inp, out), class_names=None, input_size=(8, 8), feature_layer=None, name="odd",
                     weights_source="random")

    def cannot(*args, **kwargs):
        raise TypeError("a layer the windows cannot pass")

    monkeypatch.setattr(incremental, "IncrementalForward", cannot)
    x = np.random.default_rng(0).uniform(0, 0.9, (1, 8, 8, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match=r"incremental inference cannot run model 'odd' \(TypeError: a layer.*plain"):
        sens = pse.grid_sensitivity(clf, x, x + 0.05, [0], [1], grids=2)
    full = pse.grid_sensitivity(clf, x, x + 0.05, [0], [1], grids=2, method="full")
    np.testing.assert_allclose(sens.change0, full.change0)
    with pytest.raises(ValueError, match=r"method='incremental' cannot run model 'odd'.*Use method='full'"):
        pse.grid_sensitivity(clf, x, x + 0.05, [0], [1], grids=2, method="incremental")
