"""Interpretation-robust training (AdvEdge, Sec. VIII, Eqs. 20-21): steadier CAM under PGD, plain when beta = 0."""

import keras
import numpy as np
import pytest

from keras_advinterp import attacks, data, interpret, models
from keras_advinterp.defenses import InterpretationRobustTrainer, map_discrepancy
from keras_advinterp.defenses import interpretation_training as irt_mod
from keras_advinterp.interpret import metrics

CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _tiny(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = keras.layers.BatchNormalization(name="features")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(3)(x), name="tiny")


def _tiny_data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 16, 16, 3), dtype=np.float32), rng.integers(0, 3, n).astype(np.int32)


def _cam_tau_under_pgd(clf, x, y):
    res = attacks.PGD(eps=8 / 255, steps=5)(clf, x, y, seed=0)
    cam = interpret.get("cam", clf)
    return float(metrics.kendall_tau(cam(x, y), cam(res.x_adv, y)).mean()), 1 - res.success_rate


def test_robust_fine_tuning_keeps_cam_steadier_under_pgd_than_normal_training(shapes_clf, shapes_data):
    xt, yt = data.load("shapes", "train", limit=128)
    xv, yv = shapes_data.x[:48], shapes_data.y[:48]
    tau_normal, _ = _cam_tau_under_pgd(shapes_clf, xv, yv)
    keras.utils.set_random_seed(0)
    clf = models.load("shapes")
    trainer = InterpretationRobustTrainer(clf, attacks.PGD(eps=8 / 255, steps=2), beta=2.0)
    trainer.compile(optimizer=keras.optimizers.Adam(3e-4), loss=CE, jit_compile=False)  # XLA: +10 s compile
    hist = trainer.fit(xt, yt, batch_size=32, epochs=2, verbose=0).history
    assert trainer.inner is clf.model
    tau_robust, pgd_accuracy = _cam_tau_under_pgd(clf, xv, yv)
    clean = float(np.mean(clf.predict(xv).argmax(1) == yv))
    # Measured: tau 0.61 (normal) -> 0.79 (8 steps of robust fine-tuning), PGD-5 accuracy 0 -> 0.15, clean 1.0.
    assert tau_robust > tau_normal + 0.1, (tau_normal, tau_robust)
    assert clean >= 0.9
    assert hist["interpretation_loss"][-1] < hist["interpretation_loss"][0]


def test_beta_zero_with_batch_statistics_is_plain_training():
    x, y = _tiny_data()
    plain, wrapped = _tiny(), _tiny()
    wrapped.set_weights(plain.get_weights())
    plain.compile(optimizer=keras.optimizers.SGD(0.1), loss=CE)
    trainer = InterpretationRobustTrainer(wrapped, attacks.PGD(eps=8 / 255, steps=2), beta=0.0, bn_training=True,
                                          feature_layer="features")
    trainer.compile(optimizer=keras.optimizers.SGD(0.1), loss=CE)
    plain.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    trainer.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(plain.get_weights(), wrapped.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_penalty_is_logged_on_training_batches_only_and_the_discrepancy_forms():
    x, y = _tiny_data(32)
    trainer = InterpretationRobustTrainer(_tiny(), attacks.FGSM(eps=0.1), beta=1.0, feature_layer="features",
                                          discrepancy="l1")
    trainer.compile(optimizer="adam", loss=CE, metrics=["accuracy"])
    hist = trainer.fit(x, y, batch_size=16, epochs=1, validation_data=(x[:16], y[:16]), verbose=0).history
    assert hist["interpretation_loss"][0] > 0 and "val_interpretation_loss" not in hist
    maps = np.random.default_rng(0).random((2, 8, 8), dtype=np.float32)
    np.testing.assert_allclose(map_discrepancy(maps, maps).numpy(), [0, 0])
    np.testing.assert_allclose(map_discrepancy(maps, 1 - maps).numpy(), np.abs(2 * maps - 1).mean(axis=(1, 2)),
                               rtol=1e-6)
    two = InterpretationRobustTrainer(trainer.inner, attacks.FGSM(eps=0.1), feature_layer="features")
    xa = np.clip(x[:4] + 0.1, 0, 1)
    d_two = two.interpretation_discrepancy(x[:4], xa, y[:4]).numpy()
    d_one = trainer.interpretation_discrepancy(x[:4], xa, y[:4]).numpy()
    assert d_two.shape == d_one.shape == (4,) and np.all(d_two >= 0)
    with pytest.raises(NotImplementedError, match="trainer.inner.save"):
        trainer.get_config()


def test_clear_errors(monkeypatch):
    model, pgd = _tiny(), attacks.PGD(eps=4 / 255, steps=2)
    for bad in (-0.5, float("nan"), "big"):
        with pytest.raises(ValueError, match="beta"):
            InterpretationRobustTrainer(model, pgd, beta=bad, feature_layer="features")
    with pytest.raises(ValueError, match="discrepancy"):
        InterpretationRobustTrainer(model, pgd, discrepancy="l2", feature_layer="features")
    with pytest.raises(ValueError, match="interpreter must be one of"):
        InterpretationRobustTrainer(model, pgd, interpreter="mask", feature_layer="features")
    with pytest.raises(ValueError, match="graph-safe"):
        InterpretationRobustTrainer(model, attacks.DeepFool(), feature_layer="features")
    with pytest.raises(ValueError, match="keras.Model"):
        InterpretationRobustTrainer("model", pgd)
    monkeypatch.setattr(irt_mod.keras.backend, "backend", lambda: "jax")
    with pytest.raises(RuntimeError, match="TensorFlow backend"):
        InterpretationRobustTrainer(model, pgd, feature_layer="features")
