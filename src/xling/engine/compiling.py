"""The decoder's element-wise stretches fused by torch.compile, eager where it cannot run.

A CUDA graph removes the launch gaps between a decode step's kernels but not the kernels: in
plain PyTorch one layer is ~40 of them (RMSNorm alone is seven element-wise passes), and for
a small model at any batch size a step costs about as many microseconds as it has kernels.
Compiling the few element-wise functions of `model.Kernels` (norms, residual adds, rotary,
SiLU gating) makes each one kernel, leaving the matrix products and attention to torch's
own kernels; the engine compiles its sampler the same way, and graphs.py captures the
result like any other step. Only these small functions are compiled, not the whole step:
their guards are tensor shapes alone, one dynamic-shape compilation serves every batch and
length, and a process compiles in tens of seconds rather than minutes. Each is compiled
the first time it is called, so a path that never calls one (the dense cache and
`rotate_store`) never compiles it.

The compiler needs a Triton (CUDA) toolchain that not every machine has; a compilation
failure is reported once and that function runs eagerly from then on.
"""

from __future__ import annotations

import dataclasses
import logging
import types
from collections.abc import Callable
from typing import Any

import torch

from xling.engine.model import EAGER_KERNELS, Kernels

log = logging.getLogger(__name__)


def compiler_available(device: torch.device) -> bool:
    """Whether Inductor can generate kernels for `device` (Triton for CUDA)."""
    if device.type != "cuda":
        return False
    try:
        from torch.utils._triton import has_triton
    except ImportError:  # layout of older torch releases
        return False
    return bool(has_triton())


def _own_code(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with a code object of its own. Dynamo keeps compiled variants, and counts them
    against torch's limit of 8, per code object: without a copy every engine in a process
    (several models, dtypes) would share one budget and the later ones would run eagerly."""
    copy = types.FunctionType(
        fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy


class MaybeCompiled:
    """Calls `fn` compiled (no graph breaks; dynamic shapes unless `dynamic=False`) or, once
    compiling has failed, eagerly (`eager`, when given, in place of `fn`: for a function
    whose eager run needs something else). Failures are compile-time (tracing, code
    generation, too many variants), before any kernel runs, so the eager retry sees exactly
    the inputs the compiled call was given."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        enabled: bool,
        name: str,
        dynamic: bool = True,
        eager: Callable[..., Any] | None = None,
    ) -> None:
        self.fn = fn
        self.eager = eager or fn
        self.name = name
        self.compiled = (
            torch.compile(_own_code(fn), dynamic=dynamic, fullgraph=True) if enabled else None
        )

    @property
    def active(self) -> bool:
        return self.compiled is not None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except (
                torch._dynamo.exc.TorchDynamoException,
                torch._dynamo.exc.FailOnRecompileLimitHit,
            ) as exc:
                log.warning(
                    "xling engine: torch.compile failed for the %s (%s); running it eagerly",
                    self.name,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                )
                self.compiled = None
        return self.eager(*args, **kwargs)


def compiled_kernels() -> Kernels:
    return Kernels(
        **{
            field.name: MaybeCompiled(
                getattr(EAGER_KERNELS, field.name), enabled=True, name=field.name
            )
            for field in dataclasses.fields(Kernels)
        }
    )
