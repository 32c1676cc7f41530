"""On-device sampling with a per-request random stream that no other request touches.

Each request carries a 32-bit key (from its seed) and a counter (how many tokens it has
drawn). Its n-th token is drawn by inverse-CDF sampling with one uniform number that is a
hash of (key, n): counter-based randomness, as in Philox, so a request's samples do not
depend on which requests share its batch, nor on batch order, and the whole step runs on
the device without host synchronisation (CUDA-graph safe). The hash is written out here
because torch's generators are one stream per generator object, not one per batch row.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

_MASK32 = 0xFFFFFFFF
# Multiplier of a well-mixing 32-bit integer hash; below 2**27, so products of 32-bit
# values stay below 2**59 and int64 arithmetic never overflows.
_MULT = 0x45D9F3B


def _mix_int(x: int) -> int:
    x = (((x >> 16) ^ x) * _MULT) & _MASK32
    x = (((x >> 16) ^ x) * _MULT) & _MASK32
    return (x >> 16) ^ x


def _mix(x: torch.Tensor) -> torch.Tensor:
    """`_mix_int` on an int64 tensor of 32-bit values."""
    x = (((x >> 16) ^ x) * _MULT) & _MASK32
    x = (((x >> 16) ^ x) * _MULT) & _MASK32
    return (x >> 16) ^ x


def seed_key(seed: int) -> int:
    """A request's 32-bit stream key from any integer seed (all 64 bits matter)."""
    low, high = seed & _MASK32, (seed >> 32) & _MASK32
    return _mix_int(low ^ _mix_int(high ^ 0x5BD1E995))


def counter_uniform(keys: torch.Tensor, counters: torch.Tensor) -> torch.Tensor:
    """One uniform float in [0, 1) per row, a function of (key, counter) only."""
    bits = _mix(keys ^ _mix(counters & _MASK32))
    return (bits >> 8).to(torch.float32) * (1.0 / (1 << 24))


GREEDY, SAMPLE, NUCLEUS = "greedy", "sample", "nucleus"


def sampling_mode(requests: Iterable[tuple[float, float]]) -> str:
    """The cheapest mode that serves every (temperature, top_p) in a batch."""
    mode = GREEDY
    for temperature, top_p in requests:
        if temperature > 0:
            if top_p < 1:
                return NUCLEUS
            mode = SAMPLE
    return mode


def sample(
    logits: torch.Tensor,
    temperature: torch.Tensor,
    top_p: torch.Tensor,
    keys: torch.Tensor,
    counters: torch.Tensor,
    *,
    mode: str,
) -> torch.Tensor:
    """Next token per row of float32 `logits` [b, vocab]: argmax where temperature is 0,
    else a draw from softmax(logits / temperature), cut to the top-p nucleus in NUCLEUS
    mode. The mode is static (see `sampling_mode`) so that a batch pays for, and a CUDA
    graph captures, only the work some row needs: no softmax when all are greedy, no sort
    unless one uses top-p."""
    greedy = logits.argmax(dim=-1)
    if mode == GREEDY:
        return greedy
    nucleus = mode == NUCLEUS
    scale = torch.where(temperature > 0, temperature, torch.ones_like(temperature))
    probs = torch.softmax(logits / scale[:, None], dim=-1)
    if nucleus:
        probs, order = probs.sort(dim=-1, descending=True)
        # Keep the smallest prefix whose mass reaches top_p (as transformers' TopPLogitsWarper).
        mass_before = probs.cumsum(dim=-1) - probs
        limit = torch.where(top_p < 1, top_p, torch.full_like(top_p, float("inf")))
        probs = probs.masked_fill(mass_before >= limit[:, None], 0.0)
    cdf = probs.cumsum(dim=-1)
    target = counter_uniform(keys, counters) * cdf[:, -1]
    index = torch.searchsorted(cdf, target[:, None], right=True).clamp_(max=logits.shape[-1] - 1)
    drawn = (order.gather(-1, index) if nucleus else index).squeeze(-1)
    return torch.where(temperature > 0, drawn, greedy)
