"""A preallocated key/value cache: one row ("slot") per sequence being generated.

Static per-slot rows rather than pages: every slot holds `max_len` positions, so a decode
step reads a fixed-shape slice (what a CUDA graph needs) and attention is plain
`scaled_dot_product_attention` over it. The price is memory for the longest sequence in
every slot, which `plan_slots` bounds by the memory at hand.
"""

from __future__ import annotations

import torch


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
