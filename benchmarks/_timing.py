"""Timing helper shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time


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
