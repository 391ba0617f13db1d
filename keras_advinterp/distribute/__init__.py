"""Scale-out with ``tf.distribute``: data-set-scale adversarial generation and adversarial training.

- ``generate_shard``: worker ``i`` of ``n`` (arguments or ``TF_CONFIG``)
  writes adversarial PNGs for its disjoint share of an image folder,
  checkpointed per chunk so a killed run resumes without redoing or
  duplicating files; ``merge`` checks a run (one output per input) and
  writes ``labels.csv``. Inside a worker, graph-safe attacks run on every
  device of a ``MirroredStrategy``.
- ``adversarial_trainer`` / ``fit``: ``defenses.AdversarialTrainer`` built
  and compiled inside a strategy's scope and trained with the attack in
  each replica's step, under ``MirroredStrategy`` (one host) or
  ``MultiWorkerMirroredStrategy`` (hosts listed in ``TF_CONFIG``).
- ``make_strategy("default" | "mirrored" | "multiworker")``,
  ``resolve_worker`` / ``parse_tf_config`` (checked before any work),
  ``split_cpu`` (logical CPU devices, to try it all without GPUs),
  ``is_chief``.
"""

from __future__ import annotations

from .cluster import (
    STRATEGIES,
    WorkerSpec,
    check_worker,
    is_chief,
    local_devices,
    make_strategy,
    parse_tf_config,
    resolve_worker,
    split_cpu,
    worker_from_tf_config,
)
from .generate import ShardResult, generate_shard, replica_attack
from .shards import MergeReport, merge, output_names, shard_indices
from .training import adversarial_trainer, fit

__all__ = ["STRATEGIES", "WorkerSpec", "check_worker", "is_chief", "local_devices", "make_strategy",
           "parse_tf_config", "resolve_worker", "split_cpu", "worker_from_tf_config", "ShardResult",
           "generate_shard", "replica_attack", "MergeReport", "merge", "output_names", "shard_indices",
           "adversarial_trainer", "fit"]
