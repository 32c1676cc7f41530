"""Final-answer extraction from real, messy model output in any registry language.

Two answers are read from every response, as lm-evaluation-harness users expect:

* **strict** -- only an explicit final answer: the last well-formed `\\boxed{...}` (boxes
  that state one quantity twice, "\\boxed{130} minutes or \\boxed{2 h 10 min}", count as
  their first numeric box), else the last final-answer announcement in any registry
  language ("Final Answer:", "Ответ:", "答え：", the short forms "Ans", "答", "ตอบ", "উঃ",
  "జ:", an announcement heading on its own line, which states the next line);
* **flexible** -- the strict answer when there is one, else the fallback chain: the
  closing "therefore" sentence ("So she earns **18** dollars"), the last bold span holding
  a number, the last number of the text.

A response cut off by the token limit before it announced anything therefore has no
strict answer. When an announcement states several numbers, the amount asked for is
chosen by the sentence's structure: an emphasized number, the value after "=", numbers
the question did not already give, a number a link word points at ("5 tickets *cost*
$37.50", "2週間*で*48時間"), a money amount after a count; otherwise the first (or, in a
closing sentence, the last) number, flagged `ambiguous`.

Numbers are read as exact fractions: "5,600", "1.234,5", "-3/4", scientific notation
("1e9", "1.5e-3", "2\\times 10^{5}") and 0x/0b/0o literals, each as the one value it
denotes, never as its first digits. Integers of any length stay digit strings (no
conversion, so no int-conversion limit and linear time); other values are exact only up
to MAX_EXACT_DIGITS digits and exponents up to MAX_EXPONENT, beyond which they are no
answer rather than a rounded guess.

Everything here is plain string scanning, linear in the text: boxes are paired in one pass
over the braces, no regex with nested quantifiers runs over the whole text, nothing is
evaluated. The scorer still runs it under a hard per-item timeout (see `scoring.py`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

from xling.languages import LANGUAGES, native_digit_table

MAX_BOXED_CHARS = 2000  # a longer "answer" is not an answer, unless it is one long number
MAX_SEGMENT_CHARS = 400  # how far past an answer word the answer may sit
MAX_ANNOUNCEMENTS = 500  # announcements read from the end; a looping trace repeats itself
_MAX_WORD_CHARS = 64  # longer than any registry word, so a window never cuts one
MAX_EXPONENT = 1000  # "1e5000" is no answer: exact values that size serve no benchmark
MAX_EXACT_DIGITS = 5000  # digits of a non-integer read exactly; integers have no limit

_BOX_OPEN_RE = re.compile(r"\\(?:boxed|fbox)[ \t]*\{")
_BRACE_RE = re.compile(r"[{}]")
# A box that holds nothing but one number may be of any length (a 5,000-digit answer).
_LONG_NUMBER_RE = re.compile(r"[\s$]*[-+]?\d(?:[\d,.' ]*\d)?[\s$]*")
# Chat/turn markers of common templates. s1-style traces switch sections with
# "<|im_start|>answer"; an answer is never inside a marker.
# The role word glued to a marker ("<|im_start|>answer") goes with it.
_MARKER_RE = re.compile(r"<\|[^|<>\n]{1,40}\|>[a-z_]*|</?think>|</?answer>")
_ANSWER_SECTION_RE = re.compile(r"</think>|<\|im_start\|>\s*answer\b")
# Where a stated answer ends: a sentence mark not inside a number ("35. Mais…" ends at 35).
_WORD_RE = re.compile(r"[^\W\d_]{2,}")
_CLAUSE_END_RE = re.compile(r"[.!?;](?!\d)|[。？！；]")

_FULLWIDTH = {
    "，": ",",
    "．": ".",
    "：": ":",
    "－": "-",
    "−": "-",
    "／": "/",
    "％": "%",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\u2007": " ",
}
# Invisible joiners and spaces models leave inside numbers and words ("4\u200d2"); the
# registry's words contain none, so dropping them everywhere loses nothing.
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_TRANSLATE: dict[int, int | str | None] = (
    native_digit_table()
    | {ord(k): v for k, v in _FULLWIDTH.items()}
    | dict.fromkeys(map(ord, _ZERO_WIDTH))
)

# A number as people write it: optional sign, digits with optional thousands groups
# (",", ".", " ", "'"), optional decimal part, optional exponent ("1e9", "1.5e-3"), optional
# "/denominator" fraction; or a 0x/0b/0o literal. The exponent and the radix prefix belong
# to the number: "1e9" is one number, not a 1 followed by a word.
_NUMBER_RE = re.compile(
    r"(?<![0-9A-Za-z.])[-+]?"
    r"(?:0(?:[xX][0-9a-fA-F]+|[bB][01]+|[oO][0-7]+)(?![0-9A-Za-z])"
    r"|(?!0[xXbBoO][0-9A-Za-z])(?:\d{1,3}(?:[,. ']\d{3})+|\d+)(?:[.,]\d+)?(?:[eE][-+]?\d+)?"
    r"(?:\s*/\s*\d+)?(?!\d))"
)
# Scientific notation as it is typeset: "2×10^{5}", "2 \\times 10^5", "1.5·10^{-3}". The
# mantissa must not be part of a power or a fraction ("2^3 \\times 10^2", "1/2 × 10^2").
_TIMES_TEN_RE = re.compile(
    r"(?<![\w.^{/])(\d+(?:[.,]\d+)?)[ \t]*(?:\\times|\\cdot|×|·|\*)[ \t]*10[ \t]*\^[ \t]*"
    r"(?:\{[ \t]*([-+]?\d+)[ \t]*\}|([-+]?\d+))(?![\d.^])"
)
_BOLD_RE = re.compile(r"\*\*([^*\n]{1,200})\*\*")
_LATEX_FRAC_RE = re.compile(r"\\[dt]?frac\s*\{\s*([-+]?\d+)\s*\}\s*\{\s*(\d+)\s*\}")
_CURRENCY_SIGNS = "$€£¥₹৳฿"
# Where a stated value starts: a digit (signed), a currency sign, LaTeX or a bracket.
_VALUE_START_RE = re.compile(r"[ \t*_]*(?:[-+]?\d|[$€£¥₹৳฿\\(\[])")
_COLONS = ":：ঃ="  # the Bengali visarga is written as a colon after "উত্তর"
_MARKDOWN = " \t*_#"
_TEXT_CMD_RE = re.compile(
    r"\\(?:text|textbf|mathrm|mbox|mathbf|textnormal|operatorname)\s*\{([^{}]*)\}"
)
_LATEX_SPACING_RE = re.compile(r"\\[,;:! ]|\\q?quad|~")
_UNIT_TAIL_RE = re.compile(r"\^\s*\{?\\circ\}?|\\%|\\\$|\\euro|\\pounds")


@dataclass(frozen=True)
class Extraction:
    answer: str | None  # normalized: "5600", "3/4", or a LaTeX expression; None if nothing found
    # "boxed" | "final_word" | "answer_word" (explicit) | "therefore" | "bold" | "last_number"
    source: str | None
    raw: str = ""  # the text the answer was taken from, for debugging
    ambiguous: bool = False  # several numbers were stated and nothing said which one is meant

    @property
    def boxed(self) -> bool:
        return self.source == "boxed"


@dataclass(frozen=True)
class Answers:
    strict: Extraction  # explicit final answers only
    flexible: Extraction  # the strict answer, else the fallback chain


def normalize_text(text: str) -> str:
    """Native and full-width digits to ASCII, exotic spaces and punctuation to plain ones,
    zero-width characters removed."""
    if text.isascii():  # the table maps only non-ASCII characters; a 1 MB answer stays cheap
        return text
    return text.translate(_TRANSLATE)


def find_boxed(text: str) -> list[str]:
    """Contents of every well-formed \\boxed{...}/\\fbox{...}, in order of appearance.

    Unbalanced or over-long boxes are skipped rather than guessed at.
    """
    return [content for _, _, content in _boxes(text)]


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every well-formed box, in order of appearance.

    One pass pairs every brace with its partner on a stack, so the work is linear in the
    text however many boxes are left open. (Scanning forward from each "\\boxed{" for its
    closing brace cost MAX_BOXED_CHARS per box: 23 s for 1 MB of unclosed boxes.)
    A brace's partner depends only on the text after it, so the pairs are the ones a
    depth count from each box would find.
    """
    box_at = {m.end() - 1: m.start() for m in _BOX_OPEN_RE.finditer(text)}  # "{" -> command
    if not box_at:
        return []
    found: list[tuple[int, int, str]] = []
    stack: list[int] = []
    for match in _BRACE_RE.finditer(text, min(box_at)):
        pos = match.start()
        if text[pos] == "{":
            stack.append(pos)
        elif stack:
            opening = stack.pop()
            start = box_at.get(opening)
            if start is not None and _box_content_ok(text, opening + 1, pos):
                found.append((start, pos + 1, text[opening + 1 : pos]))
    found.sort()
    return found


def _box_content_ok(text: str, start: int, end: int) -> bool:
    """Short enough to be an answer, or one long number. The number check stops at the
    first character that is no digit, and only a box's own leading digits are read (an
    inner box's command stops it), so the checks stay linear in the text."""
    if end - start <= MAX_BOXED_CHARS:
        return True
    return _LONG_NUMBER_RE.fullmatch(text, start, end) is not None


# ------------------------------------------------------------------------ vocabulary


def _unspaced(word: str) -> bool:
    """Written without spaces between words (Thai, Chinese, Japanese): no word boundaries."""
    return any(
        "\u0e00" <= ch <= "\u0e7f" or "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff"
        for ch in word
    )


# Vowel signs and other combining marks of Bengali and Telugu are not word characters to
# `re`, yet they belong to the word ("রাজ" + "া"): a word boundary must not split them off.
# The visarga (U+0983) is left out: "উত্তরঃ" writes it as a colon.
_MARKS = "\u0981\u0982\u09bc\u09be-\u09cd\u09d7\u0c00-\u0c04\u0c3c\u0c3e-\u0c56"


def _words_re(words: Iterable[str], *, end_tail: str | None = None) -> re.Pattern[str] | None:
    """Alternation of `words`, longest first, case-insensitive; spaced-script words must not
    touch a letter on either side. With `end_tail`, a word matches only when that pattern
    follows it up to the end of the text."""
    ordered = sorted(set(words), key=len, reverse=True)
    spaced = "|".join(re.escape(w) for w in ordered if not _unspaced(w))
    unspaced = "|".join(re.escape(w) for w in ordered if _unspaced(w))
    alts = []
    if spaced:
        # One boundary check around the whole group: far cheaper than one per word.
        alts.append(rf"(?<![^\W\d_]|[{_MARKS}])(?:{spaced})(?![^\W\d_]|[{_MARKS}])")
    if unspaced:
        alts.append(unspaced)
    if not alts:
        return None
    tail = rf"{end_tail}\Z" if end_tail is not None else ""
    return re.compile(rf"(?:{'|'.join(alts)}){tail}", re.IGNORECASE)


def _rfinditer(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text)` from the last match to the first, scanning windows from the
    end, so the usual case (the answer near the end of a long trace) reads only the end.
    Matches are at most _MAX_WORD_CHARS long (answer words, not open-ended patterns)."""
    hi, size = len(text), 4096
    while hi > 0:
        lo = max(0, hi - size)
        window = [
            m
            for m in pattern.finditer(text, lo, min(len(text), hi + _MAX_WORD_CHARS))
            if m.start() < hi
        ]
        yield from reversed(window)
        hi, size = lo, size * 4


@dataclass(frozen=True)
class _Vocab:
    announce_re: re.Pattern[str]
    final_words: frozenset[str]  # lower-cased
    self_announcing: frozenset[str]  # phrases that end with their copula ("the answer is")
    copula_re: re.Pattern[str]
    therefore_re: re.Pattern[str]
    link_end_re: re.Pattern[str]  # a link word ending the text before a number
    currency_re: re.Pattern[str]  # a money word after a number
    currency_end_re: re.Pattern[str]  # a money word right before a number ("dola 37.50")
    or_re: re.Pattern[str]


@lru_cache(maxsize=1)
def _vocab() -> _Vocab:
    """Every registry language's words at once: models switch languages mid-answer."""
    langs = list(LANGUAGES.values())
    final = {lang.answer_words[0] for lang in langs}
    words = {w for lang in langs for w in (*lang.answer_words, *lang.short_answer_words)}
    self_announcing = {
        w.lower()
        for lang in langs
        for w in (*lang.answer_words, *lang.short_answer_words)
        for c in lang.answer_copulas
        if w.lower().endswith(c.lower()) and len(w) > len(c)
    }

    def union(attr: str) -> list[str]:
        return [w for lang in langs for w in getattr(lang, attr)]

    def need(pattern: re.Pattern[str] | None, what: str) -> re.Pattern[str]:
        if pattern is None:
            raise ValueError(f"the language registry defines no {what}")
        return pattern

    money = "|".join(re.escape(w) for w in sorted(union("currency_words"), key=len, reverse=True))
    money_tail = rf"[ \t]*(?:[{_CURRENCY_SIGNS}]|(?:{money}))?[ \t]*"
    return _Vocab(
        announce_re=need(_words_re(words), "answer words"),
        final_words=frozenset(w.lower() for w in final),
        self_announcing=frozenset(self_announcing),
        copula_re=need(_words_re(union("answer_copulas")), "answer copulas"),
        therefore_re=need(_words_re(union("therefore_words")), "therefore words"),
        link_end_re=need(_words_re(union("amount_links"), end_tail=money_tail), "amount links"),
        currency_re=need(_words_re(union("currency_words")), "currency words"),
        currency_end_re=need(
            _words_re(union("currency_words"), end_tail=r"[ \t]*"), "currency words"
        ),
        or_re=need(_words_re(union("or_words")), "or words"),
    )


def final_section(text: str) -> str:
    """The answer after a reasoning block ("</think>", s1's "<|im_start|>answer"), else all."""
    matches = list(_ANSWER_SECTION_RE.finditer(text))
    return text[matches[-1].end() :] if matches else text


# ------------------------------------------------------------------------ entry points


def extract_answer(
    text: str, lang: str | None = None, *, strict: bool = False, question: str | None = None
) -> Extraction:
    """The final answer the model intended: flexible by default, explicit-only with `strict`.

    `lang` (the prompt's language) decides how "5.600" reads (see `parse_number`);
    `question` lets a stated sentence's numbers that the question already gave be told
    apart from the amount it asks for.
    """
    answers = extract_answers(text, lang, question=question)
    return answers.strict if strict else answers.flexible


def extract_answers(text: str, lang: str | None = None, *, question: str | None = None) -> Answers:
    """Strict and flexible answers in one pass (see the module docstring).

    The answer section after a reasoning block is searched first: what a model wrote while
    thinking is overridden by what it finally answers. Only explicit evidence in the section
    (a box, a final-answer announcement) may override a box in the thinking; a plain
    "Answer:" that opens a paragraph of explanation, or a stray number, may not.
    """
    ctx = _Context(lang, _question_values(question, lang))
    section = final_section(text)
    explicit = Extraction(None, None)
    if section is not text:
        explicit = _explicit(section, ctx, plain_words=False)
    if explicit.source is None:
        explicit = _explicit(text, ctx, plain_words=True)
    if explicit.source is not None:
        return Answers(explicit, explicit)
    return Answers(explicit, _fallback(text, ctx))


@dataclass(frozen=True)
class _Context:
    lang: str | None
    question_values: frozenset[Fraction]


def _question_values(question: str | None, lang: str | None) -> frozenset[Fraction]:
    if not question:
        return frozenset()
    clean = _times_ten(normalize_text(question[-4000:]))
    values = (parse_number(m.group(), lang) for m in _NUMBER_RE.finditer(clean))
    return frozenset(v for v in values if v is not None)


# ------------------------------------------------------------------------ explicit answers


def _explicit(text: str, ctx: _Context, *, plain_words: bool) -> Extraction:
    found = _from_boxes(text, ctx)
    if found is not None:
        return found
    return _from_announcements(_clean(text), ctx, plain_words=plain_words)


def _from_boxes(text: str, ctx: _Context) -> Extraction | None:
    """The last box; when the last boxes state one quantity in several forms ("\\boxed{130}
    minutes or \\boxed{2 hours 10 minutes}"), the first numeric one of them. A last box
    holding a number too large to read ("\\boxed{1e5000}") is the model's answer and reads
    as none. Boxes are normalized from the last one back, only as far as the group goes."""
    group: list[tuple[int, int, str, str]] = []
    for start, end, content in reversed(_boxes(text)):
        answer = _canonical_answer(content, ctx.lang)
        if answer is None:
            continue
        if group and not _same_quantity_gap(text[end : group[0][0]]):
            break
        if answer == _UNREADABLE:
            if group:
                break
            return Extraction(None, "boxed", content)
        group.insert(0, (start, end, content, answer))
    if not group:
        return None
    numeric = [b for b in group if is_number(b[3])]
    _, _, content, answer = numeric[0] if numeric else group[-1]
    return Extraction(answer, "boxed", content)


def _same_quantity_gap(gap: str) -> bool:
    """Text between two boxes that restates one quantity: "min or", "=", " (", "i.e."."""
    if len(gap) > 60 or "\n\n" in gap:
        return False
    bare = gap.replace("$", " ").replace("\\(", " ").replace("\\)", " ")
    return bool(re.search(r"[=(≈]", bare) or _vocab().or_re.search(normalize_text(bare)))


def _from_announcements(text: str, ctx: _Context, *, plain_words: bool) -> Extraction:
    """The last announcement that states something wins, whatever its strength."""
    for is_final, segment, _ in iter_announcements(text, plain_words=plain_words):
        source = "final_word" if is_final else "answer_word"
        number, ambiguous = _stated_number(segment, ctx, prefer="first")
        if number is not None:
            return Extraction(number, source, segment, ambiguous)
        if is_final and _WORD_RE.search(segment):
            # An explicit final answer in words without a number ("Final Answer: not enough
            # data") is the model's answer: digging a number out of the reasoning would
            # invent one. A cut-off fragment ("Final Answer\n\\") says nothing and is skipped.
            return Extraction(None, source, segment)
    return Extraction(None, None)


class Announcement(NamedTuple):
    final: bool  # announced with a final-answer word ("Final Answer", "最终答案")
    text: str  # what it states: the rest of its line, or the next line after a heading
    start: int  # where `text` starts in the searched text


def iter_announcements(
    clean: str, *, plain_words: bool = True, value_re: re.Pattern[str] = _VALUE_START_RE
) -> Iterator[Announcement]:
    """Every real announcement in `clean` (normalized text, markers removed), last first.
    `value_re` says what a stated value
    starts with where nothing else (a colon, a line end) marks the announcement; questions
    ("Final Answer: 33吗?") are left out."""
    vocab = _vocab()
    for n, match in enumerate(_rfinditer(vocab.announce_re, clean)):
        if n >= MAX_ANNOUNCEMENTS:
            return
        is_final = match.group().lower() in vocab.final_words
        if not (is_final or plain_words):
            continue
        after = _announcement_end(clean, match, value_re)
        if after is None:
            continue
        segment = _segment_after(clean, after)
        if segment is not None and not _asks(segment.text):
            yield segment._replace(final=is_final)


def clean_text(text: str) -> str:
    """Chat markers removed, digits and punctuation normalized: what announcements are
    searched in."""
    return normalize_text(_MARKER_RE.sub("\n", text))


def _clean(text: str) -> str:
    """clean_text with typeset scientific notation as one number ("2\\times 10^{5}" -> "2e5")."""
    return _times_ten(clean_text(text))


def _times_ten(text: str) -> str:
    if "10" not in text:
        return text
    return _TIMES_TEN_RE.sub(lambda m: f"{m[1]}e{m[2] or m[3]}", text)


def _announcement_end(text: str, match: re.Match[str], value_re: re.Pattern[str]) -> int | None:
    """Where the announced value starts, or None when the word is not announcing anything
    ("To answer this…", "答えを求める"): an announcement is followed by a colon, a line
    end (a heading), a copula ("is", "は", "是") or the value itself."""
    vocab = _vocab()
    word = match.group()
    pos = match.end()
    if word.lower() in vocab.self_announcing:
        return pos if value_re.match(text, pos) else None
    while pos < len(text) and text[pos] in _MARKDOWN:
        pos += 1
    if pos >= len(text) or text[pos] == "\n":
        return pos
    if text[pos] in _COLONS or text[pos] in "—–":
        return pos + 1
    if value_re.match(text, pos):
        return pos
    copula = vocab.copula_re.match(text, pos)
    if copula is not None:
        rest = copula.end()
        while rest < len(text) and text[rest] in " \t*_,、:":
            rest += 1
        return rest if value_re.match(text, rest) else None
    return None


def _asks(segment: str) -> bool:
    """A stated value that is really a question ("Final Answer: 33吗?", "6 days? But…") is
    no commitment."""
    end = _CLAUSE_END_RE.search(segment)
    clause = segment[: end.end()] if end else segment
    return clause.rstrip().endswith(("?", "？")) or "吗" in clause


def _segment_after(text: str, pos: int) -> Announcement | None:
    """What an announcement says: the rest of its line, or the next non-empty line when the
    announcement ends its line (a heading: "**Final Answer**\\n\\nShe earns 18 dollars").
    A number running past MAX_SEGMENT_CHARS is taken whole, never cut to its first digits."""
    end = pos + MAX_SEGMENT_CHARS
    if 0 < end < len(text) and text[end - 1].isdigit():
        run = _DIGITS_ON_RE.match(text, end)
        end = run.end() if run else end
    after = text[pos:end]
    offset = 0
    for line in after.split("\n"):
        if line.strip(" \t*:_#"):
            return Announcement(False, line, pos + offset)
        offset += len(line) + 1
    return None


# ------------------------------------------------------------------------ fallbacks


def _fallback(text: str, ctx: _Context) -> Extraction:
    clean = _clean(text)
    cut = max(0, len(clean) - MAX_SEGMENT_CHARS)
    if cut and clean[cut].isdigit():
        # The tail starts inside a number: take it whole, not as its last digits.
        run = _DIGITS_ON_RE.match(clean[cut - 1 :: -1])
        cut -= run.end() if run else 0
    tail = clean[cut:]
    closing = _closing_sentence(tail)
    if closing is not None:
        number, ambiguous = _stated_number(closing, ctx, prefer="last", first_clause=False)
        if number is not None:
            return Extraction(number, "therefore", closing, ambiguous)

    bold_numbers = [b for b in _BOLD_RE.findall(clean) if _NUMBER_RE.search(b)]
    if bold_numbers:
        number, _ = _stated_number(bold_numbers[-1], ctx, prefer="first")
        if number is not None:
            return Extraction(number, "bold", bold_numbers[-1])

    matches = list(_NUMBER_RE.finditer(tail))
    if matches:
        number = canonical_number(matches[-1].group(), ctx.lang)
        if number is not None:
            return Extraction(number, "last_number", matches[-1].group())
    return Extraction(None, None)


def _closing_sentence(tail: str) -> str | None:
    """The response's closing sentence when it opens with a "therefore" word and holds the
    text's last number ("Therefore, in 2 weeks she works **48** hours.")."""
    numbers = list(_NUMBER_RE.finditer(tail))
    if not numbers:
        return None
    last_number = numbers[-1]
    for match in reversed(list(_vocab().therefore_re.finditer(tail, 0, last_number.start()))):
        between = tail[match.end() : last_number.start()]
        if "\n\n" in between or _CLAUSE_END_RE.search(_strip_numbers(between)):
            return None  # the last number sits in a later sentence
        end = _CLAUSE_END_RE.search(tail, last_number.end())
        newline = tail.find("\n", last_number.end())
        stops = [p for p in (end.start() if end else -1, newline) if p != -1]
        return tail[match.end() : min(stops) if stops else len(tail)]
    return None


def _strip_numbers(text: str) -> str:
    """Numbers blanked out, so "1.5" or "3." inside a number never ends a sentence."""
    return _NUMBER_RE.sub(" ", text)


# ------------------------------------------------------------------------ stated numbers


def _stated_number(
    segment: str, ctx: _Context, *, prefer: str, first_clause: bool = True
) -> tuple[str | None, bool]:
    """The number a sentence states, and whether that was ambiguous.

    Its last bold span holding a number if any, else (for an announcement) its first clause
    ("35. Mais 35 - 5 = 30" states 35); there the value after the last '='; of several
    numbers, the amount the structure points at (see `_pick_amount`)."""
    bolds = [b for b in _BOLD_RE.findall(segment) if _NUMBER_RE.search(b)]
    if bolds:
        span = bolds[-1]
    elif first_clause:
        span = _CLAUSE_END_RE.split(segment, maxsplit=1)[0]
    else:
        span = segment
    span = _LATEX_FRAC_RE.sub(r"\1/\2", span)
    if "=" in span:
        span = span.rsplit("=", 1)[1]
    matches = list(_NUMBER_RE.finditer(span))
    if not matches:
        return None, False
    chosen, ambiguous = _pick_amount(span, matches, ctx, prefer)
    number = canonical_number(chosen.group(), ctx.lang)
    return (None, False) if number is None else (number, ambiguous)


def _pick_amount(
    span: str, matches: list[re.Match[str]], ctx: _Context, prefer: str
) -> tuple[re.Match[str], bool]:
    """Of several numbers in one stated sentence, the amount asked for.

    Numbers the question already gives are set aside ("In 2 weeks she works 48 hours" when
    the question says "2 weeks"); then a number a link word points at ("5 tickets cost
    $37.50", "2週間で48時間"); then a money amount after a count. Otherwise the `prefer`red
    end, flagged ambiguous."""
    candidates = matches
    if len(candidates) > 1 and ctx.question_values:
        fresh = [
            m for m in candidates if parse_number(m.group(), ctx.lang) not in ctx.question_values
        ]
        if fresh:
            candidates = fresh
    if len(candidates) == 1:
        return candidates[0], False
    vocab = _vocab()
    kept = {m.start() for m in candidates}  # a set: `m in candidates` was quadratic
    linked = [
        m
        for prev, m in pairwise(matches)
        if m.start() in kept and vocab.link_end_re.search(span[prev.end() : m.start()])
    ]
    if linked:
        return linked[-1], False
    money = [m for m in candidates if _is_money(span, m)]
    if money and not _is_money(span, candidates[0]):
        return (money[0] if prefer == "first" else money[-1]), False
    return (candidates[0] if prefer == "first" else candidates[-1]), True


def _is_money(span: str, match: re.Match[str]) -> bool:
    before = span[max(0, match.start() - 16) : match.start()].rstrip()
    if before and (before[-1] in _CURRENCY_SIGNS or _vocab().currency_end_re.search(before)):
        return True
    after = span[match.end() : match.end() + 24].lstrip()
    return bool(after) and (after[0] in _CURRENCY_SIGNS or bool(_vocab().currency_re.match(after)))


# ------------------------------------------------------------------------ numbers

# What a box that states a number too large to read exactly normalizes to ("1e5000"): an
# answer that is none, as opposed to an empty box.
_UNREADABLE = ""
_DIGITS_ON_RE = re.compile(r"[\d,.']*\d")  # the rest of a number a window's edge cut
_CANONICAL_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")
_DECIMAL_RE = re.compile(r"(\d+)(?:\.(\d+))?")
_EXPONENT_RE = re.compile(r"(.*\d)[eE]([-+]?\d+)")
_RADIX_RE = re.compile(r"0([xX][0-9a-fA-F]+|[bB][01]+|[oO][0-7]+)")
_RADIX_BASES = {"x": 16, "b": 2, "o": 8}
# Digits Python converts directly under any int_max_str_digits setting (the least is 640);
# longer strings are converted in halves, so the conversion limit is never hit.
_SAFE_DIGITS = 600


def normalize_answer(content: str, lang: str | None = None) -> str | None:
    """A boxed (or gold) answer in canonical form: a number when it is one, else LaTeX.
    None when it states nothing, or a number too large to read exactly ("1e5000")."""
    return _canonical_answer(content, lang) or None


def _canonical_answer(content: str, lang: str | None) -> str | None:
    """normalize_answer, with _UNREADABLE for a number too large to read exactly."""
    text = normalize_text(content).strip()
    text = _TEXT_CMD_RE.sub(r" \1 ", text)
    text = _LATEX_SPACING_RE.sub(" ", text)
    text = _UNIT_TAIL_RE.sub("", text)
    text = text.replace("\\left", "").replace("\\right", "")
    text = text.replace("$", "").strip()
    text = _LATEX_FRAC_RE.sub(r"\1/\2", text)
    text = _times_ten(text)
    # "x = 5" and "Answer: 5" style boxes: the value is what follows the last '=' or ':'.
    for sep in ("=", ":"):
        if sep in text and not text.endswith(sep):
            text = text.rsplit(sep, 1)[1].strip()
    if not text:
        return None
    # A number with units, currency or words around it ("18 ডলার", "€ 5,600", "3 days").
    numbers = _NUMBER_RE.findall(text)
    if len(numbers) == 1 and not re.search(r"[\\^_{}()\[\]*+]", _NUMBER_RE.sub("", text)):
        # A number that cannot be read exactly is no answer: its text must not reach the
        # LaTeX comparison, where "1e5000" could read as 1·e·5000.
        return canonical_number(numbers[0], lang) or _UNREADABLE
    return re.sub(r"\s+", " ", text)


def is_number(answer: str) -> bool:
    """Whether a canonical answer (from normalize_answer or extraction) is a number."""
    return _CANONICAL_NUMBER_RE.fullmatch(answer) is not None


def canonical_number(token: str, lang: str | None = None) -> str | None:
    """A number token in canonical form ("5,600" -> "5600", "1.5e3" -> "1500", "3/4" ->
    "0.75"), or None when it is no number or too large to read exactly.

    Integers stay digit strings, however long: converting a 5,000-digit answer to an int
    hits Python's int-conversion limit, and converting 1 MB of digits takes seconds.
    """
    clean = _clean_token(token)
    if "/" not in clean and not _RADIX_RE.match(clean.lstrip("+-")):
        parts = _decimal_parts(clean, lang)
        if parts is None:
            return None
        negative, whole, frac, exp = parts
        frac = frac.rstrip("0")
        if exp >= len(frac):  # an integer
            digits = (whole + frac).lstrip("0")
            if not digits:
                return "0"
            return ("-" if negative else "") + digits + "0" * (exp - len(frac))
    value = parse_number(token, lang)
    return None if value is None else format_number(value)


def parse_number(token: str, lang: str | None = None) -> Fraction | None:
    """'5,600' / '5 600' / '1.234,5' / '-3/4' / '12.5' / '1.5e-3' / '0x1F' -> exact Fraction.

    A lone separator before exactly three digits is ambiguous. A comma there ("5,600") is
    read as thousands in every language: grade-school answers are far more often
    thousands than three-decimal values, and models write English-style numbers
    everywhere. A point ("5.600") is thousands only where the language writes decimals
    with a comma (the registry's `decimal_comma`), else a decimal point ("222.857").

    0x/0b/0o literals are read as their value: the prefix is unambiguous, and reading one
    as "no answer" would let an earlier box, or the LaTeX comparison (where "0x10" is
    0·x·10 = 0), decide instead. None for more than MAX_EXACT_DIGITS digits or an exponent
    beyond MAX_EXPONENT (see `canonical_number` for integers of any length).
    """
    token = _clean_token(token)
    if not token:
        return None
    if "/" in token:
        num, _, den = token.partition("/")
        a, b = parse_number(num, lang), parse_number(den, lang)
        if a is None or b is None or b == 0:
            return None
        return a / b
    radix = _RADIX_RE.fullmatch(token.lstrip("+-"))
    if radix is not None:
        body = radix[1]
        if len(body) > 4 * MAX_EXACT_DIGITS:
            return None
        value = int(body[1:], _RADIX_BASES[body[0].lower()])  # power-of-2 bases: no limit
        return Fraction(-value if token.startswith("-") else value)
    parts = _decimal_parts(token, lang)
    if parts is None:
        return None
    negative, whole, frac, exp = parts
    digits = (whole + frac).lstrip("0")
    if len(digits) > MAX_EXACT_DIGITS:
        return None
    value = Fraction(_digits_to_int(digits) if digits else 0)
    scale = exp - len(frac)
    value = value * 10**scale if scale >= 0 else value / 10**-scale
    return -value if negative else value


def _clean_token(token: str) -> str:
    return normalize_text(token).strip().replace("'", "").replace(" ", "")


def _decimal_parts(token: str, lang: str | None) -> tuple[bool, str, str, int] | None:
    """(negative, whole digits, fraction digits, exponent) of a cleaned decimal token, with
    the thousands/decimal separators resolved (see `parse_number`); None if it is none."""
    negative = token.startswith("-")
    token = token.lstrip("+-")
    exp = 0
    if "e" in token or "E" in token:
        match = _EXPONENT_RE.fullmatch(token)
        if match is None:
            return None
        token, exp_text = match[1], match[2]
        # Checked on the text first: int() of a 10,000-digit exponent is itself the problem.
        if len(exp_text.lstrip("+-").lstrip("0")) > len(str(MAX_EXPONENT)):
            return None
        exp = int(exp_text)
        if abs(exp) > MAX_EXPONENT:
            return None
    commas, points = token.count(","), token.count(".")
    if commas or points:
        last = max(token.rfind(","), token.rfind("."))
        head, tail = token[:last], token[last + 1 :]
        if commas and points:  # "1,234.5" / "1.234,5": the last mark is the decimal one
            token = head.replace(",", "").replace(".", "") + "." + tail
        elif commas + points > 1:  # "1.234.567": one mark repeated only groups thousands
            token = token.replace("," if commas else ".", "")
        elif len(tail) == 3 and head.isdigit() and (commas or _decimal_comma(lang)):
            token = head + tail
        else:
            token = head + "." + tail
    match = _DECIMAL_RE.fullmatch(token)
    if match is None:
        return None
    return negative, match[1], match[2] or "", exp


def _decimal_comma(lang: str | None) -> bool:
    return lang is not None and lang in LANGUAGES and LANGUAGES[lang].decimal_comma


def _digits_to_int(digits: str) -> int:
    """int(digits) for a digit string of any length, without the int-conversion limit."""
    if len(digits) <= _SAFE_DIGITS:
        return int(digits)
    half = len(digits) // 2
    return _digits_to_int(digits[:-half]) * 10**half + _digits_to_int(digits[-half:])


def _int_to_digits(value: int) -> str:
    """str(value) for an int of any size, without the int-conversion limit."""
    if value < 0:
        return "-" + _int_to_digits(-value)
    if value.bit_length() <= 3 * _SAFE_DIGITS:  # log2(10) < 3.33: at most _SAFE_DIGITS digits
        return str(value)
    half = value.bit_length() * 3 // 20  # about half its decimal digits
    high, low = divmod(value, 10**half)
    return _int_to_digits(high) + _int_to_digits(low).rjust(half, "0")


def format_number(value: Fraction) -> str:
    """Integers as digits, terminating decimals exactly as decimals ("0.0015"), other values
    as exact fractions ("1/3"). Never through float, which rounds long decimals and turns
    1.5e-400 into 0."""
    num, den = value.numerator, value.denominator
    if den == 1:
        return _int_to_digits(num)
    twos = (den & -den).bit_length() - 1
    rest = den >> twos
    # The decimal terminates when what is left is a power of 5. Its exponent is found from
    # the bit length, not by dividing out one 5 at a time: that loop is quadratic in the
    # digits, seconds on a 100,000-digit decimal.
    estimate = round(rest.bit_length() / math.log2(5))
    fives = next((k for k in (estimate - 1, estimate, estimate + 1) if k >= 0 and 5**k == rest), -1)
    if fives < 0:
        return f"{_int_to_digits(num)}/{_int_to_digits(den)}"
    places = max(twos, fives)
    digits = _int_to_digits(abs(num) * 10**places // den).rjust(places + 1, "0")
    return ("-" if num < 0 else "") + digits[:-places] + "." + digits[-places:]


# ------------------------------------------------------------------------ gold answers


def _braces_balanced(text: str) -> bool:
    depth = 0
    for match in _BRACE_RE.finditer(text.replace("\\{", "").replace("\\}", "")):
        depth += 1 if match.group() == "{" else -1
        if depth < 0:
            return False
    return depth == 0


def gold_problem(answer: str, answer_type: str) -> str | None:
    """Why `answer` cannot be the gold answer of a problem of `answer_type`, as one line;
    None when it can. A malformed gold scores every response wrong without a sign, so
    loaders refuse it at the edge.

    "number": the answer must read as one number (units and currency around it are fine:
    "18", "5,600", "$18", "3/4", "1e3"); "two", "NaN", "inf" or "3 or 4" are refused.
    "latex": the answer must be non-empty with balanced braces. "choice": non-empty.
    """
    shown = answer if len(answer) <= 60 else answer[:57] + "..."
    if not answer.strip():
        return "gold answer is empty"
    if answer_type == "number":
        canonical = _canonical_answer(answer, None)
        if canonical == _UNREADABLE:
            return f"gold answer {shown!r} is too large a number to read exactly"
        if canonical is None or not is_number(canonical):
            return f"gold answer {shown!r} is not a number (answer type 'number')"
    elif answer_type == "latex":
        if not _braces_balanced(answer):
            return f"gold answer {shown!r} has unbalanced braces (answer type 'latex')"
        if normalize_answer(answer) is None:
            return f"gold answer {shown!r} states nothing (answer type 'latex')"
    return None
