"""A generic, resumable experiment runner.

An experiment is a few plain functions filled into ``Experiment``; the runner
splits the work into units, checkpoints each finished unit (atomic JSON
files), resumes a killed run where it stopped, and writes
``results/<paper>/<name>.{md,csv,json}`` (+ PNG) with the full setting and,
where given, the paper's figures beside ours. A ``--quick`` run writes to
``results/<paper>/quick/`` instead, with its own checkpoints, so it never
overwrites a full result.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .report import describe, plain, versions, write_atomic, write_results

QUICK_FOLDER = "quick"


@dataclass
class Table:
    """What ``summarize`` returns: rows in the paper's layout, plus notes.

    ``rows`` are dicts whose keys are the columns, in order; columns named
    ``... (paper)`` carry the paper's reported figures beside ours.
    ``notes`` say where our setting differs from the paper's.
    ``figure``, if given, draws the result into the PNG path it is passed.
    """

    rows: list[dict]
    notes: list[str] = field(default_factory=list)
    title: str = ""
    figure: Callable[[Path], None] | None = None


@dataclass
class Experiment:
    """One paper table or figure, keyed ``<paper>/<name>``.

    Attributes:
        name: the script's file stem, and the stem of the result files
            (``pgd_interpretation_shift``).
        paper: the script's folder under ``experiments/`` and the results
            sub-folder (``advedge``, ``ding``, ...).
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

    @property
    def key(self) -> str:
        """``<paper>/<name>``, as ``runner.discover`` lists it."""
        return f"{self.paper}/{self.name}"

    def settings(self, quick: bool = False, **overrides) -> dict:
        """Defaults, then the quick overrides (if ``quick``), then ``overrides`` that are not None."""
        unknown = set(overrides) - set(self.defaults)
        if unknown:
            raise ValueError(f"unknown settings for experiment {self.name!r}: {sorted(unknown)}; "
                             f"known: {sorted(self.defaults)}. Received: overrides={sorted(overrides)}")
        s = dict(self.defaults)
        if quick:
            s.update(self.quick)
        s.update({k: v for k, v in overrides.items() if v is not None})
        return s


def results_folder(experiment: Experiment, out_dir="results", quick: bool = False) -> Path:
    """Where a run writes: ``out_dir/<paper>/``, or ``out_dir/<paper>/quick/`` for a quick run."""
    folder = Path(out_dir) / experiment.paper
    return folder / QUICK_FOLDER if quick else folder


def _config_hash(experiment: Experiment, settings: dict) -> str:
    blob = json.dumps({"name": experiment.name, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def run(experiment: Experiment, *, quick: bool = False, out_dir="results", fresh: bool = False,
        progress: bool = True, stop_after: int | None = None, **overrides) -> dict:
    """Runs (or resumes) ``experiment`` and writes its result files.

    Args:
        quick: apply the experiment's ``quick`` settings; the files and
            checkpoints go to ``out_dir/<paper>/quick/`` and the markdown
            title and a note say it is a quick run.
        out_dir: results root; a full run writes ``out_dir/<paper>/<name>.*``.
        fresh: drop checkpoints of this exact setting and start over.
        stop_after: stop after this many new units (tests use it to
            simulate a killed run); returns without writing results.
        overrides: settings (model=..., data=..., limit=...).

    Returns:
        The JSON record written to ``<name>.json`` (its ``files`` entry
        maps ``md``, ``csv``, ``json`` and, with a figure, ``png`` to the
        written paths), or a partial status when stopped.
    """
    settings = experiment.settings(quick, **overrides)
    key = _config_hash(experiment, settings)
    folder = results_folder(experiment, out_dir, quick)
    ckpt = folder / ".checkpoints" / f"{experiment.name}-{key}"
    if fresh and ckpt.exists():
        for f in ckpt.glob("*.json"):
            f.unlink()
    ckpt.mkdir(parents=True, exist_ok=True)
    write_atomic(ckpt / "settings.json.meta", json.dumps(settings, indent=2, default=str))

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
        write_atomic(ckpt / f"unit_{i:05d}.json",
                     json.dumps({"unit": units[i], "rows": rows, "seconds": unit_seconds[-1]}, default=plain))
        new += 1
        bar.update(1)
    bar.close()

    all_rows, all_units_seconds = [], 0.0
    for i in range(len(units)):
        saved = json.loads((ckpt / f"unit_{i:05d}.json").read_text())
        all_rows.extend(saved["rows"])
        all_units_seconds += saved.get("seconds", 0.0)  # checkpoints written before this key count 0
    table = experiment.summarize(all_rows, settings, context)
    title = table.title or experiment.title
    record = {
        "experiment": experiment.name,
        "paper": experiment.paper,
        "key": experiment.key,
        "title": f"{title} (quick run)" if quick else title,
        "settings": settings,
        "quick": quick,
        "setting_hash": key,
        "context": describe(context),
        "versions": versions(),
        "timings": {
            "prepare_seconds": round(prepare_s, 2),
            "units": len(units),
            "units_resumed": resumed,
            "units_run": new,
            "seconds_per_unit": round(sum(unit_seconds) / max(len(unit_seconds), 1), 3),
            "total_seconds_this_run": round(time.perf_counter() - t0, 2),
            "seconds_all_units": round(all_units_seconds, 6),  # every unit's run time, resumed ones included
        },
        "notes": table.notes,
        "table": table.rows,
    }
    if quick:
        record["quick_note"] = (f"Quick run (--quick): a smoke-size setting {json.dumps(experiment.quick)}, "
                                f"not the experiment's result; the full run writes "
                                f"{experiment.paper}/{experiment.name}.md.")
    stem = folder / experiment.name
    record["files"] = write_results(stem, record)
    if table.figure is not None:
        table.figure(stem.with_suffix(".png"))
        record["figure"] = record["files"]["png"] = str(stem.with_suffix(".png"))
    return record


def script_main(experiment: Experiment, doc: str | None = None, argv=None) -> dict:
    """The command line of an experiment script: ``python experiments/<paper>/<name>.py [--quick] [--fresh] [--out]``.

    Runs (or resumes) ``experiment``, prints its table as JSON and the files written; returns the record.
    """
    import argparse

    from .._quiet import drop_retracing_warnings

    drop_retracing_warnings()  # every unit builds fresh compiled functions by design
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small smoke-size setting, written under <out>/<paper>/quick/")
    p.add_argument("--fresh", action="store_true", help="ignore checkpoints of this setting")
    p.add_argument("--out", default="results", help="results root (default: %(default)s)")
    a = p.parse_args(argv)
    rec = run(experiment, quick=a.quick, fresh=a.fresh, out_dir=a.out)
    print(json.dumps(rec["table"], indent=1, default=plain))
    print("wrote", ", ".join(rec["files"].values()))
    return rec
