"""One GRPO step at a real model's size on one GPU: where the time and the memory go.

    python bench/grpo_scale.py --out OUT                     # Qwen2.5-1.5B shape (see below)
    python bench/grpo_scale.py --out OUT --shape qwen2.5-7b --peft lora --prompts 16 \\
        --sections engine                                    # 7B shape, LoRA adapters
    .venv/bin/python bench/grpo_scale.py --out /tmp/scale --smoke   # CPU smoke, a minute

Makes a random-weight model of the shape (xling.models.random_init: config, bf16 weights,
the organism's tokenizer widened to the real vocabulary, its chat template), then trains
GRPO steps on it through xling's own entry point (`build_grpo_trainer`: TRL's GRPOTrainer,
xling's composite reward, the rollout engine reading the live weights), the code path of
`xling train grpo`, on English synthetic problems. Defaults: bf16 weights and autocast, a
group of G = 16 for each of 64 prompts (1,024 rollouts a step), completions of up to 2,048
tokens, micro-batches of 16 rollouts (64 accumulated), gradient checkpointing, beta = 0.04
(so a reference model), 8 scoring workers.

Each step's time is split by phase (xling.train.phases): generation, scoring, the rest of
the rollout phase (the reference model's log-probs, tokenizing, decoding, advantages), the
policy's forward and backward over all micro-batches, and the optimizer. Also reported:
rollouts/s, completion tokens/s (over the whole step and over generation alone) and peak GPU
memory over the timed steps (torch.cuda.max_memory_allocated and max_memory_reserved).

Sections (`--sections`), each in a process of its own (its own memory peaks, and an
out-of-memory in one leaves the other standing):

- `engine`: rollouts from xling's engine, at the full size.
- `trl`: the same step with TRL's own `generate` rollouts, at a reduced size that runs in a
  minute or two (`--trl-prompts` 4 x G, completions of `--trl-completion-length` 512). Its
  tokens/s are measured at that size only; the full-size figure beside them
  (`extrapolated_*`) divides the engine section's completion tokens by that rate, and is
  labelled an extrapolation: transformers' generate at 16 times the batch would run faster
  per token, and its growing cache would cost more memory.

Random weights put about 1/vocab of the probability on each end token, so nearly
every completion runs to the length limit: the default measures a step of maximal traces.
`--length-median M` gives each rollout of the engine section a limit drawn from a lognormal
distribution (median M tokens, `--length-sigma`, capped at the maximum), a stand-in for a
real model's spread of lengths; such completions end without an end-of-turn token, which
TRL scores and trains on like any other (it masks them only with mask_truncated_completions).

An untimed warm-up step comes first (`--warmup-tokens` 256: its completions are capped at
that length, so the engine's compilation, CUDA-graph captures and the optimizer's state are
paid for outside the timed step at a fraction of a full step's cost; 0: no warm-up). The
timed step still captures the decode graphs of longer cache lengths on first use.

LoRA for the 7B shape (`--peft lora`): full fine-tuning of 7.6B parameters in bf16 with
AdamW needs 15 GB of weights, 15 of gradients, 30 of optimizer state and 15 for the
reference model before any activation or KV cache, and the 8-bit optimizers that would
shrink that need bitsandbytes, which the GPU machines do not have. LoRA (rank 16, every
linear layer; xling's `--peft lora`) keeps one copy of the base weights, which also serves
as the reference model (adapters off), and the engine samples from the adapters merged in.

Writes `<out>/grpo-scale-<device>.json` (`-<shape>[-lora]` added for other shapes or
LoRA) after each section and prints a table last.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import device_slug

SECTIONS = ("engine", "trl")
DEFAULT_SHAPE = "qwen2.5-1.5b"
GIB = 2**30


# ------------------------------------------------------------------ rollout lengths


@dataclasses.dataclass(frozen=True)
class RolloutLimits:
    """Each rollout's completion limit in the bench's steps: the warm-up cap, or lengths
    drawn from a lognormal distribution (median, sigma), or the configured maximum."""

    max_tokens: int
    warmup_tokens: int
    median: int | None = None
    sigma: float = 0.6
    seed: int = 0

    def limits(self, count: int, step: int, warmup: bool) -> list[int]:
        cap = min(self.warmup_tokens, self.max_tokens) if warmup else self.max_tokens
        if self.median is None:
            return [cap] * count
        rng = random.Random(f"{self.seed}-{step}")
        mu = math.log(self.median)
        return [max(1, min(cap, round(rng.lognormvariate(mu, self.sigma)))) for _ in range(count)]

    def describe(self) -> str:
        if self.median is None:
            return f"up to {self.max_tokens} (random weights: nearly all run to the limit)"
        return (
            f"lognormal limits, median {self.median}, sigma {self.sigma}, at most {self.max_tokens}"
        )


class LimitedEngine:
    """The trainer's rollout engine with each request's max_new_tokens lowered to the
    bench's limit for it; everything else is the engine's own."""

    def __init__(self, engine: Any, limits: Callable[[int], list[int]]) -> None:
        self.engine = engine
        self.limits = limits

    def generate(self, prompts: Sequence[Any], params: Any, **kwargs: Any) -> Any:
        caps = self.limits(len(prompts))
        if not isinstance(params, list):
            params = [params] * len(prompts)
        limited = [
            dataclasses.replace(p, max_new_tokens=min(p.max_new_tokens, cap))
            for p, cap in zip(params, caps, strict=True)
        ]
        return self.engine.generate(prompts, limited, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


# ------------------------------------------------------------------ one section


class StepProbe(TrainerCallback):
    """Per step: the trainer's logged metrics (phase times among them), wall time and,
    from the first timed step on, peak GPU memory; applies the rollout limits."""

    def __init__(self, warmup_steps: int, limits: RolloutLimits, engine_rollouts: bool) -> None:
        self.warmup_steps = warmup_steps
        self.rollout_limits = limits
        self.engine_rollouts = engine_rollouts
        self.trainer: Any = None  # set once the trainer is built
        self.logs: list[dict[str, Any]] = []
        self.wall: list[float] = []
        self.started = 0.0
        self.engine_stats_before: dict[str, Any] = {}
        self.captures_before = 0

    def _limits_now(self, count: int) -> list[int]:
        step = self.trainer.state.global_step
        return self.rollout_limits.limits(count, step, step < self.warmup_steps)

    def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        # Here the policy sits on its device for good: the engine reads its tensors.
        if self.engine_rollouts:
            engine = self.trainer._engine()
            self.trainer.rollout_engine = LimitedEngine(engine, self._limits_now)

    def on_step_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        warmup = state.global_step < self.warmup_steps
        if not self.engine_rollouts:  # TRL's generate: its generation settings carry the cap
            cap = self.rollout_limits.limits(1, state.global_step, warmup)[0]
            self.trainer.generation_config.max_new_tokens = cap
            self.trainer.generation_kwargs["max_new_tokens"] = cap
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            if state.global_step == self.warmup_steps:
                torch.cuda.reset_peak_memory_stats()
        if state.global_step == self.warmup_steps and self.engine_rollouts:
            engine = self.trainer.rollout_engine
            self.engine_stats_before = dict(getattr(engine, "stats", {}))
            self.captures_before = getattr(getattr(engine, "graphs", None), "captures", 0)
        self.started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.wall.append(time.perf_counter() - self.started)

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        if logs and "train_runtime" not in logs:
            self.logs.append(dict(logs))


def train_data(work: Path, rows: int) -> Path:
    """English synthetic problems (X = 0), `rows` of them, as `xling data parallel` writes."""
    from xling.benchmarks import BenchmarkSpec, FieldMap
    from xling.train.data import build_parallel_from_spec, write_parallel
    from xling.world import build_benchmark

    build_benchmark(work / "synth", n_train=rows, n_test=1, seed=0, langs=["en"])
    spec = BenchmarkSpec(
        "jsonl", str(work / "synth" / "train"), name="synth", fields=FieldMap(id="id")
    )
    path = work / "train.jsonl"
    write_parallel(build_parallel_from_spec(spec, "en", rows, seed=0), path)
    return path


def section_size(args: argparse.Namespace, name: str) -> tuple[int, int]:
    """(prompts a step, completion limit) of a section."""
    if name == "trl":
        return args.trl_prompts, args.trl_completion_length
    return args.prompts, args.max_completion_length


def run_section(args: argparse.Namespace, name: str) -> dict[str, Any]:
    """Train the section's warm-up and timed steps; its figures."""
    from xling.cpu import tune_for_cpu
    from xling.train.config import GRPOTrainConfig
    from xling.train.grpo import build_grpo_trainer
    from xling.train.rewards import RolloutScorer

    prompts, max_len = section_size(args, name)
    rollouts = prompts * args.num_generations
    micro = min(args.micro_batch, rollouts)
    if rollouts % micro:
        raise SystemExit(f"{rollouts} rollouts a step are not a multiple of --micro-batch {micro}")
    warmup_steps = 1 if args.warmup_tokens > 0 else 0
    engine = name == "engine"
    limits = RolloutLimits(
        max_tokens=max_len,
        warmup_tokens=args.warmup_tokens,
        median=args.length_median if engine else None,
        sigma=args.length_sigma,
    )
    work = Path(tempfile.mkdtemp(prefix=f"xling-grpo-scale-{name}-"))
    cfg = GRPOTrainConfig(
        model=args.model,
        data=str(train_data(work, prompts * (warmup_steps + args.steps))),
        out=str(work / "run"),
        max_steps=warmup_steps + args.steps,
        save_steps=10**9,  # no checkpoint: a bench step, not a run
        logging_steps=1,
        report_to="none",
        num_generations=args.num_generations,
        per_device_batch_size=micro,
        gradient_accumulation_steps=rollouts // micro,
        max_completion_length=max_len,
        beta=args.beta,
        precision=args.precision,
        model_dtype=args.model_dtype,
        gradient_checkpointing=args.gradient_checkpointing,
        rollout_engine="on" if engine else "off",
        score_workers=args.score_workers,
        peft=args.peft,
        learning_rate=1e-6,
        warmup_ratio=0.0,
        # Nor one at the end (transformers writes one there whatever save_steps says):
        # a billion-parameter model's weights and optimizer state are gigabytes to write.
        trl={"save_strategy": "no"},
    )
    tune_for_cpu()  # as `xling train grpo` does
    probe = StepProbe(warmup_steps, limits, engine_rollouts=engine)
    with RolloutScorer(workers=cfg.score_workers, timeout_s=cfg.score_timeout) as scorer:
        scorer.start()
        started = time.perf_counter()
        trainer = build_grpo_trainer(cfg, scorer, callbacks=[probe])
        probe.trainer = trainer
        load_s = time.perf_counter() - started
        trainer.train()
    cuda = torch.cuda.is_available()
    figures = summarize_steps(probe, rollouts)
    result: dict[str, Any] = {
        "rollouts": "xling engine (live weights)" if engine else "TRL generate",
        "prompts_per_step": prompts,
        "num_generations": args.num_generations,
        "rollouts_per_step": rollouts,
        "max_completion_length": max_len,
        "completion_lengths": limits.describe(),
        "micro_batch": micro,
        "gradient_accumulation_steps": rollouts // micro,
        "trainable_parameters": sum(
            p.numel() for p in trainer.model.parameters() if p.requires_grad
        ),
        "build_trainer_s": round(load_s, 1),
        "warmup": (
            {"completion_cap": min(args.warmup_tokens, max_len), "step_s": round(probe.wall[0], 1)}
            if warmup_steps
            else None
        ),
        **figures,
    }
    if cuda:
        result["peak_allocated_gib"] = round(torch.cuda.max_memory_allocated() / GIB, 2)
        result["peak_reserved_gib"] = round(torch.cuda.max_memory_reserved() / GIB, 2)
        result["device_total_gib"] = round(
            torch.cuda.get_device_properties(0).total_memory / GIB, 1
        )
    if engine:
        rollout_engine = trainer.rollout_engine
        stats = dict(getattr(rollout_engine, "stats", {}))
        result["engine_timed_steps"] = {
            k: v - probe.engine_stats_before.get(k, 0) if k != "peak_live" else v
            for k, v in stats.items()
            if isinstance(v, int | float)
        }
        cache = getattr(rollout_engine, "cache", None)
        result["engine_cache_slots"] = getattr(cache, "slots", None)
        # CUDA graphs captured during the timed steps (lengths the warm-up never reached).
        captures = getattr(getattr(rollout_engine, "graphs", None), "captures", None)
        if captures is not None:
            result["engine_timed_steps"]["graph_captures"] = captures - probe.captures_before
    del trainer, probe
    gc.collect()
    shutil.rmtree(work, ignore_errors=True)
    return result


def summarize_steps(probe: StepProbe, rollouts: int) -> dict[str, Any]:
    """Means over the timed steps of the phases, rates and lengths the trainer logged."""
    from xling.train.phases import phase_seconds

    timed_logs = probe.logs[probe.warmup_steps :]
    if not timed_logs:
        raise RuntimeError("the trainer logged no timed step")
    phases = [phase_seconds(log) for log in timed_logs]

    def mean_phase(key: str) -> float:
        return statistics.mean(p.get(key, 0.0) for p in phases)

    lengths = [log.get("completions/mean_length", float("nan")) for log in timed_logs]
    step_s = mean_phase("step")
    generation_s = mean_phase("generation")
    tokens = statistics.mean(lengths) * rollouts
    return {
        "timed_steps": len(timed_logs),
        "step_s": round(step_s, 2),
        "phases_s": {
            "generation": round(generation_s, 2),
            "scoring": round(mean_phase("scoring"), 2),
            # The reference model's log-probs, tokenizing, decoding, advantages, gathers.
            "rollout_other": round(mean_phase("rollout") - generation_s - mean_phase("scoring"), 2),
            "forward_backward": round(mean_phase("loss"), 2),
            "optimizer": round(mean_phase("optimizer"), 2),
        },
        "step_wall_s": [round(s, 2) for s in probe.wall],
        "mean_completion_tokens": round(statistics.mean(lengths), 1),
        "clipped_ratio": timed_logs[-1].get("completions/clipped_ratio"),
        "completion_tokens_per_step": round(tokens),
        "rollouts_per_s": round(rollouts / step_s, 3),
        "completion_tokens_per_s": round(tokens / step_s, 1),
        "generation_tokens_per_s": round(tokens / generation_s, 1) if generation_s else None,
    }


# ------------------------------------------------------------------ the whole bench


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def json_path(args: argparse.Namespace) -> Path:
    device = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    name = f"grpo-scale-{device_slug(device)}"
    if args.shape != DEFAULT_SHAPE or args.peft != "none":
        name += f"-{args.shape}" + ("-lora" if args.peft == "lora" else "")
    return args.out / f"{name}.json"


def run_child(args: argparse.Namespace, name: str, work: Path) -> dict[str, Any]:
    """One section in a fresh process (this script with --run-section)."""
    out = work / f"{name}.json"
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        *sys.argv[1:],
        *("--model", args.model, "--run-section", name, "--section-json", str(out)),
    ]
    done = subprocess.run(command)
    if done.returncode != 0 or not out.is_file():
        return {"error": f"the section's process ended with status {done.returncode}"}
    return json.loads(out.read_text(encoding="utf-8"))


def extrapolate(results: dict[str, Any]) -> None:
    """The TRL section's generation rate applied to the engine section's tokens."""
    sections = results["sections"]
    engine, trl = sections.get("engine", {}), sections.get("trl", {})
    rate = trl.get("generation_tokens_per_s")
    tokens = engine.get("completion_tokens_per_step")
    if not rate or not tokens:
        return
    trl["extrapolated_generation_s_at_engine_size"] = round(tokens / rate, 1)
    trl["extrapolated_note"] = (
        f"EXTRAPOLATED: {tokens} completion tokens (the engine section's step) at the "
        f"{rate} tokens/s TRL's generate reached at {trl['rollouts_per_step']} rollouts x "
        f"{trl['max_completion_length']} tokens; not measured at that size"
    )
    if engine.get("generation_tokens_per_s"):
        trl["engine_over_trl_generation_tokens_per_s"] = round(
            engine["generation_tokens_per_s"] / rate, 2
        )


def print_table(results: dict[str, Any]) -> None:
    model = results["model"]
    params = model["parameters"]
    size = f"{params / 1e9:.2f}B" if params >= 1e8 else f"{params / 1e6:.1f}M"
    print(
        f"\nGRPO step, {model['shape']} ({size} parameters, peft {results['settings']['peft']}), "
        f"{results['device']}"
    )
    rows = [
        ("rollouts a step", "rollouts_per_step"),
        ("completion limit", "max_completion_length"),
        ("mean completion tokens", "mean_completion_tokens"),
        ("step s", "step_s"),
        ("  generation s", ("phases_s", "generation")),
        ("  scoring s", ("phases_s", "scoring")),
        ("  rest of rollout s", ("phases_s", "rollout_other")),
        ("  forward+backward s", ("phases_s", "forward_backward")),
        ("  optimizer s", ("phases_s", "optimizer")),
        ("rollouts/s", "rollouts_per_s"),
        ("completion tokens/s (step)", "completion_tokens_per_s"),
        ("generation tokens/s", "generation_tokens_per_s"),
        ("peak allocated GiB", "peak_allocated_gib"),
        ("peak reserved GiB", "peak_reserved_gib"),
        ("EXTRAPOLATED generation s", "extrapolated_generation_s_at_engine_size"),
    ]
    names = list(results["sections"])
    print(f"{'':30}" + "".join(f"{n:>16}" for n in names))
    for label, key in rows:
        cells = []
        for n in names:
            section = results["sections"][n]
            value = (
                section.get(key[0], {}).get(key[1]) if isinstance(key, tuple) else section.get(key)
            )
            cells.append("" if value is None else str(value))
        if any(cells):
            print(f"{label:30}" + "".join(f"{c:>16}" for c in cells))
    for n in names:
        for key in ("extrapolated_note", "error"):
            if key in results["sections"][n]:
                print(f"{n}: {results['sections'][n][key]}")


def apply_smoke(args: argparse.Namespace) -> None:
    """The CPU smoke sizes: everything shrunk, every path still taken."""
    args.shape = "tiny"
    args.prompts = args.trl_prompts = 2
    args.num_generations = 2
    args.max_completion_length = args.trl_completion_length = 16
    args.micro_batch = 4
    args.warmup_tokens = 8
    args.score_workers = 1
    args.model_dtype = "float32"
    args.precision = "fp32"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the JSON")
    parser.add_argument("--shape", default=DEFAULT_SHAPE, help="a named shape (models/shapes.py)")
    parser.add_argument("--model", help="an existing model folder instead of a fresh random one")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--peft", default="none", choices=("none", "lora"))
    parser.add_argument("--prompts", type=int, default=64, help="prompts a step (engine)")
    parser.add_argument("--num-generations", type=int, default=16, help="G, rollouts a prompt")
    parser.add_argument("--max-completion-length", type=int, default=2048)
    parser.add_argument("--micro-batch", type=int, default=16, help="rollouts a forward/backward")
    parser.add_argument("--steps", type=int, default=1, help="timed steps")
    parser.add_argument(
        "--warmup-tokens",
        type=int,
        default=256,
        help="completion cap of the warm-up step (0: none)",
    )
    parser.add_argument("--length-median", type=int, help="lognormal rollout limits (engine)")
    parser.add_argument("--length-sigma", type=float, default=0.6)
    parser.add_argument("--trl-prompts", type=int, default=4, help="prompts a step (trl)")
    parser.add_argument("--trl-completion-length", type=int, default=512)
    parser.add_argument("--beta", type=float, default=0.04, help="KL weight (0: no reference)")
    parser.add_argument("--precision", default="bf16", help="auto | bf16 | fp16 | fp32")
    parser.add_argument("--model-dtype", default="bfloat16", help="the weights' dtype")
    parser.add_argument(
        "--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=True
    )
    parser.add_argument("--score-workers", type=int, default=8)
    parser.add_argument(
        "--keep-model", action="store_true", help="keep the random model made (in a temp folder)"
    )
    parser.add_argument("--smoke", action="store_true", help="CPU smoke sizes (tiny shape)")
    parser.add_argument("--run-section", choices=SECTIONS, help=argparse.SUPPRESS)
    parser.add_argument("--section-json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        apply_smoke(args)
    return args


def main() -> None:
    args = parse_args()
    if args.run_section:  # a child: one section, its figures to --section-json
        figures = run_section(args, args.run_section)
        args.section_json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        return

    import transformers
    import trl

    from xling.models.random_init import RANDOM_MODEL_JSON, write_random_model

    sections = [s for s in args.sections.split(",") if s]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise SystemExit(f"unknown sections {unknown}; known: {', '.join(SECTIONS)}")
    work = Path(tempfile.mkdtemp(prefix="xling-grpo-scale-"))
    if args.model:
        info_path = Path(args.model) / RANDOM_MODEL_JSON
        model_info = json.loads(info_path.read_text()) if info_path.is_file() else {}
        model_info.setdefault("shape", args.shape)
    else:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        model_info = write_random_model(work / "model", args.shape, device=device)
        args.model = str(work / "model")
        print(f"made {args.shape} in {model_info['seconds']} s: {args.model}", flush=True)
    results: dict[str, Any] = {
        "device": device_name(),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "trl": trl.__version__,
            "python": platform.python_version(),
        },
        "model": {
            "shape": model_info.get("shape", args.shape),
            "parameters": model_info.get("parameters", 0),
            "vocab_size": model_info.get("vocab_size"),
            "made_s": model_info.get("seconds"),
            "weights": "random (xling.models.random_init)",
        },
        "settings": {
            k: v
            for k, v in vars(args).items()
            if k not in ("out", "model", "run_section", "section_json")
        },
        "sections": {},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = json_path(args)
    for name in sections:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        figures = run_child(args, name, work)
        figures["section_s"] = round(time.perf_counter() - started, 1)
        results["sections"][name] = figures
        extrapolate(results)
        path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    if not args.keep_model:
        shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
