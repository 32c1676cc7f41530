"""Where a GRPO step's time goes: per-phase seconds logged beside TRL's metrics.

Every optimizer step logs, in seconds (in `metrics.jsonl` and the console logs):

    time/generation_s   generating the rollouts (the engine or TRL's generate)
    time/scoring_s      the rewards: scoring the completions and gathering them from all
                        processes (so under DDP it includes waiting for the slowest rank)
    time/rollout_s      the whole generate-and-score phase: the two above plus prompt
                        tokenizing, completion decoding, advantages and TRL's gathers
    time/loss_s         the policy's forward and backward passes (DDP's gradient all-reduce
                        runs inside backward)
    time/optimizer_s    gradient clipping, the optimizer and scheduler steps
    time/step_s         the whole optimizer step, from the trainer's step begin to step end

On CUDA each phase ends with a device synchronize, so a phase is charged for its own
kernels rather than for the ones queued before it; that costs a few host-device round
trips per step. The figures are the main process's (TRL logs rank 0's metrics); with
several processes, `time/<phase>_min_s` and `time/<phase>_max_s` give the fastest and the
slowest process's (phases that end in a gather include waiting for the slowest).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from transformers import TrainerCallback

PHASES = ("generation", "scoring", "rollout", "loss", "optimizer", "step")


def phase_key(phase: str, over_ranks: str = "") -> str:
    """The metric name of a phase's seconds: this process's, or with `over_ranks` ("min" or
    "max") the fastest or slowest process's."""
    return f"time/{phase}_{over_ranks}_s" if over_ranks else f"time/{phase}_s"


class PhaseClock(TrainerCallback):
    """Times the phases of each optimizer step of one trainer and adds them, summed over
    the step's micro-batches, to its logged metrics.

    The trainer calls `timed(phase, fn, ...)` around its phase methods; this callback
    brackets the whole step and the optimizer (what follows the last training_step).
    """

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer
        self.step_started = 0.0
        self.backward_done = 0.0
        self.seconds: dict[str, float] = {}  # this step's, by phase

    def _now(self) -> float:
        device = self.trainer.accelerator.device
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter()

    def _add(self, phase: str, seconds: float) -> None:
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds

    def timed(self, phase: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)`, its time charged to `phase`. The phase "training_step"
        (rollouts when due, forward, backward) is charged to "loss" less the rollout time
        it contains."""
        # An evaluation's generation is not part of a step. (training_step itself is called
        # only in training, and the first one finds the model still in eval mode.)
        if phase != "training_step" and not self.trainer.model.training:
            return fn(*args, **kwargs)
        rollout_before = self.seconds.get("rollout", 0.0)
        started = self._now()
        try:
            # Named in profiler traces too (bench/profile_grpo_step.py splits work by it).
            with torch.profiler.record_function(f"xling.{phase}"):
                return fn(*args, **kwargs)
        finally:
            ended = self._now()
            if phase == "training_step":
                rollout = self.seconds.get("rollout", 0.0) - rollout_before
                self._add("loss", ended - started - rollout)
                self.backward_done = ended
            else:
                self._add(phase, ended - started)

    def on_step_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        self.seconds = {}
        self.step_started = self._now()

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        ended = self._now()
        if self.backward_done >= self.step_started:
            self._add("optimizer", ended - self.backward_done)
        self._add("step", ended - self.step_started)
        metrics = self.trainer._metrics["train"]
        for phase, seconds in self.seconds.items():
            metrics[phase_key(phase)].append(seconds)
        accelerator = self.trainer.accelerator
        if accelerator.num_processes > 1:
            # Every rank ends the step here, so all take part in this gather.
            mine = torch.tensor(
                [self.seconds.get(p, 0.0) for p in PHASES], device=accelerator.device
            )
            ranks = accelerator.gather(mine).view(-1, len(PHASES))
            for i, phase in enumerate(PHASES):
                if phase in self.seconds:
                    metrics[phase_key(phase, "min")].append(ranks[:, i].min().item())
                    metrics[phase_key(phase, "max")].append(ranks[:, i].max().item())


def phase_seconds(logs: dict[str, Any]) -> dict[str, float]:
    """The phase times present in one step's logs, by phase name."""
    return {p: float(logs[phase_key(p)]) for p in PHASES if logs.get(phase_key(p)) is not None}
