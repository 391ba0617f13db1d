"""The result files of an experiment run: JSON record, CSV table, markdown, versions.

Every file is written atomically (a temporary file, then ``os.replace``), so
a killed run never leaves a half-written result or checkpoint behind.
"""

from __future__ import annotations

import csv
import json
import os
import platform
from pathlib import Path


def write_atomic(path: Path, content: str | bytes) -> None:
    """Writes ``content`` (text or bytes) to ``path`` through a temporary file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    if isinstance(content, bytes):
        tmp.write_bytes(content)
    else:
        tmp.write_text(content)
    os.replace(tmp, path)


def plain(v):
    """JSON fallback: NumPy scalars and arrays as Python values, anything else as text."""
    import numpy as np

    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def versions() -> dict:
    """Versions of the packages a result depends on, for the record."""
    import keras
    import numpy
    import tensorflow as tf
    import tf_keras_vis

    from .. import __version__

    return {"keras_advinterp": __version__, "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "tf_keras_vis": tf_keras_vis.__version__, "numpy": numpy.__version__}


def describe(context) -> dict:
    """``describe()`` of every context value that has one (model, data), looking inside nested dicts."""
    out = {}
    for k, v in (context.items() if isinstance(context, dict) else []):
        if hasattr(v, "describe"):
            out[k] = v.describe()
        elif isinstance(v, dict) and (inner := describe(v)):
            out[k] = inner
    return out


def write_results(stem: Path, record: dict) -> dict[str, str]:
    """Writes ``stem.{json,csv,md}`` from ``record``; returns their paths by suffix."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    files = {s: str(stem.with_suffix(f".{s}")) for s in ("md", "csv", "json")}
    write_atomic(stem.with_suffix(".json"), json.dumps(record, indent=2, default=plain))
    _write_csv(stem.with_suffix(".csv"), record["table"])
    write_atomic(stem.with_suffix(".md"), markdown(record))
    return files


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


def markdown(record: dict) -> str:
    """The result as markdown: title, quick-run warning, table, notes, full setting."""
    rows = record["table"]
    cols = list(dict.fromkeys(k for r in rows for k in r))
    lines = [f"# {record['title']}", ""]
    if record.get("quick_note"):
        lines += [f"> {record['quick_note']}", ""]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    if record["notes"]:
        lines += ["", "**Where our setting differs from the paper's**", ""]
        lines += [f"- {n}" for n in record["notes"]]
    lines += ["", "## Setting", "", "```json",
              json.dumps({k: record[k] for k in ("settings", "context", "versions", "timings")}, indent=2,
                         default=plain),
              "```", ""]
    return "\n".join(lines)
