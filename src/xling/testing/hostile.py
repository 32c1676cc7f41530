"""Hostile model outputs for the scorer: a deterministic, seeded corpus (issue 22).

Each item is a `Generation` whose output attacks one weakness of scoring untrusted text:
size (giant numbers, megabyte outputs), depth (nested boxes, towers), sympy's cost (bombs
math-verify would evaluate), odd characters (controls, lone surrogates, bidi overrides,
zero-width characters, mixed scripts, homoglyph digits), code and TeX injections, broken
structure (unbalanced braces and <think> tags), regex bait, and benign controls that must
still score right. `FAMILIES` names the families; each has named variants whose sizes,
positions and wrappers are drawn per item.

`hostile_corpus(n, seed, max_bytes)` gives n items. Families follow a fixed weighted
rotation (all of them in any `ROTATION` consecutive items, megabyte outputs 1 in 100), each
family cycles through its variants, and each item draws everything else (language, answer
type, sizes) from its own random stream seeded by (seed, index): the same arguments give
the same corpus in every process, and the first k items do not depend on n. `max_bytes`
caps every output's UTF-8 size, so tests run small slices of the same families.
`one_of_each` gives one item per variant. An item's id names its family and variant
(`family_of`, `variant_of`).

Injection payloads write to a canary path when run: the caller checks that nothing did.
Nothing here runs any of this text; it is only built.
"""

from __future__ import annotations

import json
import os
import queue
import random
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing import active_children
from typing import cast

from xling.languages import LANGUAGES, Language
from xling.records import Generation, Score

LANGS = ("en", "es", "ru", "de", "fr", "bn", "th", "zh", "sw", "te", "ja")
DEFAULT_MAX_BYTES = 1 << 20  # the megabyte family fills this
MIN_MAX_BYTES = 4096  # room for the prose, wrappers and payloads of every variant
BENCHMARK = "hostile"
DEFAULT_CANARY = os.path.join(tempfile.gettempdir(), "xling-hostile-canary")

# Items per 100. Megabyte outputs are 1 %, and sympy bombs and deep nesting (where nearly
# all timeouts come from, each costing the full timeout) 6 %, so that 10,000 items score in
# minutes on 2 cores; the cheap families make up the volume.
_WEIGHTS = {
    "benign": 10,
    "giant_number": 9,
    "deep_nesting": 4,
    "sympy_bomb": 2,
    "megabyte": 1,
    "control_chars": 9,
    "bidi": 8,
    "zero_width": 9,
    "mixed_scripts": 9,
    "homoglyph_digits": 10,
    "injection": 10,
    "unbalanced": 10,
    "regex_bait": 9,
}
FAMILIES = tuple(_WEIGHTS)
ROTATION = sum(_WEIGHTS.values())

_DIGITS = "0123456789"
_LETTERS = "ABCDEFGHIJ"
_CHOICE_TEXTS = (
    "12 nm",
    "3/4",
    "x^2 + 1",
    "No reaction occurs",
    "2.5 mol",
    "\\frac{\\pi}{2}",
    "Пять",
    "五十",
    "ห้าสิบ",
    "-7",
    "The enzyme is denatured",
    "1.6 \\times 10^{-19} C",
    "০.৫",
    "Zero",
)
_LATEX_GOLDS = (
    "\\frac{3}{4}",
    "x^{2}+1",
    "\\sqrt{2}",
    "2\\pi",
    "\\frac{\\sqrt{3}}{2}",
    "(1, 2)",
    "[0, 1]",
    "e^{2}",
    "3\\sqrt{5}",
    "\\frac{x+1}{x-1}",
)


@dataclass(frozen=True)
class _Item:
    """What a variant builds from: the item's random stream and its record's settings."""

    rng: random.Random
    lang: Language
    answer_type: str
    stated: str  # the answer as a model would write it: the number, the LaTeX, the letter
    max_bytes: int
    canary: str

    def room(self, reserve: int = 1024) -> int:
        """Bytes a variant may spend on its bulk, leaving `reserve` for prose and wrappers."""
        return max(0, self.max_bytes - reserve)

    def size(self, *wants: int, unit: str = "x", reserve: int = 1024) -> int:
        """How many `unit`s to repeat: one of `wants` (drawn), capped to the room."""
        return max(1, min(self.rng.choice(wants), self.room(reserve) // _nbytes(unit)))

    def prose(self) -> str:
        """A sentence in the item's language, for language ID and realism."""
        return self.lang.instruction.replace("\\boxed{}", "").strip()

    @property
    def word(self) -> str:
        return self.lang.answer_words[0]  # "Final Answer", "Окончательный ответ", "最终答案"

    def number(self) -> str:
        """The stated answer where it is a number, else some number."""
        if self.answer_type == "number" and all(c in "0123456789-./" for c in self.stated):
            return self.stated
        return str(self.rng.randint(0, 10**6))

    def digits(self, n: int) -> str:
        """`n` random digits, no leading zero."""
        return self.rng.choice("123456789") + "".join(self.rng.choices(_DIGITS, k=n - 1))

    def wrap(self, value: str) -> str:
        """`value` as a final answer: boxed, announced in the item's language, or left last."""
        form = self.rng.randrange(3)
        if form == 0:
            return f"{self.prose()}\n\n\\boxed{{{value}}}"
        if form == 1:
            return f"{self.prose()}\n\n{self.word}: {value}"
        return f"{self.prose()} {value}"


Builder = Callable[[_Item], str]
_VARIANTS: dict[str, dict[str, Builder]] = {family: {} for family in FAMILIES}


def _variant(family: str, name: str) -> Callable[[Builder], Builder]:
    def register(build: Builder) -> Builder:
        _VARIANTS[family][name] = build
        return build

    return register


def _nbytes(text: str) -> int:
    # Lone surrogates have no UTF-8 form; "surrogatepass" counts them as JSON readers keep them.
    return len(text.encode("utf-8", "surrogatepass"))


def _sprinkle(it: _Item, text: str, pool: str, rate: float = 0.3) -> str:
    """`text` with characters of `pool` inserted after some of its characters."""
    out = []
    for ch in text:
        out.append(ch)
        if it.rng.random() < rate:
            out.append(it.rng.choice(pool))
    return "".join(out)


# ------------------------------------------------------------------------ benign controls
# Ordinary answers: these must score correct, whatever the hostile items around them did.


def _benign_final(it: _Item) -> str:
    return f"\\boxed{{{it.stated}}}"


@_variant("benign", "boxed")
def _benign_boxed(it: _Item) -> str:
    return f"{it.prose()}\n\n{_benign_final(it)}"


@_variant("benign", "announced")
def _benign_announced(it: _Item) -> str:
    # An announced LaTeX answer is read for its numbers; only a box states LaTeX whole.
    if it.answer_type == "latex":
        return _benign_boxed(it)
    return f"{it.prose()}\n\n{it.word}: {it.stated}"


@_variant("benign", "think_then_boxed")
def _benign_think(it: _Item) -> str:
    return f"<think>\n{it.prose()}\n</think>\n\n{it.prose()} {_benign_final(it)}"


@_variant("benign", "native_digits")
def _benign_native(it: _Item) -> str:
    table = {ord(a): b for a, b in zip(_DIGITS, it.lang.digits, strict=True)}
    stated = it.stated.translate(table) if it.answer_type == "number" else it.stated
    return f"{it.prose()}\n\n\\boxed{{{stated}}}"


@_variant("benign", "long_reasoning")
def _benign_long(it: _Item) -> str:
    sentence = it.prose() + " "
    body = sentence * it.size(5, 50, 200, unit=sentence)
    return f"{body}\n\n{_benign_final(it)}"


# ------------------------------------------------------------------------ giant numbers


@_variant("giant_number", "integer")
def _giant_integer(it: _Item) -> str:
    return it.wrap(it.digits(it.size(1999, 4301, 10_000, 100_000)))


@_variant("giant_number", "scientific")
def _giant_scientific(it: _Item) -> str:
    value = it.rng.choice(
        (
            "1e999999",
            "1E+999999",
            "-1e999999",
            "1e-999999",
            "9.99e308",
            "1e309",
            "2.5e-400",
            "1e4301",
            "6.02 \\times 10^{23}",
            "10^{999999}",
            "1\\times10^{999999}",
            "1e99999999999999999999",
            "inf",
            "NaN",
            "1.5e+10",
        )
    )
    return it.wrap(value)


@_variant("giant_number", "long_decimal")
def _giant_decimal(it: _Item) -> str:
    n = it.size(400, 4301, 20_000, 100_000)
    value = it.rng.choice(
        (
            "0." + it.digits(n),
            it.digits(n) + ".5",
            "3." + "3" * n,
            "0." + "0" * (n - 1) + "1",
            it.digits(n // 2) + "." + it.digits(n // 2),
        )
    )
    return it.wrap(value)


@_variant("giant_number", "grouped_thousands")
def _giant_grouped(it: _Item) -> str:
    sep = it.rng.choice((",", ".", " ", "'", "\u202f"))
    groups = it.size(100, 1500, 30_000, unit=sep + "000")
    return it.wrap("1" + (sep + "000") * groups)


@_variant("giant_number", "huge_fraction")
def _giant_fraction(it: _Item) -> str:
    # unit="xx": each of the two numbers may take half the room.
    a, b = it.size(300, 999, 5000, unit="xx"), it.size(300, 999, 5000, unit="xx")
    num, den = it.digits(a), it.digits(b)
    value = it.rng.choice((f"\\frac{{{num}}}{{{den}}}", f"{num}/{den}", f"{num} / {den}"))
    return it.wrap(value)


@_variant("giant_number", "giant_gold")
def _giant_gold(it: _Item) -> str:
    # `_build` made the record's gold this giant number: the gold is parsed too.
    return it.wrap(it.stated)


@_variant("giant_number", "huge_exponent_float")
def _giant_float(it: _Item) -> str:
    # A terminating decimal far beyond a float's range: exact code must not round through float.
    value = it.digits(it.size(310, 400, 2000)) + "." + it.rng.choice(("5", "25", "125"))
    return it.wrap(value)


# ------------------------------------------------------------------------ deep nesting


@_variant("deep_nesting", "boxed_in_boxed")
def _deep_boxed(it: _Item) -> str:
    d = it.size(10, 100, 1000, 10_000, unit="\\boxed{}")
    return f"{it.prose()} " + "\\boxed{" * d + it.stated + "}" * d


@_variant("deep_nesting", "boxed_unclosed")
def _deep_boxed_unclosed(it: _Item) -> str:
    d = it.size(10, 1000, 10_000, unit="\\boxed{")
    return f"{it.prose()} " + "\\boxed{" * d + it.stated


@_variant("deep_nesting", "frac_tower")
def _deep_frac(it: _Item) -> str:
    d = it.size(5, 30, 50, 500, 5000, unit="\\frac{1}{}")
    return f"{it.prose()} \\boxed{{" + "\\frac{1}{" * d + "2" + "}" * d + "}"


@_variant("deep_nesting", "power_tower")
def _deep_power(it: _Item) -> str:
    base = it.rng.choice(("9", "2", "10", "99"))
    k = it.size(2, 3, 4, 5, 20, 200, unit=base + "^{}")
    tower = (base + "^{") * k + base + "}" * k
    return it.wrap(tower) if it.rng.random() < 0.3 else f"{it.prose()} \\boxed{{{tower}}}"


@_variant("deep_nesting", "factorial_chain")
def _deep_factorial(it: _Item) -> str:
    value = it.rng.choice(
        (
            "100000!",
            "100000!!",
            "(100000!)!",
            "((10!)!)!",
            "1000000!",
            "9" + "!" * it.size(10, 100, 1000, unit="!"),
            "(" * 30 + "3" + ")!" * 30,
            "\\Gamma(100000!)",
        )
    )
    return f"{it.prose()} \\boxed{{{value}}}"


@_variant("deep_nesting", "parentheses")
def _deep_parens(it: _Item) -> str:
    open_, close = it.rng.choice((("(", ")"), ("[", "]"), ("\\left(", "\\right)")))
    d = it.size(50, 1000, 10_000, 100_000, unit=open_ + close)
    return f"{it.prose()} \\boxed{{" + open_ * d + it.stated + close * d + "}"


@_variant("deep_nesting", "braces")
def _deep_braces(it: _Item) -> str:
    d = it.size(50, 999, 10_000, 100_000, unit="{}")
    return f"{it.prose()} \\boxed{{" + "{" * d + it.stated + "}" * d + "}"


@_variant("deep_nesting", "sqrt_tower")
def _deep_sqrt(it: _Item) -> str:
    d = it.size(5, 40, 1000, unit="\\sqrt{}")
    return f"{it.prose()} \\boxed{{" + "\\sqrt{" * d + "2" + "}" * d + "}"


@_variant("deep_nesting", "plain_exponent_chain")
def _deep_plain_chain(it: _Item) -> str:
    op = it.rng.choice(("^", "**", " ^ "))
    k = it.size(4, 6, 30, 1000, unit="9" + op)
    return it.wrap(op.join(["9"] * k))


# ------------------------------------------------------------------------ sympy bombs
# Short enough (and made of safe LaTeX characters) to reach math-verify: what the hard
# timeout exists for.


def _bomb(it: _Item, options: tuple[str, ...]) -> str:
    value = it.rng.choice(options)
    return f"{it.prose()} \\boxed{{{value}}}"


@_variant("sympy_bomb", "huge_power")
def _bomb_power(it: _Item) -> str:
    r = it.rng
    return _bomb(
        it,
        (
            f"2^{{2^{{{r.randint(10**4, 10**6)}}}}}",
            "10^{10^{10}}",
            "(10^{100})^{10^{100}}",
            f"{r.randint(2, 99999)}^{{{r.randint(10**5, 10**7)}}}",
            f"{r.randint(2, 9)}^{{{r.randint(2, 9)}^{{{r.randint(2, 9)}^{{{r.randint(2, 9)}}}}}}}",
            "e^{e^{e^{e^{10}}}}",
        ),
    )


@_variant("sympy_bomb", "binomial")
def _bomb_binom(it: _Item) -> str:
    n = it.rng.randint(10**5, 10**7)
    return _bomb(
        it,
        (
            "\\binom{10^{100}}{10^{50}}",
            f"\\binom{{{n}}}{{{n // 2}}}",
            "\\dbinom{2^{64}}{3}",
            f"\\binom{{\\binom{{{n}}}{{2}}}}{{\\binom{{{n}}}{{3}}}}",
        ),
    )


@_variant("sympy_bomb", "sum")
def _bomb_sum(it: _Item) -> str:
    e = it.rng.randint(6, 12)
    return _bomb(
        it,
        (
            f"\\sum_{{k=1}}^{{10^{{{e}}}}} k^{{k}}",
            "\\sum_{n=1}^{\\infty} \\frac{1}{n^{2}}",
            f"\\sum_{{i=1}}^{{10^{{{e}}}}}\\sum_{{j=1}}^{{10^{{{e}}}}} i^{{j}}",
            f"\\sum_{{k=0}}^{{10^{{{e}}}}} \\binom{{10^{{{e}}}}}{{k}}^{{3}}",
        ),
    )


@_variant("sympy_bomb", "product")
def _bomb_product(it: _Item) -> str:
    e = it.rng.randint(6, 12)
    return _bomb(
        it,
        (
            f"\\prod_{{k=1}}^{{10^{{{e}}}}} k",
            f"\\prod_{{k=1}}^{{10^{{{e}}}}} (1+\\frac{{1}}{{k^{{2}}}})",
            f"\\prod_{{i=1}}^{{10^{{{e}}}}}\\prod_{{j=1}}^{{10^{{{e}}}}} (i+j)",
        ),
    )


@_variant("sympy_bomb", "matrix")
def _bomb_matrix(it: _Item) -> str:
    n = it.rng.choice((3, 8, 20, 40))
    rows = " \\\\ ".join(
        " & ".join(str(it.rng.randint(-99, 99)) for _ in range(n)) for _ in range(n)
    )
    env = it.rng.choice(("pmatrix", "bmatrix", "vmatrix"))
    value = f"\\begin{{{env}}} {rows} \\end{{{env}}}"
    value = it.rng.choice((value, f"\\det {value}", f"({value})^{{1000}}", f"{value}^{{-1}}"))
    return f"{it.prose()} \\boxed{{{value}}}"


@_variant("sympy_bomb", "polynomial")
def _bomb_poly(it: _Item) -> str:
    n = it.rng.choice((1000, 100_000, 10**9))
    return _bomb(
        it,
        (
            f"(x+1)^{{{n}}}",
            "(x+y+z)^{200}",
            f"\\frac{{(x+1)^{{{n}}}-1}}{{x}}",
            f"x^{{{n}}} - 1",
            f"(x^{{2}}+1)^{{{n}}} (x-1)^{{{n}}}",
        ),
    )


@_variant("sympy_bomb", "calculus")
def _bomb_calculus(it: _Item) -> str:
    return _bomb(
        it,
        (
            "\\int_{0}^{10^{10}} e^{x^{2}} dx",
            "\\lim_{n \\to \\infty} (1+\\frac{1}{n})^{n^{n}}",
            "\\frac{d^{1000}}{dx^{1000}} x^{10000}",
            "\\int x^{x^{x}} dx",
            "\\lim_{x \\to 0} \\frac{\\sin(x^{1000})}{x^{999}}",
        ),
    )


@_variant("sympy_bomb", "special_functions")
def _bomb_special(it: _Item) -> str:
    return _bomb(
        it,
        (
            "\\Gamma(10^{100})",
            "(10^{10})!",
            "\\zeta(10^{9})",
            "\\sqrt[1000]{2^{100000}}",
            "\\lfloor 10^{10^{5}} \\pi \\rfloor",
            "\\gcd(2^{10^{6}}-1, 3^{10^{6}}-1)",
            "\\log(\\log(10^{10^{10}}))",
            "\\sin(10^{10^{10}})",
        ),
    )


@_variant("sympy_bomb", "relation_and_set")
def _bomb_relation(it: _Item) -> str:
    return _bomb(
        it,
        (
            "x^{10^{9}} = 1",
            "\\{x : x^{1000} = 1\\}",
            "[0, 10^{10^{10}}]",
            "x \\in (0, 10^{10^{10}}]",
            "x^{1000} - 1 \\leq 0",
        ),
    )


# ------------------------------------------------------------------------ megabyte outputs
# A model that loops until the token limit: the whole budget of one repeated unit.


def _fill(it: _Item, unit: str, reserve: int = 256) -> str:
    return unit * max(1, it.room(reserve) // _nbytes(unit))


@_variant("megabyte", "digits")
def _mega_digits(it: _Item) -> str:
    return _fill(it, "1234567890")


@_variant("megabyte", "unclosed_boxed")
def _mega_unclosed(it: _Item) -> str:
    return _fill(it, "\\boxed{")


@_variant("megabyte", "answer_is")
def _mega_answer_is(it: _Item) -> str:
    return _fill(it, it.rng.choice(it.lang.answer_words) + " ")


@_variant("megabyte", "answer_is_number")
def _mega_answer_number(it: _Item) -> str:
    return _fill(it, f"{it.word}: {it.number()}. ")


@_variant("megabyte", "open_braces")
def _mega_braces(it: _Item) -> str:
    return "\\boxed" + _fill(it, "{") + it.stated


@_variant("megabyte", "many_boxes")
def _mega_boxes(it: _Item) -> str:
    return _fill(it, f"\\boxed{{{it.number()}}} ")


@_variant("megabyte", "think_loop")
def _mega_think(it: _Item) -> str:
    return "<think>" + _fill(it, f"{it.prose()} Wait, ")


@_variant("megabyte", "bold_runs")
def _mega_bold(it: _Item) -> str:
    return _fill(it, "**1** ")


@_variant("megabyte", "every_language")
def _mega_languages(it: _Item) -> str:
    unit = " ".join(
        f"{lang.answer_words[0]}: {lang.digits[1]}{lang.digits[8]}" for lang in LANGUAGES.values()
    )
    return _fill(it, unit + "\n")


@_variant("megabyte", "dollars_backslashes")
def _mega_dollars(it: _Item) -> str:
    return _fill(it, it.rng.choice(("$\\", "\\", "$$", "\\(")))


# ------------------------------------------------------------------------ control characters

_C0 = "".join(map(chr, range(0x00, 0x20)))
_C1 = "".join(map(chr, range(0x7F, 0xA0)))


@_variant("control_chars", "nul")
def _ctl_nul(it: _Item) -> str:
    return _sprinkle(it, it.wrap(it.stated), "\x00", rate=0.5)


@_variant("control_chars", "c0")
def _ctl_c0(it: _Item) -> str:
    return _sprinkle(it, it.wrap(it.stated), _C0)


@_variant("control_chars", "c1")
def _ctl_c1(it: _Item) -> str:
    return _sprinkle(it, it.wrap(it.stated), _C1)


@_variant("control_chars", "lone_surrogates")
def _ctl_surrogates(it: _Item) -> str:
    # As an API server's JSON delivers them: escapes that json.loads turns into lone halves.
    escapes = ("\\ud800", "\\udfff", "\\udc00\\ud800", "\\ud83d", "\\udbff")
    text = it.wrap(it.stated)
    cuts = sorted(it.rng.randrange(len(text) + 1) for _ in range(3))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    encoded = [json.dumps(piece)[1:-1] for piece in pieces]
    joined = encoded[0] + "".join(it.rng.choice(escapes) + e for e in encoded[1:])
    return json.loads(f'"{joined}"')


@_variant("control_chars", "noncharacters")
def _ctl_nonchars(it: _Item) -> str:
    return _sprinkle(it, it.wrap(it.stated), "\ufffe\uffff\ufdd0\ufdef\U0010ffff\U0001fffe")


@_variant("control_chars", "replacement_runs")
def _ctl_replacement(it: _Item) -> str:
    return "\ufffd" * it.size(10, 1000, 50_000, unit="\ufffd") + it.wrap(it.stated)


@_variant("control_chars", "ansi_escapes")
def _ctl_ansi(it: _Item) -> str:
    escape = it.rng.choice(("\x1b[2J\x1b[H", "\x1b[31m", "\x1b]0;pwned\x07", "\x1b[6n", "\x9b1m"))
    return f"{escape}{it.prose()}{escape}\n{it.word}: {escape}{it.stated}{escape}"


@_variant("control_chars", "carriage_return")
def _ctl_cr(it: _Item) -> str:
    return f"{it.prose()}\n{it.word}: 999999\r{it.word}: {it.stated}\x0b\x0c\r"


@_variant("control_chars", "line_separators")
def _ctl_separators(it: _Item) -> str:
    sep = it.rng.choice(("\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1e"))
    return f"{it.prose()}{sep}{it.word}:{sep}{it.stated}{sep}\\boxed{{{sep}{it.stated}{sep}}}"


# ------------------------------------------------------------------------ bidi overrides

_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


@_variant("bidi", "rlo_boxed")
def _bidi_rlo_boxed(it: _Item) -> str:
    # Renders as the stated answer; the characters are its reverse.
    return f"{it.prose()} \\boxed{{\u202e{it.stated[::-1]}\u202c}}"


@_variant("bidi", "rlo_announced")
def _bidi_rlo_announced(it: _Item) -> str:
    return f"{it.prose()}\n{it.word}: \u202e{it.stated[::-1]}"


@_variant("bidi", "isolates")
def _bidi_isolates(it: _Item) -> str:
    open_ = it.rng.choice("\u2066\u2067\u2068")
    return it.wrap(f"{open_}{it.stated}\u2069")


@_variant("bidi", "marks_between_digits")
def _bidi_marks(it: _Item) -> str:
    return it.wrap(_sprinkle(it, it.number(), "\u200e\u200f\u061c", rate=0.8))


@_variant("bidi", "reversed_word")
def _bidi_reversed_word(it: _Item) -> str:
    return f"{it.prose()}\n\u202e{it.word[::-1]}\u202c: {it.stated}"


@_variant("bidi", "unbalanced_runs")
def _bidi_runs(it: _Item) -> str:
    k = it.size(10, 1000, 50_000, unit="\u202e")
    return "".join(it.rng.choices(_BIDI, k=k)) + it.wrap(it.stated)


@_variant("bidi", "rtl_text")
def _bidi_rtl(it: _Item) -> str:
    arabic = "الإجابة النهائية هي"
    hebrew = "התשובה הסופית היא"
    return f"{it.prose()}\n{arabic} {it.stated} {hebrew} \u202b{it.number()}\u202c"


# ------------------------------------------------------------------------ zero-width

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_INVISIBLE = "\u00ad\u2061\u2062\u2063\u2064\u180e\u034f\u115f\u3164\u17b4"


@_variant("zero_width", "in_number")
def _zw_number(it: _Item) -> str:
    return it.wrap(_sprinkle(it, it.number(), _ZERO_WIDTH, rate=0.7))


@_variant("zero_width", "in_command")
def _zw_command(it: _Item) -> str:
    zw = it.rng.choice(_ZERO_WIDTH)
    form = it.rng.choice(("\\box{zw}ed{{{s}}}", "\\boxed{zw}{{{s}}}", "\\{zw}boxed{{{s}}}"))
    return f"{it.prose()} " + form.format(zw=zw, s=it.stated)


@_variant("zero_width", "in_answer_word")
def _zw_word(it: _Item) -> str:
    return f"{it.prose()}\n{_sprinkle(it, it.word, _ZERO_WIDTH, 0.5)}: {it.stated}"


@_variant("zero_width", "byte_order_marks")
def _zw_bom(it: _Item) -> str:
    return "\ufeff" + _sprinkle(it, it.wrap(it.stated), "\ufeff", 0.1)


@_variant("zero_width", "joiner_runs")
def _zw_runs(it: _Item) -> str:
    number = it.number()
    run = "\u200d" * it.size(10, 1000, 50_000, unit="\u200d" * len(number))
    return it.wrap(run.join(number))


@_variant("zero_width", "other_invisibles")
def _zw_invisible(it: _Item) -> str:
    return it.wrap(_sprinkle(it, it.stated, _INVISIBLE, 0.6))


@_variant("zero_width", "nothing_visible")
def _zw_only(it: _Item) -> str:
    k = it.size(1, 100, 10_000, unit="\u200b")
    return "".join(it.rng.choices(_ZERO_WIDTH + _INVISIBLE, k=k))


# ------------------------------------------------------------------------ mixed scripts


@_variant("mixed_scripts", "every_answer_word")
def _mix_words(it: _Item) -> str:
    langs = list(LANGUAGES.values())
    it.rng.shuffle(langs)
    lines = [f"{lang.answer_words[0]}: {it.rng.randint(0, 999)}" for lang in langs]
    return "\n".join([*lines, f"{it.word}: {it.stated}"])


@_variant("mixed_scripts", "cyrillic_lookalikes")
def _mix_cyrillic(it: _Item) -> str:
    # Cyrillic А, С, Е, О, З, В in place of Latin A, C, E, O and the digits 0, 3, 8.
    lookalike = str.maketrans("ACEO038B", "АСЕООЗВВ")
    return f"{it.prose()}\nАnswer: {it.stated.translate(lookalike)}"


@_variant("mixed_scripts", "greek_lookalikes")
def _mix_greek(it: _Item) -> str:
    lookalike = str.maketrans("ABEOI01", "ΑΒΕΟΙΟΙ")
    return f"{it.prose()}\nΑnswer: \\boxed{{{it.stated.translate(lookalike)}}}"


@_variant("mixed_scripts", "latin_lookalikes")
def _mix_latin(it: _Item) -> str:
    lookalike = str.maketrans("0158", "OlSB")
    return it.wrap(it.number().translate(lookalike))


@_variant("mixed_scripts", "script_switching")
def _mix_switch(it: _Item) -> str:
    langs = it.rng.sample(list(LANGUAGES.values()), 5)
    prose = " ".join(lang.instruction for lang in langs)
    return f"{prose}\n{langs[-1].answer_words[0]}: {it.stated}"


@_variant("mixed_scripts", "combining_marks")
def _mix_zalgo(it: _Item) -> str:
    marks = "".join(map(chr, range(0x300, 0x370)))
    text = it.wrap(it.stated)
    per = it.size(1, 5, 50, unit="\u0300" * len(text))
    return "".join(ch + "".join(it.rng.choices(marks, k=per)) for ch in text)


@_variant("mixed_scripts", "math_alphanumerics")
def _mix_math(it: _Item) -> str:
    bold = {ord(c): chr(0x1D400 + i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
    bold |= {ord(c): chr(0x1D41A + i) for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")}
    bold |= {ord(c): chr(0x1D7CE + i) for i, c in enumerate(_DIGITS)}
    return f"{it.prose()}\n{it.word.translate(bold)}: {it.stated.translate(bold)}"


# ------------------------------------------------------------------------ homoglyph digits

_DIGIT_SCRIPTS = {
    "arabic_indic": 0x0660,
    "extended_arabic_indic": 0x06F0,
    "nko": 0x07C0,
    "devanagari": 0x0966,
    "bengali": 0x09E6,
    "gujarati": 0x0AE6,
    "telugu": 0x0C66,
    "kannada": 0x0CE6,
    "thai": 0x0E50,
    "lao": 0x0ED0,
    "tibetan": 0x0F20,
    "myanmar": 0x1040,
    "khmer": 0x17E0,
    "mongolian": 0x1810,
    "fullwidth": 0xFF10,
    "math_bold": 0x1D7CE,
    "math_double_struck": 0x1D7D8,
    "math_monospace": 0x1D7F6,
}
_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉"


def _in_script(text: str, start: int) -> str:
    return text.translate({ord(d): chr(start + i) for i, d in enumerate(_DIGITS)})


def _homoglyph(it: _Item) -> str:
    return _in_script(it.number(), it.rng.choice(list(_DIGIT_SCRIPTS.values())))


@_variant("homoglyph_digits", "boxed")
def _homo_boxed(it: _Item) -> str:
    return f"{it.prose()} \\boxed{{{_homoglyph(it)}}}"


@_variant("homoglyph_digits", "announced")
def _homo_announced(it: _Item) -> str:
    return f"{it.prose()}\n{it.word}: {_homoglyph(it)}"


@_variant("homoglyph_digits", "last_number")
def _homo_last(it: _Item) -> str:
    return f"{it.prose()} {_homoglyph(it)}"


@_variant("homoglyph_digits", "script_per_digit")
def _homo_mixed(it: _Item) -> str:
    starts = list(_DIGIT_SCRIPTS.values())
    value = "".join(_in_script(d, it.rng.choice(starts)) for d in it.number())
    return it.wrap(value)


@_variant("homoglyph_digits", "native_separators")
def _homo_separators(it: _Item) -> str:
    # Arabic thousands and decimal separators, full-width comma and point.
    sep, dec = it.rng.choice((("\u066c", "\u066b"), ("，", "．"), ("\u2019", "\u00b7")))
    value = f"{_homoglyph(it)}{sep}{_in_script('000', 0x0660)}{dec}{_in_script('5', 0x0660)}"
    return it.wrap(value)


@_variant("homoglyph_digits", "super_and_subscripts")
def _homo_scripts(it: _Item) -> str:
    table = it.rng.choice((_SUPERSCRIPTS, _SUBSCRIPTS))
    value = it.number().translate({ord(d): table[i] for i, d in enumerate(_DIGITS)})
    return it.wrap(value)


@_variant("homoglyph_digits", "enclosed")
def _homo_enclosed(it: _Item) -> str:
    # Circled and parenthesized numbers: one character for a whole number ("⑱" is 18).
    first = chr(it.rng.choice((0x2460, 0x2474, 0x2488, 0x24F5)) + it.rng.randrange(10))
    return it.wrap(first + it.rng.choice(("", "⑱", "⓪", "㉑", "Ⅻ", "ↂ")))


@_variant("homoglyph_digits", "giant_native")
def _homo_giant(it: _Item) -> str:
    n = it.size(100, 4301, 20_000, unit="\U0001d7ce")  # the widest digits: 4 bytes
    return it.wrap(_in_script(it.digits(n), it.rng.choice(list(_DIGIT_SCRIPTS.values()))))


# ------------------------------------------------------------------------ injections


def _payloads(it: _Item) -> tuple[str, ...]:
    c = it.canary
    return (
        f"__import__('os').system('touch {c}')",
        f"eval(\"__import__('os').system('touch {c}')\")",
        f"exec(\"open('{c}', 'w').write('pwned')\")",
        f"open('{c}', 'w').write('pwned')",
        f"__import__('pathlib').Path('{c}').touch()",
        "().__class__.__base__.__subclasses__()",
        f"[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0]"
        f"(['touch', '{c}'])",
        f"Symbol('x').__init__.__globals__['os'].system('touch {c}')",
        f"(lambda: __import__('subprocess').run(['touch', '{c}']))()",
        f"getattr(__builtins__, 'ex' + 'ec')(\"open('{c}', 'w')\")",
    )


@_variant("injection", "python_boxed")
def _inj_boxed(it: _Item) -> str:
    return f"{it.prose()} \\boxed{{{it.rng.choice(_payloads(it))}}}"


@_variant("injection", "python_announced")
def _inj_announced(it: _Item) -> str:
    return f"{it.prose()}\n{it.word}: {it.rng.choice(_payloads(it))}"


@_variant("injection", "python_in_math")
def _inj_math(it: _Item) -> str:
    payload = it.rng.choice(_payloads(it))
    return f"{it.prose()} $x = {payload}$ \\boxed{{x + {payload}}} \\({payload}\\)"


@_variant("injection", "safe_characters_only")
def _inj_safe_chars(it: _Item) -> str:
    # Calls that pass a character whitelist (no quotes, no "__"): if any layer ever handed
    # them to Python, breakpoint() and input() would hang and exit() would kill the worker.
    call = it.rng.choice(
        ("breakpoint()", "input()", "exit()", "quit()", "help()", "vars()", "globals()[x]")
    )
    return f"{it.prose()} \\boxed{{{call}}}"


@_variant("injection", "latex_input")
def _inj_input(it: _Item) -> str:
    cmd = it.rng.choice(
        (
            "\\input{/etc/passwd}",
            f"\\include{{{it.canary}}}",
            "\\openin5=/etc/shadow \\read5 to \\x \\x",
            "\\verbatiminput{/etc/passwd}",
            "\\lstinputlisting{/etc/passwd}",
        )
    )
    return f"{it.prose()} \\boxed{{{cmd}}} {cmd}"


@_variant("injection", "latex_def")
def _inj_def(it: _Item) -> str:
    cmd = it.rng.choice(
        (
            "\\def\\x{\\x\\x}\\x",
            "\\newcommand{\\r}{\\r}\\r",
            "\\let\\boxed\\relax",
            "\\def\\boxed#1{#1#1}\\boxed{\\boxed{\\boxed{1}}}",
            "\\renewcommand{\\frac}[2]{\\frac{#1}{#2}}\\frac{1}{2}",
            "\\catcode`\\{=12",
        )
    )
    return f"{it.prose()} {cmd} \\boxed{{{cmd}}} \\boxed{{{it.stated}}}"


@_variant("injection", "latex_csname")
def _inj_csname(it: _Item) -> str:
    cmd = it.rng.choice(
        (
            "\\csname boxed\\endcsname{1}",
            "\\expandafter\\csname\\string\\endcsname",
            "\\csname @@end\\endcsname",
            "\\csname\\csname\\csname x\\endcsname\\endcsname\\endcsname",
        )
    )
    return f"{it.prose()} \\boxed{{{cmd}}}"


@_variant("injection", "shell_and_tex_escapes")
def _inj_shell(it: _Item) -> str:
    c = it.canary
    cmd = it.rng.choice(
        (
            f"\\immediate\\write18{{touch {c}}}",
            f"\\directlua{{os.execute('touch {c}')}}",
            f"$(touch {c})",
            f"`touch {c}`",
            f"; touch {c} #",
            "{0.__class__.__mro__[1].__subclasses__}",
            "%n%n%n%s%s%s",
        )
    )
    return it.rng.choice((f"{it.prose()} \\boxed{{{cmd}}}", f"{it.word}: {cmd}", cmd))


@_variant("injection", "in_question_and_choices")
def _inj_question(it: _Item) -> str:
    # The record's question and choices carry payloads too (see `_QUESTION_PAYLOAD`).
    return f"{it.prose()}\n{it.word}: {it.stated}"


# ------------------------------------------------------------------------ unbalanced structure


@_variant("unbalanced", "open_braces")
def _unb_open(it: _Item) -> str:
    k = it.size(1, 10, 1000, 100_000, unit="{")
    return f"{it.prose()} \\boxed{{{it.stated}" + "{" * k


@_variant("unbalanced", "close_braces")
def _unb_close(it: _Item) -> str:
    k = it.size(1, 10, 1000, 100_000, unit="}}")
    return "}" * k + f"{it.prose()} \\boxed{{{it.stated}}}" + "}" * k


@_variant("unbalanced", "think_opens")
def _unb_think_opens(it: _Item) -> str:
    k = it.size(2, 100, 10_000, unit="<think>")
    return "<think>" * k + f"{it.prose()} \\boxed{{{it.stated}}}"


@_variant("unbalanced", "think_closes")
def _unb_think_closes(it: _Item) -> str:
    k = it.size(2, 100, 10_000, unit="</think>" * 2)
    return f"{it.prose()}" + "</think>" * k + f"\\boxed{{{it.stated}}}" + "</think>" * k


@_variant("unbalanced", "think_inverted")
def _unb_think_inverted(it: _Item) -> str:
    return f"</think>{it.prose()}<think>\\boxed{{{it.stated}}}"


@_variant("unbalanced", "think_nested")
def _unb_think_nested(it: _Item) -> str:
    d = it.size(2, 50, 5000, unit="<think></think>")
    return "<think>" * d + it.prose() + "</think>" * (d - 1) + f"\\boxed{{{it.stated}}}"


@_variant("unbalanced", "chat_markers")
def _unb_markers(it: _Item) -> str:
    marker = it.rng.choice(
        ("<|im_start|>answer", "<|im_end|>", "<|endoftext|>", "<|im_start|>", "<|", "|>")
    )
    k = it.size(1, 100, 10_000, unit=marker)
    return marker * k + f"{it.prose()}\n{it.word}: {it.stated}" + marker


@_variant("unbalanced", "dollars")
def _unb_dollars(it: _Item) -> str:
    form = it.rng.choice(("${s}", "$$\\boxed{{{s}}}", "\\boxed{{${s}}}$", "\\({s}\\]", "$${s}$"))
    return f"{it.prose()} " + form.format(s=it.stated)


@_variant("unbalanced", "left_right")
def _unb_left(it: _Item) -> str:
    k = it.size(1, 100, 10_000, unit="\\left(")
    return f"{it.prose()} \\boxed{{" + "\\left(" * k + it.stated + "}"


@_variant("unbalanced", "bold_unclosed")
def _unb_bold(it: _Item) -> str:
    form = it.rng.choice(("**{s}", "{w}: **{s}\n**", "****{s}**", "**{w}**: **{s}"))
    return f"{it.prose()}\n" + form.format(s=it.stated, w=it.word)


@_variant("unbalanced", "answer_tags")
def _unb_tags(it: _Item) -> str:
    k = it.size(1, 100, 10_000, unit="</answer>")
    return f"<answer>{it.prose()} {it.stated}" + "</answer>" * k + "<answer>"


# ------------------------------------------------------------------------ regex bait
# Long runs of what the extraction patterns match piece by piece.


@_variant("regex_bait", "thousands_chain")
def _bait_thousands(it: _Item) -> str:
    sep = it.rng.choice((",", ".", " ", "'"))
    k = it.size(1000, 10_000, 30_000, unit=sep + "000")
    return it.wrap("1" + (sep + "000") * k + sep + "00")


@_variant("regex_bait", "separated_digits")
def _bait_separated(it: _Item) -> str:
    unit = it.rng.choice(("1 ", "1.", "1,", "1.1,", "12 345,"))
    return it.wrap(unit * it.size(1000, 10_000, 30_000, unit=unit))


@_variant("regex_bait", "slash_chain")
def _bait_slashes(it: _Item) -> str:
    unit = it.rng.choice(("1/", "1 / ", "/1", "1/0/"))
    return it.wrap(unit * it.size(1000, 10_000, 30_000, unit=unit) + "1")


@_variant("regex_bait", "star_runs")
def _bait_stars(it: _Item) -> str:
    unit = it.rng.choice(("*", "**", "**1", "** **"))
    return unit * it.size(1000, 10_000, 30_000, unit=unit) + f" {it.stated}"


@_variant("regex_bait", "announcement_without_value")
def _bait_announce(it: _Item) -> str:
    unit = it.rng.choice((f"{it.word} ", f"{it.word}:", f"{it.word}\n", f"{it.word}: is "))
    return unit * it.size(100, 5000, 30_000, unit=unit) + it.stated


@_variant("regex_bait", "copula_runs")
def _bait_copula(it: _Item) -> str:
    unit = it.rng.choice(it.lang.answer_copulas or ("is",)) + " "
    return f"{it.word} " + unit * it.size(100, 1000, 10_000, 30_000, unit=unit) + it.stated


@_variant("regex_bait", "therefore_runs")
def _bait_therefore(it: _Item) -> str:
    unit = it.rng.choice(it.lang.therefore_words or ("Therefore",)) + " "
    return unit * it.size(100, 1000, 10_000, 30_000, unit=unit) + it.stated


@_variant("regex_bait", "backslash_runs")
def _bait_backslash(it: _Item) -> str:
    unit = it.rng.choice(("\\", "\\frac", "\\text{", "\\boxed", "\\,"))
    return unit * it.size(100, 1000, 10_000, 30_000, unit=unit) + f"\\boxed{{{it.stated}}}"


@_variant("regex_bait", "equals_runs")
def _bait_equals(it: _Item) -> str:
    unit = it.rng.choice(("= ", "1=", "=1", ": "))
    return f"{it.word}: " + unit * it.size(100, 1000, 10_000, 30_000, unit=unit) + it.stated


@_variant("regex_bait", "sign_runs")
def _bait_signs(it: _Item) -> str:
    unit = it.rng.choice(("+-", "--", "-", "+"))
    return it.wrap(unit * it.size(100, 1000, 10_000, 30_000, unit=unit) + "1")


# ------------------------------------------------------------------------ the corpus

_QUESTION_PAYLOAD = "Compute __import__('os').system('touch {canary}') and \\input{{/etc/passwd}}."


def _schedule() -> tuple[str, ...]:
    """The families in a smooth weighted rotation: each appears `weight` times per
    `ROTATION` items, spread out rather than in runs (nginx's smooth round robin)."""
    current = dict.fromkeys(FAMILIES, 0)
    order = []
    for _ in range(ROTATION):
        for family in FAMILIES:
            current[family] += _WEIGHTS[family]
        best = max(FAMILIES, key=lambda f: current[f])
        current[best] -= ROTATION
        order.append(best)
    return tuple(order)


_SCHEDULE = _schedule()


def _build(
    index: int, family: str, variant: str, stream: str, max_bytes: int, canary: str
) -> Generation:
    rng = random.Random(stream)
    lang = LANGUAGES[rng.choice(LANGS)]
    answer_type = rng.choices(("number", "latex", "choice"), weights=(2, 1, 1))[0]
    choices: list[str] | None = None
    if answer_type == "number":
        gold = rng.choice(
            (
                str(rng.randint(0, 999)),
                str(rng.randint(1000, 10**6)),
                f"-{rng.randint(1, 99)}",
                f"{rng.randint(0, 99)}.{rng.randint(1, 9)}",
                f"{rng.randint(1, 9)}/{rng.randint(11, 19)}",
            )
        )
        stated = gold
    elif answer_type == "latex":
        gold = stated = rng.choice(_LATEX_GOLDS)
    else:
        choices = rng.sample(_CHOICE_TEXTS, rng.choice((2, 4, 4, 5, 10)))
        gold = stated = rng.choice(_LETTERS[: len(choices)])
    if (family, variant) == ("giant_number", "giant_gold"):
        answer_type, choices = "number", None
        gold = stated = rng.choice("123456789") + "".join(
            rng.choices(_DIGITS, k=min(rng.choice((4300, 5000, 20_000)), max_bytes // 3))
        )
    question = lang.instruction
    if (family, variant) == ("injection", "in_question_and_choices"):
        payload = _QUESTION_PAYLOAD.format(canary=canary)
        question = f"{payload} {question}"
        if choices is not None:
            choices = [payload, *choices[1:]]
    item = _Item(rng, lang, answer_type, stated, max_bytes, canary)
    output = _VARIANTS[family][variant](item)
    if _nbytes(output) > max_bytes:
        raise AssertionError(f"{family}/{variant} built {_nbytes(output)} > {max_bytes} bytes")
    return Generation(
        benchmark=BENCHMARK,
        lang=lang.code,
        id=f"{family}/{variant}/{index}",
        sample=0,
        question=question,
        answer=gold,
        prompt=question,
        output=output,
        finish_reason="length" if family == "megabyte" else "stop",
        answer_type=answer_type,
        choices=choices,
        choice_order=list(range(len(choices))) if choices is not None else None,
    )


def _check(max_bytes: int, canary: str | os.PathLike[str]) -> str:
    if max_bytes < MIN_MAX_BYTES:
        raise ValueError(f"max_bytes must be at least {MIN_MAX_BYTES}, got {max_bytes}")
    return os.fspath(canary)


def iter_hostile(
    n: int,
    seed: int = 0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    canary: str | os.PathLike[str] = DEFAULT_CANARY,
) -> Iterator[Generation]:
    """`hostile_corpus` one item at a time: a megabyte-heavy corpus never sits in memory."""
    canary = _check(max_bytes, canary)
    seen: dict[str, int] = dict.fromkeys(FAMILIES, 0)
    for index in range(n):
        family = _SCHEDULE[index % ROTATION]
        variants = list(_VARIANTS[family])
        variant = variants[seen[family] % len(variants)]
        seen[family] += 1
        stream = f"xling-hostile:{seed}:{index}"
        yield _build(index, family, variant, stream, max_bytes, canary)


def hostile_corpus(
    n: int,
    seed: int = 0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    canary: str | os.PathLike[str] = DEFAULT_CANARY,
) -> list[Generation]:
    """`n` hostile generations, the same for the same arguments (see the module docstring).

    No output is longer than `max_bytes` in UTF-8 (lone surrogates counted as JSON readers
    keep them); injections write to `canary` if anything ever runs them.
    """
    return list(iter_hostile(n, seed, max_bytes, canary=canary))


def one_of_each(
    seed: int = 0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    canary: str | os.PathLike[str] = DEFAULT_CANARY,
) -> list[Generation]:
    """One item of every variant of every family, each with its own drawn parameters."""
    canary = _check(max_bytes, canary)
    pairs = [(f, v) for f in FAMILIES for v in _VARIANTS[f]]
    return [
        _build(i, f, v, f"xling-hostile-each:{seed}:{i}", max_bytes, canary)
        for i, (f, v) in enumerate(pairs)
    ]


def variants(family: str) -> tuple[str, ...]:
    return tuple(_VARIANTS[family])


def family_of(record: Generation | Score) -> str:
    return record.id.split("/", 1)[0]


def variant_of(record: Generation | Score) -> str:
    return record.id.split("/", 2)[1]


# ------------------------------------------------------------------------ watched scoring


class ScoringHang(RuntimeError):
    """No score arrived for longer than any item's hard timeout can explain."""


def watched(scores: Iterable[Score], *, hang_after_s: float) -> Iterator[Score]:
    """`scores` (a `score_many` run) pulled in a background thread and passed on, raising
    ScoringHang when none arrives for `hang_after_s` seconds.

    A hang is what the per-item timeout exists to rule out, so it must fail a test or a
    bench with a message instead of blocking it for ever. On a hang the worker processes
    started since the call are terminated (by pid) before the error is raised, and the
    pulling thread is a daemon, so the caller can exit. An exception from `scores`
    (a broken pool, say) is re-raised here.
    """
    before = {p.pid for p in active_children()}
    inbox: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=64)

    def pull() -> None:
        try:
            for score in scores:
                inbox.put(("score", score))
        except BaseException as exc:  # handed to the caller's thread, which re-raises it
            inbox.put(("raised", exc))
        else:
            inbox.put(("done", None))

    threading.Thread(target=pull, name="hostile-watched", daemon=True).start()
    count = 0
    while True:
        try:
            kind, value = inbox.get(timeout=hang_after_s)
        except queue.Empty:
            for child in active_children():
                if child.pid not in before:
                    child.terminate()
            raise ScoringHang(
                f"no score for {hang_after_s:g} s after {count} scores: scoring hangs"
            ) from None
        if kind == "done":
            return
        if kind == "raised":
            raise cast(BaseException, value)
        count += 1
        yield cast(Score, value)
