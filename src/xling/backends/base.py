"""The one interface every generation backend implements: `generate(requests, params)`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class GenerationParams:
    temperature: float = 0.0  # 0 means greedy decoding
    top_p: float = 1.0
    max_new_tokens: int = 1024
    n: int = 1  # samples per prompt
    seed: int = 0
    # Generation ends after the token that completes one of these; the text is cut before it.
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Request:
    """One prompt as chat messages ({"role": ..., "content": ...}); backends apply templates."""

    messages: tuple[dict[str, str], ...]
    # What seeds this request's samples (with the params' seed and the sample index) in
    # backends that seed per request: a name that stays the same from run to run (an
    # evaluation uses its problem's), so a sample never depends on the batch, chunk or
    # process it is generated in. None: the request's index in the call.
    seed_key: str | None = None


@dataclass(frozen=True)
class Output:
    text: str
    finish_reason: str | None = None  # "stop" | "length" | None when unknown
    n_tokens: int | None = None


class Backend(Protocol):
    name: str

    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[list[Output]]:
        """Return, for each request in order, exactly `params.n` outputs."""
        ...

    def close(self) -> None:
        """Release models, pools and connections."""
        ...


# A backend that knows its model's context length may also define
#     context_overflow(requests, params) -> (index, prompt tokens, context) | None
# (see HFBackend): the first request that cannot fit, so an evaluation refuses it before
# generating anything. Servers (openai, vLLM) check prompts against their context themselves.
