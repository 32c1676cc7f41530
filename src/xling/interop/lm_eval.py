"""lm-evaluation-harness output -> SourceRun.

`lm_eval run … --log_samples --output_path OUT` writes, under OUT/<model>/,
`results_<datetime>.json` (per task: "<metric>,<filter>" values, the model, the version) and
one `samples_<task>_<datetime>.jsonl` per task: one line per document and filter, with
`doc_id`, `doc`, `target`, `arguments` (gen_args_0.arg_0 is the prompt as sent), `resps`
(per request, one text per repeat), `filtered_resps`, `filter`, `metrics` (the names of the
per-sample scores on the line) and each score. Only generation tasks (generate_until) can
be imported: xling scores text.
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
    text_field,
    verdict,
)
from xling.jsonl import read_json_object, read_jsonl
from xling.text import sanitize

# lm-eval names files <kind>_<task>_<datetime>; the datetime holds no "_" (isoformat with
# ":" replaced by "-"), so it is everything after the last one.
_SAMPLES = re.compile(r"samples_(?P<task>.+)_(?P<date>[^_]+)\.jsonl")
_RESULTS = re.compile(r"results_(?P<date>[^_]+)\.json")
# The filters lm-eval's math tasks name, most lenient first: the one xling's flexible score
# is closest to is the default verdict.
PREFERRED_FILTERS = ("flexible-extract", "none", "strict-match")


@dataclass(frozen=True)
class Options:
    names: TaskNames
    question_field: str | None = None
    answer_field: str | None = None
    id_field: str | None = None
    source_filter: str | None = None
    answer_type: str = "number"
    model: str | None = None


def find_files(paths: list[Path]) -> tuple[list[Path], list[Path], list[str]]:
    """The samples and results files among `paths` (files, or folders searched through);
    of several runs of one task only the newest, as lm-eval itself picks them."""
    samples: list[Path] = []
    results: list[Path] = []
    for path in paths:
        if path.is_dir():
            samples.extend(sorted(path.rglob("samples_*.jsonl")))
            results.extend(sorted(path.rglob("results_*.json")))
        elif _SAMPLES.fullmatch(path.name):
            samples.append(path)
        elif _RESULTS.fullmatch(path.name):
            results.append(path)
        elif not path.exists():
            raise XlingError(f"{path}: no such file or folder")
        else:
            raise XlingError(
                f"{path}: not an lm-eval output file (samples_<task>_<datetime>.jsonl or "
                "results_<datetime>.json)"
            )
    notes = []
    newest: dict[tuple[Path, str], Path] = {}
    for path in samples:
        match = _SAMPLES.fullmatch(path.name)
        assert match is not None
        key = (path.parent, match["task"])
        if key in newest:
            older, path = sorted((newest[key], path), key=lambda p: _date(p))
            notes.append(f"{older}: an older run of task {match['task']} beside a newer, left out")
        newest[key] = path
    if not newest:
        raise XlingError(
            f"{', '.join(map(str, paths))}: no samples_<task>_<datetime>.jsonl; run lm_eval "
            "with --log_samples"
        )
    return sorted(newest.values()), sorted(set(results)), notes


def _date(path: Path) -> str:
    return path.stem.rsplit("_", 1)[-1]


def read(paths: list[Path], options: Options) -> SourceRun:
    sample_files, result_files, notes = find_files(paths)
    results = _results_for(sample_files, result_files)
    run = SourceRun(tool="lm-eval", model="", files=[], samples=[], notes=notes)
    chosen_filters: set[str] = set()
    metric_names: set[str] = set()
    for path in sample_files:
        task = _SAMPLES.fullmatch(path.name)["task"]  # type: ignore[index]
        bench, lang = options.names(task, str(path))
        docs = _documents(path)
        task_filters: set[str] = set()
        for _doc_id, (first, lines) in sorted(docs.items()):
            chosen = _choose_filter(lines, options.source_filter, first)
            task_filters.add(chosen)
            run.samples.extend(_samples(lines, chosen, bench, lang, options, metric_names))
        chosen_filters |= task_filters
        run.files.append(str(path))
        report = results.get(path)
        if report is not None:
            metric = _reported(report[1], task, task_filters, metric_names)
            if metric is not None:
                run.reported[(bench, lang)] = metric
    if len(chosen_filters) > 1:
        run.notes.append(f"tasks were judged under different filters: {sorted(chosen_filters)}")
    metric = ",".join(sorted(metric_names)) or "?"
    run.source_metric = f"{metric},{'/'.join(sorted(chosen_filters))}"
    summary = next(iter(results.values()), None)
    run.files.extend(sorted({str(p) for p, _ in results.values()}))
    run.model = options.model or _model_name(summary[1] if summary else {}) or "lm-eval model"
    run.tool_version = (summary[1].get("lm_eval_version") if summary else None) or None
    if summary:
        run.settings = _settings(summary[1])
    return run


def _results_for(
    sample_files: list[Path], result_files: list[Path]
) -> dict[Path, tuple[Path, dict[str, Any]]]:
    """Each samples file's results file: the one of the same run (same folder and datetime),
    else the only one in its folder."""
    loaded = {p: read_json_object(p) for p in result_files}
    for path, data in loaded.items():
        if not isinstance(data.get("results", {}), dict):
            raise XlingError(f"{path}: 'results' must be an object of tasks")
    found = {}
    for path in sample_files:
        same = [r for r in loaded if r.parent == path.parent and _date(r) == _date(path)]
        beside = [r for r in loaded if r.parent == path.parent]
        pick = same or (beside if len(beside) == 1 else [])
        if pick:
            found[path] = (pick[0], loaded[pick[0]])
    return found


def _documents(path: Path) -> dict[int, tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """doc_id -> (the first line's place, [(place, line) per filter])."""
    docs: dict[int, tuple[str, list[tuple[str, dict[str, Any]]]]] = {}
    for lineno, line in enumerate(read_jsonl(path), start=1):
        where = f"{path}:{lineno}"
        missing = [k for k in ("doc_id", "doc", "resps") if k not in line]
        if missing:
            raise XlingError(f"{where}: an lm-eval sample line needs {', '.join(missing)}")
        doc_id = line["doc_id"]
        if isinstance(doc_id, bool) or not isinstance(doc_id, int):
            raise XlingError(f"{where}: doc_id must be an integer, got {doc_id!r}"[:300])
        if not isinstance(line["doc"], dict):
            raise XlingError(f"{where}: doc must be an object")
        entry = docs.setdefault(doc_id, (where, []))
        filters = [ln.get("filter", "none") for _, ln in entry[1]]
        if line.get("filter", "none") in filters:
            raise XlingError(
                f"{where}: document {doc_id} under filter {line.get('filter', 'none')!r} "
                f"appears twice (first at {entry[0]})"
            )
        entry[1].append((where, line))
    if not docs:
        raise XlingError(f"{path}: holds no samples")
    return docs


def _choose_filter(lines: list[tuple[str, dict[str, Any]]], wanted: str | None, where: str) -> str:
    names = [line.get("filter", "none") for _, line in lines]
    if wanted is not None:
        if wanted not in names:
            raise XlingError(
                f"{where}: no filter {wanted!r} on this document (it has {', '.join(names)})"
            )
        return wanted
    return next((f for f in PREFERRED_FILTERS if f in names), names[0])


def _samples(
    lines: list[tuple[str, dict[str, Any]]],
    chosen: str,
    bench: str,
    lang: str,
    options: Options,
    metric_names: set[str],
) -> list[SourceSample]:
    where, line = next((w, ln) for w, ln in lines if ln.get("filter", "none") == chosen)
    outputs = _outputs(line["resps"], where)
    doc = line["doc"]
    scores: dict[str, Any] = {}
    for _, ln in lines:
        for name in ln.get("metrics") or []:
            if name in ln:
                scores[f"{name},{ln.get('filter', 'none')}"] = ln[name]
    names = [m for m in line.get("metrics") or [] if m in line]
    correct = pred = None
    if names and len(outputs) == 1:
        # With repeats lm-eval scores the filtered (first or majority) response, not each one.
        correct = verdict(line[names[0]], where, names[0])
        metric_names.add(names[0])
        filtered = line.get("filtered_resps")
        if isinstance(filtered, list) and filtered and isinstance(filtered[0], str):
            pred = filtered[0]
    question = _field(doc, options.question_field, ("question",), where, "question")
    if question is None:
        question = _prompt(line, where)
    gold_value = _field(doc, options.answer_field, ("answer_number",), where, "answer")
    if gold_value is None:
        if "target" not in line:
            raise XlingError(f"{where}: no target and no --answer-field to take the gold from")
        gold_value = line["target"]
    gold = checked_gold(gold_value, options.answer_type, where)
    pid = _field(doc, options.id_field, (), where, "id")
    pid = str(line["doc_id"]) if pid is None else str(pid)
    prompt = _prompt(line, where)
    return [
        SourceSample(
            benchmark=bench,
            lang=lang,
            id=pid,
            sample=i,
            question=sanitize(text_field(question, "the question", where)),
            answer=gold,
            prompt=sanitize(prompt),
            output=sanitize(text),
            where=where,
            source_correct=correct,
            source_pred=pred,
            source_scores=scores if i == 0 else {},
            answer_type=options.answer_type,
        )
        for i, text in enumerate(outputs)
    ]


def _outputs(resps: Any, where: str) -> list[str]:
    if (
        not isinstance(resps, list)
        or len(resps) != 1
        or not isinstance(resps[0], list)
        or not resps[0]
        or not all(isinstance(t, str) for t in resps[0])
    ):
        raise XlingError(
            f"{where}: resps must hold one request's generated texts ([[text, …]]), as a "
            "generate_until task writes them; log-likelihood tasks cannot be imported"
        )
    return list(resps[0])


def _field(
    doc: dict[str, Any], name: str | None, defaults: tuple[str, ...], where: str, what: str
) -> Any:
    if name is not None:
        if name not in doc:
            raise XlingError(
                f"{where}: doc has no field {name!r} (the --{what}-field); it has "
                f"{', '.join(sorted(doc)) or 'none'}"
            )
        return doc[name]
    return next((doc[k] for k in defaults if doc.get(k) is not None), None)


def _prompt(line: dict[str, Any], where: str) -> str:
    args = line.get("arguments")
    if isinstance(args, dict):
        first = args.get("gen_args_0")
        if isinstance(first, dict) and isinstance(first.get("arg_0"), str):
            return first["arg_0"]
    raise XlingError(f"{where}: arguments hold no prompt (gen_args_0.arg_0)")


def _reported(
    report: dict[str, Any], task: str, filters: set[str], metrics: set[str]
) -> float | None:
    cell = report.get("results", {}).get(task)
    if not isinstance(cell, dict):
        return None
    for metric in sorted(metrics):
        for flt in sorted(filters):
            value = cell.get(f"{metric},{flt}")
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
    return None


def _model_name(report: dict[str, Any]) -> str | None:
    name = report.get("model_name")
    if isinstance(name, str) and name:
        return name
    args = (report.get("config") or {}).get("model_args")
    if isinstance(args, dict) and isinstance(args.get("pretrained"), str):
        return args["pretrained"]
    if isinstance(args, str):
        match = re.search(r"pretrained=([^,]+)", args)
        if match:
            return match.group(1)
    return None


def _settings(report: dict[str, Any]) -> dict[str, Any]:
    """The generation settings lm-eval recorded, as EvalConfig fields: the first task's
    generation_kwargs (every task of the fixture shares them)."""
    configs = report.get("configs") or {}
    for cfg in configs.values() if isinstance(configs, dict) else ():
        kwargs = cfg.get("generation_kwargs") if isinstance(cfg, dict) else None
        if not isinstance(kwargs, dict):
            continue
        out: dict[str, Any] = {}
        if isinstance(kwargs.get("max_gen_toks"), int):
            out["max_new_tokens"] = kwargs["max_gen_toks"]
        temp = kwargs.get("temperature")
        if isinstance(temp, int | float) and not isinstance(temp, bool) and temp >= 0:
            out["temperature"] = 0.0 if kwargs.get("do_sample") is False else float(temp)
        return out
    return {}
