"""Multiple choice (GPQA-style): seeded shuffling, lettered prompts, letter extraction in every
registry language, an adversarial corpus, and scoring against the shuffled gold letter."""

from __future__ import annotations

from collections import Counter

import pytest

from xling.choice import (
    LETTERS,
    choice_order,
    extract_choice_answers,
    render_choices,
    shuffle_choices,
)
from xling.errors import XlingError
from xling.languages import ALL_CODES
from xling.prompts import user_message
from xling.records import Generation, Problem
from xling.scoring import score_generation

CHOICES = ["carbon dioxide", "water", "methane", "DNA polymerase"]


def problem(pid: str = "7", lang: str = "en", n: int = 4) -> Problem:
    texts = tuple(f"choice {i} of {pid}" for i in range(n))  # texts[0] is the correct one
    return Problem("gpqa", pid, lang, "Which one?", texts[0], "choice", texts)


# ------------------------------------------------------------------------ shuffling


def test_shuffle_is_deterministic_and_parallel_across_languages() -> None:
    first = shuffle_choices(problem("7", "en"), seed=0)
    assert shuffle_choices(problem("7", "en"), seed=0) == first
    # The same problem in another language shows its choices in the same order.
    other = shuffle_choices(problem("7", "ja"), seed=0)
    assert other.choice_order == first.choice_order and other.answer == first.answer
    # The gold letter points at the correct choice; choice_order maps shown -> loaded.
    assert first.choices[LETTERS.index(first.answer)] == "choice 0 of 7"
    assert [problem("7").choices[i] for i in first.choice_order] == list(first.choices)
    assert sorted(first.choice_order) == [0, 1, 2, 3]


def test_shuffle_depends_on_seed_and_problem() -> None:
    orders_by_id = {choice_order(4, 0, "gpqa", str(i)) for i in range(50)}
    assert len(orders_by_id) > 10  # problems differ
    changed = sum(
        choice_order(4, 0, "gpqa", str(i)) != choice_order(4, 1, "gpqa", str(i)) for i in range(50)
    )
    assert changed > 30  # the seed matters
    assert choice_order(4, 0, "gpqa", "3") != choice_order(4, 0, "other", "3") or (
        choice_order(4, 0, "gpqa", "4") != choice_order(4, 0, "other", "4")
    )


def test_gold_letters_are_balanced() -> None:
    golds = Counter(shuffle_choices(problem(str(i)), seed=0).answer for i in range(400))
    assert set(golds) == set("ABCD")
    assert all(60 <= count <= 140 for count in golds.values()), golds


def test_shuffle_rejects_bad_choice_counts() -> None:
    with pytest.raises(XlingError, match="2 to 10 choices"):
        shuffle_choices(problem(n=1), seed=0)


def test_prompt_lists_lettered_choices_before_the_instruction() -> None:
    shown = shuffle_choices(problem("7"), seed=0)
    message = user_message(shown)
    assert render_choices(shown.choices) in message
    assert message.index("Which one?") < message.index("A) ") < message.index("\\boxed{}")
    assert render_choices(["x", " y "]) == "A) x\nB) y"


# ------------------------------------------------------------------------ extraction

# Per language: (output, strict letter, flexible letter). Strict needs a box or an answer
# announcement; an "option C" mention counts only flexibly.
LOCALIZED = {
    "en": [
        ("Answer: C", "C", "C"),
        ("Final Answer: \\boxed{C}", "C", "C"),
        ("The correct option is C.", None, "C"),
        ("Answer: not A but C", "C", "C"),
    ],
    "es": [
        ("Respuesta: C", "C", "C"),
        ("Respuesta final: \\boxed{C}", "C", "C"),
        ("La respuesta correcta es la opción C.", None, "C"),
        ("Respuesta: no es la A, sino la C", "C", "C"),
    ],
    "ru": [
        ("Ответ: C", "C", "C"),
        ("Ответ: С", "C", "C"),  # Cyrillic Es
        ("Правильный вариант C.", None, "C"),
        ("Ответ: не A, а C", "C", "C"),
    ],
    "de": [
        ("Antwort: C", "C", "C"),
        ("Endgültige Antwort: \\boxed{C}", "C", "C"),
        ("Die richtige Option ist C.", None, "C"),
        ("Antwort: nicht A, sondern C", "C", "C"),
    ],
    "fr": [
        ("Réponse : C", "C", "C"),
        ("Réponse finale : \\boxed{C}", "C", "C"),
        ("La bonne réponse est l'option C.", None, "C"),
        ("Réponse : pas A mais C", "C", "C"),
    ],
    "bn": [
        ("উত্তর: C", "C", "C"),
        ("চূড়ান্ত উত্তর: \\boxed{C}", "C", "C"),
        ("সঠিক বিকল্প C।", None, "C"),
        ("উত্তর: A নয়, C", "C", "C"),
    ],
    "th": [
        ("คำตอบ: C", "C", "C"),
        ("ตอบข้อ C", "C", "C"),
        ("เลือกตัวเลือก C", None, "C"),
        ("คำตอบ: ไม่ใช่ A แต่เป็น C", "C", "C"),
    ],
    "zh": [
        ("答案：C", "C", "C"),
        ("最终答案：\\boxed{C}", "C", "C"),
        ("正确选项是C。", None, "C"),
        ("答案：不是A而是C", "C", "C"),
    ],
    "sw": [
        ("Jibu: C", "C", "C"),
        ("Jibu la mwisho: \\boxed{C}", "C", "C"),
        ("Ninachagua chaguo C.", None, "C"),
        ("Jibu: si A bali C", "C", "C"),
    ],
    "te": [
        ("జవాబు: C", "C", "C"),
        ("తుది సమాధానం: \\boxed{C}", "C", "C"),
        ("సరైన ఎంపిక C.", None, "C"),
        ("జవాబు: A కాదు, C", "C", "C"),
    ],
    "ja": [
        ("答え：C", "C", "C"),
        ("最終的な答え：\\boxed{C}", "C", "C"),
        ("正しい選択肢はCです。", None, "C"),
        ("答え：AではなくC", "C", "C"),
    ],
}


@pytest.mark.parametrize("lang", ALL_CODES)
def test_letter_extraction_in_every_language(lang: str) -> None:
    for text, strict, flexible in LOCALIZED[lang]:
        got = extract_choice_answers(text, CHOICES, lang)
        assert (got.strict.answer, got.flexible.answer) == (strict, flexible), (text, got)


def test_every_language_has_localized_cases() -> None:
    assert set(LOCALIZED) == set(ALL_CODES)


# (output, strict letter, flexible letter)
ADVERSARIAL = [
    # several letters: a list is no single answer
    ("Answer: A or C", None, None),
    ("Answer: A and C", None, None),
    ("Answer: A, C", None, None),
    ("答案：A或C", None, None),
    ("Final Answer: B\n\nHmm, maybe A or D.\nAnswer: A or D", None, None),
    # "not A but C" and its relatives
    ("Answer: not A but C", "C", "C"),
    ("Answer: C, not A", "C", "C"),
    ("So the correct option is not A but C.", None, "C"),
    ("Option A is wrong. Option B is wrong. Answer: D", "D", "D"),
    # letters inside words and formulas name no choice
    ("The DNA strand is cut at a C-H bond. Answer: B", "B", "B"),
    ("Answer: CO2", None, None),
    ("Final Answer: A total of 3 isomers form.", None, None),
    ("В итоге правильный ответ — В.", "B", "B"),  # Cyrillic "В" preposition, then the letter
    ("Answer: E", None, None),  # no such choice
    # boxes and choice texts
    ("\\boxed{c}", "C", "C"),
    ("\\boxed{\\text{(B)}}", "B", "B"),
    ("\\boxed{B) water}", "B", "B"),
    ("\\boxed{methane}", "C", "C"),
    ("Final Answer: DNA polymerase", "D", "D"),
    ("I think A is tempting, but the answer is C.", "C", "C"),
    ("answer: the best choice is (B) because (A) fails", "B", "B"),
    ("Let me reconsider (A) once more.\n**Answer:** (D)", "D", "D"),
    ("<think>Answer: A</think>\nFinal Answer: C", "C", "C"),
    ("Therefore water is what forms.", None, "B"),
    ("**C**", None, "C"),
    ("I cannot decide.", None, None),
]


@pytest.mark.parametrize(("text", "strict", "flexible"), ADVERSARIAL)
def test_adversarial_outputs(text: str, strict: str | None, flexible: str | None) -> None:
    got = extract_choice_answers(text, CHOICES)
    assert (got.strict.answer, got.flexible.answer) == (strict, flexible), got


def test_a_list_of_letters_is_flagged_ambiguous() -> None:
    got = extract_choice_answers("Answer: A or C", CHOICES)
    assert got.strict.ambiguous and got.strict.source == "answer_word"


# ------------------------------------------------------------------------ scoring


def choice_generation(output: str, seed: int = 0) -> Generation:
    shown = shuffle_choices(problem("11"), seed=seed)
    return Generation(
        benchmark="gpqa",
        lang="en",
        id="11",
        sample=0,
        question=shown.question,
        answer=shown.answer,
        prompt=user_message(shown),
        output=output,
        answer_type="choice",
        choices=list(shown.choices),
        choice_order=list(shown.choice_order),
    )


def test_scoring_compares_with_the_gold_letter_after_the_shuffle() -> None:
    gold = shuffle_choices(problem("11"), seed=0).answer
    wrong = next(letter for letter in "ABCD" if letter != gold)
    right = score_generation(choice_generation(f"Answer: {gold}"))
    assert right.correct and right.correct_strict and right.gold == gold and right.pred == gold
    assert not score_generation(choice_generation(f"Answer: {wrong}")).correct
    # The correct choice's text counts as choosing its letter.
    assert score_generation(choice_generation("Final Answer: choice 0 of 11")).correct
    flexible_only = score_generation(choice_generation(f"I pick option {gold}."))
    assert flexible_only.correct and not flexible_only.correct_strict
    assert flexible_only.pred_strict is None
