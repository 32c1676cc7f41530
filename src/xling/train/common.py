"""What GRPO and SFT runs share: the output directory, resume, precision, optional
dependencies, prompts, and the `train.json` that the study/report code reads."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib.util
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from xling.config import closest
from xling.errors import XlingError
from xling.jsonl import write_json_atomic
from xling.lock import run_lock
from xling.prompts import build_request
from xling.provenance import environment, file_sha256, model_info, write_env_json
from xling.train.config import CommonTrainConfig, resume_mismatches
from xling.train.data import TrainRow, num_parallel_langs, train_langs_of

TRAIN_JSON = "train.json"
TRAIN_CONFIG_JSON = "train_config.json"
FINAL_DIR = "final"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


class MissingDependencyError(XlingError):
    pass


# ------------------------------------------------------------------ environment


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Rank 0 of a `torchrun`/`accelerate launch` job, or a plain single process."""
    return int(os.environ.get("RANK", "0")) == 0


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def require_module(name: str, why: str, install: str) -> None:
    if not has_module(name):
        raise MissingDependencyError(
            f"{why} needs the `{name}` package, which is not installed; "
            f"install it with `{install}` or {_WITHOUT[name]}"
        )


_WITHOUT = {
    "vllm": "drop --use-vllm (rollouts then use transformers generate)",
    "deepspeed": "use configs/accelerate/ddp.yaml (plain DDP) instead",
    "trl": "see docs/training.md",
    "peft": "drop --peft (train every weight)",
}


def deepspeed_requested(cfg: CommonTrainConfig) -> bool:
    env = os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() in ("1", "true", "yes")
    return bool(cfg.deepspeed) or env


def check_dependencies(cfg: CommonTrainConfig, *, use_vllm: bool = False) -> None:
    """Fail early, with the fix in the message, when the config asks for a missing package."""
    require_module("trl", "training", "pip install 'xling[train]'")
    if cfg.peft != "none":
        require_module("peft", f"--peft {cfg.peft}", "pip install 'xling[train]'")
    if use_vllm:
        require_module("vllm", "--use-vllm", "pip install vllm")
    if deepspeed_requested(cfg):
        require_module("deepspeed", "a DeepSpeed config", "pip install deepspeed")
        if cfg.deepspeed and not Path(cfg.deepspeed).is_file():
            raise XlingError(f"DeepSpeed config not found: {cfg.deepspeed}")


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def precision_flags(precision: str) -> dict[str, bool]:
    """bf16/fp16 flags for TrainingArguments; 'auto' = bf16 where the GPU has it, else fp32."""
    if precision == "auto":
        import torch

        bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return {"bf16": bf16, "fp16": False}
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def report_targets(report_to: str) -> list[str]:
    """TRL's `report_to` list: "auto" is TensorBoard when it is installed, else nothing;
    otherwise the names given, each one an integration transformers knows and whose
    package is installed (a tracker missing at the first log line would lose the run)."""
    from transformers.integrations.integration_utils import (
        INTEGRATION_TO_CALLBACK,
        get_available_reporting_integrations,
    )

    value = report_to.strip()
    if value == "none":
        return []
    if value == "auto":
        return ["tensorboard"] if "tensorboard" in get_available_reporting_integrations() else []
    names = [n.strip() for n in value.split(",") if n.strip()]
    if names == ["all"]:
        return get_available_reporting_integrations()
    available = get_available_reporting_integrations()
    for name in names:
        if name not in INTEGRATION_TO_CALLBACK:
            hint = closest(name, INTEGRATION_TO_CALLBACK)
            suggestion = f"; did you mean {hint!r}?" if hint else ""
            raise XlingError(
                f"report_to: {name!r} is not a tracker transformers knows{suggestion} "
                f"(known: {', '.join(sorted(INTEGRATION_TO_CALLBACK))})"
            )
        if name not in available:
            raise MissingDependencyError(
                f"report_to={name} needs its package installed (e.g. `pip install {name}`)"
            )
    return names


def check_trl_settings(cfg: CommonTrainConfig, args_cls: type) -> dict[str, Any]:
    """The `[trl]` table, every key a field of TRL's `args_cls` (an unknown one is one line
    naming the closest field)."""
    names = sorted(f.name for f in dataclasses.fields(args_cls))
    for key in cfg.trl:
        if key not in names:
            # TRL has some 200 fields: name the nearest, however far, rather than list them.
            hint = closest(key, names, cutoff=0.0)
            raise XlingError(
                f"--trl {key}: {args_cls.__name__} has no such field; the closest is {hint!r}"
            )
    return dict(cfg.trl)


def peft_config(cfg: CommonTrainConfig) -> Any:
    """The LoRA adapter config for `--peft lora` (None: train every weight)."""
    if cfg.peft == "none":
        return None
    require_module("peft", "--peft lora", "pip install 'xling[train]'")
    from peft import LoraConfig

    targets = cfg.lora_target_modules.strip()
    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=(
            targets if targets == "all-linear" else [t.strip() for t in targets.split(",")]
        ),
        task_type="CAUSAL_LM",
    )


def training_arguments(cfg: CommonTrainConfig, args_cls: type, **specific: Any) -> Any:
    """A TRL config (`GRPOConfig`/`SFTConfig`) from the shared fields plus `specific` ones.

    TRL/transformers raise ValueError on inconsistent settings (e.g. a batch that is not a
    multiple of the group size); those become one-line XlingErrors.
    """
    names = {f.name for f in dataclasses.fields(args_cls)}
    model_init: dict[str, Any] = {"dtype": cfg.model_dtype}
    kwargs: dict[str, Any] = {
        "output_dir": cfg.out,
        "learning_rate": cfg.learning_rate,
        "lr_scheduler_type": cfg.lr_scheduler,
        "weight_decay": cfg.weight_decay,
        "max_grad_norm": cfg.max_grad_norm,
        "num_train_epochs": cfg.num_train_epochs,
        "max_steps": cfg.max_steps,
        "per_device_train_batch_size": cfg.per_device_batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        "save_strategy": "steps",
        "save_steps": cfg.save_steps,
        "save_total_limit": cfg.save_total_limit or None,  # 0 = keep every checkpoint
        "logging_strategy": "steps",
        "logging_steps": cfg.logging_steps,
        "report_to": report_targets(cfg.report_to),
        "logging_dir": str(Path(cfg.out) / "tensorboard"),
        "use_cpu": not cuda_available(),
        "model_init_kwargs": model_init,
        "trust_remote_code": cfg.trust_remote_code,
        "disable_tqdm": False,
        **precision_flags(cfg.precision),
    }
    # transformers 5 renamed gradient_checkpointing and folded warmup_ratio into warmup_steps
    # (a float below 1 is a ratio); pass whichever this version has, so no deprecation noise.
    if "activation_checkpointing" in names:
        kwargs["activation_checkpointing"] = cfg.gradient_checkpointing
    else:
        kwargs["gradient_checkpointing"] = cfg.gradient_checkpointing
    if "warmup_ratio" in names:
        kwargs["warmup_ratio"] = cfg.warmup_ratio
    else:
        kwargs["warmup_steps"] = cfg.warmup_ratio
    if "logging_dir" not in names:
        kwargs.pop("logging_dir")
    if cfg.deepspeed:
        kwargs["deepspeed"] = cfg.deepspeed
    kwargs.update(specific)
    # The [trl] table goes last: any TRL field xling has no option for, as TRL defines it.
    passthrough = check_trl_settings(cfg, args_cls)
    if isinstance(passthrough.get("model_init_kwargs"), dict):
        passthrough["model_init_kwargs"] = {**model_init, **passthrough["model_init_kwargs"]}
    kwargs.update(passthrough)
    try:
        return args_cls(**kwargs)
    except ValueError as exc:
        raise XlingError(f"invalid training settings: {exc}") from exc


# ------------------------------------------------------------------ output dir, resume


def checkpoints(out: Path) -> list[Path]:
    """checkpoint-N folders, oldest first."""
    if not out.is_dir():
        return []
    found = [
        (int(m.group(1)), p)
        for p in out.iterdir()
        if p.is_dir() and (m := _CHECKPOINT_RE.match(p.name))
    ]
    return [p for _, p in sorted(found)]


def resumable_checkpoint(out: Path) -> Path | None:
    """The newest checkpoint that finished writing (has trainer_state.json)."""
    for ckpt in reversed(checkpoints(out)):
        if (ckpt / "trainer_state.json").is_file():
            return ckpt
    return None


def out_dir_lock(cfg: CommonTrainConfig) -> contextlib.AbstractContextManager[None]:
    """One training run per output directory (a second `xling train` on it is refused):
    held by the main process, as the other ranks of the same run write there by design."""
    return run_lock(Path(cfg.out)) if is_main_process() else contextlib.nullcontext()


def prepare_out_dir(cfg: CommonTrainConfig, method: str, *, resume: bool) -> Path | None:
    """Check the output dir against `resume`; write the resolved config. Returns the
    checkpoint to resume from (None: start fresh)."""
    out = Path(cfg.out)
    saved_path = out / TRAIN_CONFIG_JSON
    ckpt = resumable_checkpoint(out)
    if not resume and (ckpt is not None or (out / FINAL_DIR).exists()):
        raise XlingError(
            f"{out} already holds a {method} run; pass --resume to continue it or choose "
            "another --out"
        )
    if resume and saved_path.is_file():
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
        if saved.get("method") not in (None, method):
            raise XlingError(f"{out} holds a {saved.get('method')} run, not {method}")
        diffs = resume_mismatches(saved.get("config", {}), cfg)
        if diffs:
            raise XlingError(
                f"cannot resume {out}: settings differ from the run's ({'; '.join(diffs)}); "
                "use the same settings or a new --out"
            )
    if is_main_process():
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(saved_path, {"method": method, "config": dataclasses.asdict(cfg)})
        write_env_json(out, training_environment(cfg, method))
    return ckpt if resume else None


def training_environment(cfg: CommonTrainConfig, method: str) -> dict[str, Any]:
    """env.json of a training folder: versions, command, device, the base model's revision
    or weights hash, and the training data file's hash."""
    from xling.models import resolve_model

    data = Path(cfg.data)
    data_info: dict[str, Any] = {"path": str(data)}
    if data.is_file():
        data_info["sha256"] = file_sha256(data)
    init = cfg.trl.get("model_init_kwargs")
    revision = init.get("revision") if isinstance(init, dict) else None
    return environment(
        model=model_info(resolve_model(cfg.model), revision),
        data=data_info,
        extra={"method": method, "processes": world_size()},
    )


def write_train_json(
    cfg: CommonTrainConfig, method: str, meta: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """<out>/train.json: what the study/report code reads (train_langs, num_parallel_langs)
    plus how the run was made."""
    langs = train_langs_of(meta)
    info = {
        "method": method,
        "train_langs": langs,
        "num_parallel_langs": num_parallel_langs(langs),
        "budget": meta.get("budget"),
        "shuffle_ids": meta.get("shuffle_ids"),
        "n_rows": meta.get("n_rows"),
        "n_problems": meta.get("n_problems"),
        "data": cfg.data,
        "base_model": cfg.model,
        "model_dir": FINAL_DIR,
        "seed": cfg.seed,
        "num_processes": world_size(),
        **extra,
    }
    if is_main_process():
        write_json_atomic(Path(cfg.out) / TRAIN_JSON, info)
    return info


# ------------------------------------------------------------------ prompts


def load_tokenizer(model: str, *, trust_remote_code: bool = False) -> Any:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(
            model, padding_side="left", trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError) as exc:
        raise XlingError(f"cannot load the tokenizer of {model!r}: {exc}") from exc
    if tok.pad_token is None and tok.eos_token is not None:
        tok.pad_token = tok.eos_token
    return tok


def prompt_of(row: TrainRow, system_prompt: str | None, chat: bool) -> Any:
    """The evaluation prompt (localized instruction): chat messages when the model has a chat
    template (TRL applies it), else the messages joined as `xling eval` joins them."""
    messages = [dict(m) for m in build_request(row.problem(), system_prompt).messages]
    return messages if chat else "\n\n".join(m["content"] for m in messages)


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def describe_rows(rows: Sequence[TrainRow]) -> str:
    langs = list(dict.fromkeys(r.lang for r in rows))
    return f"{len(rows)} rows, {len({r.id for r in rows})} problems, langs {','.join(langs)}"


@contextlib.contextmanager
def collector_skips_what_lives_now() -> Iterator[None]:
    """Keep the objects alive now (modules, model, trainer: ~0.5M) out of the garbage
    collector's full passes while the block runs. A training step allocates enough
    containers to set off a full pass every step or two, and each one walked all of them
    (0.28 s on the organism, measured on a CPU). Unfrozen after, so nothing frozen here
    outlives a training that runs inside a longer process (a study)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def train_and_save(
    trainer: Any,
    cfg: CommonTrainConfig,
    method: str,
    meta: dict[str, Any],
    checkpoint: Path | None,
    console: Any,
    **extra: Any,
) -> dict[str, Any]:
    """Train (resuming from `checkpoint`), save `final/`, mark train.json done; its content."""
    out = Path(cfg.out)
    with collector_skips_what_lives_now():
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if cfg.peft != "none":
        save_merged_adapters(trainer, out / FINAL_DIR)
    else:
        trainer.save_model(str(out / FINAL_DIR))
    step = trainer.state.global_step
    info = write_train_json(
        cfg,
        method,
        meta,
        status="done",
        global_step=step,
        **extra,
        config=dataclasses.asdict(cfg),
    )
    if is_main_process():
        from xling.train.card import push_to_hub, write_model_card

        card = write_model_card(out)
        console.print(f"{method.upper()} done at step {step}: model in [bold]{out / FINAL_DIR}[/]")
        if cfg.push_to_hub:
            url = push_to_hub(card.parent, cfg.push_to_hub, private=cfg.hub_private)
            console.print(f"pushed {out / FINAL_DIR} to [bold]{url}[/]")
    return info


def save_merged_adapters(trainer: Any, final: Path) -> None:
    """A LoRA run's final/: the adapters merged into the base weights (a plain model that
    `xling eval`, vLLM and any transformers code load), with the adapter alone in
    final/adapter/ for those who want to apply it to the base model themselves."""
    from xling.train.card import ADAPTER_DIR

    trainer.save_model(str(final / ADAPTER_DIR))
    if not is_main_process():
        return
    # PEFT's template card (all "[More Information Needed]"); final/README.md describes both.
    (final / ADAPTER_DIR / "README.md").unlink(missing_ok=True)
    model = trainer.accelerator.unwrap_model(trainer.model)
    merged = model.merge_and_unload()
    merged.save_pretrained(str(final))
    if trainer.processing_class is not None:
        trainer.processing_class.save_pretrained(str(final))
