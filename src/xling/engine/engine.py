"""`Engine`: continuous-batching generation over a preallocated KV cache.

    engine = Engine(hf_model, eos_token_ids=[eos])            # shares hf_model's tensors
    completions = engine.generate(prompt_ids, SamplingParams(temperature=1.0, seed=3))

The loop: take queued requests into free cache slots (a batched, right-padded prefill that
also draws each one's first token), then run decode steps for all live slots, several at a
time between host synchronisations (`steps_per_sync`), then hand finished requests back and
refill their slots from the queue. On CUDA each decode step is a replayed CUDA graph
(graphs.py); elsewhere it runs eagerly on exactly the live rows and cache length.

Two cache layouts (`EngineConfig.attention`): "dense" (cache.py), a row of the longest
length per slot, and "paged" (paged.py), a pool of pages that sequences take as they grow.
With pages the loop also keeps every live sequence supplied with the pages its next chunk
of steps writes, and when the pool runs dry it preempts the most recently admitted
sequence: its pages are freed, and it goes back to the front of the queue to be generated
again from its prompt (the same tokens: sampling draws by (seed, token index)).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from xling.engine.cache import KVCache, bytes_per_token, plan_slots
from xling.engine.compiling import MaybeCompiled, compiled_kernels, compiler_available
from xling.engine.graphs import DecodeGraphs, batch_bucket, length_bucket
from xling.engine.model import EAGER_KERNELS, Decoder
from xling.engine.paged import PAGE_SIZE, PagedKVCache, pages_for
from xling.engine.sampling import DRAWS, draw_for, sample, sampling_mode, seed_key
from xling.engine.scheduler import (
    Completion,
    Request,
    SamplingParams,
    SlotTable,
    StopMatcher,
)
from xling.errors import XlingError

log = logging.getLogger(__name__)


class EngineError(XlingError):
    pass


DENSE, PAGED = "dense", "paged"
ATTENTIONS = (DENSE, PAGED)


@dataclass(frozen=True)
class EngineConfig:
    max_batch_size: int = 256  # cache slots: sequences decoded at once
    cuda_graphs: bool | None = None  # None: on CUDA devices
    # Static (bucketed) decode shapes without graphs: what graphs run, testable on a CPU.
    pad_to_buckets: bool | None = None  # None: when graphs are on
    # How a sampled token is drawn (sampling.py): "gumbel" | "inverse_cdf"; None: the
    # faster one on the model's device.
    draw: str | None = None
    # Decode steps between host reads; None: 16 on graphs (fewer waits than 8, and fewer
    # wasted steps than 32, on the organism's greedy evaluation on an H200), else 1.
    steps_per_sync: int | None = None
    length_step: int = 128  # cache lengths (and attended lengths on graphs) round up to this
    prefill_tokens: int | None = (
        None  # padded prompt tokens per prefill; None: 16384 CUDA, 2048 CPU
    )
    memory_fraction: float = 0.9  # CUDA: share of the free memory the cache may take
    cpu_cache_bytes: int = 4 << 30  # CPU: cache budget
    # torch.compile the element-wise kernels and the sampler (compiling.py); None: with CUDA
    # graphs, where Triton is installed, for models of COMPILE_MIN_PARAMETERS or more.
    # (Paged attention compiles its flex attention on CUDA whatever this says.)
    compile: bool | None = None
    # Cache layout and decode attention: "dense" (a row of the longest length per slot,
    # SDPA; cache.py) or "paged" (a pool of pages sized by the tokens in flight, flex
    # attention; paged.py). None: dense.
    attention: str | None = None
    page_size: int = PAGE_SIZE  # paged: positions per page, a multiple of 16
    # Paged, compiled (CUDA): key/value splits of flex attention's decoding kernel, the
    # programs that share one row's pages per key/value head. None: a default sized so
    # that a few dozen live rows fill the GPU (paged.default_kv_splits). The kernel always
    # attends all slots' rows (padding rows visit no page), and torch sizes its own
    # choice from that padded batch: 1 split once slots x key/value heads pass the SM
    # count (132 on an H200), so the few rows left at a ragged batch's tail leave most
    # SMs idle.
    kv_splits: int | None = None
    # One matrix product for each layer's q/k/v and one for gate/up, over stacked copies of
    # those weights refreshed at every `generate` (model.Decoder._fuse): fewer, larger
    # kernels per decode step for about two thirds of the weights' memory again.
    fuse_projections: bool = False
    # Decode passes of at most 64 rows compute each narrow product (q/k/v, o, down) as this
    # many products over stretches of its inner dimension, summed in float32
    # (model.split_k_linear): more output tiles for a thin step's GPU. 1: off. An
    # experiment until bench/decode_matmul.py shows on a GPU where it pays.
    split_k: int = 1
    # Paged decode: each layer's rotary, cache writes and queries' copy as one compiled
    # function (model.rotate_store) rather than the rotary's kernels, two index copies and
    # a pad. An experiment until measured on a GPU; the dense cache ignores it.
    fuse_cache_writes: bool = False

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise EngineError(f"max_batch_size must be at least 1, got {self.max_batch_size}")
        if self.steps_per_sync is not None and self.steps_per_sync < 1:
            raise EngineError(f"steps_per_sync must be at least 1, got {self.steps_per_sync}")
        if self.length_step < 1:
            raise EngineError(f"length_step must be at least 1, got {self.length_step}")
        if not 0 < self.memory_fraction <= 1:
            raise EngineError(f"memory_fraction must be in (0, 1], got {self.memory_fraction}")
        if self.draw is not None and self.draw not in DRAWS:
            raise EngineError(f"draw must be one of {', '.join(DRAWS)}, got {self.draw!r}")
        if self.attention is not None and self.attention not in ATTENTIONS:
            raise EngineError(
                f"attention must be one of {', '.join(ATTENTIONS)}, got {self.attention!r}"
            )
        if self.split_k < 1:
            raise EngineError(f"split_k must be at least 1, got {self.split_k}")
        if self.kv_splits is not None and self.kv_splits < 1:
            raise EngineError(f"kv_splits must be at least 1, got {self.kv_splits}")
        # flex attention's decoding kernel splits a page into key tiles of 16 or more.
        if self.page_size < 16 or self.page_size % 16:
            raise EngineError(f"page_size must be a multiple of 16, got {self.page_size}")


class _State:
    """Per-slot decode inputs on the device; a decode step reads and advances them."""

    def __init__(self, slots: int, history: int, device: torch.device) -> None:
        def longs() -> torch.Tensor:
            return torch.zeros(slots, dtype=torch.long, device=device)

        self.tokens = longs()  # the token each slot feeds next
        self.positions = longs()  # where that token goes in the cache
        self.keys = longs()  # sampling stream key
        self.counters = longs()  # tokens drawn so far (the stream's counter)
        self.temperature = torch.zeros(slots, dtype=torch.float32, device=device)
        self.top_p = torch.ones(slots, dtype=torch.float32, device=device)
        self.history = torch.zeros((history, slots), dtype=torch.long, device=device)

    def fields(self) -> tuple[torch.Tensor, ...]:
        return (
            self.tokens,
            self.positions,
            self.keys,
            self.counters,
            self.temperature,
            self.top_p,
        )

    def advancing(self) -> list[torch.Tensor]:
        return [self.tokens, self.positions, self.counters]


_GREEDY = SamplingParams()
# Compiling costs each process 10-20 s, more again for each new batch shape it meets. Below
# this size the steps it shortens are short already: on an H200 the 3.4M-parameter organism
# lost more to compiling (a 13 s first GRPO step instead of 6 s, and 2-7 s recompilations
# later in the run) than a 16-step run or one evaluation gained, while at 0.5B a decode step
# of 256 sequences went from 4.6 to 3.4 ms, and sampling from its vocabulary got several
# times faster.
COMPILE_MIN_PARAMETERS = 100_000_000
# Prefill activations (tokens x hidden) from which the compiled element-wise kernels are used.
_COMPILED_PREFILL_ELEMENTS = 1 << 22
# Paged prefills of at most this many tokens at their bucketed shapes (prompts to a batch
# bucket, their width to a multiple of `_PREFILL_WIDTH_STEP`) run as CUDA graphs: the
# refills of a ragged batch, a few prompts at a time. Larger ones keep the GPU busy
# without, and each shape would be a graph (and its memory) of its own.
_GRAPHED_PREFILL_TOKENS = 4096
_PREFILL_WIDTH_STEP = 64

# A slot's state values: token, position, sampling key, counter, temperature, top_p.
_Values = tuple[int, int, int, int, float, float]
# Values written into a freed slot: position 0 keeps its (ignored) row's attention valid.
_IDLE: _Values = (0, 0, 0, 0, 0.0, 1.0)


class Engine:
    """Generates from a Qwen2 / Qwen3 / Llama / Mistral HF model, sharing its tensors."""

    def __init__(
        self,
        model: Any,
        *,
        eos_token_ids: Sequence[int] = (),
        tokenizer: Any = None,
        config: EngineConfig | None = None,
        autocast_dtype: torch.dtype | None = None,
        merged_adapters: bool = False,
    ) -> None:
        # merged_adapters: LoRA-wrapped projections allowed; the caller merges them around
        # each `generate` (see model.unsupported_reason).
        self.config = config or EngineConfig()
        self.decoder = Decoder(
            model,
            merged_adapters=merged_adapters,
            fuse=self.config.fuse_projections,
            split_k=self.config.split_k,
        )
        self.model = model
        self.eos = frozenset(int(t) for t in eos_token_ids)
        self._eos_array = np.array(sorted(self.eos), dtype=np.int64)
        self.tokenizer = tokenizer
        self.autocast_dtype = autocast_dtype
        device = self.decoder.device
        self.device = device
        self.draw = self.config.draw or draw_for(device)
        graphs = self.config.cuda_graphs
        if graphs is None:
            graphs = device.type == "cuda"
        if graphs and device.type != "cuda":
            raise EngineError(f"CUDA graphs need a CUDA device; the model is on {device}")
        self.graphs = DecodeGraphs(enabled=graphs)
        self.padded = (
            self.config.pad_to_buckets if self.config.pad_to_buckets is not None else graphs
        )
        self.steps_per_sync = self.config.steps_per_sync or (16 if graphs else 1)
        self.prefill_tokens = self.config.prefill_tokens or (
            16384 if device.type == "cuda" else 2048
        )
        self.paged = (self.config.attention or DENSE) == PAGED
        self.cache: KVCache | PagedKVCache | None = None
        self.state: _State | None = None
        self._slot_cap = self.config.max_batch_size  # lowered when memory holds fewer
        self._page_cap = 1 << 62  # likewise, pages of the paged cache
        self._admissions = itertools.count()
        self.cos = self.sin = torch.empty(0)
        # A bucketed prefill's static inputs and output, by graph key (`_prefill_logits`).
        self._prefill_buffers: dict[tuple[str, int, int], tuple[torch.Tensor, ...]] = {}
        self._weights_key = self.decoder.storage_key()
        compile_ = self.config.compile
        if compile_ is None:
            compile_ = (
                graphs
                and self.decoder.parameter_count() >= COMPILE_MIN_PARAMETERS
                and compiler_available(device)
            )
        self._sample: Callable[..., torch.Tensor] = sample
        # Compiled functions are never called on one row: torch.compile specializes sizes
        # 0 and 1 even with dynamic shapes, so a first batch of one would compile every
        # kernel and the sampler again. (On a CPU, 4 element-wise functions and the sampler
        # compiled 10 times for a ragged batch, its tail and lone admissions at 1 row; cold,
        # the first call took 34 s instead of 25.) Prefill needs no care: its kernels see
        # the prompts' tokens as rows (model.Decoder.prefill).
        self._min_rows = 2 if compile_ else 1
        if compile_:
            self.decoder.kernels = compiled_kernels()
            self._sample = MaybeCompiled(sample, enabled=True, name="sampler")
        self.stats = {
            "prefills": 0,
            "decode_steps": 0,
            "syncs": 0,
            "moves": 0,
            "preemptions": 0,
            "peak_live": 0,  # sequences decoded at once, at most
            # Wall seconds in prefills (their first-token read included) and in decode
            # chunks (launch to the host's read of their tokens). Every pass ends in a host
            # read, so the device idles for the rest of a call: the loop's own bookkeeping.
            "prefill_s": 0.0,
            "decode_s": 0.0,
        }

    @classmethod
    def from_pretrained(
        cls,
        path: str,
        *,
        device: str | None = None,
        dtype: torch.dtype | None = None,
        config: EngineConfig | None = None,
        trust_remote_code: bool = False,
    ) -> Engine:
        """Load an HF checkpoint directory (or hub id) with transformers and run it."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = AutoModelForCausalLM.from_pretrained(
            path, dtype=dtype or "auto", trust_remote_code=trust_remote_code
        )
        model.to(device).eval()
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        eos: set[int] = set()
        for ids in (model.generation_config.eos_token_id, tokenizer.eos_token_id):
            if ids is not None:
                eos.update([ids] if isinstance(ids, int) else ids)
        return cls(model, eos_token_ids=sorted(eos), tokenizer=tokenizer, config=config)

    # ------------------------------------------------------------------ public API

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        params: SamplingParams | Sequence[SamplingParams] = _GREEDY,
        *,
        on_finish: Callable[[int, Completion], None] | None = None,
    ) -> list[Completion]:
        """Completions for token-id prompts, in order. `params` is one for all prompts or
        one per prompt; `on_finish(i, completion)` is called as prompt i finishes, while
        the others are still decoding."""
        per_prompt = [params] * len(prompts) if isinstance(params, SamplingParams) else params
        if len(per_prompt) != len(prompts):
            raise EngineError(f"{len(prompts)} prompts but {len(per_prompt)} sampling params")
        requests = [
            self._request(i, p, sp)
            for i, (p, sp) in enumerate(zip(prompts, per_prompt, strict=True))
        ]
        if not requests:
            return []
        with torch.inference_mode(), self._autocast():
            self._prepare(requests)
            self._run(requests, on_finish)
        return [r.completion() for r in requests]

    # ------------------------------------------------------------------ setup

    def _request(self, index: int, prompt: Sequence[int], params: SamplingParams) -> Request:
        ids = list(map(int, prompt))
        if not ids:
            raise EngineError(f"prompt {index} is empty")
        if min(ids) < 0 or max(ids) >= self.decoder.vocab_size:
            raise EngineError(
                f"prompt {index} has token ids outside the vocabulary "
                f"[0, {self.decoder.vocab_size})"
            )
        if params.max_new_tokens < 1:
            raise EngineError(f"max_new_tokens must be at least 1, got {params.max_new_tokens}")
        if params.temperature < 0 or not 0 < params.top_p <= 1:
            raise EngineError(
                f"temperature must be >= 0 and top_p in (0, 1], got {params.temperature}, "
                f"{params.top_p}"
            )
        stopper = None
        if any(params.stop):
            if self.tokenizer is None:
                raise EngineError("stop strings need the engine to be given a tokenizer")
            stopper = StopMatcher(self.tokenizer, params.stop)
        return Request(index, ids, params, seed_key(params.seed), stopper)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        # No weight-cast cache: cached casts would be stale after an optimizer step, and
        # graph capture must not depend on them.
        return torch.autocast(self.device.type, dtype=self.autocast_dtype, cache_enabled=False)

    def _prepare(self, requests: Sequence[Request]) -> None:
        """Cache, tables and state big enough for `requests`; re-read moved weights."""
        key = self.decoder.storage_key()
        if key != self._weights_key:
            # Weights were replaced, not updated in place: graphs point at the old tensors.
            self._drop_graphs()
            if self.decoder.device != self.device or self._cache_dtype() != getattr(
                self.cache, "dtype", None
            ):
                self.device = self.decoder.device
                self.draw = self.config.draw or draw_for(self.device)
                self.cache = None
            self._weights_key = key
        need_len = max(len(r.prompt) + r.params.max_new_tokens for r in requests)
        need_len = length_bucket(need_len, self.config.length_step, 1 << 62)
        if self.paged:
            need_len = length_bucket(need_len, self.config.page_size, 1 << 62)
        need_slots = min(self.config.max_batch_size, len(requests), self._slot_cap)
        cache = self.cache
        if (
            cache is None
            or cache.slots < need_slots
            or cache.max_len < need_len
            or (
                isinstance(cache, PagedKVCache)
                and cache.n_pages < min(self._page_cap, self._pages_wanted(need_slots, need_len))
            )
        ):
            slots = max(need_slots, cache.slots if cache else 0)
            max_len = max(need_len, cache.max_len if cache else 0)
            self._allocate(slots, max_len)
        if isinstance(self.cache, PagedKVCache):
            usable, size = self.cache.pool.usable, self.cache.page_size
            for r in requests:
                positions = len(r.prompt) + r.params.max_new_tokens - 1  # the last is not fed
                if pages_for(positions, size) > usable:
                    raise EngineError(
                        f"request {r.index} needs {positions} cache positions "
                        f"({pages_for(positions, size)} pages of {size}), more than the whole "
                        f"paged KV cache ({usable} pages); shorten max_new_tokens or free memory"
                    )

    def _cache_dtype(self) -> torch.dtype:
        return self.autocast_dtype or self.decoder.dtype

    def _pages_wanted(self, slots: int, max_len: int) -> int:
        """Pages for every slot at full length (more could never be used), and the sink."""
        return slots * (max_len // self.config.page_size) + 1

    def _drop_graphs(self) -> None:
        """Forget the captured graphs and the static buffers the prefill graphs read."""
        self.graphs.clear()
        self._prefill_buffers.clear()

    def _allocate(self, slots: int, max_len: int) -> None:
        self.cache = self.state = None
        self._drop_graphs()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        dec = self.decoder
        token_bytes = bytes_per_token(
            dec.n_layers, dec.n_kv_heads, dec.head_dim, self._cache_dtype()
        )
        hidden = dec.embed.shape[1]
        intermediate = dec.layers[0].gate.shape[0]
        reserved = (
            slots * dec.vocab_size * 32 + self.prefill_tokens * (8 * hidden + 4 * intermediate) * 4
        )
        if self.paged:
            self.cache = self._page_pool(slots, max_len, token_bytes, reserved)
        else:
            self.cache = self._slot_rows(slots, max_len, token_bytes, reserved)
        self.state = _State(self.cache.slots, self.steps_per_sync, self.device)
        self.cos, self.sin = dec.rope_tables(max_len)

    def _slot_rows(self, slots: int, max_len: int, token_bytes: int, reserved: int) -> KVCache:
        per_slot = max_len * token_bytes
        fit = plan_slots(
            slots,
            per_slot,
            self.device,
            memory_fraction=self.config.memory_fraction,
            reserved_bytes=reserved,
            cpu_budget_bytes=self.config.cpu_cache_bytes,
        )
        if fit < 1:
            raise EngineError(
                f"no room for even one sequence of {max_len} tokens in the KV cache "
                f"({per_slot / 2**20:.0f} MiB each); shorten max_new_tokens or free memory"
            )
        if fit < slots:
            self._slot_cap = fit  # asking again each call would re-allocate each call
            log.warning(
                "xling engine: memory for %d of %d sequences of %d tokens at once",
                fit,
                slots,
                max_len,
            )
        dec = self.decoder
        return KVCache(
            n_layers=dec.n_layers,
            slots=fit,
            n_kv_heads=dec.n_kv_heads,
            max_len=max_len,
            head_dim=dec.head_dim,
            dtype=self._cache_dtype(),
            device=self.device,
        )

    def _page_pool(self, slots: int, max_len: int, token_bytes: int, reserved: int) -> PagedKVCache:
        """As many pages as the memory budget holds (up to what `slots` sequences of
        `max_len` could use): the cache is sized by tokens, the slots are not limited."""
        size = self.config.page_size
        wanted = self._pages_wanted(slots, max_len)
        fit = plan_slots(
            wanted,
            size * token_bytes,
            self.device,
            memory_fraction=self.config.memory_fraction,
            reserved_bytes=reserved,
            cpu_budget_bytes=self.config.cpu_cache_bytes,
        )
        if fit < 2:
            raise EngineError(
                f"no room for even one page of {size} tokens in the KV cache "
                f"({size * token_bytes / 2**20:.1f} MiB); free memory"
            )
        if fit < wanted:
            self._page_cap = fit
            log.info(
                "xling engine: a paged KV cache of %d tokens for %d slots of up to %d",
                (fit - 1) * size,
                slots,
                max_len,
            )
        dec = self.decoder
        return PagedKVCache(
            n_layers=dec.n_layers,
            slots=slots,
            n_kv_heads=dec.n_kv_heads,
            head_dim=dec.head_dim,
            n_pages=fit,
            page_size=size,
            max_len=max_len,
            dtype=self._cache_dtype(),
            device=self.device,
            compiled=compiler_available(self.device),
            kv_splits=self.config.kv_splits,
            fused_writes=self.config.fuse_cache_writes,
        )

    # ------------------------------------------------------------------ the loop

    def _run(
        self, requests: list[Request], on_finish: Callable[[int, Completion], None] | None
    ) -> None:
        assert self.cache is not None
        slots = SlotTable(self.cache.slots)
        queue = deque(requests)
        pending: dict[int, _Values] = {}

        def free(request: Request) -> None:
            slots.release(request.slot)
            if isinstance(self.cache, PagedKVCache):
                self.cache.pool.release(request.slot)
            pending[request.slot] = _IDLE

        def finish(request: Request) -> None:
            free(request)
            if on_finish is not None:
                on_finish(request.index, request.completion())

        def preempt(request: Request) -> None:
            free(request)
            request.restart()
            queue.appendleft(request)  # newest first: the oldest preempted ends up first
            self.stats["preemptions"] += 1

        while queue or slots.active:
            if isinstance(self.cache, PagedKVCache):
                self._reserve_pages(self.cache, slots, preempt)
            if queue and slots.free:
                taken = self._admit(queue, slots)
                # A request alone always fits an empty pool (`_prepare` checked).
                assert taken or slots.active, "the paged cache admitted nothing"
                if taken:
                    start = time.perf_counter()
                    self._prefill(taken)
                    self.stats["prefill_s"] += time.perf_counter() - start
                for request in taken:
                    if request.finish_reason is not None:
                        finish(request)
                    else:
                        pending[request.slot] = self._slot_values(request)
            if not slots.active:
                continue
            self._write_state(pending)
            self._compact(slots)
            for request in self._decode(slots):
                finish(request)

    def _chunk_positions(self, r: Request) -> int:
        """Cache positions `r` needs through its next chunk of decode steps: up to the one
        fed `steps_per_sync` steps from now, never past its last (the last token generated
        is not fed)."""
        fed = r.position if r.tokens else len(r.prompt)  # the next position fed
        return min(fed + self.steps_per_sync, len(r.prompt) + r.params.max_new_tokens - 1)

    def _admit(self, queue: deque[Request], slots: SlotTable) -> list[Request]:
        """Take queued requests into free slots, in order. Paged: only while the pool has
        pages for a request's prompt and its first chunk (admitting on the prompt alone
        would have the next sync preempt it again); the full pages of a prompt already
        taken in this round are shared, not counted again."""
        if not isinstance(self.cache, PagedKVCache):
            taken = [queue.popleft() for _ in range(min(len(queue), len(slots.free)))]
            for request in taken:
                slots.take(request)
            return taken
        pool = self.cache.pool
        leaders: dict[tuple[int, ...], Request] = {}
        taken = []
        while queue and slots.free:
            request = queue[0]
            prompt = tuple(request.prompt)
            positions = self._chunk_positions(request)
            leader = leaders.get(prompt)
            shared = len(prompt) // pool.page_size if leader is not None else 0
            if pages_for(positions, pool.page_size) - shared > len(pool.free):
                break
            queue.popleft()
            slots.take(request)
            request.admitted = next(self._admissions)
            if leader is not None:
                pool.share(leader.slot, request.slot, len(prompt))
            else:
                leaders[prompt] = request
            granted = pool.grow(request.slot, positions)
            assert granted
            taken.append(request)
        return taken

    def _reserve_pages(
        self, cache: PagedKVCache, slots: SlotTable, preempt: Callable[[Request], None]
    ) -> None:
        """Pages for every live sequence's next chunk, oldest first; when the pool runs dry,
        preempt the most recently admitted until the older ones fit."""
        for request in sorted(slots.active.values(), key=lambda r: r.admitted):
            while request.slot >= 0 and not cache.pool.grow(
                request.slot, self._chunk_positions(request)
            ):
                preempt(max(slots.active.values(), key=lambda r: r.admitted))

    def _slot_values(self, r: Request) -> _Values:
        p = r.params
        return (
            r.tokens[-1],
            r.position,
            r.key,
            len(r.tokens),
            float(p.temperature),
            float(p.top_p),
        )

    def _write_state(self, pending: dict[int, _Values]) -> None:
        """Apply queued per-slot values (new requests, freed slots) in one copy per field."""
        if not pending:
            return
        assert self.state is not None
        index = torch.tensor(list(pending), dtype=torch.long, device=self.device)
        columns = list(zip(*pending.values(), strict=True))
        for tensor, values in zip(self.state.fields(), columns, strict=True):
            tensor.index_copy_(0, index, self._column(values, tensor.dtype))
        pending.clear()

    def _prefill(self, requests: list[Request]) -> None:
        """Prompts into their slots, each one's first token drawn (and accepted). Requests
        with the same prompt (a GRPO group) share one prefill: it runs for the first of
        them, and its cache rows are copied to the others' slots (paged: the others share
        its full prompt pages and get a copy of the last, partly filled one)."""
        if isinstance(self.cache, PagedKVCache):
            self.cache.flush()  # the prefill writes through the new requests' page tables
        same_prompt: dict[tuple[int, ...], list[Request]] = {}
        for request in requests:
            same_prompt.setdefault(tuple(request.prompt), []).append(request)
        order = sorted(same_prompt.values(), key=lambda group: len(group[0].prompt))
        start = 0
        while start < len(order):
            # Longest-last order: a chunk's padded size is its last prompt's length.
            end = start + 1
            while (
                end < len(order)
                and (end + 1 - start) * len(order[end][0].prompt) <= self.prefill_tokens
            ):
                end += 1
            self._prefill_chunk(order[start:end])
            start = end

    def _prefill_chunk(self, groups: list[list[Request]]) -> None:
        assert self.cache is not None
        leaders = [group[0] for group in groups]
        width = max(len(r.prompt) for r in leaders)
        ids = torch.zeros((len(leaders), width), dtype=torch.long)
        for row, r in enumerate(leaders):
            ids[row, : len(r.prompt)] = torch.tensor(r.prompt, dtype=torch.long)

        logits = self._prefill_logits(
            ids, [len(r.prompt) for r in leaders], [r.slot for r in leaders]
        )
        followers = [(group[0], r) for group in groups for r in group[1:]]
        src = [leader.slot for leader, _ in followers]
        dst = [r.slot for _, r in followers]
        if isinstance(self.cache, PagedKVCache):
            self.cache.copy_prompt_tails(src, dst, [len(r.prompt) for _, r in followers])
        elif followers:
            self.cache.move(src, dst, width)
        everyone = [r for group in groups for r in group]
        row_of = [row for row, group in enumerate(groups) for _ in group]
        if len(everyone) > len(leaders):
            logits = logits[self._column(row_of, torch.long)]
        drawn = everyone
        if len(everyone) < self._min_rows:
            # A lone request, sampled as copies of itself (`_min_rows`): a row's draw
            # depends on its own key and counter only.
            drawn = everyone * self._min_rows
            logits = logits.repeat(self._min_rows, 1)
        first = self._sample(
            logits,
            self._column([float(r.params.temperature) for r in drawn], torch.float32),
            self._column([float(r.params.top_p) for r in drawn], torch.float32),
            self._column([r.key for r in drawn], torch.long),
            torch.zeros(len(drawn), dtype=torch.long, device=self.device),
            mode=_mode(everyone),
            draw=self.draw,
        ).tolist()[: len(everyone)]
        for r, token in zip(everyone, first, strict=True):
            r.accept([token], self.eos)
        self.stats["prefills"] += 1

    def _column(self, values: Sequence[Any], dtype: torch.dtype) -> torch.Tensor:
        return torch.tensor(values, dtype=dtype).to(self.device)

    def _prefill_logits(
        self, ids: torch.Tensor, lengths: list[int], slots: list[int]
    ) -> torch.Tensor:
        """Last-token logits [n, vocab] of right-padded prompts `ids` [n, T] (host) run into
        cache `slots`. With padded shapes (what CUDA graphs need), a small paged prefill
        runs at bucketed shapes, replayed as a graph when graphs are on. Why: launched
        eagerly, one pass of a 1.5B model over a few prompts is some 1,500 kernels, and on
        an H200 such passes took 15-20 ms each, several times their arithmetic: most of a
        ragged batch's prefill time."""
        cache = self.cache
        assert cache is not None
        n, width = ids.shape
        rows = batch_bucket(max(n, self._min_rows), cache.slots)
        padded_width = length_bucket(width, _PREFILL_WIDTH_STEP, cache.max_len)
        if (
            not self.padded
            or not isinstance(cache, PagedKVCache)
            or rows * padded_width > _GRAPHED_PREFILL_TOKENS
        ):
            # A compiled kernel costs more host time per call than the few eager ones it
            # replaces; it pays off only once each pass is large enough to keep the GPU busy.
            large = ids.numel() * self.decoder.embed.shape[1] >= _COMPILED_PREFILL_ELEMENTS
            return self.decoder.prefill(
                cache,
                ids.to(self.device),
                self._column(lengths, torch.long),
                self._column(slots, torch.long),
                self.cos,
                self.sin,
                kernels=None if large else EAGER_KERNELS,
            )
        key = ("prefill", rows, padded_width)
        if key not in self._prefill_buffers:
            self._prefill_buffers[key] = (
                torch.zeros((rows, padded_width), dtype=torch.long, device=self.device),
                torch.ones(rows, dtype=torch.long, device=self.device),
                torch.full((rows,), cache.sink_slot, dtype=torch.long, device=self.device),
                torch.zeros(
                    (rows, self.decoder.vocab_size), dtype=self._cache_dtype(), device=self.device
                ),
            )
        ids_in, lengths_in, slots_in, logits_out = self._prefill_buffers[key]
        # Padding prompts: one token each, written through the sink slot's table row.
        staged = torch.zeros((rows, padded_width), dtype=torch.long)
        staged[:n, :width] = ids
        ids_in.copy_(staged.to(self.device))
        lengths_in.copy_(self._column(lengths + [1] * (rows - n), torch.long))
        slots_in.copy_(self._column(slots + [cache.sink_slot] * (rows - n), torch.long))

        def step() -> None:
            logits_out.copy_(
                self.decoder.prefill(cache, ids_in, lengths_in, slots_in, self.cos, self.sin)
            )

        self.graphs.run(key, step, ())
        return logits_out[:n]

    def _compact(self, slots: SlotTable) -> None:
        """Move live slots down so that the decode batch can shrink."""
        assert self.cache is not None and self.state is not None
        live, high = len(slots.active), slots.high()
        if self.padded:
            limit = self.cache.slots
            if batch_bucket(high, limit) <= batch_bucket(live, limit):
                return
        elif high - live < max(1, high // 4):
            return
        moves = slots.compaction(live)
        if not moves:
            return
        src = [s for s, _ in moves]
        dst = [d for _, d in moves]
        if isinstance(self.cache, PagedKVCache):
            for s, d in moves:  # the pages stay where they are; only their owner changes
                self.cache.pool.move(s, d)
        else:
            self.cache.move(src, dst, max(slots.active[d].position for d in dst))
        index_src = torch.tensor(src, device=self.device)
        index_dst = torch.tensor(dst, device=self.device)
        for tensor in self.state.fields():
            tensor[index_dst] = tensor[index_src]
        # The vacated slots may still fall inside a padded batch: make their rows idle.
        self._write_state(dict.fromkeys(src, _IDLE))
        self.stats["moves"] += len(moves)

    def _decode(self, slots: SlotTable) -> Iterator[Request]:
        """A chunk of decode steps for all live slots; yields the requests that finished."""
        assert self.cache is not None and self.state is not None
        state, cache = self.state, self.cache
        live = list(slots.active.values())
        steps = min(self.steps_per_sync, max(r.remaining for r in live))
        first_pos = max(r.position for r in live)
        mode = _mode(live)
        rows = max(slots.high(), min(self._min_rows, cache.slots))
        if self.padded:
            rows = batch_bucket(rows, cache.slots)
        self.stats["peak_live"] = max(self.stats["peak_live"], len(live))
        start = time.perf_counter()
        if isinstance(cache, PagedKVCache):
            cache.flush()
        for step in range(steps):
            # The attended length: a static shape of the dense cache's step (bucketed for
            # graphs); none for pages, where each row reads its own.
            kv_len: int | None = None
            if isinstance(cache, KVCache):
                kv_len = (
                    length_bucket(first_pos + steps, self.config.length_step, cache.max_len)
                    if self.padded
                    else min(first_pos + step + 1, cache.max_len)
                )
            self.graphs.run(
                (rows, kv_len, mode),
                lambda rows=rows, kv_len=kv_len: self._step(rows, kv_len, mode),
                state.advancing(),
            )
            state.history[step, :rows].copy_(state.tokens[:rows])
        history = state.history[:steps, :rows].cpu().numpy()
        self.stats["decode_s"] += time.perf_counter() - start
        self.stats["decode_steps"] += steps
        self.stats["syncs"] += 1
        # Most rows just grow by `steps` tokens: find those in one vectorised pass.
        ends = np.isin(history, self._eos_array).any(axis=0)
        columns = history.T.tolist()
        for slot, request in list(slots.active.items()):
            if not ends[slot] and request.remaining > steps and request.stopper is None:
                request.tokens.extend(columns[slot])
            elif request.accept(columns[slot], self.eos):
                yield request

    def _step(self, rows: int, kv_len: int | None, mode: str) -> None:
        """One decode step of slots [0, rows): sample, then advance tokens and positions."""
        assert self.cache is not None and self.state is not None
        s = self.state
        logits = self.decoder.decode(
            self.cache, s.tokens[:rows], s.positions[:rows], kv_len, self.cos, self.sin
        )
        token = self._sample(
            logits,
            s.temperature[:rows],
            s.top_p[:rows],
            s.keys[:rows],
            s.counters[:rows],
            mode=mode,
            draw=self.draw,
        )
        s.tokens[:rows].copy_(token)
        s.positions[:rows].add_(1).clamp_(max=self.cache.max_len - 1)
        s.counters[:rows].add_(1)


def _mode(requests: Sequence[Request]) -> str:
    return sampling_mode((r.params.temperature, r.params.top_p) for r in requests)
