"""The memory-bound limit of decoding, for benchmarks and sizing (bench/long_generate.py,
docs): how fast a schedule of ragged requests could at best run on a device whose every
decode step must read the weights once and each live sequence's whole key/value cache.

Hand-written because it is a few lines of arithmetic over the schedule; it counts bytes,
not kernels, so it is the same for any attention implementation. The bytes of a model shape
(weights a step reads, cache bytes per token) are `xling.models.shapes`'.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence


def decode_roofline_seconds(
    lengths: Sequence[int], prompt: int, slots: int, weights: int, kv_token: int, bandwidth: float
) -> float:
    """Decode time of the schedule at the memory bound: slots filled first come first
    served, one token per live sequence per step; a step reads the weights once and every
    live sequence's cache (prompt + tokens so far). Prefill is left out (one pass per
    prompt, far below the decode steps' reads)."""
    pending = deque(lengths)
    live: list[list[int]] = []  # [generated, wanted]
    total_bytes = 0.0
    while pending or live:
        while pending and len(live) < slots:
            live.append([0, pending.popleft()])
        context = sum(prompt + done for done, _ in live)
        total_bytes += weights + kv_token * context
        for seq in live:
            seq[0] += 1
        live = [s for s in live if s[0] < s[1]]
    return total_bytes / bandwidth
