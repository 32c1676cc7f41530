"""On-device sampling with a per-request random stream that no other request touches.

Each request carries a 32-bit key (from its seed) and a counter (how many tokens it has
drawn). Its n-th token is the Gumbel-max draw argmax_v(logit_v / T + G_v), an exact sample
from softmax(logits / T), where the Gumbel noise G_v is a hash of (key, n, v):
counter-based randomness, as in Philox, so a request's samples do not depend on which
requests share its batch, their sampling settings, or batch order, and the whole step runs
on the device without host synchronisation (CUDA-graph safe). The hash is written out here
because torch's generators are one stream per generator object, not one per batch row.

Gumbel-max rather than inverse-CDF sampling on CUDA because it needs no running sum over
the vocabulary: under torch.compile the noise, the division and the argmax are one pass
over the logits (a cumulative sum over a 150k vocabulary was the slowest kernel of a decode
step). Eager on a CPU the same noise is some twenty passes over [rows, vocab] int64 tensors:
6.6 ms of a 16 ms decode step of 128 organism rollouts on two cores. There the engine draws
by inverse CDF instead (`INVERSE_CDF`): one counter-based uniform per row against the
cumulative softmax, 0.7 ms, and still a function of (key, counter) only. The two draws are
different functions of the same stream, so a seed gives other tokens on a CPU than on a GPU.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

_MASK32 = 0xFFFFFFFF
# Reduction mod 2**32 of the non-negative int64 values below, written `% _MOD32` on tensors:
# the form whose Triton compilation was checked on an H200 (bench/generate.py's
# sampling_compiled_matches_eager), where `ids * c % m` had failed (see counter_uniform).
_MOD32 = 1 << 32
# Multiplier of a well-mixing 32-bit integer hash; below 2**27, so products of 32-bit
# values stay below 2**59 and int64 arithmetic never overflows.
_MULT = 0x45D9F3B


def _mix_int(x: int) -> int:
    x = (((x >> 16) ^ x) * _MULT) & _MASK32
    x = (((x >> 16) ^ x) * _MULT) & _MASK32
    return (x >> 16) ^ x


def _mix(x: torch.Tensor) -> torch.Tensor:
    """`_mix_int` on an int64 tensor of 32-bit values."""
    x = (((x >> 16) ^ x) * _MULT) % _MOD32
    x = (((x >> 16) ^ x) * _MULT) % _MOD32
    return (x >> 16) ^ x


def seed_key(seed: int) -> int:
    """A request's 32-bit stream key from any integer seed (all 64 bits matter)."""
    low, high = seed & _MASK32, (seed >> 32) & _MASK32
    return _mix_int(low ^ _mix_int(high ^ 0x5BD1E995))


def counter_uniform(keys: torch.Tensor, counters: torch.Tensor, vocab: int) -> torch.Tensor:
    """Uniform floats in (0, 1), [rows, vocab]: element (r, v) is a function of
    (keys[r], counters[r], v) only. 24 bits each, centred in their bin so that none is 0."""
    stream = _mix(keys ^ _mix(counters % _MOD32))
    # The ids are hashed before any arithmetic: compiled, `ids * c % m` would be folded into
    # 32-bit index arithmetic, which cannot hold m = 2**32.
    ids = _mix(torch.arange(vocab, device=keys.device, dtype=torch.long))
    bits = _mix(stream[:, None] ^ ids[None, :])
    return ((bits >> 8).to(torch.float32) + 0.5) * (1.0 / (1 << 24))


GREEDY, SAMPLE, NUCLEUS = "greedy", "sample", "nucleus"
GUMBEL, INVERSE_CDF = "gumbel", "inverse_cdf"
DRAWS = (GUMBEL, INVERSE_CDF)


def draw_for(device: torch.device) -> str:
    """The faster draw on `device` (see the module docstring)."""
    return GUMBEL if device.type == "cuda" else INVERSE_CDF


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
    draw: str = GUMBEL,
) -> torch.Tensor:
    """Next token per row of `logits` [b, vocab]: argmax where temperature is 0, else a
    draw from softmax(logits / temperature), cut to the top-p nucleus in NUCLEUS mode. The
    mode is static (see `sampling_mode`) so that a batch pays for, and a CUDA graph
    captures, only the work some row needs: no noise when all are greedy, no sort unless
    one uses top-p. `draw`: GUMBEL (noise per token) or INVERSE_CDF (a uniform per row)."""
    greedy = logits.argmax(dim=-1)
    if mode == GREEDY:
        return greedy
    scale = torch.where(temperature > 0, temperature, torch.ones_like(temperature))
    scaled = logits.float() / scale[:, None]
    probs = torch.softmax(scaled, dim=-1) if mode == NUCLEUS or draw == INVERSE_CDF else None
    if mode == NUCLEUS:
        assert probs is not None
        # Keep the smallest set of most likely tokens whose mass reaches top_p (as
        # transformers' TopPLogitsWarper): every token at least as likely as the last one
        # that set needs.
        ranked = probs.sort(dim=-1, descending=True).values
        mass_before = ranked.cumsum(dim=-1) - ranked
        limit = torch.where(top_p < 1, top_p, torch.full_like(top_p, float("inf")))
        kept = (mass_before < limit[:, None]).sum(dim=-1, keepdim=True)
        floor = ranked.gather(-1, (kept - 1).clamp_(min=0))
        outside = probs < floor
        scaled = scaled.masked_fill(outside, float("-inf"))
        probs = probs.masked_fill(outside, 0.0)
    if draw == INVERSE_CDF:
        assert probs is not None
        cdf = probs.cumsum(dim=-1)
        # The first token whose cumulative mass reaches u: never one of mass 0.
        u = counter_uniform(keys, counters, 1) * cdf[:, -1:]
        drawn = torch.searchsorted(cdf, u).squeeze(-1).clamp_(max=logits.shape[-1] - 1)
    else:
        uniform = counter_uniform(keys, counters, logits.shape[-1])
        drawn = (scaled - torch.log(-torch.log(uniform))).argmax(dim=-1)
    return torch.where(temperature > 0, drawn, greedy)
