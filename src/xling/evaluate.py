"""The evaluation pipeline: benchmark -> prompts -> generations -> scores -> metrics.

Each stage appends to its own file in the run directory and skips what is already
there, so rerunning the same command after a crash (even SIGKILL) continues where it
stopped and regenerates nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from xling.backends import BACKENDS, get_backend
from xling.backends.base import GenerationParams
from xling.benchmarks import (
    BenchmarkSource,
    BenchmarkSpec,
    LoadReport,
    eval_defaults,
    load_benchmark,
)
from xling.choice import shuffle_choices
from xling.config import ConfigError, build, check_range, layers, merge, to_json_dict
from xling.errors import XlingError
from xling.jsonl import AppendLog, read_json_object, read_jsonl, write_json_atomic
from xling.languages import get_language, parse_langs
from xling.lock import run_lock
from xling.metrics import aggregate, write_metrics_csv
from xling.progress import make_progress
from xling.prompts import build_request, user_message
from xling.records import Generation, Problem, generation_from_row, to_dict
from xling.scoring import score_many
from xling.text import sanitize

GENERATIONS = "generations.jsonl"
SCORES = "scores.jsonl"


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation: what model, on which benchmark and languages, generated how."""

    model: str = _f("", "HF hub id or local path (or the served model name for --backend openai).")
    bench: str = _f(
        "mgsm",
        "A benchmark preset (`xling benchmarks`: mgsm, polymath, math500, aime24, aime25, "
        "gpqa-diamond, synth) or a loader kind: mgsm | jsonl | hf.",
    )
    data: str = _f(
        "",
        "A preset: a local copy in the layout `xling benchmarks` names (empty: the preset's "
        "default source). A loader kind: MGSM folder, JSONL file or folder, datasets hub id "
        "or save_to_disk folder.",
    )
    bench_name: str | None = _f(
        None, "Name recorded for the benchmark [default: the preset or loader kind]."
    )
    langs: str = _f("all", "'all' or comma-separated codes, e.g. en,es,bn.")
    question_field: str | None = _f(None, "JSONL/hf: question field (overrides a preset's).")
    answer_field: str | None = _f(None, "JSONL/hf: answer field (overrides a preset's).")
    id_field: str | None = _f(
        None, "JSONL/hf: problem id field (parallel across languages) [default: row index]."
    )
    lang_field: str | None = _f(
        None, "JSONL/hf: language field, if one file holds several languages."
    )
    choice_fields: str | None = _f(
        None, "JSONL/hf multiple choice: the wrong choices' fields, comma-separated."
    )
    answer_type: str | None = _f(
        None, "number | latex | choice [default: the preset's, or number]."
    )
    split: str | None = _f(None, "Split(s), comma-separated [default: the preset's, or test].")
    hf_config: str | None = _f(
        None, "hf: dataset config; '{lang}' is replaced by each language code."
    )
    limit: int | None = _f(
        None, "Only the first N problems of each language (same ids everywhere)."
    )
    skip_bad: bool = _f(False, "Skip malformed rows (counted and reported) instead of failing.")
    backend: str = _f("hf", "Generation backend: hf | openai | vllm.")
    n: int = _f(1, "Samples per prompt (accuracy is avg@n; pass@k is reported for k <= n).")
    temperature: float = _f(0.0, "Sampling temperature; 0 = greedy.")
    top_p: float = _f(1.0, "Nucleus sampling p.")
    max_new_tokens: int = _f(1024, "Generation length limit.")
    seed: int = _f(0, "Sampling seed.")
    batch_size: int = _f(8, "hf/vllm: prompts per batch.")
    system_prompt: str | None = _f(None, "Optional system message.")
    base_url: str = _f("http://127.0.0.1:8000/v1", "openai: server URL.")
    concurrency: int = _f(16, "openai: requests in flight.")
    dtype: str = _f("auto", "hf/vllm: auto | bfloat16 | float16 | float32.")
    engine: str = _f(
        "auto",
        "hf: xling's fast engine: auto (on CUDA for Qwen2/Qwen3/Llama/Mistral, else "
        "transformers generate) | on | off.",
    )
    tensor_parallel_size: int = _f(1, "vllm: GPUs one model is sharded over.")
    gpu_memory_utilization: float | None = _f(
        None,
        "vllm: share of GPU memory (on a CPU: of host memory) vLLM may take "
        "[default: 0.9 on GPUs, 0.3 on CPUs].",
    )
    max_model_len: int | None = _f(
        None, "vllm: context length, prompt + output [default: the model's]."
    )
    vllm_options: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "vllm: any other `vllm.LLM` argument (on the command line: "
            "--vllm-option key=value)."
        },
    )
    score_workers: int = _f(2, "Scoring worker processes.")
    score_timeout: float = _f(5.0, "Hard per-item scoring timeout (seconds).")
    out: str = _f("runs/eval", "Run directory.")

    def __post_init__(self) -> None:
        for name in ("n", "max_new_tokens", "batch_size", "concurrency", "score_workers"):
            check_range(name, getattr(self, name), at_least=1)
        for name in ("limit", "tensor_parallel_size", "max_model_len"):
            check_range(name, getattr(self, name), at_least=1)
        check_range("temperature", self.temperature, at_least=0)
        check_range("top_p", self.top_p, above=0, at_most=1)
        check_range("seed", self.seed, at_least=0)
        check_range("score_timeout", self.score_timeout, above=0)
        check_range("gpu_memory_utilization", self.gpu_memory_utilization, above=0, at_most=1)
        if not self.out.strip():
            raise ConfigError("out (--out) must name a run directory")
        if self.backend.strip().lower() not in BACKENDS:
            raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")

    def source(self) -> BenchmarkSource:
        return BenchmarkSource(
            bench=self.bench,
            data=self.data or None,
            name=self.bench_name,
            question_field=self.question_field,
            answer_field=self.answer_field,
            id_field=self.id_field,
            lang_field=self.lang_field,
            choice_fields=_comma_list(self.choice_fields),
            split=self.split,
            config=self.hf_config,
            answer_type=self.answer_type,
        )

    def source_identity(self) -> dict[str, Any]:
        """Fields that say where the problems come from: a run holds one benchmark source."""
        keys = (
            "bench", "data", "bench_name", "question_field", "answer_field", "id_field",
            "lang_field", "choice_fields", "answer_type", "split", "hf_config",
        )  # fmt: skip
        return {k: getattr(self, k) for k in keys}

    def generation_identity(self) -> dict[str, Any]:
        """Fields that change what is generated: a resumed run must agree on all of them."""
        keys = ("model", "system_prompt", "n", "temperature", "top_p", "max_new_tokens", "seed")
        return {k: getattr(self, k) for k in keys}


def eval_config(
    path: Path | None = None,
    sets: Sequence[str] = (),
    flags: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> EvalConfig:
    """EvalConfig from defaults < the benchmark preset's defaults < a TOML file < `--set`
    settings < flags (and keyword overrides, as flags)."""
    data = layers(path, sets, {**(flags or {}), **overrides})
    preset = eval_defaults(data.get("bench", EvalConfig.bench), data.get("data") or None)
    return build(EvalConfig, merge(preset, data), str(path) if path else "evaluation")


def benchmark_specs_of(cfg: EvalConfig) -> list[BenchmarkSpec]:
    """What `cfg` evaluates: one spec, or one per split of a multi-split preset."""
    return cfg.source().specs(parse_langs(cfg.langs))


def _comma_list(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def prepare_run_dir(cfg: EvalConfig, *, extend: bool = False) -> Path:
    """Create the run directory, refusing to mix generation settings or problem sets in one
    run; `extend` lets a run grow to more languages or a larger --limit, recorded in
    config.json's `extensions`."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    config_path = out / "config.json"
    record = to_json_dict(cfg)
    if config_path.exists() and (out / GENERATIONS).exists():
        previous = read_json_object(config_path)
        identity = {**cfg.source_identity(), **cfg.generation_identity()}
        changed = {k: (previous.get(k), v) for k, v in identity.items() if previous.get(k) != v}
        if changed:
            diff = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items())
            raise XlingError(
                f"{out} already holds generations made with other settings ({diff}). "
                "Use another --out, or delete that directory to start over."
            )
        extensions = list(previous.get("extensions") or [])
        growth = _problem_set_change(previous, cfg, out, extend=extend)
        if growth:
            extensions.append({"at": datetime.now(UTC).isoformat(timespec="seconds"), **growth})
        record["extensions"] = extensions
    write_json_atomic(config_path, record)
    return out


def _problem_set_change(
    previous: dict[str, Any], cfg: EvalConfig, out: Path, *, extend: bool
) -> dict[str, Any]:
    """{"langs": [before, after], "limit": [...]} for what `cfg` changes in the run's
    problem set; refused unless `extend` and the set only grows (metrics average each
    language's problems, so a run must hold the same problems in every language)."""
    before_langs = parse_langs(str(previous.get("langs", cfg.langs)))
    after_langs = parse_langs(cfg.langs)
    before_limit, after_limit = previous.get("limit"), cfg.limit
    change: dict[str, Any] = {}
    if set(before_langs) != set(after_langs):
        change["langs"] = [",".join(before_langs), ",".join(after_langs)]
    if before_limit != after_limit:
        change["limit"] = [before_limit, after_limit]
    if not change:
        return {}
    described = "; ".join(f"{k}: {a} -> {b}" for k, (a, b) in change.items())
    grows = set(before_langs) <= set(after_langs) and (
        after_limit is None or (before_limit is not None and after_limit >= before_limit)
    )
    if not grows:
        raise XlingError(
            f"{out} holds another problem set ({described}); a run can only grow (more "
            "languages, a larger --limit): use another --out for a different set"
        )
    if not extend:
        raise XlingError(
            f"{out} holds another problem set ({described}); pass --extend to add the new "
            "problems to this run, or use another --out"
        )
    return change


def run_eval(
    cfg: EvalConfig, console: Console | None = None, *, extend: bool = False
) -> dict[str, Any]:
    """Evaluate (resuming what `cfg.out` holds); `extend` lets the run take more languages
    or a larger --limit than it was started with."""
    with run_lock(Path(cfg.out)):
        return _run_eval(cfg, console or Console(), extend=extend)


def _run_eval(cfg: EvalConfig, console: Console, *, extend: bool) -> dict[str, Any]:
    langs = parse_langs(cfg.langs)
    out = prepare_run_dir(cfg, extend=extend)
    report = LoadReport()
    problems = load_benchmark(
        benchmark_specs_of(cfg), langs, skip_bad=cfg.skip_bad, limit=cfg.limit, report=report
    )
    # Multiple choice: each problem's choices in its seeded shown order (the same in every
    # language), the gold answer becoming the shown letter of the correct choice.
    problems = [shuffle_choices(p, cfg.seed) if p.answer_type == "choice" else p for p in problems]
    if report.skipped:
        console.print(f"[yellow]skipped {len(report.skipped)} malformed row(s) (--skip-bad):")
        for message in report.skipped[:10]:
            console.print(f"  [yellow]{message}")
    if not problems:
        raise XlingError("the benchmark yielded no problems for the requested languages")
    console.print(
        f"[bold]{len(problems)}[/] problems × {cfg.n} sample(s) in {len(langs)} language(s) → {out}"
    )
    generate_stage(cfg, problems, out, console)
    score_stage(out, workers=cfg.score_workers, timeout_s=cfg.score_timeout, console=console)
    metrics = metrics_stage(out, model=cfg.model)
    print_metrics(metrics, console)
    return metrics


def generate_stage(
    cfg: EvalConfig, problems: Sequence[Problem], out: Path, console: Console
) -> int:
    """Generate what is missing. Returns the number of new generations written."""
    log = AppendLog(out / GENERATIONS)
    if log.repaired_bytes:
        console.print(f"[yellow]{GENERATIONS}: dropped a partial last line left by a crash")
    # Chunks are a fixed partition of the whole problem list and each gets its own seed,
    # so a resumed run samples exactly what an uninterrupted one would have.
    chunk_size = cfg.batch_size if cfg.backend == "hf" else max(cfg.batch_size, cfg.concurrency)
    chunks = [problems[i : i + chunk_size] for i in range(0, len(problems), chunk_size)]
    missing = [
        (index, chunk)
        for index, chunk in enumerate(chunks)
        if any((p.benchmark, p.lang, p.id, s) not in log for p in chunk for s in range(cfg.n))
    ]
    if not missing:
        console.print(f"generations: all {len(log)} already in {GENERATIONS}")
        return 0
    backend = get_backend(cfg.backend, cfg.model, **backend_options(cfg))
    written = 0
    try:
        _check_context(backend, cfg, [p for _, chunk in missing for p in chunk])
        with make_progress(console) as progress:
            task = progress.add_task("generating", total=sum(len(c) for _, c in missing))
            for index, chunk in missing:
                params = GenerationParams(
                    temperature=cfg.temperature,
                    top_p=cfg.top_p,
                    max_new_tokens=cfg.max_new_tokens,
                    n=cfg.n,
                    seed=cfg.seed * 1_000_003 + index,
                )
                requests = [build_request(p, cfg.system_prompt) for p in chunk]
                outputs = backend.generate(requests, params)
                records = [
                    to_dict(
                        Generation(
                            benchmark=p.benchmark,
                            lang=p.lang,
                            id=p.id,
                            sample=s,
                            question=p.question,
                            answer=p.answer,
                            prompt=user_message(p),
                            output=sanitize(o.text),
                            finish_reason=o.finish_reason,
                            n_output_tokens=o.n_tokens,
                            answer_type=p.answer_type,
                            choices=list(p.choices) if p.choices else None,
                            choice_order=list(p.choice_order) if p.choices else None,
                        )
                    )
                    for p, samples in zip(chunk, outputs, strict=True)
                    for s, o in enumerate(samples)
                ]
                written += log.append(records)
                progress.advance(task, len(chunk))
    finally:
        backend.close()
    return written


def _check_context(backend: Any, cfg: EvalConfig, problems: Sequence[Problem]) -> None:
    """Refuse, before generating anything, a problem whose prompt cannot fit the model."""
    overflow = getattr(backend, "context_overflow", None)
    if overflow is None or not problems:
        return
    found = overflow(
        [build_request(p, cfg.system_prompt) for p in problems],
        GenerationParams(max_new_tokens=cfg.max_new_tokens),
    )
    if found is not None:
        index, n_prompt, limit = found
        p = problems[index]
        raise XlingError(
            f"problem {p.benchmark}/{p.lang}/{p.id}: a prompt of {n_prompt} tokens and "
            f"--max-new-tokens {cfg.max_new_tokens} do not fit the model's context of {limit} "
            "tokens; lower --max-new-tokens or leave the problem out of the data"
        )


def backend_options(cfg: EvalConfig) -> dict[str, Any]:
    if cfg.backend == "hf":
        return {"batch_size": cfg.batch_size, "dtype": cfg.dtype, "engine": cfg.engine}
    if cfg.backend == "openai":
        return {"base_url": cfg.base_url, "concurrency": cfg.concurrency}
    if cfg.backend == "vllm":
        return {
            "dtype": cfg.dtype,
            "seed": cfg.seed,
            "tensor_parallel_size": cfg.tensor_parallel_size,
            "gpu_memory_utilization": cfg.gpu_memory_utilization,
            "max_model_len": cfg.max_model_len,
            "engine_options": dict(cfg.vllm_options),
        }
    return {}


def score_stage(
    out: Path, *, workers: int, timeout_s: float, console: Console, rescore: bool = False
) -> int:
    """Score generations that have no score yet (all of them with `rescore`)."""
    gen_path = out / GENERATIONS
    if not gen_path.exists():
        raise XlingError(f"{gen_path} not found: run `xling eval` first")
    # A re-score builds a fresh file beside the old one and swaps it in when complete,
    # so an interrupted re-score never leaves the run with a half-empty scores file.
    target = out / ("scores.rescore.jsonl" if rescore else SCORES)
    log = AppendLog(target)
    todo = [g for g in read_generations(gen_path) if g.key not in log]
    if todo:
        batch: list[dict[str, Any]] = []
        failed = 0
        finished = False
        try:
            with make_progress(console) as progress:
                task = progress.add_task("scoring", total=len(todo))
                for score in score_many(todo, workers=workers, timeout_s=timeout_s):
                    batch.append(to_dict(score))
                    failed += score.status == "error"
                    progress.advance(task)
                    if len(batch) >= 64:
                        log.append(batch)
                        batch = []
            finished = True
        finally:
            # What was scored is kept when the run stops; the items that failed just before
            # the workers gave up are not, so the rerun scores them again.
            log.append([s for s in batch if finished or s["status"] != "error"])
        if failed:
            console.print(
                f"[yellow]{failed} generation(s) could not be scored (status 'error', counted "
                f"wrong); `xling score {out}` re-scores them"
            )
    if rescore:
        target.replace(out / SCORES)
    return len(todo)


def read_generations(path: Path) -> list[Generation]:
    """A run's generations, each row checked (`generation_from_row`)."""
    return [
        generation_from_row(row, f"{path}, row {i}")
        for i, row in enumerate(read_jsonl(path), start=1)
    ]


def metrics_stage(out: Path, *, model: str = "") -> dict[str, Any]:
    scores = list(read_jsonl(out / SCORES))
    if not scores:
        raise XlingError(f"{out / SCORES} holds no scores")
    metrics = {"model": model, **aggregate(scores)}
    write_json_atomic(out / "metrics.json", metrics)
    write_metrics_csv(metrics, out / "metrics.csv")
    return metrics


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def print_metrics(metrics: dict[str, Any], console: Console) -> None:
    for bench, data in metrics["benchmarks"].items():
        first = next(iter(data["langs"].values()))
        pass_keys = [k for k in first if k.startswith("pass@") and k != "pass@1"]
        table = Table(title=f"{bench} — {metrics.get('model', '')}", title_justify="left")
        for column in (
            "language",
            "problems",
            "samples",
            "accuracy %",
            "strict %",
            "off-target %",
            "format %",
            *(f"{k} %" for k in pass_keys),
        ):
            table.add_column(column, justify="left" if column == "language" else "right")
        for lang, cell in data["langs"].items():
            name = f"{get_language(lang).name} ({lang})"
            table.add_row(
                name,
                str(cell["n_problems"]),
                str(cell["n_samples"]),
                _pct(cell["accuracy"]),
                _pct(cell.get("accuracy_strict")),
                _pct(cell["off_target_rate"]),
                _pct(cell["format_rate"]),
                *(_pct(cell.get(k)) for k in pass_keys),
            )
        macro = data["macro"]
        table.add_row(
            "[bold]macro average",
            "",
            "",
            _pct(macro["accuracy"]),
            _pct(macro.get("accuracy_strict")),
            _pct(macro["off_target_rate"]),
            _pct(macro["format_rate"]),
            *("" for _ in pass_keys),
        )
        console.print(table)


def load_config_json(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.json"
    if not path.exists():
        raise XlingError(f"{run_dir} is not a run directory (no config.json)")
    return read_json_object(path)
