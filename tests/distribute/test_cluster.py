"""Worker numbering from arguments and TF_CONFIG, strategies, and their errors (before any work)."""

import json

import pytest
import tensorflow as tf

from keras_advinterp import distribute
from keras_advinterp.distribute import WorkerSpec, parse_tf_config, resolve_worker


def _config(cluster, task):
    return json.dumps({"cluster": cluster, "task": task})


@pytest.mark.parametrize("cluster, task, expected", [
    ({"worker": ["a:1", "b:1"]}, {"type": "worker", "index": 1}, (1, 2)),
    ({"worker": ["a:1"]}, {"type": "worker", "index": 0}, (0, 1)),
    ({"chief": ["c:1"], "worker": ["a:1", "b:1"]}, {"type": "chief", "index": 0}, (0, 3)),
    ({"chief": ["c:1"], "worker": ["a:1", "b:1"]}, {"type": "worker", "index": 1}, (2, 3)),
])
def test_tf_config_gives_index_and_count_chief_first(cluster, task, expected):
    spec = parse_tf_config(_config(cluster, task))
    assert (spec.index, spec.count, spec.source) == (*expected, "TF_CONFIG")
    assert spec.is_chief == (expected[0] == 0)


@pytest.mark.parametrize("text, match", [
    ("{not json", "TF_CONFIG is not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    (_config({}, {"type": "worker", "index": 0}), "TF_CONFIG needs 'cluster'"),
    (_config({"worker": "a:1"}, {"type": "worker", "index": 0}), r"cluster\['worker'\] must be a list"),
    (_config({"worker": ["no-port"]}, {"type": "worker", "index": 0}), "'host:port' strings"),
    (json.dumps({"cluster": {"worker": ["a:1"]}}), "TF_CONFIG needs 'task'"),
    (_config({"worker": ["a:1"]}, {"type": "ps", "index": 0}), "task.type='ps'"),
    (_config({"worker": ["a:1"]}, {"type": "chief", "index": 0}), "not in the cluster"),
    (_config({"worker": ["a:1", "b:1"]}, {"type": "worker", "index": 2}), r"in \[0, 1\].*task.index=2"),
    (_config({"worker": ["a:1"]}, {"type": "worker", "index": "0"}), "task.index='0'"),
    (_config({"chief": ["c:1", "d:1"], "worker": []}, {"type": "chief", "index": 0}), "at most one chief"),
])
def test_malformed_tf_config_is_named(text, match):
    with pytest.raises(ValueError, match=match):
        parse_tf_config(text)


@pytest.mark.parametrize("worker, workers, match", [
    (0, 0, "workers must be >= 1.*workers=0"),
    (None, -2, "workers must be >= 1"),
    (2, 2, r"worker must be an index in \[0, 1\].*worker=2"),
    (-1, 3, "worker=-1"),
    (1, None, "worker needs workers"),
    (None, 3, "needs worker"),
    (1.0, 2, "worker must be an integer"),
])
def test_bad_worker_numbers_fail_with_the_value(worker, workers, match):
    with pytest.raises(ValueError, match=match):
        resolve_worker(worker, workers)


def test_resolve_worker_sources(monkeypatch):
    assert resolve_worker() == WorkerSpec(0, 1)
    assert resolve_worker(None, 1) == WorkerSpec(0, 1)
    assert resolve_worker(2, 3) == WorkerSpec(2, 3)
    monkeypatch.setenv("TF_CONFIG", _config({"worker": ["a:1", "b:1", "c:1"]}, {"type": "worker", "index": 2}))
    assert resolve_worker(tf_config=True) == WorkerSpec(2, 3, "TF_CONFIG")
    with pytest.raises(ValueError, match="either from TF_CONFIG or from worker/workers"):
        resolve_worker(0, 3, tf_config=True)
    monkeypatch.delenv("TF_CONFIG")
    with pytest.raises(ValueError, match="TF_CONFIG is not set"):
        resolve_worker(tf_config=True)


def test_strategies_from_a_setting(monkeypatch):
    assert distribute.make_strategy("default") is tf.distribute.get_strategy()
    mirrored = distribute.make_strategy("mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy) and mirrored.num_replicas_in_sync >= 1
    assert distribute.is_chief(mirrored)
    with pytest.raises(ValueError, match="strategy must be one of.*strategy='tpu'"):
        distribute.make_strategy("tpu")
    with pytest.raises(ValueError, match="devices only applies to strategy='mirrored'"):
        distribute.make_strategy("default", devices=["/cpu:0"])
    monkeypatch.setenv("TF_CONFIG", "{broken")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):  # checked before TensorFlow sees it
        distribute.make_strategy("multiworker")


def test_split_cpu_after_start_up_says_when_to_call_it():
    tf.constant(1.0)  # the runtime is up in this process
    with pytest.raises(RuntimeError, match="before TensorFlow initialises its devices"):
        distribute.split_cpu(2)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        distribute.split_cpu(0)
