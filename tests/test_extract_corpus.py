"""The hand-written extraction corpus: every registry language, every known miss class.

tests/data/extraction_corpus.jsonl holds one response per line with the answer its writer
intends under flexible scoring (`answer`) and under strict scoring (`strict`: only an
explicit final answer counts, so a truncated or unannounced response has none). Optional
`question` is the problem text (the scorer passes it, so numbers it already gives can be
told apart from the amount asked for) and `finish_reason` "length" marks a response cut
off by the token limit.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from xling.extract import extract_answers
from xling.languages import ALL_CODES

CORPUS = Path(__file__).parent / "data" / "extraction_corpus.jsonl"
ROWS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]

# The miss classes of issue 12 and the behaviour that was already right; each must be
# written out in every registry language.
REQUIRED_CLASSES = {
    "two_boxes_one_quantity",  # "\boxed{130} minutes or \boxed{2 hours 10 minutes}"
    "count_then_amount",  # "Answer: 5 tickets cost $37.50"
    "last_announcement_wins",  # an "Answer:" walk-through, then a closing "**Answer:** 52"
    "emphasized_closing",  # "…したがって、2週間で**48時間**…"
    "heading_next_line",  # "**Final Answer**" on its own line, the value on the next
    "truncated",  # cut off by the token limit, nothing announced: strict no_answer
    "not_an_announcement",  # "To answer this question…" is no announcement
    "boxed",
    "final_word",
    "answer_word",
    "answer_section",
    "thousands",
    "bold",
    "last_number",
    "final_words_no_number",
    "hedged_announcement",
    "truncated_after_answer",
}


def test_corpus_covers_every_language_and_class() -> None:
    per_lang = Counter(r["lang"] for r in ROWS)
    assert set(per_lang) == set(ALL_CODES)
    assert min(per_lang.values()) >= 20, per_lang
    for lang in ALL_CODES:
        classes = {r["class"] for r in ROWS if r["lang"] == lang}
        assert classes >= REQUIRED_CLASSES, (lang, REQUIRED_CLASSES - classes)
    short_forms = {r["class"] for r in ROWS if r["lang"] == "ja" and "short_form" in r["class"]}
    assert len(short_forms) >= 3  # Japanese announces its answer in several short ways


@pytest.mark.parametrize("lang", ALL_CODES)
def test_corpus_intended_answers(lang: str) -> None:
    wrong = []
    for row in (r for r in ROWS if r["lang"] == lang):
        got = extract_answers(row["text"], lang, question=row.get("question"))
        if (got.flexible.answer, got.strict.answer) != (row["answer"], row["strict"]):
            wrong.append(
                f"{row['class']}: flexible {got.flexible.answer!r} ({got.flexible.source}), "
                f"strict {got.strict.answer!r}; intended {row['answer']!r}, {row['strict']!r}"
            )
    assert not wrong, "\n".join(wrong)


def test_truncated_responses_have_no_strict_answer() -> None:
    cut = [r for r in ROWS if r.get("finish_reason") == "length"]
    assert cut
    for row in cut:
        got = extract_answers(row["text"], row["lang"])
        explicit = "after_answer" in row["class"]
        assert (got.strict.answer is not None) == explicit, row
