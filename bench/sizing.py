"""What a paper-sized study costs, from measured figures (issue 26, docs/scale.md).

    python bench/sizing.py --grpo docs/gpu/scale/grpo-scale-h200-qwen2.5-7b-lora.json \\
        --generate docs/perf/long-generate-h200.json --shape qwen2.5-7b [--gpus 1,8,64]

The study is a study file's design (`--study`, by default organism v3's: its arms, X
values and seeds, and the runs the arms share) at the paper's sizes: each GRPO run trains
on `--rows` problems (the paper's 1,000) for the study's epochs with its group size, and
every model the study makes is evaluated on the paper's benchmarks (MATH500, AIME24,
AIME25, GPQA-Diamond: 758 problems) in 11 languages.

Costs come from two measured files:
- a GRPO step (bench/grpo_scale.py's JSON, engine section): seconds per prompt group of
  `num_generations` rollouts, at that bench's completion limit. Random weights run nearly
  every rollout to the limit, so this is the cost of traces of that length;
- long generation (bench/long_generate.py's JSON): the engine's tokens/s on the ragged row
  of `--shape` with the most slots (paged attention where measured) at the GRPO step's
  completion limit (`--eval-max-new` for another), for evaluation, at that row's mean
  trace length.

Runs whose study rows differ from the study's default (a per-language budget) scale
`--rows` the same way. SFT runs cost their tokens (`--sft-tokens` per row, an assumption)
at the GRPO step's forward + backward rate per completion token. Every run fits one GPU
(what the measured step used), so G GPUs run G runs at once: the wall time is the longer
of the work over G and the longest single run, the bound a longest-first schedule stays
within.

Prints a markdown table and writes `--json` when given.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from xling.study.config import load_study_config  # noqa: E402
from xling.study.pipeline import Study  # noqa: E402

# The paper's evaluation sets (problems each), translated into 11 languages.
PAPER_EVAL_PROBLEMS = {"MATH500": 500, "AIME24": 30, "AIME25": 30, "GPQA-Diamond": 198}
PAPER_LANGUAGES = 11
PAPER_ROWS = 1000  # GRPO on 1,000 MATH problems
DEFAULT_STUDY = REPO / "docs" / "gpu" / "organism-v3" / "study-s0.toml"


@dataclass(frozen=True)
class Rates:
    group_s: float  # one prompt's group of rollouts, through a whole GRPO step
    group_size: int
    completion_limit: int
    train_token_s: float  # forward + backward per completion token
    eval_tok_s: float  # engine tokens/s on ragged long generation
    eval_mean_tokens: float


@dataclass(frozen=True)
class Run:
    kind: str  # "grpo" | "sft" | "eval"
    count: int
    hours: float  # all of them, on one GPU
    longest_hours: float  # the longest one


def grpo_rates(grpo: dict[str, Any]) -> tuple[float, int, int, float]:
    engine = grpo["sections"]["engine"]
    group_s = engine["step_s"] / engine["prompts_per_step"]
    train_token_s = engine["phases_s"]["forward_backward"] / engine["completion_tokens_per_step"]
    return group_s, engine["num_generations"], engine["max_completion_length"], train_token_s


def generation_rate(
    generate: dict[str, Any], shape: str, max_new: int | None = None
) -> tuple[float, float, str]:
    """(tokens/s, mean trace tokens, row key): the ragged row of `shape` with the most
    slots, paged where that row has it; of those whose trace limit is `max_new` when there
    are any (the GRPO step's limit: a study evaluates at the length it trains at), else of
    the longest limit."""
    rows = {
        key: row
        for key, row in generate["rows"].items()
        if key.startswith(f"{shape}_") and key.endswith("_ragged")
    }
    measured = {k: r for k, r in rows.items() if "engine_paged_tok_s" in r or "engine_tok_s" in r}
    if not measured:
        raise SystemExit(f"no measured ragged row of shape {shape!r} in the generation JSON")
    at_limit = {k: r for k, r in measured.items() if r["max_new"] == max_new}
    measured = at_limit or measured
    key = max(measured, key=lambda k: (measured[k]["slots"], measured[k]["max_new"]))
    row = measured[key]
    return row.get("engine_paged_tok_s") or row["engine_tok_s"], row["mean_new"], key


def run_rows(study: Study, slot: Any, rows: int) -> float:
    """Rows of a run at the paper's size: `rows` scaled as the study file scales this run's
    rows against its own default (a per-language budget grows with X)."""
    default = study.cfg.train_data
    data = study.train_data(slot.arm)
    n_default, n = default.n or PAPER_ROWS, data.n or PAPER_ROWS
    languages = slot.x + 1 if (data.budget or "per-lang") == "per-lang" else 1
    default_languages = slot.x + 1 if (default.budget or "per-lang") == "per-lang" else 1
    return rows * (n * languages) / (n_default * default_languages)


def study_runs(study_file: Path, rates: Rates, rows: int, sft_tokens: int) -> list[Run]:
    """The runs of the study file's design at the paper's sizes."""
    study = Study(load_study_config(study_file))
    trainings = [s for s in study.slots() if s.owner == s.arm.name]
    hours: dict[str, list[float]] = {"grpo": [], "sft": []}
    for slot in trainings:
        settings = study.train_overrides(slot.arm)
        epochs = float(settings.get("num_train_epochs", 1))
        slot_rows = run_rows(study, slot, rows) * epochs
        if slot.arm.method == "grpo":
            hours["grpo"].append(slot_rows * rates.group_s / 3600)
        else:
            hours["sft"].append(slot_rows * sft_tokens * rates.train_token_s / 3600)
    starts = {s.arm.start for s in trainings}  # each start model is evaluated once
    prompts = sum(PAPER_EVAL_PROBLEMS.values()) * PAPER_LANGUAGES
    eval_each = prompts * rates.eval_mean_tokens / rates.eval_tok_s / 3600
    evals = [eval_each] * (len(trainings) + len(starts))
    return [
        Run(kind, len(each), sum(each), max(each, default=0.0))
        for kind, each in (*hours.items(), ("eval", evals))
    ]


def wall_hours(runs: list[Run], gpus: int) -> float:
    work = sum(r.hours for r in runs)
    longest = max((r.longest_hours for r in runs), default=0.0)
    return max(work / gpus, longest)


def table(runs: list[Run], gpus: list[int]) -> str:
    lines = [
        "| runs | count | GPU-hours | longest run, hours |",
        "|---|---|---|---|",
    ]
    for r in runs:
        lines.append(f"| {r.kind} | {r.count} | {r.hours:.1f} | {r.longest_hours:.2f} |")
    total = sum(r.hours for r in runs)
    lines.append(f"| all | {sum(r.count for r in runs)} | {total:.1f} | |")
    lines += ["", "| GPUs | wall-clock hours | days |", "|---|---|---|"]
    for g in gpus:
        hours = wall_hours(runs, g)
        lines.append(f"| {g} | {hours:.1f} | {hours / 24:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grpo", type=Path, required=True, help="bench/grpo_scale.py's JSON")
    parser.add_argument(
        "--generate", type=Path, required=True, help="bench/long_generate.py's JSON"
    )
    parser.add_argument("--shape", default="qwen2.5-7b", help="the generation JSON's shape")
    parser.add_argument("--study", type=Path, default=DEFAULT_STUDY)
    parser.add_argument("--rows", type=int, default=PAPER_ROWS)
    parser.add_argument(
        "--sft-tokens", type=int, default=600, help="Tokens per SFT row (an assumption)."
    )
    parser.add_argument(
        "--eval-max-new",
        type=int,
        help="Evaluate at the generation rows of this trace limit (default: the GRPO "
        "step's completion limit, where such rows exist).",
    )
    parser.add_argument("--gpus", default="1,8,64")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    grpo = json.loads(args.grpo.read_text(encoding="utf-8"))
    generate = json.loads(args.generate.read_text(encoding="utf-8"))
    group_s, group_size, limit, token_s = grpo_rates(grpo)
    tok_s, mean_tokens, row_key = generation_rate(generate, args.shape, args.eval_max_new or limit)
    rates = Rates(group_s, group_size, limit, token_s, tok_s, mean_tokens)
    runs = study_runs(args.study, rates, args.rows, args.sft_tokens)
    gpus = [int(g) for g in args.gpus.split(",")]
    print(
        f"GRPO: {group_s:.1f} s a group of {group_size} rollouts up to {limit} tokens "
        f"({grpo['device']}, {grpo['model']['shape']}, peft {grpo['settings']['peft']}); "
        f"evaluation: {tok_s:,.0f} tokens/s, traces of {mean_tokens:.0f} tokens on average "
        f"({generate['device']}, {row_key})\n"
    )
    print(table(runs, gpus))
    if args.json:
        out = {
            "rates": asdict(rates),
            "generation_row": row_key,
            # Repository-relative where it can be, so that a committed JSON names no machine.
            "study": str(
                args.study.resolve().relative_to(REPO)
                if args.study.resolve().is_relative_to(REPO)
                else args.study
            ),
            "runs": [asdict(r) for r in runs],
            "wall_hours": {str(g): round(wall_hours(runs, g), 2) for g in gpus},
            "gpu_hours": round(sum(r.hours for r in runs), 2),
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
