"""The model classes xling adds to transformers, and the one way to load a causal LM.

`models/parscale.py` is the ParScale wrapper (arXiv 2505.10475: P streams with learned
prefixes and a learned aggregator, over any Qwen2/Llama-style decoder). It sits below
everything that loads models (the backends, the trainers, the ParScale study): they call
`register()` or `load_causal_lm()`, so a ParScale checkpoint loads wherever a model path
is accepted, with no import of the study that trains one.

This package's __init__ stays light (no torch): the CLI imports what imports it at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xling.errors import XlingError

_DATA = Path(__file__).resolve().parents[1] / "data"
# Checkpoints shipped inside the package, by the name every command takes for a model.
BUNDLED_MODELS: dict[str, Path] = {"organism": _DATA / "organism"}


def resolve_model(name: str) -> str:
    """A bundled checkpoint's name ("organism") as its directory; any other name (a hub id,
    a path) unchanged. Without this `--model organism` would be asked of the model hub."""
    path = BUNDLED_MODELS.get(name)
    if path is None:
        return name
    if not (path / "model.safetensors").is_file():
        raise XlingError(
            f"the bundled {name} is missing at {path}; reinstall xling (or rebuild it: "
            "`xling organism pretrain --preset full --out DIR`, then pass DIR)"
        )
    return str(path)


def register() -> None:
    """Let `AutoConfig` / `AutoModelForCausalLM.from_pretrained` (and TRL, which loads by
    path) load ParScale checkpoints (model_type "xling_parscale"). Imports torch.

    The checkpoints also carry their modelling code (config.json's auto_map), for loading
    without xling; once registered, transformers prefers these classes over that copy, with
    or without trust_remote_code, so xling never runs code out of a checkpoint directory."""
    from xling.models.parscale import register_auto_classes

    register_auto_classes()


def load_causal_lm(path: str, **kwargs: Any) -> Any:
    """`AutoModelForCausalLM.from_pretrained(path, **kwargs)` with xling's classes known."""
    from transformers import AutoModelForCausalLM

    register()
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)
