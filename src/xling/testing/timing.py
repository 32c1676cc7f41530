"""Timing for tests that check how work grows (linear, not quadratic), not how fast it is.

Hand-written because it is a few lines: `timeit` times one statement at a time, and the
point here is to time several by turns.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def best_times(*calls: Callable[[], object], rounds: int = 5) -> list[float]:
    """Each call's best time over `rounds`, the calls timed by turns within every round, so
    that load from other processes on the machine falls on all of them alike."""
    best = [float("inf")] * len(calls)
    for _ in range(rounds):
        for index, call in enumerate(calls):
            start = time.perf_counter()
            call()
            best[index] = min(best[index], time.perf_counter() - start)
    return best
