"""Experiment runner and discovery of the scripts under ``experiments/``.

The package never imports ``experiments/`` statically: scripts are found
on disk (``--dir``, ``$ADVINTERP_EXPERIMENTS``, ``./experiments`` or the
source checkout's) and loaded by path when asked for.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from .experiment import Experiment, Table, run, versions


def experiments_dir(path=None) -> Path:
    """Where experiment scripts live; raises if none is found."""
    try:
        here = Path.cwd() / "experiments"
    except FileNotFoundError:  # the working directory was deleted: skip it, not crash
        here = None
    candidates = [path, os.environ.get("ADVINTERP_EXPERIMENTS"), here,
                  Path(__file__).resolve().parents[2] / "experiments"]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    raise FileNotFoundError("no experiments folder found: pass --dir, set ADVINTERP_EXPERIMENTS, "
                            "or run from a source checkout")


def discover(path=None) -> dict[str, Path]:
    """Experiment name -> script path, for every ``experiments/<paper>/<name>.py``."""
    root = experiments_dir(path)
    found = {}
    for script in sorted(root.glob("*/*.py")):
        if script.name.startswith("_"):
            continue
        found[script.stem] = script
    return found


def load_experiment(name: str, path=None) -> Experiment:
    scripts = discover(path)
    if name not in scripts:
        raise ValueError(f"unknown experiment {name!r}; available: {sorted(scripts)}. Received: name={name!r}")
    spec = importlib.util.spec_from_file_location(f"advinterp_experiment_{name}", scripts[name])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    exp = getattr(module, "EXPERIMENT", None)
    if not isinstance(exp, Experiment):
        raise ValueError(f"{scripts[name]} does not define EXPERIMENT = Experiment(...)")
    return exp


__all__ = ["Experiment", "Table", "run", "versions", "discover", "load_experiment", "experiments_dir"]
