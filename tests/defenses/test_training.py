"""Adversarial training as a train_step wrapper: robustness gain, ratio 0 = plain training, callbacks, saving."""

import keras
import numpy as np
import pytest

from keras_advinterp import attacks, data, models
from keras_advinterp.defenses import AdversarialTrainer, adversarial_model
from keras_advinterp.defenses import training as training_mod

CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _tiny(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(3)(x), name="tiny")


def _tiny_data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 16, 16, 3), dtype=np.float32), rng.integers(0, 3, n).astype(np.int32)


def test_a_short_adversarial_fine_tune_raises_pgd_accuracy_on_shapes():
    keras.utils.set_random_seed(0)
    xt, yt = data.load("shapes", "train", limit=384)
    xv, yv = data.load("shapes", "test", limit=96)
    clf = models.load("shapes")
    pgd = attacks.PGD(eps=8 / 255, steps=3)
    before = 1 - pgd(clf, xv, yv).success_rate
    trainer = AdversarialTrainer(clf, pgd, ratio=0.5)
    trainer.compile(optimizer=keras.optimizers.Adam(3e-4), loss=CE, metrics=["accuracy"])
    trainer.fit(xt, yt, batch_size=32, epochs=1, verbose=0)  # 12 steps
    assert trainer.inner is clf.model  # trained in place: the Classifier sees the new weights
    after = 1 - pgd(clf, xv, yv).success_rate
    clean = float(np.mean(clf.predict(xv).argmax(1) == yv))
    # Measured: PGD-3 accuracy 4 % -> 56 %, clean 95 % (100 % before).
    assert before < 0.15 and after > before + 0.25, (before, after)
    assert clean > 0.8


def test_ratio_zero_is_plain_training():
    x, y = _tiny_data()
    plain, wrapped = _tiny(), _tiny()
    wrapped.set_weights(plain.get_weights())
    plain.compile(optimizer=keras.optimizers.SGD(0.1), loss=CE)
    trainer = AdversarialTrainer(wrapped, attacks.PGD(eps=8 / 255, steps=2), ratio=0.0)
    trainer.compile(optimizer=keras.optimizers.SGD(0.1), loss=CE)
    plain.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    trainer.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(plain.get_weights(), wrapped.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(plain.get_weights()[0], _tiny().get_weights()[0])  # the step did change them


def test_the_batch_is_mixed_at_the_ratio_and_user_callbacks_see_the_logs():
    x, y = _tiny_data(40)
    trainer = adversarial_model(_tiny(), attacks.FGSM(eps=0.1), ratio=0.25, adversarial_metric=True)
    mixed = trainer.adversarial_batch(x[:8], y[:8]).numpy()
    changed = np.abs(mixed - x[:8]).reshape(8, -1).max(axis=1) > 1e-6
    assert changed.tolist() == [True, True] + [False] * 6  # round(0.25 * 8) = 2 first images attacked

    class Record(keras.callbacks.Callback):
        batches, epochs = [], []

        def on_train_batch_end(self, batch, logs=None):
            self.batches.append(dict(logs))

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(dict(logs))

    trainer.compile(optimizer="adam", loss=CE, metrics=["accuracy"])
    rec = Record()
    trainer.fit(x, y, batch_size=16, epochs=2, validation_data=(x[:16], y[:16]), callbacks=[rec], verbose=0)
    assert len(rec.batches) == 6 and len(rec.epochs) == 2
    assert "loss" in rec.batches[0] and "adv_accuracy" not in rec.batches[0]
    assert {"accuracy", "val_accuracy", "val_adv_accuracy"} <= set(rec.epochs[-1])
    results = trainer.evaluate(x, y, verbose=0, return_dict=True)
    assert 0.0 <= results["adv_accuracy"] <= 1.0


def test_weights_save_and_load_and_the_inner_model_is_the_trained_one(tmp_path):
    x, y = _tiny_data()
    inner = _tiny()
    trainer = AdversarialTrainer(inner, attacks.PGD(eps=4 / 255, steps=2), ratio=1.0)
    trainer.compile(optimizer="adam", loss=CE)
    trainer.fit(x, y, batch_size=16, epochs=1, verbose=0)
    expected = inner.predict(x, verbose=0)
    np.testing.assert_allclose(trainer.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    trainer.save_weights(tmp_path / "w.weights.h5")
    other = AdversarialTrainer(_tiny(seed=1), attacks.PGD(eps=4 / 255, steps=2), ratio=1.0)
    other.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(other.inner.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    trainer.inner.save(tmp_path / "robust.keras")
    loaded = keras.models.load_model(tmp_path / "robust.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(NotImplementedError, match="trainer.inner.save"):
        trainer.get_config()


def test_clear_errors(monkeypatch):
    model, pgd = _tiny(), attacks.PGD(eps=4 / 255, steps=2)
    for bad in (-0.1, 1.5, float("nan"), "half"):
        with pytest.raises(ValueError, match="ratio"):
            AdversarialTrainer(model, pgd, ratio=bad)
    with pytest.raises(ValueError, match="graph-safe"):
        AdversarialTrainer(model, attacks.DeepFool(), ratio=0.5)
    with pytest.raises(ValueError, match="graph_function"):
        AdversarialTrainer(model, lambda x, y: x, ratio=0.5)
    with pytest.raises(ValueError, match="keras.Model"):
        AdversarialTrainer("model", pgd)
    monkeypatch.setattr(training_mod.keras.backend, "backend", lambda: "jax")
    with pytest.raises(RuntimeError, match="TensorFlow backend"):
        AdversarialTrainer(model, pgd)
