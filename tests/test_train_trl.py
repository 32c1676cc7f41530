"""Training reaches all of TRL (`[trl]` / `--trl`), any tracker, LoRA with engine rollouts;
every final/ has a model card, can be pushed to the hub, and every training folder says
what made it (env.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from xling.config import ConfigError
from xling.errors import XlingError
from xling.testing.cli import one_line_error, run_xling
from xling.train.common import (
    FINAL_DIR,
    MissingDependencyError,
    check_trl_settings,
    report_targets,
    training_arguments,
)
from xling.train.config import GRPOTrainConfig, SFTTrainConfig, TrainConfigError

TINY = {
    "per_device_batch_size": 2,
    "gradient_accumulation_steps": 1,
    "max_steps": 1,
    "save_steps": 1,
    "logging_steps": 1,
    "gradient_checkpointing": False,
    "report_to": "none",
    "score_workers": 1,
    "num_generations": 2,
    "max_completion_length": 16,
}


# ------------------------------------------------------------------ the [trl] table


def test_trl_keys_naming_xling_options_set_those_options() -> None:
    cfg = GRPOTrainConfig(
        trl={
            "per_device_train_batch_size": 4,
            "lr_scheduler_type": "cosine",
            "report_to": "wandb",
            "num_generations": 4,
            "mask_truncated_completions": True,
        }
    )
    assert cfg.per_device_batch_size == 4 and cfg.lr_scheduler == "cosine"
    assert cfg.report_to == "wandb" and cfg.num_generations == 4
    assert cfg.trl == {"mask_truncated_completions": True}  # only what xling has no option for


def test_trl_keys_are_checked_like_the_options_they_set() -> None:
    with pytest.raises(ConfigError, match=r"trl\.per_device_train_batch_size: expected an integer"):
        GRPOTrainConfig(trl={"per_device_train_batch_size": "four"})
    with pytest.raises(TrainConfigError, match="num_generations must be at least 2"):
        GRPOTrainConfig(trl={"num_generations": 1})
    with pytest.raises(TrainConfigError, match="--rewards"):
        GRPOTrainConfig(trl={"reward_weights": [1.0, 0.0, 0.0]})
    with pytest.raises(TrainConfigError, match="--out"):
        SFTTrainConfig(trl={"output_dir": "elsewhere"})


def test_unknown_trl_field_names_the_closest_one() -> None:
    from trl import GRPOConfig, SFTConfig

    cfg = GRPOTrainConfig(trl={"mask_truncated_completion": True})
    with pytest.raises(XlingError, match="closest is 'mask_truncated_completions'"):
        check_trl_settings(cfg, GRPOConfig)
    # A field of GRPOConfig is not one of SFTConfig.
    sft = SFTTrainConfig(trl={"mask_truncated_completions": True})
    with pytest.raises(XlingError, match="SFTConfig has no such field"):
        check_trl_settings(sft, SFTConfig)


def test_trl_table_reaches_the_trl_config(tmp_path: Path) -> None:
    from trl import GRPOConfig

    cfg = GRPOTrainConfig(
        out=str(tmp_path / "run"),
        report_to="none",
        trl={
            "mask_truncated_completions": True,
            "generation_kwargs": {"top_k": 5},
            "chat_template_kwargs": {"enable_thinking": False},
            "model_init_kwargs": {"attn_implementation": "eager"},
        },
    )
    args = training_arguments(cfg, GRPOConfig, num_generations=16)
    assert args.mask_truncated_completions is True
    assert args.generation_kwargs == {"top_k": 5}
    assert args.chat_template_kwargs == {"enable_thinking": False}
    # xling's own model_init_kwargs (the weights' dtype) survive beside the table's.
    assert args.model_init_kwargs == {"dtype": "float32", "attn_implementation": "eager"}


def test_cli_trl_flags_build_the_table_and_fail_in_one_line(tmp_path: Path) -> None:
    from xling.cli.train import resolve_config

    cfg = resolve_config(
        GRPOTrainConfig,
        None,
        [],
        {"model": "m", "data": "d"},
        trl_settings=["report_to=wandb", "generation_kwargs={top_k = 3}", "max_prompt_length=64"],
    )
    assert cfg.report_to == "wandb"
    assert cfg.trl == {"generation_kwargs": {"top_k": 3}, "max_prompt_length": 64}

    data = tmp_path / "train.jsonl"
    data.write_text("", encoding="utf-8")
    proc = run_xling(
        *("train", "grpo", "--model", "organism", "--data", data, "--out", tmp_path / "run"),
        *("--trl", "no_such_field=1"),
    )
    line = one_line_error(proc, "no_such_field", "closest is '")
    assert "GRPOConfig has no such field" in line
    assert not (tmp_path / "run").exists()  # refused before anything was written


# ------------------------------------------------------------------ trackers


class RecordingTracker:
    """A stand-in tracker with the TrainerCallback interface (what transformers builds for
    each `report_to` name): records what it would have sent."""

    logged: ClassVar[list[dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
        RecordingTracker.logged.append(dict(logs or {}))


@pytest.fixture
def wandb_stand_in(monkeypatch: pytest.MonkeyPatch) -> type[RecordingTracker]:
    """`report_to=wandb` served by RecordingTracker, as if wandb were installed."""
    from transformers.integrations import integration_utils

    RecordingTracker.logged = []
    monkeypatch.setitem(integration_utils.INTEGRATION_TO_CALLBACK, "wandb", RecordingTracker)
    available = integration_utils.get_available_reporting_integrations
    monkeypatch.setattr(
        integration_utils,
        "get_available_reporting_integrations",
        lambda: sorted({*available(), "wandb"}),
    )
    return RecordingTracker


def test_report_to_names_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers.integrations import integration_utils

    assert report_targets("none") == []
    with pytest.raises(XlingError, match="did you mean 'wandb'"):
        report_targets("wandbb")
    monkeypatch.setattr(integration_utils, "get_available_reporting_integrations", lambda: [])
    with pytest.raises(MissingDependencyError, match="report_to=mlflow needs"):
        report_targets("mlflow")
    assert report_targets("auto") == []


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_report_to_wandb_reaches_the_trainer(
    tiny_model_dir: Path, train_file: Path, tmp_path: Path, wandb_stand_in: Any
) -> None:
    from xling.cli.train import resolve_config
    from xling.train.grpo import build_grpo_trainer
    from xling.train.rewards import RolloutScorer

    flags = {**TINY, "model": str(tiny_model_dir), "data": str(train_file)}
    flags |= {"out": str(tmp_path / "run"), "report_to": None}
    cfg = resolve_config(GRPOTrainConfig, None, [], flags, trl_settings=["report_to=wandb"])
    with RolloutScorer(workers=1, timeout_s=5.0) as scorer:
        trainer = build_grpo_trainer(cfg, scorer)
        assert trainer.args.report_to == ["wandb"]
        trainer.train()
    assert any("reward" in logs for logs in wandb_stand_in.logged), wandb_stand_in.logged


# ------------------------------------------------------------------ LoRA


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_lora_grpo_on_the_organism_rollouts_follow_the_adapters(
    train_file: Path, tmp_path: Path
) -> None:
    """--peft lora: only adapters train, the engine generates rollouts from base + adapters
    (merged around each generation, then unmerged), so they change after optimizer steps."""
    import torch

    from xling.engine import SamplingParams
    from xling.train.grpo import build_grpo_trainer
    from xling.train.rewards import RolloutScorer

    cfg = GRPOTrainConfig(
        model="organism",
        data=str(train_file),
        out=str(tmp_path / "run"),
        **{**TINY, "per_device_batch_size": 8, "num_generations": 4, "max_steps": 2},
        learning_rate=5e-3,
        rollout_engine="on",
        peft="lora",
        lora_r=8,
        lora_alpha=16,
    )
    with RolloutScorer(workers=1, timeout_s=5.0) as scorer:
        scorer.start()
        trainer = build_grpo_trainer(cfg, scorer)
        assert trainer.uses_rollout_engine
        trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
        assert trainable and all("lora_" in n for n in trainable)
        prompt = trainer._tokenize_prompts([trainer.train_dataset[0]["prompt"]])[0][0]
        sampling = [SamplingParams(temperature=1.0, max_new_tokens=32, seed=s) for s in range(8)]

        def rollouts() -> list[list[int]]:
            with trainer._adapters_merged():
                return [c.tokens for c in trainer._engine().generate([prompt] * 8, sampling)]

        base = trainer.model.get_base_model()
        q_proj = base.model.layers[0].self_attn.q_proj
        weight_before = q_proj.weight.detach().clone()
        before = rollouts()
        trainer.train()
        after = rollouts()
    assert trainer.state.global_step == 2
    assert before != after
    # The base weights are the base model's again between rollouts (merge, then unmerge).
    assert torch.allclose(q_proj.weight, weight_before, atol=1e-6)
    assert any(p.abs().sum() > 0 for n, p in trainer.model.named_parameters() if "lora_B" in n)


class FakeHub:
    """A stand-in for huggingface_hub.HfApi: records the repo and the files uploaded."""

    uploads: ClassVar[list[dict[str, Any]]] = []

    def create_repo(self, repo_id: str, **kwargs: Any) -> str:
        FakeHub.uploads.append({"create": repo_id, **kwargs})
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, repo_id: str, folder_path: str, **kwargs: Any) -> None:
        files = sorted(str(p.relative_to(folder_path)) for p in Path(folder_path).rglob("*"))
        FakeHub.uploads.append({"upload": repo_id, "files": files, **kwargs})


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_lora_sft_final_is_a_merged_model_with_card_env_and_push(
    tiny_model_dir: Path, train_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub
    import torch
    from transformers import AutoModelForCausalLM

    from xling.train.sft import run_sft

    FakeHub.uploads = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub)
    out = tmp_path / "run"
    settings = {
        k: v for k, v in TINY.items() if k not in ("num_generations", "max_completion_length")
    }
    cfg = SFTTrainConfig(
        model=str(tiny_model_dir),
        data=str(train_file),
        out=str(out),
        **settings,
        source="reference",
        learning_rate=1e-2,
        warmup_ratio=0.0,  # else the one step runs at a learning rate of 0
        lr_scheduler="constant",
        peft="lora",
        lora_r=4,
        lora_target_modules="q_proj,v_proj",
        push_to_hub="someone/tiny-sft",
    )
    run_sft(cfg)
    final = out / FINAL_DIR
    # final/ is a plain model (adapters merged), the adapter alone beside it.
    assert not (final / "adapter_config.json").exists()
    assert json.loads((final / "adapter" / "adapter_config.json").read_text())["r"] == 4
    merged = AutoModelForCausalLM.from_pretrained(final)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    changed = [
        n
        for (n, p), (_, q) in zip(merged.named_parameters(), base.named_parameters(), strict=True)
        if not torch.equal(p, q)
    ]
    assert changed and all("q_proj" in n or "v_proj" in n for n in changed), changed
    card = (final / "README.md").read_text(encoding="utf-8")
    for needle in (
        "library_name: transformers",
        "- es",
        "| Method | supervised fine-tuning",
        "English (en), Spanish (es)",
        "| Parallel languages X | 1 |",
        "LoRA r=4",
        "arXiv:2510.02272",
        str(train_file),
    ):
        assert needle in card, needle
    env = json.loads((out / "env.json").read_text())
    assert env["packages"]["trl"] and env["packages"]["peft"] and env["packages"]["torch"]
    assert env["model"]["weights_sha256"] and env["data"]["sha256"]
    assert env["command"] and env["device"]["cpu_count"] and env["method"] == "sft"
    create, upload = FakeHub.uploads
    assert create["create"] == "someone/tiny-sft" and create["private"] and create["exist_ok"]
    assert upload["upload"] == "someone/tiny-sft"
    assert {"README.md", "model.safetensors", "config.json"} <= set(upload["files"])


def test_model_card_shows_held_out_results_beside_the_base() -> None:
    from xling.train.card import render_card

    info = {
        "method": "grpo",
        "train_langs": ["en"],
        "num_parallel_langs": 0,
        "base_model": "Qwen/Qwen2.5-1.5B-Instruct",
        "rewards": "accuracy=0.8,format=0.1,language=0.1",
        "seed": 3,
    }

    def metrics(**acc: float) -> dict[str, Any]:
        cells = {lang: {"accuracy": value} for lang, value in acc.items()}
        return {"benchmarks": {"mgsm": {"langs": cells}}}

    results = {"metrics": metrics(en=0.6, sw=0.25), "base_metrics": metrics(en=0.42, sw=0.2)}
    card = render_card(info, {"learning_rate": 1e-6}, results)
    assert "base_model: Qwen/Qwen2.5-1.5B-Instruct" in card
    assert "| en | 42.0 | 60.0 | +18.0 |" in card and "| sw | 20.0 | 25.0 | +5.0 |" in card
    assert "| Seed | 3 |" in card and "accuracy=0.8,format=0.1,language=0.1" in card
    assert "## Held-out results" not in render_card(info, {})
