"""GRPO and SFT on the tiny test model (CPU): steps finish, write checkpoints, logs, curves,
train.json and a final model that `xling eval` loads, and runs resume where they stopped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from xling.errors import XlingError
from xling.train.common import FINAL_DIR, TRAIN_JSON, MissingDependencyError
from xling.train.config import GRPOTrainConfig, SFTTrainConfig, TrainConfigError
from xling.train.phases import PHASES, phase_seconds
from xling.world import build_benchmark

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

# Small enough for two busy CPU cores: 2 prompts x 2 completions of 16 tokens per step.
TINY = {
    "per_device_batch_size": 2,
    "gradient_accumulation_steps": 1,
    "max_steps": 2,
    "save_steps": 1,
    "logging_steps": 1,
    "gradient_checkpointing": False,
    "report_to": "none",
    "score_workers": 1,
    "learning_rate": 1e-4,
}


def grpo_config(model: Path, data: Path, out: Path, **kw: object) -> GRPOTrainConfig:
    settings = {**TINY, "num_generations": 2, "max_completion_length": 16, **kw}
    return GRPOTrainConfig(model=str(model), data=str(data), out=str(out), **settings)


def steps_logged(out: Path) -> list[int]:
    lines = (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["step"] for line in lines]


def global_step(checkpoint: Path) -> int:
    return json.loads((checkpoint / "trainer_state.json").read_text())["global_step"]


@pytest.fixture(scope="module")
def grpo_run(
    tiny_model_dir: Path, train_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    from xling.train.grpo import run_grpo

    out = tmp_path_factory.mktemp("grpo") / "run"
    run_grpo(grpo_config(tiny_model_dir, train_file, out))
    return out


# ------------------------------------------------------------------ GRPO


def test_grpo_two_steps_write_checkpoint_logs_and_model(grpo_run: Path) -> None:
    out = grpo_run
    assert global_step(out / "checkpoint-2") == 2
    assert steps_logged(out) == [1, 2]
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    for key in (
        "reward",
        "rewards/accuracy_reward/mean",
        "rewards/format_reward/mean",
        "rewards/language_reward/mean",
        "kl",
        "completions/mean_length",
        "rollouts/unidentified_rate",
        "loss",
    ):
        assert key in record, key
    assert 0 <= record["reward"] <= 1
    for line in (out / "metrics.jsonl").read_text().splitlines():
        step = phase_seconds(json.loads(line))
        assert set(step) == set(PHASES), step
        assert 0 < step["generation"] < step["rollout"] and 0 < step["scoring"] < step["rollout"]
        assert step["rollout"] + step["loss"] + step["optimizer"] <= step["step"]
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "rewards/accuracy_reward/mean" in header and "kl" in header
    assert (out / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
    info = json.loads((out / TRAIN_JSON).read_text())
    assert info["train_langs"] == ["en", "es"] and info["num_parallel_langs"] == 1
    assert info["budget"] == "per-lang" and info["shuffle_ids"] is False
    assert info["method"] == "grpo" and info["status"] == "done" and info["global_step"] == 2


def test_grpo_final_model_loads_in_xling_eval(grpo_run: Path, tmp_path: Path) -> None:
    from xling.evaluate import EvalConfig, run_eval

    build_benchmark(tmp_path / "bench", n_train=0, n_test=1, seed=0)
    bench = tmp_path / "bench" / "test"
    cfg = EvalConfig(
        model=str(grpo_run / FINAL_DIR),
        bench="jsonl",
        data=str(bench),
        bench_name="synth",
        id_field="id",
        langs="en,es",
        max_new_tokens=8,
        score_workers=1,
        out=str(tmp_path / "eval"),
    )
    metrics = run_eval(cfg)
    assert metrics["overall"]["accuracy"] is not None


def test_grpo_resumes_after_a_kill(
    grpo_run: Path, tiny_model_dir: Path, train_file: Path, tmp_path: Path
) -> None:
    from xling.train.grpo import run_grpo

    out = tmp_path / "run"
    shutil.copytree(grpo_run, out)
    # As if killed after checkpoint-1: step 2 was logged but never checkpointed.
    shutil.rmtree(out / "checkpoint-2")
    shutil.rmtree(out / FINAL_DIR)
    run_grpo(grpo_config(tiny_model_dir, train_file, out, max_steps=3), resume=True)
    assert global_step(out / "checkpoint-3") == 3
    assert steps_logged(out) == [1, 2, 3]  # step 2 retrained and logged once
    assert json.loads((out / TRAIN_JSON).read_text())["global_step"] == 3
    assert (out / FINAL_DIR / "config.json").is_file()


def test_cli_resume_after_sigkill(tiny_model_dir: Path, train_file: Path, tmp_path: Path) -> None:
    """Kill a real `xling train` process after its first checkpoint; `--resume` (with no other
    settings repeated) continues from the newest complete checkpoint."""
    out = tmp_path / "killed"
    args = [
        sys.executable,
        "-m",
        "xling.cli",
        "train",
        "grpo",
        "--model",
        str(tiny_model_dir),
        "--data",
        str(train_file),
        "--out",
        str(out),
        "--num-generations",
        "2",
        "--max-completion-length",
        "16",
        "--per-device-batch-size",
        "2",
        "--gradient-accumulation-steps",
        "1",
        "--save-steps",
        "1",
        "--max-steps",
        "200",
        "--no-gradient-checkpointing",
        "--report-to",
        "none",
        "--score-workers",
        "1",
    ]
    env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint-1" / "trainer_state.json").exists():
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the trainer and its scoring workers
        proc.wait()
    from xling.train.common import resumable_checkpoint

    ckpt = resumable_checkpoint(out)
    assert ckpt is not None and not (out / FINAL_DIR).exists()
    done = global_step(ckpt)
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "xling.cli",
            "train",
            "--out",
            str(out),
            "--resume",
            "--max-steps",
            str(done + 1),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from checkpoint-{done}" in resumed.stdout
    assert global_step(out / f"checkpoint-{done + 1}") == done + 1
    assert steps_logged(out) == list(range(1, done + 2))
    assert (out / FINAL_DIR / "model.safetensors").is_file()


def test_grpo_rollouts_from_the_engine(
    tiny_model_dir: Path, train_file: Path, tmp_path: Path
) -> None:
    """rollout_engine=on: TRL trains as before while xling's engine generates the rollouts
    from the policy's own tensors, which the optimizer changes in place."""
    import torch

    from xling.engine import SamplingParams
    from xling.train.grpo import build_grpo_trainer
    from xling.train.rewards import RolloutScorer

    cfg = grpo_config(tiny_model_dir, train_file, tmp_path / "run", rollout_engine="on")
    with RolloutScorer(workers=1, timeout_s=cfg.score_timeout) as scorer:
        scorer.start()
        trainer = build_grpo_trainer(cfg, scorer)
        assert trainer.uses_rollout_engine
        params = list(trainer.model.parameters())
        trainer.train()
    engine = trainer.rollout_engine
    assert engine is not None and engine.stats["decode_steps"] > 0
    assert {p.data_ptr() for p in params} <= {t.data_ptr() for t in engine.decoder.tensors()}
    # An in-place change of the policy (what the optimizer does; the tiny model's rewards
    # are often all equal, and then a GRPO step changes nothing) is what the engine draws
    # from next, with no sync.
    greedy = SamplingParams(max_new_tokens=8)
    before = engine.generate([[5, 6, 7]], greedy)
    with torch.no_grad():
        trainer.model.get_output_embeddings().weight.mul_(-1.0)
    assert engine.generate([[5, 6, 7]], greedy) != before
    logged = [h for h in trainer.state.log_history if "completions/mean_length" in h]
    assert len(logged) == 2 and all(h["completions/mean_length"] > 0 for h in logged)
    assert all("rewards/accuracy_reward/mean" in h for h in logged)
    # Every rollout was scored as the engine finished it, under the rewards' own text.
    assert scorer.n_scored == 4 and scorer.n_early == scorer.n_scored
    # Prompts repeated num_generations times are tokenized once each, to the same ids.
    from trl import GRPOTrainer

    prompts = [row["prompt"] for row in trainer.train_dataset.select(range(2))]
    repeated = [p for p in prompts for _ in range(3)]
    ids, images, fields = trainer._tokenize_prompts(repeated)
    trl_ids, _, _ = GRPOTrainer._tokenize_prompts(trainer, repeated)
    assert ids == [list(i) for i in trl_ids] and images is None and not fields

    auto = build_grpo_trainer(replace(cfg, rollout_engine="auto", out=str(tmp_path / "b")), scorer)
    assert not auto.uses_rollout_engine  # auto: CUDA only


def test_grpo_log_probs_with_each_prompt_once(
    tiny_model_dir: Path, train_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a CPU the trainer scores rollouts with `shared_prompt_logprobs` (auto), and gets
    what TRL's own padded forward gets; where that cannot run, auto falls back and on fails."""
    import torch
    from trl import GRPOTrainer

    from xling.train.grpo import build_grpo_trainer
    from xling.train.rewards import RolloutScorer

    cfg = grpo_config(tiny_model_dir, train_file, tmp_path / "run")
    with RolloutScorer(workers=1, timeout_s=cfg.score_timeout) as scorer:
        trainer = build_grpo_trainer(cfg, scorer)
        assert trainer.uses_shared_prompt_forward
        # Two prompts, three rollouts each, as TRL lays them out (left-padded prompts).
        prompt = torch.tensor([[0, 0, 7, 8, 9], [4, 5, 6, 7, 8]]).repeat_interleave(3, 0)
        prompt_mask = (prompt != 0).long()
        completion = torch.tensor([[11, 12, 13, 1], [14, 1, 0, 0], [15, 16, 1, 0]]).repeat(2, 1)
        completion_mask = (completion != 0).long()
        ids = torch.cat([prompt, completion], 1)
        mask = torch.cat([prompt_mask, completion_mask], 1)
        model = trainer.model
        import xling.train.rollouts as rollouts

        calls = []
        shared = rollouts.shared_prompt_logprobs
        monkeypatch.setattr(
            rollouts,
            "shared_prompt_logprobs",
            lambda *a, **k: calls.append(1) or shared(*a, **k),
        )
        ours, ours_entropy, _ = trainer._get_per_token_logps_and_entropies(
            model, ids, mask, 4, compute_entropy=True
        )
        assert calls == [1]  # the policy went through the shared-prompt pass
        theirs, theirs_entropy, _ = GRPOTrainer._get_per_token_logps_and_entropies(
            trainer, model, ids, mask, 4, compute_entropy=True
        )
        torch.testing.assert_close(ours * completion_mask, theirs * completion_mask)
        torch.testing.assert_close(ours_entropy * completion_mask, theirs_entropy * completion_mask)
        off = build_grpo_trainer(
            replace(cfg, shared_prompt_forward="off", out=str(tmp_path / "b")), scorer
        )
        assert not off.uses_shared_prompt_forward
        checkpointed = replace(cfg, gradient_checkpointing=True, out=str(tmp_path / "c"))
        assert not build_grpo_trainer(checkpointed, scorer).uses_shared_prompt_forward
        forced = replace(checkpointed, shared_prompt_forward="on", out=str(tmp_path / "d"))
        with pytest.raises(XlingError, match="gradient checkpointing"):
            build_grpo_trainer(forced, scorer)


def test_resume_guards(grpo_run: Path, tiny_model_dir: Path, train_file: Path) -> None:
    from xling.cli.train import resolve_config
    from xling.train.grpo import run_grpo

    with pytest.raises(XlingError, match="pass --resume"):
        run_grpo(grpo_config(tiny_model_dir, train_file, grpo_run))
    with pytest.raises(XlingError, match="num_generations: 2 -> 4"):
        run_grpo(
            grpo_config(
                tiny_model_dir, train_file, grpo_run, num_generations=4, per_device_batch_size=4
            ),
            resume=True,
        )
    # `--resume` alone continues with the run's own settings; flags still win.
    flags = {f: None for f in GRPOTrainConfig.__dataclass_fields__}
    cfg = resolve_config(
        GRPOTrainConfig, None, (), {**flags, "out": str(grpo_run), "max_steps": 5}, resume=True
    )
    assert (cfg.num_generations, cfg.max_completion_length, cfg.max_steps) == (2, 16, 5)
    assert cfg.model == str(tiny_model_dir)


def test_grpo_config_errors(
    tiny_model_dir: Path, train_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xling.train import common
    from xling.train.grpo import run_grpo

    base = grpo_config(tiny_model_dir, train_file, tmp_path / "r")
    with pytest.raises(XlingError, match="must be a multiple of num_generations"):
        run_grpo(replace(base, num_generations=3))
    with pytest.raises(TrainConfigError, match="at least 2"):
        replace(base, num_generations=1)
    with pytest.raises(XlingError, match="unknown reward"):
        replace(base, rewards="accuracy=1,brevity=1")
    real = common.has_module
    monkeypatch.setattr(
        common, "has_module", lambda name: name not in ("vllm", "deepspeed") and real(name)
    )
    with pytest.raises(MissingDependencyError, match="vllm"):
        run_grpo(replace(base, use_vllm=True))
    with pytest.raises(MissingDependencyError, match="deepspeed"):
        run_grpo(replace(base, deepspeed="configs/deepspeed/zero2.json"))
    assert not (tmp_path / "r").exists()  # nothing written before the checks pass


def test_config_layers_defaults_toml_flags(tmp_path: Path) -> None:
    from xling.cli.train import resolve_config

    toml = tmp_path / "run.toml"
    toml.write_text(
        'model = "m"\ndata = "d.jsonl"\nnum_generations = 8\nbeta = 0.0\nrewards = "accuracy=1"\n'
    )
    flags = {f: None for f in GRPOTrainConfig.__dataclass_fields__}
    cfg = resolve_config(GRPOTrainConfig, toml, (), {**flags, "beta": 0.01})
    assert (cfg.model, cfg.num_generations, cfg.beta, cfg.rewards) == ("m", 8, 0.01, "accuracy=1")
    assert cfg.max_completion_length == 1024 and cfg.num_generations != 16  # default < TOML
    toml.write_text("num_generation = 8\n")
    with pytest.raises(XlingError, match=r"unknown key 'num_generation'; did you mean 'num_gen"):
        resolve_config(GRPOTrainConfig, toml, (), flags)
    # --set sits between the file and the flags, and is checked the same way.
    toml.write_text("num_generations = 8\n")
    cfg = resolve_config(
        GRPOTrainConfig, toml, ["num_generations=4", "beta=0.5"], {**flags, "beta": 0.1}
    )
    assert (cfg.num_generations, cfg.beta) == (4, 0.1)
    with pytest.raises(
        XlingError, match=r"unknown key 'lerning_rate'; did you mean 'learning_rate'"
    ):
        resolve_config(GRPOTrainConfig, None, ["lerning_rate=1e-4"], flags)
    defaults = GRPOTrainConfig()
    assert (defaults.num_generations, defaults.rewards) == (
        16,
        "accuracy=0.8,format=0.1,language=0.1",
    )


def test_cli_train_defaults_to_grpo() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "xling.cli",
            "train",
            "--model",
            "m",
            "--data",
            "d",
            "--num-generations",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 2
    assert "num_generations must be at least 2" in proc.stderr


# ------------------------------------------------------------------ SFT


def sft_config(model: Path, data: Path, out: Path, **kw: object) -> SFTTrainConfig:
    settings = {**TINY, "max_length": 256, **kw}
    return SFTTrainConfig(model=str(model), data=str(data), out=str(out), **settings)


def test_sft_two_steps_checkpoint_logs_and_resume(
    tiny_model_dir: Path, train_file: Path, tmp_path: Path
) -> None:
    from xling.train.sft import run_sft

    out = tmp_path / "sft"
    info = run_sft(sft_config(tiny_model_dir, train_file, out))
    assert info["sft_targets"] == {"reference": 8, "rejection": 0, "dropped": 0}
    assert global_step(out / "checkpoint-2") == 2
    assert steps_logged(out) == [1, 2]
    assert "loss" in json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert (out / "training_curves.png").is_file() and (out / "metrics.csv").is_file()
    assert (out / FINAL_DIR / "tokenizer_config.json").is_file()
    info = json.loads((out / TRAIN_JSON).read_text())
    assert info["method"] == "sft" and info["train_langs"] == ["en", "es"]

    run_sft(sft_config(tiny_model_dir, train_file, out, max_steps=3), resume=True)
    assert global_step(out / "checkpoint-3") == 3
    assert steps_logged(out) == [1, 2, 3]


class FakeBackend:
    """Answers correctly in English for every prompt: right for English prompts, off-target
    (so rejected) for Spanish ones; counts calls to show the cache is used."""

    calls = 0

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def generate(self, requests, params):  # type: ignore[no-untyped-def]
        from xling.backends.base import Output

        FakeBackend.calls += 1
        out = []
        for req in requests:
            question = req.messages[-1]["content"]
            answer = next(a for q, a in self.answers.items() if q in question)
            right = f"We add the numbers step by step carefully. The answer is \\boxed{{{answer}}}."
            out.append([Output("no idea"), Output(right)][: params.n])
        return out

    def close(self) -> None:
        pass


def test_sft_rejection_sampling(
    train_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xling.train import sft
    from xling.train.data import read_train_rows

    rows = read_train_rows(train_file)
    no_solutions = tmp_path / "nosol.jsonl"
    no_solutions.write_text(
        "".join(
            json.dumps({"id": r.id, "lang": r.lang, "question": r.question, "answer": r.answer})
            + "\n"
            for r in rows
        )
    )
    answers = {r.question: r.answer for r in rows}
    monkeypatch.setattr(sft, "get_backend", lambda *a, **k: FakeBackend(answers))
    cfg = sft_config(
        Path("unused-model"), no_solutions, tmp_path / "sft", rejection_samples=2, score_workers=1
    )
    info = sft.run_sft(cfg, prepare_only=True)
    # English rollouts are right for English prompts; for Spanish ones they are off-target.
    assert info["sft_targets"] == {"reference": 0, "rejection": 4, "dropped": 4}
    calls = FakeBackend.calls
    pairs, _ = sft.sft_targets(cfg, read_train_rows(no_solutions))
    assert FakeBackend.calls == calls  # cached: nothing sampled twice
    assert all("\\boxed{" in target and row.lang == "en" for row, target in pairs)
    relaxed = replace(cfg, rejection_require_lang=False, out=str(tmp_path / "sft2"))
    assert sft.sft_targets(relaxed, read_train_rows(no_solutions))[1]["rejection"] == 8
    with pytest.raises(XlingError, match="no reference solution"):
        sft.sft_targets(replace(cfg, source="reference"), read_train_rows(no_solutions))


class FormatBackend:
    """Two rollouts per prompt: a wrong answer worked out in a <think> block, then a right
    one without steps (both boxed, both in English)."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def generate(self, requests, params):  # type: ignore[no-untyped-def]
        from xling.backends.base import Output

        out = []
        for req in requests:
            question = req.messages[-1]["content"]
            answer = next(a for q, a in self.answers.items() if q in question)
            wrong = int(answer) + 1
            thought = (
                f"<think>\nWe add the numbers step by step and get {wrong}.\n</think>\n"
                f"So the answer is \\boxed{{{wrong}}}."
            )
            hasty = f"Without writing the steps down, the answer is \\boxed{{{answer}}}."
            out.append([Output(thought), Output(hasty)][: params.n])
        return out

    def close(self) -> None:
        pass


def test_sft_self_distillation_into_one_format(
    train_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The instruct stage of organism v3: the base model's own rollouts in one format (the
    # <think> one), kept whether right or wrong; the default keeps correct rollouts only.
    from xling.train import sft
    from xling.train.data import read_train_rows

    english = tmp_path / "en.jsonl"
    rows = [r for r in read_train_rows(train_file) if r.lang == "en"]
    english.write_text(
        "".join(
            json.dumps({"id": r.id, "lang": r.lang, "question": r.question, "answer": r.answer})
            + "\n"
            for r in rows
        )
    )
    monkeypatch.setattr(
        sft, "get_backend", lambda *a, **k: FormatBackend({r.question: r.answer for r in rows})
    )
    base = sft_config(
        Path("unused-model"), english, tmp_path / "correct", rejection_samples=2, score_workers=1
    )
    correct, _ = sft.sft_targets(base, read_train_rows(english))
    assert len(correct) == len(rows)
    assert all("<think>" not in target for _, target in correct)
    distilled = replace(
        base,
        out=str(tmp_path / "distilled"),
        rejection_require_correct=False,
        rejection_format="think",
    )
    own, counts = sft.sft_targets(distilled, read_train_rows(english))
    assert counts == {"reference": 0, "rejection": len(rows), "dropped": 0}
    for row, target in own:
        assert target.startswith("<think>") and f"\\boxed{{{int(row.answer) + 1}}}" in target
    # The think format without dropping correctness keeps nothing here: no rollout is both.
    strict = replace(distilled, out=str(tmp_path / "strict"), rejection_require_correct=True)
    with pytest.raises(XlingError, match="no SFT targets"):
        sft.sft_targets(strict, read_train_rows(english))
    with pytest.raises(XlingError, match="rejection_format"):
        replace(base, rejection_format="yaml")
