"""Where a GRPO step's time goes: one step under the torch profiler, against the matrix
products these cores can do.

    .venv/bin/python bench/profile_grpo_step.py --study src/xling/data/studies/demo.toml \\
        [--prompts-per-step 8] [--shared-prompt-forward off] [--json out.json]

Trains `--warmup + 2` steps of the study's GRPO recipe (bench/train_step.py's settings),
times the first step after the warm-up as it runs and profiles the next one. Reports the
timed step's phases (xling.train.phases), the profiled step's busiest operators and the
floating-point work of its matrix products (counted by the profiler from their shapes),
split between the rollout phase and the rest, and the rates that work gives over the timed
step's phases (the two steps draw different rollouts of similar length: at the bench's
learning rate of 1e-6 the policy hardly moves), beside a float32 matrix product of the
model's own shape and a large square one timed on the same cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import measure, study_recipe

from xling.train.phases import phase_seconds


def matmul_gflops(m: int, k: int, n: int, repeats: int = 20) -> float:
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * m * k * n * repeats / (time.perf_counter() - start) / 1e9


def _inside(event: Any, name: str) -> bool:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name == name:
            return True
        parent = parent.cpu_parent
    return False


class ProfileLastStep(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step
        self.profile: Any = None
        self.logs: dict[int, dict[str, Any]] = {}

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        if logs:
            self.logs.setdefault(state.global_step, {}).update(logs)

    def on_step_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if state.global_step == self.step - 1:
            self.profile = torch.profiler.profile(
                activities=[torch.profiler.ProfilerActivity.CPU], with_flops=True
            )
            self.profile.__enter__()

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if state.global_step == self.step and self.profile is not None:
            self.profile.__exit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, required=True)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--prompts-per-step",
        type=int,
        help="fewer prompts a step than the study's: the profiler's records of a 512-rollout "
        "step of TRL's padded forward outgrew 24 GB",
    )
    parser.add_argument("--shared-prompt-forward", default="auto", choices=("auto", "on", "off"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    recipe = study_recipe(args.study)
    if args.prompts_per_step:
        recipe["per_device_batch_size"] = args.prompts_per_step * recipe.get("num_generations", 4)
    prompts = recipe.get("per_device_batch_size", 8) // recipe.get("num_generations", 4)
    recipe["n"] = prompts * (args.warmup + 2)
    hook = ProfileLastStep(args.warmup + 2)
    figures = measure(
        **recipe,
        steps=2,
        warmup=args.warmup,
        callbacks=[hook],
        shared_prompt_forward=args.shared_prompt_forward,
    )
    assert figures is not None and hook.profile is not None
    events = hook.profile.key_averages()
    total_us = sum(e.self_cpu_time_total for e in events)
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:12]
    flops = {"rollout": 0, "loss": 0}
    for event in hook.profile.events():
        if event.flops:
            flops["rollout" if _inside(event, "xling.rollout") else "loss"] += event.flops
    timed = phase_seconds(hook.logs[args.warmup + 1])
    report = {
        "device": figures["device"],
        "recipe": {k: v for k, v in recipe.items() if k != "model"},
        "shared_prompt_forward": args.shared_prompt_forward,
        "timed_step_phase_s": timed,
        "profiled_step_phase_s": phase_seconds(hook.logs[args.warmup + 2]),
        "matmul_gflop": {phase: round(f / 1e9, 1) for phase, f in flops.items()},
        "loss_phase_gflop_per_s": round(flops["loss"] / 1e9 / timed["loss"], 1),
        "rollout_phase_gflop_per_s": round(flops["rollout"] / 1e9 / timed["rollout"], 1),
        "matmul_peak_gflop_per_s": {
            "model_shape_4096x192x576": round(matmul_gflops(4096, 192, 576), 1),
            "square_2048": round(matmul_gflops(2048, 2048, 2048), 1),
        },
        "top_operators": [
            {
                "name": e.key,
                "self_cpu_share": round(e.self_cpu_time_total / total_us, 3),
                "calls": e.count,
            }
            for e in top
        ],
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
