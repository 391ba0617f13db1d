"""Timing helper shared by the benchmark scripts."""

from __future__ import annotations

import os
import statistics
import time


def timed(fn, repeats: int):
    """(first-call seconds, steady seconds (median of ``repeats`` more calls), last output)."""
    out = []
    t = time.perf_counter()
    out.append(fn())
    first = time.perf_counter() - t
    steady = median_seconds(lambda: out.append(fn()), repeats, warm=False)
    return first, steady, out[-1]


def median_seconds(fn, repeats: int, warm: bool = True) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    if warm:
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system


class Contention:
    """Measures, over a ``with`` block, the share of all CPUs that other processes used."""

    def __enter__(self):
        self.start = (time.perf_counter(), _busy_seconds(), _own_seconds(), os.getloadavg()[0])
        return self

    def __exit__(self, *exc):
        t0, busy0, own0, load0 = self.start
        elapsed = time.perf_counter() - t0
        other = (_busy_seconds() - busy0) - (_own_seconds() - own0)
        self.result = {"seconds": round(elapsed, 1), "load_before": round(load0, 2),
                       "load_after": round(os.getloadavg()[0], 2),
                       "other_cpu_share": round(max(other, 0.0) / (elapsed * (os.cpu_count() or 1)), 3)}
        return False


def interleaved(fns: dict, repeats: int, check=None) -> dict:
    """Times every function of ``fns`` on the same shared CPU: first calls, then ``repeats`` rounds.

    Each function's first call is timed in turn; ``check`` sees their outputs
    (``{name: output}``) before any steady timing. Then every round calls each
    function once (the order rotating from round to round), so a change of
    load from other jobs during the run hits every implementation alike, and
    ratios of medians from one group are fair even when absolute seconds are
    not. Returns ``{name: {"first_s", "steady_s" (median), "min_s", "times_s", "out"}}``.
    """
    res = {}
    for name, fn in fns.items():
        t = time.perf_counter()
        out = fn()
        res[name] = {"first_s": time.perf_counter() - t, "out": out, "times_s": []}
    if check is not None:
        check({k: v["out"] for k, v in res.items()})
    names = list(fns)
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t = time.perf_counter()
            fns[name]()
            res[name]["times_s"].append(time.perf_counter() - t)
    for v in res.values():
        v["steady_s"], v["min_s"] = statistics.median(v["times_s"]), min(v["times_s"])
    return res
