"""Callbacks in a user's own fit(): robustness under attack in the logs, explanation images per epoch."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp import attacks, data, defenses, models
from keras_advinterp.callbacks import ExplanationLogger, RobustnessMonitor
from keras_advinterp.models.classifier import live_classifier


@pytest.fixture(scope="module")
def train_set():
    return data.load("shapes", "train", limit=64)


def _fresh_model():
    model = models.load("shapes").model  # a new copy each time: the session fixture is never trained
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def test_robustness_monitor_logs_what_a_direct_evaluation_gives(train_set, shapes_correct):
    x_val, y_val = shapes_correct[0][:24], shapes_correct[1][:24]
    attack = attacks.PGD(eps=2 / 255, steps=3)
    monitor = RobustnessMonitor(attack, x_val, y_val)
    stopper = keras.callbacks.EarlyStopping(monitor="val_robust_accuracy", mode="max", patience=5)
    model = _fresh_model()
    hist = model.fit(train_set.x, train_set.y, epochs=2, batch_size=32, verbose=0, callbacks=[monitor, stopper])
    assert set(hist.history) >= {"val_robust_accuracy", "val_attack_success", "val_clean_accuracy"}
    clf = live_classifier(model)
    res = attack(clf, x_val, y_val, batch_size=64, seed=0)
    assert hist.history["val_robust_accuracy"][-1] == pytest.approx(float(np.mean(res.predictions == y_val)))
    assert hist.history["val_attack_success"][-1] == pytest.approx(res.success_rate)
    assert hist.history["val_clean_accuracy"][-1] == pytest.approx(
        float(np.mean(clf.predict(x_val).argmax(1) == y_val)))
    assert len(monitor.history) == 2


def test_monitor_follows_an_adversarial_trainer_inner_model(train_set, shapes_correct):
    inner = _fresh_model()
    trainer = defenses.AdversarialTrainer(inner, attacks.PGD(eps=4 / 255, steps=2), ratio=0.5)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-4), metrics=["accuracy"],
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    monitor = RobustnessMonitor(attacks.FGSM(eps=4 / 255), shapes_correct[0][:16], shapes_correct[1][:16])
    trainer.fit(train_set.x[:32], train_set.y[:32], epochs=1, batch_size=16, verbose=0, callbacks=[monitor])
    assert monitor.classifier().model is inner and 0.0 <= monitor.history[0]["val_robust_accuracy"] <= 1.0


def test_explanation_logger_writes_png_and_tensorboard_images(train_set, shapes_correct, tmp_path):
    logger = ExplanationLogger(shapes_correct[0][:4], out_dir=tmp_path / "png", tensorboard_dir=tmp_path / "tb")
    model = _fresh_model()
    model.fit(train_set.x[:32], train_set.y[:32], epochs=2, batch_size=32, verbose=0, callbacks=[logger])
    assert [p.name for p in logger.written] == ["gradcam_xla_epoch_001.png", "gradcam_xla_epoch_002.png"]
    assert all(p.stat().st_size > 5000 for p in logger.written)
    assert logger.feature_layer == "features"
    events = list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert events
    tags = {v.tag for e in tf.compat.v1.train.summary_iterator(str(events[0])) for v in e.summary.value}
    assert "explanations/gradcam_xla" in tags
    maps, pred, prob = logger.maps()
    assert maps.shape == (4, 64, 64) and np.all((prob > 0) & (prob <= 1))


def test_bad_callback_settings_fail_clearly(shapes_correct):
    x = shapes_correct[0][:4]
    with pytest.raises(ValueError, match="nowhere to write"):
        ExplanationLogger(x, out_dir=None)
    with pytest.raises(ValueError, match="every"):
        RobustnessMonitor(attacks.FGSM(), x, shapes_correct[1][:4], every=0)
    with pytest.raises(ValueError, match="attack"):
        RobustnessMonitor("pgd", x, shapes_correct[1][:4])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        RobustnessMonitor(attacks.FGSM(), x * 255, shapes_correct[1][:4])
