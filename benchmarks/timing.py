"""Timing shared by the benchmark scripts (run as ``python benchmarks/NAME.py``)."""

from __future__ import annotations

import time


def best_of(fn, repeat: int = 5, number: int = 1) -> float:
    """Seconds per call: the best of ``repeat`` batches of ``number`` calls, the batch least
    disturbed by other work on a shared machine."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best
