"""Where a GRPO step's time goes: one step under the torch profiler, against the matrix
products these cores can do.

    .venv/bin/python bench/profile_grpo_step.py --study src/xling/data/studies/demo.toml \\
        [--shared-prompt-forward off] [--json out.json]

Trains `--warmup + 1` steps of the study's GRPO recipe (bench/train_step.py's settings) and
profiles the last one. Reports the step's phases (xling.train.phases), the operators that
took the most time, the floating-point work of the step's matrix products (counted by the
profiler from their shapes) and the rate the loss phase achieved, beside a float32 matrix
product of the model's own shape and a large square one timed on the same cores.
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
    parser.add_argument("--shared-prompt-forward", default="auto", choices=("auto", "on", "off"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    recipe = study_recipe(args.study)
    prompts = recipe.get("per_device_batch_size", 8) // recipe.get("num_generations", 4)
    recipe["n"] = prompts * (args.warmup + 1)
    hook = ProfileLastStep(args.warmup + 1)
    figures = measure(
        **recipe,
        steps=1,
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
    loss_s = figures["loss_median_s"]
    report = {
        "device": figures["device"],
        "recipe": {k: v for k, v in recipe.items() if k != "model"},
        "shared_prompt_forward": args.shared_prompt_forward,
        "step_s": figures["step_time_s"],
        "phase_s": {k: v for k, v in figures.items() if k.endswith("_median_s")},
        "matmul_gflop": {phase: round(f / 1e9, 1) for phase, f in flops.items()},
        "loss_phase_gflop_per_s": round(flops["loss"] / 1e9 / max(loss_s, 1e-9), 1),
        "rollout_phase_gflop_per_s": round(
            flops["rollout"] / 1e9 / max(figures["rollout_median_s"], 1e-9), 1
        ),
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
