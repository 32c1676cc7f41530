"""Organism v3's low-resource knob: `type_coverage`, the share of problem types a language's
pretraining examples ever use (the corpus mechanics; the design-table row needs a GPU)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from xling.organism import OrganismConfig, step_examples
from xling.organism.config import OrganismError
from xling.organism.corpus import Example
from xling.world import PROBLEM_TYPES

N_TYPES = len(PROBLEM_TYPES)
BASE: dict[str, Any] = {
    "seed": 0,
    "lang_weights": {"en": 0.5, "es": 0.3, "sw": 0.2},
    "careful_share": {"default": 0.6},
    "drift_share": {"default": 0.2},
    "batch_size": 64,
}


HALF = {"en": 1.0, "default": 0.5}  # en covers every type, so every type has a language


def _chat(cfg: OrganismConfig, steps: int = 25) -> list[Example]:
    return [ex for step in range(steps) for ex in step_examples(cfg, step) if ex.kind == "chat"]


def _type(ex: Example) -> str:
    assert ex.problem_key is not None
    return ex.problem_key.split(":", 1)[0]


def test_full_coverage_is_the_v2_corpus_exactly() -> None:
    # An explicit table of full coverage draws the same batches as no table at all, so every
    # organism pretrained before the knob existed rebuilds byte for byte.
    plain = OrganismConfig(**BASE)
    explicit = OrganismConfig(**BASE, type_coverage={"default": 1.0, "sw": 1.0})
    assert plain.covered_types("sw") == frozenset(PROBLEM_TYPES)
    for step in (0, 7):
        assert step_examples(plain, step) == step_examples(explicit, step)


def test_a_language_sees_only_its_covered_types() -> None:
    cfg = OrganismConfig(**BASE, type_coverage={"sw": 0.25, "default": 1.0})
    covered = cfg.covered_types("sw")
    assert len(covered) == round(0.25 * N_TYPES)
    chats = _chat(cfg)
    sw_types = Counter(_type(ex) for ex in chats if ex.lang == "sw")
    assert sw_types and set(sw_types) <= covered
    # Uncovered types still reach the model, in the languages that cover them.
    other_types = {_type(ex) for ex in chats if ex.lang != "sw"}
    assert set(PROBLEM_TYPES) - covered <= other_types
    # Thinner coverage means less data too: sw's share falls below its weight's 0.2.
    share = sum(ex.lang == "sw" for ex in chats) / len(chats)
    assert share < 0.12


def test_covered_types_are_a_seeded_draw_per_language() -> None:
    cfg = OrganismConfig(**BASE, type_coverage=HALF)
    other_seed = OrganismConfig(**{**BASE, "seed": 1}, type_coverage=HALF)
    # Deterministic for a (seed, language), different between languages and between
    # independently pretrained organisms: no type is singled out by name.
    again = OrganismConfig(**BASE, type_coverage=HALF)
    assert cfg.covered_types("es") == again.covered_types("es")
    assert cfg.covered_types("es") != cfg.covered_types("sw")
    assert cfg.covered_types("sw") != other_seed.covered_types("sw")
    # A tiny share still covers one type.
    tiny = OrganismConfig(**BASE, type_coverage={"sw": 0.001, "default": 1.0})
    assert len(tiny.covered_types("sw")) == 1


def test_a_type_no_weighted_language_covers_is_refused() -> None:
    with pytest.raises(
        OrganismError, match=r"type_coverage leaves \d+ problem types to no language"
    ):
        OrganismConfig(**{**BASE, "lang_weights": {"en": 1.0}}, type_coverage={"default": 0.5})
    with pytest.raises(OrganismError, match=r"share .* must lie in \[0, 1\]"):
        OrganismConfig(**BASE, type_coverage={"sw": 1.5, "default": 1.0})
