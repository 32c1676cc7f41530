"""`openai`: any OpenAI-compatible chat-completions server (vLLM, SGLang, TGI, hosted APIs).

Requests run on a bounded thread pool (`concurrency` in flight at most), each retried with
exponential backoff on 408/409/429/5xx and connection errors. Servers that ignore `n > 1` get
follow-up requests until every prompt has `n` outputs. When the server cannot be reached the
call fails fast with one clear `ServerUnreachableError`, not a traceback per request.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

from xling.backends.base import GenerationParams, Output, Request
from xling.errors import XlingError


class ServerError(XlingError):
    """The OpenAI-compatible server failed a request (after retries, where retrying helps)."""


class ServerUnreachableError(ServerError):
    """Nothing answered at the base URL."""


class _Cancelled(Exception):
    """Another request of the same call failed; stop quietly."""


_STOP_REASONS = {"stop", "eos", "end_turn", "stop_sequence"}


def _finish_reason(raw: str | None) -> str | None:
    if raw is None:
        return None
    return "stop" if raw in _STOP_REASONS else raw


def _connection_reason(exc: BaseException) -> str:
    """A short human reason from an httpx/openai connection error chain."""
    texts: list[str] = []
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ConnectionRefusedError):
            return "connection refused"
        texts.append(str(cur))
        cur = cur.__cause__ or cur.__context__
    blob = " ".join(texts).lower()
    if "refused" in blob:
        return "connection refused"
    if (
        "name or service not known" in blob
        or "nodename nor servname" in blob
        or ("getaddrinfo" in blob)
    ):
        return "host name not found"
    if "reset" in blob:
        return "connection reset by peer"
    detail = next((t for t in reversed(texts) if t), "connection error")
    return detail


def _message_text(message: Any, include_reasoning: bool) -> str:
    content = message.content or ""
    if include_reasoning:
        # vLLM/SGLang reasoning parsers move the thinking out of `content`; put it back
        # where a chat template would have it so language and format checks see it.
        reasoning = getattr(message, "reasoning_content", None) or getattr(
            message, "reasoning", None
        )
        if isinstance(reasoning, str) and reasoning:
            return f"<think>\n{reasoning}\n</think>\n\n{content}"
    return content


class OpenAIBackend:
    """Chat completions against `base_url` for served model name `model`."""

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 32,
        max_retries: int = 5,
        timeout: float = 600.0,
        backoff_base: float = 0.5,
        backoff_max: float = 60.0,
        extra_body: Mapping[str, Any] | None = None,
        include_reasoning: bool = True,
    ) -> None:
        import openai

        if concurrency < 1:
            raise XlingError(f"concurrency must be at least 1, got {concurrency}")
        if max_retries < 0:
            raise XlingError(f"max_retries must be 0 or more, got {max_retries}")
        self.model = model
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.extra_body = dict(extra_body or {})
        self.include_reasoning = include_reasoning
        self.client = openai.OpenAI(
            base_url=base_url or os.environ.get("OPENAI_BASE_URL") or None,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
            timeout=timeout,
            max_retries=0,  # retries are ours: one policy, one clear error at the end
        )
        self.base_url = str(self.client.base_url).rstrip("/")
        self._rng = random.Random(0)

    # ------------------------------------------------------------------ generation

    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[list[Output]]:
        if params.n < 1:
            raise XlingError(f"n must be at least 1, got {params.n}")
        if not requests:
            return []
        cancel = threading.Event()
        results: list[list[Output]] = [[] for _ in requests]
        pool = ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(requests)), thread_name_prefix="xling-openai"
        )
        try:
            futures = {
                pool.submit(self._one, req.messages, params, cancel): i
                for i, req in enumerate(requests)
            }
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in done if f.exception() is not None]
            if failed:
                cancel.set()
                first = min(failed, key=lambda f: futures[f])
                raise first.exception()  # type: ignore[misc]
            for future, i in futures.items():
                results[i] = future.result()
        finally:
            cancel.set()
            pool.shutdown(wait=False, cancel_futures=True)
        return results

    def _one(
        self,
        messages: Sequence[Mapping[str, str]],
        params: GenerationParams,
        cancel: threading.Event,
    ) -> list[Output]:
        greedy = params.temperature <= 0
        wanted = 1 if greedy else params.n
        outputs: list[Output] = []
        round_no = 0
        while len(outputs) < wanted:
            if cancel.is_set():
                raise _Cancelled
            ask = wanted - len(outputs)
            # Follow-up rounds need a new seed, or a seeded server repeats the same samples.
            response = self._create(messages, params, ask, params.seed + round_no, cancel)
            choices = sorted(response.choices or [], key=lambda c: c.index)
            if not choices:
                raise ServerError(
                    f"the OpenAI-compatible server at {self.base_url} returned no choices"
                )
            usage = getattr(response, "usage", None)
            single = len(choices) == 1 and usage is not None
            for choice in choices[:ask]:
                outputs.append(
                    Output(
                        text=_message_text(choice.message, self.include_reasoning),
                        finish_reason=_finish_reason(choice.finish_reason),
                        n_tokens=usage.completion_tokens if single else None,
                    )
                )
            round_no += 1
        return outputs * params.n if greedy else outputs

    def _create(
        self,
        messages: Sequence[Mapping[str, str]],
        params: GenerationParams,
        n: int,
        seed: int,
        cancel: threading.Event,
    ) -> Any:
        import openai

        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if cancel.is_set():
                raise _Cancelled
            retry_after: float | None = None
            try:
                return self.client.chat.completions.create(
                    model=self.model,
                    messages=[dict(m) for m in messages],  # type: ignore[misc]
                    n=n,
                    temperature=max(params.temperature, 0.0),
                    top_p=params.top_p,
                    max_tokens=params.max_new_tokens,
                    seed=seed,
                    timeout=self.timeout,
                    extra_body=self.extra_body or None,
                    **({"stop": list(params.stop)} if params.stop else {}),
                )
            except openai.APIConnectionError as exc:  # includes APITimeoutError
                last = exc
            except openai.APIStatusError as exc:
                code = exc.status_code
                if code not in (408, 409, 429) and code < 500:
                    raise ServerError(
                        f"the OpenAI-compatible server at {self.base_url} rejected the request "
                        f"(HTTP {code}): {_status_detail(exc)}"
                    ) from None
                last = exc
                retry_after = _retry_after(exc)
            if attempt < self.max_retries:
                delay = min(self.backoff_max, self.backoff_base * (2**attempt))
                delay *= 0.5 + self._rng.random()  # jitter so retries do not arrive in lockstep
                if retry_after is not None:
                    delay = max(delay, min(retry_after, self.backoff_max))
                if cancel.wait(delay):
                    raise _Cancelled
        raise self._final_error(last)

    def _final_error(self, exc: Exception | None) -> ServerError:
        import openai

        attempts = self.max_retries + 1
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if isinstance(exc, openai.APITimeoutError):
            return ServerError(
                f"the OpenAI-compatible server at {self.base_url} did not answer within "
                f"{self.timeout:g}s ({tries}): timed out; raise the timeout or lower concurrency"
            )
        if isinstance(exc, openai.APIConnectionError):
            return ServerUnreachableError(
                f"cannot reach the OpenAI-compatible server at {self.base_url}: "
                f"{_connection_reason(exc)} (is it running? check --base-url)"
            )
        if isinstance(exc, openai.APIStatusError):
            return ServerError(
                f"the OpenAI-compatible server at {self.base_url} kept failing "
                f"(HTTP {exc.status_code}, {tries}): {_status_detail(exc)}"
            )
        return ServerError(f"the OpenAI-compatible server at {self.base_url} failed: {exc}")

    def close(self) -> None:
        self.client.close()


def _status_detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return str(getattr(exc, "message", exc))


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
