"""Start method for worker processes that xling spawns beside torch."""

from __future__ import annotations

import multiprocessing
from typing import Any


def worker_context() -> Any:
    """forkserver (spawn where it is missing), never plain fork.

    Workers must not be forked from a process that already ran torch: a fork copies its
    OpenMP, CUDA or NCCL threads' locks but not the threads, and the child can hang on its
    first torch call (seen: ParScale's batch tokenization stalled after a held-out forward
    pass). forkserver forks from a small clean server process instead; pebble re-creates a
    killed (timed-out) scoring worker the same way.
    """
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
