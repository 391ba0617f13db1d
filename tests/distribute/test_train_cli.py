"""``advinterp train`` (keras_advinterp/cli/train.py), called through its own parser."""

import argparse
import json

import keras
import numpy as np
import pytest

from keras_advinterp import data
from keras_advinterp.cli import train


def _run(argv):
    parser = argparse.ArgumentParser(prog="advinterp")
    train.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["train", *argv])
    return args.run(args)


def test_train_command_trains_and_the_chief_saves_the_model(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    path = tmp_path / "robust.keras"
    _run(["--limit", "32", "--epochs", "2", "--batch-size", "16", "--steps", "1", "--save", str(path), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["replicas"] == 1 and summary["steps_per_epoch"] == 2 and len(summary["loss"]) == 2
    assert summary["chief"] and summary["saved"] == str(path)
    model = keras.models.load_model(path)
    x, y = data.load("shapes", "test", limit=16)
    assert float(np.mean(model.predict(x, verbose=0).argmax(1) == y)) > 0.5  # still a shapes classifier


@pytest.mark.parametrize("argv, env, match", [
    (["--save", "model.h5"], None, "ending in .keras"),
    (["--limit", "0"], None, "--limit must be a positive"),
    (["--strategy", "multiworker"], '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}',
     "task.index=3"),
    (["--attack", "cw"], None, "must have a graph-safe form"),
])
def test_train_command_rejects_bad_settings_first(argv, env, match, monkeypatch):
    if env:
        monkeypatch.setenv("TF_CONFIG", env)
    with pytest.raises(ValueError, match=match):
        _run(argv)
