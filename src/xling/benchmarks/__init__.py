"""Benchmarks: named presets (`registry`, one TOML file each in `presets/`) over the loader
kinds that read the sources (`loaders`: mgsm folder, jsonl, hf datasets, synthetic)."""

from xling.benchmarks.loaders import (
    DEFAULT_LANG,
    LOADERS,
    BenchmarkSpec,
    FieldMap,
    Loader,
    LoadReport,
    RawRow,
    load_problems,
)
from xling.benchmarks.registry import (
    BenchmarkSource,
    Preset,
    Source,
    bench_help,
    benchmark_specs,
    eval_defaults,
    get_preset,
    load_benchmark,
    presets,
)

__all__ = [
    "DEFAULT_LANG",
    "LOADERS",
    "BenchmarkSource",
    "BenchmarkSpec",
    "FieldMap",
    "LoadReport",
    "Loader",
    "Preset",
    "RawRow",
    "Source",
    "bench_help",
    "benchmark_specs",
    "eval_defaults",
    "get_preset",
    "load_benchmark",
    "load_problems",
    "presets",
]
