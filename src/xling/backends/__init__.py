"""Generation backends behind one interface (`xling.backends.base.Backend`).

`get_backend("hf" | "openai" | "vllm", model, **options)` builds one. Heavy dependencies
(torch, transformers, openai, vllm) are imported only when their backend is asked for.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from xling.backends.base import Backend, GenerationParams, Output, Request
from xling.errors import XlingError
from xling.models import resolve_model

__all__ = [
    "BACKENDS",
    "Backend",
    "GenerationParams",
    "Output",
    "Request",
    "UnknownBackendError",
    "backend_for_object",
    "get_backend",
]


class UnknownBackendError(XlingError):
    pass


# name -> "module:Class"; the module is imported on first use.
BACKENDS: dict[str, str] = {
    "hf": "xling.backends.hf:HFBackend",
    "openai": "xling.backends.openai_compat:OpenAIBackend",
    "vllm": "xling.backends.vllm_backend:VLLMBackend",
}


def _load(spec: str) -> Callable[..., Backend]:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def _check_options(name: str, factory: Callable[..., Any], options: dict[str, Any]) -> None:
    """Unknown options become a clear error, not a TypeError from deep inside a constructor."""
    params = inspect.signature(factory).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [
        n
        for n, p in params.items()
        if n not in ("self", "model")
        and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise XlingError(
            f"backend {name!r} does not accept option(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(accepted)}"
        )


def get_backend(name: str, model: str, **options: Any) -> Backend:
    """Build backend `name` for `model` (a path, hub id or served model name)."""
    key = name.strip().lower()
    if key not in BACKENDS:
        raise UnknownBackendError(
            f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}"
        )
    factory = _load(BACKENDS[key])
    _check_options(key, factory, options)
    # A served model's name is the server's business; a local backend loads bundled names.
    return factory(model if key == "openai" else resolve_model(model), **options)


def backend_for_object(model: Any, *, tokenizer: Any = None, **options: Any) -> Backend:
    """A backend around a model already in memory: a transformers model (hf backend; pass
    its tokenizer), a `vllm.LLM` (vllm backend) or a function `messages -> text`."""
    module = type(model).__module__
    if module.startswith("vllm"):
        from xling.backends.vllm_backend import VLLMBackend

        keep = {"chat_template_kwargs"}
        return VLLMBackend(model, **{k: v for k, v in options.items() if k in keep})
    if hasattr(model, "generate") and hasattr(model, "parameters"):
        from xling.backends.hf import HFBackend

        keep = {"batch_size", "engine", "chat_template_kwargs"}
        hf_options = {k: v for k, v in options.items() if k in keep}
        return HFBackend(model, tokenizer=tokenizer, **hf_options)
    if callable(model):
        from xling.backends.function import FunctionBackend

        return FunctionBackend(model)
    raise XlingError(
        "model must be a hub id or path, a transformers model, a vllm.LLM or a function "
        f"messages -> text; got {type(model).__name__}"
    )
