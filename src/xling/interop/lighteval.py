"""lighteval details -> SourceRun.

`lighteval … --save-details` writes, per task,
`details/<model>/<datetime>/details_<task>_<datetime>.parquet`: one row per document with
the columns `doc` (lighteval's Doc: `query`, `choices`, `gold_index`, `id`, `task_name`,
`specific`, `original_query`, …), `model_response` (`text`: one text per sample, `input`:
the prompt as sent, …) and `metric` (each per-sample score by name). The same rows written
as JSON Lines (one object per row, e.g. `Dataset.to_json`) are read too. The task name is
`<suite>|<task>|<few-shot>` or `<task>|<few-shot>` (lighteval's "mgsm:bn|0").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xling.errors import XlingError
from xling.interop.samples import (
    SourceRun,
    SourceSample,
    TaskNames,
    checked_gold,
    gather_files,
    text_field,
    verdict,
)
from xling.jsonl import read_jsonl
from xling.text import sanitize

_DETAILS = re.compile(r"details_(?P<task>.+)_(?P<date>[^_]+)\.(?P<ext>parquet|jsonl|json)")


@dataclass(frozen=True)
class Options:
    names: TaskNames
    question_field: str | None = None  # a key of doc.specific, else doc's own field
    source_metric: str | None = None
    answer_type: str = "number"
    model: str | None = None


def find_files(paths: list[Path]) -> list[Path]:
    return gather_files(
        paths,
        lambda folder: (p for p in sorted(folder.rglob("details_*")) if _DETAILS.fullmatch(p.name)),
        "no lighteval details (details_<task>_<datetime>.parquet); run lighteval with "
        "--save-details",
    )


def task_core(task: str) -> str:
    """'suite|mgsm:bn|0' or 'mgsm:bn|0' -> 'mgsm:bn'."""
    parts = task.split("|")
    if len(parts) >= 2 and parts[-1].isdigit():
        parts = parts[:-1]
    return parts[-1]


def read(paths: list[Path], options: Options) -> SourceRun:
    run = SourceRun(tool="lighteval", model="", files=[], samples=[])
    metrics: set[str] = set()
    models: set[str] = set()
    for path in find_files(paths):
        match = _DETAILS.fullmatch(path.name)
        rows = _rows(path)
        for where, row in rows:
            doc = _object(row, "doc", where)
            task = match["task"] if match else doc.get("task_name")
            if not isinstance(task, str) or not task:
                raise XlingError(f"{where}: no task name (file name or doc.task_name)")
            bench, lang = options.names(task_core(task), where)
            run.samples.extend(_samples(row, doc, where, bench, lang, options, metrics))
        run.files.append(str(path))
        # lighteval files details under details/<model name, "/" kept>/<datetime>/.
        parts = path.parts
        if "details" in parts[:-2]:
            top = len(parts) - 1 - parts[::-1].index("details")
            if top < len(parts) - 3:
                models.add("/".join(parts[top + 1 : -2]))
    run.model = options.model or (models.pop() if len(models) == 1 else "lighteval model")
    run.source_metric = ",".join(sorted(metrics)) or None
    return run


def _rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for a file that is no parquet
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise XlingError(f"{path}: not a readable parquet file ({message})") from None
        return [(f"{path}, row {i}", row) for i, row in enumerate(table.to_pylist(), start=1)]
    return [(f"{path}:{i}", row) for i, row in enumerate(read_jsonl(path), start=1)]


def _object(row: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = row.get(name)
    if not isinstance(value, dict):
        raise XlingError(f"{where}: a lighteval detail row needs an object {name!r}")
    return value


def _samples(
    row: dict[str, Any],
    doc: dict[str, Any],
    where: str,
    bench: str,
    lang: str,
    options: Options,
    metrics: set[str],
) -> list[SourceSample]:
    response = _object(row, "model_response", where)
    texts = response.get("text")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise XlingError(
            f"{where}: model_response.text must be a list of generated texts (a generative "
            "task); log-likelihood tasks cannot be imported"
        )
    scores = row.get("metric") or {}
    if not isinstance(scores, dict):
        raise XlingError(f"{where}: metric must be an object of per-sample scores")
    scores = {k: v for k, v in scores.items() if v is not None}
    correct = None
    name = options.source_metric or next(iter(scores), None)
    if name is not None and len(texts) == 1:
        if name not in scores:
            raise XlingError(
                f"{where}: no score {name!r} (it has {', '.join(scores) or 'none'}); "
                "pick one with --source-metric"
            )
        correct = verdict(scores[name], where, name)
        metrics.add(name)
    choices = doc.get("choices")
    gold_index = doc.get("gold_index", 0)
    if isinstance(gold_index, list):
        gold_index = gold_index[0] if gold_index else 0
    if not isinstance(choices, list) or not isinstance(gold_index, int):
        raise XlingError(f"{where}: doc needs choices and gold_index (the gold answer)")
    if not 0 <= gold_index < len(choices):
        raise XlingError(f"{where}: gold_index {gold_index} is not one of {len(choices)} choices")
    gold = checked_gold(choices[gold_index], options.answer_type, where)
    specific = doc.get("specific") if isinstance(doc.get("specific"), dict) else {}
    if options.question_field is not None:
        source = specific if options.question_field in specific else doc
        if options.question_field not in source:
            raise XlingError(f"{where}: no field {options.question_field!r} in doc or doc.specific")
        question = source[options.question_field]
    else:
        question = doc.get("original_query") or doc.get("query")
    question = text_field(question, "the question (doc.query)", where)
    prompt = response.get("input")
    if not isinstance(prompt, str) or not prompt:
        prompt = question
    pid = doc.get("id")
    if pid in (None, ""):
        pid = where.rsplit(" ", 1)[-1] if ", row " in where else where.rsplit(":", 1)[-1]
        pid = str(int(pid) - 1)  # 0-based, as lighteval numbers documents
    return [
        SourceSample(
            benchmark=bench,
            lang=lang,
            id=str(pid),
            sample=i,
            question=sanitize(question),
            answer=gold,
            prompt=sanitize(prompt),
            output=sanitize(text),
            where=where,
            source_correct=correct,
            source_scores=scores if i == 0 else {},
            answer_type=options.answer_type,
        )
        for i, text in enumerate(texts)
    ]
