"""CUDA-graph replay of the decode step, one graph per (batch bucket, cache-length bucket, ...).

A decode step of a small model is hundreds of tiny kernels; launched one by one from Python
they leave the GPU idle most of the time. Captured once per static shape and replayed, they
run back to back. Graphs are captured lazily, the first time a shape is needed, into one
shared memory pool (steps never run concurrently, so their temporaries can share memory).
Everything a step reads or writes between steps lives in tensors allocated outside the
graph (the engine's state buffers, the KV cache, the model's weights), so replaying
reads the current weights: an in-place optimizer update needs no re-capture.

Buckets are what make static shapes cheap: `batch_bucket(9)` is 16, so a step for 9 live
sequences computes 16 rows; `length_bucket` rounds the attended cache length up the same way.
The paged cache (paged.py) has no attended length among its shapes (each row reads the
pages its page table lists), so its graphs are keyed by batch bucket and sampling mode alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence

import torch

BATCH_BUCKETS = (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 160, 192, 224, 256)


def batch_bucket(n: int, limit: int) -> int:
    """The smallest bucket >= n (multiples of 64 past the table), never above `limit`."""
    for size in BATCH_BUCKETS:
        if size >= n:
            return min(size, limit)
    return min(-(-n // 64) * 64, limit)


def length_bucket(n: int, step: int, limit: int) -> int:
    return min(-(-n // step) * step, limit)


class DecodeGraphs:
    """Runs `step()` for a shape key: eagerly, or by replaying a graph captured for that key."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.graphs: dict[Hashable, torch.cuda.CUDAGraph] = {}
        self.pool: tuple[int, int] | None = None
        self.captures = 0
        # Wall time spent capturing (each capture's eager warm run included), over the
        # engine's life like `captures`: the graphs' share of a first call's warm-up.
        self.capture_seconds = 0.0
        # Each capture's key and seconds, in order: whether a warm-up's capture time is
        # spread over the shapes or sits in the first ones (where the compilations are).
        self.capture_log: list[tuple[Hashable, float]] = []

    def run(self, key: Hashable, step: Callable[[], None], mutable: Sequence[torch.Tensor]) -> None:
        if not self.enabled:
            step()
            return
        graph = self.graphs.get(key)
        if graph is None:
            start = time.perf_counter()
            graph = self._capture(step, mutable)
            self.graphs[key] = graph
            seconds = time.perf_counter() - start
            self.captures += 1
            self.capture_seconds += seconds
            self.capture_log.append((key, seconds))
        graph.replay()

    def _capture(
        self, step: Callable[[], None], mutable: Sequence[torch.Tensor]
    ) -> torch.cuda.CUDAGraph:
        # One eager run on a side stream first (cuBLAS workspaces, kernel selection), as
        # torch's graph docs require; it advances the state, so the state is put back.
        # (That run also compiles what it meets first, timed with the capture.)
        saved = [t.clone() for t in mutable]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            step()
        torch.cuda.current_stream().wait_stream(side)
        for tensor, before in zip(mutable, saved, strict=True):
            tensor.copy_(before)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self.pool):
            step()
        if self.pool is None:
            self.pool = graph.pool()
        torch.cuda.synchronize()  # the warm run's kernels, before the caller reads the clock
        return graph

    def clear(self) -> None:
        self.graphs.clear()
        self.pool = None
