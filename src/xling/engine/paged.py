"""A paged key/value cache: a pool of fixed-size pages, page tables, and decode attention
over them with flex attention.

The dense cache (cache.py) gives every slot room for the longest sequence, and each decode
step attends every row to the longest live length. With ragged lengths most of those bytes
are never used, yet they are allocated and read. Here the cache is one pool of pages shared
by all sequences: a sequence owns the pages its positions have reached (its page table
lists them in order), so the cache is sized by the tokens in flight, and a decode step
reads, for each row, only the pages that row has filled.

Layout and conventions:
- keys/values: [layers, 1, kv_heads, pages * page_size, head_dim]; token t of page p sits at
  index p * page_size + t. The leading 1 is the batch dimension flex attention broadcasts
  against the query rows.
- page 0 is a sink, never handed out: unused page-table entries point at it, so rows that
  write without owning a page (idle slots, rows decoding past their last needed position
  within a multi-step chunk) write there, and no row whose output is kept attends to it
  (see `_mask_mod`).
- `table` [slots + 1, width] (int32, on the device) lists each slot's physical pages by
  logical index (the last row, `sink_slot`, lists only the sink: padding prompts of a
  bucketed prefill write through it); `logical` [pages] holds each page's logical index
  within the sequences that own it (one value suffices: a page is shared only as the same
  prompt page of a GRPO group).
  The host keeps the truth (`PagePool`) and writes changed rows before each pass.

Decode attention is `flex_attention` with a `BlockMask` whose blocks are pages: row b
visits `table[b, :pages in use]`, and a mask function maps a physical key index back to a
logical position. Built from device tensors every step without a host sync, so a CUDA
graph captures it.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch.nn.attention.flex_attention import BlockMask, FlexKernelOptions, flex_attention

from xling.engine.cache import DecodeAttention
from xling.engine.compiling import MaybeCompiled
from xling.engine.model import store_rows

# Keys per page. 128 is flex attention's default sparse block size and a multiple of its
# decoding kernel's key tile (BLOCK_N: 64 by default, 128 as `decode_kernel_options` sets
# it), so a page is whole tiles; a page left partly empty per sequence (64 tokens on
# average) is little against traces of thousands of tokens, and fewer pages mean shorter
# page tables.
PAGE_SIZE = 128
# flex attention's query block size: the block mask's single query block must hold the
# query heads of one key/value group (see `decode_attention`), and its decoding kernel
# wants it a multiple of its query tile (16).
_QUERY_BLOCK = 128


# Live rows the default split (`default_kv_splits`) is sized for: a ragged batch's tail,
# when a few dozen rows are left, should still give every SM work. On one H200, the ragged
# 256-slot row of bench/long_generate.py at Qwen2.5-1.5B's shape ran at 31,003 / 30,046 /
# 27,824 tokens/s with 2 / 4 / 8 splits (32,232 / 30,896 / 28,599 with fused projections),
# against 28,420 with torch's choice (1): 64 rows, 2 splits there. One split for all steps:
# more splits for thinner steps (4 at 32 rows, 8 at 16; session 16) made a 32-row step's
# attention slower (0.72 ms against 0.61: each split added a combining kernel per layer)
# and cost a compilation each.
_SPLIT_ROWS = 64
# At most this many splits: each adds a partial result per row and head to combine, and a
# split shorter than a key tile visits nothing.
_MAX_SPLITS = 16


def default_kv_splits(n_kv_heads: int, device: torch.device | str) -> int | None:
    """Key/value splits of the paged decoding kernel when none is asked for: two programs
    per SM once `_SPLIT_ROWS` rows are live, about what torch would choose for a batch of
    that size. torch sizes it from the attended batch, which is always all slots (padded,
    `PagedKVCache.pad_rows`), so at 256 slots its choice is 1 split: a row's whole context
    read by one program per key/value head, while the tail of a ragged batch leaves most
    SMs idle. None off CUDA (no option: eager attention has no splits)."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    sms = torch.cuda.get_device_properties(device).multi_processor_count
    return min(_MAX_SPLITS, max(1, 2 * sms // (n_kv_heads * _SPLIT_ROWS)))


def decode_kernel_options(page_size: int, splits: int | None = None) -> FlexKernelOptions:
    """Settings of flex attention's decoding kernel (Triton, compiled). torch 2.11 runs it
    on Hopper with one pipeline stage and 2 warps (its heuristic picks 3 stages for sm90,
    then overwrites that choice). Two stages, 4 warps and key tiles of a whole page (up to
    128 positions; a tile must divide a page) took the ragged rows of bench/long_generate.py
    at Qwen2.5-1.5B's shape (2,048 new tokens at most) from 26,265 to 31,709 tokens/s at 256
    slots and from 10,046 to 10,781 at 64 (one H200 run each). With `splits`, each row's
    pages are split into that many stretches of key tiles, one program each (SPLIT_KV; on
    a block mask's sparse path the kernel splits the row's own pages, not the pool);
    without, torch picks from the attended batch size (`default_kv_splits` says why that
    is 1 here)."""
    options: dict[str, Any] = {"num_stages": 2, "num_warps": 4, "BLOCK_N": math.gcd(page_size, 128)}
    if splits is not None:
        options["SPLIT_KV"] = splits  # read by the kernel, not declared by FlexKernelOptions
    return cast(FlexKernelOptions, options)


def pages_for(tokens: int, page_size: int) -> int:
    return -(-tokens // page_size)


class PagePool:
    """Host-side page bookkeeping: free pages, each slot's pages, reference counts (a
    prompt's full pages shared by a group's requests), and which table rows changed."""

    def __init__(self, n_pages: int, slots: int, page_size: int) -> None:
        self.page_size = page_size
        self.usable = n_pages - 1  # page 0 is the sink
        self.free = list(range(n_pages - 1, 0, -1))  # popped from the end: low pages first
        self.refs = [0] * n_pages
        self.pages: list[list[int]] = [[] for _ in range(slots)]
        self.dirty: set[int] = set()  # slots whose table row must be rewritten
        self.labels: dict[int, int] = {}  # page -> logical index, to write

    def cost(self, slot: int, tokens: int) -> int:
        """New pages `slot` needs to hold `tokens` positions."""
        return max(0, pages_for(tokens, self.page_size) - len(self.pages[slot]))

    def grow(self, slot: int, tokens: int) -> bool:
        """Give `slot` pages for positions [0, tokens); False (and nothing taken) when the
        pool has too few free pages."""
        need = self.cost(slot, tokens)
        if need > len(self.free):
            return False
        owned = self.pages[slot]
        for _ in range(need):
            page = self.free.pop()
            self.refs[page] = 1
            self.labels[page] = len(owned)
            owned.append(page)
        if need:
            self.dirty.add(slot)
        return True

    def share(self, src: int, dst: int, tokens: int) -> None:
        """Let empty slot `dst` read the pages of `src` that `tokens` positions fill
        completely (a shared prompt): they are never written again, so one copy serves
        both. A partly filled last page is not shared: `dst` writes its own next tokens
        there, so it gets a page of its own (`grow`) and a copy of the data."""
        assert not self.pages[dst]
        full = self.pages[src][: tokens // self.page_size]
        for page in full:
            self.refs[page] += 1
        self.pages[dst] = list(full)
        self.dirty.add(dst)

    def release(self, slot: int) -> None:
        for page in self.pages[slot]:
            self.refs[page] -= 1
            if self.refs[page] == 0:
                self.free.append(page)
        self.pages[slot] = []
        self.dirty.add(slot)

    def move(self, src: int, dst: int) -> None:
        """Hand the pages of `src` to the empty slot `dst` (compaction)."""
        assert not self.pages[dst]
        self.pages[dst], self.pages[src] = self.pages[src], []
        self.dirty.update((src, dst))


@dataclass(frozen=True)
class StoredDecode:
    """A paged decode step whose keys, values and queries the decoder stores itself
    (`PagedKVCache.stored_decode`): `store_args(layer)`, the key and value caches of one
    layer [kv_heads, tokens, head_dim], each row's index in them and the queries' buffer
    [slots, heads, head_dim], to write the step's rows into (model.rotate_store); then
    `attend(layer, window)`, attention over what was stored, [rows, heads * head_dim]."""

    store_args: Callable[[int], tuple[torch.Tensor, ...]]
    attend: Callable[[int, int | None], torch.Tensor]


class PagedKVCache:
    """The page pool's keys and values, its device tables, and paged decode attention."""

    def __init__(
        self,
        *,
        n_layers: int,
        slots: int,
        n_kv_heads: int,
        head_dim: int,
        n_pages: int,
        page_size: int,
        max_len: int,
        dtype: torch.dtype,
        device: torch.device | str,
        compiled: bool,
        pad_rows: bool | None = None,
        kv_splits: int | None = None,
        fused_writes: bool = False,
    ) -> None:
        if max_len % page_size:
            raise ValueError(f"max_len {max_len} is not a multiple of page_size {page_size}")
        shape = (n_layers, 1, n_kv_heads, n_pages * page_size, head_dim)
        # Zeros, not empty: masked keys still meet the scores' arithmetic (0 x NaN would
        # poison a row), so never-written memory must hold finite numbers.
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.slots = slots
        self.max_len = max_len
        self.page_size = page_size
        self.n_kv_heads = n_kv_heads
        self.width = max_len // page_size  # pages one sequence can own
        self.pool = PagePool(n_pages, slots, page_size)
        # One row more than the slots: `sink_slot`, whose pages are all the sink, for the
        # padding prompts of a bucketed prefill to write through.
        self.table = torch.zeros((slots + 1, self.width), dtype=torch.int32, device=device)
        self.sink_slot = slots
        self.logical = torch.zeros(n_pages, dtype=torch.int32, device=device)
        # The step's positions, where the mask functions read them: they close over
        # tensors that live as long as the cache, so that one compiled variant (and one
        # captured graph) serves every step.
        self.positions = torch.zeros(slots, dtype=torch.long, device=device)
        self._mask_mods: dict[tuple[int | None, bool], Callable[..., torch.Tensor]] = {}
        self.compiled = compiled
        # Compiled, flex attention's decoding kernel needs a static batch size: one
        # compilation per row count, some 2 s each at Qwen2.5-1.5B's shape, was most of
        # the engine's warm-up on ragged work (every batch bucket from 256 down to 1).
        # Attending over all `slots` rows always, the rows past a step's own with no page
        # to visit, one compilation serves every step; an empty row costs its kernel
        # instances an early exit. Eager (a CPU), rows stay unpadded unless asked: the
        # eager path scores each row against the whole pool.
        self.pad_rows = compiled if pad_rows is None else pad_rows
        self._attend: Callable[..., torch.Tensor] = (
            MaybeCompiled(
                _flex,
                enabled=True,
                name="paged attention",
                dynamic=False,
                eager=_eager_flex,
            )
            if compiled
            else _eager_flex
        )
        # The decoding kernel's key/value splits (`default_kv_splits`); None: torch's own
        # choice, or no kernel (eager).
        self.kv_splits: int | None = None
        if compiled:
            self.kv_splits = (
                kv_splits if kv_splits is not None else default_kv_splits(n_kv_heads, device)
            )
        self._options = decode_kernel_options(page_size, self.kv_splits) if compiled else None
        # The decoder stores a step's keys, values and queries itself, with its rotary in
        # one compiled function (model.rotate_store, `stored_decode`), in place of the
        # index copies and the query padding of `decode_attention`.
        self.fused_writes = fused_writes
        # The attended rows' queries [slots, heads, head_dim] for `stored_decode`, made at
        # its first step (an eager run, before any graph capture): rows past a step's own
        # keep stale, finite values, and visit no page.
        self._queries: torch.Tensor | None = None

    @property
    def dtype(self) -> torch.dtype:
        return self.k.dtype

    @property
    def n_pages(self) -> int:
        return self.pool.usable + 1

    # ------------------------------------------------------------------ host -> device

    def flush(self) -> None:
        """Write the table rows and page labels the host changed since the last flush."""
        pool = self.pool
        device = self.table.device
        if pool.dirty:
            slots = sorted(pool.dirty)
            rows = torch.zeros((len(slots), self.width), dtype=torch.int32)
            for i, slot in enumerate(slots):
                owned = pool.pages[slot]
                rows[i, : len(owned)] = torch.tensor(owned, dtype=torch.int32)
            self.table.index_copy_(0, torch.tensor(slots, device=device), rows.to(device))
            pool.dirty.clear()
        if pool.labels:
            pages = torch.tensor(list(pool.labels), device=device)
            labels = torch.tensor(list(pool.labels.values()), dtype=torch.int32)
            self.logical.index_copy_(0, pages, labels.to(device))
            pool.labels.clear()

    def copy_prompt_tails(
        self, src: Sequence[int], dst: Sequence[int], lengths: Sequence[int]
    ) -> None:
        """After a shared prefill: copy the partly filled last prompt page of each slot in
        `src` to the page `dst` owns at that logical index (`PagePool.share`)."""
        size = self.page_size
        pairs = [
            (self.pool.pages[s][n // size], self.pool.pages[d][n // size])
            for s, d, n in zip(src, dst, lengths, strict=True)
            if n % size
        ]
        if not pairs:
            return
        offsets = torch.arange(size)
        index_src = (torch.tensor([s for s, _ in pairs])[:, None] * size + offsets).flatten()
        index_dst = (torch.tensor([d for _, d in pairs])[:, None] * size + offsets).flatten()
        device = self.k.device
        index_src, index_dst = index_src.to(device), index_dst.to(device)
        for cache in (self.k, self.v):
            cache.index_copy_(3, index_dst, cache.index_select(3, index_src))

    # ------------------------------------------------------------------ passes

    def prompt_writer(
        self, slots: torch.Tensor, width: int
    ) -> Callable[[int, torch.Tensor, torch.Tensor], None]:
        """A function storing one layer's prompt keys/values [n, kv_heads, width, head_dim]
        at positions [0, width) of `slots` (whose pages the table must already list).
        Padding past a prompt's end lands in its own later positions (rewritten by decoding
        before they are read) or in the sink."""
        size = self.page_size
        t = torch.arange(width, device=slots.device)
        pages = self.table[slots][:, t // size].long()
        index = (pages * size + t % size).flatten()

        def write(layer: int, k: torch.Tensor, v: torch.Tensor) -> None:
            for cache, new in ((self.k, k), (self.v, v)):
                flat = new.transpose(0, 1).reshape(new.shape[1], -1, new.shape[3])
                cache[layer, 0].index_copy_(1, index, flat.to(self.dtype))

        return write

    def _start_step(self, positions: torch.Tensor) -> tuple[int, int, torch.Tensor]:
        """(rows, attended rows, each row's index in the pool) of a decode step for rows
        0..b-1 fed at `positions` [b], whose positions the mask functions read from now on."""
        rows = positions.shape[0]
        size = self.page_size
        self.positions[:rows].copy_(positions)
        pages = self.table[:rows].gather(1, (positions // size)[:, None]).squeeze(1)
        return rows, self.slots if self.pad_rows else rows, pages.long() * size + positions % size

    def _attend_rows(
        self,
        layer: int,
        window: int | None,
        grouped: torch.Tensor,
        rows: int,
        masks: dict[int | None, BlockMask],
    ) -> torch.Tensor:
        """Attention of queries `grouped` [attended, kv_heads, group, head_dim] over layer
        `layer`'s pages; [rows, heads * head_dim]. Block masks are built once a step, for
        all layers (`masks`)."""
        attended, _, group, _ = grouped.shape
        if window not in masks:
            masks[window] = self.block_mask(rows, group, window, attended)
        out = self._attend(grouped, self.k[layer], self.v[layer], masks[window], self._options)
        return out[:rows].reshape(rows, -1)

    def decode_attention(self, positions: torch.Tensor, kv_len: int | None) -> DecodeAttention:
        """Attention for one decode step of rows 0..b-1 fed at `positions` [b]: a function
        (layer, window, q [b, heads, head_dim], k, v [b, kv_heads, head_dim]) that stores k/v
        and returns [b, heads * head_dim]. `kv_len` is the dense cache's and unused: what a
        row reads is its own."""
        rows, attended, slot = self._start_step(positions)
        masks: dict[int | None, BlockMask] = {}

        def attention(
            layer: int, window: int | None, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
        ) -> torch.Tensor:
            # Two index copies and (below) a pad. Compiled into one function (session 16),
            # they became two kernels, and a 32-row step on an H200 0.04 ms shorter of 2.8:
            # not worth a compilation more in the warm-up. `stored_decode` folds them into
            # the rotary's compiled function instead.
            store_rows(self.k[layer, 0], self.v[layer, 0], slot, k, v)
            # The `group` query heads of one key/value head attend as `group` queries of
            # that head (as in the dense path). flex attention's own enable_gqa would do
            # the same inside its decoding kernel, but only for power-of-two groups:
            # Qwen2.5-1.5B's 6 and 7B's 7 would fall back to its general kernel.
            group = q.shape[1] // self.n_kv_heads
            grouped = q.reshape(rows, self.n_kv_heads, group, q.shape[2]).to(self.dtype)
            if attended > rows:
                grouped = F.pad(grouped, (0, 0, 0, 0, 0, 0, 0, attended - rows))
            return self._attend_rows(layer, window, grouped, rows, masks)

        return attention

    def stored_decode(self, positions: torch.Tensor, n_heads: int) -> StoredDecode:
        """A decode step of rows 0..b-1 fed at `positions` [b] (`n_heads` query heads) whose
        new keys, values and queries the decoder stores itself, where `store_args` says
        (`fused_writes`), before it calls `attend`."""
        rows, attended, slot = self._start_step(positions)
        head_dim = self.k.shape[-1]
        shape = (self.slots, n_heads, head_dim)
        if self._queries is None or self._queries.shape != shape:
            self._queries = torch.zeros(shape, dtype=self.dtype, device=self.k.device)
        queries = self._queries
        masks: dict[int | None, BlockMask] = {}

        def store_args(layer: int) -> tuple[torch.Tensor, ...]:
            return self.k[layer, 0], self.v[layer, 0], slot, queries

        def attend(layer: int, window: int | None) -> torch.Tensor:
            grouped = queries[:attended].view(attended, self.n_kv_heads, -1, head_dim)
            return self._attend_rows(layer, window, grouped, rows, masks)

        return StoredDecode(store_args, attend)

    def block_mask(
        self, rows: int, group: int, window: int | None, attended: int | None = None
    ) -> BlockMask:
        """What rows 0..rows-1 attend to at the positions `decode_attention` stored: each
        visits its pages up to the one holding its position, as `group` queries (the query
        heads of one key/value head). Rows `rows`..`attended`-1 (padding) visit none."""
        attended = attended or rows
        # No "full" blocks (pages that would skip the mask function): in torch 2.11's
        # decoding kernel, full blocks split a row's work by the whole pool's length
        # rather than by the row's own pages, which would pile it onto the first split.
        n_blocks = (self.positions[:rows] // self.page_size + 1).to(torch.int32)
        if attended > rows:
            n_blocks = F.pad(n_blocks, (0, attended - rows))
        return BlockMask.from_kv_blocks(
            n_blocks.view(attended, 1, 1),
            self.table[:attended].view(attended, 1, 1, self.width),
            BLOCK_SIZE=(_QUERY_BLOCK, self.page_size),
            mask_mod=self._mask_mod(window, exact=not self.compiled),
            seq_lengths=(group, self.k.shape[3]),
            compute_q_blocks=False,  # forward only: no query-major copy needed
        )

    def _mask_mod(self, window: int | None, exact: bool) -> Callable[..., torch.Tensor]:
        """mask(b, h, q, kv) for physical key index kv: its page's logical index places it
        in the sequence; the key is visible when its logical position is at most the row's
        position (and within `window` of it) and, when `exact`, when the row's table lists
        that page at that index. That last condition makes the mask right on its own, as
        flex attention's eager path needs: it evaluates the mask over the whole pool,
        ignoring the page lists. The compiled kernel visits only the pages the block mask
        lists for row b, its own, so there the check is per-key work that changes nothing
        (save on the sink, listed past a row's last page only for steps whose tokens are
        thrown away), and a compiled cache leaves it out."""
        if (window, exact) in self._mask_mods:
            return self._mask_mods[window, exact]
        size, table, logical, positions = self.page_size, self.table, self.logical, self.positions

        def mask_mod(
            b: torch.Tensor, h: torch.Tensor, q: torch.Tensor, kv: torch.Tensor
        ) -> torch.Tensor:
            page = kv // size
            index = logical[page]
            key = index * size + kv % size
            position = positions[b]
            visible = key <= position
            if exact:
                visible = visible & (table[b, index] == page)
            if window is not None:
                visible = visible & (key > position - window)
            return visible

        if not exact:
            # For `_eager_flex`; held by the function, not the cache, so that no
            # reference cycle keeps a dropped cache's memory until a garbage collection.
            mask_mod.exact = self._mask_mod(window, exact=True)  # type: ignore[attr-defined]
        self._mask_mods[window, exact] = mask_mod
        return mask_mod


def _flex(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    block_mask: BlockMask,
    options: FlexKernelOptions | None,
) -> Any:
    return flex_attention(q, k, v, block_mask=block_mask, kernel_options=options)


def _eager_flex(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    block_mask: BlockMask,
    options: FlexKernelOptions | None,
) -> Any:
    """Eager flex attention, its reference implementation: scores over the whole pool, so
    with the exact mask. That is an eager cache's own mask; a compiled cache whose
    compilation failed lands here too, and its cheap mask is swapped for its exact twin
    (`PagedKVCache._mask_mod`). `options` tune the compiled kernel only."""
    exact = getattr(block_mask.mask_mod, "exact", None)
    if exact is not None:
        block_mask = copy.copy(block_mask)
        block_mask.mask_mod = exact
    # Right on a CPU, where nothing compiles it, and its advice to compile is noise there.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="flex_attention called without torch.compile")
        return flex_attention(q, k, v, block_mask=block_mask)
