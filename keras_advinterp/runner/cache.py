"""Adversarial sets made once and read by every table that needs them.

``cached_attack`` runs an attack, or reads the result of the same run from
disk: the key covers the attack and every parameter, the model and its
weights, the exact input bytes, labels, targets and seed, and the package
version, so a changed setting never reads a stale set. The folder is
``$KERAS_ADVINTERP_CACHE/adversarial`` (default ``~/.cache/keras_advinterp``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .report import write_atomic


@dataclass
class AdversarialSet:
    """What tables need from an attack run: images, success, logits on them, and whether it came from disk."""

    x_adv: np.ndarray
    success: np.ndarray
    logits: np.ndarray
    seconds: float
    from_cache: bool
    path: Path | None


def cache_dir() -> Path:
    """``$KERAS_ADVINTERP_CACHE`` or ``~/.cache/keras_advinterp``."""
    return Path(os.environ.get("KERAS_ADVINTERP_CACHE") or Path.home() / ".cache" / "keras_advinterp")


def cache_path(kind: str, name: str, key: dict, suffix: str = "") -> Path:
    """Where something made once per setting is kept: ``<cache>/<kind>/<name>-<hash of key + version><suffix>``.

    ``key`` holds every setting the thing depends on (JSON-able; other
    values by ``str``); the package version is added, so a new release
    never reads an old file. Trained models, detectors and maps of the
    experiments live here.
    """
    from .. import __version__

    blob = json.dumps({**key, "version": __version__}, sort_keys=True, default=str)
    return cache_dir() / kind / f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:20]}{suffix}"


def attack_key(attack, clf, x, y, target=None, seed: int = 0) -> str:
    """A hash of everything that decides an attack's output."""
    from .. import __version__

    h = hashlib.sha256()
    meta = {"attack": type(attack).__name__, "params": attack.params(), "model": clf.name,
            "weights": clf.weights_source, "seed": int(seed), "version": __version__}
    h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    for a in (x, y, target):
        if a is not None:
            a = np.ascontiguousarray(a)
            h.update(str((a.shape, a.dtype.str)).encode())
            h.update(a.tobytes())
    return h.hexdigest()[:20]


def cached_attack(attack, clf, x, y, target=None, *, seed: int = 0, batch_size: int = 32, progress: bool = False,
                  use_cache: bool = True) -> AdversarialSet:
    """``attack(clf, x, y, target)``, read from the cache when the same run was made before."""
    path = cache_dir() / "adversarial" / f"{clf.name}-{attack.name}-{attack_key(attack, clf, x, y, target, seed)}.npz"
    if use_cache and path.is_file():
        try:
            with np.load(path) as f:
                return AdversarialSet(f["x_adv"], f["success"], f["logits"], float(f["seconds"]), True, path)
        except (OSError, KeyError, ValueError):
            pass  # a truncated or foreign file: make the set again and overwrite it
    res = attack(clf, x, y, target, batch_size=batch_size, seed=seed, progress=progress)
    out = AdversarialSet(res.x_adv, res.success, res.logits, float(res.seconds), False, path if use_cache else None)
    if use_cache:
        buf = io.BytesIO()
        np.savez_compressed(buf, x_adv=res.x_adv, success=res.success, logits=res.logits, seconds=res.seconds)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, buf.getvalue())
    return out
