"""Scoring at the edges of what a number can be (issue 22: nothing is silently wrong).

Each case goes through the scorer as a run does (`score_generation`, and `score_many` for
the one that used to end as status "error"): notation read as its first digits, invisible
characters inside an answer, integers past Python's int-conversion limit.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from xling.equivalence import answers_equal
from xling.extract import normalize_answer
from xling.records import Generation, Score
from xling.scoring import score_generation, score_many
from xling.testing.records import generation as make_generation
from xling.testing.timing import best_times


def generation(output: str, gold: str, lang: str = "en") -> Generation:
    return make_generation(output, gold, lang=lang, benchmark="edge", question="How many?")


def scored(output: str, gold: str) -> Score:
    return score_generation(generation(output, gold))


@pytest.mark.parametrize(
    ("output", "gold", "correct"),
    [
        # scientific notation is the number it denotes, never its mantissa's first digit
        ("The answer is \\boxed{1e9}.", "1", False),
        ("The answer is \\boxed{1e9}.", "1000000000", True),
        ("so it is 7e2", "7", False),
        ("so it is 7e2", "700", True),
        ("\\boxed{2\\times 10^{5}}", "2", False),
        ("\\boxed{2\\times 10^{5}}", "200000", True),
        ("Final Answer: $1.5 \\times 10^{-3}$", "0.0015", True),
        # a gold in scientific notation is read the same way
        ("\\boxed{1000}", "1e3", True),
        ("\\boxed{1}", "1e3", False),
        # radix literals are their value
        ("\\boxed{0x10}", "0", False),
        ("\\boxed{0x10}", "16", True),
        ("\\boxed{0b101}", "5", True),
        # zero-width characters inside an answer are not part of it
        ("\\boxed{4\u200d2}", "42", True),
        ("Final Answer: 4\u200b2", "42", True),
        ("\\boxed{42}", "4\ufeff2", True),
    ],
)
def test_notation_scores_by_value(output: str, gold: str, correct: bool) -> None:
    score = scored(output, gold)
    assert score.status == "ok"
    assert score.correct is correct, score


def test_gold_in_scientific_notation_is_recorded_as_its_value() -> None:
    assert scored("\\boxed{1000}", "1e3").gold == "1000"


def test_an_exponent_beyond_the_bound_is_no_answer() -> None:
    score = scored("The answer is \\boxed{1e5000}", "1")
    assert (score.status, score.pred, score.correct) == ("no_answer", None, False)


BIG = "31415926535897932384" * 250  # 5,000 digits: over Python's 4,300-digit limit


def test_big_integer_answers_are_scored_not_errors() -> None:
    right = scored(f"The product is \\boxed{{{BIG}}}.", BIG)
    assert (right.status, right.correct, right.pred) == ("ok", True, BIG)
    wrong = scored(f"The product is \\boxed{{{BIG[:-1]}5}}.", BIG)
    assert (wrong.status, wrong.correct) == ("ok", False)
    cut = scored(f"The product is \\boxed{{{BIG[:-1]}}}.", BIG)  # one digit short
    assert cut.correct is False


def test_big_integer_answers_are_scored_in_workers() -> None:
    # score_many turned the int-conversion ValueError into status "error" for the item.
    gens = [generation(f"\\boxed{{{BIG}}}", BIG), generation(f"\\boxed{{{BIG}7}}", BIG)]
    scores = list(score_many(gens, workers=1, timeout_s=30))
    assert [(s.status, s.correct) for s in scores] == [("ok", True), ("ok", False)]


def test_comparing_megabyte_integers_is_linear() -> None:
    # Digit strings are compared as digits: int() of 1 MB of digits takes seconds (it is
    # quadratic in Python 3.11) and raises past the conversion limit.
    def compare(n: int) -> Callable[[], object]:
        digits = "7" * n
        return lambda: answers_equal(normalize_answer(digits), normalize_answer(digits + "0"))

    small, large = best_times(compare(500_000), compare(1_000_000))
    assert large <= 3 * small + 0.005, (small, large)
    assert answers_equal(normalize_answer("7" * 1_000_000), "7" * 1_000_000)
