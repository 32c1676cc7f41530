"""One entry point for every tool: read its files, write the run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from xling.errors import XlingError
from xling.interop import lighteval, lm_eval, polymath
from xling.interop.samples import TOOLS, SourceRun, TaskNames
from xling.interop.writer import ImportSummary, write_run
from xling.records import ANSWER_TYPES


@dataclass(frozen=True)
class ImportOptions:
    """How to read a tool's files (docs/interop.md); a field a tool has no use for is
    refused for that tool rather than ignored."""

    lang_from_task: str | None = None
    bench: str | None = None
    question_field: str | None = None
    answer_field: str | None = None
    id_field: str | None = None
    source_filter: str | None = None
    source_metric: str | None = None
    answer_type: str = "number"
    model: str | None = None


_USED_BY = {
    "lm-eval": {"lang_from_task", "bench", "question_field", "answer_field", "id_field",
                "source_filter", "answer_type", "model"},
    "lighteval": {"lang_from_task", "bench", "question_field", "source_metric", "answer_type",
                  "model"},
    "polymath": {"model"},
}  # fmt: skip
_FLAGS = {"answer_type": "--answer-type"}


def read_source(tool: str, paths: list[Path], options: ImportOptions) -> SourceRun:
    if tool not in TOOLS:
        raise XlingError(f"unknown tool {tool!r}; choose one of {', '.join(TOOLS)}")
    if options.answer_type not in ANSWER_TYPES:
        raise XlingError(
            f"--answer-type must be one of {', '.join(ANSWER_TYPES)}, got {options.answer_type!r}"
        )
    defaults = ImportOptions()
    unused = [
        name
        for name in ImportOptions.__dataclass_fields__
        if getattr(options, name) != getattr(defaults, name) and name not in _USED_BY[tool]
    ]
    if unused:
        flags = ", ".join(_FLAGS.get(n, "--" + n.replace("_", "-")) for n in unused)
        raise XlingError(f"{flags}: not an option for {tool} files (docs/interop.md)")
    if not paths:
        raise XlingError(f"give the {tool} output files or folders to import")
    if tool == "lm-eval":
        return lm_eval.read(
            paths,
            lm_eval.Options(
                names=TaskNames(options.lang_from_task, options.bench),
                question_field=options.question_field,
                answer_field=options.answer_field,
                id_field=options.id_field,
                source_filter=options.source_filter,
                answer_type=options.answer_type,
                model=options.model,
            ),
        )
    if tool == "lighteval":
        return lighteval.read(
            paths,
            lighteval.Options(
                names=TaskNames(options.lang_from_task, options.bench),
                question_field=options.question_field,
                source_metric=options.source_metric,
                answer_type=options.answer_type,
                model=options.model,
            ),
        )
    return polymath.read(paths, model=options.model)


def import_run(
    tool: str,
    paths: list[Path],
    out: Path,
    options: ImportOptions = ImportOptions(),
    *,
    train: dict[str, Any] | None = None,
    workers: int = 2,
    timeout_s: float = 5.0,
    console: Console | None = None,
) -> ImportSummary:
    """Read `tool`'s files at `paths` and write them as an xling run at `out`."""
    source = read_source(tool, [Path(p) for p in paths], options)
    return write_run(
        source, out, train=train, workers=workers, timeout_s=timeout_s, console=console
    )
