"""Organism v2's corpus mechanics: strategy mix per language, drift share, per-type offsets,
train/test separation, the <think> marker and the second-stage (`init`) pretraining."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from xling.errors import XlingError
from xling.organism import (
    META_FILE,
    OrganismConfig,
    build_tokenizer,
    pretrain,
    shares,
    step_examples,
)
from xling.organism.corpus import (
    THINK_CLOSE,
    THINK_OPEN,
    behaviour_share,
    derive_seed,
    type_offset,
)
from xling.world import PROBLEM_TYPES, iter_problems, render_parts, split_of

MIX: dict[str, Any] = {
    "seed": 0,
    "lang_weights": {"en": 0.5, "es": 0.25, "th": 0.25},
    "careful_share": {"en": 0.8, "default": 0.3},
    "drift_share": {"default": 0.4},
    "drift_answer_share": 0.5,
    "reasoning_marker": "think",
    "batch_size": 100,
    "vocab_size": 600,
    "tokenizer_problems": 30,
}


def mix(**changes: Any) -> OrganismConfig:
    return OrganismConfig(**{**MIX, **changes})


def examples(cfg: OrganismConfig, steps: int = 30) -> list[Any]:
    return [e for step in range(steps) for e in step_examples(cfg, step)]


def within(observed: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    """`observed` successes of `n` are within `sigmas` binomial standard deviations of n*p."""
    return abs(observed - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


def test_strategy_mix_follows_each_languages_share() -> None:
    chat = [e for e in examples(mix()) if e.kind == "chat"]
    for lang, share in (("en", 0.8), ("es", 0.3), ("th", 0.3)):
        mine = [e for e in chat if e.lang == lang]
        careful = sum(e.strategy == "careful" for e in mine)
        assert len(mine) > 300 and within(careful, len(mine), share), (lang, careful, len(mine))


def test_drift_share_and_what_a_drifted_solution_looks_like() -> None:
    chat = [e for e in examples(mix()) if e.kind == "chat"]
    english = [e for e in chat if e.lang == "en"]
    assert all(e.answer_lang == "en" and e.reasoning_lang in (None, "en") for e in english)

    spanish = [e for e in chat if e.lang == "es"]
    careful = [e for e in spanish if e.strategy == "careful"]
    drifted = [e for e in careful if e.reasoning_lang == "en"]
    assert within(len(drifted), len(careful), 0.4)
    whole = [e for e in spanish if e.answer_lang == "en"]
    # Whole drift: drift_share * drift_answer_share of all solutions, careful or hasty.
    assert within(len(whole), len(spanish), 0.4 * 0.5)
    assert any(e.strategy == "hasty" for e in whole)
    # The prompt stays Spanish whatever the answer's language.
    assert all("español" in e.user for e in spanish)


def test_solutions_are_the_rendered_problem_in_the_drawn_languages() -> None:
    cfg = mix(batch_size=400)
    # Batch k draws its problems from this stream, in order (see step_examples).
    stream = iter_problems(
        seed=derive_seed("xling-organism-problems", cfg.seed, 0), split="train", dedupe=False
    )
    batch = step_examples(cfg, 0)
    kinds = Counter()
    for ex, problem in zip(batch, stream, strict=False):
        assert ex.problem_key == problem.key
        if ex.kind != "chat":
            continue
        answer = render_parts(problem, ex.answer_lang).answer_line
        if ex.strategy == "hasty":
            assert ex.assistant == answer
            kinds["hasty"] += 1
            continue
        steps = render_parts(problem, ex.reasoning_lang).steps
        assert ex.assistant == "\n".join((THINK_OPEN, *steps, THINK_CLOSE, answer))
        kinds["drifted" if ex.reasoning_lang != ex.lang else "careful"] += 1
    assert kinds["hasty"] and kinds["careful"] and kinds["drifted"]

    plain = step_examples(mix(reasoning_marker="none"), 0)
    careful = [e for e in plain if e.strategy == "careful"]
    assert careful and not any(THINK_OPEN in e.assistant for e in plain)
    assert all(e.assistant.count("\n") >= 1 for e in careful)


def test_every_problem_comes_from_the_train_split() -> None:
    keys = {e.problem_key for e in examples(mix(translation_fraction=0.2), steps=10)}
    assert len(keys) > 500
    assert {split_of(k) for k in keys} == {"train"}


def test_type_offsets_are_per_type_and_shared_by_languages() -> None:
    cfg = mix(type_spread=1.5)
    types = sorted(PROBLEM_TYPES)
    en = [shares(cfg, "en", t)["careful"] for t in types]
    es = [shares(cfg, "es", t)["careful"] for t in types]
    assert len(set(en)) == len(types)  # types differ
    # One offset per type, whatever the language: the same order of types in both.
    assert sorted(types, key=lambda t: en[types.index(t)]) == sorted(
        types, key=lambda t: es[types.index(t)]
    )
    assert all(a > b for a, b in zip(en, es, strict=True))  # English's prior is higher
    assert [shares(cfg, "en", t)["drift"] for t in types] == [0.0] * len(types)  # drift_lang
    # The offsets are standard normal across types (loosely: 33 draws).
    z = [type_offset("careful", t) for t in types]
    assert abs(sum(z) / len(z)) < 0.8 and 0.4 < max(z) - min(z) < 8
    # 0 and 1 are never moved; spread 0 gives the mean itself.
    assert behaviour_share(0.0, 3.0, 1.0) == 0.0 and behaviour_share(1.0, -3.0, 1.0) == 1.0
    assert behaviour_share(0.3, 2.0, 0.0) == 0.3

    # A type-level draw: examples of a type follow that type's share, not the language mean.
    cfg = mix(type_spread=2.0, batch_size=200)
    chat = [e for e in examples(cfg, 40) if e.kind == "chat" and e.lang == "en"]
    by_type: dict[str, list[bool]] = {}
    for e in chat:
        by_type.setdefault(e.problem_key.split(":")[0], []).append(e.strategy == "careful")
    for type_name, draws in by_type.items():
        assert within(sum(draws), len(draws), shares(cfg, "en", type_name)["careful"], 4.5)


def test_v1_mixture_is_the_default() -> None:
    cfg = OrganismConfig(lang_weights={"en": 1.0, "es": 1.0}, batch_size=50)
    chat = [e for e in step_examples(cfg, 0) if e.kind == "chat"]
    assert {e.strategy for e in chat} == {"careful"}
    assert all(e.answer_lang == e.lang == e.reasoning_lang for e in chat)
    assert not any(THINK_OPEN in e.assistant for e in chat)


def test_share_table_errors() -> None:
    with pytest.raises(XlingError, match=r"must lie in \[0, 1\]"):
        mix(careful_share={"en": 1.5})
    with pytest.raises(XlingError, match="unknown language"):
        mix(drift_share={"xx": 0.1})
    with pytest.raises(XlingError, match="no share for language"):
        mix(careful_share={"en": 0.5})  # es and th have no value and there is no default
    with pytest.raises(XlingError, match="reasoning_marker"):
        mix(reasoning_marker="xml")
    with pytest.raises(XlingError, match="type_spread"):
        mix(type_spread=-1.0)


def test_think_markers_survive_decoding() -> None:
    tok = build_tokenizer(mix())
    text = f"{THINK_OPEN}\n2 + 3 = 5\n{THINK_CLOSE}\nThe answer is \\boxed{{5}}"
    ids = tok.encode(text, add_special_tokens=False)
    assert tok.convert_tokens_to_ids(THINK_OPEN) in ids
    assert tok.decode(ids, skip_special_tokens=True) == text
    assert THINK_OPEN not in build_tokenizer(mix(reasoning_marker="none")).get_vocab()


@pytest.fixture(scope="module")
def tiny_pretrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("v2") / "base"
    cfg = mix(
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        num_kv_heads=1,
        intermediate_size=64,
        seq_len=256,
        steps=8,
        batch_size=16,
        warmup_steps=1,
        log_every=4,
        ckpt_every=4,
        device="cpu",
    )
    pretrain(cfg, out, console=Console(quiet=True))
    return out


def test_organism_json_records_the_corpus_drawn(tiny_pretrained: Path) -> None:
    corpus = json.loads((tiny_pretrained / META_FILE).read_text())["corpus"]
    assert corpus["reasoning_marker"] == "think"
    en, es = corpus["langs"]["en"], corpus["langs"]["es"]
    assert en["careful_share"] == 0.8 and es["careful_share"] == 0.3
    assert en["drift_share"] == 0.0 and es["drift_share"] == 0.4
    assert en["drawn_drift"] == 0.0 and en["chat_examples"] > es["chat_examples"] > 0
    total = sum(lang["chat_examples"] for lang in corpus["langs"].values())
    assert 0 < total <= 8 * 16


def test_a_second_stage_continues_from_an_organism(tiny_pretrained: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    stage = mix(
        init=str(tiny_pretrained),
        lang_weights={"en": 1.0},
        translation_fraction=0.0,
        steps=3,
        batch_size=8,
        warmup_steps=1,
        log_every=1,
        device="cpu",
    )
    out = tmp_path / "instruct"
    result = pretrain(stage, out, console=Console(quiet=True))
    assert result.complete
    from transformers import AutoTokenizer

    tok_before, tok_after = (AutoTokenizer.from_pretrained(d) for d in (tiny_pretrained, out))
    assert tok_after.get_vocab() == tok_before.get_vocab()
    sample = step_examples(mix(), 0)[0].assistant
    assert tok_after.encode(sample) == tok_before.encode(sample)
    before, after = (load_file(d / "model.safetensors") for d in (tiny_pretrained, out))
    assert before.keys() == after.keys()
    assert any(not (before[k] == after[k]).all() for k in before)  # it trained
    corpus = json.loads((out / META_FILE).read_text())["corpus"]["langs"]
    assert set(corpus) == {"en"} and corpus["en"]["chat_examples"] == 3 * 8
    with pytest.raises(XlingError, match="not a model directory"):
        pretrain(
            mix(init=str(tmp_path), steps=1, device="cpu"),
            tmp_path / "x",
            console=Console(quiet=True),
        )


def test_behaviours_split_answers_by_strategy(tmp_path: Path) -> None:
    from xling.organism import behaviours

    key = {"benchmark": "synth", "sample": 0}
    gens = [
        {**key, "lang": "es", "id": "1", "output": "<think>\n2 + 3 = 5\n</think>\n\\boxed{5}"},
        {**key, "lang": "es", "id": "2", "output": "La respuesta es \\boxed{7}"},
        {**key, "lang": "es", "id": "3", "output": "La respuesta es \\boxed{9}"},
    ]
    scores = [
        {**key, "lang": "es", "id": "1", "correct": True, "off_target": True},
        {**key, "lang": "es", "id": "2", "correct": True, "off_target": False},
        {**key, "lang": "es", "id": "3", "correct": False, "off_target": None},
    ]
    for name, rows in (("generations", gens), ("scores", scores)):
        lines = "".join(json.dumps(r) + "\n" for r in rows)
        (tmp_path / f"{name}.jsonl").write_text(lines + '{"cut by a ki')  # a killed write
    es = behaviours(tmp_path)["es"]
    assert es["n"] == 3 and es["accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert es["careful_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert (es["accuracy_careful"], es["accuracy_hasty"]) == (1.0, 0.5)
    assert es["off_target"] == 0.5  # the unidentified answer is left out
