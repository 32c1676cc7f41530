"""Frozen config dataclasses: defaults < TOML file < command-line flags.

Every run writes its resolved config next to its results (`config.json`).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from xling.errors import XlingError

C = TypeVar("C")


@dataclass(frozen=True)
class EvalConfig:
    model: str = ""
    bench: str = "mgsm"  # a preset (`xling benchmarks`) or a loader kind: mgsm | jsonl | hf
    # A preset: empty = its default source, else a local copy in its --data layout.
    # A loader kind: folder, file, hub id or save_to_disk folder.
    data: str = ""
    bench_name: str | None = None  # name used in records; defaults to the preset / loader kind
    langs: str = "all"
    # Field flags override a preset's field map (or the loaders' "question"/"answer").
    question_field: str | None = None
    answer_field: str | None = None
    id_field: str | None = None
    lang_field: str | None = None
    choice_fields: str | None = None  # multiple choice: the other choices' fields, comma-separated
    answer_type: str | None = None  # number | latex | choice [default: the preset's, or number]
    split: str | None = None  # comma-separated splits [default: the preset's, or test]
    hf_config: str | None = None  # datasets config name; "{lang}" is replaced per language
    limit: int | None = None  # first N problems per language (same ids everywhere)
    skip_bad: bool = False
    backend: str = "hf"
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 1024
    seed: int = 0
    batch_size: int = 8
    system_prompt: str | None = None
    base_url: str = "http://127.0.0.1:8000/v1"  # openai backend
    concurrency: int = 16  # openai backend
    dtype: str = "auto"  # hf and vllm backends: auto | bfloat16 | float16 | float32
    engine: str = "auto"  # hf backend: xling's engine: auto (CUDA, supported models) | on | off
    tensor_parallel_size: int = 1  # vllm backend: GPUs one model is sharded over
    # vllm backend: share of GPU memory vLLM may take (on a CPU: of host memory);
    # None: 0.9 on a GPU, 0.3 on a CPU (where vLLM refuses 0.9 unless that much is free).
    gpu_memory_utilization: float | None = None
    max_model_len: int | None = None  # vllm backend: context length (prompt + output)
    vllm_options: dict[str, Any] = field(default_factory=dict)  # any other `vllm.LLM` argument
    score_workers: int = 2
    score_timeout: float = 5.0
    out: str = "runs/eval"

    def generation_identity(self) -> dict[str, Any]:
        """Fields that change what is generated: a resumed run must agree on all of them."""
        keys = ("model", "system_prompt", "n", "temperature", "top_p", "max_new_tokens", "seed")
        return {k: getattr(self, k) for k in keys}


def parse_key_values(items: Sequence[str], option: str) -> dict[str, Any]:
    """`key=value` strings as a dict; values in TOML syntax (`true`, `0.5`, `"x"`), and a
    value that is not TOML is kept as a plain string."""
    parsed: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise XlingError(f"{option} {item!r}: expected key=value")
        try:
            parsed[key.strip()] = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            parsed[key.strip()] = raw.strip()
    return parsed


def config_fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(cls)}


def read_toml(path: Path, what: str = "config file") -> dict[str, Any]:
    """A TOML file's top-level table, with clear errors for a missing or malformed file."""
    if not path.is_file():
        raise XlingError(f"{what} not found: {path}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise XlingError(f"{path}: invalid TOML ({exc})") from None


def flat_toml(values: dict[str, Any]) -> str:
    """A flat table of scalars and lists as TOML; None (TOML has no null) is left out.

    Written by hand because the standard library reads TOML but cannot write it, and a
    config of plain values needs no writer dependency: JSON's strings, numbers, booleans
    and arrays are valid TOML values.
    """
    lines = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, str | int | float | bool | list):
            raise XlingError(f"{key}: {type(value).__name__} has no TOML form here")
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def reject_unknown(data: dict[str, Any], cls: type, source: Path, noun: str = "option") -> None:
    """Name the keys of `data` that are not fields of `cls` (a typo, an old option)."""
    known = config_fields(cls)
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise XlingError(
            f"{source}: unknown {noun}(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )


def read_config_file(cls: type, path: Path) -> dict[str, Any]:
    """The options a TOML file sets for config class `cls`, checked against its fields."""
    data = read_toml(path)
    reject_unknown(data, cls, path)
    return data


def load_config(cls: type[C], toml_path: Path | None = None, **overrides: Any) -> C:
    """Build `cls` from defaults, then a TOML file, then non-None overrides."""
    values = read_config_file(cls, toml_path) if toml_path is not None else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return cls(**values)


def to_json_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
