"""What every importer produces: the tool's samples as xling sees them, and how a tool's task
name says which benchmark and language a sample belongs to."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xling.errors import XlingError
from xling.extract import gold_problem
from xling.languages import get_language

TOOLS = ("lm-eval", "lighteval", "polymath")


@dataclass(frozen=True)
class SourceSample:
    """One response of the tool's run, keyed as xling keys it, with the tool's own verdict."""

    benchmark: str
    lang: str
    id: str
    sample: int
    question: str
    answer: str  # gold
    prompt: str  # what the tool sent (lm-eval: the chat-templated context)
    output: str
    where: str  # "file:line" (or "file, row N"), for messages
    source_correct: bool | None = None  # the tool's verdict on this response; None: none kept
    source_pred: str | None = None  # the tool's extracted answer, where it records one
    source_scores: dict[str, Any] = field(default_factory=dict)  # every per-sample score it kept
    answer_type: str = "number"

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.benchmark, self.lang, self.id, self.sample)


@dataclass
class SourceRun:
    """A tool's run read back: its samples, and what its own summary says."""

    tool: str
    model: str
    files: list[str]
    samples: list[SourceSample]
    tool_version: str | None = None
    source_metric: str | None = None  # which of the tool's scores is `source_correct`
    # (benchmark, lang) -> the accuracy the tool's own results file reports for that cell
    reported: dict[tuple[str, str], float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # generation settings it recorded
    notes: list[str] = field(default_factory=list)


def verdict(value: Any, where: str, name: str) -> bool:
    """A per-sample score as right/wrong: lm-eval and lighteval store 0/1 floats (or bools)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise XlingError(f"{where}: score {name} must be 0 or 1 per sample, got {value!r}"[:300])


def checked_gold(answer: Any, answer_type: str, where: str) -> str:
    """The gold answer as text, refused (file:line) when xling could never match it."""
    if isinstance(answer, bool) or not isinstance(answer, str | int | float):
        raise XlingError(f"{where}: the gold answer must be text or a number, got {answer!r}"[:300])
    text = str(answer).strip()
    problem = gold_problem(text, answer_type)
    if problem:
        raise XlingError(f"{where}: {problem}")
    return text


def text_field(value: Any, what: str, where: str) -> str:
    if not isinstance(value, str):
        raise XlingError(f"{where}: {what} must be text, got {type(value).__name__}")
    return value


class TaskNames:
    """A tool's task name -> (benchmark, language).

    `pattern` is a template with `{lang}` and optionally `{bench}` ('{bench}_{lang}',
    'mgsm_native_cot_{lang}') or a regular expression with named groups `lang` and optionally
    `bench`. Without one, the language is the last part of the name (split at `_ : | -`) that
    is a registry code and the benchmark the part before it (mgsm_native_cot_bn ->
    mgsm_native_cot, bn; mgsm:bn -> mgsm, bn). `bench` names the benchmark outright.
    """

    def __init__(self, pattern: str | None = None, bench: str | None = None) -> None:
        self.bench = bench.strip() if bench else None
        self.pattern = pattern
        self.regex = _compile(pattern) if pattern else None
        self._cache: dict[str, tuple[str, str]] = {}

    def __call__(self, task: str, where: str) -> tuple[str, str]:
        if task not in self._cache:
            self._cache[task] = self._parse(task, where)
        return self._cache[task]

    def _parse(self, task: str, where: str) -> tuple[str, str]:
        if self.regex is not None:
            match = self.regex.fullmatch(task)
            if match is None:
                raise XlingError(
                    f"{where}: task {task!r} does not match --lang-from-task {self.pattern!r}"
                )
            lang = match.group("lang")
            bench = match.groupdict().get("bench") or task
        else:
            parts = re.split(r"([_:|\-])", task)
            found = [i for i in range(0, len(parts), 2) if _is_code(parts[i])]
            if not found:
                raise XlingError(
                    f"{where}: no language code in task name {task!r}; say where it is with "
                    "--lang-from-task, e.g. '{bench}_{lang}'"
                )
            i = found[-1]
            lang = parts[i]
            bench = "".join(parts[: max(i - 1, 0)]) or task
        try:
            code = get_language(lang).code
        except XlingError:
            raise XlingError(
                f"{where}: task {task!r}: {lang!r} is not a language xling knows"
            ) from None
        return (self.bench or bench), code


def _is_code(part: str) -> bool:
    try:
        get_language(part)
    except XlingError:
        return False
    return True


def _compile(pattern: str) -> re.Pattern[str]:
    if "(?P<" in pattern:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise XlingError(
                f"--lang-from-task {pattern!r}: not a regular expression ({exc})"
            ) from None
    else:
        if "{lang}" not in pattern:
            raise XlingError(f"--lang-from-task {pattern!r} must contain {{lang}}")
        pieces = re.split(r"(\{bench\}|\{lang\})", pattern)
        groups = {"{bench}": "(?P<bench>.+)", "{lang}": "(?P<lang>[A-Za-z]+(?:-[A-Za-z]+)?)"}
        regex = re.compile("".join(groups.get(p, re.escape(p)) for p in pieces))
    if "lang" not in regex.groupindex:
        raise XlingError(f"--lang-from-task {pattern!r} has no group named lang")
    return regex


def gather_files(
    paths: Sequence[Path], in_folder: Callable[[Path], Iterable[Path]], none_found: str
) -> list[Path]:
    """The files given, and those `in_folder` picks from each folder given; a missing path,
    or nothing found at all (`none_found` says what was looked for), is one line."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(in_folder(path))
        elif path.is_file():
            found.append(path)
        else:
            raise XlingError(f"{path}: no such file or folder")
    if not found:
        raise XlingError(f"{', '.join(map(str, paths))}: {none_found}")
    return found
