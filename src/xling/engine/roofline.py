"""The memory-bound limit of decoding, for benchmarks and sizing (bench/long_generate.py,
docs): how fast a schedule of ragged requests could at best run on a device whose every
decode step must read the weights once and each live sequence's whole key/value cache.

Hand-written because it is a few lines of arithmetic over the schedule; it counts bytes,
not kernels, so it is the same for any attention implementation.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any


def kv_bytes_per_token(shape: dict[str, Any], dtype_bytes: int = 2) -> int:
    """Cache bytes of one token: keys and values of every layer's key/value heads."""
    head_dim = shape["hidden_size"] // shape["num_attention_heads"]
    return 2 * shape["num_hidden_layers"] * shape["num_key_value_heads"] * head_dim * dtype_bytes


def step_weight_bytes(shape: dict[str, Any], dtype_bytes: int = 2) -> int:
    """Weight bytes one decode step must read: every layer (q/k/v biases included, as
    Qwen2 has them), the final norm and the output matrix. An untied input embedding is
    not counted: a step reads only its batch's rows of it."""
    h, inter, layers = shape["hidden_size"], shape["intermediate_size"], shape["num_hidden_layers"]
    kv = shape["num_key_value_heads"] * (h // shape["num_attention_heads"])
    per_layer = h * h + h + 2 * (h * kv + kv) + h * h + 3 * h * inter + 2 * h
    return dtype_bytes * (layers * per_layer + shape["vocab_size"] * h + h)


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
