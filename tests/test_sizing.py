"""bench/sizing.py: a paper-sized study's cost from measured GRPO and generation figures."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from conftest import bench_module

REPO = Path(__file__).resolve().parents[1]
STUDY = REPO / "docs" / "gpu" / "organism-v3" / "study-s0.toml"


def sizing() -> ModuleType:
    return bench_module("sizing")


def test_rates_come_from_the_measured_files() -> None:
    s = sizing()
    grpo = {
        "sections": {
            "engine": {
                "step_s": 160.0,
                "prompts_per_step": 16,
                "num_generations": 16,
                "max_completion_length": 2048,
                "phases_s": {"forward_backward": 40.0},
                "completion_tokens_per_step": 400_000,
            }
        }
    }
    assert s.grpo_rates(grpo) == (10.0, 16, 2048, 1e-4)
    generate = {
        "rows": {
            "qwen2.5-7b_slots64_new2048_ragged": {
                "slots": 64,
                "max_new": 2048,
                "mean_new": 800.0,
                "engine_tok_s": 5000,
            },
            "qwen2.5-7b_slots256_new2048_ragged": {
                "slots": 256,
                "max_new": 2048,
                "mean_new": 820.0,
                "engine_tok_s": 9000,
                "engine_paged_tok_s": 12000,
            },
            "qwen2.5-7b_slots256_new2048_uniform": {
                "slots": 256,
                "max_new": 2048,
                "mean_new": 2048.0,
                "engine_tok_s": 20000,
            },
            "qwen2.5-1.5b_slots512_new2048_ragged": {
                "slots": 512,
                "max_new": 2048,
                "mean_new": 820.0,
                "engine_tok_s": 50000,
            },
        }
    }
    assert s.generation_rate(generate, "qwen2.5-7b") == (
        12000,
        820.0,
        "qwen2.5-7b_slots256_new2048_ragged",
    )
    # A longer limit at the same slots: taken unless the rows at the asked limit exist.
    generate["rows"]["qwen2.5-7b_slots256_new8192_ragged"] = {
        "slots": 256,
        "max_new": 8192,
        "mean_new": 3000.0,
        "engine_paged_tok_s": 8000,
    }
    assert s.generation_rate(generate, "qwen2.5-7b")[2] == "qwen2.5-7b_slots256_new8192_ragged"
    assert s.generation_rate(generate, "qwen2.5-7b", 2048)[0] == 12000
    assert s.generation_rate(generate, "qwen2.5-7b", 4096)[0] == 8000  # none at 4096
    with pytest.raises(SystemExit, match="no measured ragged row"):
        s.generation_rate(generate, "qwen2.5-32b")


def test_the_study_design_at_the_papers_sizes() -> None:
    s = sizing()
    # 36 s a group: 1,000 rows of one epoch are 10 GPU-hours.
    rates = s.Rates(36.0, 16, 2048, 1e-3, 1000.0, 500.0)
    runs = {r.kind: r for r in s.study_runs(STUDY, rates, rows=1000, sft_tokens=600)}
    # Organism v3's design: 5 arms x X 0..7 x 3 seeds, the shuffled arm's X = 0 runs shared
    # with grpo's (one language: shuffling ids changes nothing).
    assert runs["grpo"].count == 24 + 24 + 21 + 24 and runs["sft"].count == 24
    # Fixed-budget runs take 10 h; the per-language arm's rows grow with X (256 per
    # language against a fixed 1,024): X = 7 has twice the rows.
    assert runs["grpo"].longest_hours == pytest.approx(20.0)
    per_lang = sum(10.0 * 256 * (x + 1) / 1024 for x in range(8)) * 3
    assert runs["grpo"].hours == pytest.approx(10.0 * 3 * (8 + 7 + 8) + per_lang)
    # SFT: 2 epochs (the study's) x 1,000 rows x 600 tokens at 1 ms a token.
    assert runs["sft"].longest_hours == pytest.approx(2 * 1000 * 600 * 1e-3 / 3600)
    # Every trained model and both start models, on 758 problems x 11 languages.
    assert runs["eval"].count == 117 + 2
    assert runs["eval"].longest_hours == pytest.approx(758 * 11 * 500 / 1000 / 3600)
    total = sum(r.hours for r in runs.values())
    assert s.wall_hours(list(runs.values()), 1) == pytest.approx(total)
    assert s.wall_hours(list(runs.values()), 10**6) == pytest.approx(20.0)
