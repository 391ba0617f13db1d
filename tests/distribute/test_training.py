"""Adversarial training under MirroredStrategy (2 logical CPUs) and MultiWorkerMirroredStrategy (2 processes)."""

import os
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp import attacks, data, models
from keras_advinterp.distribute import adversarial_trainer, fit, training

from .conftest import free_ports, result_of, run_processes, tf_config, worker_command

PGD = attacks.PGD(eps=8 / 255, steps=2)


def test_mirrored_training_on_two_logical_devices_lowers_the_loss(mirrored_run):
    r = mirrored_run["train"]
    assert r["replicas"] == 2 and r["steps_per_epoch"] == 2
    # Measured: adversarial loss 1.70 -> 0.31 over 3 epochs of 2 steps (PGD-2 at ratio 0.5, shapes model).
    assert r["loss"][-1] < 0.8 * r["loss"][0], r["loss"]


def test_two_worker_processes_train_in_step(tmp_path):
    ports = free_ports(2)
    commands = [worker_command("train", "--strategy", "multiworker", "--images", "32", "--deadline", "150")
                for _ in ports]
    envs = [{"TF_CONFIG": tf_config(ports, i)} for i in range(2)]
    done = run_processes(commands, envs, timeout=180)
    log = "\n".join(f"===== worker {i} (TF_CONFIG task index {i}, 127.0.0.1:{ports[i]}), exit {code} =====\n"
                    + "\n".join(line for line in text.splitlines() if not _noise(line))
                    for i, (code, text) in enumerate(done))
    (tmp_path / "multiworker.log").write_text(log)
    if os.environ.get("ADVINTERP_MULTIWORKER_LOG"):  # a copy to quote
        Path(os.environ["ADVINTERP_MULTIWORKER_LOG"]).write_text(log)
    print(log)
    assert all(code == 0 for code, _ in done), log[-4000:]
    results = [result_of(text)["train"] for _, text in done]
    assert [r["replicas"] for r in results] == [2, 2]
    assert [r["chief"] for r in results] == [True, False]
    # all-reduced gradients keep the two copies of the model identical
    assert results[0]["weights_checksum"] == pytest.approx(results[1]["weights_checksum"], rel=1e-6)
    assert results[0]["loss"] == pytest.approx(results[1]["loss"], rel=1e-5)  # logs are reduced over workers
    # Measured: 1.70 -> 0.68 -> 0.31 (32 images, global batch 16, PGD-2 at ratio 0.5)
    assert results[0]["loss"][-1] < 0.8 * results[0]["loss"][0], results[0]["loss"]


def _noise(line: str) -> bool:
    return line.startswith(("I0000", "W0000", "E0000", "WARNING: All log messages")) or "cuInit" in line


def test_default_strategy_trains_in_process_and_matches_the_trainer_api(shapes_data):
    keras.utils.set_random_seed(0)
    x, y = data.load("shapes", "train", limit=32)
    top2 = keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")
    trainer = adversarial_trainer("shapes", PGD, ratio=0.5, metrics=["accuracy", top2])
    history = fit(trainer, x, y, batch_size=16, epochs=2)
    assert history["replicas"] == 1 and history["steps_per_epoch"] == 2
    assert set(history) >= {"loss", "accuracy", "top2"} and len(history["loss"]) == 2
    assert trainer.optimizer.iterations.numpy() == 4
    again = fit(trainer, x, y, batch_size=16, epochs=1, seed=1)  # the traced step is reused, not traced again
    (_, step), = training._STEPS[trainer].values()
    assert step.experimental_get_tracing_count() == 1 and trainer.optimizer.iterations.numpy() == 6
    assert again["seconds"][0] < history["seconds"][0]


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 64}, "batch_size must be at most the 32 training images"),
    ({"batch_size": 0}, "batch_size must be > 0"),
    ({"epochs": 0}, "epochs must be > 0"),
    ({"y": np.zeros(5)}, r"one label per image \(32\)"),
    ({"x": np.full((32, 64, 64, 3), 2.0, np.float32)}, r"pixels in \[0, 1\]"),
])
def test_bad_fit_arguments_fail_before_training(kwargs, match):
    x, y = data.load("shapes", "train", limit=32)
    trainer = adversarial_trainer("shapes", PGD)
    args = {"x": x, "y": y, **kwargs}
    with pytest.raises(ValueError, match=match):
        fit(trainer, args.pop("x"), args.pop("y"), **args)
    assert trainer.optimizer.iterations.numpy() == 0


def test_a_model_built_outside_the_scope_or_a_bad_batch_split_is_refused():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    outside = models.load("shapes")
    with pytest.raises(ValueError, match="made outside strategy.scope\\(\\)"):
        adversarial_trainer(outside, PGD, strategy=strategy)
    with pytest.raises(ValueError, match="strategy must be a tf.distribute.Strategy"):
        adversarial_trainer("shapes", PGD, strategy="mirrored")
    with pytest.raises(ValueError, match="must have a graph-safe form"):
        adversarial_trainer("shapes", attacks.CarliniWagnerL2(), strategy=strategy)
    trainer = adversarial_trainer(lambda: models.load("shapes"), PGD, strategy=strategy)
    assert strategy.extended.variable_created_in_scope(trainer.inner.weights[0].value)
    with pytest.raises(ValueError, match="trainer must be an AdversarialTrainer"):
        fit(trainer.inner, np.zeros((4, 64, 64, 3), np.float32), np.zeros(4), strategy=strategy)
