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

Everything here is plain string scanning with bounded work per candidate: no regex with
nested quantifiers over the whole text, no recursion, nothing evaluated. The scorer still
runs it under a hard per-item timeout (see `scoring.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

from xling.languages import LANGUAGES, native_digit_table

MAX_BOXED_CHARS = 2000  # a longer "answer" is not an answer; refusing it bounds the work
MAX_SEGMENT_CHARS = 400  # how far past an answer word the answer may sit
MAX_ANNOUNCEMENTS = 500  # announcements read from the end; a looping trace repeats itself
_MAX_WORD_CHARS = 64  # longer than any registry word, so a window never cuts one

_BOX_COMMANDS = ("\\boxed", "\\fbox")
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
_TRANSLATE = native_digit_table() | {ord(k): v for k, v in _FULLWIDTH.items()}

# A number as people write it: optional sign, digits with optional thousands groups
# (",", ".", " ", "'"), optional decimal part, optional "/denominator" fraction.
_NUMBER_RE = re.compile(
    r"(?<![0-9A-Za-z.])[-+]?(?:\d{1,3}(?:[,. ']\d{3})+|\d+)(?:[.,]\d+)?(?:\s*/\s*\d+)?(?!\d)"
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
    """Native and full-width digits to ASCII, exotic spaces and punctuation to plain ones."""
    return text.translate(_TRANSLATE)


def find_boxed(text: str) -> list[str]:
    """Contents of every well-formed \\boxed{...}/\\fbox{...}, in order of appearance.

    Unbalanced or over-long boxes are skipped rather than guessed at.
    """
    return [content for _, _, content in _boxes(text)]


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every well-formed box, in order of appearance."""
    found: list[tuple[int, int, str]] = []
    for command in _BOX_COMMANDS:
        start = text.find(command)
        while start != -1:
            braced = _braced_after(text, start + len(command))
            if braced is not None:
                found.append((start, braced[1], braced[0]))
            start = text.find(command, start + len(command))
    found.sort()
    return found


def _braced_after(text: str, pos: int) -> tuple[str, int] | None:
    """(content, end) of the brace group that starts at `pos` (after spaces), if balanced."""
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    if pos >= len(text) or text[pos] != "{":
        return None
    depth = 0
    end_limit = min(len(text), pos + MAX_BOXED_CHARS + 2)
    for i in range(pos, end_limit):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[pos + 1 : i], i + 1
    return None


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
    clean = normalize_text(question[-4000:])
    values = (parse_number(m.group(), lang) for m in _NUMBER_RE.finditer(clean))
    return frozenset(v for v in values if v is not None)


# ------------------------------------------------------------------------ explicit answers


def _explicit(text: str, ctx: _Context, *, plain_words: bool) -> Extraction:
    found = _from_boxes(text, ctx)
    if found is not None:
        return found
    return _from_announcements(clean_text(text), ctx, plain_words=plain_words)


def _from_boxes(text: str, ctx: _Context) -> Extraction | None:
    """The last box; when the last boxes state one quantity in several forms ("\\boxed{130}
    minutes or \\boxed{2 hours 10 minutes}"), the first numeric one of them."""
    boxes = [(s, e, c, a) for s, e, c in _boxes(text) if (a := normalize_answer(c, ctx.lang))]
    if not boxes:
        return None
    group = [boxes[-1]]
    for prev in reversed(boxes[:-1]):
        if not _same_quantity_gap(text[prev[1] : group[0][0]]):
            break
        group.insert(0, prev)
    numeric = [b for b in group if parse_number(b[3], ctx.lang) is not None]
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
    announcement ends its line (a heading: "**Final Answer**\\n\\nShe earns 18 dollars")."""
    after = text[pos : pos + MAX_SEGMENT_CHARS]
    offset = 0
    for line in after.split("\n"):
        if line.strip(" \t*:_#"):
            return Announcement(False, line, pos + offset)
        offset += len(line) + 1
    return None


# ------------------------------------------------------------------------ fallbacks


def _fallback(text: str, ctx: _Context) -> Extraction:
    clean = clean_text(text)
    tail = clean[-MAX_SEGMENT_CHARS:]
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
        value = parse_number(matches[-1].group(), ctx.lang)
        if value is not None:
            return Extraction(format_number(value), "last_number", matches[-1].group())
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
    value = parse_number(chosen.group(), ctx.lang)
    return (None, False) if value is None else (format_number(value), ambiguous)


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
    linked = [
        m
        for prev, m in pairwise(matches)
        if m in candidates and vocab.link_end_re.search(span[prev.end() : m.start()])
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


def normalize_answer(content: str, lang: str | None = None) -> str | None:
    """A boxed (or gold) answer in canonical form: a number when it is one, else LaTeX."""
    text = normalize_text(content).strip()
    text = _TEXT_CMD_RE.sub(r" \1 ", text)
    text = _LATEX_SPACING_RE.sub(" ", text)
    text = _UNIT_TAIL_RE.sub("", text)
    text = text.replace("\\left", "").replace("\\right", "")
    text = text.replace("$", "").strip()
    text = _LATEX_FRAC_RE.sub(r"\1/\2", text)
    # "x = 5" and "Answer: 5" style boxes: the value is what follows the last '=' or ':'.
    for sep in ("=", ":"):
        if sep in text and not text.endswith(sep):
            text = text.rsplit(sep, 1)[1].strip()
    if not text:
        return None
    # A number with units, currency or words around it ("18 ডলার", "€ 5,600", "3 days").
    numbers = _NUMBER_RE.findall(text)
    leftover = _NUMBER_RE.sub("", text)
    if len(numbers) == 1 and not re.search(r"[\\^_{}()\[\]*+]", leftover):
        value = parse_number(numbers[0], lang)
        if value is not None:
            return format_number(value)
    return re.sub(r"\s+", " ", text)


def parse_number(token: str, lang: str | None = None) -> Fraction | None:
    """'5,600' / '5 600' / '1.234,5' / '-3/4' / '12.5' -> exact Fraction.

    A lone separator before exactly three digits is ambiguous. A comma there ("5,600") is
    read as thousands in every language: grade-school answers are far more often
    thousands than three-decimal values, and models write English-style numbers
    everywhere. A point ("5.600") is thousands only where the language writes decimals
    with a comma (the registry's `decimal_comma`), else a decimal point ("222.857").
    """
    token = normalize_text(token).strip().replace("'", "").replace(" ", "")
    if not token:
        return None
    if "/" in token:
        num, _, den = token.partition("/")
        a, b = parse_number(num, lang), parse_number(den, lang)
        if a is None or b is None or b == 0:
            return None
        return a / b
    sign = -1 if token.startswith("-") else 1
    token = token.lstrip("+-")
    seps = [c for c in token if c in ",."]
    if seps:
        last = max(token.rfind(","), token.rfind("."))
        head, tail = token[:last], token[last + 1 :]
        if len(set(seps)) == 2:  # "1,234.5" / "1.234,5": the last mark is the decimal one
            token = head.replace(",", "").replace(".", "") + "." + tail
        elif len(seps) > 1:  # "1.234.567": one mark repeated only groups thousands
            token = token.replace(seps[0], "")
        elif len(tail) == 3 and head.isdigit() and (seps[0] == "," or _decimal_comma(lang)):
            token = head + tail
        else:
            token = head + "." + tail
    if not re.fullmatch(r"\d+(?:\.\d+)?", token):
        return None
    return sign * Fraction(token)


def _decimal_comma(lang: str | None) -> bool:
    return lang is not None and lang in LANGUAGES and LANGUAGES[lang].decimal_comma


def format_number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    # Terminating decimals print as decimals; others stay exact fractions.
    den = value.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    if den == 1:
        return f"{float(value):.10g}"
    return f"{value.numerator}/{value.denominator}"
