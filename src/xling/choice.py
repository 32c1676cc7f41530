"""Multiple-choice questions (GPQA-style): seeded per-problem shuffling of the choices, the
lettered rendering in the prompt, and extraction of the chosen letter from free-form output.

Loaders put the correct choice first (`Problem.choices[0]`). `shuffle_choices` reorders
the choices with a seed drawn from (evaluation seed, benchmark, problem id) -- not from the
language -- so a problem shows its choices in the same order in every language and the
cross-lingual comparison stays paired. The shown order (`choice_order`) and the gold letter
travel in the generation record, so re-scoring needs nothing else.

Extraction mirrors `xling.extract`:

* strict -- a box (`\\boxed{C}`, `\\boxed{\\text{(C)}}`, `\\boxed{D) 12 nm}`, a choice's text
  in a box) or a final-answer announcement in any registry language ("Answer: C",
  "Ответ: С", "答案：C", "答え：C", "The answer is (B)", a choice's text after it);
* flexible -- the strict answer, else the last "option C" in any registry language, the last
  bold letter, the closing "therefore" sentence, the last choice text mentioned.

Of the letters a statement names, negated ones are set aside ("not A but C", "C, not A",
"AではなくC", "A নয়, C"); a list ("A or C", "A and C") is no single answer. A letter must
stand alone ("DNA", "C-H", "C6H12O6" name no choice), and "A"/"I" followed by a lowercase
word are English words, as are the Cyrillic look-alikes "В"/"С" (Russian prepositions);
an isolated Cyrillic "А", "В", "С", "Е" otherwise reads as the Latin letter it looks like.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from functools import lru_cache
from itertools import pairwise

from xling.errors import XlingError
from xling.extract import (
    Answers,
    Extraction,
    clean_text,
    final_section,
    find_boxed,
    iter_announcements,
)
from xling.languages import LANGUAGES
from xling.records import Problem

LETTERS = "ABCDEFGHIJ"
MAX_CHOICES = len(LETTERS)
_TAIL_CHARS = 1500  # how far from the end flexible fallbacks look

_CYRILLIC_LOOKALIKES = {"А": "A", "В": "B", "С": "C", "Е": "E"}
_ISOLATED_CYRILLIC_RE = re.compile(r"(?<![^\W\d_])[АВСЕ](?![^\W\d_])")
_FULLWIDTH_LETTERS = {ord(chr(0xFF21 + i)): LETTERS[i] for i in range(MAX_CHOICES)}
# A choice letter standing alone: not inside a Latin/Cyrillic word or a formula ("DNA",
# "C-H", "C6", "A's"). CJK and Thai glue letters to words ("选C", "AではなくC"), so their
# characters are no boundary.
_LETTER_RE = re.compile(
    r"(?<![A-Za-z0-9\u0400-\u04ff\-/=+^{}\\'’])([A-J])(?![A-Za-z0-9\u0400-\u04ff\-/=+^'’])"
)
_LOWER_WORD_RE = re.compile(r"[ \t]+[a-zа-яё]")
_BOLD_LETTER_RE = re.compile(r"\*\*\s*\(?([A-J])\)?[.:]?\s*\*\*")
_PAREN_LETTER_RE = re.compile(r"\(([A-J])\)")
_TEXT_WRAP_RE = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textnormal)\s*\{([^{}]*)\}")
_CLAUSE_END_RE = re.compile(r"[.!?;](?!\d)|[。？！；]|\n")


# ------------------------------------------------------------------------ the prompt side


def choice_order(n: int, seed: int, benchmark: str, problem_id: str) -> tuple[int, ...]:
    """The shown order of `n` choices: a permutation seeded by (seed, benchmark, problem id).

    A string seed makes `random` hash it with SHA-512, so the order is the same in every
    process and Python version that keeps that seeding."""
    order = list(range(n))
    random.Random(f"xling-choices:{seed}:{benchmark}:{problem_id}").shuffle(order)
    return tuple(order)


def shuffle_choices(problem: Problem, seed: int) -> Problem:
    """`problem` with its choices in the seeded shown order and `answer` = the gold letter."""
    n = len(problem.choices)
    if not 2 <= n <= MAX_CHOICES:
        raise XlingError(
            f"{problem.benchmark} {problem.lang} {problem.id}: a multiple-choice problem needs "
            f"2 to {MAX_CHOICES} choices, got {n}"
        )
    order = choice_order(n, seed, problem.benchmark, problem.id)
    return replace(
        problem,
        choices=tuple(problem.choices[i] for i in order),
        choice_order=order,
        answer=LETTERS[order.index(0)],  # the loader put the correct choice first
    )


def render_choices(choices: tuple[str, ...] | list[str]) -> str:
    """ "A) …" lines, one per choice, in the given (shown) order."""
    return "\n".join(f"{LETTERS[i]}) {text.strip()}" for i, text in enumerate(choices))


# ------------------------------------------------------------------------ extraction


@lru_cache(maxsize=1)
def _vocab() -> dict[str, re.Pattern[str]]:
    langs = list(LANGUAGES.values())

    def alternation(words: list[str], *, at_end: bool = False, at_start: bool = False) -> str:
        alts = []
        for word in sorted(set(words), key=len, reverse=True):
            body = re.escape(word)
            if word.isascii() or any("\u0400" <= ch <= "\u04ff" for ch in word):
                body = rf"(?<![^\W\d_]){body}(?![^\W\d_])"
            alts.append(body)
        pattern = "|".join(alts)
        if at_end:
            # "not A", "not option A", "no es la A": one short word may sit in between.
            return rf"(?:{pattern})(?:[ \t]+\S{{1,3}})?[ \t]*\Z"
        if at_start:
            return rf"\A[ \t]*(?:{pattern})"
        return pattern

    choice_words = [w for lang in langs for w in lang.choice_words]
    conjunctions = [w for lang in langs for w in (*lang.and_words, *lang.or_words)]
    copulas = [w for lang in langs for w in lang.answer_copulas]
    return {
        "choice_word": re.compile(alternation(choice_words), re.IGNORECASE),
        "choice_word_end": re.compile(
            rf"(?:{alternation(choice_words)})[ \t(（]*\Z", re.IGNORECASE
        ),
        # "option C", "the correct option is C", "正确选项是C", "正しい選択肢はC"
        "option_letter": re.compile(
            rf"(?:{alternation(choice_words)})[ \t]*(?:(?:{alternation(copulas)})[ \t]*)?"
            r"[(（]?[ \t]*([A-J])(?![A-Za-z0-9])",
            re.IGNORECASE,
        ),
        "lead_in_end": re.compile(
            rf"(?:{alternation([*choice_words, *copulas])})\Z", re.IGNORECASE
        ),
        "value": re.compile(
            rf"[ \t*_(\[]*(?:(?:{alternation(choice_words)})[ \t]*\(?[ \t]*)?[A-J](?![A-Za-z0-9])",
            re.IGNORECASE,
        ),
        "negated_before": re.compile(
            alternation([w for lang in langs for w in lang.negations], at_end=True),
            re.IGNORECASE,
        ),
        "negated_after": re.compile(
            alternation([w for lang in langs for w in lang.negations_after], at_start=True)
        ),
        "list_joint": re.compile(rf"\A[\s,/&*]*(?:(?:{alternation(conjunctions)})[\s*]*)?\Z"),
        # After "A", what makes it a letter and not the English article: a verb ("A is
        # correct") or a list ("A or C").
        "letter_context": re.compile(
            rf"[ \t]+(?:(?:{alternation([*copulas, 'seems', 'fits', 'matches'])})"
            rf"|(?:{alternation(conjunctions)})[ \t]+[A-J](?![A-Za-z]))",
            re.IGNORECASE,
        ),
        "therefore": re.compile(
            alternation([w for lang in langs for w in lang.therefore_words]), re.IGNORECASE
        ),
    }


def _prepare(text: str) -> tuple[str, frozenset[int]]:
    """Normalized text with look-alike letters made Latin, and where the Cyrillic ones were."""
    clean = clean_text(text).translate(_FULLWIDTH_LETTERS)
    cyrillic = frozenset(m.start() for m in _ISOLATED_CYRILLIC_RE.finditer(clean))
    clean = _ISOLATED_CYRILLIC_RE.sub(lambda m: _CYRILLIC_LOOKALIKES[m.group()], clean)
    return clean, cyrillic


def extract_choice_answers(
    text: str, choices: tuple[str, ...] | list[str], lang: str | None = None
) -> Answers:
    """Strict and flexible chosen letters (see the module docstring). `choices` are the
    choice texts in the shown order (letter A first); `lang` is accepted for symmetry with
    `extract_answers`: every registry language's words are read regardless."""
    del lang  # models switch languages; all registry words apply everywhere
    reader = _Reader(tuple(choices))
    section = final_section(text)
    explicit = Extraction(None, None)
    if section is not text:
        explicit = reader.explicit(section, plain_words=False)
    if explicit.source is None:
        explicit = reader.explicit(text, plain_words=True)
    if explicit.source is not None:
        return Answers(explicit, explicit)
    return Answers(explicit, reader.fallback(text))


class _Reader:
    def __init__(self, choices: tuple[str, ...]) -> None:
        if not 2 <= len(choices) <= MAX_CHOICES:
            raise XlingError(f"multiple choice needs 2 to {MAX_CHOICES} choices")
        self.choices = choices
        self.valid = LETTERS[: len(choices)]
        self.vocab = _vocab()
        self.keys = [_text_key(c) for c in choices]

    # -------------------------------------------------------------- explicit
    def explicit(self, text: str, *, plain_words: bool) -> Extraction:
        for content in reversed(find_boxed(text)):
            letter = self.letter_in_box(content)
            if letter is not None:
                return Extraction(letter, "boxed", content)
        clean, cyrillic = _prepare(text)
        announcements = iter_announcements(
            clean, plain_words=plain_words, value_re=self.vocab["value"]
        )
        for is_final, segment, start in announcements:
            source = "final_word" if is_final else "answer_word"
            letter, ambiguous = self.letter_in(segment, cyrillic, start)
            if letter is not None or ambiguous:
                return Extraction(letter, source, segment, ambiguous)
        return Extraction(None, None)

    def letter_in_box(self, content: str) -> str | None:
        bare = _TEXT_WRAP_RE.sub(r"\1", content).replace("$", "").strip()
        bare = bare.translate(_FULLWIDTH_LETTERS)
        bare = _ISOLATED_CYRILLIC_RE.sub(lambda m: _CYRILLIC_LOOKALIKES[m.group()], bare)
        single = re.fullmatch(r"\(?\s*([A-Ja-j])\s*\)?\s*[.:]?", bare)
        if single and single.group(1).upper() in self.valid:
            return single.group(1).upper()
        lead = re.match(r"\(?([A-J])\)[ \t]", bare)  # "D) 12 nm"
        if lead and lead.group(1) in self.valid:
            return lead.group(1)
        letter, _ = self.letter_in(bare, frozenset(), 0)
        return letter if letter is not None else self.choice_text_in(bare, whole=True)

    # -------------------------------------------------------------- one statement
    def letter_in(
        self, segment: str, cyrillic: frozenset[int], offset: int
    ) -> tuple[str | None, bool]:
        """(letter, ambiguous) that a statement names; a list of letters is ambiguous."""
        end = _CLAUSE_END_RE.search(segment, 1)
        clause = segment[: end.start()] if end else segment
        live = [m for m in self.candidates(clause, cyrillic, offset) if not self.negated(clause, m)]
        if not live:
            return self.choice_text_in(clause), False
        first = live[0]
        for a, b in pairwise(live):
            if a.group(1) != b.group(1) and self.vocab["list_joint"].match(
                clause[a.end() : b.start()]
            ):
                return None, True  # "A or C", "A and C", "A, C"
            break  # only a list that starts at the first letter matters
        if len({m.group(1) for m in live}) == 1 or self.leads(clause[: first.start()]):
            return first.group(1), False
        return None, True

    def candidates(self, clause: str, cyrillic: frozenset[int], offset: int) -> list[re.Match[str]]:
        found = []
        for m in _LETTER_RE.finditer(clause):
            if m.group(1) not in self.valid:
                continue
            wordlike = m.group(1) in "AI" or (offset + m.start()) in cyrillic
            rest = clause[m.end() :]
            if (
                wordlike
                and _LOWER_WORD_RE.match(rest)
                and not self.vocab["letter_context"].match(rest)
            ):
                continue  # "A total of…", "В итоге…": a word, not a letter
            found.append(m)
        return found

    def negated(self, clause: str, m: re.Match[str] | _Span) -> bool:
        """Whether a negation comes before the letter ("not A", "not option A", "не A",
        "不是A") or after it ("AではなくC", "A নয়", "A కాదు")."""
        before = clause[max(0, m.start() - 30) : m.start()]
        before = self.vocab["choice_word_end"].sub("", before).rstrip(" \t(*（")
        if self.vocab["negated_before"].search(before):
            return True
        after = clause[m.end() : m.end() + 20].lstrip(" \t)*）")
        return bool(self.vocab["negated_after"].match(after))

    def leads(self, prefix: str) -> bool:
        """The first letter is what the statement says: nothing but markup before it, or a
        lead-in ending in an "option" word or a copula ("the best choice is (B)")."""
        rest = prefix.rstrip(" \t(*（[")
        return not re.search(r"[^\W\d_]", rest) or bool(self.vocab["lead_in_end"].search(rest))

    def choice_text_in(self, text: str, *, whole: bool = False) -> str | None:
        """The letter of the one choice whose text `text` states (the whole of it, or, with
        `whole`, nothing else)."""
        key = _text_key(text)
        if not key:
            return None
        if whole:
            hits = [i for i, k in enumerate(self.keys) if k and k == key]
        else:
            hits = [i for i, k in enumerate(self.keys) if len(k) >= 2 and _contains(key, k)]
            # A choice inside a longer one ("5 nm" in "15 nm") is not named on its own.
            hits = [
                i for i in hits if not any(j != i and self.keys[i] in self.keys[j] for j in hits)
            ]
        return LETTERS[hits[0]] if len(hits) == 1 else None

    # -------------------------------------------------------------- flexible
    def fallback(self, text: str) -> Extraction:
        clean, cyrillic = _prepare(text)
        tail_start = max(0, len(clean) - _TAIL_CHARS)
        tail = clean[tail_start:]
        options = [
            m
            for m in self.vocab["option_letter"].finditer(tail)
            if m.group(1) in self.valid and not self.negated(tail, _Span(m, 1))
        ]
        parens = [
            m
            for m in _PAREN_LETTER_RE.finditer(tail)
            if m.group(1) in self.valid and not self.negated(tail, _Span(m, 1))
        ]
        mentions = sorted([*options, *parens], key=lambda m: m.start())
        if mentions:
            return Extraction(mentions[-1].group(1), "option_word", mentions[-1].group())
        bolds = [m for m in _BOLD_LETTER_RE.finditer(tail) if m.group(1) in self.valid]
        if bolds:
            return Extraction(bolds[-1].group(1), "bold", bolds[-1].group())
        closing = list(self.vocab["therefore"].finditer(tail))
        if closing:
            sentence = tail[closing[-1].end() :]
            letter, ambiguous = self.letter_in(sentence, cyrillic, tail_start + closing[-1].end())
            if letter is not None or ambiguous:
                return Extraction(letter, "therefore", sentence, ambiguous)
        letter = self.last_choice_text(tail)
        if letter is not None:
            return Extraction(letter, "choice_text", "")
        return Extraction(None, None)

    def last_choice_text(self, tail: str) -> str | None:
        key = _text_key(tail)
        best, best_at = None, -1
        for i, k in enumerate(self.keys):
            if len(k) < 2:
                continue
            at = _rfind_word(key, k)
            if at > best_at or (
                at == best_at and best is not None and len(k) > len(self.keys[best])
            ):
                best, best_at = i, at
        return LETTERS[best] if best is not None and best_at >= 0 else None


class _Span:
    """A match-like view of one group of a match, for `_Reader.negated`."""

    def __init__(self, m: re.Match[str], group: int) -> None:
        self._start, self._end = m.start(group), m.end(group)

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end


def _text_key(text: str) -> str:
    """Choice texts compared loosely: case, spacing, LaTeX dollars and end punctuation."""
    text = _TEXT_WRAP_RE.sub(r"\1", text).replace("$", "").replace("\\,", " ")
    return re.sub(r"\s+", " ", text).strip(" .。").lower()


def _contains(haystack: str, needle: str) -> bool:
    return _rfind_word(haystack, needle) >= 0


def _rfind_word(haystack: str, needle: str) -> int:
    """Last position of `needle` in `haystack` not inside a longer word or number."""
    pos = haystack.rfind(needle)
    while pos != -1:
        before = haystack[pos - 1] if pos > 0 else " "
        after = haystack[pos + len(needle)] if pos + len(needle) < len(haystack) else " "
        if not (before.isalnum() or after.isalnum()):
            return pos
        pos = haystack.rfind(needle, 0, pos)
    return -1
