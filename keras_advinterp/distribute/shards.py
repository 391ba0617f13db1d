"""Which worker owns which file, what each has finished, and the final check.

Bookkeeping of a sharded run lives in ``<out>/.advinterp-shards/``:

- ``run.json``: the settings and the full ordered list of (source, output)
  pairs, written when the run starts. A later worker or a resumed run must
  find the same settings and files there, so two incompatible runs never
  mix in one folder.
- ``worker-<i>-of-<n>.jsonl``: worker i's manifest, one JSON line per
  finished (or unreadable, hence skipped) source file, appended and
  fsync'ed after that file's PNG is in place. A line cut short by a kill
  is ignored, so its file is simply done again.

Outputs keep fixed names chosen from the whole list up front, so redoing a
file overwrites its PNG (atomically) and can never make a second copy.
"""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

STATE_DIR = ".advinterp-shards"
RUN_FILE = "run.json"
SUMMARY_FILE = "summary.json"


def shard_indices(n_items: int, worker: int, workers: int) -> list[int]:
    """Positions ``worker, worker + workers, ...`` of a sorted list of ``n_items``: disjoint shards covering all.

    Interleaving rather than blocks keeps shards within one file of each
    other in size and mixes the classes of a ``class/image`` folder evenly.
    """
    return list(range(worker, n_items, workers))


def output_names(sources: list[str]) -> list[str]:
    """The PNG (relative posix path) each source becomes: ``dog/a.jpg`` -> ``dog/a.png``.

    The rule of ``data.save_adversarial_folder`` applied to the whole list
    at once: a source that would land on an output already taken (``a.jpg``
    beside ``a.png``) gets its position as a suffix (``a-000007.png``).
    """
    used, names = set(), []
    for i, src in enumerate(sources):
        rel = Path(src).with_suffix(".png")
        if rel in used:
            rel = rel.with_name(f"{rel.stem}-{i:06d}.png")
        used.add(rel)
        names.append(rel.as_posix())
    return names


def write_atomic(path: Path, content: str) -> None:
    """Writes ``path`` through a temporary file unique to this writer, then ``os.replace``.

    Several workers may write the same file (identical content) at once; a
    shared temporary name would let one rename the other's file away.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(content)
    os.replace(tmp, path)


def state_dir(out: Path) -> Path:
    return Path(out) / STATE_DIR


def manifest_path(out: Path, worker: int, workers: int) -> Path:
    return state_dir(out) / f"worker-{worker:04d}-of-{workers:04d}.jsonl"


def start_run(out: Path, settings: dict, sources: list[str], outputs: list[str]) -> None:
    """Records the run's settings and file list, or checks them against the run already in ``out``."""
    record = {"settings": settings, "files": [[s, o] for s, o in zip(sources, outputs)]}
    path = state_dir(out) / RUN_FILE
    if path.is_file():
        old = json.loads(path.read_text())
        changed = sorted(k for k in set(old["settings"]) | set(settings)
                         if old["settings"].get(k) != settings.get(k))
        if changed:
            pairs = ", ".join(f"{k}={old['settings'].get(k)!r} before, {settings.get(k)!r} now" for k in changed)
            raise ValueError(f"{str(out)!r} holds a run with other settings ({pairs}): resume with the same "
                             f"settings or write to a new folder. Received: save_dir={str(out)!r}")
        if old["files"] != record["files"]:
            before = {s for s, _ in old["files"]}
            added, removed = sorted(set(sources) - before), sorted(before - set(sources))
            raise ValueError(f"the input folder changed since this run started in {str(out)!r} ({len(added)} new "
                             f"file(s) {added[:3]}, {len(removed)} gone {removed[:3]}): write to a new folder. "
                             f"Received: {len(sources)} files")
        return
    state_dir(out).mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(record, indent=1))


def read_run(out: Path) -> dict:
    path = state_dir(out) / RUN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no sharded run in {str(out)!r} (no {STATE_DIR}/{RUN_FILE}): start one with "
                                f"--workers first")
    return json.loads(path.read_text())


def read_manifests(out: Path) -> list[dict]:
    """Every complete manifest line of every worker (lines cut short by a kill are left out)."""
    entries = []
    for path in sorted(state_dir(out).glob("worker-*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and "file" in entry:
                entries.append({**entry, "manifest": path.name})
    return entries


class Manifest:
    """Appends finished files to one worker's manifest, each batch of lines fsync'ed to disk."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file() and self.path.stat().st_size:
            with open(self.path, "rb") as fh:  # a kill may have cut the last line: start on a fresh one
                fh.seek(-1, os.SEEK_END)
                torn = fh.read(1) != b"\n"
            if torn:
                with open(self.path, "a") as fh:
                    fh.write("\n")

    def append(self, entries: list[dict]) -> None:
        with open(self.path, "a") as fh:
            fh.write("".join(json.dumps(e) + "\n" for e in entries))
            fh.flush()
            os.fsync(fh.fileno())


@dataclass
class MergeReport:
    """What a sharded run in ``out`` has produced against what it should.

    ``missing``: sources with no recorded output (or whose PNG is gone);
    ``duplicates``: sources recorded more than once, with the count;
    ``extra``: PNGs in ``out`` that no source maps to; ``skipped``:
    (source, reason) for unreadable inputs. ``complete`` when nothing is
    missing or duplicated; then ``labels.csv`` and ``summary.json`` are
    written.
    """

    out: Path
    expected: int
    done: int
    success: int
    missing: list[str] = field(default_factory=list)
    duplicates: dict[str, int] = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    written: bool = False

    @property
    def complete(self) -> bool:
        return not self.missing and not self.duplicates

    def lines(self) -> list[str]:
        state = "complete" if self.complete else "INCOMPLETE"
        out = [f"{state}: {self.done} of {self.expected} inputs have one adversarial PNG in {self.out}"
               + (f", {len(self.skipped)} unreadable and skipped" if self.skipped else "")]
        if self.done:
            out.append(f"attack success on the saved 8-bit PNGs: {self.success / self.done:.1%}")
        for title, items in (("missing", self.missing), ("recorded twice or more", sorted(self.duplicates)),
                             ("extra PNG (no source)", self.extra)):
            if items:
                out.append(f"{len(items)} {title}: {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}")
        out += [f"skipped {src}: {why}" for src, why in self.skipped]
        if self.written:
            out.append(f"wrote {self.out / 'labels.csv'} and {state_dir(self.out) / SUMMARY_FILE}")
        return out

    def to_dict(self) -> dict:
        return {"out": str(self.out), "complete": self.complete, "expected": self.expected, "done": self.done,
                "success_rate_8bit": round(self.success / self.done, 4) if self.done else None,
                "missing": self.missing, "duplicates": self.duplicates, "extra": self.extra,
                "skipped": [{"file": s, "reason": r} for s, r in self.skipped]}


def merge(out, *, write: bool = True) -> MergeReport:
    """Checks a sharded run in ``out`` and, once complete, writes its ``labels.csv``.

    Reads ``run.json`` and every manifest; each source must be recorded
    exactly once (done or skipped) and its PNG must exist. ``labels.csv``
    (``file,label,adversarial_prediction`` as ``data.save_adversarial_folder``
    writes it, so ``data.load_folder(out, class_names=...)`` reads the set
    back) and ``summary.json`` are written only for a complete run.
    """
    out = Path(out)
    files = read_run(out)["files"]
    target = dict((s, o) for s, o in files)
    seen: dict[str, list[dict]] = {}
    for entry in read_manifests(out):
        seen.setdefault(entry["file"], []).append(entry)
    duplicates = {s: len(v) for s, v in seen.items() if len(v) > 1}
    done = {s: v[0] for s, v in seen.items() if "output" in v[0] and (out / v[0]["output"]).is_file()}
    skipped = [(s, v[0]["skipped"]) for s, v in seen.items() if "skipped" in v[0]]
    missing = [s for s, _ in files if s not in done and s not in dict(skipped)]
    outputs = set(target.values())
    extra = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")
                   if STATE_DIR not in p.relative_to(out).parts and p.relative_to(out).as_posix() not in outputs)
    report = MergeReport(out, len(files), len(done), sum(bool(e.get("success_8bit")) for e in done.values()),
                         missing, duplicates, extra, sorted(skipped))
    if write and report.complete:
        rows = sorted((e["output"], e["label"], e["prediction"]) for e in done.values())
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(("file", "label", "adversarial_prediction"))
        writer.writerows(rows)
        write_atomic(out / "labels.csv", buf.getvalue())
        write_atomic(state_dir(out) / SUMMARY_FILE, json.dumps(report.to_dict(), indent=2))
        report.written = True
    return report
