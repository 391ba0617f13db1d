"""A generic, resumable experiment runner.

An experiment is a few plain functions filled into ``Experiment``; the runner
splits the work into units, checkpoints each finished unit (atomic JSON
files), resumes a killed run where it stopped, and writes
``results/<paper>/<name>.{md,csv,json}`` (+ PNG) with the full setting and,
where given, the paper's figures beside ours.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tqdm.auto import tqdm


@dataclass
class Table:
    """What ``summarize`` returns: rows in the paper's layout, plus notes.

    ``rows`` are dicts whose keys are the columns, in order; columns named
    ``... (paper)`` carry the paper's reported figures beside ours.
    ``notes`` say where our setting differs from the paper's.
    """

    rows: list[dict]
    notes: list[str] = field(default_factory=list)
    title: str = ""
    figure: Callable[[Path], None] | None = None


@dataclass
class Experiment:
    """One paper table or figure.

    Attributes:
        name: file stem of the results (``pgd_interpretation_shift``).
        paper: results sub-folder (``advedge``, ``ding``, ...).
        title: one line, with the paper's table/figure number.
        defaults: settings (plain JSON data): model, data, limit, seed ...
        quick: overrides for ``--quick`` (a small smoke-size run).
        prepare: settings -> context (loaded model, data), run once per process.
        units: (context, settings) -> list of JSON-able unit keys.
        run_unit: (context, settings, unit) -> list of row dicts (JSON-able).
        summarize: (rows of all units, settings, context) -> Table.
    """

    name: str
    paper: str
    title: str
    defaults: dict
    prepare: Callable[[dict], Any]
    units: Callable[[Any, dict], list]
    run_unit: Callable[[Any, dict, Any], list[dict]]
    summarize: Callable[[list[dict], dict, Any], Table]
    quick: dict = field(default_factory=dict)

    def settings(self, quick: bool = False, **overrides) -> dict:
        unknown = set(overrides) - set(self.defaults)
        if unknown:
            raise ValueError(f"unknown settings for experiment {self.name!r}: {sorted(unknown)}; "
                             f"known: {sorted(self.defaults)}")
        s = dict(self.defaults)
        if quick:
            s.update(self.quick)
        s.update({k: v for k, v in overrides.items() if v is not None})
        return s


def _config_hash(experiment: Experiment, settings: dict) -> str:
    blob = json.dumps({"name": experiment.name, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def versions() -> dict:
    import keras
    import numpy
    import tensorflow as tf
    import tf_keras_vis

    from .. import __version__

    return {"keras_advinterp": __version__, "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "tf_keras_vis": tf_keras_vis.__version__, "numpy": numpy.__version__}


def run(experiment: Experiment, *, quick: bool = False, out_dir="results", fresh: bool = False,
        progress: bool = True, stop_after: int | None = None, **overrides) -> dict:
    """Runs (or resumes) ``experiment`` and writes its result files.

    Args:
        quick: apply the experiment's ``quick`` settings.
        out_dir: results root; files go to ``out_dir/<paper>/``.
        fresh: drop checkpoints of this exact setting and start over.
        stop_after: stop after this many new units (tests use it to
            simulate a killed run); returns without writing results.
        overrides: settings (model=..., data=..., limit=...).

    Returns:
        The JSON record written to ``<name>.json`` (or a partial status).
    """
    settings = experiment.settings(quick, **overrides)
    key = _config_hash(experiment, settings)
    folder = Path(out_dir) / experiment.paper
    ckpt = folder / ".checkpoints" / f"{experiment.name}-{key}"
    if fresh and ckpt.exists():
        for f in ckpt.glob("*.json"):
            f.unlink()
    ckpt.mkdir(parents=True, exist_ok=True)
    _write_atomic(ckpt / "settings.json.meta", json.dumps(settings, indent=2, default=str))

    t0 = time.perf_counter()
    context = experiment.prepare(settings)
    prepare_s = time.perf_counter() - t0
    units = experiment.units(context, settings)
    done = {int(p.stem.split("_")[1]) for p in ckpt.glob("unit_*.json")}
    resumed = len([i for i in range(len(units)) if i in done])
    new = 0
    unit_seconds = []
    bar = tqdm(range(len(units)), desc=experiment.name, unit="unit", disable=not progress,
               initial=resumed, total=len(units))
    for i in range(len(units)):
        if i in done:
            continue
        if stop_after is not None and new >= stop_after:
            bar.close()
            return {"status": "stopped", "done": resumed + new, "total": len(units), "checkpoints": str(ckpt)}
        t = time.perf_counter()
        rows = experiment.run_unit(context, settings, units[i])
        unit_seconds.append(time.perf_counter() - t)
        _write_atomic(ckpt / f"unit_{i:05d}.json", json.dumps({"unit": units[i], "rows": rows}, default=_plain))
        new += 1
        bar.update(1)
    bar.close()

    all_rows = []
    for i in range(len(units)):
        all_rows.extend(json.loads((ckpt / f"unit_{i:05d}.json").read_text())["rows"])
    table = experiment.summarize(all_rows, settings, context)
    record = {
        "experiment": experiment.name,
        "paper": experiment.paper,
        "title": table.title or experiment.title,
        "settings": settings,
        "quick": quick,
        "setting_hash": key,
        "context": _describe(context),
        "versions": versions(),
        "timings": {
            "prepare_seconds": round(prepare_s, 2),
            "units": len(units),
            "units_resumed": resumed,
            "units_run": new,
            "seconds_per_unit": round(sum(unit_seconds) / max(len(unit_seconds), 1), 3),
            "total_seconds_this_run": round(time.perf_counter() - t0, 2),
        },
        "notes": table.notes,
        "table": table.rows,
    }
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / experiment.name
    _write_atomic(stem.with_suffix(".json"), json.dumps(record, indent=2, default=_plain))
    _write_csv(stem.with_suffix(".csv"), table.rows)
    _write_atomic(stem.with_suffix(".md"), _markdown(record))
    if table.figure is not None:
        table.figure(stem.with_suffix(".png"))
        record["figure"] = str(stem.with_suffix(".png"))
    return record


def _describe(context) -> dict:
    out = {}
    items = context.items() if isinstance(context, dict) else []
    for k, v in items:
        if hasattr(v, "describe"):
            out[k] = v.describe()
    return out


def _plain(v):
    import numpy as np

    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def _write_csv(path: Path, rows: list[dict]) -> None:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def _fmt(v) -> str:
    if v is None or v == "":
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _markdown(record: dict) -> str:
    rows = record["table"]
    cols = list(dict.fromkeys(k for r in rows for k in r))
    lines = [f"# {record['title']}", ""]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    if record["notes"]:
        lines += ["", "**Where our setting differs from the paper's**", ""]
        lines += [f"- {n}" for n in record["notes"]]
    lines += ["", "## Setting", "", "```json",
              json.dumps({k: record[k] for k in ("settings", "context", "versions", "timings")}, indent=2),
              "```", ""]
    return "\n".join(lines)
