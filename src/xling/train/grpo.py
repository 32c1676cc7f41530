"""`xling train grpo`: GRPO with TRL's GRPOTrainer and the composite reward.

The RL loop, distribution (accelerate: DDP / DeepSpeed), vLLM rollouts and checkpointing
are TRL's and transformers'; this module builds the dataset (the evaluation's localized
prompt for every row), binds the rewards to one `RolloutScorer`, and writes the run's
`train.json`, logs and final model.

Output directory:
    checkpoint-N/          resumable checkpoints (`--resume` continues from the newest)
    final/                 model + tokenizer, loadable by `xling eval --model <out>/final`
    train.json             train_langs, num_parallel_langs, budget, shuffle_ids, …
    train_config.json      the resolved config (a resume must agree with it)
    metrics.jsonl/.csv     per-step logs; training_curves.png; train_summary.json
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from xling.cpu import tune_for_cpu
from xling.errors import XlingError
from xling.models import register as register_models
from xling.models import resolve_model
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
    train_and_save,
    training_arguments,
    world_size,
    write_train_json,
)
from xling.train.config import GRPOTrainConfig
from xling.train.data import TrainRow, read_train_meta, read_train_rows
from xling.train.rewards import RolloutScorer, build_reward_funcs, template_uses_think


def grpo_dataset(rows: Sequence[TrainRow], system_prompt: str | None, chat: bool) -> Any:
    """One row per prompt; `lang` and `answer` reach the rewards as keyword columns."""
    from datasets import Dataset

    return Dataset.from_list(
        [
            {
                "prompt": prompt_of(r, system_prompt, chat),
                "lang": r.lang,
                "answer": r.answer,
                "id": r.id,
                "benchmark": r.benchmark,
            }
            for r in rows
        ]
    )


def _check_batch(cfg: GRPOTrainConfig) -> None:
    rollouts = cfg.per_device_batch_size * world_size() * cfg.gradient_accumulation_steps
    if rollouts % cfg.num_generations:
        raise XlingError(
            f"rollouts per step ({cfg.per_device_batch_size} per device x {world_size()} "
            f"process(es) x {cfg.gradient_accumulation_steps} accumulation = {rollouts}) must "
            f"be a multiple of num_generations ({cfg.num_generations}) so that every group "
            "is complete"
        )


def build_grpo_trainer(
    cfg: GRPOTrainConfig,
    scorer: RolloutScorer,
    *,
    callbacks: Sequence[Any] = (),
    rows: Sequence[TrainRow] | None = None,
) -> Any:
    """A ready GRPOTrainer for `cfg` (rows default to those of `cfg.data`)."""
    check_dependencies(cfg, use_vllm=cfg.use_vllm)
    _check_batch(cfg)
    from trl import GRPOConfig

    register_models()  # TRL loads the model by path: ParScale checkpoints too

    from xling.train.rollouts import EngineGRPOTrainer

    if rows is None:
        rows = read_train_rows(Path(cfg.data))
    model = resolve_model(cfg.model)  # a bundled name ("organism") as its directory
    tokenizer = load_tokenizer(model, trust_remote_code=cfg.trust_remote_code)
    chat = has_chat_template(tokenizer)
    require_think = cfg.think == "required" or (
        cfg.think == "auto" and template_uses_think(tokenizer)
    )
    funcs, weights = build_reward_funcs(cfg.rewards, scorer, require_think=require_think)
    vllm: dict[str, Any] = {}
    if cfg.use_vllm:
        vllm = {
            "use_vllm": True,
            "vllm_mode": cfg.vllm_mode,
            "vllm_gpu_memory_utilization": cfg.vllm_gpu_memory_utilization,
            "vllm_tensor_parallel_size": cfg.vllm_tensor_parallel_size,
            "vllm_max_model_length": cfg.vllm_max_model_length,
            "vllm_server_base_url": cfg.vllm_server_base_url,
        }
    args = training_arguments(
        cfg,
        GRPOConfig,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        beta=cfg.beta,
        epsilon=cfg.epsilon,
        num_iterations=cfg.num_iterations,
        loss_type=cfg.loss_type,
        scale_rewards=cfg.scale_rewards,
        reward_weights=weights,
        remove_unused_columns=False,  # the rewards need `lang` and `answer`
        log_completions=cfg.log_completions,
        **vllm,
    )
    return EngineGRPOTrainer(
        rollout_engine=cfg.rollout_engine,
        shared_prompt_forward=cfg.shared_prompt_forward,
        rollout_scorer=scorer,
        model=model,
        reward_funcs=funcs,
        args=args,
        train_dataset=grpo_dataset(rows, cfg.system_prompt, chat),
        processing_class=tokenizer,
        callbacks=list(callbacks),
        peft_config=peft_config(cfg),
    )


def run_grpo(
    cfg: GRPOTrainConfig, *, resume: bool = False, console: Console | None = None
) -> dict[str, Any]:
    """Train, save `final/`, write train.json; returns train.json's content."""
    with out_dir_lock(cfg):
        return _run_grpo(cfg, resume=resume, console=console)


def _run_grpo(cfg: GRPOTrainConfig, *, resume: bool, console: Console | None) -> dict[str, Any]:
    console = console or Console()
    if not cfg.model:
        raise XlingError("--model is required (a HF hub id or local path)")
    if not cfg.data:
        raise XlingError("--data is required: a training JSONL from `xling data parallel`")
    check_dependencies(cfg, use_vllm=cfg.use_vllm)
    _check_batch(cfg)
    from trl import GRPOConfig

    check_trl_settings(cfg, GRPOConfig)  # a misspelt --trl key fails before anything runs
    rows = read_train_rows(Path(cfg.data))
    meta = read_train_meta(Path(cfg.data), rows)
    checkpoint = prepare_out_dir(cfg, "grpo", resume=resume)
    reward_info = {"rewards": cfg.rewards, "num_generations": cfg.num_generations}
    write_train_json(cfg, "grpo", meta, status="running", **reward_info)
    if is_main_process():
        start = f"resuming from {checkpoint.name}" if checkpoint else "starting"
        console.print(f"GRPO {start}: {describe_rows(rows)} -> [bold]{cfg.out}[/]")
    out = Path(cfg.out)
    callbacks = run_callbacks(out, "grpo", cfg.model, cfg.data)
    tune_for_cpu()
    with RolloutScorer(workers=cfg.score_workers, timeout_s=cfg.score_timeout) as scorer:
        scorer.start()  # before the model loads: workers come up while weights are read
        trainer = build_grpo_trainer(cfg, scorer, callbacks=callbacks, rows=rows)
        return train_and_save(trainer, cfg, "grpo", meta, checkpoint, console, **reward_info)
