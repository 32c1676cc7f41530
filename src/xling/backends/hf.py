"""`hf`: in-process generation with transformers, for any causal LM (local path or hub id).

Two generation paths behind one output contract (text, finish reason, token count; the same
outputs for the same seed):
- xling's engine (`xling.engine`: continuous batching, CUDA graphs) for the Qwen2, Qwen3,
  Llama and Mistral families on CUDA, without `generate`'s per-token overhead;
- transformers `generate` (batched, left-padded) for every other model, and on CPU.
`engine="auto"` picks as above and says which once; "on" and "off" force a path (the engine
runs on CPU too). The model's chat template is used when it has one. bf16 on CUDA, float32
on CPU.
"""

from __future__ import annotations

import gc
import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from xling.backends.base import GenerationParams, Output, Request
from xling.errors import XlingError
from xling.models import load_causal_lm

log = logging.getLogger(__name__)
ENGINE_MODES = ("auto", "on", "off")
_ANNOUNCED: set[str] = set()


def _announce(message: str, *, warn: bool) -> None:
    """Log which generation path is used, once per process and message."""
    if message not in _ANNOUNCED:
        _ANNOUNCED.add(message)
        log.log(logging.WARNING if warn else logging.INFO, message)


class ModelLoadError(XlingError):
    pass


def render_prompt(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> tuple[str, bool]:
    """Messages -> prompt text, and whether the chat template made it.

    With a chat template the text already holds any BOS the template wants, so encode it with
    `add_special_tokens=False`; plain concatenation (no template) should add them.
    """
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
        )
        return text, True
    return "\n\n".join(m["content"] for m in messages), False


def encode_prompts(
    tokenizer: Any, conversations: Sequence[Sequence[Mapping[str, str]]]
) -> list[list[int]]:
    """Token ids of each conversation's prompt. One batched tokenizer call: a fast tokenizer
    encodes a batch in parallel, several times quicker than prompt by prompt (on a GPU the
    per-prompt calls took longer than generating the organism's answers)."""
    if not conversations:
        return []
    rendered = [render_prompt(tokenizer, messages) for messages in conversations]
    texts = [text for text, _ in rendered]
    # Whether a chat template is used is a property of the tokenizer: the same for all.
    templated = rendered[0][1]
    return [list(ids) for ids in tokenizer(texts, add_special_tokens=not templated)["input_ids"]]


def encode_prompt(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> list[int]:
    return encode_prompts(tokenizer, [messages])[0]


def derive_seed(*parts: int) -> int:
    """A stable 63-bit seed from integers (the same parts always give the same seed)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def resolve_dtype(dtype: Any, device: str) -> Any:
    import torch

    if dtype is None or dtype == "auto":
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32"}
    resolved = getattr(torch, names.get(str(dtype), str(dtype)), None)
    if not isinstance(resolved, torch.dtype):
        raise XlingError(f"unknown dtype {dtype!r}; use auto, bfloat16, float16 or float32")
    return resolved


def _dtype_kwarg() -> str:
    """transformers renamed `torch_dtype` to `dtype` in 4.56."""
    import transformers
    from packaging.version import Version

    return "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"


class HFBackend:
    """At most `batch_size` sequences (prompts x n) generated at once, by xling's engine or
    by transformers `generate` (see the module docstring for `engine`)."""

    name = "hf"

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int = 8,
        engine: str = "auto",
        trust_remote_code: bool = False,
        revision: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoTokenizer, GenerationConfig

        if batch_size < 1:
            raise XlingError(f"batch_size must be at least 1, got {batch_size}")
        if engine not in ENGINE_MODES:
            raise XlingError(f"engine must be one of {', '.join(ENGINE_MODES)}, got {engine!r}")
        self.model_name = str(model)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = resolve_dtype(dtype, self.device)
        self.batch_size = batch_size
        load = {"trust_remote_code": trust_remote_code, "revision": revision}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_name, **load)
            self.model = load_causal_lm(self.model_name, **load, **{_dtype_kwarg(): self.dtype})
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"cannot load model {self.model_name!r} with transformers: {exc}"
            ) from exc
        self.model.to(self.device).eval()

        tok = self.tokenizer
        gen = self.model.generation_config
        eos: set[int] = set()
        for ids in (gen.eos_token_id, tok.eos_token_id):
            if ids is not None:
                eos.update([ids] if isinstance(ids, int) else ids)
        if not eos:
            raise ModelLoadError(f"model {self.model_name!r} defines no end-of-sequence token")
        self.eos_ids = frozenset(eos)
        if tok.pad_token_id is None:
            if tok.eos_token is not None:
                tok.pad_token = tok.eos_token
            else:
                tok.pad_token_id = min(self.eos_ids)
        self.pad_id = int(tok.pad_token_id)
        # Start from a clean generation config: only the special-token ids survive, so a
        # checkpoint's sampling defaults (top_k, repetition_penalty, ...) never leak into
        # results that `GenerationParams` alone should determine.
        self.model.generation_config = GenerationConfig(
            eos_token_id=sorted(self.eos_ids),
            pad_token_id=self.pad_id,
            bos_token_id=gen.bos_token_id,
        )
        self.engine = self._engine(engine)

    def _engine(self, mode: str) -> Any:
        """xling's engine over this model (sharing its weights), or None for `generate`."""
        if mode == "off":
            return None
        from xling.engine import Engine, EngineConfig, unsupported_reason

        reason = unsupported_reason(self.model)
        if reason is None and mode == "auto" and not self.device.startswith("cuda"):
            reason = "it runs on CUDA by default; --engine on forces it here"
        if reason is not None:
            if mode == "on":
                raise XlingError(
                    f"engine=on, but xling's engine cannot run {self.model_name}: {reason}"
                )
            _announce(
                f"hf backend: generating with transformers generate, not xling's engine ({reason})",
                warn=self.device.startswith("cuda"),
            )
            return None
        _announce(f"hf backend: generating with xling's engine on {self.device}", warn=False)
        return Engine(
            self.model,
            eos_token_ids=sorted(self.eos_ids),
            tokenizer=self.tokenizer,
            config=EngineConfig(max_batch_size=self.batch_size),
        )

    def context_overflow(
        self, requests: Sequence[Request], params: GenerationParams
    ) -> tuple[int, int, int] | None:
        """(index, prompt tokens, context length) of the first request whose prompt and
        `max_new_tokens` do not fit the model's context; None when all fit (or the model
        states no context). Past its context a model with learned positions fails and a
        rotary one degrades, and a giant prompt asks for terabytes of attention."""
        limit = getattr(self.model.config, "max_position_embeddings", None)
        if not isinstance(limit, int) or limit < 1:
            return None
        encoded = encode_prompts(self.tokenizer, [r.messages for r in requests])
        for index, ids in enumerate(encoded):
            if len(ids) + params.max_new_tokens > limit:
                return index, len(ids), limit
        return None

    # ------------------------------------------------------------------ generation

    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[list[Output]]:
        if self.model is None:
            raise XlingError("the hf backend is closed")
        if params.n < 1:
            raise XlingError(f"n must be at least 1, got {params.n}")
        if not requests:
            return []
        greedy = params.temperature <= 0
        encoded = encode_prompts(self.tokenizer, [r.messages for r in requests])
        if self.engine is not None:
            return self._generate_engine(encoded, params)
        # Longest first: similar lengths share a batch (less padding) and an out-of-memory
        # error shows up on the first batch rather than the last.
        order = sorted(range(len(encoded)), key=lambda i: (-len(encoded[i]), i))
        per_call = 1 if greedy else min(params.n, self.batch_size)
        prompts_per_batch = max(1, self.batch_size // per_call)

        results: list[list[Output]] = [[] for _ in requests]
        for batch_no, start in enumerate(range(0, len(order), prompts_per_batch)):
            idx = order[start : start + prompts_per_batch]
            wanted = 1 if greedy else params.n
            call_no = 0
            while wanted > 0:
                k = min(per_call, wanted)
                outs = self._generate_batch(
                    [encoded[i] for i in idx],
                    params,
                    k,
                    seed=derive_seed(params.seed, batch_no, call_no),
                )
                for j, i in enumerate(idx):
                    results[i].extend(outs[j * k : (j + 1) * k])
                wanted -= k
                call_no += 1
        if greedy:
            results = [r * params.n for r in results]
        return results

    def _generate_engine(
        self, prompts: list[list[int]], params: GenerationParams
    ) -> list[list[Output]]:
        """All prompts x samples through the engine at once; each sample has its own seed
        (prompt index, sample index), so it does not depend on what else is generated."""
        from xling.engine import SamplingParams

        greedy = params.temperature <= 0
        k = 1 if greedy else params.n
        settings = [
            SamplingParams(
                temperature=max(params.temperature, 0.0),
                top_p=1.0 if greedy else params.top_p,
                max_new_tokens=params.max_new_tokens,
                seed=derive_seed(params.seed, i, j),
                stop=params.stop,
            )
            for i in range(len(prompts))
            for j in range(k)
        ]
        done = self.engine.generate([p for p in prompts for _ in range(k)], settings)
        outputs = self._to_outputs([c.tokens for c in done], params)
        results = [outputs[i * k : (i + 1) * k] for i in range(len(prompts))]
        return [r * params.n for r in results] if greedy else results

    def _generate_batch(
        self, prompts: list[list[int]], params: GenerationParams, k: int, seed: int
    ) -> list[Output]:
        """Generate k samples for each prompt; rows come back grouped by prompt."""
        import torch
        from transformers import GenerationConfig

        width = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, ids in enumerate(prompts):
            if ids:
                input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
                attention[row, width - len(ids) :] = 1

        sampling = params.temperature > 0
        config = GenerationConfig(
            max_new_tokens=params.max_new_tokens,
            do_sample=sampling,
            num_return_sequences=k,
            eos_token_id=sorted(self.eos_ids),
            pad_token_id=self.pad_id,
            **(
                {"temperature": params.temperature, "top_p": params.top_p, "top_k": 0}
                if sampling
                else {}
            ),
        )
        if params.stop:  # ends rows early; `_to_outputs` finds where each one stopped
            config.stop_strings = list(params.stop)
        devices = [self.device] if self.device.startswith("cuda") else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(seed)
            out = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention.to(self.device),
                generation_config=config,
                tokenizer=self.tokenizer if params.stop else None,
            )
        new = out[:, width:].tolist()
        return self._to_outputs(new, params)

    def _to_outputs(self, rows: Sequence[list[int]], params: GenerationParams) -> list[Output]:
        """Generated token rows -> outputs: each cut at its first end-of-sequence token or
        stop string, then decoded in one batched call (parallel in a fast tokenizer)."""
        from xling.engine.scheduler import StopMatcher

        matcher = StopMatcher(self.tokenizer, params.stop) if params.stop else None
        cuts: list[tuple[list[int], int, str, str | None]] = []
        for tokens in rows:
            stop = next((i for i, t in enumerate(tokens) if t in self.eos_ids), None)
            if stop is None:
                body, n_tokens, reason = tokens, len(tokens), "length"
            else:
                body, n_tokens, reason = tokens[:stop], stop + 1, "stop"
            stop_string = None
            hit = matcher.find(body, 0) if matcher is not None else None
            if hit is not None:
                end, stop_string = hit
                body, n_tokens, reason = body[: end + 1], end + 1, "stop"
            cuts.append((body, n_tokens, reason, stop_string))
        texts = self.tokenizer.batch_decode(
            [body for body, *_ in cuts],
            skip_special_tokens=True,
            clean_up_tokenization_spaces=False,
        )
        outputs = []
        for text, (_, n_tokens, reason, stop_string) in zip(texts, cuts, strict=True):
            if stop_string is not None:
                text = text[: text.find(stop_string)]
            outputs.append(Output(text=text, finish_reason=reason, n_tokens=n_tokens))
        return outputs

    def close(self) -> None:
        if getattr(self, "model", None) is None:
            return
        self.model = self.engine = None
        release_accelerator_memory()


def release_accelerator_memory() -> None:
    """Give a dropped model's GPU memory back, so the next stage (training, scoring) has it."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass
