"""`shared_prompt_logprobs` against the padded forward TRL runs: the same log-probabilities,
entropies and gradients, with each prompt computed once for its group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from xling.testing.tinymodel import TINY_FAMILIES, tiny_causal_lm
from xling.train.logprobs import _buckets, shared_prompt_logprobs, unavailable_reason

ORGANISM = Path(__file__).resolve().parents[1] / "src" / "xling" / "data" / "organism"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def grpo_batch(
    vocab: int, *, groups: int = 3, group_size: int = 4, width: int = 9, seed: int = 0
) -> tuple[torch.Tensor, ...]:
    """A GRPO batch as TRL builds it: left-padded prompts, each repeated for its group (rows
    shuffled), right-padded completions cut after their end."""
    g = torch.Generator().manual_seed(seed)
    lengths = [(5, 11, 8)[i % 3] + i for i in range(groups)]
    prompts = [torch.randint(2, vocab, (n,), generator=g) for n in lengths]
    longest = max(len(p) for p in prompts)
    rows = groups * group_size
    order = torch.randperm(rows, generator=g)
    prompt_ids = torch.zeros((rows, longest), dtype=torch.long)
    prompt_mask = torch.zeros_like(prompt_ids)
    for row in range(rows):
        p = prompts[int(order[row]) % groups]
        prompt_ids[row, longest - len(p) :] = p
        prompt_mask[row, longest - len(p) :] = 1
    lengths = torch.randint(1, width + 1, (rows,), generator=g)
    lengths[0] = width  # one completion uses the whole width
    completion_mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
    completion_ids = torch.randint(2, vocab, (rows, width), generator=g) * completion_mask
    return prompt_ids, prompt_mask, completion_ids, completion_mask


def padded_reference(
    model: Any, batch: tuple[torch.Tensor, ...], temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """What TRL's padded forward computes: the model over [prompt + completion] rows."""
    prompt_ids, prompt_mask, completion_ids, completion_mask = batch
    width = completion_ids.shape[1]
    logits = model(
        input_ids=torch.cat([prompt_ids, completion_ids], 1),
        attention_mask=torch.cat([prompt_mask, completion_mask], 1),
    ).logits[:, -width - 1 : -1]
    logp = (logits / temperature).log_softmax(-1)
    token = logp.gather(-1, completion_ids[..., None]).squeeze(-1)
    entropy = -(logp.exp() * logp).sum(-1)
    return token * completion_mask, entropy * completion_mask


def loss_and_grads(
    model: Any, log_probs: torch.Tensor, mask: torch.Tensor
) -> dict[str, torch.Tensor]:
    model.zero_grad()
    weights = torch.linspace(-1, 1, log_probs.shape[0])[:, None]
    (-(log_probs * weights * mask).sum() / mask.sum()).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_same_log_probs_entropies_and_gradients_as_the_padded_forward(family: str) -> None:
    model = tiny_causal_lm(family)
    batch = grpo_batch(model.config.vocab_size)
    mask = batch[3]
    ref_lp, ref_ent = padded_reference(model, batch, temperature=0.7)
    ref_grads = loss_and_grads(model, ref_lp, mask)
    # A small bucket budget: several buckets, and rows of one group in different ones.
    scored = shared_prompt_logprobs(
        model, *batch, temperature=0.7, compute_entropy=True, bucket_tokens=12, head_tokens=5
    )
    assert scored is not None
    log_probs, entropies = scored
    assert entropies is not None
    torch.testing.assert_close(log_probs, ref_lp, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(entropies * mask, ref_ent, atol=2e-5, rtol=1e-4)
    assert (log_probs[mask == 0] == 0).all()
    grads = loss_and_grads(model, log_probs, mask)
    assert grads.keys() == ref_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref_grads[name], atol=1e-5, rtol=1e-3, msg=name)


def test_the_organism_and_its_large_vocabulary_path() -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(ORGANISM, dtype=torch.float32)
    batch = grpo_batch(model.config.vocab_size, groups=2, group_size=3, width=6, seed=3)
    ref_lp, _ = padded_reference(model, batch, temperature=1.0)
    import xling.train.logprobs as logprobs

    for plain_bytes in (logprobs.PLAIN_HEAD_BYTES, 0):  # 0: TRL's recomputing kernel
        logprobs.PLAIN_HEAD_BYTES, saved = plain_bytes, logprobs.PLAIN_HEAD_BYTES
        try:
            scored = shared_prompt_logprobs(model, *batch, temperature=1.0, compute_entropy=False)
        finally:
            logprobs.PLAIN_HEAD_BYTES = saved
        assert scored is not None and scored[1] is None
        torch.testing.assert_close(scored[0], ref_lp, atol=5e-5, rtol=1e-4)


def test_masks_of_another_shape_are_left_to_the_caller() -> None:
    model = tiny_causal_lm("qwen2")
    prompt_ids, prompt_mask, completion_ids, completion_mask = grpo_batch(512)
    holed = completion_mask.clone()
    holed[0, 2] = 0  # a completion with a gap is not TRL's layout
    assert (
        shared_prompt_logprobs(
            model,
            prompt_ids,
            prompt_mask,
            completion_ids,
            holed,
            temperature=1.0,
            compute_entropy=False,
        )
        is None
    )
    right_padded = prompt_mask.flip(1)
    if not torch.equal(right_padded, prompt_mask):
        assert (
            shared_prompt_logprobs(
                model,
                prompt_ids,
                right_padded,
                completion_ids,
                completion_mask,
                temperature=1.0,
                compute_entropy=False,
            )
            is None
        )


def test_unsupported_models_are_named() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=64))
    assert "gpt2" in (unavailable_reason(gpt2) or "")
    assert unavailable_reason(tiny_causal_lm("llama")) is None


def test_buckets_cover_every_row_once_and_pad_little() -> None:
    lengths = [3, 50, 4, 49, 5, 48, 0, 47, 6, 2]
    groups = _buckets(lengths, budget=200, overhead=8)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    padded = sum(len(g) * max(max(lengths[i] for i in g), 1) for g in groups)
    one_bucket = len(lengths) * max(lengths)
    assert padded < 0.6 * one_bucket  # short rows are not padded to the long ones
    for g in groups:
        assert len(g) == 1 or len(g) * max(lengths[i] for i in g) <= 200
    # A large fixed cost per bucket keeps everything together when the budget allows.
    assert len(_buckets(lengths, budget=10_000, overhead=10_000)) == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_same_log_probs_on_cuda(family: str) -> None:
    model = tiny_causal_lm(family).cuda()
    batch = tuple(t.cuda() for t in grpo_batch(model.config.vocab_size))
    ref_lp, _ = padded_reference(model, batch, temperature=1.0)
    scored = shared_prompt_logprobs(model, *batch, temperature=1.0, compute_entropy=True)
    assert scored is not None
    torch.testing.assert_close(scored[0], ref_lp, atol=1e-4, rtol=1e-3)


def test_gradients_are_the_same_bit_for_bit_run_after_run() -> None:
    """A training run must be reproducible: with several threads, advanced indexing's
    backward added a prompt's rollout gradients in thread order, and runs drifted apart."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(ORGANISM, dtype=torch.float32)
    batch = grpo_batch(model.config.vocab_size, groups=8, group_size=16, width=60, seed=5)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        runs = []
        for _ in range(3):
            scored = shared_prompt_logprobs(model, *batch, temperature=1.0, compute_entropy=False)
            assert scored is not None
            runs.append(loss_and_grads(model, scored[0], batch[3]))
    finally:
        torch.set_num_threads(before)
    for other in runs[1:]:
        assert all(torch.equal(runs[0][name], other[name]) for name in runs[0])
