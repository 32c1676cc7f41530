"""Training configs: frozen dataclasses, filled from defaults < TOML file < command-line flags.

Every field's `help` metadata is also its command-line help (commands.py builds the flags
from these dataclasses), so the TOML keys, the flags and the code never drift apart.

Defaults marked "paper" follow arXiv 2510.02272 (group size 16, reward 0.8/0.1/0.1, 1,000
training problems); the rest are common choices for GRPO/SFT on small instruct models, not
values the paper states (see docs/training.md).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

from xling.config import check_range, convert_value
from xling.errors import XlingError
from xling.train.rewards import DEFAULT_REWARDS, parse_reward_spec

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
MODEL_DTYPES = ("auto", "float32", "bfloat16", "float16")
THINK_MODES = ("auto", "required", "optional")
VLLM_MODES = ("colocate", "server")
ROLLOUT_ENGINES = ("auto", "on", "off")
SFT_SOURCES = ("auto", "reference", "rejection")
PEFT_METHODS = ("none", "lora")

# xling options that set a TRL config field of another name. A `[trl]` key naming one of
# these TRL fields (or an xling option of the same name) sets the xling option instead, so
# every setting has one home, its checks and its record in train_config.json.
TRL_NAME_OF = {
    "out": "output_dir",
    "lr_scheduler": "lr_scheduler_type",
    "per_device_batch_size": "per_device_train_batch_size",
    "gradient_checkpointing": "activation_checkpointing",
}
# TRL fields that xling sets for its own reasons and a `[trl]` table may not override.
TRL_RESERVED = {
    "reward_weights": "set the rewards' weights with --rewards (e.g. accuracy=0.8,format=0.1)",
    "remove_unused_columns": "the rewards read the dataset's lang and answer columns",
    "output_dir": "set it with --out",
}


REJECTION_FORMATS = ("boxed", "think")


class TrainConfigError(XlingError):
    pass


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class CommonTrainConfig:
    """Fields shared by GRPO and SFT."""

    model: str = _f("", "Base model: HF hub id or local path.")
    data: str = _f("", "Training JSONL from `xling data parallel`.")
    out: str = _f("runs/train", "Output dir: checkpoints, logs, train.json, final/ model.")
    system_prompt: str | None = _f(None, "Optional system message (as in `xling eval`).")
    learning_rate: float = _f(1e-6, "Peak learning rate (AdamW).")
    lr_scheduler: str = _f("constant_with_warmup", "transformers LR scheduler name.")
    warmup_ratio: float = _f(0.03, "Warm-up share of the total steps.")
    weight_decay: float = _f(0.0, "AdamW weight decay.")
    max_grad_norm: float = _f(1.0, "Gradient clipping norm.")
    num_train_epochs: float = _f(1.0, "Passes over the training set.")
    max_steps: int = _f(-1, "Stop after this many optimizer steps (-1: run the epochs).")
    per_device_batch_size: int = _f(8, "Sequences per device per micro-batch.")
    gradient_accumulation_steps: int = _f(1, "Micro-batches per optimizer step.")
    seed: int = _f(0, "Seed for data order, sampling and initialization.")
    save_steps: int = _f(50, "Write a checkpoint every N steps (what --resume continues from).")
    save_total_limit: int = _f(2, "Keep only the newest N checkpoints (0: keep all).")
    logging_steps: int = _f(1, "Log metrics every N steps.")
    precision: str = _f("auto", "auto (bf16 on GPUs that have it, else fp32) | bf16 | fp16 | fp32.")
    model_dtype: str = _f(
        "float32",
        "Weights dtype when loading: float32 keeps fp32 master weights under bf16 "
        "autocast (safe for small learning rates); bfloat16 halves memory.",
    )
    gradient_checkpointing: bool = _f(True, "Recompute activations to save memory.")
    deepspeed: str | None = _f(
        None,
        "DeepSpeed JSON (e.g. configs/deepspeed/zero2.json); usually given through "
        "`accelerate launch --config_file configs/accelerate/zero2.yaml` instead.",
    )
    report_to: str = _f(
        "auto",
        "Trackers: auto (TensorBoard when installed) | none | any of transformers' "
        "integrations, comma-separated (tensorboard, wandb, trackio, mlflow, comet_ml, ...).",
    )
    trust_remote_code: bool = _f(False, "Allow models that ship their own code.")
    push_to_hub: str | None = _f(
        None,
        "Hub repo id (user/name) to upload final/ to (model, tokenizer, model card) when "
        "training ends; uses your Hugging Face login (HF_TOKEN).",
    )
    hub_private: bool = _f(True, "--push-to-hub creates a private repo.")
    peft: str = _f("none", "Train adapters instead of all weights: none | lora.")
    lora_r: int = _f(16, "LoRA rank.")
    lora_alpha: int = _f(32, "LoRA scaling numerator (the update is scaled by alpha / r).")
    lora_dropout: float = _f(0.0, "Dropout on the LoRA branch.")
    lora_target_modules: str = _f(
        "all-linear",
        "Modules that get adapters: all-linear | comma-separated names (q_proj,v_proj).",
    )
    trl: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "Any other TRL GRPOConfig / SFTConfig field (a [trl] table; on the "
            "command line --trl key=value), checked against TRL's own dataclass."
        },
    )
    score_workers: int = _f(4, "Reward/rejection scoring worker processes (per training process).")
    score_timeout: float = _f(5.0, "Hard per-rollout scoring timeout in seconds (as `xling eval`).")

    def __post_init__(self) -> None:
        self._fold_trl_aliases()
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("model_dtype", self.model_dtype, MODEL_DTYPES)
        _check_choice("peft", self.peft, PEFT_METHODS)
        check_range("lora_r", self.lora_r, at_least=1)
        check_range("lora_alpha", self.lora_alpha, above=0)
        check_range("lora_dropout", self.lora_dropout, at_least=0, at_most=0.99)
        if not self.lora_target_modules.strip():
            raise TrainConfigError("lora_target_modules must name modules or be all-linear")
        if not self.report_to.strip():
            raise TrainConfigError("report_to must be auto, none or tracker names")
        if self.push_to_hub is not None and self.push_to_hub.count("/") != 1:
            raise TrainConfigError(
                f"push_to_hub must be a hub repo id like user/name, got {self.push_to_hub!r}"
            )
        for name in (
            "per_device_batch_size",
            "gradient_accumulation_steps",
            "save_steps",
            "logging_steps",
            "score_workers",
        ):
            if getattr(self, name) < 1:
                raise TrainConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise TrainConfigError(f"learning_rate must be positive, got {self.learning_rate}")
        if not 0 <= self.warmup_ratio < 1:
            raise TrainConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise TrainConfigError(f"max_steps must be -1 or positive, got {self.max_steps}")
        if self.save_total_limit < 0:
            raise TrainConfigError(f"save_total_limit must be >= 0, got {self.save_total_limit}")
        check_range("score_timeout", self.score_timeout, above=0)
        check_range("num_train_epochs", self.num_train_epochs, above=0)
        check_range("weight_decay", self.weight_decay, at_least=0)
        check_range("max_grad_norm", self.max_grad_norm, above=0)
        check_range("seed", self.seed, at_least=0)
        if not self.out.strip():
            raise TrainConfigError("out (--out) must name an output directory")

    def _fold_trl_aliases(self) -> None:
        """Move `[trl]` keys that name one of xling's own options into that option."""
        if not isinstance(self.trl, dict):
            raise TrainConfigError(f"trl must be a table of TRL settings, got {self.trl!r}")
        own = {f.name for f in dataclasses.fields(self)} - {"trl"}
        alias = {trl_name: name for name, trl_name in TRL_NAME_OF.items() if name in own}
        hints = typing.get_type_hints(type(self))
        rest = {}
        for key, value in self.trl.items():
            if key in TRL_RESERVED:
                raise TrainConfigError(f"trl.{key} cannot be set: {TRL_RESERVED[key]}")
            name = alias.get(key, key if key in own else None)
            if name is None:
                rest[key] = value
            else:
                object.__setattr__(self, name, convert_value(hints[name], value, f"trl.{key}"))
        object.__setattr__(self, "trl", rest)


@dataclass(frozen=True)
class GRPOTrainConfig(CommonTrainConfig):
    out: str = _f("runs/grpo", "Output dir: checkpoints, logs, train.json, final/ model.")
    rewards: str = _f(
        DEFAULT_REWARDS,
        "Rewards and weights, name=weight comma-separated "
        "(accuracy, format, language) [paper: 0.8/0.1/0.1].",
    )
    think: str = _f(
        "auto",
        "Format reward's <think> rule: required | optional | auto (required when the "
        "chat template uses <think>).",
    )
    num_generations: int = _f(16, "Group size: completions per prompt [paper: 16].")
    per_device_batch_size: int = _f(16, "Rollouts per device per micro-batch.")
    gradient_accumulation_steps: int = _f(4, "Micro-batches per optimizer step.")
    max_completion_length: int = _f(1024, "Longest completion, in tokens.")
    temperature: float = _f(1.0, "Rollout sampling temperature.")
    top_p: float = _f(1.0, "Rollout nucleus sampling p.")
    beta: float = _f(0.04, "KL coefficient against the base model (0 = no reference model).")
    epsilon: float = _f(0.2, "PPO-style clipping range.")
    num_iterations: int = _f(1, "Optimization passes per generation batch (GRPO's mu).")
    loss_type: str = _f("dapo", "TRL loss aggregation: grpo | dr_grpo | dapo | bnpo | ...")
    scale_rewards: str = _f("group", "Advantage scaling: group | batch | none.")
    use_vllm: bool = _f(False, "Generate rollouts with vLLM (must be installed).")
    vllm_mode: str = _f(
        "colocate", "colocate (vLLM inside the trainer) | server (`trl vllm-serve`)."
    )
    vllm_gpu_memory_utilization: float = _f(0.3, "colocate: GPU memory share for vLLM.")
    vllm_tensor_parallel_size: int = _f(1, "colocate: tensor parallel size for vLLM.")
    vllm_max_model_length: int | None = _f(None, "vLLM context (prompt + completion) length.")
    vllm_server_base_url: str | None = _f(None, "server: URL of `trl vllm-serve`.")
    rollout_engine: str = _f(
        "auto",
        "Rollouts without vLLM: auto (xling's engine on CUDA for Qwen2/Qwen3/Llama/Mistral, "
        "else transformers generate) | on | off.",
    )
    shared_prompt_forward: str = _f(
        "auto",
        "Policy log-probs with each prompt computed once for its whole group, completions "
        "padded by length bucket and only scored positions through the head "
        "(xling.train.logprobs): auto (on a CPU, in one process, for the engine's model "
        "families, without gradient checkpointing) | on | off (TRL's padded forward).",
    )
    log_completions: bool = _f(False, "Print a sample of rollouts at each log step.")

    def __post_init__(self) -> None:
        super().__post_init__()
        parse_reward_spec(self.rewards)
        _check_choice("think", self.think, THINK_MODES)
        _check_choice("vllm_mode", self.vllm_mode, VLLM_MODES)
        _check_choice("rollout_engine", self.rollout_engine, ROLLOUT_ENGINES)
        _check_choice("shared_prompt_forward", self.shared_prompt_forward, ROLLOUT_ENGINES)
        if self.num_generations < 2:
            raise TrainConfigError(
                f"num_generations must be at least 2 (GRPO compares completions within a "
                f"group), got {self.num_generations}"
            )
        if self.max_completion_length < 1:
            raise TrainConfigError("max_completion_length must be at least 1")
        if self.beta < 0:
            raise TrainConfigError(f"beta must be >= 0, got {self.beta}")
        check_range("temperature", self.temperature, above=0)  # GRPO needs varied samples
        check_range("top_p", self.top_p, above=0, at_most=1)
        check_range("epsilon", self.epsilon, above=0)
        check_range("num_iterations", self.num_iterations, at_least=1)
        check_range(
            "vllm_gpu_memory_utilization", self.vllm_gpu_memory_utilization, above=0, at_most=1
        )
        check_range("vllm_tensor_parallel_size", self.vllm_tensor_parallel_size, at_least=1)
        check_range("vllm_max_model_length", self.vllm_max_model_length, at_least=1)


@dataclass(frozen=True)
class SFTTrainConfig(CommonTrainConfig):
    out: str = _f("runs/sft", "Output dir: checkpoints, logs, train.json, final/ model.")
    learning_rate: float = _f(1e-5, "Peak learning rate (AdamW).")
    lr_scheduler: str = _f("cosine", "transformers LR scheduler name.")
    num_train_epochs: float = _f(3.0, "Passes over the training set.")
    gradient_accumulation_steps: int = _f(2, "Micro-batches per optimizer step.")
    max_length: int = _f(2048, "Longest prompt + solution, in tokens (longer ones are cut).")
    source: str = _f(
        "auto",
        "Targets: reference (the data's worked solutions) | rejection (correct "
        "rollouts of the base model) | auto (references where present, else rejection).",
    )
    rejection_samples: int = _f(8, "Rejection sampling: samples per problem.")
    rejection_temperature: float = _f(0.7, "Rejection sampling temperature.")
    rejection_max_new_tokens: int = _f(1024, "Rejection sampling length limit.")
    rejection_backend: str = _f("hf", "Rejection sampling backend: hf | vllm.")
    rejection_batch_size: int = _f(16, "hf backend: prompts per generation batch.")
    rejection_require_lang: bool = _f(
        True, "Keep only rollouts written in the prompt's language (and boxed)."
    )
    rejection_require_correct: bool = _f(
        True,
        "Keep only correct rollouts. Off: any rollout in the required format — the base "
        "model distilled into one format (an instruct stage that narrows exploration "
        "without teaching it more math).",
    )
    rejection_format: str = _f(
        "boxed",
        "Format a kept rollout must have: boxed (a \\boxed answer) | think (also a "
        "well-formed <think> block, the step-by-step format).",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_choice("source", self.source, SFT_SOURCES)
        _check_choice("rejection_backend", self.rejection_backend, ("hf", "vllm"))
        _check_choice("rejection_format", self.rejection_format, REJECTION_FORMATS)
        if self.rejection_samples < 1:
            raise TrainConfigError("rejection_samples must be at least 1")
        check_range("rejection_temperature", self.rejection_temperature, at_least=0)
        check_range("rejection_max_new_tokens", self.rejection_max_new_tokens, at_least=1)
        check_range("rejection_batch_size", self.rejection_batch_size, at_least=1)
        if self.max_length < 8:
            raise TrainConfigError(f"max_length must be at least 8, got {self.max_length}")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise TrainConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def help_of(cls: type, name: str) -> str:
    return next(f.metadata.get("help", "") for f in dataclasses.fields(cls) if f.name == name)


# Fields that decide what a run trains on and how: a resumed run must agree on all of them.
RESUME_IDENTITY = (
    "model",
    "data",
    "system_prompt",
    "learning_rate",
    "lr_scheduler",
    "per_device_batch_size",
    "gradient_accumulation_steps",
    "seed",
    "rewards",
    "num_generations",
    "max_completion_length",
    "temperature",
    "beta",
    "loss_type",
    "source",
    "max_length",
    "peft",
    "lora_r",
    "lora_alpha",
    "lora_target_modules",
)


def resume_mismatches(saved: dict[str, Any], cfg: Any) -> list[str]:
    """'name: saved -> now' for identity fields that changed since the run started."""
    now = dataclasses.asdict(cfg)
    return [
        f"{k}: {saved[k]!r} -> {now[k]!r}"
        for k in RESUME_IDENTITY
        if k in saved and k in now and saved[k] != now[k]
    ]
