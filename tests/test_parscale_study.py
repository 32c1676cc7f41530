"""The ParScale study (grid, resume, analysis, report), the cost bench and the organism
heads comparison, at toy sizes on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from xling.errors import XlingError  # noqa: E402
from xling.parscale.law import predict, theta_of  # noqa: E402
from xling.parscale.settings import (  # noqa: E402
    CellResult,
    ModelShape,
    StudyError,
    load_study_settings,
)
from xling.parscale.study import ParScaleStudy  # noqa: E402
from xling.testing.parscale import TINY_STUDY_SETS  # noqa: E402

# Tiny models on a shared 2-core runner: one torch thread (conftest's fixture).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _cells_from_law(k: float, n_batches: int = 30, noise: float = 0.01) -> list[CellResult]:
    """Cells whose held-out batches scatter around the law's loss (tokens per batch ~500)."""
    rng = np.random.default_rng(0)
    theta = theta_of(5e6, k, 0.3, 1.0)
    cells = []
    for hidden in (32, 64, 128, 256):
        shape = ModelShape(hidden=hidden, layers=2, heads=4, kv_heads=2, intermediate=3 * hidden)
        n = shape.non_embedding_params()
        for p in (1, 2, 4, 8):
            loss = float(predict("parscale", theta, np.array([n]), np.array([p]))[0])
            tokens = rng.integers(400, 600, n_batches).astype(float)
            nll = tokens * loss * np.exp(rng.normal(0, noise, n_batches))
            rows = np.stack([nll, tokens], axis=1).tolist()
            extra = shape.parscale_params(p, 8)
            cells.append(
                CellResult(
                    name=f"{shape.name}-p{p}",
                    shape=shape,
                    streams=p,
                    params={
                        "backbone_non_embedding": n,
                        "embedding": 0,
                        "parscale": extra,
                        "total": n + extra,
                        "law_n": n + extra,
                    },
                    heldout=rows,
                    heldout_lang={"en": rows[:10], "sw": rows[10:20]},
                )
            )
    return cells


def test_analysis_recovers_k_and_bootstraps_over_batches() -> None:
    from xling.parscale.report import analyze

    an = analyze(_cells_from_law(k=0.5), n_definition="backbone", n_boot=25, lang_boot=10, seed=0)
    k = an.fit.estimates["k"]
    assert k.value == pytest.approx(0.5, abs=0.15)
    assert k.lo < 0.5 < k.hi
    assert an.fit.best_model in ("parscale", "power_p")
    # Every cell's CI comes from the same resampled batches and brackets its loss.
    assert all(e.lo <= e.value <= e.hi for e in an.cell_loss)
    assert [r.lang for r in an.lang_rows] == ["en", "sw"]
    assert an.lang_rows[0].reduction.value > 0  # P = 8 beats P = 1 when k > 0
    # What P buys per size: every P > 1 cell against its size's P = 1, on paired batches;
    # with k = 0.5 every P helps, more with larger P.
    assert len(an.p_effects) == 12 and all(c.streams > 1 for c, _ in an.p_effects)
    by_cell = {(c.shape.name, c.streams): e for c, e in an.p_effects}
    for size in {c.shape.name for c, _ in an.p_effects}:
        effects = [by_cell[(size, p)] for p in (2, 4, 8)]
        assert all(e.hi < 0 for e in effects)
        assert effects[2].value < effects[0].value
    # With the paper's N (extras counted) the same losses imply a smaller k.
    assert an.other_fit.estimates["k"].value < k.value


def test_settings_validate_and_merge(tmp_path: Path) -> None:
    cfg = load_study_settings("demo", settings=["train.steps=7", "p_values=[1,2]"])
    assert cfg.train.steps == 7 and cfg.train.batch_size == 8 and cfg.p_values == (1, 2)
    with pytest.raises(XlingError, match="unknown key"):
        load_study_settings("demo", settings=["train.stepz=7"])
    # A one-P grid (a P = 1 column, to set the budget first) loads and trains, but cannot
    # be fitted; repeated P values are still refused.
    one_p = load_study_settings("demo", settings=["p_values=[1]"])
    assert one_p.p_values == (1,)
    assert "two values of P" in (one_p.fit_problem() or "")
    assert cfg.fit_problem() is None
    with pytest.raises(StudyError, match="p_values"):
        load_study_settings("demo", settings=["p_values=[1,1]"])
    with pytest.raises(StudyError, match="unknown preset"):
        load_study_settings("nope")
    for name in ("demo", "gpu"):
        sizes = load_study_settings(name).sizes
        counts = [s.non_embedding_params() for s in sizes]
        assert len(sizes) >= 4 and max(counts) >= 8 * min(counts)


@pytest.mark.slow
def test_tiny_study_end_to_end_and_resume(tmp_path: Path) -> None:
    sets = [*TINY_STUDY_SETS, "p_values=[1,2,3]"]
    cfg = load_study_settings("demo", settings=sets, out=str(tmp_path / "study"), device="cpu")
    study = ParScaleStudy(cfg)
    report = study.run()
    assert report is not None
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    assert {"A", "k", "alpha", "E", "ci"} <= set(summary["law"])
    assert len(summary["cells"]) == 6 and len(summary["languages"]) == 11
    for name in ("loss_contour", "loss_vs_n", "collapse", "languages"):
        assert (report / "figures" / f"{name}.png").exists()
    assert (report / "report.md").read_text(encoding="utf-8").count("| h16-l1-p") == 3
    # A rerun keeps finished cells; other settings in the same folder are refused.
    cell = study.cell_path(cfg.sizes[0], 2)
    stamp = cell.stat().st_mtime_ns
    ParScaleStudy(cfg).run(report=False)
    assert cell.stat().st_mtime_ns == stamp
    changed = load_study_settings(
        "demo", settings=[*sets, "train.steps=4"], out=str(tmp_path / "study"), device="cpu"
    )
    with pytest.raises(StudyError, match="other settings"):
        ParScaleStudy(changed).run()


def test_cost_bench_tiny_on_cpu() -> None:
    from xling.parscale.cost import (
        QWEN2_05B,
        CostSettings,
        non_embedding_params,
        run_cost_bench,
        scaled_shape,
    )

    base = non_embedding_params(896, 24, 14, 2, 4864)
    assert base == pytest.approx(357.9e6, rel=0.001)  # Qwen2.5-0.5B's non-embedding size
    for mult in (1.27, 1.55, 1.82):
        s = scaled_shape(QWEN2_05B, mult)
        got = non_embedding_params(
            s["hidden_size"],
            24,
            s["num_attention_heads"],
            s["num_key_value_heads"],
            s["intermediate_size"],
        )
        assert got / base == pytest.approx(mult, rel=0.02)
    result = run_cost_bench(
        CostSettings(
            shape="tiny",
            streams=(2,),
            batch_sizes=(1,),
            new_tokens=3,
            prefix_tokens=2,
            device="cpu",
        )
    )
    kinds = [(r["kind"], r["streams"]) for r in result["rows"]]
    assert kinds == [("base", 1), ("parscale", 2), ("dense", 1)]
    (ratio,) = result["ratios"]
    # The roofline KV cache of 2 streams is larger than the base's; the dense model's
    # weights are larger than the base's.
    assert ratio["roofline_memory_gb_increase_parscale"] > 0
    assert ratio["roofline_memory_gb_increase_dense"] > 0


def test_heads_comparison_gains_and_low_resource_contrast(tmp_path: Path) -> None:
    from xling.analysis.synthetic import run_records, write_run
    from xling.parscale.organism_eval import LOW_RESOURCE, compare_heads

    langs = ["en", "es", *LOW_RESOURCE]
    base = {lang: 0.5 for lang in langs}
    better_low = {lang: (0.75 if lang in LOW_RESOURCE else 0.5) for lang in langs}
    z = np.random.default_rng(1).standard_normal(200)
    runs = {
        1: write_run(
            tmp_path / "p1", run_records(base, n_problems=200, z=z, rng=np.random.default_rng(2))
        ),
        4: write_run(
            tmp_path / "p4",
            run_records(better_low, n_problems=200, z=z, rng=np.random.default_rng(3)),
        ),
    }
    result = compare_heads(runs, n_boot=200)
    p4 = next(m for m in result["models"] if m["P"] == 4)
    contrast = p4["low_resource_minus_english_gain"]
    assert contrast["lo"] > 0  # the low-resource languages gained more than English
    assert abs(p4["languages"]["en"]["gain"]["value"]) < 0.1


def test_post_trained_head_loads_in_the_eval_backend(tiny_model_dir: Path, tmp_path: Path) -> None:
    from xling.backends.base import GenerationParams, Request
    from xling.backends.hf import HFBackend
    from xling.organism import load_organism_config
    from xling.parscale.training import TokenBatches, TrainSettings, post_train

    settings = TrainSettings(steps=2, batch_size=2, seq_len=64, warmup_steps=1)
    ids = torch.randint(3, 200, (2, 16), dtype=torch.int32)
    info = post_train(
        tiny_model_dir,
        2,
        tmp_path / "head",
        corpus=load_organism_config("cpu-small"),
        settings=settings,
        prefix_tokens=2,
        device="cpu",
        heldout=TokenBatches([ids], [ids]),
    )
    assert info["params"]["parscale"] > 0 and "heldout_loss_after" in info
    backend = HFBackend(str(tmp_path / "head"), device="cpu", batch_size=2)
    try:
        outs = backend.generate(
            [Request(messages=({"role": "user", "content": "2 + 2?"},))],
            GenerationParams(temperature=0.0, max_new_tokens=4),
        )
    finally:
        backend.close()
    assert len(outs) == 1 and len(outs[0]) == 1 and outs[0][0].n_tokens >= 1


@pytest.mark.slow
def test_grpo_runs_on_a_parscale_checkpoint(tiny_model_dir: Path, tmp_path: Path) -> None:
    """TRL loads ParScale checkpoints by path once the auto classes are registered (as
    `xling train grpo` does) and trains them; the final model is still a ParScale model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from xling.benchmarks import BenchmarkSpec, FieldMap
    from xling.models.parscale import ParScaleForCausalLM, register_auto_classes
    from xling.train.config import GRPOTrainConfig
    from xling.train.data import build_parallel_from_spec, write_parallel
    from xling.train.grpo import run_grpo
    from xling.world import build_benchmark

    head = tmp_path / "head"
    ParScaleForCausalLM.from_backbone(
        str(tiny_model_dir), streams=2, prefix_tokens=2
    ).save_pretrained(head)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(head)
    build_benchmark(tmp_path / "synth", n_train=4, n_test=1, seed=0, langs=("en",))
    spec = BenchmarkSpec(
        "jsonl", str(tmp_path / "synth" / "train"), name="synth", fields=FieldMap(id="id")
    )
    write_parallel(build_parallel_from_spec(spec, "en", 2, seed=0), tmp_path / "train.jsonl")
    register_auto_classes()
    run_grpo(
        GRPOTrainConfig(
            model=str(head),
            data=str(tmp_path / "train.jsonl"),
            out=str(tmp_path / "run"),
            per_device_batch_size=2,
            gradient_accumulation_steps=1,
            max_steps=1,
            save_steps=1,
            logging_steps=1,
            gradient_checkpointing=False,
            report_to="none",
            score_workers=1,
            num_generations=2,
            max_completion_length=8,
        )
    )
    final = AutoModelForCausalLM.from_pretrained(tmp_path / "run" / "final")
    assert isinstance(final, ParScaleForCausalLM) and final.config.parscale_n == 2


_BATCHES_AFTER_TORCH = """
import torch
from transformers import AutoTokenizer
from xling.organism import bundled_organism, load_organism_config
from xling.parscale.training import make_batches

if __name__ == "__main__":
    tokenizer = AutoTokenizer.from_pretrained(bundled_organism())
    corpus = load_organism_config("full")  # 256 examples a batch: large enough to hang
    x = torch.randn(2000, 2000)
    (x @ x).sum().item()  # the parent's torch threads are live before the workers start
    kw = dict(seq_len=128, loss_on="assistant")
    pooled = make_batches(corpus, tokenizer, range(2), workers=2, **kw)
    alone = make_batches(corpus, tokenizer, range(2), workers=1, **kw)
    same = all(torch.equal(a, b) for a, b in zip(pooled.input_ids, alone.input_ids))
    print("same" if same and len(pooled.input_ids) == 2 else "different")
"""


@pytest.mark.slow
def test_batch_workers_start_cleanly_after_torch_ran(tmp_path: Path) -> None:
    """Forked workers hung on their first torch call once the parent had run torch (the GPU
    heads run stalled there); workers now come from a clean process and match one worker."""
    import subprocess
    import sys

    script = tmp_path / "batches.py"
    script.write_text(_BATCHES_AFTER_TORCH)
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("same")
