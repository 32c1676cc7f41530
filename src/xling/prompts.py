"""Problem -> chat request. The instruction comes from the language registry."""

from __future__ import annotations

from xling.backends.base import Request
from xling.choice import render_choices
from xling.languages import get_language
from xling.records import Problem


def user_message(problem: Problem) -> str:
    """The question, its lettered choices (multiple choice, in the shown order), then the
    localized step-by-step / \\boxed{} instruction."""
    parts = [problem.question.strip()]
    if problem.choices:
        parts.append(render_choices(problem.choices))
    parts.append(get_language(problem.lang).instruction)
    return "\n\n".join(parts)


def build_request(problem: Problem, system_prompt: str | None = None) -> Request:
    messages: list[dict[str, str]] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": user_message(problem)})
    return Request(messages=tuple(messages))
