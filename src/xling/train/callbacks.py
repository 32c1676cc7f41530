"""Training logs: per-step metrics as JSONL + CSV, a summary, and a training-curve PNG.

`MetricsLogger` is a transformers `TrainerCallback`; whatever the trainer logs (TRL's
`reward`, `rewards/<func>/mean`, `kl`, `completions/mean_length`, our `off_target_rate` and
`rollouts/…`, SFT's `loss`, …) lands in `metrics.jsonl` with the step number. `metrics.csv`
is rewritten from it at each log (columns = every key seen), and `training_curves.png`
at each checkpoint and at the end, so a killed run still has its curves. On resume, log
lines past the checkpoint's step are dropped: those steps are trained again.

`StopOnNonFinite` ends a run whose loss or gradient norm turns NaN/inf with a clear error.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from xling.errors import XlingError
from xling.jsonl import write_text_atomic
from xling.tables import write_csv
from xling.train.phases import PHASES, phase_key

METRICS_JSONL = "metrics.jsonl"
METRICS_CSV = "metrics.csv"
SUMMARY_JSON = "train_summary.json"
CURVES_PNG = "training_curves.png"

# Panels of the curve figure: (title, keys or key prefixes ending in "/"). A panel is drawn
# when any of its keys was logged.
PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("reward (weighted) and parts", ("reward", "rewards/")),
    ("off-target rate of rollouts", ("off_target_rate", "rollouts/unidentified_rate")),
    ("rollout accuracy per language", ("rollouts/accuracy_",)),
    ("KL to base model", ("kl",)),
    ("completion length (tokens)", ("completions/mean_length",)),
    ("loss", ("loss",)),
    ("token accuracy", ("mean_token_accuracy",)),
    ("learning rate", ("learning_rate",)),
    ("seconds per step, by phase", tuple(phase_key(p) for p in PHASES)),
)


def _clean(value: Any) -> Any:
    """JSON-safe scalars: NaN/inf become null (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy / torch scalars
        return _clean(value.item())
    return value


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a half-written last line of a killed run
            continue
    return records


def _matches(key: str, patterns: Iterable[str]) -> bool:
    return any(key.startswith(p) if p.endswith(("/", "_")) else key == p for p in patterns)


def plot_training_curves(records: Sequence[dict[str, Any]], path: Path, title: str = "") -> bool:
    """Draw the panels that have data; False (and no file) when nothing was logged."""
    panels = []
    for name, patterns in PANELS:
        keys = sorted(
            {k for r in records for k in r if _matches(k, patterns) and not k.endswith("/std")}
        )
        if keys:
            panels.append((name, keys))
    if not panels:
        return False
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    cols = 2 if len(panels) > 1 else 1
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3.2 * rows), squeeze=False)
    for ax, (name, keys) in zip(axes.flat, panels, strict=False):
        for key in keys:
            points = [(r["step"], r[key]) for r in records if r.get(key) is not None]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="." if len(points) < 30 else None, label=key)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(keys) > 1 or keys[0] not in patterns:  # name the line unless the title does
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return True


class MetricsLogger(TrainerCallback):
    """Append every training log to <out>/metrics.jsonl (main process only)."""

    def __init__(self, out_dir: Path | str, title: str = "") -> None:
        self.out = Path(out_dir)
        self.title = title
        self.jsonl = self.out / METRICS_JSONL

    def _records(self) -> list[dict[str, Any]]:
        return read_metrics(self.jsonl)

    def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if not state.is_world_process_zero:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        kept = [r for r in self._records() if r.get("step", 0) <= state.global_step]
        write_text_atomic(
            self.jsonl, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept)
        )

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        if not state.is_world_process_zero or not logs:
            return
        clean = {k: _clean(v) for k, v in logs.items()}
        if "train_runtime" in clean:  # the end-of-training summary, not a step
            summary = {"step": state.global_step, **clean}
            (self.out / SUMMARY_JSON).write_text(json.dumps(summary, indent=2) + "\n")
            return
        if any(k.startswith("eval_") for k in clean):
            return
        record = {"step": state.global_step, "epoch": _clean(state.epoch), "time": time.time()}
        record.update(clean)
        with self.jsonl.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        write_csv(self._records(), self.out / METRICS_CSV)

    def _plot(self) -> None:
        plot_training_curves(self._records(), self.out / CURVES_PNG, self.title)

    def on_save(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if state.is_world_process_zero:
            self._plot()

    def on_train_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if state.is_world_process_zero:
            self._plot()


class TrainingDivergedError(XlingError):
    pass


class StopOnNonFinite(TrainerCallback):
    """Raise when a logged loss or gradient norm is NaN or infinite.

    By the time such a step is logged its update has already made the weights NaN, and the
    next GRPO step would die in sampling on an opaque CUDA assert ("probability tensor
    contains inf/nan") or train on garbage. The trainer logs before it saves, so raising here
    keeps the last checkpoint clean for `--resume` with safer settings.
    """

    WATCHED = ("loss", "grad_norm")

    def __init__(self, out_dir: Path | str) -> None:
        self.out = Path(out_dir)

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        bad = {
            key: value
            for key in self.WATCHED
            if isinstance(value := (logs or {}).get(key), (int, float)) and not math.isfinite(value)
        }
        if not bad:
            return
        checkpoints = sorted(
            self.out.glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[-1])
        )
        resume = (
            f"the last good checkpoint is {checkpoints[-1]}; rerun with --resume"
            if checkpoints
            else "no checkpoint was written yet; rerun"
        )
        found = ", ".join(f"{key} = {value}" for key, value in bad.items())
        raise TrainingDivergedError(
            f"training diverged at step {state.global_step} ({found}): {resume} with a lower "
            "learning rate or --precision fp32 (bf16 autocast can overflow on small models)"
        )


def run_callbacks(out_dir: Path | str, method: str, model: str, data: str) -> list[TrainerCallback]:
    """The callbacks of every xling training run: its logs and curves, and the NaN stop."""
    title = f"{method.upper()} {Path(model).name} on {Path(data).name}"
    return [MetricsLogger(out_dir, title=title), StopOnNonFinite(out_dir)]
