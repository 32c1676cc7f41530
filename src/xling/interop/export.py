"""An xling run -> lm-evaluation-harness output files.

What `lm_eval run … --log_samples --output_path OUT` writes, under OUT/<model>/ (the model
name sanitized as lm-eval does): `results_<datetime>.json` and one
`samples_<task>_<datetime>.jsonl` per task. A task is one benchmark × language, named
`{bench}_{lang}` unless told otherwise (so `xling import lm-eval` reads it back unchanged).

Per task the results hold `acc,none` (xling's flexible accuracy, avg@n) with
`acc_stderr,none`, and `exact_match` under the filters lm-eval's MGSM chain-of-thought tasks
use: `strict-match` (xling's strict score) and `flexible-extract` (the flexible one). Each
sample file has one line per problem and filter, as lm-eval logs them: the problem as `doc`,
the gold `target`, the prompt in `arguments`, every sample's text in `resps`, xling's
extracted answer in `filtered_resps`, the filter's score. A standard error over fewer than
two problems is "N/A", as lm-eval writes it when it cannot compute one.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from xling import __version__
from xling.errors import XlingError
from xling.evaluate import GENERATIONS, SCORES, read_generations
from xling.jsonl import read_json_object, read_jsonl, write_text_atomic
from xling.languages import ALL_CODES
from xling.records import Generation, key_of

FORMATS = ("lm-eval",)
DEFAULT_TASK_NAME = "{bench}_{lang}"
# (filter, the score field it reports, the prediction field shown as filtered_resps)
FILTERS = (
    ("strict-match", "correct_strict", "pred_strict"),
    ("flexible-extract", "correct", "pred"),
)


# Characters lm-eval will not put in the folder it names after a model; each run of them
# becomes "__" (so /work/model -> __work__model, as its own output folders are named).
_UNSAFE_IN_FOLDER = '"<>:/|\\?*[]'
_UNSAFE_RUN = re.compile("[" + re.escape(_UNSAFE_IN_FOLDER) + "]+")


def sanitize_model_name(name: str) -> str:
    """The folder name lm-eval gives a model's results."""
    return _UNSAFE_RUN.sub("__", name)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def export_lm_eval(
    run: Path, out: Path, *, task_name: str = DEFAULT_TASK_NAME, date: datetime | None = None
) -> list[Path]:
    """Write `run` as lm-eval output under `out`; returns the files written."""
    run = Path(run)
    if "{lang}" not in task_name:
        raise XlingError(f"--task-name {task_name!r} must contain {{lang}}")
    config = _config(run)
    model = config.get("model") or "xling-run"
    generations = {g.key: g for g in read_generations(run / GENERATIONS)}
    if not generations:
        raise XlingError(f"{run / GENERATIONS}: holds no generations")
    scores: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for row in read_jsonl(run / SCORES):
        scores.setdefault(key_of(row), row)
    unscored = [k for k in generations if k not in scores]
    if unscored:
        bench, lang, pid, sample = unscored[0]
        raise XlingError(
            f"{run}: {len(unscored)} generation(s) have no score (first: {bench}/{lang} "
            f"problem {pid} sample {sample}); run `xling score {run}` first"
        )
    tasks = _tasks(generations, task_name)
    stamp = (date or datetime.now()).isoformat().replace(":", "-")
    folder = Path(out) / sanitize_model_name(model)
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    task_hashes: dict[str, str] = {}
    written = []
    for task, problems in tasks.items():
        lines, cell = _task_lines(task, problems, scores, config)
        results[task] = cell
        task_hashes[task] = _hash(
            "".join(ln["doc_hash"] + ln["prompt_hash"] + ln["target_hash"] for ln in lines)
        )
        path = folder / f"samples_{task}_{stamp}.jsonl"
        write_text_atomic(path, "".join(json.dumps(ln, ensure_ascii=False) + "\n" for ln in lines))
        written.append(path)
    document = _results(results, tasks, config, model, task_hashes, run)
    path = folder / f"results_{stamp}.json"
    write_text_atomic(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return [path, *written]


def _config(run: Path) -> dict[str, Any]:
    path = run / "config.json"
    if not path.exists():
        raise XlingError(f"{run} is not a run directory (no config.json)")
    return read_json_object(path)


def _tasks(
    generations: dict[tuple[str, str, str, int], Generation], template: str
) -> dict[str, dict[str, list[Generation]]]:
    """task -> problem id -> its samples, tasks in benchmark and registry-language order."""
    order = {c: i for i, c in enumerate(ALL_CODES)}
    cells: dict[tuple[str, str], dict[str, list[Generation]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for g in generations.values():
        cells[(g.benchmark, g.lang)][g.id].append(g)
    tasks: dict[str, dict[str, list[Generation]]] = {}
    for bench, lang in sorted(cells, key=lambda c: (c[0], order.get(c[1], 99), c[1])):
        name = template.replace("{bench}", bench).replace("{lang}", lang)
        if name in tasks:
            raise XlingError(f"--task-name {template!r} gives two cells the name {name!r}")
        tasks[name] = cells[(bench, lang)]
    return tasks


def _doc_ids(ids: list[str]) -> dict[str, int]:
    """lm-eval's doc_id is the document's index in its split: the problem id where ids are
    the line numbers xling gives MGSM-style sources, else the position in id order."""
    if all(pid.isdigit() for pid in ids):
        return {pid: int(pid) for pid in ids}
    return {pid: i for i, pid in enumerate(sorted(ids))}


def _task_lines(
    task: str,
    problems: dict[str, list[Generation]],
    scores: dict[tuple[str, str, str, int], dict[str, Any]],
    config: dict[str, Any],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    doc_ids = _doc_ids(list(problems))
    gen_kwargs = {
        "until": [],
        "do_sample": float(config.get("temperature") or 0) > 0,
        "temperature": config.get("temperature", 0.0),
        "max_gen_toks": config.get("max_new_tokens"),
    }
    lines = []
    per_filter: dict[str, list[float]] = {name: [] for name, _, _ in FILTERS}
    for pid in sorted(problems, key=lambda p: doc_ids[p]):
        samples = sorted(problems[pid], key=lambda g: g.sample)
        first = samples[0]
        rows = [scores[g.key] for g in samples]
        doc = {"id": pid, "question": first.question, "answer": first.answer}
        if first.choices:
            doc["choices"] = first.choices
        target = scores[first.key].get("gold") or first.answer
        hashes = {
            "doc_hash": _hash(json.dumps(doc, indent=2, ensure_ascii=False)),
            "prompt_hash": _hash(first.prompt),
            "target_hash": _hash(str(target)),
        }
        for name, field, pred_field in FILTERS:
            verdicts = [row.get(field) for row in rows]
            # Scores written before strict scoring have no strict verdict: counted wrong,
            # as lm-eval counts a response its filter finds nothing in.
            value = sum(bool(v) for v in verdicts) / len(verdicts)
            per_filter[name].append(value)
            pred = rows[0].get(pred_field)
            lines.append(
                {
                    "doc_id": doc_ids[pid],
                    "doc": doc,
                    "target": str(target),
                    "arguments": {"gen_args_0": {"arg_0": first.prompt, "arg_1": gen_kwargs}},
                    "resps": [[g.output for g in samples]],
                    "filtered_resps": [pred if pred is not None else "[invalid]"],
                    "filter": name,
                    "metrics": ["exact_match"],
                    **hashes,
                    "exact_match": value,
                }
            )
    n = len(problems)
    flexible = per_filter["flexible-extract"]
    cell: dict[str, Any] = {"name": task, "alias": task, "sample_len": n}
    cell["acc,none"] = sum(flexible) / n
    cell["acc_stderr,none"] = _stderr(flexible)
    for name, _, _ in FILTERS:
        values = per_filter[name]
        cell[f"exact_match,{name}"] = sum(values) / n
        cell[f"exact_match_stderr,{name}"] = _stderr(values)
    return lines, cell


def _stderr(values: list[float]) -> float | str:
    """The standard error of the mean over problems, as lm-eval's mean_stderr computes it
    (sample standard deviation / √n)."""
    n = len(values)
    if n < 2:
        return "N/A"
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return math.sqrt(var / n)


def _results(
    results: dict[str, Any],
    tasks: dict[str, dict[str, list[Generation]]],
    config: dict[str, Any],
    model: str,
    task_hashes: dict[str, str],
    run: Path,
) -> dict[str, Any]:
    n = {task: len(problems) for task, problems in tasks.items()}
    version = f"xling {__version__}"
    return {
        "results": results,
        "group_subtasks": {},
        # lm-eval's schema types a task config's values as text, booleans or null.
        "configs": {
            task: {
                "task": task,
                "dataset_path": str(config.get("data") or config.get("bench") or ""),
                "output_type": "generate_until",
                "test_split": str(config.get("split") or "test"),
                "description": f"exported by xling {__version__} from {run}",
            }
            for task in tasks
        },
        "versions": {task: version for task in tasks},
        "n-shot": {task: 0 for task in tasks},
        "higher_is_better": {task: {"acc": True, "exact_match": True} for task in tasks},
        "n-samples": {task: {"original": k, "effective": k} for task, k in n.items()},
        "config": {
            "model": "xling",
            "model_args": {"pretrained": model},
            "batch_size": str(config.get("batch_size", "")),
            "batch_sizes": [],
            "device": None,
            "use_cache": None,
            "limit": config.get("limit"),
            "bootstrap_iters": 0,
            "gen_kwargs": {
                "temperature": config.get("temperature"),
                "top_p": config.get("top_p"),
                "max_gen_toks": config.get("max_new_tokens"),
                "n": config.get("n"),
            },
            "random_seed": config.get("seed", 0),
            "numpy_seed": config.get("seed", 0),
            "torch_seed": config.get("seed", 0),
            "fewshot_seed": config.get("seed", 0),
        },
        "date": time.time(),
        "task_hashes": task_hashes,
        "model_source": "xling",
        "model_name": model,
        "model_name_sanitized": sanitize_model_name(model),
        "system_instruction": config.get("system_prompt"),
        "system_instruction_sha": None,
        "fewshot_as_multiturn": False,
        "chat_template": None,
        "chat_template_sha": None,
        "total_evaluation_time_seconds": "0",
    }
