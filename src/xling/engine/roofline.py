"""The memory-bound limit of decoding, for benchmarks and sizing (bench/long_generate.py,
docs): how fast a schedule of ragged requests could at best run on a device whose every
decode step must read the weights once and each live sequence's whole key/value cache.

Hand-written because it is a few lines of arithmetic over the schedule; it counts bytes,
not kernels, so it is the same for any attention implementation. The bytes of a model shape
(weights a step reads, cache bytes per token) are `xling.models.shapes`'.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence


def decode_schedule(lengths: Sequence[int], prompt: int, slots: int) -> Iterator[tuple[int, int]]:
    """The decode steps of `lengths` through `slots`, filled first come first served, one
    token per live sequence per step: (live sequences, cache tokens they attend to: prompt
    and tokens so far) for each step."""
    pending = deque(lengths)
    live: list[list[int]] = []  # [generated, wanted]
    while pending or live:
        while pending and len(live) < slots:
            live.append([0, pending.popleft()])
        yield len(live), sum(prompt + done for done, _ in live)
        for seq in live:
            seq[0] += 1
        live = [s for s in live if s[0] < s[1]]


def decode_roofline_seconds(
    lengths: Sequence[int], prompt: int, slots: int, weights: int, kv_token: int, bandwidth: float
) -> float:
    """Decode time of `decode_schedule` at the memory bound: a step reads the weights once
    and every live sequence's cache. Prefill is left out (one pass per prompt, far below
    the decode steps' reads)."""
    total_bytes = sum(
        weights + kv_token * context for _, context in decode_schedule(lengths, prompt, slots)
    )
    return total_bytes / bandwidth
