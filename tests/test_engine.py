"""xling's generation engine against transformers `generate` (CPU; the CUDA-graph tests at the
end run only where CUDA is)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from xling.engine import (
    Engine,
    EngineConfig,
    EngineError,
    SamplingParams,
    UnsupportedModelError,
    unsupported_reason,
)
from xling.engine.graphs import DecodeGraphs, batch_bucket, length_bucket
from xling.engine.model import SPLIT_K_MAX_ROWS, Decoder, split_k_linear, splittable
from xling.engine.sampling import (
    DRAWS,
    NUCLEUS,
    SAMPLE,
    counter_uniform,
    sample,
    sampling_mode,
    seed_key,
)
from xling.engine.scheduler import Request, SlotTable
from xling.testing.tinymodel import (
    TINY_FAMILIES,
    greedy_continuation,
    random_prompts,
    tiny_causal_lm,
)

ORGANISM = Path(__file__).resolve().parents[1] / "src" / "xling" / "data" / "organism"
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

# Shapes a CUDA graph runs (padded batch and cache length, several steps per host read) but
# eager, so the CPU checks the same bookkeeping; few slots, so that slots are refilled.
BUCKETED = EngineConfig(max_batch_size=3, pad_to_buckets=True, steps_per_sync=3, length_step=16)
# The same, each layer's q/k/v and gate/up run as one product over stacked copies.
FUSED = dataclasses.replace(BUCKETED, fuse_projections=True)
# Fused, and the narrow products of these few-row passes as split-K products.
SPLIT_K = dataclasses.replace(FUSED, split_k=2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------------ greedy == generate


@pytest.mark.parametrize("family", TINY_FAMILIES)
@pytest.mark.parametrize(
    "config",
    [EngineConfig(), BUCKETED, FUSED, SPLIT_K],
    ids=["exact", "bucketed", "fused", "split-k"],
)
def test_greedy_matches_generate(family: str, config: EngineConfig) -> None:
    model = tiny_causal_lm(family)
    prompts = random_prompts(7, model.config.vocab_size)
    engine = Engine(model, eos_token_ids=[1], config=config)
    got = engine.generate(prompts, SamplingParams(max_new_tokens=20))
    want = [greedy_continuation(model, p, 20, [1]) for p in prompts]
    assert [c.tokens for c in got] == want
    assert all(c.finish_reason == ("stop" if c.tokens[-1] == 1 else "length") for c in got)
    if config.pad_to_buckets:  # 7 requests through 3 slots: refills and moves happened
        assert (
            engine.stats["prefills"] >= 3 and engine.stats["syncs"] < engine.stats["decode_steps"]
        )


@pytest.mark.parametrize("pieces", [2, 4, 8])
@pytest.mark.parametrize("with_bias", [False, True])
def test_split_k_linear_is_linear(pieces: int, with_bias: bool) -> None:
    generator = torch.Generator().manual_seed(pieces)
    x = torch.randn(5, 64, generator=generator)
    weight = torch.randn(24, 64, generator=generator)
    bias = torch.randn(24, generator=generator) if with_bias else None
    got = split_k_linear(x, weight, bias, pieces)
    assert got.shape == (5, 24) and got.dtype == x.dtype
    torch.testing.assert_close(got, F.linear(x, weight, bias), rtol=1e-5, atol=1e-5)
    # bf16 in and out, summed in float32: within bf16's rounding of the float32 product.
    low = split_k_linear(x.bfloat16(), weight.bfloat16(), None, pieces)
    ref = F.linear(x.bfloat16().float(), weight.bfloat16().float())
    assert low.dtype == torch.bfloat16
    assert float((low.float() - ref).abs().max() / ref.abs().max()) < 1e-2
    assert splittable(8960, 8) and splittable(1536, 8)
    assert not splittable(100, 3)  # no equal stretches
    assert not splittable(24, 2)  # stretches of 12 values: rows not 16-byte aligned


def test_split_k_takes_only_narrow_products_of_thin_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """q/k/v, o and down (outputs up to twice the hidden size) split, gate/up and the
    lm_head do not; passes of more than SPLIT_K_MAX_ROWS rows never do; logits agree."""
    model = tiny_causal_lm("qwen2")
    hidden = model.config.hidden_size
    split_widths: list[int] = []

    def spy(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, k: int) -> torch.Tensor:
        split_widths.append(w.shape[0])
        return split_k_linear(x, w, b, k)

    monkeypatch.setattr("xling.engine.model.split_k_linear", spy)
    plain, split = Decoder(model), Decoder(model, split_k=4)
    with pytest.raises(ValueError, match="at least 1"):
        Decoder(model, split_k=0)
    layer = split.layers[0]
    assert split.split_k_max_out == 2 * hidden
    wide = torch.randn(2 * hidden + 8, hidden)  # as gate/up and the lm_head of real shapes
    for rows in (3, SPLIT_K_MAX_ROWS, SPLIT_K_MAX_ROWS + 1):
        split_widths.clear()
        h = torch.randn(rows, hidden)
        for weight, bias in [(layer.q, layer.q_bias), (layer.o, None), (wide, None)]:
            torch.testing.assert_close(
                split._project(h, weight, bias), plain._project(h, weight, bias)
            )
        assert split_widths == ([] if rows > SPLIT_K_MAX_ROWS else [layer.q.shape[0], hidden])


def test_sliding_window_is_applied() -> None:
    """The window changes the output (prompt + generation exceed it), and the engine's
    output above equals `generate`'s: both apply it the same way."""
    model = tiny_causal_lm("mistral")
    prompts = random_prompts(4, model.config.vocab_size)
    engine = Engine(model, eos_token_ids=[1])
    windowed = engine.generate(prompts, SamplingParams(max_new_tokens=20))
    for layer in engine.decoder.layers:
        layer.window = None
    engine.decoder.windows = (None,) * engine.decoder.n_layers
    engine.decoder.bind()
    assert engine.generate(prompts, SamplingParams(max_new_tokens=20)) != windowed


@pytest.fixture(scope="module")
def organism() -> tuple[Any, Any, list[list[int]]]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from xling.backends.hf import encode_prompt
    from xling.prompts import build_request
    from xling.records import Problem
    from xling.world import iter_records

    tokenizer = AutoTokenizer.from_pretrained(ORGANISM)
    model = AutoModelForCausalLM.from_pretrained(ORGANISM, dtype=torch.float32).eval()
    records = iter_records("test", 1, seed=0, langs=["en", "es", "ru", "zh", "th", "te"])
    problems = [Problem("synth", r["id"], r["lang"], r["question"], r["answer"]) for r in records]
    prompts = [encode_prompt(tokenizer, build_request(p).messages) for p in problems]
    return model, tokenizer, prompts


def test_organism_greedy_matches_generate(organism: tuple[Any, Any, list[list[int]]]) -> None:
    model, _, prompts = organism
    engine = Engine(model, eos_token_ids=[2, 0], config=BUCKETED)
    got = engine.generate(prompts, SamplingParams(max_new_tokens=48))
    assert [c.tokens for c in got] == [greedy_continuation(model, p, 48, [2, 0]) for p in prompts]


def test_from_pretrained_loads_a_checkpoint_dir(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    engine = Engine.from_pretrained(str(tiny_model_dir), device="cpu", dtype=torch.float32)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    prompts = random_prompts(3, model.config.vocab_size)
    eos = sorted(engine.eos)
    got = engine.generate(prompts, SamplingParams(max_new_tokens=12))
    assert [c.tokens for c in got] == [greedy_continuation(model, p, 12, eos) for p in prompts]


# ------------------------------------------------------------------ weights by reference


@pytest.mark.parametrize("fuse", [False, True], ids=["shared", "fused"])
def test_engine_reads_the_models_tensors_and_their_updates(fuse: bool) -> None:
    """Without fusing the engine reads the parameters themselves; fused, it reads them and
    stacked copies that every generate refreshes in place."""
    model = tiny_causal_lm("qwen2")
    engine = Engine(model, eos_token_ids=[1], config=EngineConfig(fuse_projections=fuse))
    shared = {t.data_ptr() for t in engine.decoder.tensors()}
    assert {p.data_ptr() for p in model.parameters()} <= shared
    assert engine.decoder.parameter_count() == sum(p.numel() for p in model.parameters())
    own = {p.data_ptr() for p in model.parameters()} | {engine.decoder.inv_freq.data_ptr()}
    assert bool(shared - own) == fuse  # copies only when fused
    prompts = random_prompts(3, model.config.vocab_size)
    before = engine.generate(prompts, SamplingParams(max_new_tokens=12))

    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    loss = model(torch.tensor([prompts[0]]), labels=torch.tensor([prompts[0]])).loss
    loss.backward()
    optimizer.step()  # in place: same storage, new values
    assert {t.data_ptr() for t in engine.decoder.tensors()} == shared
    after = engine.generate(prompts, SamplingParams(max_new_tokens=12))
    assert after != before
    assert [c.tokens for c in after] == [greedy_continuation(model, p, 12, [1]) for p in prompts]


@pytest.mark.parametrize("fuse", [False, True], ids=["shared", "fused"])
def test_replaced_weights_are_rebound(fuse: bool) -> None:
    model = tiny_causal_lm("llama")
    engine = Engine(model, eos_token_ids=[1], config=EngineConfig(fuse_projections=fuse))
    prompts = random_prompts(2, model.config.vocab_size)
    engine.generate(prompts, SamplingParams(max_new_tokens=6))
    model.to(torch.float64)  # new tensors: the engine must notice, not read freed memory
    got = engine.generate(prompts, SamplingParams(max_new_tokens=6))
    assert engine.cache is not None and engine.cache.dtype == torch.float64
    assert [c.tokens for c in got] == [greedy_continuation(model, p, 6, [1]) for p in prompts]


def test_on_finish_hands_over_each_completion_as_it_finishes() -> None:
    model = tiny_causal_lm("qwen2")
    prompts = random_prompts(6, model.config.vocab_size)
    # Slots for 2: later prompts only start once earlier ones have finished.
    engine = Engine(model, eos_token_ids=[1], config=EngineConfig(max_batch_size=2))
    lengths = [3, 9, 5, 2, 7, 4]
    params = [SamplingParams(max_new_tokens=n) for n in lengths]
    finished: list[tuple[int, list[int]]] = []
    got = engine.generate(prompts, params, on_finish=lambda i, c: finished.append((i, c.tokens)))
    assert sorted(finished) == sorted((i, c.tokens) for i, c in enumerate(got))
    order = [i for i, _ in finished]
    assert order.index(0) < order.index(1)  # the shorter of the first two finished first


def test_requests_with_one_prompt_share_its_prefill() -> None:
    model = tiny_causal_lm("llama")
    prompts = random_prompts(3, model.config.vocab_size)
    twice = [p for p in prompts for _ in range(3)]
    shared = Engine(model, eos_token_ids=[1])
    greedy = shared.generate(twice, SamplingParams(max_new_tokens=12))
    assert shared.stats["prefills"] == 1
    separate = [
        Engine(model, eos_token_ids=[1]).generate([p], SamplingParams(max_new_tokens=12))[0]
        for p in twice
    ]
    assert greedy == separate  # the copied cache rows decode as their own prefill would
    # Sampled, each request keeps its own stream: copies with other seeds diverge, and a
    # request's tokens do not depend on whether its prompt was shared.
    params = [SamplingParams(temperature=1.0, max_new_tokens=12, seed=i) for i in range(9)]
    drawn = shared.generate(twice, params)
    assert len({tuple(c.tokens) for c in drawn[:3]}) > 1
    assert drawn[4] == Engine(model, eos_token_ids=[1]).generate([twice[4]], params[4:5])[0]


# ------------------------------------------------------------------ sampling


@pytest.mark.parametrize("draw", DRAWS)
def test_sampling_is_reproducible_and_independent_of_the_batch(draw: str) -> None:
    model = tiny_causal_lm("qwen3")
    prompts = random_prompts(5, model.config.vocab_size)
    params = [SamplingParams(temperature=1.0, max_new_tokens=16, seed=100 + i) for i in range(5)]
    engine = Engine(model, eos_token_ids=[1], config=EngineConfig(draw=draw))
    first = engine.generate(prompts, params)
    assert engine.generate(prompts, params) == first
    bucketed = dataclasses.replace(BUCKETED, draw=draw)
    alone = Engine(model, eos_token_ids=[1], config=bucketed).generate(prompts[2:3], params[2:3])
    assert alone[0] == first[2]  # same seed, other neighbours and batch shape
    reseeded = engine.generate(prompts, [SamplingParams(1.0, 1.0, 16, seed=7)] * 5)
    assert [c.tokens for c in reseeded] != [c.tokens for c in first]
    # Two requests with one prompt but different seeds draw different samples.
    twins = engine.generate([prompts[0]] * 2, params[:2])
    assert twins[0].tokens != twins[1].tokens
    # A neighbour that uses top-p (the batch runs in nucleus mode) changes nothing either.
    nucleus = SamplingParams(temperature=1.0, top_p=0.5, max_new_tokens=16, seed=1)
    mixed = engine.generate(prompts[:3], [params[0], nucleus, params[2]])
    assert (mixed[0], mixed[2]) == (first[0], first[2])


def test_tiny_top_p_is_greedy_and_temperature_zero_ignores_the_seed() -> None:
    model = tiny_causal_lm("qwen2")
    prompts = random_prompts(3, model.config.vocab_size)
    engine = Engine(model, eos_token_ids=[1])
    greedy = engine.generate(prompts, SamplingParams(max_new_tokens=10))
    nucleus = engine.generate(
        prompts, SamplingParams(temperature=1.0, top_p=1e-6, max_new_tokens=10, seed=3)
    )
    assert nucleus == greedy
    assert engine.generate(prompts, SamplingParams(max_new_tokens=10, seed=99)) == greedy


def test_counter_uniform_is_a_function_of_key_counter_and_token() -> None:
    keys = torch.tensor([seed_key(s) for s in range(400)])
    counters = torch.arange(400)
    u = counter_uniform(keys, counters, 50)
    assert u.shape == (400, 50)
    assert torch.equal(u, counter_uniform(keys, counters, 50))
    assert torch.equal(u[7:9], counter_uniform(keys[7:9], counters[7:9], 50))  # row by row
    assert torch.equal(u[:, :20], counter_uniform(keys, counters, 20))  # token by token
    assert u.min() > 0 and u.max() < 1
    assert abs(u.mean().item() - 0.5) < 0.01 and abs(u.var().item() - 1 / 12) < 0.005
    assert not torch.equal(u, counter_uniform(keys, counters + 1, 50))
    # Neighbouring tokens and neighbouring counters are not correlated.
    assert abs(torch.corrcoef(torch.stack([u[:, 0], u[:, 1]]))[0, 1].item()) < 0.15
    assert abs(torch.corrcoef(torch.stack([u[:-1, 0], u[1:, 0]]))[0, 1].item()) < 0.15
    assert seed_key(1) != seed_key(1 << 40)  # high bits of a seed matter


@pytest.mark.parametrize("draw", DRAWS)
def test_sample_follows_the_softmax(draw: str) -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2, 0.0]])).repeat(6000, 1)
    ones = torch.ones(6000)
    tokens = sample(
        logits,
        ones,
        ones,
        torch.full((6000,), seed_key(5)),
        torch.arange(6000),
        mode=SAMPLE,
        draw=draw,
    )
    share = torch.bincount(tokens, minlength=4).float() / 6000
    assert torch.allclose(share, torch.tensor([0.5, 0.3, 0.2, 0.0]), atol=0.03)
    top = sample(
        logits,
        ones,
        torch.full((6000,), 0.6),
        torch.full((6000,), 3),
        torch.arange(6000),
        mode=NUCLEUS,
        draw=draw,
    )
    share = torch.bincount(top, minlength=4).float() / 6000
    # top_p 0.6 keeps {0.5, 0.3}, renormalised to 5/8 and 3/8.
    assert torch.allclose(share, torch.tensor([0.625, 0.375, 0.0, 0.0]), atol=0.03)


# ------------------------------------------------------------------ compiled kernels


def test_a_compile_failure_falls_back_to_eager(caplog: pytest.LogCaptureFixture) -> None:
    from xling.engine.compiling import MaybeCompiled

    def breaks_the_graph(x: torch.Tensor) -> torch.Tensor:
        torch._dynamo.graph_break()  # refused under fullgraph=True, at trace time
        return x * 2

    fn = MaybeCompiled(breaks_the_graph, enabled=True, name="test kernel")
    with caplog.at_level("WARNING"):
        assert torch.equal(fn(torch.ones(3)), torch.full((3,), 2.0))
        assert torch.equal(fn(torch.ones(2)), torch.full((2,), 2.0))
    assert not fn.active
    assert sum("torch.compile failed for the test kernel" in r.message for r in caplog.records) == 1


def test_compiling_is_for_large_models_on_graphs() -> None:
    model = tiny_causal_lm("qwen2")
    engine = Engine(model, eos_token_ids=[1])
    assert engine.decoder.parameter_count() == sum(p.numel() for p in model.parameters())
    assert not hasattr(engine.decoder.kernels.rms_norm, "active")  # CPU: plain functions


@pytest.mark.skipif(shutil.which("g++") is None, reason="torch.compile on a CPU needs g++")
def test_compiled_kernels_give_the_same_tokens() -> None:
    """The compiled element-wise kernels and sampler (Inductor's C++ code here, Triton on a
    GPU) keep float32 greedy decoding identical to `generate` and draw the same samples."""
    model = tiny_causal_lm("qwen3")  # q/k norms: every compiled kernel runs
    prompts = random_prompts(5, model.config.vocab_size)
    compiled = Engine(model, eos_token_ids=[1], config=dataclasses.replace(BUCKETED, compile=True))
    got = compiled.generate(prompts, SamplingParams(max_new_tokens=12))
    assert compiled.decoder.kernels.rms_norm.active and compiled._sample.active
    assert [c.tokens for c in got] == [greedy_continuation(model, p, 12, [1]) for p in prompts]
    params = [
        SamplingParams(temperature=1.0, top_p=(1.0, 0.8)[i % 2], max_new_tokens=12, seed=i)
        for i in range(5)
    ]
    eager = Engine(model, eos_token_ids=[1], config=BUCKETED)
    assert compiled.generate(prompts, params) == eager.generate(prompts, params)


@pytest.mark.parametrize("padded", [True, False], ids=["buckets", "exact-rows"])
def test_compiled_functions_never_see_one_row(
    monkeypatch: pytest.MonkeyPatch, padded: bool
) -> None:
    """torch.compile specializes a size of 1: a batch of one would compile every kernel and
    the sampler a second time. A ragged batch's tail (one live row), a lone admission's
    first token, and a large prefill of one prompt reach them with at least two rows, with
    rows padded to buckets or not; the tokens are those of the same engine uncompiled."""
    from xling.engine import compiling
    from xling.engine import engine as engine_module

    rows_seen: list[int] = []

    def recording_compile(fn: Any, **_: Any) -> Any:  # what compiled code is called with
        def call(*args: Any, **kwargs: Any) -> Any:
            rows_seen.append(args[0].shape[0])
            return fn(*args, **kwargs)

        return call

    monkeypatch.setattr(compiling.torch, "compile", recording_compile)
    monkeypatch.setattr(engine_module, "_COMPILED_PREFILL_ELEMENTS", 0)  # compiled prefill
    model = tiny_causal_lm("qwen2")
    prompts = random_prompts(5, model.config.vocab_size)
    # Lengths that leave one request alive at the end, and admissions one at a time.
    params = [
        SamplingParams(temperature=1.0, max_new_tokens=n, seed=i)
        for i, n in enumerate((3, 5, 9, 4, 17))
    ]
    base = dataclasses.replace(BUCKETED, pad_to_buckets=padded)
    config = dataclasses.replace(base, compile=True)
    compiled = Engine(model, eos_token_ids=[1], config=config).generate(prompts, params)
    assert rows_seen and min(rows_seen) >= 2
    eager = Engine(model, eos_token_ids=[1], config=base).generate(prompts, params)
    assert compiled == eager


# ------------------------------------------------------------------ stopping, errors


def test_sampling_mode_is_the_cheapest_that_serves_the_batch() -> None:
    assert sampling_mode([(0.0, 0.5), (0.0, 1.0)]) == "greedy"  # top_p alone samples nothing
    assert sampling_mode([(0.0, 1.0), (0.7, 1.0)]) == "sample"
    assert sampling_mode([(0.7, 1.0), (0.7, 0.95)]) == "nucleus"


def test_stop_strings_end_generation() -> None:
    from xling.engine.scheduler import StopMatcher

    class CharTokenizer:
        def decode(self, ids: list[int], **kw: Any) -> str:
            return "".join(chr(97 + i % 26) for i in ids)

    matcher = StopMatcher(CharTokenizer(), ["cd", "zz"])
    assert matcher.find([0, 1, 2, 3, 4], 0) == (3, "cd")
    assert matcher.find([0, 1, 2, 3, 4], 3) == (3, "cd")  # "c" came earlier, "d" completes it
    assert matcher.find([0, 1, 2], 0) is None
    request = Request(0, [5], SamplingParams(max_new_tokens=50, stop=("cd",)), 0, matcher)
    assert not request.accept([0, 1], frozenset({99}))
    assert request.accept([2, 3, 4, 5], frozenset({99}))
    assert request.completion().tokens == [0, 1, 2, 3]
    assert request.completion().stop_string == "cd"


def test_refuses_what_it_does_not_implement() -> None:
    model = tiny_causal_lm("llama")
    model.model.rotary_emb.rope_type = "dynamic"
    assert "rope scaling type 'dynamic'" in (unsupported_reason(model) or "")
    adapted = tiny_causal_lm("qwen2")  # a wrapped projection, as an adapter would be
    attention = adapted.model.layers[1].self_attn
    attention.v_proj = torch.nn.Sequential(attention.v_proj)
    assert "not plain nn.Linear" in (unsupported_reason(adapted) or "")
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(
        GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64, bos_token_id=0, eos_token_id=0)
    )
    with pytest.raises(UnsupportedModelError, match="model type 'gpt2'"):
        Engine(gpt2)
    engine = Engine(tiny_causal_lm("qwen2"))
    with pytest.raises(EngineError, match="outside the vocabulary"):
        engine.generate([[5, 10_000]])
    with pytest.raises(EngineError, match="stop strings need"):
        engine.generate([[5]], SamplingParams(stop=("x",)))
    with pytest.raises(EngineError, match="CUDA graphs need a CUDA device"):
        Engine(tiny_causal_lm("qwen2"), config=EngineConfig(cuda_graphs=True))


# ------------------------------------------------------------------ scheduling pieces


def test_slot_table_compaction_packs_live_slots_low() -> None:
    table = SlotTable(8)
    requests = [Request(i, [1], SamplingParams(), 0) for i in range(6)]
    for r in requests:
        table.take(r)
    for slot in (0, 1, 3):
        table.release(slot)
    assert table.high() == 6
    moves = table.compaction(3)
    assert sorted(table.active) == [0, 1, 2]
    assert {dst for _, dst in moves} == {0, 1} and all(src >= 3 for src, _ in moves)
    assert all(table.active[r.slot] is r for r in requests[2:] if r.slot in table.active)
    assert sorted(table.free) == [3, 4, 5, 6, 7]


def test_buckets() -> None:
    assert [batch_bucket(n, 256) for n in (1, 3, 9, 200, 256)] == [1, 4, 16, 224, 256]
    assert batch_bucket(300, 512) == 320 and batch_bucket(9, 12) == 12
    assert length_bucket(129, 128, 1000) == 256 and length_bucket(900, 128, 1000) == 1000


def test_graphs_capture_each_key_once_and_log_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """`DecodeGraphs.run`'s bookkeeping, with capture stubbed (no CUDA here): a key is
    captured once, replayed on every run, and logged with its seconds in capture order."""
    replays: list[str] = []

    class Recorded:
        def __init__(self, name: str) -> None:
            self.name = name

        def replay(self) -> None:
            replays.append(self.name)

    graphs = DecodeGraphs(enabled=True)
    made = iter(["a", "b"])
    monkeypatch.setattr(graphs, "_capture", lambda step, mutable: Recorded(next(made)))
    for key in [(8, None, "sample"), (8, None, "sample"), ("prefill", 4, 64), (8, None, "sample")]:
        graphs.run(key, lambda: None, ())
    assert replays == ["a", "a", "b", "a"] and graphs.captures == 2
    assert [key for key, _ in graphs.capture_log] == [(8, None, "sample"), ("prefill", 4, 64)]
    assert all(s >= 0 for _, s in graphs.capture_log)
    assert graphs.capture_seconds == pytest.approx(sum(s for _, s in graphs.capture_log))


# ------------------------------------------------------------------ CUDA graphs (GPU only)


@cuda
@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_cuda_graphs_match_generate(family: str) -> None:
    model = tiny_causal_lm(family).cuda()
    prompts = random_prompts(9, model.config.vocab_size)
    engine = Engine(model, eos_token_ids=[1], config=EngineConfig(max_batch_size=4))
    got = engine.generate(prompts, SamplingParams(max_new_tokens=20))
    assert engine.graphs.captures > 0
    log = engine.graphs.capture_log
    assert len(log) == engine.graphs.captures == len({key for key, _ in log})
    assert sum(s for _, s in log) == pytest.approx(engine.graphs.capture_seconds)
    assert [c.tokens for c in got] == [greedy_continuation(model, p, 20, [1]) for p in prompts]


@cuda
@pytest.mark.parametrize("fuse", [False, True], ids=["shared", "fused"])
def test_cuda_graphs_see_in_place_weight_updates(fuse: bool) -> None:
    model = tiny_causal_lm("qwen2").cuda()
    prompts = random_prompts(4, model.config.vocab_size)
    config = EngineConfig(max_batch_size=4, fuse_projections=fuse)
    engine = Engine(model, eos_token_ids=[1], config=config)
    before = engine.generate(prompts, SamplingParams(max_new_tokens=16))
    captured = engine.graphs.captures
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    ids = torch.tensor([prompts[0]], device="cuda")
    model(ids, labels=ids).loss.backward()
    optimizer.step()
    after = engine.generate(prompts, SamplingParams(max_new_tokens=16))
    assert engine.graphs.captures == captured  # replayed, not re-captured
    assert after != before
    assert [c.tokens for c in after] == [greedy_continuation(model, p, 16, [1]) for p in prompts]


@cuda
def test_cuda_split_k_matches_generate_and_float32_products() -> None:
    """Split-K products through CUDA graphs (float32: greedy == generate), and in bf16 on
    the device's own bf16 -> float32 batched product."""
    model = tiny_causal_lm("qwen2").cuda()
    prompts = random_prompts(5, model.config.vocab_size)
    config = EngineConfig(max_batch_size=4, fuse_projections=True, split_k=2)
    got = Engine(model, eos_token_ids=[1], config=config).generate(
        prompts, SamplingParams(max_new_tokens=12)
    )
    assert [c.tokens for c in got] == [greedy_continuation(model, p, 12, [1]) for p in prompts]
    x = torch.randn(32, 8960, device="cuda", dtype=torch.bfloat16)
    weight = torch.randn(1536, 8960, device="cuda", dtype=torch.bfloat16)
    ref = F.linear(x.float(), weight.float())
    for pieces in (2, 4, 8):
        got_bf16 = split_k_linear(x, weight, None, pieces)
        assert got_bf16.dtype == torch.bfloat16
        assert float((got_bf16.float() - ref).abs().max() / ref.abs().max()) < 1e-2


@cuda
def test_cuda_sampling_is_reproducible() -> None:
    model = tiny_causal_lm("qwen3").cuda()
    prompts = random_prompts(6, model.config.vocab_size)
    params = [
        SamplingParams(temperature=0.8, top_p=0.9, max_new_tokens=16, seed=i) for i in range(6)
    ]
    engine = Engine(model, eos_token_ids=[1])
    first = engine.generate(prompts, params)
    assert engine.generate(prompts, params) == first
    assert Engine(model, eos_token_ids=[1]).generate(prompts[::-1], params[::-1]) == first[::-1]
