"""`xling train sft`: the supervised baseline on the same parallel data (TRL's SFTTrainer).

Targets are the data's worked solutions where the benchmark has them (`solution` column of
`xling data parallel`), otherwise correct rollouts of the base model (rejection sampling:
`rejection_samples` samples per problem through an `xling` generation backend, scored by
the evaluation scorer; the first correct, boxed one, in the prompt's language unless
`--no-rejection-require-lang`, becomes the target; problems without one are dropped).
With `--no-rejection-require-correct --rejection-format think` the targets are the base
model's own step-by-step rollouts, right or wrong: distilling it into one format, which
narrows its exploration as instruction tuning does (organism v3's instruct stage).

Rejection samples are cached in `<out>/sft_rollouts.jsonl` (append-only, SIGKILL-safe), so
a rerun or `--resume` never samples a problem twice. Loss is on the completion only
(TRL's prompt-completion format). The output directory has the same layout as GRPO's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from xling.backends import get_backend
from xling.backends.base import GenerationParams
from xling.errors import XlingError
from xling.jsonl import AppendLog
from xling.models import register as register_models
from xling.models import resolve_model
from xling.progress import make_progress
from xling.prompts import build_request, user_message
from xling.records import Generation, Score
from xling.scoring import score_many
from xling.train.callbacks import run_callbacks
from xling.train.common import (
    check_dependencies,
    check_trl_settings,
    describe_rows,
    has_chat_template,
    is_main_process,
    load_tokenizer,
    out_dir_lock,
    peft_config,
    prepare_out_dir,
    prompt_of,
    require_module,
    train_and_save,
    training_arguments,
    world_size,
    write_train_json,
)
from xling.train.config import SFTTrainConfig
from xling.train.data import TrainRow, read_train_meta, read_train_rows

ROLLOUT_CACHE = "sft_rollouts.jsonl"


def acceptable(
    score: Score, *, require_lang: bool, require_correct: bool = True, fmt: str = "boxed"
) -> bool:
    """A rollout worth imitating: answer boxed, (optionally) correct, in-language, and with
    a well-formed <think> block when `fmt` is "think"."""
    if not score.format_ok or (require_correct and not score.correct):
        return False
    if fmt == "think" and score.think_ok is not True:
        return False
    return not require_lang or score.detected_lang == score.lang


def _key(row: TrainRow) -> tuple[str, str, str, int]:
    return (row.benchmark, row.lang, row.id, 0)


def rejection_sample(
    cfg: SFTTrainConfig, rows: Sequence[TrainRow], console: Console | None = None
) -> dict[tuple[str, str, str, int], str | None]:
    """Target solution (or None when no sample passed) for each row, via the cache."""
    cache = AppendLog(Path(cfg.out) / ROLLOUT_CACHE)
    todo = [r for r in rows if _key(r) not in cache]
    if todo:
        if world_size() > 1:
            raise XlingError(
                f"{len(todo)} problem(s) need rejection sampling, which runs in one process: "
                "run the same `xling train sft` command with --prepare-only outside "
                "`accelerate launch` first"
            )
        _sample_into(cfg, todo, cache, console or Console())
    return {
        (r["benchmark"], r["lang"], str(r["id"]), int(r["sample"])): r.get("solution")
        for r in cache.records()
    }


def _sample_into(
    cfg: SFTTrainConfig, todo: Sequence[TrainRow], cache: AppendLog, console: Console
) -> None:
    options: dict[str, Any] = {"trust_remote_code": cfg.trust_remote_code}
    if cfg.rejection_backend == "hf":
        options["batch_size"] = cfg.rejection_batch_size * cfg.rejection_samples
    else:
        require_module("vllm", "--rejection-backend vllm", "pip install vllm")
        options["seed"] = cfg.seed
    backend = get_backend(cfg.rejection_backend, cfg.model, **options)
    params = GenerationParams(
        temperature=cfg.rejection_temperature,
        max_new_tokens=cfg.rejection_max_new_tokens,
        n=cfg.rejection_samples,
        seed=cfg.seed,
    )
    chunk = max(cfg.rejection_batch_size, 1)
    try:
        with make_progress(console) as progress:
            task = progress.add_task("rejection sampling", total=len(todo))
            for start in range(0, len(todo), chunk):
                part = todo[start : start + chunk]
                requests = [build_request(r.problem(), cfg.system_prompt) for r in part]
                outputs = backend.generate(requests, params)
                gens = [
                    Generation(
                        benchmark=r.benchmark,
                        lang=r.lang,
                        id=r.id,
                        sample=i,
                        question=r.question,
                        answer=r.answer,
                        prompt=user_message(r.problem()),
                        output=o.text,
                        finish_reason=o.finish_reason,
                    )
                    for r, outs in zip(part, outputs, strict=True)
                    for i, o in enumerate(outs)
                ]
                chosen: dict[tuple[str, str, str], str] = {}
                for gen, score in zip(
                    gens,
                    score_many(gens, workers=cfg.score_workers, timeout_s=cfg.score_timeout),
                    strict=True,
                ):
                    ident = (gen.benchmark, gen.lang, gen.id)
                    if ident not in chosen and acceptable(
                        score,
                        require_lang=cfg.rejection_require_lang,
                        require_correct=cfg.rejection_require_correct,
                        fmt=cfg.rejection_format,
                    ):
                        chosen[ident] = gen.output
                cache.append(
                    {
                        "benchmark": r.benchmark,
                        "lang": r.lang,
                        "id": r.id,
                        "sample": 0,
                        "solution": chosen.get((r.benchmark, r.lang, r.id)),
                    }
                    for r in part
                )
                progress.advance(task, len(part))
    finally:
        backend.close()


def sft_targets(
    cfg: SFTTrainConfig, rows: Sequence[TrainRow], console: Console | None = None
) -> tuple[list[tuple[TrainRow, str]], dict[str, int]]:
    """(row, target) pairs and counts {reference, rejection, dropped}."""
    if cfg.source == "reference":
        missing = [r for r in rows if not r.solution]
        if missing:
            first = missing[0]
            raise XlingError(
                f"{len(missing)} row(s) have no reference solution (first: {first.lang} "
                f"id {first.id}); use --source auto or rejection"
            )
    use_ref = cfg.source != "rejection"
    need = [r for r in rows if not (use_ref and r.solution)]
    sampled = rejection_sample(cfg, need, console) if need else {}
    pairs: list[tuple[TrainRow, str]] = []
    counts = Counter({"reference": 0, "rejection": 0, "dropped": 0})
    for r in rows:
        if use_ref and r.solution:
            pairs.append((r, r.solution))
            counts["reference"] += 1
        elif target := sampled.get(_key(r)):
            pairs.append((r, target))
            counts["rejection"] += 1
        else:
            counts["dropped"] += 1
    if not pairs:
        raise XlingError(
            "no SFT targets: no reference solutions and no correct rollout of the base model "
            "(try more --rejection-samples or --no-rejection-require-lang)"
        )
    return pairs, dict(counts)


def sft_dataset(
    pairs: Sequence[tuple[TrainRow, str]], system_prompt: str | None, chat: bool
) -> Any:
    """Prompt-completion rows: the loss covers the completion (the target) only."""
    from datasets import Dataset

    return Dataset.from_list(
        [
            {
                "prompt": prompt_of(r, system_prompt, chat),
                "completion": [{"role": "assistant", "content": target}] if chat else target,
            }
            for r, target in pairs
        ]
    )


def build_sft_trainer(
    cfg: SFTTrainConfig,
    pairs: Sequence[tuple[TrainRow, str]],
    *,
    callbacks: Sequence[Any] = (),
) -> Any:
    check_dependencies(cfg)
    from trl import SFTConfig, SFTTrainer

    register_models()  # TRL loads the model by path: ParScale checkpoints too

    model = resolve_model(cfg.model)  # a bundled name ("organism") as its directory
    tokenizer = load_tokenizer(model, trust_remote_code=cfg.trust_remote_code)
    # SFT pads on the right for training; generation-time left padding does not apply.
    tokenizer.padding_side = "right"
    args = training_arguments(cfg, SFTConfig, max_length=cfg.max_length, packing=False)

    class XlingSFTTrainer(SFTTrainer):
        def create_model_card(self, *args: Any, **kwargs: Any) -> None:
            """xling writes the model card into final/ (xling.train.card); TRL's cannot
            name a local base model or the run's languages."""

    return XlingSFTTrainer(
        model=model,
        args=args,
        train_dataset=sft_dataset(pairs, cfg.system_prompt, has_chat_template(tokenizer)),
        processing_class=tokenizer,
        callbacks=list(callbacks),
        peft_config=peft_config(cfg),
    )


def run_sft(
    cfg: SFTTrainConfig,
    *,
    resume: bool = False,
    prepare_only: bool = False,
    console: Console | None = None,
) -> dict[str, Any]:
    """Build targets (rejection sampling if needed), train, save `final/`, write train.json."""
    with out_dir_lock(cfg):
        return _run_sft(cfg, resume=resume, prepare_only=prepare_only, console=console)


def _run_sft(
    cfg: SFTTrainConfig, *, resume: bool, prepare_only: bool, console: Console | None
) -> dict[str, Any]:
    console = console or Console()
    if not cfg.model:
        raise XlingError("--model is required (a HF hub id or local path)")
    if not cfg.data:
        raise XlingError("--data is required: a training JSONL from `xling data parallel`")
    check_dependencies(cfg)
    from trl import SFTConfig

    check_trl_settings(cfg, SFTConfig)  # a misspelt --trl key fails before anything runs
    rows = read_train_rows(Path(cfg.data))
    meta = read_train_meta(Path(cfg.data), rows)
    checkpoint = prepare_out_dir(cfg, "sft", resume=resume or prepare_only)
    pairs, counts = sft_targets(cfg, rows, console)
    if is_main_process():
        console.print(
            f"SFT targets: {counts['reference']} reference, {counts['rejection']} rejection-"
            f"sampled, {counts['dropped']} dropped ({describe_rows(rows)})"
        )
    extra = {"sft_targets": counts, "sft_source": cfg.source}
    if prepare_only:
        return write_train_json(cfg, "sft", meta, status="prepared", **extra)
    write_train_json(cfg, "sft", meta, status="running", **extra)
    out = Path(cfg.out)
    callbacks = run_callbacks(out, "sft", cfg.model, cfg.data)
    trainer = build_sft_trainer(cfg, pairs, callbacks=callbacks)
    return train_and_save(trainer, cfg, "sft", meta, checkpoint, console, **extra)
