"""The engine's paged cache (`EngineConfig(attention="paged")`, engine/paged.py) against its
dense cache and transformers `generate` (CPU: flex attention's eager path)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from torch.nn.attention.flex_attention import create_block_mask, create_mask

from xling.engine import Engine, EngineConfig, EngineError, SamplingParams
from xling.engine.cache import bytes_per_token
from xling.engine.model import EAGER_KERNELS, rotate_store
from xling.engine.paged import (
    PagedKVCache,
    PagePool,
    decode_kernel_options,
    default_kv_splits,
)
from xling.engine.sampling import DRAWS, NUCLEUS, sample, seed_key
from xling.testing.tinymodel import (
    TINY_FAMILIES,
    greedy_continuation,
    random_prompts,
    tiny_causal_lm,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Pages of 16 positions: the tiny prompts (3 to 21 tokens) and 20 new tokens span 1 to 3.
PAGED = EngineConfig(attention="paged", page_size=16, max_batch_size=3)
# The static shapes CUDA graphs run (padded batch, several steps per host read), eagerly.
PAGED_BUCKETED = dataclasses.replace(PAGED, pad_to_buckets=True, steps_per_sync=3, length_step=16)
DENSE = EngineConfig(max_batch_size=3)
# More requests than slots, each with its own length: slots are refilled as others finish.
RAGGED = (20, 5, 13, 1, 17, 8, 11)


def ragged(temperature: float = 0.0) -> list[SamplingParams]:
    return [
        SamplingParams(
            temperature=temperature, top_p=(1.0, 0.8)[i % 2], max_new_tokens=n, seed=10 + i
        )
        for i, n in enumerate(RAGGED)
    ]


def page_bytes(model: Any, page_size: int = 16) -> int:
    c = model.config
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    return page_size * bytes_per_token(
        c.num_hidden_layers, c.num_key_value_heads, head_dim, torch.float32
    )


def assert_no_pages_held(engine: Engine) -> None:
    cache = engine.cache
    assert isinstance(cache, PagedKVCache)
    assert len(cache.pool.free) == cache.pool.usable
    assert not any(cache.pool.refs) and not any(cache.pool.pages)
    with torch.inference_mode():  # the engine made the table in inference mode
        cache.flush()
    assert not cache.table.any()  # every row points at the sink again


# ------------------------------------------------------------------ paged == dense == generate


@pytest.mark.parametrize("family", TINY_FAMILIES)
@pytest.mark.parametrize(
    "config",
    [
        PAGED,
        PAGED_BUCKETED,
        dataclasses.replace(PAGED_BUCKETED, fuse_projections=True),
        dataclasses.replace(PAGED_BUCKETED, fuse_projections=True, split_k=4),
        dataclasses.replace(PAGED, fuse_cache_writes=True),
        dataclasses.replace(PAGED_BUCKETED, fuse_cache_writes=True),
    ],
    ids=["exact", "bucketed", "fused", "split-k", "stored", "stored-bucketed"],
)
def test_greedy_matches_dense_and_generate(family: str, config: EngineConfig) -> None:
    """Mixed prompt lengths, more requests than slots, ragged max_new_tokens; GQA in every
    family, q/k norms (qwen3), sliding windows (mistral: every layer; qwen2: one)."""
    model = tiny_causal_lm(family)
    prompts = random_prompts(7, model.config.vocab_size)
    engine = Engine(model, eos_token_ids=[1], config=config)
    got = engine.generate(prompts, ragged())
    want = [greedy_continuation(model, p, n, [1]) for p, n in zip(prompts, RAGGED, strict=True)]
    assert [c.tokens for c in got] == want
    assert got == Engine(model, eos_token_ids=[1], config=DENSE).generate(prompts, ragged())
    assert engine.stats["prefills"] >= 3 and engine.stats["preemptions"] == 0
    assert_no_pages_held(engine)
    # Bucketed, the refills ran at padded shapes (what a CUDA graph replays), their
    # padding prompts writing through the sink slot, whose table row stays the sink's.
    assert bool(engine._prefill_buffers) == bool(config.pad_to_buckets)
    assert isinstance(engine.cache, PagedKVCache)
    assert not engine.cache.table[engine.cache.sink_slot].any()


def test_stored_decode_rotates_and_stores_through_one_kernel_function() -> None:
    """With `fuse_cache_writes`, every decode layer goes through `Kernels.rotate_store`
    (the rotary off in the layer's own inputs), and sampled outputs equal the default's."""
    model = tiny_causal_lm("qwen3")  # q/k norms run before the rotary either way
    prompts = random_prompts(7, model.config.vocab_size)
    params = ragged(temperature=1.0)
    config = dataclasses.replace(PAGED_BUCKETED, fuse_cache_writes=True)
    engine = Engine(model, eos_token_ids=[1], config=config)
    calls: list[int] = []

    def counted(*args: Any) -> None:
        calls.append(args[0].shape[0])
        rotate_store(*args)

    engine.decoder.kernels = dataclasses.replace(EAGER_KERNELS, rotate_store=counted)
    got = engine.generate(prompts, params)
    assert got == Engine(model, eos_token_ids=[1], config=PAGED_BUCKETED).generate(prompts, params)
    steps, layers = engine.stats["decode_steps"], model.config.num_hidden_layers
    assert len(calls) == steps * layers and steps > 0
    assert_no_pages_held(engine)


def test_rotate_store_compiles_and_writes_in_place() -> None:
    """Compiled (Inductor, here for the CPU), `rotate_store` writes into views of the one
    cache tensor, not copies, for any row count from one compilation, as eagerly."""
    from torch._dynamo.utils import counters

    from xling.engine.compiling import MaybeCompiled

    graphs_before = counters["stats"]["unique_graphs"]
    generator = torch.Generator().manual_seed(0)
    layers, kv_heads, heads, head_dim, tokens, slots = 2, 2, 4, 16, 64, 8
    compiled = MaybeCompiled(rotate_store, enabled=True, name="rotate_store")
    cos, sin = (torch.randn(slots, 1, head_dim, generator=generator) for _ in range(2))
    caches = {}
    for way, fn in (("eager", rotate_store), ("compiled", compiled)):
        k_cache = torch.zeros(layers, 1, kv_heads, tokens, head_dim)
        v_cache, queries = torch.zeros_like(k_cache), torch.zeros(slots, heads, head_dim)
        before = (k_cache.data_ptr(), v_cache.data_ptr(), queries.data_ptr())
        # Layer 0's view first, as in every step (starting from another layer's offset,
        # Dynamo compiles again when it meets offset 0), then other layers and row counts.
        for rows, layer in ((3, 0), (5, 1), (4, 0)):
            g = torch.Generator().manual_seed(rows)
            q = torch.randn(rows, heads, head_dim, generator=g)
            k, v = (torch.randn(rows, kv_heads, head_dim, generator=g) for _ in range(2))
            index = torch.randperm(tokens, generator=g)[:rows]
            store = (k_cache[layer, 0], v_cache[layer, 0], index, queries)
            fn(q, k, v, cos[:rows], sin[:rows], *store)
        assert (k_cache.data_ptr(), v_cache.data_ptr(), queries.data_ptr()) == before
        caches[way] = (k_cache, v_cache, queries)
    assert compiled.active  # no fallback to eager
    assert counters["stats"]["unique_graphs"] - graphs_before == 1
    for eager, built in zip(caches["eager"], caches["compiled"], strict=True):
        torch.testing.assert_close(built, eager)
    k_cache, v_cache, queries = caches["eager"]
    assert k_cache[0].any() and k_cache[1].any() and v_cache[0].any() and v_cache[1].any()
    # Rows past the longest call's keep their zeros; rows it wrote, theirs.
    assert queries[:5].any(-1).all() and not queries[5:].any()


@pytest.mark.parametrize("config", [PAGED, PAGED_BUCKETED], ids=["exact", "bucketed"])
def test_rows_padded_to_every_slot_change_nothing(
    config: EngineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compiled (CUDA), attention runs over all slots' rows at every step, the rows past the
    step's own visiting no page, so that one compilation serves every batch: forced on
    here, through flex attention's eager path, the tokens are the unpadded ones."""
    import xling.engine.engine as engine_module

    attended: list[int] = []

    class PaddedCache(PagedKVCache):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs, pad_rows=True)
            attend = self._attend

            def counting(q: torch.Tensor, *args: Any) -> torch.Tensor:
                attended.append(q.shape[0])
                return attend(q, *args)

            self._attend = counting

    model = tiny_causal_lm("qwen2")
    prompts = random_prompts(7, model.config.vocab_size)
    want = Engine(model, eos_token_ids=[1], config=config).generate(prompts, ragged(1.0))
    monkeypatch.setattr(engine_module, "PagedKVCache", PaddedCache)
    engine = Engine(model, eos_token_ids=[1], config=config)
    assert engine.generate(prompts, ragged(1.0)) == want
    assert set(attended) == {config.max_batch_size}
    assert engine.stats["moves"] + engine.stats["prefills"] > 1  # rows came and went
    assert_no_pages_held(engine)


def test_a_query_group_that_is_not_a_power_of_two() -> None:
    """6 query heads on 2 key/value heads, as Qwen2.5-1.5B groups them (12 on 2)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(
        "qwen2",
        vocab_size=512,
        hidden_size=96,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=6,
        num_key_value_heads=2,
        max_position_embeddings=256,
        initializer_range=0.2,
        tie_word_embeddings=False,
        eos_token_id=1,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    prompts = random_prompts(4, 512)
    got = Engine(model, eos_token_ids=[1], config=PAGED).generate(
        prompts, SamplingParams(max_new_tokens=16)
    )
    assert [c.tokens for c in got] == [greedy_continuation(model, p, 16, [1]) for p in prompts]


@pytest.mark.parametrize("draw", DRAWS)
def test_sampled_tokens_match_dense(draw: str) -> None:
    model = tiny_causal_lm("qwen3")
    prompts = random_prompts(7, model.config.vocab_size)
    params = ragged(temperature=1.0)  # half of them with top_p 0.8
    paged = Engine(model, eos_token_ids=[1], config=dataclasses.replace(PAGED_BUCKETED, draw=draw))
    dense = Engine(model, eos_token_ids=[1], config=dataclasses.replace(DENSE, draw=draw))
    got = paged.generate(prompts, params)
    assert got == dense.generate(prompts, params)
    assert got != paged.generate(prompts, [dataclasses.replace(p, seed=99) for p in params])


def test_compaction_moves_page_tables_only() -> None:
    model = tiny_causal_lm("llama")
    prompts = random_prompts(4, model.config.vocab_size)
    params = [SamplingParams(max_new_tokens=n) for n in (3, 3, 3, 20)]
    engine = Engine(model, eos_token_ids=[1], config=dataclasses.replace(PAGED, max_batch_size=4))
    got = engine.generate(prompts, params)
    assert engine.stats["moves"] > 0  # the last slot moved down once the others finished
    want = [
        greedy_continuation(model, p, s.max_new_tokens, [1])
        for p, s in zip(prompts, params, strict=True)
    ]
    assert [c.tokens for c in got] == want
    assert_no_pages_held(engine)


# ------------------------------------------------------------------ shared prompts


def test_a_group_shares_its_prompt_pages() -> None:
    """GRPO-style groups: one prefill per prompt; the group reads the prompt's full pages
    (reference-counted) and owns a copy of its last, partly filled one."""
    model = tiny_causal_lm("qwen2")
    g = torch.Generator().manual_seed(3)
    prompts = [torch.randint(2, 512, (n,), generator=g).tolist() for n in (40, 9)]
    grouped = [p for p in prompts for _ in range(4)]
    config = dataclasses.replace(PAGED, max_batch_size=8)
    engine = Engine(model, eos_token_ids=[1], config=config)
    shared_refs: list[int] = []

    def watch(index: int, completion: Any) -> None:
        assert isinstance(engine.cache, PagedKVCache)
        shared_refs.append(max(engine.cache.pool.refs))

    greedy = engine.generate(grouped, SamplingParams(max_new_tokens=12), on_finish=watch)
    assert engine.stats["prefills"] == 1
    assert max(shared_refs) >= 2  # prompt pages read by several requests at once
    assert [c.tokens for c in greedy] == [greedy_continuation(model, p, 12, [1]) for p in grouped]
    assert_no_pages_held(engine)
    params = [SamplingParams(temperature=1.0, max_new_tokens=12, seed=i) for i in range(8)]
    drawn = engine.generate(grouped, params)
    assert len({tuple(c.tokens) for c in drawn[:4]}) > 1
    assert drawn == Engine(model, eos_token_ids=[1], config=config).generate(grouped, params)
    assert drawn == Engine(model, eos_token_ids=[1], config=DENSE).generate(grouped, params)
    assert_no_pages_held(engine)


def test_page_pool_reference_counts() -> None:
    pool = PagePool(n_pages=8, slots=3, page_size=16)
    assert pool.grow(0, 40) and pool.pages[0] == [1, 2, 3]
    pool.share(0, 1, 40)  # two full pages shared; the third is partly filled
    assert pool.pages[1] == [1, 2] and pool.cost(1, 41) == 1
    assert pool.grow(1, 41) and pool.pages[1] == [1, 2, 4]
    assert pool.labels[4] == 2  # its logical index in slot 1's sequence
    assert not pool.grow(2, 64)  # 4 pages wanted, 3 free: nothing taken
    assert pool.pages[2] == [] and len(pool.free) == 3
    pool.release(0)
    assert sorted(pool.free) == [3, 5, 6, 7]  # pages 1 and 2 are still slot 1's
    pool.move(1, 0)
    assert pool.pages[0] == [1, 2, 4] and pool.pages[1] == []
    pool.release(0)
    assert len(pool.free) == pool.usable == 7 and not any(pool.refs)


# ------------------------------------------------------------------ a pool that runs dry


@pytest.mark.parametrize("temperature", [0.0, 1.0], ids=["greedy", "sampled"])
def test_preempted_requests_come_back_the_same(temperature: float) -> None:
    """Three pages for four slots whose requests need up to three each: the pool runs dry,
    the newest requests are preempted and later generated again from their prompts (the
    sampler draws by (seed, token index)), and every completion is what an unconstrained
    run gives."""
    model = tiny_causal_lm("qwen2")
    prompts = random_prompts(7, model.config.vocab_size)
    params = ragged(temperature)
    base = dataclasses.replace(PAGED_BUCKETED, max_batch_size=4)
    small = dataclasses.replace(base, cpu_cache_bytes=4 * page_bytes(model))  # and the sink
    engine = Engine(model, eos_token_ids=[1], config=small)
    got = engine.generate(prompts, params)
    assert isinstance(engine.cache, PagedKVCache) and engine.cache.pool.usable == 3
    assert engine.stats["preemptions"] > 0
    assert got == Engine(model, eos_token_ids=[1], config=base).generate(prompts, params)
    assert_no_pages_held(engine)
    if temperature == 0.0:
        want = [greedy_continuation(model, p, n, [1]) for p, n in zip(prompts, RAGGED, strict=True)]
        assert [c.tokens for c in got] == want


def test_the_same_memory_holds_more_sequences_than_dense() -> None:
    """Memory for 4 dense rows of the longest length holds many more short sequences."""
    model = tiny_causal_lm("llama")
    prompts = random_prompts(12, model.config.vocab_size)
    params = [SamplingParams(max_new_tokens=4 if i % 4 else 40) for i in range(12)]
    budget = 4 * 128 * page_bytes(model) // 16  # 4 rows of 128 positions
    dense = Engine(
        model,
        eos_token_ids=[1],
        config=dataclasses.replace(DENSE, max_batch_size=12, cpu_cache_bytes=budget),
    )
    config = dataclasses.replace(PAGED, max_batch_size=12, cpu_cache_bytes=budget)
    paged = Engine(model, eos_token_ids=[1], config=config)
    assert paged.generate(prompts, params) == dense.generate(prompts, params)
    assert dense.cache is not None and dense.cache.slots == 4
    assert paged.stats["peak_live"] > 4 and paged.stats["preemptions"] == 0


def test_a_request_too_long_for_the_whole_pool_is_refused() -> None:
    model = tiny_causal_lm("qwen2")
    config = dataclasses.replace(PAGED, cpu_cache_bytes=3 * page_bytes(model))  # 2 pages
    engine = Engine(model, eos_token_ids=[1], config=config)
    assert engine.generate([[5] * 10], SamplingParams(max_new_tokens=23))[0].tokens  # 32 fit
    with pytest.raises(EngineError, match=r"request 1 needs 33 cache positions \(3 pages of 16\)"):
        engine.generate([[5] * 10, [6] * 10], [SamplingParams(max_new_tokens=n) for n in (5, 24)])
    tiny = dataclasses.replace(PAGED, cpu_cache_bytes=page_bytes(model))
    with pytest.raises(EngineError, match="no room for even one page"):
        Engine(model, config=tiny).generate([[5]])


def test_the_cache_grows_for_longer_requests() -> None:
    model = tiny_causal_lm("mistral")
    prompts = random_prompts(3, model.config.vocab_size)
    engine = Engine(model, eos_token_ids=[1], config=PAGED)
    engine.generate(prompts, SamplingParams(max_new_tokens=4))
    assert isinstance(engine.cache, PagedKVCache)
    short = engine.cache.max_len
    got = engine.generate(prompts, SamplingParams(max_new_tokens=150))
    assert engine.cache.max_len > short
    assert [c.tokens for c in got] == [greedy_continuation(model, p, 150, [1]) for p in prompts]


def test_config_is_checked() -> None:
    with pytest.raises(EngineError, match="attention must be one of dense, paged"):
        EngineConfig(attention="sparse")
    with pytest.raises(EngineError, match="page_size must be a multiple of 16"):
        EngineConfig(attention="paged", page_size=24)
    with pytest.raises(EngineError, match="kv_splits must be at least 1, got 0"):
        EngineConfig(attention="paged", kv_splits=0)
    assert not Engine(tiny_causal_lm("qwen2"), config=EngineConfig(attention=None)).paged


# ------------------------------------------------------------------ the block mask


# Five rows' positions in `mask_cache`; row 4 is an idle slot.
MASK_POSITIONS = torch.tensor([39, 19, 63, 45, 0])


def mask_cache(compiled: bool = False, kv_splits: int | None = None) -> PagedKVCache:
    """A cache of 16-position pages whose rows own pages out of order, one sharing another's
    prompt pages, at `MASK_POSITIONS` (compiled: only what a CPU can hold of it, the
    attention unrun)."""
    cache = PagedKVCache(
        n_layers=1,
        slots=5,
        n_kv_heads=2,
        head_dim=8,
        n_pages=12,
        page_size=16,
        max_len=64,
        dtype=torch.float32,
        device="cpu",
        compiled=compiled,
        kv_splits=kv_splits,
    )
    pool = cache.pool
    pool.grow(0, 40)
    pool.grow(1, 5)
    pool.grow(2, 64)
    pool.share(2, 3, 40)
    pool.grow(3, 50)
    pool.release(1)
    pool.grow(1, 20)  # reused pages, no longer in order
    cache.flush()
    cache.positions[:5] = MASK_POSITIONS
    return cache


def test_block_mask_lists_exactly_the_pages_a_row_sees() -> None:
    """The compiled kernel visits only the listed pages (the eager path evaluates the mask
    function everywhere): the pages with a visible key must all be listed, in logical
    order, and the mask function must place every physical key at its logical position."""
    cache = mask_cache()
    size, pool, positions = cache.page_size, cache.pool, MASK_POSITIONS
    length = cache.k.shape[3]
    for window in (None, 12):
        mask = cache.block_mask(5, group=2, window=window)
        dense = create_mask(mask.mask_mod, 5, None, 2, length, device="cpu")[:, 0, 0]
        reference = create_block_mask(
            mask.mask_mod, 5, None, 2, length, device="cpu", BLOCK_SIZE=(128, size)
        )
        for b in range(4):
            n = int(mask.kv_num_blocks[b, 0, 0])
            listed = mask.kv_indices[b, 0, 0, :n].tolist()
            assert listed == pool.pages[b][: int(positions[b]) // size + 1]
            visible = set()
            for blocks, indices in (
                (reference.kv_num_blocks, reference.kv_indices),
                (reference.full_kv_num_blocks, reference.full_kv_indices),
            ):
                visible |= set(indices[b, 0, 0, : int(blocks[b, 0, 0])].tolist())
            assert visible <= set(listed)
            if window is None:
                assert visible == set(listed)
            # Logical position of each visible physical key: exactly the row's window.
            logical = [
                pool.pages[b].index(int(k) // size) * size + int(k) % size
                for k in dense[b].nonzero().flatten()
            ]
            first = 0 if window is None else int(positions[b]) - window + 1
            assert sorted(logical) == list(range(first, int(positions[b]) + 1))
        assert not dense[4, size:].any()  # an idle row sees only the sink


def test_the_compiled_mask_is_exact_on_the_pages_a_row_lists() -> None:
    """Compiled, the mask leaves out the page-table check (the kernel visits only a row's
    own pages); on every key of those pages it must agree with the exact mask."""
    cache = mask_cache()
    size = cache.page_size
    zero, offsets = torch.tensor(0), torch.arange(size)
    for window in (None, 12):
        cheap = cache._mask_mod(window, exact=False)
        exact = cache._mask_mod(window, exact=True)
        mask = cache.block_mask(5, group=2, window=window)
        for b in range(5):
            n = int(mask.kv_num_blocks[b, 0, 0])
            listed = mask.kv_indices[b, 0, 0, :n].tolist()
            if b < 4:
                assert listed == cache.pool.pages[b][: int(MASK_POSITIONS[b]) // size + 1]
            else:
                assert listed == [0]  # the idle row: the sink
            for page in listed:
                args = (torch.tensor(b), zero, zero, page * size + offsets)
                assert torch.equal(cheap(*args), exact(*args)), (window, b, page)
        # Over the whole pool (flex attention's eager path) only the exact mask is right:
        # the cheap one lets row 0 see the keys of pages other rows hold at its indices.
        everywhere = (torch.tensor(0), zero, zero, torch.arange(cache.k.shape[3]))
        assert not torch.equal(cheap(*everywhere), exact(*everywhere))


def test_a_cache_takes_the_cheap_mask_only_when_compiled() -> None:
    eager, compiled = mask_cache(), mask_cache(compiled=True)
    for window in (None, 12):
        mask = eager.block_mask(5, group=2, window=window)
        assert mask.mask_mod is eager._mask_mod(window, exact=True)
        mask = compiled.block_mask(5, group=2, window=window)
        assert mask.mask_mod is compiled._mask_mod(window, exact=False)


def test_a_compiled_cache_that_failed_to_compile_attends_exactly() -> None:
    """The eager fallback after a failed compilation scores the whole pool, so it must
    swap the compiled path's cheap mask for the exact one."""
    eager, compiled = mask_cache(), mask_cache(compiled=True)
    assert compiled._attend.active
    compiled._attend.compiled = None  # as after a compilation failure
    g = torch.Generator().manual_seed(0)
    k, v = (torch.randn(eager.k.shape, generator=g) for _ in range(2))
    q = torch.randn(5, 4, 8, generator=g)  # 2 query heads per key/value head
    new_k, new_v = (torch.randn(5, 2, 8, generator=g) for _ in range(2))
    outs = []
    for cache in (eager, compiled):
        cache.k.copy_(k)
        cache.v.copy_(v)
        for window in (None, 12):
            attention = cache.decode_attention(MASK_POSITIONS, None)
            outs.append(attention(0, window, q, new_k, new_v))
    assert len(outs) == 4
    torch.testing.assert_close(outs[2], outs[0])
    torch.testing.assert_close(outs[3], outs[1])


# ------------------------------------------------------------------ decoding kernel options


def test_decode_kernel_options_set_a_split_only_when_given() -> None:
    assert decode_kernel_options(128) == {"num_stages": 2, "num_warps": 4, "BLOCK_N": 128}
    assert decode_kernel_options(16) == {"num_stages": 2, "num_warps": 4, "BLOCK_N": 16}
    assert decode_kernel_options(256, 4) == {
        "num_stages": 2,
        "num_warps": 4,
        "BLOCK_N": 128,
        "SPLIT_KV": 4,
    }


def test_no_default_split_off_cuda() -> None:
    assert default_kv_splits(2, "cpu") is None
    assert default_kv_splits(2, torch.device("cpu")) is None
    assert mask_cache().kv_splits is None  # eager: no kernel
    compiled = mask_cache(compiled=True)
    assert compiled.kv_splits is None
    assert "SPLIT_KV" not in compiled._options


def test_a_compiled_cache_passes_its_split_to_the_kernel() -> None:
    cache = mask_cache(compiled=True, kv_splits=3)
    assert cache.kv_splits == 3
    assert cache._options["SPLIT_KV"] == 3


def test_sampling_is_keyed_by_seed_and_token_index() -> None:
    """What makes a preempted request's regeneration identical: a row's draw depends on its
    logits, its key and its counter only, not on the batch around it."""
    logits = torch.randn(6, 50, generator=torch.Generator().manual_seed(0))
    ones = torch.ones(6)
    keys = torch.tensor([seed_key(s) for s in range(6)])
    counters = torch.tensor([0, 3, 7, 1, 2, 9])
    for draw in DRAWS:
        batch = sample(logits, ones, ones * 0.9, keys, counters, mode=NUCLEUS, draw=draw)
        row = slice(0, 1)
        alone = [
            sample(
                logits[i : i + 1],
                ones[row],
                ones[row] * 0.9,
                keys[i : i + 1],
                counters[i : i + 1],
                mode=NUCLEUS,
                draw=draw,
            ).item()
            for i in range(6)
        ]
        assert batch.tolist() == alone


# ------------------------------------------------------------------ CUDA (GPU only)

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize(
    ("family", "stored"),
    # Stored with two families only: compiling every kernel of a tiny model costs device
    # seconds; qwen2 has a sliding window, qwen3 q/k norms before the rotary.
    [(family, False) for family in TINY_FAMILIES] + [("qwen2", True), ("qwen3", True)],
)
def test_cuda_graphs_with_compiled_flex_attention_match_generate(family: str, stored: bool) -> None:
    """Graphs captured over the compiled flex attention (page tables, block masks and
    positions all read from tensors outside the graph), with refills; `stored`: the
    rotary and the step's stores compiled as one function (`fuse_cache_writes`)."""
    model = tiny_causal_lm(family).cuda()
    prompts = random_prompts(9, model.config.vocab_size)
    config = EngineConfig(
        attention="paged",
        page_size=16,
        max_batch_size=4,
        fuse_cache_writes=stored,
        compile=True if stored else None,
    )
    engine = Engine(model, eos_token_ids=[1], config=config)
    got = engine.generate(prompts, SamplingParams(max_new_tokens=20))
    assert engine.graphs.captures > 0
    assert isinstance(engine.cache, PagedKVCache)
    assert engine.cache._attend.active  # compiled, not eager
    if stored:
        assert engine.decoder.kernels.rotate_store.active  # type: ignore[attr-defined]
    assert [c.tokens for c in got] == [greedy_continuation(model, p, 20, [1]) for p in prompts]
    params = ragged(temperature=1.0)
    # Sampled, against the same compiled kernels where they are compiled (their last bits
    # need not be eager's), the stores apart.
    reference_config = (
        dataclasses.replace(config, fuse_cache_writes=False)
        if stored
        else EngineConfig(max_batch_size=4)
    )
    reference = Engine(model, eos_token_ids=[1], config=reference_config)
    assert engine.generate(prompts[:7], params) == reference.generate(prompts[:7], params)
    assert_no_pages_held(engine)


@cuda
def test_cuda_preemption_under_graphs(monkeypatch: pytest.MonkeyPatch) -> None:
    import xling.engine.engine as engine_module

    model = tiny_causal_lm("qwen2").cuda()
    prompts = random_prompts(7, model.config.vocab_size)
    params = ragged(temperature=1.0)
    # Two steps between host reads (16 by default on graphs): pages are granted a chunk at
    # a time, so short chunks make the sequences come back for pages while others hold them.
    config = EngineConfig(attention="paged", page_size=16, max_batch_size=4, steps_per_sync=2)
    roomy = Engine(model, eos_token_ids=[1], config=config).generate(prompts, params)
    # Three pages and the sink, whatever the GPU's free memory.
    monkeypatch.setattr(engine_module, "plan_slots", lambda wanted, *a, **k: min(wanted, 4))
    engine = Engine(model, eos_token_ids=[1], config=config)
    assert engine.generate(prompts, params) == roomy
    assert engine.stats["preemptions"] > 0
    assert_no_pages_held(engine)
