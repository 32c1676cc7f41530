"""The hostile corpus (xling.testing.hostile): deterministic, sized as asked, and a slice of
every family through the real scorer gets one score per item, in order, with no errors,
no hang and no injected code run. The full 10,000-item run is bench/hostile.py."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from xling.records import ANSWER_TYPES, Generation, Score
from xling.scoring import DEFAULT_TIMEOUT_S, score_generation, score_many
from xling.testing.hostile import (
    DEFAULT_MAX_BYTES,
    FAMILIES,
    LANGS,
    MIN_MAX_BYTES,
    ROTATION,
    ScoringHang,
    family_of,
    hostile_corpus,
    one_of_each,
    variant_of,
    variants,
    watched,
)

SMALL = 16_384


def nbytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def test_the_same_seed_gives_the_same_corpus_and_a_prefix_does_not_depend_on_n() -> None:
    a = hostile_corpus(150, seed=3, max_bytes=SMALL, canary="/nonexistent/c")
    assert a == hostile_corpus(150, seed=3, max_bytes=SMALL, canary="/nonexistent/c")
    assert a[:40] == hostile_corpus(40, seed=3, max_bytes=SMALL, canary="/nonexistent/c")
    other = hostile_corpus(150, seed=4, max_bytes=SMALL, canary="/nonexistent/c")
    assert sum(x.output != y.output for x, y in zip(a, other, strict=True)) > 100


def test_every_family_language_and_answer_type_within_the_size_cap() -> None:
    gens = hostile_corpus(3 * ROTATION, max_bytes=MIN_MAX_BYTES, canary="/nonexistent/c")
    families = Counter(map(family_of, gens))
    # A fixed rotation: every family in every block of ROTATION items, megabyte outputs
    # 1 in 100 of them.
    assert set(families) == set(FAMILIES) and all(c % 3 == 0 for c in families.values())
    assert families["megabyte"] == 3 * ROTATION // 100
    assert {g.lang for g in gens} == set(LANGS)
    assert {g.answer_type for g in gens} == set(ANSWER_TYPES)
    assert len({g.key for g in gens}) == len(gens)
    assert max(nbytes(g.output) for g in gens) <= MIN_MAX_BYTES
    for g in gens:
        if g.answer_type == "choice":
            assert g.choices is not None and 2 <= len(g.choices) <= 10
            assert g.answer in "ABCDEFGHIJ"[: len(g.choices)]
    with pytest.raises(ValueError, match="max_bytes"):
        hostile_corpus(1, max_bytes=MIN_MAX_BYTES - 1)


def test_the_hostile_material_is_there_at_full_size(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    each = one_of_each(canary=canary)
    assert {(family_of(g), variant_of(g)) for g in each} == {
        (f, v) for f in FAMILIES for v in variants(f)
    }
    out = {(family_of(g), variant_of(g)): g.output for g in each}
    assert all(nbytes(out["megabyte", v]) >= 1_000_000 for v in variants("megabyte"))
    assert max(nbytes(o) for o in out.values()) <= DEFAULT_MAX_BYTES
    # Lone surrogates, as json.loads('"\\ud800"') gives them.
    assert any("\ud800" <= ch <= "\udfff" for ch in out["control_chars", "lone_surrogates"])
    assert "\x00" in out["control_chars", "nul"]
    assert "\u202e" in out["bidi", "rlo_boxed"]
    assert "\\boxed{" * 10 in out["deep_nesting", "boxed_in_boxed"]
    assert str(canary) in "".join(o for (f, _), o in out.items() if f == "injection")


def test_benign_controls_score_right_in_process() -> None:
    """The controls are answers the scorer reads correctly: if one fails here, the corpus
    (not the scorer under attack) is wrong."""
    gens = [g for g in one_of_each(max_bytes=SMALL) if family_of(g) == "benign"]
    gens += [g for g in hostile_corpus(200, max_bytes=SMALL) if family_of(g) == "benign"]
    wrong = [(g.id, g.lang, g.answer) for g in gens if not score_generation(g).correct]
    assert not wrong


def test_watched_reports_a_hang_instead_of_blocking() -> None:
    release = threading.Event()

    def stuck() -> Iterator[Score]:
        yield score_generation(hostile_corpus(1, max_bytes=MIN_MAX_BYTES)[0])
        release.wait(30)  # a scorer that never answers again

    start = time.monotonic()
    seen = []
    with pytest.raises(ScoringHang, match="after 1 scores"):
        for score in watched(stuck(), hang_after_s=0.5):
            seen.append(score)
    release.set()
    assert len(seen) == 1 and time.monotonic() - start < 10


def test_watched_passes_on_the_scorers_exception() -> None:
    def broken() -> Iterator[Score]:
        raise RuntimeError("the pool died")
        yield  # pragma: no cover

    with pytest.raises(RuntimeError, match="the pool died"):
        list(watched(broken(), hang_after_s=5))


def assert_scored_safely(gens: list[Generation], canary: Path) -> None:
    """`gens` through the real scorer (2 workers, the real default timeout) under a hang
    watchdog: one score per item in input order, no "error" status, benign controls right,
    the canary's folder still empty."""
    scores = list(
        watched(
            score_many(gens, workers=2, timeout_s=DEFAULT_TIMEOUT_S),
            hang_after_s=DEFAULT_TIMEOUT_S * 4 + 60,  # far past anything the timeout allows
        )
    )
    assert [s.key for s in scores] == [g.key for g in gens]
    errors = Counter(family_of(s) for s in scores if s.status == "error")
    details = [f"{s.id}: {s.detail}" for s in scores if s.status == "error"][:10]
    assert not errors, f"scorer errors by family: {dict(errors)}; first: {details}"
    assert all(s.status in ("ok", "no_answer", "timeout") for s in scores)
    wrong = [s.id for s in scores if family_of(s) == "benign" and not s.correct]
    assert not wrong, f"benign controls scored wrong among the hostile items: {wrong}"
    assert not canary.exists() and not any(canary.parent.iterdir())


def test_the_cheap_families_through_the_real_scorer(tmp_path: Path) -> None:
    # The families without sympy bombs and deep nesting (where timeouts cost seconds each).
    canary = tmp_path / "canary" / "pwned"
    canary.parent.mkdir()
    gens = hostile_corpus(ROTATION, seed=2, max_bytes=8192, canary=canary)
    gens = [g for g in gens if family_of(g) not in ("sympy_bomb", "deep_nesting")]
    assert_scored_safely(gens, canary)


@pytest.mark.slow
def test_a_slice_of_every_family_through_the_real_scorer(tmp_path: Path) -> None:
    canary = tmp_path / "canary" / "pwned"
    canary.parent.mkdir()
    gens = one_of_each(seed=1, max_bytes=SMALL, canary=canary)
    gens += hostile_corpus(2 * ROTATION, seed=1, max_bytes=SMALL, canary=canary)
    assert_scored_safely(gens, canary)
