"""The model classes xling adds to transformers, and the one way to load a causal LM.

`models/parscale.py` is the ParScale wrapper (arXiv 2505.10475: P streams with learned
prefixes and a learned aggregator, over any Qwen2/Llama-style decoder). It sits below
everything that loads models (the backends, the trainers, the ParScale study): they call
`register()` or `load_causal_lm()`, so a ParScale checkpoint loads wherever a model path
is accepted, with no import of the study that trains one.

This package's __init__ stays light (no torch): the CLI imports what imports it at start-up.
"""

from __future__ import annotations

from typing import Any


def register() -> None:
    """Let `AutoConfig` / `AutoModelForCausalLM.from_pretrained` (and TRL, which loads by
    path) load ParScale checkpoints (model_type "xling_parscale"). Imports torch."""
    from xling.models.parscale import register_auto_classes

    register_auto_classes()


def load_causal_lm(path: str, **kwargs: Any) -> Any:
    """`AutoModelForCausalLM.from_pretrained(path, **kwargs)` with xling's classes known."""
    from transformers import AutoModelForCausalLM

    register()
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)
