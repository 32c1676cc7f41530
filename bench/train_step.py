"""GRPO step time: rollouts per second and seconds per 1,000 rollouts (CPU or GPU).

    .venv/bin/python bench/train_step.py                     # tiny model, CPU smoke figures
    python bench/train_step.py --model Qwen/Qwen2.5-1.5B-Instruct --num-generations 16 \\
        --per-device-batch-size 16 --max-completion-length 1024 --steps 5 [--use-vllm]
    accelerate launch --config_file configs/accelerate/ddp.yaml bench/train_step.py --model …
    python bench/train_step.py --model src/xling/data/organism --rollout-engine on …

Trains `--warmup + --steps` real GRPO steps (TRL GRPOTrainer, the composite reward, the same
code path as `xling train grpo`) on the synthetic parallel benchmark and reports each
optimizer step's time as the trainer logs it, split by phase (`xling.train.phases`:
generation, reward scoring, the whole rollout phase, forward and backward, optimizer).
Warm-up steps (CUDA/vLLM start-up, lazy loading) are excluded. A step's rollouts are
per-device batch x processes x gradient accumulation (generation, reward scoring, and the
policy update all happen inside the step). Prints a table and, with --json, writes it.

    python bench/train_step.py --study src/xling/data/studies/demo.toml --compare-with REF \
        --repeats 3 --json docs/perf/grpo-cpu.json

`--study` takes the GRPO recipe (group size, rollouts a step, completion length, beta,
precision, rollout engine, score workers) and the base model from a study file's `[grpo]`
table. `--compare-with REF` measures the same settings at git commit REF too, in one run:
REF is checked out into a temporary worktree, and each measurement is a fresh process of
that tree's own bench with its src/ first on the import path, REF and this tree taking turns
`--repeats` times so that both meet the same machine. It reports each side's median
rollouts/s (`rollouts_per_s_before`, `rollouts_per_s_after`) and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from xling.benchmarks import BenchmarkSpec, FieldMap
from xling.cpu import tune_for_cpu
from xling.testing.tinymodel import ensure_tiny_model
from xling.train.common import is_main_process, world_size
from xling.train.config import GRPOTrainConfig
from xling.train.data import build_parallel_from_spec, write_parallel
from xling.train.grpo import build_grpo_trainer
from xling.train.phases import PHASES, phase_seconds
from xling.train.rewards import RolloutScorer
from xling.world import build_benchmark


class StepLogs(TrainerCallback):
    """Every optimizer step's logged metrics (the phase times among them)."""

    def __init__(self) -> None:
        self.logs: list[dict[str, Any]] = []

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        if logs and "train_runtime" not in logs:
            self.logs.append(dict(logs))


def _device() -> str:
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return f"{torch.cuda.device_count()} x {name}" if world_size() > 1 else name
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def _data(work: Path, langs: str, n: int) -> Path:
    build_benchmark(work / "synth", n_train=n, n_test=1, seed=0, langs=langs.split(","))
    spec = BenchmarkSpec(
        "jsonl", str(work / "synth" / "train"), name="synth", fields=FieldMap(id="id")
    )
    path = work / "train.jsonl"
    write_parallel(build_parallel_from_spec(spec, langs, n, seed=0), path)
    return path


def measure(
    *,
    model: str | None = None,
    data: Path | None = None,
    langs: str = "en,es,ru,de",
    n: int = 64,
    steps: int = 3,
    warmup: int = 1,
    num_generations: int = 4,
    per_device_batch_size: int = 8,
    gradient_accumulation_steps: int = 1,
    max_completion_length: int = 64,
    beta: float = 0.04,
    precision: str = "auto",
    model_dtype: str = "float32",
    gradient_checkpointing: bool = False,
    use_vllm: bool = False,
    vllm_mode: str = "colocate",
    vllm_gpu_memory_utilization: float = 0.3,
    rollout_engine: str = "auto",
    score_workers: int = 4,
    shared_prompt_forward: str = "auto",
    keep: Path | None = None,
    callbacks: tuple[Any, ...] = (),
) -> dict[str, Any] | None:
    """Train `warmup + steps` GRPO steps and return the step-time figures (None on ranks
    other than the main one)."""
    work = Path(tempfile.mkdtemp(prefix="xling-bench-train-"))
    try:
        model_path = model or str(ensure_tiny_model(work / "models"))
        cfg = GRPOTrainConfig(
            model=model_path,
            data=str(data or _data(work, langs, n)),
            out=str(keep or (work / "run")),
            max_steps=warmup + steps,
            save_steps=10**9,
            logging_steps=1,
            report_to="none",
            num_generations=num_generations,
            per_device_batch_size=per_device_batch_size,
            gradient_accumulation_steps=gradient_accumulation_steps,
            max_completion_length=max_completion_length,
            beta=beta,
            precision=precision,
            model_dtype=model_dtype,
            gradient_checkpointing=gradient_checkpointing,
            use_vllm=use_vllm,
            vllm_mode=vllm_mode,
            vllm_gpu_memory_utilization=vllm_gpu_memory_utilization,
            rollout_engine=rollout_engine,
            shared_prompt_forward=shared_prompt_forward,
            score_workers=score_workers,
            learning_rate=1e-6,
            warmup_ratio=0.0,
        )
        tune_for_cpu()  # as `xling train grpo` does
        with RolloutScorer(workers=cfg.score_workers, timeout_s=cfg.score_timeout) as scorer:
            scorer.start()
            recorder = StepLogs()
            trainer = build_grpo_trainer(cfg, scorer, callbacks=[recorder, *callbacks])
            trainer.train()
        if not is_main_process():
            return None
        logged = recorder.logs[warmup:] or recorder.logs
        phases = [phase_seconds(lg) for lg in logged]
        timed = [p["step"] for p in phases]
        rollouts = cfg.per_device_batch_size * world_size() * cfg.gradient_accumulation_steps
        step_s = statistics.mean(timed)
        lengths = [
            lg["completions/mean_length"] for lg in logged if "completions/mean_length" in lg
        ] or [float("nan")]
        tokens = statistics.mean(lengths) * rollouts
        return {
            "device": _device(),
            "model": model if model else "tiny test model (xling.testing.tinymodel)",
            "processes": world_size(),
            "vllm": use_vllm,
            "rollout_engine": bool(getattr(trainer, "uses_rollout_engine", False)),
            "precision": precision,
            "rollouts_per_step": rollouts,
            "prompts_per_step": rollouts // cfg.num_generations,
            "num_generations": cfg.num_generations,
            "max_completion_length": cfg.max_completion_length,
            "timed_steps": len(timed),
            "step_time_s": round(step_s, 4),
            "step_time_min_s": round(min(timed), 4),
            "rollouts_per_s": round(rollouts / step_s, 3),
            "seconds_per_1k_rollouts": round(1000 * step_s / rollouts, 2),
            "completion_tokens_per_s": round(tokens / step_s, 1),
            "mean_completion_tokens": round(statistics.mean(lengths), 1),
            "step_time_median_s": round(statistics.median(timed), 4),
            # The main process's median seconds per phase (xling.train.phases); under DDP,
            # scoring includes waiting for the slowest rank's rewards.
            **{
                f"{phase}_median_s": round(statistics.median(p.get(phase, 0.0) for p in phases), 4)
                for phase in PHASES
                if phase != "step"
            },
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


# Bench flags a study's [grpo] table can set, by key.
_RECIPE_KEYS = (
    "num_generations",
    "per_device_batch_size",
    "gradient_accumulation_steps",
    "max_completion_length",
    "beta",
    "precision",
    "rollout_engine",
    "score_workers",
)


def study_recipe(path: Path) -> dict[str, Any]:
    """The bench settings of a study file's GRPO recipe (X = 0: English rows)."""
    with path.open("rb") as fh:
        study = tomllib.load(fh)
    grpo = study.get("grpo", {})
    recipe: dict[str, Any] = {k: grpo[k] for k in _RECIPE_KEYS if k in grpo}
    base = study.get("base_model", "organism")
    if base == "organism":
        from xling.organism import bundled_organism

        base = str(bundled_organism())
    recipe["model"] = base
    recipe["langs"] = "en"
    return recipe


def _flags(settings: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key, value in settings.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            out += [flag] if value else []
        elif value is not None:
            out += [flag, str(value)]
    return out


def _measure_in(tree: Path, settings: dict[str, Any], work: Path, tag: str) -> dict[str, Any]:
    """One measurement by `tree`'s own bench, in a fresh process that imports `tree`'s xling."""
    out = work / f"{tag}.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree / "src"), str(tree / "bench")])}
    command = [sys.executable, str(tree / "bench" / "train_step.py"), *_flags(settings)]
    done = subprocess.run(
        [*command, "--json", str(out)], cwd=tree, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{tag}: the bench failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


def compare_with(ref: str, settings: dict[str, Any], repeats: int) -> dict[str, Any]:
    """The same settings measured at commit `ref` and in this tree, taking turns."""
    here = Path(__file__).resolve().parents[1]
    work = Path(tempfile.mkdtemp(prefix="xling-bench-compare-"))
    before = work / "before"

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(here), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    sha = git("rev-parse", ref)
    git("worktree", "add", "--detach", str(before), sha)
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    try:
        for i in range(repeats):
            for side, tree in (("before", before), ("after", here)):
                figures = _measure_in(tree, settings, work, f"{side}-{i}")
                runs[side].append(figures)
                print(f"{side} #{i + 1}: {figures['rollouts_per_s']} rollouts/s", flush=True)
    finally:
        subprocess.run(["git", "-C", str(here), "worktree", "remove", "--force", str(before)])
        shutil.rmtree(work, ignore_errors=True)

    def median(side: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs[side]), 4)

    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    result: dict[str, Any] = {
        "device": runs["after"][0]["device"],
        "settings": settings,
        "before_commit": sha,
        "after_commit": git("rev-parse", "HEAD") + (" + changes" if dirty else ""),
        "repeats": repeats,
        "rollouts_per_s_before": median("before", "rollouts_per_s"),
        "rollouts_per_s_after": median("after", "rollouts_per_s"),
    }
    result["speedup"] = round(result["rollouts_per_s_after"] / result["rollouts_per_s_before"], 2)
    phases = [k for k in runs["after"][0] if k.endswith("_median_s")]
    result["phase_seconds_before"] = {k: median("before", k) for k in phases}
    result["phase_seconds_after"] = {k: median("after", k) for k in phases}
    result["runs"] = runs
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="HF id or path [default: the tiny test model]")
    parser.add_argument("--data", type=Path, help="training JSONL [default: synthetic]")
    parser.add_argument("--langs", default="en,es,ru,de", help="synthetic data languages")
    parser.add_argument("--n", type=int, default=64, help="synthetic problems per language")
    parser.add_argument("--steps", type=int, default=3, help="timed steps")
    parser.add_argument("--warmup", type=int, default=1, help="untimed first steps")
    parser.add_argument("--num-generations", type=int, default=4)
    parser.add_argument("--per-device-batch-size", type=int, default=8)
    parser.add_argument("--gradient-accumulation-steps", type=int, default=1)
    parser.add_argument("--max-completion-length", type=int, default=64)
    parser.add_argument("--beta", type=float, default=0.04)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--model-dtype", default="float32")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--use-vllm", action="store_true")
    parser.add_argument("--vllm-mode", default="colocate")
    parser.add_argument("--vllm-gpu-memory-utilization", type=float, default=0.3)
    parser.add_argument(
        "--rollout-engine",
        default="auto",
        choices=("auto", "on", "off"),
        help="rollouts from xling's engine (auto: on CUDA) or TRL's generate",
    )
    parser.add_argument("--score-workers", type=int, default=4)
    parser.add_argument(
        "--shared-prompt-forward",
        default="auto",
        choices=("auto", "on", "off"),
        help="policy log-probs with each prompt once (xling.train.logprobs) or TRL's forward",
    )
    parser.add_argument(
        "--cpu-threads",
        type=int,
        help="torch intra-op threads (CPU runs; 1 avoids OpenMP spin-waits on busy machines)",
    )
    parser.add_argument("--study", type=Path, help="take the GRPO recipe from this study file")
    parser.add_argument("--compare-with", metavar="REF", help="also measure git commit REF")
    parser.add_argument("--repeats", type=int, default=3, help="--compare-with: runs a side")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", type=Path, help="keep the run directory here")
    args = parser.parse_args()
    settings = {
        k: v for k, v in vars(args).items() if k not in ("json", "study", "compare_with", "repeats")
    }
    if settings["shared_prompt_forward"] == "auto":
        del settings["shared_prompt_forward"]  # the default, also of trees that lack it
    if args.study:
        recipe = study_recipe(args.study)
        # Enough problems for every step, each seen once.
        prompts = recipe.get("per_device_batch_size", 8) // recipe.get("num_generations", 4)
        recipe["n"] = (
            prompts * recipe.get("gradient_accumulation_steps", 1) * (args.warmup + args.steps)
        )
        settings.update(recipe)
    if args.compare_with:
        figures = compare_with(
            args.compare_with, {k: v for k, v in settings.items() if k != "keep"}, args.repeats
        )
        summary = {k: v for k, v in figures.items() if k != "runs"}
        print(json.dumps(summary, indent=2))
    else:
        if settings.pop("cpu_threads", None):
            import torch

            torch.set_num_threads(args.cpu_threads)
        figures = measure(**settings)
        if figures is None:
            return
        width = max(map(len, figures))
        for key, value in figures.items():
            print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
