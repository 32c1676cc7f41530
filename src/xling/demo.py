"""`xling demo`: an offline evaluation of the bundled tiny model on the synthetic benchmark.

It needs nothing but the installed package: the benchmark is generated from a seed and the
model is built locally, so a fresh machine without any hub access runs it end to end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from xling.config import EvalConfig
from xling.evaluate import run_eval
from xling.synthetic import build_benchmark
from xling.tinymodel import ensure_tiny_model

SYNTH_NAME = "synth"


def synthetic_benchmark(folder: Path, *, n_test: int, n_train: int = 0, seed: int = 0) -> Path:
    """Write (once) the synthetic parallel benchmark; returns the test split's folder."""
    test_dir = folder / "test"
    if not test_dir.exists():
        build_benchmark(folder, n_train=n_train, n_test=n_test, seed=seed)
    return test_dir


def run_demo(
    out: Path, *, n_test: int = 5, max_new_tokens: int = 48, console: Console | None = None
) -> dict[str, Any]:
    console = console or Console()
    data = synthetic_benchmark(out / "bench", n_test=n_test)
    model = ensure_tiny_model(out / "models")
    cfg = EvalConfig(
        model=str(model),
        bench="jsonl",
        data=str(data),
        bench_name=SYNTH_NAME,
        id_field="id",
        langs="all",
        max_new_tokens=max_new_tokens,
        batch_size=8,
        out=str(out / "eval-base"),
    )
    return run_eval(cfg, console)
