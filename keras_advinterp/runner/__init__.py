"""Experiment runner and discovery of the scripts under ``experiments/``.

The package never imports ``experiments/`` statically: scripts are found
on disk (``--dir``, ``$ADVINTERP_EXPERIMENTS``, ``./experiments`` or the
source checkout's), keyed ``<paper>/<name>``, and loaded by path when asked
for. ``run`` writes ``<out>/<paper>/<name>.{md,csv,json}`` (+ PNG), or
``<out>/<paper>/quick/<name>.*`` for a quick run (``results_folder``).
"""

from __future__ import annotations

from .cache import AdversarialSet, cache_dir, cache_path, cached_attack
from .discovery import discover, experiments_dir, load_experiment, resolve
from .experiment import Experiment, Table, results_folder, run, script_main
from .report import versions

__all__ = ["cached_attack", "AdversarialSet", "cache_dir", "cache_path",
           "Experiment", "script_main", "Table", "run", "results_folder", "versions", "discover", "resolve",
           "load_experiment", "experiments_dir"]
