"""PolyMath's inference output -> SourceRun.

PolyMath (QwenLM/PolyMath) asks every inference engine to write
`output/<model>/<level>/<lang>.jsonl`, one line per problem: `idx`, `question`, `answer`
(gold, LaTeX), `thinking_pred` (a reasoning model's thinking, else empty) and `answer_pred`;
its `eval/run_eval.py` then writes `output/<model>/score.json` with, per language and level,
`accuracy` in percent. It keeps no per-sample verdict, so the agreement is per cell: the
accuracy xling's re-score gives beside the one score.json reports.

Benchmarks are named as xling's `polymath` preset names them (`polymath-low` …; PolyMath's
script calls the second level "middle", its data "medium") and ids as xling gives them
(`<level>-<idx>`), so an imported run pairs with `xling eval --bench polymath`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xling.errors import XlingError
from xling.interop.samples import (
    SourceRun,
    SourceSample,
    checked_gold,
    gather_files,
    text_field,
)
from xling.jsonl import read_json_object, read_jsonl
from xling.languages import get_language
from xling.text import sanitize

LEVELS = {"low": "low", "medium": "medium", "middle": "medium", "high": "high", "top": "top"}


def find_files(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """The <level>/<lang>.jsonl files among `paths` (files, or a model folder searched
    through) and the score.json files beside their level folders."""
    found = gather_files(
        paths,
        lambda folder: (
            p for p in sorted(folder.rglob("*.jsonl")) if p.parent.name.lower() in LEVELS
        ),
        "no PolyMath output (<model>/<level>/<lang>.jsonl)",
    )
    scores = sorted({p.parent.parent / "score.json" for p in found})
    return found, [p for p in scores if p.is_file()]


def read(paths: list[Path], *, model: str | None = None) -> SourceRun:
    files, score_files = find_files(paths)
    run = SourceRun(tool="polymath", model="", files=[], samples=[])
    for path in files:
        level = LEVELS.get(path.parent.name.lower())
        if level is None:
            raise XlingError(
                f"{path}: PolyMath output lies in a level folder ({', '.join(LEVELS)}), "
                f"not {path.parent.name!r}"
            )
        try:
            lang = get_language(path.stem).code
        except XlingError:
            raise XlingError(f"{path}: {path.stem!r} is not a language xling knows") from None
        for lineno, row in enumerate(read_jsonl(path), start=1):
            run.samples.append(_sample(row, f"{path}:{lineno}", level, lang))
        run.files.append(str(path))
    for path in score_files:
        run.reported.update(_reported(path, {(s.benchmark, s.lang) for s in run.samples}))
        run.files.append(str(path))
    if not score_files:
        run.notes.append("no score.json beside the outputs: PolyMath's own accuracy is unknown")
    names = {Path(p).parent.parent.name for p in run.files if p.endswith(".jsonl")}
    run.model = model or (names.pop() if len(names) == 1 else "polymath outputs")
    run.source_metric = "score.json accuracy (per language and level)"
    return run


def _sample(row: dict[str, Any], where: str, level: str, lang: str) -> SourceSample:
    missing = [k for k in ("idx", "question", "answer", "answer_pred") if k not in row]
    if missing:
        raise XlingError(f"{where}: a PolyMath output line needs {', '.join(missing)}")
    idx = row["idx"]
    if isinstance(idx, bool) or not isinstance(idx, int | str):
        raise XlingError(f"{where}: idx must be an integer, got {idx!r}"[:300])
    question = sanitize(text_field(row["question"], "question", where))
    answer_pred = text_field(row["answer_pred"], "answer_pred", where)
    thinking = text_field(row.get("thinking_pred") or "", "thinking_pred", where)
    # xling reads a reasoning model's answer after its </think>, as PolyMath's scorer reads
    # only answer_pred.
    output = f"<think>\n{thinking}\n</think>\n{answer_pred}" if thinking.strip() else answer_pred
    return SourceSample(
        benchmark=f"polymath-{level}",
        lang=lang,
        id=f"{level}-{idx}",
        sample=0,
        question=question,
        answer=checked_gold(row["answer"], "latex", where),
        prompt=question,
        output=sanitize(output),
        where=where,
        answer_type="latex",
    )


def _reported(path: Path, cells: set[tuple[str, str]]) -> dict[tuple[str, str], float]:
    data = read_json_object(path)
    out = {}
    for bench, lang in cells:
        level = bench.removeprefix("polymath-")
        per_lang = data.get(lang)
        if not isinstance(per_lang, dict):
            continue
        cell = per_lang.get(level) or (per_lang.get("middle") if level == "medium" else None)
        value = cell.get("accuracy") if isinstance(cell, dict) else None
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            raise XlingError(f"{path}: {lang}.{level}.accuracy must be a percentage, got {value!r}")
        out[(bench, lang)] = value / 100
    return out
