"""A tool's samples -> an xling run directory (docs/run-format.md, docs/interop.md).

The generations are written as `xling eval` writes them and scored by xling's own scoring
stage, so every downstream command (score, compare, fit, report) reads an imported run like
any other. The tool's own per-sample verdicts go to `source_scores.jsonl` rather than into
scores.jsonl: `xling score RUN` rewrites scores.jsonl from the generations and would drop
them. `import.json` says where the run came from and how far xling's re-score agrees with
the tool's.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from xling import __version__
from xling.analysis.rundata import TRAIN_JSON, train_record
from xling.errors import XlingError
from xling.evaluate import (
    GENERATIONS,
    SCORES,
    EvalConfig,
    metrics_stage,
    score_stage,
)
from xling.interop.samples import SourceRun, SourceSample
from xling.jsonl import AppendLog, read_json_object, read_jsonl, write_json_atomic
from xling.languages import ALL_CODES, parse_langs
from xling.lock import run_lock
from xling.provenance import environment, file_sha256, write_env_json
from xling.records import Generation, to_dict

SOURCE_SCORES = "source_scores.jsonl"
IMPORT_JSON = "import.json"


@dataclass(frozen=True)
class CellAgreement:
    """One benchmark × language: xling's re-score beside the tool's verdicts."""

    benchmark: str
    lang: str
    n: int  # responses
    xling_accuracy: float
    source_accuracy: float | None  # mean of the tool's per-sample verdicts (None: it kept none)
    reported: float | None  # what the tool's own results file says for this cell
    compared: int  # responses with a verdict from both
    agree: int
    xling_only: int  # right for xling, wrong for the tool
    source_only: int  # wrong for xling, right for the tool

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ImportSummary:
    out: Path
    tool: str
    model: str
    n_samples: int
    cells: list[CellAgreement]
    metrics: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def compared(self) -> int:
        return sum(c.compared for c in self.cells)

    @property
    def agree(self) -> int:
        return sum(c.agree for c in self.cells)


def train_metadata(train_langs: str | None, train_json: Path | None) -> dict[str, Any] | None:
    """train.json for an imported run that stands for a trained model (docs/study-format.md):
    from --train-langs, or a copy of a training run's own train.json."""
    if train_langs and train_json:
        raise XlingError("give --train-langs or --train-json, not both")
    if train_json is not None:
        data = read_json_object(train_json)
        if "train_langs" not in data and "num_train_langs" not in data:
            raise XlingError(f"{train_json}: has neither train_langs nor num_train_langs")
        return data
    if train_langs:
        return train_record(parse_langs(train_langs))
    return None


def write_run(
    source: SourceRun,
    out: Path,
    *,
    train: dict[str, Any] | None = None,
    workers: int = 2,
    timeout_s: float = 5.0,
    console: Console | None = None,
) -> ImportSummary:
    """Write `source` as a run directory at `out`, score it, and compare the verdicts."""
    console = console or Console(quiet=True)
    samples = _checked(source)
    out = Path(out)
    if (out / GENERATIONS).exists() or (out / SCORES).exists():
        raise XlingError(f"{out} already holds a run; import into a new --out (or delete it first)")
    out.mkdir(parents=True, exist_ok=True)
    with run_lock(out):
        write_json_atomic(out / "config.json", _config(source, samples, out))
        write_env_json(out, _environment(source))
        AppendLog(out / GENERATIONS).append(to_dict(_generation(s)) for s in samples)
        AppendLog(out / SOURCE_SCORES).append(_source_row(source, s) for s in samples)
        if train is not None:
            write_json_atomic(out / TRAIN_JSON, train)
        score_stage(out, workers=workers, timeout_s=timeout_s, console=console)
        metrics = metrics_stage(out, model=source.model)
        cells = agreement(samples, read_jsonl(out / SCORES), source.reported)
        write_json_atomic(out / IMPORT_JSON, _import_record(source, cells, train))
    return ImportSummary(
        out=out,
        tool=source.tool,
        model=source.model,
        n_samples=len(samples),
        cells=cells,
        metrics=metrics,
        notes=list(source.notes),
    )


def _environment(source: SourceRun) -> dict[str, Any]:
    """env.json of an imported run: this invocation, and the tool's files it came from (with
    their hashes: the tool's own environment is in them, where it wrote one)."""
    files = {str(f): file_sha256(Path(f)) for f in source.files if Path(f).is_file()}
    return environment(
        model={"name": source.model, "imported": True},
        data={"files": files},
        extra={"imported_from": source.tool, "tool_version": source.tool_version},
    )


def _checked(source: SourceRun) -> list[SourceSample]:
    if not source.samples:
        raise XlingError(f"{', '.join(source.files) or 'the input'}: no samples to import")
    seen: dict[tuple[str, str, str, int], str] = {}
    for s in source.samples:
        if s.key in seen:
            bench, lang, pid, sample = s.key
            raise XlingError(
                f"{s.where}: {bench}/{lang} problem {pid!r} sample {sample} appears twice "
                f"(first at {seen[s.key]}); pass each run's files once"
            )
        seen[s.key] = s.where
    per_cell: dict[tuple[str, str], set[str]] = defaultdict(set)
    for s in source.samples:
        per_cell[(s.benchmark, s.lang)].add(s.id)
    by_bench: dict[str, list[tuple[str, set[str]]]] = defaultdict(list)
    for (bench, lang), ids in per_cell.items():
        by_bench[bench].append((lang, ids))
    for bench, cells in by_bench.items():
        sizes = {lang: len(ids) for lang, ids in cells}
        if len({frozenset(ids) for _, ids in cells}) > 1:
            shown = ", ".join(f"{lang}: {n}" for lang, n in sorted(sizes.items()))
            source.notes.append(
                f"{bench}: the languages hold different problems ({shown}); compare and fit "
                "pair runs by problem id, so only the shared ones are compared"
            )
    order = {c: i for i, c in enumerate(ALL_CODES)}
    return sorted(
        source.samples,
        key=lambda s: (s.benchmark, order.get(s.lang, 99), _id_key(s.id), s.sample),
    )


def _id_key(pid: str) -> tuple[int, int | str]:
    return (0, int(pid)) if pid.isdigit() else (1, pid)


def _generation(s: SourceSample) -> Generation:
    return Generation(
        benchmark=s.benchmark,
        lang=s.lang,
        id=s.id,
        sample=s.sample,
        question=s.question,
        answer=s.answer,
        prompt=s.prompt,
        output=s.output,
        answer_type=s.answer_type,
    )


def _source_row(source: SourceRun, s: SourceSample) -> dict[str, Any]:
    return {
        "benchmark": s.benchmark,
        "lang": s.lang,
        "id": s.id,
        "sample": s.sample,
        "tool": source.tool,
        "metric": source.source_metric,
        "correct": s.source_correct,
        "pred": s.source_pred,
        "scores": s.source_scores,
        "where": s.where,
    }


def _config(source: SourceRun, samples: list[SourceSample], out: Path) -> dict[str, Any]:
    """config.json as `xling eval` writes it (the EvalConfig fields), with what the tool
    recorded where it recorded it, and `imported` saying the rest came from elsewhere."""
    benches = sorted({s.benchmark for s in samples})
    langs = [c for c in ALL_CODES if any(s.lang == c for s in samples)]
    n = max(s.sample for s in samples) + 1
    known = {f.name for f in dataclasses.fields(EvalConfig)}
    settings = {k: v for k, v in source.settings.items() if k in known}
    cfg = EvalConfig(
        model=source.model,
        bench=benches[0] if len(benches) == 1 else "imported",
        bench_name=benches[0] if len(benches) == 1 else None,
        langs=",".join(langs),
        n=n,
        out=str(out),
        **settings,
    )
    record = json.loads(json.dumps(dataclasses.asdict(cfg)))
    record["extensions"] = []
    record["imported"] = {
        "tool": source.tool,
        "tool_version": source.tool_version,
        "files": source.files,
        "source_metric": source.source_metric,
        "benchmarks": benches,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "xling_version": __version__,
        "note": "generated by the tool, not by xling: only model, bench, langs, n and the "
        "settings the tool recorded are meaningful here",
    }
    return record


def agreement(
    samples: list[SourceSample],
    scores: Any,
    reported: dict[tuple[str, str], float],
) -> list[CellAgreement]:
    """Per cell: xling's accuracy, the tool's, and how many responses they judge alike."""
    xling = {
        (r["benchmark"], r["lang"], str(r["id"]), int(r["sample"])): bool(r["correct"])
        for r in scores
    }
    cells: dict[tuple[str, str], list[SourceSample]] = defaultdict(list)
    for s in samples:
        cells[(s.benchmark, s.lang)].append(s)
    rows = []
    for (bench, lang), group in cells.items():
        ours = [xling[s.key] for s in group]
        theirs = [(xling[s.key], s.source_correct) for s in group if s.source_correct is not None]
        rows.append(
            CellAgreement(
                benchmark=bench,
                lang=lang,
                n=len(group),
                xling_accuracy=sum(ours) / len(ours),
                source_accuracy=(sum(t for _, t in theirs) / len(theirs)) if theirs else None,
                reported=reported.get((bench, lang)),
                compared=len(theirs),
                agree=sum(x == t for x, t in theirs),
                xling_only=sum(x and not t for x, t in theirs),
                source_only=sum(t and not x for x, t in theirs),
            )
        )
    return rows


def _import_record(
    source: SourceRun, cells: list[CellAgreement], train: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "tool": source.tool,
        "tool_version": source.tool_version,
        "model": source.model,
        "files": source.files,
        "source_metric": source.source_metric,
        "samples": sum(c.n for c in cells),
        "compared": sum(c.compared for c in cells),
        "agree": sum(c.agree for c in cells),
        "xling_only": sum(c.xling_only for c in cells),
        "source_only": sum(c.source_only for c in cells),
        "cells": [c.as_dict() for c in cells],
        "trained": train is not None,
        "notes": source.notes,
    }
