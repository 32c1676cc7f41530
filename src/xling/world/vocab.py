"""The data a language provides, and the small grammar helpers templates use.

A language is a TOML table, `langs/<code>.toml` (read by `xling.world.langs`).
Its templates are `str.format` strings rendered with:

* numbers: `{k}` is the number in the language's digits; `{k:item}` is the number counted
  with the noun bound to `item` ("5 apples", "5 яблок", "แอปเปิล 5 ลูก", "5個"), by the
  language's count rule, one of `COUNT_RULES` below, named by the TOML's `count` key;
* nouns: `{item}` is the noun's base form, `{item.pl}` (any form name) one of its forms;
  `{name:a|b}` / `{item:a|b|c}` alternatives pick by the noun's grammatical gender, in
  the order masculine|feminine|neuter (`{name:కొన్నాడు|కొన్నది}`, `{item:uno|una}`);
* in solution steps, `{E}` is the step's arithmetic, e.g. "3 × 4 = 12".

Templates never contain literal digits, so native-digit rendering stays consistent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from xling.errors import XlingError

GENDERS = ("m", "f", "n")


class TemplateError(XlingError):
    """A synthetic-benchmark template or language table is missing or malformed."""


class Noun:
    """A word with named forms (`sg`, `pl`, `gen`, `few`, `many`, `cl`, …) and an
    optional grammatical gender ("m" | "f" | "n")."""

    __slots__ = ("_forms", "gender")

    def __init__(self, base: str, *, g: str | None = None, **forms: str) -> None:
        if g is not None and g not in GENDERS:
            raise ValueError(f"gender must be one of {GENDERS}, got {g!r}")
        self._forms = {"sg": base, **forms}
        self.gender = g

    def __getattr__(self, form: str) -> str:
        try:
            return self._forms[form]
        except KeyError:
            raise AttributeError(f"noun {self._forms['sg']!r} has no form {form!r}") from None

    def __str__(self) -> str:
        return self._forms["sg"]

    def __repr__(self) -> str:
        return f"Noun({self._forms!r}, g={self.gender!r})"

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self)
        if "|" not in spec:
            raise TemplateError(f"bad format spec {spec!r} for noun {self}")
        if self.gender is None:
            raise TemplateError(f"noun {self} has no gender, cannot choose in {spec!r}")
        alternatives = spec.split("|")
        index = GENDERS.index(self.gender)
        if index >= len(alternatives):
            raise TemplateError(f"{spec!r} has no alternative for gender {self.gender!r}")
        return alternatives[index]


# count(value, digits, noun) -> the counted phrase; `digits` is `value` already rendered.
CountFn = Callable[[int, str, Noun], str]


@dataclass(frozen=True)
class TypeTemplates:
    q: str  # the question
    s: tuple[str, ...]  # one template per solution step, each containing {E} once


@dataclass(frozen=True)
class LangData:
    code: str
    native_digits: bool  # render numbers in the registry's native digits by default
    names: tuple[Noun, ...]  # people; index i is masculine for even i, feminine for odd i
    items: tuple[Noun, ...]  # apple, pencil, notebook, orange, cookie, balloon (this order)
    nouns: Mapping[str, Noun]  # fixed nouns usable as count specs: cur, hour, year, …
    count: CountFn
    answer: str  # the final line, with {boxed}; must end with {boxed}
    templates: Mapping[str, TypeTemplates] = field(default_factory=dict)
    # The language's words for + - × ÷ and "=", for steps written out in words
    # (`arithmetic = "localized"`): "2 por 6 es 12" instead of the shared "2 × 6 = 12".
    arithmetic: Mapping[str, str] = field(default_factory=dict)


# --- count rules: how a language writes "<number> <noun>" ------------------------------
# A language names its rule in its TOML (`count = "sg-pl"`); languages that count the same
# way share a rule, so a fix to one is a fix to all of them.


def count_sg_pl(value: int, digits: str, noun: Noun) -> str:
    """The number, then the singular for exactly 1 and the plural `pl` otherwise:
    "1 apple", "5 apples", "0 apples"."""
    return f"{digits} {noun.sg if value == 1 else noun.pl}"


def count_noun_first_sg_pl(value: int, digits: str, noun: Noun) -> str:
    """As sg-pl with the noun before the number: "chungwa 1", "machungwa 5"."""
    return f"{noun.sg if value == 1 else noun.pl} {digits}"


def count_slavic(value: int, digits: str, noun: Noun) -> str:
    """Russian numeral agreement in nominative/inanimate-accusative position:
    1, 21, 31… take the base form; 2-4, 22-24… take `few`; the rest (11-14 too) `many`:
    "21 яблоко", "3 яблока", "5 яблок", "12 яблок"."""
    if value % 10 == 1 and value % 100 != 11:
        form = noun.sg
    elif 2 <= value % 10 <= 4 and not 12 <= value % 100 <= 14:
        form = noun.few
    else:
        form = noun.many
    return f"{digits} {form}"


def count_classifier_spaced_noun(value: int, digits: str, noun: Noun) -> str:
    """The number with the classifier `cl` fused to it, a space, the noun: "5টি আপেল"."""
    return f"{digits}{noun.cl} {noun.sg}"


def count_classifier_noun(value: int, digits: str, noun: Noun) -> str:
    """Number, classifier `cl` and noun written solid, as in unspaced scripts: "5个苹果"."""
    return f"{digits}{noun.cl}{noun.sg}"


def count_classifier_only(value: int, digits: str, noun: Noun) -> str:
    """The number and classifier `cl` alone, "5個"; the templates place the noun, since
    it goes elsewhere in the sentence ("りんごを5個")."""
    return f"{digits}{noun.cl}"


def count_noun_number_classifier(value: int, digits: str, noun: Noun) -> str:
    """Noun, number, classifier `cl`, spaced: "แอปเปิล 5 ลูก"."""
    return f"{noun.sg} {digits} {noun.cl}"


@dataclass(frozen=True)
class CountRule:
    count: CountFn
    # The noun forms `count` reads besides the base form: each counted noun must have them,
    # and a language's nouns may carry them even where no template names them.
    forms: tuple[str, ...]


COUNT_RULES: dict[str, CountRule] = {
    "sg-pl": CountRule(count_sg_pl, forms=("pl",)),
    "noun-first-sg-pl": CountRule(count_noun_first_sg_pl, forms=("pl",)),
    "slavic": CountRule(count_slavic, forms=("few", "many")),
    "classifier-spaced-noun": CountRule(count_classifier_spaced_noun, forms=("cl",)),
    "classifier-noun": CountRule(count_classifier_noun, forms=("cl",)),
    "classifier-only": CountRule(count_classifier_only, forms=("cl",)),
    "noun-number-classifier": CountRule(count_noun_number_classifier, forms=("cl",)),
}
