"""Typed records that flow between the pipeline stages, and their JSONL form.

benchmark -> Problem -> (prompt) -> Generation -> Score -> metrics
Every record carries the same key (benchmark, lang, id, sample) so each stage can resume.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from xling.errors import XlingError
from xling.text import sanitize

Key = tuple[str, str, str, int]
R = TypeVar("R")


ANSWER_TYPES = ("number", "latex", "choice")


@dataclass(frozen=True)
class Problem:
    benchmark: str
    id: str  # the same problem has the same id in every language
    lang: str
    question: str
    answer: str  # gold: a number, a LaTeX expression, or (choice) the correct choice's text
    answer_type: str = "number"  # one of ANSWER_TYPES
    # Multiple choice: as loaded, the correct choice first; after `xling.choice.shuffle_choices`
    # the shown order (letter A first), `choice_order` the loaded index of each shown choice
    # and `answer` the gold letter.
    choices: tuple[str, ...] = ()
    choice_order: tuple[int, ...] = ()


@dataclass(frozen=True)
class Generation:
    benchmark: str
    lang: str
    id: str
    sample: int
    question: str
    answer: str  # gold, kept here so `xling score` needs only the run directory
    prompt: str  # the user message as sent (before any chat template)
    output: str
    finish_reason: str | None = None
    n_output_tokens: int | None = None
    answer_type: str = "number"
    choices: list[str] | None = None  # multiple choice: the choices as shown, letter A first
    choice_order: list[int] | None = None  # the loaded index of each shown choice

    @property
    def key(self) -> Key:
        return (self.benchmark, self.lang, self.id, self.sample)


@dataclass(frozen=True)
class Score:
    benchmark: str
    lang: str
    id: str
    sample: int
    gold: str
    pred: str | None  # the extracted final answer, normalized; None when none was found
    correct: bool
    status: str  # "ok" | "no_answer" | "timeout" | "error"
    boxed: bool  # the final answer was given in \boxed{}
    think_ok: bool | None  # None when the response uses no <think> block
    format_ok: bool
    detected_lang: str | None  # registry code, "other" (no registry script), None: no letters
    lang_confidence: float
    off_target: bool | None  # None when the response has no text to identify
    detail: str = ""
    # Strict scoring: only an explicit final answer (a box or a final-answer announcement)
    # counts; `pred`/`correct`/`status` above are the flexible score (the fallback chain).
    # None in scores written before strict scoring existed.
    pred_strict: str | None = None
    correct_strict: bool | None = None
    # The language of the thinking (before the last "</think>") and of the answer after it,
    # as `detected_lang`; None when the output has no "</think>" or that part no letters, and
    # in scores written before these fields existed. PolyMath's language consistency.
    think_lang: str | None = None
    answer_lang: str | None = None

    @property
    def key(self) -> Key:
        return (self.benchmark, self.lang, self.id, self.sample)


def to_dict(record: Any) -> dict[str, Any]:
    return asdict(record)


def from_dict(cls: type[R], data: dict[str, Any]) -> R:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def key_of(data: dict[str, Any]) -> Key:
    return (data["benchmark"], data["lang"], str(data["id"]), int(data["sample"]))


_GENERATION_TEXT = ("benchmark", "lang", "question", "prompt", "output")


def generation_from_row(data: dict[str, Any], where: str) -> Generation:
    """A Generation from a generations.jsonl row written by any xling version, or by hand.

    Fields are type-checked here, once, so a bad row fails as one line naming it rather
    than deep inside scoring (where an int gold once crashed the error handler itself); a
    number where text belongs (`"answer": 42`, `"id": 7`) is taken as its text, and all text
    is sanitized (`xling.text`).
    """
    missing = [k for k in (*_GENERATION_TEXT, "id", "sample", "answer") if k not in data]
    if missing:
        raise XlingError(f"{where}: generation row lacks {', '.join(missing)}")
    row = {k: v for k, v in data.items() if k in _GENERATION_FIELDS}
    for key in _GENERATION_TEXT:
        if not isinstance(row[key], str):
            raise XlingError(f"{where}: {key} must be text, got {type(row[key]).__name__}")
        row[key] = sanitize(row[key])
    for key in ("id", "answer"):
        value = row[key]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise XlingError(f"{where}: {key} must be text or a number, got {value!r}"[:200])
        row[key] = sanitize(str(value))
    if isinstance(row["sample"], bool) or not isinstance(row["sample"], int):
        raise XlingError(f"{where}: sample must be an integer, got {row['sample']!r}"[:200])
    if row.get("answer_type", "number") not in ANSWER_TYPES:
        raise XlingError(
            f"{where}: answer_type must be one of {', '.join(ANSWER_TYPES)}, "
            f"got {row['answer_type']!r}"[:200]
        )
    if row.get("choices") is not None:
        choices = row["choices"]
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise XlingError(f"{where}: choices must be a list of texts")
        row["choices"] = [sanitize(c) for c in choices]
    return Generation(**row)


_GENERATION_FIELDS = frozenset(f.name for f in fields(Generation))
