"""Who this process is in a cluster, and the ``tf.distribute`` strategy it runs under.

A job of ``n`` workers numbers them ``0 .. n-1``. The number comes either
from arguments (``worker=i, workers=n``) or from ``TF_CONFIG``, the JSON
that ``MultiWorkerMirroredStrategy`` reads on every host::

    TF_CONFIG='{"cluster": {"worker": ["host0:2222", "host1:2222"]},
                "task": {"type": "worker", "index": 1}}'

A ``chief`` entry, if the cluster has one, counts as worker 0 and the
``worker`` entries follow it. ``TF_CONFIG`` is checked here, with the bad
field named, before TensorFlow sees it (TensorFlow's own errors for a
malformed one are hard to read, or come only once the collectives time out).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

STRATEGIES = ("default", "mirrored", "multiworker")
WORKER_TYPES = ("chief", "worker")  # task types that hold a replica of the model


@dataclass(frozen=True)
class WorkerSpec:
    """Worker ``index`` of ``count`` (``0 <= index < count``), and where the numbers came from."""

    index: int
    count: int
    source: str = "arguments"

    @property
    def is_chief(self) -> bool:
        return self.index == 0

    def __str__(self) -> str:
        return f"worker {self.index} of {self.count} ({self.source})"


def check_worker(index, count) -> WorkerSpec:
    """``WorkerSpec(index, count)`` after checking ``count >= 1`` and ``0 <= index < count``."""
    for name, value in (("workers", count), ("worker", index)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer. Received: {name}={value!r}")
    if count < 1:
        raise ValueError(f"workers must be >= 1 (the number of worker processes). Received: workers={count}")
    if not 0 <= index < count:
        raise ValueError(f"worker must be an index in [0, {count - 1}] for workers={count}. "
                         f"Received: worker={index}")
    return WorkerSpec(index, count)


def parse_tf_config(text: str) -> WorkerSpec:
    """The worker index and count that a ``TF_CONFIG`` string describes (ValueError naming a bad field)."""
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e.msg} at character {e.pos}). "
                         f"Received: TF_CONFIG={text!r}") from None
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object with 'cluster' and 'task'. Received: TF_CONFIG={text!r}")
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError("TF_CONFIG needs 'cluster': an object such as {\"worker\": [\"host0:2222\", "
                         f"\"host1:2222\"]}}. Received: cluster={cluster!r}")
    for kind, hosts in cluster.items():
        if not isinstance(hosts, list) or not all(isinstance(h, str) and ":" in h for h in hosts):
            raise ValueError(f"TF_CONFIG cluster[{kind!r}] must be a list of 'host:port' strings. "
                             f"Received: cluster[{kind!r}]={hosts!r}")
    if not isinstance(task, dict):
        raise ValueError("TF_CONFIG needs 'task': an object such as {\"type\": \"worker\", \"index\": 0}. "
                         f"Received: task={task!r}")
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in WORKER_TYPES:
        raise ValueError(f"TF_CONFIG task type must be one of {WORKER_TYPES} for a worker that holds a replica. "
                         f"Received: task.type={kind!r}")
    if kind not in cluster:
        raise ValueError(f"TF_CONFIG task type {kind!r} is not in the cluster ({sorted(cluster)}). "
                         f"Received: task.type={kind!r}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise ValueError(f"TF_CONFIG task index must be an integer in [0, {len(cluster[kind]) - 1}] (cluster "
                         f"{kind!r} has {len(cluster[kind])} entries). Received: task.index={index!r}")
    chiefs = len(cluster.get("chief", []))
    if chiefs > 1:
        raise ValueError(f"TF_CONFIG may have at most one chief. Received: cluster['chief']={cluster['chief']!r}")
    position = index if kind == "chief" else chiefs + index
    spec = check_worker(position, chiefs + len(cluster.get("worker", [])))
    return WorkerSpec(spec.index, spec.count, "TF_CONFIG")


def worker_from_tf_config(environ=None) -> WorkerSpec | None:
    """The ``WorkerSpec`` of ``TF_CONFIG`` in ``environ`` (default ``os.environ``), or None when it is unset."""
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    return parse_tf_config(text) if text else None


def resolve_worker(worker=None, workers=None, *, tf_config: bool = False, environ=None) -> WorkerSpec:
    """This process's place in the job, checked before any work.

    ``worker`` / ``workers`` as given (both or neither); with
    ``tf_config=True`` they come from ``TF_CONFIG`` instead (which must be
    set). Neither given and no ``tf_config``: worker 0 of 1.
    """
    if tf_config:
        if worker is not None or workers is not None:
            raise ValueError("take the worker index either from TF_CONFIG or from worker/workers, not both. "
                             f"Received: worker={worker!r}, workers={workers!r}, tf_config=True")
        spec = worker_from_tf_config(environ)
        if spec is None:
            raise ValueError("tf_config=True but TF_CONFIG is not set in the environment. Received: TF_CONFIG=''")
        return spec
    if worker is None and workers is None:
        return WorkerSpec(0, 1)
    if workers is None:
        raise ValueError(f"worker needs workers (the number of worker processes) too. Received: worker={worker!r}")
    if worker is None:
        check_worker(0, workers)  # a bad count is reported first
        if workers > 1:
            raise ValueError(f"workers={workers} needs worker (this process's index in [0, {workers - 1}]). "
                             f"Received: worker=None")
        worker = 0
    return check_worker(worker, workers)


def local_devices() -> list[str]:
    """This host's accelerators for a MirroredStrategy: every GPU, else every logical CPU device."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]


def split_cpu(n: int) -> list[str]:
    """Splits the host CPU into ``n`` logical devices (testing ``MirroredStrategy`` without GPUs).

    Must run before TensorFlow initialises its devices (before any tensor
    is made); afterwards TensorFlow refuses and this raises RuntimeError.
    """
    import tensorflow as tf

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1 (logical CPU devices). Received: n={n!r}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError as e:
        raise RuntimeError(f"split_cpu({n}) must run before TensorFlow initialises its devices (before any "
                           f"tensor or model is made): call it first in the process. TensorFlow said: {e}") from e
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def make_strategy(kind: str = "default", *, devices=None):
    """A ``tf.distribute.Strategy`` from a simple setting.

    Args:
        kind: ``default`` (no distribution: one device), ``mirrored``
            (``MirroredStrategy`` over ``devices``, default every GPU of this
            host, else every logical CPU device) or ``multiworker``
            (``MultiWorkerMirroredStrategy``; the cluster comes from
            ``TF_CONFIG``, checked here first; without it, a one-worker job).
        devices: device names for ``mirrored``.

    ``multiworker`` must be made at program start, before TensorFlow runs
    anything: its collectives are configured when the runtime starts.
    """
    import tensorflow as tf

    if kind not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}. Received: strategy={kind!r}")
    if devices is not None and kind != "mirrored":
        raise ValueError(f"devices only applies to strategy='mirrored'. Received: strategy={kind!r}, "
                         f"devices={devices!r}")
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy(devices=list(devices) if devices else local_devices())
    worker_from_tf_config()  # a malformed TF_CONFIG fails here, with the field named
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except (RuntimeError, ValueError) as e:
        raise RuntimeError(f"could not start MultiWorkerMirroredStrategy: make it first in the program, before "
                           f"any TensorFlow work, with TF_CONFIG set. TensorFlow said: {e}") from e


def is_chief(strategy) -> bool:
    """Whether this process should write the shared outputs (model files, summaries) of a job."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().jobs
