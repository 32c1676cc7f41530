"""The evaluation pipeline: benchmark -> prompts -> generations -> scores -> metrics.

Each stage appends to its own file in the run directory and skips what is already
there, so rerunning the same command after a crash (even SIGKILL) continues where it
stopped and regenerates nothing.

Under `torchrun`/`accelerate launch` (WORLD_SIZE > 1) the hf backend generates data
parallel: rank 0 checks the run and decides what is missing, every rank generates its share
into the one generations log, and rank 0 scores and writes the metrics. Each sample is
seeded by its problem and index, so neither the batch size nor the number of processes
changes what is generated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

from xling.backends import BACKENDS, Backend, get_backend
from xling.backends.base import GenerationParams, Request
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
from xling.models import resolve_model
from xling.progress import make_progress
from xling.prompts import build_request, user_message
from xling.protocols import DEFAULT_PROTOCOL, PROTOCOLS, describe, protocol_metrics
from xling.provenance import environment, model_info, records_fingerprint, write_env_json
from xling.records import Generation, Problem, generation_from_row, to_dict
from xling.scorers import DEFAULT_SCORER, SCORERS, run_scorer, scores_file
from xling.scoring import score_many
from xling.text import sanitize

GENERATIONS = "generations.jsonl"
SCORES = "scores.jsonl"
T = TypeVar("T")


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation: what model, on which benchmark and languages, generated how."""

    model: str = _f("", "HF hub id or local path (or the served model name for --backend openai).")
    revision: str | None = _f(
        None, "hf/vllm: the model's revision (branch, tag or commit), for model and tokenizer."
    )
    trust_remote_code: bool = _f(
        False, "hf/vllm: run code from the model's repository (only for repositories you trust)."
    )
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
    chat_template_kwargs: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "hf/vllm: arguments for the model's chat template, e.g. "
            "{enable_thinking = false} (on the command line: --chat-template-kwargs key=value)."
        },
    )
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
    protocol: str = _f(
        DEFAULT_PROTOCOL,
        "Evaluation protocol: paper (arXiv 2510.02272's instruction and metrics) | polymath "
        "(PolyMath's instruction, DW-ACC over its levels, thinking/answer language "
        "consistency).",
    )
    scorer: str = _f(
        DEFAULT_SCORER,
        "Answer scorer: xling | math-verify | lm-eval-flexible | lm-eval-strict "
        "(`xling score RUN --scorer NAME` adds another beside it).",
    )
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
        if self.protocol not in PROTOCOLS:
            raise ConfigError(
                f"protocol must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}"
            )
        if self.scorer not in SCORERS:
            raise ConfigError(f"scorer must be one of {', '.join(SCORERS)}, got {self.scorer!r}")
        if self.backend.strip().lower() not in BACKENDS:
            raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        # A server loads its model and applies its template itself: ignoring these settings
        # would record a run made otherwise than its config.json says.
        if self.backend == "openai" and (self.revision is not None or self.chat_template_kwargs):
            raise ConfigError(
                "revision and chat_template_kwargs are for --backend hf and vllm; an "
                "OpenAI-compatible server loads its model and applies its template itself"
            )

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
        """Fields that change what is generated: a resumed run must agree on all of them.
        (Not the batch size or the number of processes: a sample's seed is its problem's.)"""
        keys = (
            "model", "revision", "system_prompt", "chat_template_kwargs", "n", "temperature",
            "top_p", "max_new_tokens", "seed", "protocol",
        )  # fmt: skip
        return {k: getattr(self, k) for k in keys}


def _default(name: str) -> Any:
    """EvalConfig's default for field `name`: what a config.json written before the field
    existed meant."""
    f = next(f for f in dataclasses.fields(EvalConfig) if f.name == name)
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


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
        # One scorer per scores.jsonl: another goes beside it (`xling score --scorer`).
        identity = {**cfg.source_identity(), **cfg.generation_identity(), "scorer": cfg.scorer}
        before = {k: previous.get(k, _default(k)) for k in identity}
        changed = {k: (before[k], v) for k, v in identity.items() if before[k] != v}
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


@dataclass(frozen=True)
class Shard:
    """This process's place in a data-parallel evaluation: rank `rank` of `world` processes,
    on this machine the `local_rank`-th (which picks its GPU)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def launch_shard() -> Shard:
    """The shard that `torchrun`/`accelerate launch` gave this process (their WORLD_SIZE,
    RANK and LOCAL_RANK); a plain process is rank 0 of 1."""
    env = {name: os.environ.get(name) or "" for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    try:
        world = int(env["WORLD_SIZE"] or 1)
        rank = int(env["RANK"] or 0)
        local = int(env["LOCAL_RANK"] or 0)
    except ValueError:
        shown = ", ".join(f"{name}={value!r}" for name, value in env.items())
        raise XlingError(f"the data-parallel environment is not integers ({shown})") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise XlingError(f"no rank {rank} of WORLD_SIZE {world} (LOCAL_RANK {local})")
    return Shard(rank=rank, world=world, local_rank=local)


def run_eval(
    cfg: EvalConfig,
    console: Console | None = None,
    *,
    extend: bool = False,
    backend: Backend | None = None,
) -> dict[str, Any]:
    """Evaluate (resuming what `cfg.out` holds); `extend` lets the run take more languages
    or a larger --limit than it was started with. Under `torchrun`/`accelerate launch` the
    processes share the generation (hf backend) and every one returns the metrics.
    `backend`: one built by the caller around a model in memory (`cfg.model` then only
    names it), used instead of loading `cfg.model` and left open."""
    console = console or Console()
    shard = launch_shard()
    if backend is not None:
        if shard.world > 1:
            raise XlingError("a model in memory is evaluated in one process")
        with run_lock(Path(cfg.out)):
            out, problems = _prepare(cfg, console, extend=extend, in_memory=backend)
            generate_stage(cfg, problems, out, console, backend=backend)
            return _score_and_report(cfg, out, console)
    if shard.world > 1:
        if cfg.backend != "hf":
            raise XlingError(
                f"data-parallel evaluation (WORLD_SIZE={shard.world}) needs --backend hf; "
                f"run --backend {cfg.backend} as one process"
            )
        return _run_eval_parallel(cfg, console, shard, extend=extend)
    with run_lock(Path(cfg.out)):
        out, problems = _prepare(cfg, console, extend=extend)
        generate_stage(cfg, problems, out, console)
        return _score_and_report(cfg, out, console)


def _prepare(
    cfg: EvalConfig, console: Console, *, extend: bool, in_memory: Backend | None = None
) -> tuple[Path, list[Problem]]:
    """Check (or start) the run directory and load the problems to evaluate."""
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
    write_env_json(out, eval_environment(cfg, problems, in_memory=in_memory))
    return out, problems


def eval_environment(
    cfg: EvalConfig, problems: Sequence[Problem], *, in_memory: Backend | None = None
) -> dict[str, Any]:
    """env.json of a run: versions, command, device, the model's revision or weights hash
    (not for a model in memory, whose weights may differ from any files), and a
    fingerprint of the problems evaluated (their text and gold answers)."""
    model = cfg.model if cfg.backend == "openai" else str(resolve_model(cfg.model))
    info = (
        {"name": cfg.model, "in_memory": type(in_memory).__name__}
        if in_memory is not None
        else model_info(model, cfg.revision)
    )
    rows = (
        {"benchmark": p.benchmark, "lang": p.lang, "id": p.id, "q": p.question, "a": p.answer}
        for p in problems
    )
    data = {"problems": len(problems), "problems_sha256": records_fingerprint(rows)}
    return environment(
        model=info,
        data=data,
        extra={"backend": cfg.backend, "processes": launch_shard().world},
    )


def _score_and_report(cfg: EvalConfig, out: Path, console: Console) -> dict[str, Any]:
    score_stage(
        out,
        workers=cfg.score_workers,
        timeout_s=cfg.score_timeout,
        console=console,
        scorer=cfg.scorer,
    )
    metrics = metrics_stage(out, model=cfg.model, protocol=cfg.protocol)
    print_metrics(metrics, console)
    return metrics


# How long a rank waits for the others: on a large evaluation the imbalance of the shards,
# or rank 0's loading and scoring, can outlast gloo's default of 30 minutes.
_COLLECTIVE_TIMEOUT = timedelta(hours=24)


def _run_eval_parallel(
    cfg: EvalConfig, console: Console, shard: Shard, *, extend: bool
) -> dict[str, Any]:
    """One rank of a data-parallel evaluation. Rank 0 holds the run (lock, config.json),
    loads the problems and decides which are missing; every rank generates every
    world-th of those into the one generations log; rank 0 scores and reports."""
    import torch
    import torch.distributed as dist

    device = "cpu"
    if torch.cuda.is_available():
        # Modulo: several ranks may share a GPU (a small model, fewer GPUs than ranks).
        index = shard.local_rank % torch.cuda.device_count()
        torch.cuda.set_device(index)
        device = f"cuda:{index}"
    created = not dist.is_initialized()
    try:
        if created:
            dist.init_process_group("gloo", timeout=_COLLECTIVE_TIMEOUT)
        # Objects go through gloo (host memory) whatever backend an existing group has.
        group = None if created else dist.new_group(backend="gloo", timeout=_COLLECTIVE_TIMEOUT)
    except (ValueError, RuntimeError) as exc:
        raise XlingError(
            f"cannot join the data-parallel job (rank {shard.rank} of {shard.world}): "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}; start it with "
            "torchrun or accelerate launch"
        ) from None
    # One voice: the other ranks' messages would repeat rank 0's.
    voice = console if shard.main else Console(quiet=True)
    try:
        with contextlib.ExitStack() as held:

            def prepare() -> tuple[Path, list[Problem]]:
                held.enter_context(run_lock(Path(cfg.out)))
                out, problems = _prepare(cfg, voice, extend=extend)
                log = AppendLog(out / GENERATIONS)
                pending = missing_problems(cfg, problems, log)
                if pending:
                    voice.print(
                        f"generating {len(pending)} problem(s) on {shard.world} processes "
                        "(the progress shown is rank 0's share)"
                    )
                else:
                    voice.print(f"generations: all {len(log)} already in {GENERATIONS}")
                return out, pending

            out, pending = _from_rank0(shard, group, prepare)
            failure = None
            try:
                generate_stage(cfg, pending, out, voice, shard=shard, device=device)
            except XlingError as exc:
                failure = str(exc)
            failures: list[str | None] = [None] * shard.world
            dist.all_gather_object(failures, failure, group=group)
            for rank, message in enumerate(failures):
                if message is not None:
                    where = "" if rank == shard.rank else f"rank {rank} of {shard.world}: "
                    raise XlingError(where + message)
            return _from_rank0(shard, group, lambda: _score_and_report(cfg, out, voice))
    finally:
        if created and dist.is_initialized():
            dist.destroy_process_group()


def _from_rank0(shard: Shard, group: Any, work: Callable[[], T]) -> T:
    """`work()` done by rank 0, and its result given to every rank; its one-line error
    stops them all (they would otherwise wait for rank 0 until the timeout)."""
    import torch.distributed as dist

    box: list[Any] = [None]
    if shard.main:
        try:
            box[0] = (True, work())
        except XlingError as exc:
            box[0] = (False, str(exc))
            dist.broadcast_object_list(box, src=0, group=group)
            raise
    dist.broadcast_object_list(box, src=0, group=group)
    done, value = box[0]
    if not done:
        raise XlingError(f"rank 0 of {shard.world}: {value}")
    return value


def seed_key(p: Problem) -> str:
    """What seeds a problem's samples (with the eval seed and the sample index): a digest of
    (benchmark, language, id), the same in every run and process, so a sample never depends
    on the batch, chunk or rank that generates it."""
    return hashlib.sha256(json.dumps([p.benchmark, p.lang, p.id]).encode()).hexdigest()[:32]


def eval_request(p: Problem, cfg: EvalConfig) -> Request:
    request = build_request(p, cfg.system_prompt, protocol=cfg.protocol)
    return dataclasses.replace(request, seed_key=seed_key(p))


def missing_problems(cfg: EvalConfig, problems: Sequence[Problem], log: AppendLog) -> list[Problem]:
    """The problems with a sample not yet in `log`, in their order."""
    return [
        p for p in problems if any((p.benchmark, p.lang, p.id, s) not in log for s in range(cfg.n))
    ]


def generate_stage(
    cfg: EvalConfig,
    problems: Sequence[Problem],
    out: Path,
    console: Console,
    *,
    shard: Shard = Shard(),
    device: str | None = None,
    backend: Backend | None = None,
) -> int:
    """Generate what is missing of `problems`, or of every `shard.world`-th of them from
    `shard.rank` on (each rank of a data-parallel run passes the same list). Returns the
    number of new generations written."""
    log = AppendLog(out / GENERATIONS)
    if log.repaired_bytes:
        console.print(f"[yellow]{GENERATIONS}: dropped a partial last line left by a crash")
    todo = missing_problems(cfg, problems[shard.rank :: shard.world], log)
    if not todo:
        if shard.world == 1:
            console.print(f"generations: all {len(log)} already in {GENERATIONS}")
        return 0
    # Chunks only pace the appends (each sample is seeded by its problem), so a resumed run
    # samples exactly what an uninterrupted one would have, at any batch size.
    chunk_size = cfg.batch_size if cfg.backend == "hf" else max(cfg.batch_size, cfg.concurrency)
    chunks = [todo[i : i + chunk_size] for i in range(0, len(todo), chunk_size)]
    owned = backend is None
    if backend is None:
        backend = get_backend(cfg.backend, cfg.model, **backend_options(cfg, device=device))
    written = 0
    try:
        # Every rank checks the whole list, so a prompt that cannot fit stops all of them
        # alike, before any generates.
        _check_context(backend, cfg, problems if shard.world > 1 else todo)
        params = GenerationParams(
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            max_new_tokens=cfg.max_new_tokens,
            n=cfg.n,
            seed=cfg.seed,
        )
        with make_progress(console) as progress:
            task = progress.add_task("generating", total=len(todo))
            for chunk in chunks:
                outputs = backend.generate([eval_request(p, cfg) for p in chunk], params)
                records = [
                    to_dict(
                        Generation(
                            benchmark=p.benchmark,
                            lang=p.lang,
                            id=p.id,
                            sample=s,
                            question=p.question,
                            answer=p.answer,
                            prompt=user_message(p, cfg.protocol),
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
        if owned:
            backend.close()
    return written


def _check_context(backend: Any, cfg: EvalConfig, problems: Sequence[Problem]) -> None:
    """Refuse, before generating anything, a problem whose prompt cannot fit the model."""
    overflow = getattr(backend, "context_overflow", None)
    if overflow is None or not problems:
        return
    found = overflow(
        [eval_request(p, cfg) for p in problems],
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


def backend_options(cfg: EvalConfig, *, device: str | None = None) -> dict[str, Any]:
    """`get_backend` options for `cfg` (`device`: the hf backend's, else its default)."""
    loading = {
        "trust_remote_code": cfg.trust_remote_code,
        "revision": cfg.revision,
        "chat_template_kwargs": dict(cfg.chat_template_kwargs),
    }
    if cfg.backend == "hf":
        placed = {"device": device} if device is not None else {}
        return {
            "batch_size": cfg.batch_size,
            "dtype": cfg.dtype,
            "engine": cfg.engine,
            **loading,
            **placed,
        }
    if cfg.backend == "openai":
        return {"base_url": cfg.base_url, "concurrency": cfg.concurrency}
    if cfg.backend == "vllm":
        return {
            "dtype": cfg.dtype,
            "seed": cfg.seed,
            "tensor_parallel_size": cfg.tensor_parallel_size,
            "gpu_memory_utilization": cfg.gpu_memory_utilization,
            "max_model_len": cfg.max_model_len,
            **loading,
            "engine_options": dict(cfg.vllm_options),
        }
    return {}


def score_stage(
    out: Path,
    *,
    workers: int,
    timeout_s: float,
    console: Console,
    rescore: bool = False,
    scorer: str | None = None,
) -> int:
    """Score generations that have no score yet (all of them with `rescore`) with `scorer`
    (default: the run's own, into scores.jsonl; another goes to scores.<scorer>.jsonl)."""
    gen_path = out / GENERATIONS
    if not gen_path.exists():
        raise XlingError(f"{gen_path} not found: run `xling eval` first")
    own = run_scorer(out)
    scorer = scorer or own
    final = out / scores_file(scorer, own)
    # A re-score builds a fresh file beside the old one and swaps it in when complete,
    # so an interrupted re-score never leaves the run with a half-empty scores file.
    target = final.with_name(final.stem + ".rescore.jsonl") if rescore else final
    log = AppendLog(target)
    todo = [g for g in read_generations(gen_path) if g.key not in log]
    if todo:
        batch: list[dict[str, Any]] = []
        failed = 0
        finished = False
        try:
            with make_progress(console) as progress:
                task = progress.add_task("scoring", total=len(todo))
                for score in score_many(todo, workers=workers, timeout_s=timeout_s, scorer=scorer):
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
        target.replace(final)
    return len(todo)


def read_generations(path: Path) -> list[Generation]:
    """A run's generations, each row checked (`generation_from_row`)."""
    return [
        generation_from_row(row, f"{path}, row {i}")
        for i, row in enumerate(read_jsonl(path), start=1)
    ]


def metrics_stage(out: Path, *, model: str = "", protocol: str | None = None) -> dict[str, Any]:
    """metrics.json and .csv from scores.jsonl, with the run's protocol's own metrics
    (`protocol` None: the one config.json records)."""
    scores = list(read_jsonl(out / SCORES))
    if not scores:
        raise XlingError(f"{out / SCORES} holds no scores")
    if protocol is None:
        config = out / "config.json"
        recorded = read_json_object(config).get("protocol") if config.is_file() else None
        protocol = recorded if isinstance(recorded, str) else DEFAULT_PROTOCOL
    metrics = {"model": model, **aggregate(scores), **protocol_metrics(scores, protocol)}
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
    for line in describe(metrics):  # the protocol's own metrics (PolyMath's DW-ACC, ...)
        console.print(line, markup=False, highlight=False)


def load_config_json(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.json"
    if not path.exists():
        raise XlingError(f"{run_dir} is not a run directory (no config.json)")
    return read_json_object(path)
