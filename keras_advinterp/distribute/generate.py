"""Adversarial copies of a whole image folder, sharded over workers and resumable.

    from keras_advinterp import attacks, models
    from keras_advinterp.distribute import generate_shard

    clf = models.load("shapes")
    # on host i of n (or worker=None, workers=None with TF_CONFIG set and tf_config=True)
    generate_shard(clf, attacks.PGD(eps=8 / 255, steps=10), "data/", "adv/", worker=i, workers=n)

Worker ``i`` of ``n`` takes positions ``i, i + n, ...`` of the folder's
sorted file list (``data.index_folder``), skips what any manifest already
records as done, and works through the rest a chunk at a time: read,
attack, write the PNGs with ``data.save_adversarial_folder`` into a private
staging folder, move them into place, then append the chunk to its
manifest (see ``shards``). A killed worker loses at most its current
chunk. Workers never talk to each other (a slow or lost host stalls
nobody); the last one to finish, or ``shards.merge``, checks that every
input has exactly one output and writes ``labels.csv``.

Inside a worker the attack runs under a ``tf.distribute`` strategy over
the host's devices (``MirroredStrategy``: each replica attacks its slice
of every batch through the attack's graph-safe function; with one device,
the default strategy). Attacks without a graph-safe form (C&W, DeepFool,
...) run through their own compiled host loop on one device.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from .._checks import positive
from .._compile import cache_key
from ..attacks.base import Attack, AttackBase
from ..data import UnreadableImageError, index_folder, read_image, save_adversarial_folder
from ..data.images import DEFAULT_BACKGROUND, check_read_args
from ..models import Classifier
from . import shards
from .cluster import resolve_worker

LABEL_MODES = ("folder", "predicted")


@dataclass
class ShardResult:
    """What one worker did: files assigned, found done, generated now, skipped, time, and the merge check.

    ``seconds`` is the whole generation loop (reading, attack, writing,
    bookkeeping; not model loading), ``attack_seconds`` its part in the attack.
    """

    worker: int
    workers: int
    assigned: int
    already_done: int
    generated: int
    skipped: list
    success_8bit: int
    seconds: float
    replicas: int
    report: shards.MergeReport | None
    attack_seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"worker": self.worker, "workers": self.workers, "assigned": self.assigned,
                "already_done": self.already_done, "generated": self.generated,
                "skipped": [{"file": s, "reason": r} for s, r in self.skipped], "success_8bit": self.success_8bit,
                "seconds": round(self.seconds, 3), "attack_seconds": round(self.attack_seconds, 3),
                "replicas": self.replicas,
                "images_per_second": round(self.generated / self.seconds, 3) if self.seconds else None,
                "merge": self.report.to_dict() if self.report else None}


def _check_strategy(strategy):
    if strategy is None:
        return tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        raise ValueError("generation shards files over workers itself (worker=, workers=); its strategy spreads "
                         "one worker's batches over that host's devices: pass make_strategy('mirrored') or "
                         "None. Received: strategy=MultiWorkerMirroredStrategy")
    if not isinstance(strategy, tf.distribute.Strategy):
        raise ValueError(f"strategy must be a tf.distribute.Strategy or None. Received: strategy={strategy!r}")
    return strategy


def replica_attack(clf: Classifier, attack: Attack, strategy, targeted: bool):
    """``step(x, y, t, seed) -> (x_adv, logits)``: one global batch, split over the strategy's replicas.

    ``x`` must hold a multiple of ``strategy.num_replicas_in_sync`` images;
    replica ``r`` attacks slice ``r`` with its own random stream (the seed
    folded with ``r``), and the slices come back in order.
    """
    fn = attack.graph_function(clf, targeted=targeted)
    replicas = strategy.num_replicas_in_sync

    def one_replica(x, y, t, seed):
        r = tf.distribute.get_replica_context().replica_id_in_sync_group
        per = tf.shape(x)[0] // replicas
        part = slice(r * per, (r + 1) * per)
        seed = tf.random.experimental.stateless_fold_in(seed, r)
        x_adv = fn(x[part], y[part], target=t[part] if targeted else None, seed=seed)
        return x_adv, clf.model(x_adv, training=False)

    @tf.function
    def step(x, y, t, seed):
        x_adv, logits = strategy.run(one_replica, args=(x, y, t, seed))
        return strategy.gather(x_adv, axis=0), strategy.gather(logits, axis=0)

    return step


def _attack_chunk(clf, attack, step, x, y, t, batch, seed: int, first: int):
    """(x_adv, logits) of a chunk, batch by batch, the last batch padded to ``batch`` images.

    Batch ``b`` of the chunk starting at file position ``first`` draws its
    random start from ``(seed, first + b)``: the same files, the same noise.
    """
    if step is None:  # no graph-safe form: the attack's own compiled host loop
        result = attack(clf, x, y, target=t, batch_size=batch, seed=(seed * 7919 + first) % (2**31 - 1))
        return result.x_adv, result.logits
    xs, ls = [], []
    for i in range(0, len(x), batch):
        n = min(batch, len(x) - i)
        pad = lambda a: np.concatenate([a[i:i + n], np.repeat(a[i + n - 1:i + n], batch - n, axis=0)])  # noqa: E731
        x_adv, logits = step(tf.constant(pad(x)), tf.constant(pad(y)), tf.constant(pad(t if t is not None else y)),
                             tf.constant([seed, first + i], tf.int32))
        xs.append(x_adv.numpy()[:n])
        ls.append(logits.numpy()[:n])
    return np.concatenate(xs), np.concatenate(ls)


def check_generation(clf, attack, data_dir, out_dir, batch_size, chunk, labels, target):
    """The checks of ``generate_shard`` that need no TensorFlow work (all before anything is read)."""
    if not isinstance(clf, Classifier):
        raise ValueError(f"clf must be a keras_advinterp Classifier. Received: clf={type(clf).__name__}")
    if not isinstance(attack, AttackBase):
        raise ValueError(f"attack must be a keras_advinterp attack (attacks.PGD(...), ...). Received: "
                         f"attack={attack!r}")
    if not isinstance(attack, Attack):
        raise ValueError(f"{attack.name} fits one perturbation to a whole set, which sharding would split: run "
                         f"it without workers. Received: attack={attack!r}")
    if labels not in LABEL_MODES:
        raise ValueError(f"labels must be one of {LABEL_MODES}. Received: labels={labels!r}")
    if target is not None and (isinstance(target, bool) or not isinstance(target, (int, np.integer))
                               or not 0 <= target < clf.num_classes):
        raise ValueError(f"target must be a class index in [0, {clf.num_classes}). Received: target={target!r}")
    data_dir, out_dir = Path(data_dir).resolve(), Path(out_dir).resolve()
    if not data_dir.is_dir():
        raise FileNotFoundError(f"image folder does not exist: {str(data_dir)!r}")
    if out_dir == data_dir or out_dir.is_relative_to(data_dir):
        raise ValueError(f"the output folder must lie outside the input folder (its PNGs would be read as inputs "
                         f"by a later run). Received: save_dir={str(out_dir)!r} inside data={str(data_dir)!r}")
    batch_size = positive(batch_size, "batch_size", integer=True)
    chunk = batch_size * 4 if chunk is None else positive(chunk, "chunk", integer=True)
    return data_dir, out_dir, int(batch_size), int(chunk)


def generate_shard(clf: Classifier, attack: Attack, data_dir, out_dir, *, worker=None, workers=None,
                   tf_config: bool = False, strategy=None, target=None, labels: str = "folder",
                   resize: str = "center-crop", batch_size: int = 32, chunk: int | None = None, seed: int = 0,
                   max_files: int | None = None, merge: bool = True, progress=None) -> ShardResult:
    """Writes adversarial PNGs for worker ``worker``'s shard of ``data_dir`` into ``out_dir``; resumable.

    Args:
        clf, attack: the model and a per-batch attack (graph-safe ones run
            on every device of ``strategy``). Load ``clf`` inside
            ``strategy.scope()`` so each device holds its own copy of the
            weights (outside it, every replica reads the first device's).
        data_dir: an image folder (``class/image`` or flat; see
            ``data.index_folder``); outputs keep its relative paths as PNG.
        out_dir: the output folder, shared by all workers (a network or
            cluster file system across hosts); outside ``data_dir``.
        worker, workers, tf_config: this worker's index and the worker
            count, or ``tf_config=True`` to read them from ``TF_CONFIG``
            (``cluster.resolve_worker``). Default: worker 0 of 1.
        strategy: a one-host ``tf.distribute`` strategy for the attack
            (``make_strategy("mirrored")``), or None for the default.
        target: a class index for a targeted attack, or None.
        labels: ``folder`` (class folders / ``labels.csv``, the model's
            prediction where unknown) or ``predicted`` (attack the clean
            predictions).
        batch_size: images per compiled call over all replicas (rounded up
            to a multiple of the replica count).
        chunk: images per checkpoint (default ``4 * batch_size``).
        seed: random-start seed; with the same workers, batch and chunk
            settings a run gives the same images.
        max_files: stop after this many files of the shard (a later call
            resumes); None does the whole shard.
        merge: check the whole run at the end (``shards.merge``) and write
            ``labels.csv`` once every worker is done.
        progress: None, or ``progress(done, total)`` called after each chunk.

    Returns:
        A ``ShardResult``; its ``report`` is the merge check (or None).

    Raises:
        ValueError / FileNotFoundError before any work: a bad worker index
        or count, a malformed ``TF_CONFIG``, a missing folder, an output
        folder inside the input, a run in ``out_dir`` with other settings
        or other input files.
    """
    spec = resolve_worker(worker, workers, tf_config=tf_config)
    data_dir, out_dir, batch_size, chunk = check_generation(clf, attack, data_dir, out_dir, batch_size, chunk,
                                                            labels, target)
    check_read_args(clf.input_size, clf.channels, resize, DEFAULT_BACKGROUND)
    if max_files is not None:
        positive(max_files, "max_files", integer=True)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**31 - 1:
        raise ValueError(f"seed must be an integer in [0, 2**31 - 1). Received: seed={seed!r}")
    strategy = _check_strategy(strategy)
    replicas = strategy.num_replicas_in_sync
    batch = -(-batch_size // replicas) * replicas
    index = index_folder(data_dir, class_names=clf.class_names, unmatched="predict" if labels == "predicted"
                         else "error")
    if labels == "predicted":  # every label from the model's clean prediction, whatever the folder says
        index.labels[:] = -1
    sources = [index.relative(f) for f in index.files]
    if not sources:
        raise ValueError(f"no image files in {str(data_dir)!r} ({len(index.skipped)} other entries skipped). "
                         f"Received: data={str(data_dir)!r}")
    outputs = shards.output_names(sources)
    settings = {"model": clf.name, "weights": clf.weights_source, "attack": repr(attack), "target": target,
                "labels": labels, "resize": resize, "seed": seed, "data": str(data_dir)}
    shards.start_run(out_dir, settings, sources, outputs)

    start = time.perf_counter()
    done = {e["file"] for e in shards.read_manifests(out_dir)}
    mine = shards.shard_indices(len(sources), spec.index, spec.count)
    todo = [i for i in mine if sources[i] not in done][:max_files]
    manifest = shards.Manifest(shards.manifest_path(out_dir, spec.index, spec.count))
    staging = shards.state_dir(out_dir) / f"staging-{spec.index:04d}-of-{spec.count:04d}"
    shutil.rmtree(staging, ignore_errors=True)  # what a killed run left half-written
    step = None
    if attack.graph_safe:  # one traced step per model, attack settings and strategy, reused by later calls
        key = cache_key("replica_attack", attack, target is not None, id(strategy))
        step = clf.compiled(key, lambda: replica_attack(clf, attack, strategy, target is not None))
    generated, skipped, success, timer = 0, [], 0, [0.0]
    for c in range(0, len(todo), chunk):
        part = todo[c:c + chunk]
        x, keep, entries = [], [], []
        for i in part:
            try:
                x.append(read_image(index.files[i], clf.input_size, clf.channels, resize))
                keep.append(i)
            except UnreadableImageError as e:
                entries.append({"file": sources[i], "skipped": e.reason})
                skipped.append((sources[i], e.reason))
        if keep:
            entries += _attack_and_save(clf, attack, step, np.stack(x), index.labels[keep], keep, sources,
                                        outputs, target, batch, seed, data_dir, out_dir, staging, timer)
            generated += len(keep)
            success += sum(e["success_8bit"] for e in entries if "output" in e)
        manifest.append(entries)
        if progress is not None:
            progress(c + len(part), len(todo))
    shutil.rmtree(staging, ignore_errors=True)
    seconds = time.perf_counter() - start
    report = shards.merge(out_dir) if merge else None
    already = sum(sources[i] in done for i in mine)
    return ShardResult(spec.index, spec.count, len(mine), already, generated, skipped, success, seconds, replicas,
                       report, timer[0])


def _attack_and_save(clf, attack, step, x, y, keep, sources, outputs, target, batch, seed, data_dir, out_dir,
                     staging, timer) -> list[dict]:
    """Attacks one chunk, writes its PNGs into ``staging`` then moves them into place; the manifest entries."""
    unknown = y < 0
    if unknown.any():
        y = np.where(unknown, clf.predict(x).argmax(1), y)
    y = y.astype(np.int32)
    t = None if target is None else np.full(len(x), target, np.int32)
    start = time.perf_counter()
    x_adv, logits = _attack_chunk(clf, attack, step, x, y, t, batch, seed, keep[0])
    timer[0] += time.perf_counter() - start
    pred = logits.argmax(1)
    # the outputs' names are fixed for the whole run: hand the save code paths that already map to them
    names = [str(data_dir / outputs[i]) for i in keep]
    paths, saved = save_adversarial_folder(staging, x_adv, names, y, pred, data_dir)
    pred8 = clf.predict(saved).argmax(1)
    ok8 = pred8 == target if target is not None else pred8 != y
    entries = []
    for k, (i, path) in enumerate(zip(keep, paths)):
        final = out_dir / outputs[i]
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, final)
        entries.append({"file": sources[i], "output": outputs[i], "label": int(y[k]), "prediction": int(pred[k]),
                        "prediction_8bit": int(pred8[k]), "success_8bit": bool(ok8[k])})
    return entries
