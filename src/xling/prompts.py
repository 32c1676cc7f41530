"""Problem -> chat request. The instruction comes from the language registry."""

from __future__ import annotations

from xling.backends.base import Request
from xling.choice import render_choices
from xling.protocols import DEFAULT_PROTOCOL, instruction
from xling.records import Problem


def user_message(problem: Problem, protocol: str = DEFAULT_PROTOCOL) -> str:
    """The question, its lettered choices (multiple choice, in the shown order), then the
    protocol's localized instruction (the paper's: step by step, answer in \\boxed{})."""
    parts = [problem.question.strip()]
    if problem.choices:
        parts.append(render_choices(problem.choices))
    parts.append(instruction(problem.lang, protocol))
    return "\n\n".join(parts)


def build_request(
    problem: Problem, system_prompt: str | None = None, *, protocol: str = DEFAULT_PROTOCOL
) -> Request:
    messages: list[dict[str, str]] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": user_message(problem, protocol)})
    return Request(messages=tuple(messages))
