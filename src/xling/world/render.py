"""Render a StructuredProblem as (question, worked solution) in one language."""

from __future__ import annotations

import string
from functools import cache
from typing import Any, NamedTuple

from xling.languages import get_language
from xling.world.langs import load_lang
from xling.world.problems import PROBLEM_TYPES, StructuredProblem
from xling.world.vocab import LangData, Noun, TemplateError, TypeTemplates


@cache
def lang_data(code: str) -> LangData:
    """The template data of a registry language; a clear error when it has none."""
    return load_lang(get_language(code).code)


def _templates(data: LangData, type_name: str, n_steps: int) -> TypeTemplates:
    try:
        tpl = data.templates[type_name]
    except KeyError:
        raise TemplateError(
            f"langs/{data.code}.toml has no templates for problem type {type_name!r}"
        ) from None
    if len(tpl.s) != n_steps:
        raise TemplateError(
            f"langs/{data.code}.toml, {type_name}: {len(tpl.s)} step templates for {n_steps} steps"
        )
    return tpl


class _Formatter(string.Formatter):
    """str.format with the template conventions of xling.world.vocab."""

    def __init__(self, data: LangData, nouns: dict[str, Noun], digits: str | None) -> None:
        self.data = data
        self.nouns = nouns
        self.table = None if digits is None else str.maketrans("0123456789", digits)

    def num(self, value: int) -> str:
        text = str(value)
        return text if self.table is None else text.translate(self.table)

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            text = self.num(value)
            if not format_spec:
                return text
            try:
                noun = self.nouns[format_spec]
            except KeyError:
                raise TemplateError(
                    f"langs/{self.data.code}.toml: no noun {format_spec!r} to count with"
                ) from None
            return self.data.count(value, text, noun)
        return format(value, format_spec)


class RenderedProblem(NamedTuple):
    question: str
    steps: tuple[str, ...]  # one line of worked arithmetic per step
    answer_line: str  # the localized final-answer sentence, ending in \boxed{answer}

    @property
    def solution(self) -> str:
        return "\n".join((*self.steps, self.answer_line))


ARITHMETIC_STYLES = ("shared", "localized")


def render(
    problem: StructuredProblem,
    lang: str,
    *,
    native_digits: bool | None = None,
    arithmetic: str = "shared",
) -> tuple[str, str]:
    """(question, worked solution) in `lang`; the solution's last line ends in
    \\boxed{answer}. `native_digits` overrides the language table's default; `arithmetic`
    "shared" writes steps as "2 × 6 = 12" in every language, "localized" in the language's
    own words ("2 por 6 es 12")."""
    parts = render_parts(problem, lang, native_digits=native_digits, arithmetic=arithmetic)
    return parts.question, parts.solution


def render_parts(
    problem: StructuredProblem,
    lang: str,
    *,
    native_digits: bool | None = None,
    arithmetic: str = "shared",
) -> RenderedProblem:
    """The question, the solution's step lines and its final-answer line, apart."""
    if arithmetic not in ARITHMETIC_STYLES:
        raise TemplateError(f"arithmetic {arithmetic!r}: use one of {', '.join(ARITHMETIC_STYLES)}")
    data = lang_data(lang)
    words = None
    if arithmetic == "localized":
        if not data.arithmetic:
            raise TemplateError(
                f"langs/{data.code}.toml has no [arithmetic] words for localized steps"
            )
        words = data.arithmetic
    use_native = data.native_digits if native_digits is None else native_digits
    digits = get_language(data.code).digits if use_native else None
    tpl = _templates(data, problem.type, len(problem.steps))
    nouns: dict[str, Noun] = dict(data.nouns)
    for slot, index in problem.vocab.items():
        nouns[slot] = (data.items if slot.startswith("item") else data.names)[index]
    fmt = _Formatter(data, nouns, digits)
    context: dict[str, Any] = {**nouns, **problem.params}
    try:
        question = fmt.format(tpl.q, **context)
        lines = [
            fmt.format(s, E=st.render(fmt.num, words), **context)
            for s, st in zip(tpl.s, problem.steps, strict=True)
        ]
    except (KeyError, AttributeError, IndexError, ValueError) as exc:
        raise TemplateError(f"langs/{data.code}.toml, {problem.type}: {exc!r}") from None
    boxed = "\\boxed{" + fmt.num(problem.answer) + "}"
    return RenderedProblem(question, tuple(lines), data.answer.format(boxed=boxed))


def check_templates(code: str) -> None:
    """Raise TemplateError unless `code` has templates for every problem type."""
    data = lang_data(code)
    missing = sorted(set(PROBLEM_TYPES) - set(data.templates))
    extra = sorted(set(data.templates) - set(PROBLEM_TYPES))
    if missing or extra:
        raise TemplateError(f"langs/{code}.toml: missing types {missing}, unknown types {extra}")
