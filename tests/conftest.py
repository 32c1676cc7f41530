"""Shared test helpers."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def shared_data(name: str) -> Path:
    """Path of shared/data/<name> beside the repository checkout; skips the test when the
    shared data is not there (e.g. a clone without shared/)."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / name
    if not path.exists():
        pytest.skip(f"shared data {name!r} not found at {path}")
    return path


def bench_module(name: str) -> ModuleType:
    """The script bench/<name>.py as a module, for tests of its functions."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2 model + trained tokenizer (xling.testing), built once per session."""
    from xling.testing.tinymodel import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), seed=0)


@pytest.fixture(scope="session")
def train_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A parallel training set (en + es, the same 4 synthetic problems in each), built once
    per session: what `xling data parallel` writes."""
    from xling.benchmarks import BenchmarkSpec, FieldMap
    from xling.train.data import build_parallel_from_spec, write_parallel
    from xling.world import build_benchmark

    root = tmp_path_factory.mktemp("train-data")
    build_benchmark(root / "synth", n_train=6, n_test=1, seed=0, langs=("en", "es"))
    spec = BenchmarkSpec(
        "jsonl", str(root / "synth" / "train"), name="synth", fields=FieldMap(id="id")
    )
    path = root / "train.jsonl"
    write_parallel(build_parallel_from_spec(spec, "en,es", 4, seed=0), path)
    return path


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep `load_dataset` caches inside the test's tmp folder."""
    datasets = pytest.importorskip("datasets")
    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    return cache


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny models gain nothing from a second intra-op thread, and on a busy 2-core runner
    OpenMP threads spin-waiting for a core slow them down many times."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
