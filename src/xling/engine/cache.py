"""A preallocated key/value cache: one row ("slot") per sequence being generated.

Static per-slot rows rather than pages: every slot holds `max_len` positions, so a decode
step reads a fixed-shape slice (what a CUDA graph needs) and attention is plain
`scaled_dot_product_attention` over it. The price is memory for the longest sequence in
every slot, which `plan_slots` bounds by the memory at hand, and, with ragged lengths, reads
of every row up to the longest live one. paged.py is the alternative (`EngineConfig.attention`).
`Cache` is what the decoder (model.py) needs of either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
import torch.nn.functional as F

# (layer, window, q [b, heads, head_dim], k, v [b, kv_heads, head_dim]) -> [b, heads * head_dim]
DecodeAttention = Callable[
    [int, int | None, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor
]


class Cache(Protocol):
    """A key/value cache the decoder's passes write into and attend over."""

    @property
    def dtype(self) -> torch.dtype: ...

    def prompt_writer(
        self, slots: torch.Tensor, width: int
    ) -> Callable[[int, torch.Tensor, torch.Tensor], None]:
        """(layer, k, v) -> None storing prompt keys/values [n, kv_heads, width, head_dim]
        at positions [0, width) of `slots` [n]."""
        ...

    def decode_attention(self, positions: torch.Tensor, kv_len: int | None) -> DecodeAttention:
        """Attention of one decode step for rows 0..b-1 fed at `positions` [b]: stores each
        layer's new keys/values and attends to every row's positions up to its own."""
        ...


def bytes_per_token(n_layers: int, n_kv_heads: int, head_dim: int, dtype: torch.dtype) -> int:
    """Cache bytes one position of one slot takes (keys and values, all layers)."""
    return 2 * n_layers * n_kv_heads * head_dim * torch.empty((), dtype=dtype).element_size()


class KVCache:
    """Keys and values as [layers, slots, kv_heads, max_len, head_dim] tensors."""

    def __init__(
        self,
        *,
        n_layers: int,
        slots: int,
        n_kv_heads: int,
        max_len: int,
        head_dim: int,
        dtype: torch.dtype,
        device: torch.device | str,
    ) -> None:
        shape = (n_layers, slots, n_kv_heads, max_len, head_dim)
        # Zeros, not empty: masked positions still meet the values in attention (0 x NaN
        # would poison a row), so never-written memory must hold finite numbers.
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.slots = slots
        self.max_len = max_len

    @property
    def dtype(self) -> torch.dtype:
        return self.k.dtype

    def write_prompt(
        self, layer: int, slots: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> None:
        """Store prompt keys/values [n, kv_heads, T, head_dim] at positions [0, T) of `slots`."""
        width = k.shape[2]
        self.k[layer, slots, :, :width] = k.to(self.dtype)
        self.v[layer, slots, :, :width] = v.to(self.dtype)

    def write_step(
        self,
        layer: int,
        rows: torch.Tensor,
        positions: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
    ) -> None:
        """Store one position per row: k, v [b, kv_heads, head_dim] at `positions` [b]."""
        self.k[layer][rows, :, positions] = k.to(self.dtype)
        self.v[layer][rows, :, positions] = v.to(self.dtype)

    def view(self, layer: int, rows: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.k[layer, :rows, :, :length], self.v[layer, :rows, :, :length]

    def prompt_writer(
        self, slots: torch.Tensor, width: int
    ) -> Callable[[int, torch.Tensor, torch.Tensor], None]:
        return lambda layer, k, v: self.write_prompt(layer, slots, k, v)

    def decode_attention(self, positions: torch.Tensor, kv_len: int | None) -> DecodeAttention:
        """Rows attend to cache positions [0, kv_len) (static shapes for a CUDA graph),
        masked to each row's own positions."""
        assert kv_len is not None
        b = positions.shape[0]
        rows = torch.arange(b, device=positions.device)
        key_pos = torch.arange(kv_len, device=positions.device)[None, :]
        causal = key_pos <= positions[:, None]
        # Additive masks, built once per step rather than converted from bool in every layer.
        masks: dict[int | None, torch.Tensor] = {None: _additive(causal, self.dtype)}

        def attention(
            layer: int, window: int | None, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
        ) -> torch.Tensor:
            self.write_step(layer, rows, positions, k, v)
            keys, values = self.view(layer, b, kv_len)
            if window not in masks:
                masks[window] = _additive(
                    causal & (key_pos > positions[:, None] - window), self.dtype
                )
            # The `group` query heads that share a key/value head attend as `group` queries
            # of that head, so grouped-query attention needs no repeated keys.
            group = q.shape[1] // keys.shape[1]
            out = F.scaled_dot_product_attention(
                q.view(b, keys.shape[1], group, q.shape[2]),
                keys,
                values,
                attn_mask=masks[window],
            )
            return out.reshape(b, -1)

        return attention

    def move(self, src: list[int], dst: list[int], length: int) -> None:
        """Copy the first `length` positions of slots `src` into slots `dst` (compaction,
        a shared prompt)."""
        if not src:
            return
        index_src = torch.tensor(src, device=self.k.device)
        index_dst = torch.tensor(dst, device=self.k.device)
        for cache in (self.k, self.v):
            cache[:, index_dst, :, :length] = cache[:, index_src, :, :length]


def plan_slots(
    wanted: int,
    per_slot_bytes: int,
    device: torch.device,
    *,
    memory_fraction: float,
    reserved_bytes: int,
    cpu_budget_bytes: int,
) -> int:
    """How many slots of `per_slot_bytes` fit: on CUDA in `memory_fraction` of the free
    memory less `reserved_bytes` (activations, logits), on CPU in `cpu_budget_bytes`."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget = int(free * memory_fraction) - reserved_bytes
    else:
        budget = cpu_budget_bytes
    return max(0, min(wanted, budget // max(per_slot_bytes, 1)))


def _additive(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A [b, L] bool mask as the [b, 1, 1, L] additive mask SDPA would make of it."""
    mask = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return mask.masked_fill_(~allowed, float("-inf"))[:, None, None, :]
