"""A backend around a plain Python function, for models no other backend reaches (an API
client, a model mid-experiment in a notebook): `fn(messages) -> text`, where `messages` is
the request's chat messages ([{"role": ..., "content": ...}]). It may also return a list of
`n` texts when it samples several at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from xling.backends.base import GenerationParams, Output, Request
from xling.errors import XlingError


class FunctionBackend:
    name = "function"

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise XlingError(f"a function backend needs a callable, not {type(fn).__name__}")
        self.fn = fn
        self.model_name = getattr(fn, "__qualname__", type(fn).__name__)

    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[list[Output]]:
        results = []
        for request in requests:
            messages = [dict(m) for m in request.messages]
            reply = self.fn(messages)
            texts = reply if isinstance(reply, list) else None
            if texts is None:
                # One text per call: greedy needs one, sampling asks n times.
                calls = 1 if params.temperature <= 0 else params.n
                texts = [reply, *(self.fn(messages) for _ in range(calls - 1))]
                texts = texts * (params.n // len(texts))
            if len(texts) != params.n or not all(isinstance(t, str) for t in texts):
                raise XlingError(
                    f"{self.model_name} must return a string (or a list of {params.n}), got "
                    f"{type(reply).__name__}"
                )
            results.append([Output(text=t) for t in texts])
        return results

    def close(self) -> None:
        pass
