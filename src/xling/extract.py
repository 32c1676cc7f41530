"""Final-answer extraction from real, messy model output in any registry language.

Priority, strongest evidence first:
  1. the last well-formed `\\boxed{...}` (nested braces allowed);
  2. the last "final answer" announcement in any language ("Final Answer:", "答え：", …);
  3. the last plain answer word ("Answer", "Respuesta", "উত্তর", …);
  4. the last bold (**...**) span holding a number;
  5. the last number in the text.
Everything here is plain string scanning with bounded work per candidate: no regex with
nested quantifiers over the whole text, no recursion, nothing evaluated. The scorer still
runs it under a hard per-item timeout (see `scoring.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from xling.languages import LANGUAGES, all_answer_words, native_digit_table

MAX_BOXED_CHARS = 2000  # a longer "answer" is not an answer; refusing it bounds the work
MAX_SEGMENT_CHARS = 400  # how far past an answer word the answer may sit

_BOX_COMMANDS = ("\\boxed", "\\fbox")
# Chat/turn markers of common templates. s1-style traces switch sections with
# "<|im_start|>answer"; an answer is never inside a marker.
_MARKER_RE = re.compile(r"<\|[^|<>\n]{1,40}\|>|</?think>|</?answer>")
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
_TEXT_CMD_RE = re.compile(
    r"\\(?:text|textbf|mathrm|mbox|mathbf|textnormal|operatorname)\s*\{([^{}]*)\}"
)
_LATEX_SPACING_RE = re.compile(r"\\[,;:! ]|\\q?quad|~")
_UNIT_TAIL_RE = re.compile(r"\^\s*\{?\\circ\}?|\\%|\\\$|\\euro|\\pounds")


@dataclass(frozen=True)
class Extraction:
    answer: str | None  # normalized: "5600", "3/4", or a LaTeX expression; None if nothing found
    source: str | None  # "boxed" | "final_word" | "answer_word" | "bold" | "last_number"
    raw: str = ""  # the text the answer was taken from, for debugging

    @property
    def boxed(self) -> bool:
        return self.source == "boxed"


def normalize_text(text: str) -> str:
    """Native and full-width digits to ASCII, exotic spaces and punctuation to plain ones."""
    return text.translate(_TRANSLATE)


def find_boxed(text: str) -> list[str]:
    """Contents of every well-formed \\boxed{...}/\\fbox{...}, in order of appearance.

    Unbalanced or over-long boxes are skipped rather than guessed at.
    """
    found: list[tuple[int, str]] = []
    for command in _BOX_COMMANDS:
        start = text.find(command)
        while start != -1:
            content = _braced_after(text, start + len(command))
            if content is not None:
                found.append((start, content))
            start = text.find(command, start + len(command))
    found.sort()
    return [c for _, c in found]


def _braced_after(text: str, pos: int) -> str | None:
    """The content of the brace group that starts at `pos` (after spaces), if balanced."""
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
                return text[pos + 1 : i]
    return None


@lru_cache(maxsize=1)
def _answer_word_res() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(final-answer words, plain answer words) over every registry language.

    A word counts as "final" when it is the longest of its language's announcements
    (by construction of the registry: "Final Answer", "Respuesta final", "最终答案", …).
    """
    final_words = {lang.answer_words[0] for lang in LANGUAGES.values()}
    plain_words = set(all_answer_words()) - final_words

    def pattern(words: set[str]) -> re.Pattern[str]:
        alts = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        # Optional markdown/bold around the word and a colon (ASCII or full-width) after it.
        return re.compile(rf"(?:{alts})\s*(?:\*\*)?\s*[:：]?", re.IGNORECASE)

    return pattern(final_words), pattern(plain_words)


def final_section(text: str) -> str:
    """The answer after a reasoning block ("</think>", s1's "<|im_start|>answer"), else all."""
    matches = list(_ANSWER_SECTION_RE.finditer(text))
    return text[matches[-1].end() :] if matches else text


def extract_answer(text: str, lang: str | None = None) -> Extraction:
    """Find the final answer the model intended. See the module docstring for the order.

    The answer section after a reasoning block is searched first: what a model wrote
    while thinking is overridden by what it finally answers. `lang` (the prompt's
    language) decides how "5.600" reads; see `parse_number`.
    """
    section = final_section(text)
    if section is not text:
        # Only explicit evidence in the section (a box, a "final answer" announcement) may
        # override a box in the thinking; a plain "Answer:" that opens a paragraph of
        # explanation, or a stray number, may not.
        found = _extract(section, lang, explicit_only=True)
        if found.source is not None:
            return found
    return _extract(text, lang)


def _extract(text: str, lang: str | None, *, explicit_only: bool = False) -> Extraction:
    boxes = find_boxed(text)
    for content in reversed(boxes):
        answer = normalize_answer(content, lang)
        if answer:
            return Extraction(answer, "boxed", content)

    clean = normalize_text(_MARKER_RE.sub("\n", text))
    final_re, plain_re = _answer_word_res()
    levels = (
        [("final_word", final_re)]
        if explicit_only
        else [("final_word", final_re), ("answer_word", plain_re)]
    )
    for source, word_re in levels:
        segment = _segment_after_last(word_re, clean)
        if segment is None:
            continue
        number = _number_in_segment(segment, lang)
        if number is not None:
            return Extraction(number, source, segment)
        if source == "final_word" and _WORD_RE.search(segment):
            # An explicit final answer in words without a number ("Final Answer: not enough
            # data") is the model's answer: digging a number out of the reasoning would
            # invent one. A cut-off fragment ("Final Answer\n\\") says nothing and is skipped.
            return Extraction(None, source, segment)

    if explicit_only:
        return Extraction(None, None)
    bold_numbers = [b for b in _BOLD_RE.findall(clean) if _NUMBER_RE.search(b)]
    if bold_numbers:
        number = _number_in_segment(bold_numbers[-1], lang)
        if number is not None:
            return Extraction(number, "bold", bold_numbers[-1])

    tail = clean[-MAX_SEGMENT_CHARS:]
    matches = list(_NUMBER_RE.finditer(tail))
    if matches:
        number = parse_number(matches[-1].group(), lang)
        if number is not None:
            return Extraction(format_number(number), "last_number", matches[-1].group())
    return Extraction(None, None)


def _segment_after_last(word_re: re.Pattern[str], text: str) -> str | None:
    """What the last announcement that says anything says: the rest of its line, or the
    next non-empty line when the announcement ends its line ("Answer:\n\n18")."""
    for match in reversed(list(word_re.finditer(text))):
        after = text[match.end() : match.end() + MAX_SEGMENT_CHARS]
        lines = [ln for ln in after.split("\n") if ln.strip(" \t*:")]
        if lines:
            return lines[0]
    return None


def _number_in_segment(segment: str, lang: str | None) -> str | None:
    """The number an answer segment states: its last bold span, else its first clause
    ("35. Mais 35 - 5 = 30" states 35), there the value after the last '='."""
    bolds = [b for b in _BOLD_RE.findall(segment) if _NUMBER_RE.search(b)]
    segment = bolds[-1] if bolds else _CLAUSE_END_RE.split(segment, maxsplit=1)[0]
    segment = _LATEX_FRAC_RE.sub(r"\1/\2", segment)
    if "=" in segment:
        segment = segment.rsplit("=", 1)[1]
    match = _NUMBER_RE.search(segment)
    if match is None:
        return None
    value = parse_number(match.group(), lang)
    return None if value is None else format_number(value)


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
