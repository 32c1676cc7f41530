"""Random-weight models of real shapes (xling.models.random_init): the folder loads as a hub
checkpoint does, its tokenizer names every embedding row and speaks the organism's chat
format, the shapes' parameter formula agrees with transformers, and xling's GRPO trains on
the tiny shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xling.models.random_init import RANDOM_MODEL_JSON, random_qwen2_config, write_random_model
from xling.models.shapes import NAMED_SHAPES, TINY_SHAPE, named_shape, parameter_count
from xling.models.wide_tokenizer import organism_vocab_size, widened_tokenizer
from xling.organism import bundled_organism

VOCAB = int(TINY_SHAPE["vocab_size"])


@pytest.fixture(scope="module")
def tiny_random(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("random-model") / "tiny"
    write_random_model(out, "tiny")
    return out


@pytest.fixture(scope="module")
def tokenizers(tiny_random: Path) -> tuple[Any, Any]:
    """(the tiny random model's tokenizer, the bundled organism's), as from_pretrained loads."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_random), AutoTokenizer.from_pretrained(
        bundled_organism()
    )


def xling_prompts() -> list[list[dict[str, str]]]:
    """The evaluation's prompt (xling.prompts) for one synthetic problem in every language."""
    from xling.prompts import build_request
    from xling.records import Problem
    from xling.world import iter_records

    return [
        [
            dict(m)
            for m in build_request(
                Problem("synth", r["id"], r["lang"], r["question"], r["answer"])
            ).messages
        ]
        for r in iter_records("test", 1, seed=0)
    ]


def test_the_folder_loads_as_a_checkpoint_of_the_shape(tiny_random: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_random)
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert model.dtype == torch.bfloat16
    for key, value in TINY_SHAPE.items():
        assert getattr(model.config, key) == value, key
    assert sum(p.numel() for p in model.parameters()) == parameter_count(TINY_SHAPE)
    info = json.loads((tiny_random / RANDOM_MODEL_JSON).read_text())
    assert info["shape"] == "tiny" and info["parameters"] == parameter_count(TINY_SHAPE)
    # A chat turn's end or the text's end stops generation, as for the organism.
    assert model.generation_config.eos_token_id == [2, 0]


def test_the_tokenizer_names_every_embedding_row(tokenizers: tuple[Any, Any]) -> None:
    tokenizer, _ = tokenizers
    assert len(tokenizer) == VOCAB
    ids = list(range(VOCAB))
    assert None not in tokenizer.convert_ids_to_tokens(ids)
    texts = tokenizer.batch_decode([ids[i : i + 512] for i in range(0, VOCAB, 512)])
    assert all(isinstance(t, str) and t for t in texts)
    # What a random model samples past the organism's tokens decodes to text, not to nothing.
    assert tokenizer.decode(list(range(organism_vocab_size(), VOCAB))).strip()


def test_text_round_trips_in_every_language(tokenizers: tuple[Any, Any]) -> None:
    tokenizer, _ = tokenizers
    for messages in xling_prompts():
        text = messages[-1]["content"] + " <think>12 + 7 = 19</think> \\boxed{19}"
        assert tokenizer.decode(tokenizer.encode(text)) == text


def test_the_chat_template_renders_xlings_prompts_as_the_organism_does(
    tokenizers: tuple[Any, Any],
) -> None:
    from xling.train.rewards import template_uses_think

    tokenizer, organism = tokenizers
    for messages in xling_prompts():
        rendered = tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        assert rendered.startswith("<|im_start|>user\n")
        assert rendered.endswith("<|im_end|>\n<|im_start|>assistant\n")
        assert rendered == organism.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        # Widening adds ids past the organism's: every prompt encodes to the same ids.
        assert tokenizer.encode(rendered) == organism.encode(rendered)
    # The format reward's <think> rule and tokens are the organism's.
    assert template_uses_think(tokenizer) == template_uses_think(organism)
    for token in ("<think>", "</think>", "<|im_end|>", "<|endoftext|>"):
        assert tokenizer.convert_tokens_to_ids(token) == organism.convert_tokens_to_ids(token)


def test_a_real_vocabulary_is_covered_exactly() -> None:
    import random

    tokenizer = widened_tokenizer(151936, model_max_length=32768)
    assert len(tokenizer) == 151936
    rng = random.Random(0)
    sampled = [[rng.randrange(151936) for _ in range(256)] for _ in range(8)]
    assert all(tokenizer.batch_decode(sampled))
    with pytest.raises(ValueError, match="below the organism tokenizer"):
        widened_tokenizer(1000, model_max_length=64)


@pytest.mark.parametrize("name", sorted(NAMED_SHAPES))
def test_the_parameter_formula_agrees_with_transformers(
    name: str, tokenizers: tuple[Any, Any]
) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    shape = named_shape(name)
    config = random_qwen2_config(shape, tokenizers[1])
    with torch.device("meta"):  # sizes only, no memory
        model = AutoModelForCausalLM.from_config(config)
    assert sum(p.numel() for p in model.parameters()) == parameter_count(shape)


def test_the_real_shapes_have_their_published_sizes() -> None:
    assert round(parameter_count(named_shape("qwen2.5-1.5b")) / 1e9, 2) == 1.54
    assert round(parameter_count(named_shape("qwen2.5-7b")) / 1e9, 2) == 7.62
    with pytest.raises(ValueError, match="known: tiny"):
        named_shape("qwen9")


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_a_grpo_step_on_the_tiny_shape(tiny_random: Path, train_file: Path, tmp_path: Path) -> None:
    """xling's GRPO entry point trains the random model, rollouts from the engine."""
    from xling.train.config import GRPOTrainConfig
    from xling.train.grpo import build_grpo_trainer
    from xling.train.phases import phase_seconds
    from xling.train.rewards import RolloutScorer

    cfg = GRPOTrainConfig(
        model=str(tiny_random),
        data=str(train_file),
        out=str(tmp_path / "run"),
        max_steps=1,
        num_generations=2,
        per_device_batch_size=2,
        gradient_accumulation_steps=1,
        max_completion_length=8,
        gradient_checkpointing=False,
        model_dtype="float32",
        rollout_engine="on",
        report_to="none",
        score_workers=1,
        save_steps=10**9,
        trl={"save_strategy": "no"},
    )
    with RolloutScorer(workers=1, timeout_s=cfg.score_timeout) as scorer:
        scorer.start()
        trainer = build_grpo_trainer(cfg, scorer)
        assert trainer.uses_rollout_engine
        trainer.train()
    assert trainer.state.global_step == 1
    logged = [h for h in trainer.state.log_history if "completions/mean_length" in h]
    assert len(logged) == 1 and logged[0]["completions/mean_length"] > 0
    assert phase_seconds(logged[0])["step"] > 0
