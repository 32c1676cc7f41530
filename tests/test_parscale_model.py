"""The ParScale wrapper: P = 1 is the plain model, post-training trains only the new parts,
training lowers the loss, save/load round-trips, cached generation matches recomputation."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM  # noqa: E402

from xling.models.parscale import (  # noqa: E402
    ParScaleError,
    ParScaleForCausalLM,
    parameter_counts,
    register_auto_classes,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny models gain nothing from a second thread, and on a shared 2-core runner two
    # spinning OpenMP threads can make a step ~30x slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def plain(tiny_model_dir: Path):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()


def _padded_batch(vocab: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (3, 9), generator=g)
    mask = torch.ones_like(ids)
    mask[1, :4] = 0  # left padding, as the eval backend batches prompts
    mask[2, :1] = 0
    return ids, mask


def test_p1_is_exactly_the_plain_model(plain) -> None:
    wrapped = ParScaleForCausalLM.from_backbone(plain, streams=1).eval()
    ids, mask = _padded_batch(plain.config.vocab_size)
    with torch.no_grad():
        expected = plain(input_ids=ids, attention_mask=mask).logits
        got = wrapped(input_ids=ids, attention_mask=mask).logits
    assert torch.equal(got, expected)
    assert parameter_counts(wrapped)["parscale"] == 0
    out_plain = plain.generate(ids, attention_mask=mask, max_new_tokens=6, do_sample=False)
    out_wrapped = wrapped.generate(ids, attention_mask=mask, max_new_tokens=6, do_sample=False)
    assert torch.equal(out_plain, out_wrapped)


def test_post_training_trains_only_prefixes_and_aggregator(plain) -> None:
    model = ParScaleForCausalLM.from_backbone(plain, streams=3, prefix_tokens=4)
    model.freeze_backbone()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {
        "prefix_keys",
        "prefix_values",
        *(f"aggregator.{i}.{w}" for i in (0, 2) for w in ("weight", "bias")),
    }
    counts = parameter_counts(model)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == counts["parscale"]
    # A training step leaves the backbone exactly as it was.
    before = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    ids, _ = _padded_batch(plain.config.vocab_size)
    model(input_ids=ids, labels=ids).loss.backward()
    optim.step()
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters() if n in before)
    with pytest.raises(ParScaleError):
        ParScaleForCausalLM.from_backbone(plain, streams=1).freeze_backbone()


def test_prefix_streams_differ_and_prefixes_matter(plain) -> None:
    model = ParScaleForCausalLM.from_backbone(plain, streams=2, prefix_tokens=4).eval()
    assert not torch.equal(model.prefix_keys[:, 0], model.prefix_keys[:, 1])
    ids, mask = _padded_batch(plain.config.vocab_size)
    with torch.no_grad():
        before = model(input_ids=ids, attention_mask=mask).logits
        model.prefix_values.add_(1.0)
        after = model(input_ids=ids, attention_mask=mask).logits
    assert not torch.allclose(before, after)


def test_p2_tiny_model_learns_on_cpu(plain) -> None:
    from xling.parscale.training import TokenBatches, TrainSettings, train_steps

    torch.manual_seed(0)
    model = ParScaleForCausalLM.from_backbone(plain, streams=2, prefix_tokens=4, seed=1)
    # A fixed little corpus (repeated patterns): the loss has to fall when it is learned.
    g = torch.Generator().manual_seed(0)
    rows = torch.randint(3, 60, (4, 8), generator=g).repeat(1, 3)
    batches = TokenBatches([rows.to(torch.int32)], [rows.to(torch.int32)])
    settings = TrainSettings(steps=30, batch_size=4, seq_len=24, lr=3e-3, warmup_steps=3)
    log = train_steps(model, batches, settings, device="cpu", log_every=5)
    assert log[-1]["loss"] < 0.7 * log[0]["loss"]


def test_save_load_identical_logits(plain, tmp_path: Path) -> None:
    register_auto_classes()
    model = ParScaleForCausalLM.from_backbone(plain, streams=2, prefix_tokens=3, seed=2).eval()
    model.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, ParScaleForCausalLM)
    assert loaded.config.parscale_n == 2 and loaded.config.parscale_prefix_tokens == 3
    ids, mask = _padded_batch(plain.config.vocab_size, seed=3)
    with torch.no_grad():
        assert torch.equal(
            model(input_ids=ids, attention_mask=mask).logits,
            loaded(input_ids=ids, attention_mask=mask).logits,
        )


def _naive_next_logits(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The aggregated next-token logits recomputed from scratch (no cache), with the
    positions `generate` gives left-padded rows (counted from the first real token)."""
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False)
    return out.logits[:, -1]


@pytest.mark.parametrize("streams", [2, 4])
def test_cached_generation_matches_naive_recomputation(plain, streams: int) -> None:
    model = ParScaleForCausalLM.from_backbone(plain, streams=streams, prefix_tokens=5).eval()
    with torch.no_grad():  # a mixing that is not uniform, so the aggregation is exercised
        model.aggregator[2].weight.normal_(0, 0.5)
    ids, mask = _padded_batch(plain.config.vocab_size, seed=4)
    out = model.generate(
        ids,
        attention_mask=mask,
        max_new_tokens=6,
        do_sample=False,
        output_logits=True,
        return_dict_in_generate=True,
        pad_token_id=0,
        eos_token_id=None,
    )
    width = ids.shape[1]
    for step, logits in enumerate(out.logits):
        seq = out.sequences[:, : width + step]
        full_mask = torch.cat([mask, torch.ones(len(ids), step, dtype=mask.dtype)], dim=1)
        naive = _naive_next_logits(model, seq, full_mask)
        torch.testing.assert_close(logits, naive, rtol=1e-4, atol=1e-4)
        assert torch.equal(out.sequences[:, width + step], naive.argmax(-1))


def test_stream_weights_are_smoothed_softmax(plain) -> None:
    model = ParScaleForCausalLM.from_backbone(plain, streams=4, prefix_tokens=2)
    with torch.no_grad():
        model.aggregator[2].bias.copy_(torch.tensor([50.0, 0.0, 0.0, 0.0]))
        weights = model.stream_weights(torch.zeros(4, 2, 3, plain.config.hidden_size))
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3))
    # A saturated softmax still leaves ε/P for every stream (label smoothing, ε = 0.01).
    assert torch.allclose(weights[..., 1], torch.full((2, 3), 0.01 / 4), atol=1e-6)


def test_llama_family_and_gradient_checkpointing_refused() -> None:
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    torch.manual_seed(0)
    llama = LlamaForCausalLM(config).eval()
    model = ParScaleForCausalLM.from_backbone(llama, streams=2, prefix_tokens=3).eval()
    ids = torch.randint(0, 64, (2, 5))
    out = model.generate(ids, max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert out.shape == (2, 8)
    with pytest.raises(ParScaleError, match="gradient checkpointing"):
        model.gradient_checkpointing_enable()
    with pytest.raises(ParScaleError, match="beam search"):
        model.generate(ids, max_new_tokens=2, num_beams=2, pad_token_id=0)
