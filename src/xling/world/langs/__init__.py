"""The languages of the synthetic world: one TOML table per registry code, `<code>.toml`
(en.toml describes the layout; vocab.py the template conventions and the count rules).

The tables are package data read through importlib.resources, so an installed wheel has
them too. Each table is checked before it becomes a LangData: a misspelled key anywhere
(`templtes`, a template's `qq`, a noun form no template or count rule reads) is one line
naming the file, the key and the closest valid key, instead of a KeyError at render time
on whichever problem happens to use it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping
from importlib import resources
from typing import Any, NoReturn

from xling.config import closest
from xling.world.problems import N_ITEMS, N_NAMES, PROBLEM_TYPES
from xling.world.vocab import (
    COUNT_RULES,
    GENDERS,
    CountRule,
    LangData,
    Noun,
    TemplateError,
    TypeTemplates,
)

__all__ = ["load_lang", "parse_lang", "shipped_langs"]

_REQUIRED_KEYS = ("code", "native_digits", "count", "answer", "names", "items", "templates")
_TOP_KEYS = (*_REQUIRED_KEYS, "nouns", "arithmetic")
ARITHMETIC_KEYS = ("+", "-", "×", "÷", "=")
_TEMPLATE_KEYS = ("q", "s")
_FORM_REFERENCE = re.compile(r"\{\w+\.(\w+)")  # `{item.pl}` reads the form `pl`
# A problem picks its people by index, the same index in every language; names alternate
# masculine and feminine so that a problem's people keep their gender in every translation.
_NAME_GENDERS = ("m", "f")


def shipped_langs() -> tuple[str, ...]:
    """The codes of the languages this package has tables for."""
    files = resources.files(__name__).iterdir()
    return tuple(sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml")))


def load_lang(code: str) -> LangData:
    """The checked LangData of `langs/<code>.toml`; a TemplateError if there is none."""
    resource = resources.files(__name__).joinpath(f"{code}.toml")
    if not resource.is_file():
        raise TemplateError(
            f"no synthetic-benchmark templates for language {code!r}: add "
            f"src/xling/world/langs/{code}.toml (see langs/en.toml for the layout)"
        )
    text = resource.read_text(encoding="utf-8")
    return parse_lang(text, source=f"langs/{code}.toml", code=code)


def parse_lang(text: str, *, source: str, code: str | None = None) -> LangData:
    """The LangData of a language table's TOML `text`; `source` names it in errors, and
    `code`, when given, is the code the table must declare."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{source}: not valid TOML: {exc}") from None
    return _TableReader(source).lang(table, code)


class _TableReader:
    """Reads one language table; every error names `source` and where in it."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> NoReturn:
        raise TemplateError(
            f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}"
        )

    def check_keys(
        self,
        where: str,
        table: Mapping[str, Any],
        valid: Collection[str],
        required: Collection[str] = (),
    ) -> None:
        for key in table:
            if key not in valid:
                close = closest(key, valid)
                hint = f"did you mean {close!r}?" if close else f"valid: {', '.join(valid)}"
                self.fail(where, f"unknown key {key!r} ({hint})")
        for key in required:
            if key not in table:
                self.fail(where, f"missing key {key!r}")

    def expect(self, where: str, value: Any, kind: type, what: str) -> Any:
        if not isinstance(value, kind):
            self.fail(where, f"expected {what}, got {type(value).__name__} {value!r}")
        return value

    def lang(self, table: Mapping[str, Any], expected_code: str | None) -> LangData:
        self.check_keys("", table, _TOP_KEYS, _REQUIRED_KEYS)
        code = self.expect("code", table["code"], str, "a string")
        if expected_code is not None and code != expected_code:
            self.fail("code", f"declares code {code!r}, expected {expected_code!r}")
        native_digits = self.expect("native_digits", table["native_digits"], bool, "a boolean")
        answer = self.expect("answer", table["answer"], str, "a string")
        if not answer.endswith("{boxed}"):
            self.fail("answer", "the answer line must end with {boxed}")
        rule = self.count_rule(table["count"])
        templates = self.templates(table["templates"])
        readable_forms = {*rule.forms, *self.forms_read(templates)}
        # Names are never counted; items and fixed nouns are (`{k:item}`, `{p:cur}`).
        names = self.nouns("names", table["names"], readable_forms, rule=None)
        items = self.nouns("items", table["items"], readable_forms, rule=rule)
        nouns = self.fixed_nouns(table.get("nouns", {}), readable_forms, rule)
        if len(names) != N_NAMES:
            self.fail("names", f"needs {N_NAMES} people, has {len(names)}")
        if len(items) != N_ITEMS:
            self.fail("items", f"needs {N_ITEMS} items, has {len(items)}")
        for index, name in enumerate(names):
            if name.gender != _NAME_GENDERS[index % 2]:
                self.fail(
                    f"names[{index}]",
                    f"g must be {_NAME_GENDERS[index % 2]!r}: names alternate masculine, feminine",
                )
        return LangData(
            code=code,
            native_digits=native_digits,
            names=names,
            items=items,
            nouns=nouns,
            count=rule.count,
            answer=answer,
            templates=templates,
            arithmetic=self.arithmetic(table.get("arithmetic", {})),
        )

    def arithmetic(self, value: Any) -> dict[str, str]:
        table = self.expect("arithmetic", value, dict, "a table of + - × ÷ = and their words")
        if table:
            self.check_keys("arithmetic", table, ARITHMETIC_KEYS, ARITHMETIC_KEYS)
        for key, word in table.items():
            if not isinstance(word, str) or not word.strip():
                self.fail(f"arithmetic.{key}", "expected a non-empty string")
        return dict(table)

    def count_rule(self, value: Any) -> CountRule:
        name = self.expect("count", value, str, "the name of a count rule")
        if name not in COUNT_RULES:
            close = closest(name, COUNT_RULES)
            hint = f"did you mean {close!r}?" if close else f"known: {', '.join(COUNT_RULES)}"
            self.fail("count", f"unknown count rule {name!r} ({hint})")
        return COUNT_RULES[name]

    def templates(self, value: Any) -> dict[str, TypeTemplates]:
        table = self.expect("templates", value, dict, "a table of problem types")
        # A missing type is check_templates' business: a language in progress still renders
        # the types it has.
        self.check_keys("templates", table, PROBLEM_TYPES)
        templates: dict[str, TypeTemplates] = {}
        for type_name, entry in table.items():
            where = f"templates.{type_name}"
            entry = self.expect(where, entry, dict, "a table with q and s")
            self.check_keys(where, entry, _TEMPLATE_KEYS, _TEMPLATE_KEYS)
            question = self.expect(f"{where}.q", entry["q"], str, "a string")
            steps = self.expect(f"{where}.s", entry["s"], list, "a list of step templates")
            for index, step in enumerate(steps):
                self.expect(f"{where}.s[{index}]", step, str, "a string")
            templates[type_name] = TypeTemplates(q=question, s=tuple(steps))
        return templates

    @staticmethod
    def forms_read(templates: Mapping[str, TypeTemplates]) -> set[str]:
        texts = [text for t in templates.values() for text in (t.q, *t.s)]
        return {form for text in texts for form in _FORM_REFERENCE.findall(text)}

    def noun_table(self, where: str, value: Any, readable_forms: Collection[str]) -> dict[str, str]:
        table = self.expect(where, value, dict, "a table of noun forms")
        self.check_keys(where, table, ("sg", "g", *sorted(readable_forms)), ("sg",))
        for key, form in table.items():
            self.expect(f"{where}.{key}", form, str, "a string")
        if "g" in table and table["g"] not in GENDERS:
            self.fail(f"{where}.g", f"must be one of {', '.join(GENDERS)}, got {table['g']!r}")
        return table

    def nouns(
        self, where: str, value: Any, readable_forms: Collection[str], rule: CountRule | None
    ) -> tuple[Noun, ...]:
        entries = self.expect(where, value, list, "a list of noun tables")
        tables = [
            self.noun_table(f"{where}[{i}]", entry, readable_forms)
            for i, entry in enumerate(entries)
        ]
        # Templates read a form (or the gender) of whichever noun a problem draws, so one
        # noun without it would break only the problems that happen to draw that noun.
        first = set(tables[0]) if tables else set()
        for index, table in enumerate(tables[1:], start=1):
            if missing := sorted(first - set(table)):
                self.fail(f"{where}[{index}]", f"lacks key {missing[0]!r}, which {where}[0] has")
            if extra := sorted(set(table) - first):
                self.fail(f"{where}[{index}]", f"has key {extra[0]!r}, which {where}[0] lacks")
        if rule is not None and tables:
            self.check_countable(f"{where}[0]", tables[0], rule)
        return tuple(_noun(t) for t in tables)

    def fixed_nouns(
        self, value: Any, readable_forms: Collection[str], rule: CountRule
    ) -> dict[str, Noun]:
        table = self.expect("nouns", value, dict, "a table of nouns")
        nouns: dict[str, Noun] = {}
        for key, entry in table.items():
            noun_table = self.noun_table(f"nouns.{key}", entry, readable_forms)
            self.check_countable(f"nouns.{key}", noun_table, rule)
            nouns[key] = _noun(noun_table)
        return nouns

    def check_countable(self, where: str, table: Mapping[str, str], rule: CountRule) -> None:
        for form in rule.forms:
            if form not in table:
                self.fail(where, f"lacks form {form!r}, which the count rule reads")


def _noun(table: Mapping[str, str]) -> Noun:
    forms = {k: v for k, v in table.items() if k not in ("sg", "g")}
    return Noun(table["sg"], g=table.get("g"), **forms)
