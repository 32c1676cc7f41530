"""`hf`: in-process generation with transformers, for any causal LM (local path or hub id).

Two generation paths behind one output contract (text, finish reason, token count; the same
outputs for the same seed):
- xling's engine (`xling.engine`: continuous batching, CUDA graphs) for the Qwen2, Qwen3,
  Llama and Mistral families on CUDA, without `generate`'s per-token overhead;
- transformers `generate` (batched, left-padded) for every other model, and on CPU.
`engine="auto"` picks as above and says which once; "on" and "off" force a path (the engine
runs on CPU too). The model's chat template is used when it has one. bf16 on CUDA, float32
on CPU.

Each sample has a random stream of its own, seeded by (seed, the request's `seed_key` or
index, the sample's index), on both paths: a sample does not depend on the batch size, the
order of the requests or what else is generated with it.
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


def render_prompt(
    tokenizer: Any,
    messages: Sequence[Mapping[str, str]],
    template_kwargs: Mapping[str, Any] | None = None,
) -> tuple[str, bool]:
    """Messages -> prompt text, and whether the chat template made it. `template_kwargs` go
    to the template (`enable_thinking=False` for Qwen3, say).

    With a chat template the text already holds any BOS the template wants, so encode it with
    `add_special_tokens=False`; plain concatenation (no template) should add them.
    """
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [dict(m) for m in messages],
            tokenize=False,
            add_generation_prompt=True,
            **dict(template_kwargs or {}),
        )
        return text, True
    if template_kwargs:
        # Dropping them silently would evaluate another prompt than the one asked for.
        raise XlingError(
            f"chat_template_kwargs ({', '.join(template_kwargs)}) given, but the tokenizer "
            "has no chat template to pass them to"
        )
    return "\n\n".join(m["content"] for m in messages), False


def encode_prompts(
    tokenizer: Any,
    conversations: Sequence[Sequence[Mapping[str, str]]],
    template_kwargs: Mapping[str, Any] | None = None,
) -> list[list[int]]:
    """Token ids of each conversation's prompt. One batched tokenizer call: a fast tokenizer
    encodes a batch in parallel, several times quicker than prompt by prompt (on a GPU the
    per-prompt calls took longer than generating the organism's answers)."""
    if not conversations:
        return []
    rendered = [render_prompt(tokenizer, messages, template_kwargs) for messages in conversations]
    texts = [text for text, _ in rendered]
    # Whether a chat template is used is a property of the tokenizer: the same for all.
    templated = rendered[0][1]
    return [list(ids) for ids in tokenizer(texts, add_special_tokens=not templated)["input_ids"]]


def encode_prompt(
    tokenizer: Any,
    messages: Sequence[Mapping[str, str]],
    template_kwargs: Mapping[str, Any] | None = None,
) -> list[int]:
    return encode_prompts(tokenizer, [messages], template_kwargs)[0]


def derive_seed(*parts: int | str) -> int:
    """A stable 63-bit seed from integers and names (the same parts always give the same
    seed, in every process and run, unlike Python's salted `hash`)."""
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
        model: Any,
        *,
        tokenizer: Any = None,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int = 8,
        engine: str = "auto",
        trust_remote_code: bool = False,
        revision: str | None = None,
        chat_template_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        """`model`: a hub id or path to load, or a transformers model already in memory (a
        policy mid-training), used where it is and given back as it was on `close`."""
        import torch
        from transformers import AutoTokenizer, GenerationConfig

        if batch_size < 1:
            raise XlingError(f"batch_size must be at least 1, got {batch_size}")
        if engine not in ENGINE_MODES:
            raise XlingError(f"engine must be one of {', '.join(ENGINE_MODES)}, got {engine!r}")
        self.batch_size = batch_size
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self._given: tuple[Any, bool] | None = None  # a caller's model: (its config, training)
        if isinstance(model, str):
            self.model_name = model
            self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            self.dtype = resolve_dtype(dtype, self.device)
            load = {"trust_remote_code": trust_remote_code, "revision": revision}
            try:
                self.tokenizer = AutoTokenizer.from_pretrained(self.model_name, **load)
                self.model = load_causal_lm(self.model_name, **load, **{_dtype_kwarg(): self.dtype})
            except (OSError, ValueError) as exc:
                raise ModelLoadError(
                    f"cannot load model {self.model_name!r} with transformers: {exc}"
                ) from exc
            self.model.to(self.device).eval()
        else:
            if not (isinstance(model, torch.nn.Module) and hasattr(model, "generate")):
                raise XlingError(
                    f"the hf backend takes a model name or a transformers model, not "
                    f"{type(model).__name__}"
                )
            self.model = model
            self.model_name = str(getattr(model, "name_or_path", "") or type(model).__name__)
            self.device = str(next(model.parameters()).device)
            self.dtype = next(model.parameters()).dtype
            self._given = (model.generation_config, model.training)
            if tokenizer is None:
                try:
                    tokenizer = AutoTokenizer.from_pretrained(self.model_name)
                except (OSError, ValueError) as exc:
                    raise ModelLoadError(
                        f"pass the tokenizer of the model in memory ({self.model_name!r} "
                        f"names none that loads: {exc})"
                    ) from exc
            self.tokenizer = tokenizer
            model.eval()

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
        encoded = self._encode(requests)
        for index, ids in enumerate(encoded):
            if len(ids) + params.max_new_tokens > limit:
                return index, len(ids), limit
        return None

    # ------------------------------------------------------------------ generation

    def _encode(self, requests: Sequence[Request]) -> list[list[int]]:
        return encode_prompts(
            self.tokenizer, [r.messages for r in requests], self.chat_template_kwargs
        )

    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[list[Output]]:
        if self.model is None:
            raise XlingError("the hf backend is closed")
        if params.n < 1:
            raise XlingError(f"n must be at least 1, got {params.n}")
        if not requests:
            return []
        greedy = params.temperature <= 0
        k = 1 if greedy else params.n
        encoded = self._encode(requests)
        seeds = [
            [derive_seed(params.seed, i if r.seed_key is None else r.seed_key, j) for j in range(k)]
            for i, r in enumerate(requests)
        ]
        if self.engine is not None:
            results = self._generate_engine(encoded, seeds, params)
        else:
            results = self._generate_rows(encoded, seeds, params)
        return [r * params.n for r in results] if greedy else results

    def _generate_engine(
        self, prompts: list[list[int]], seeds: list[list[int]], params: GenerationParams
    ) -> list[list[Output]]:
        """All prompts x samples through the engine at once, each sample with its seed."""
        from xling.engine import SamplingParams

        greedy = params.temperature <= 0
        settings = [
            SamplingParams(
                temperature=max(params.temperature, 0.0),
                top_p=1.0 if greedy else params.top_p,
                max_new_tokens=params.max_new_tokens,
                seed=seed,
                stop=params.stop,
            )
            for row in seeds
            for seed in row
        ]
        done = self.engine.generate(
            [p for p, row in zip(prompts, seeds, strict=True) for _ in row], settings
        )
        outputs = self._to_outputs([c.tokens for c in done], params)
        k = len(seeds[0])
        return [outputs[i * k : (i + 1) * k] for i in range(len(prompts))]

    def _generate_rows(
        self, prompts: list[list[int]], seeds: list[list[int]], params: GenerationParams
    ) -> list[list[Output]]:
        """Every (prompt, sample) row through `generate`, `batch_size` rows at a time."""
        greedy = params.temperature <= 0
        # Longest first: similar lengths share a batch (less padding) and an out-of-memory
        # error shows up on the first batch rather than the last.
        rows = sorted(
            ((i, j) for i, row in enumerate(seeds) for j in range(len(row))),
            key=lambda r: (-len(prompts[r[0]]), r),
        )
        results: list[list[Output]] = [[] for _ in prompts]
        for start in range(0, len(rows), self.batch_size):
            batch = rows[start : start + self.batch_size]
            outs = self._generate_batch(
                [prompts[i] for i, _ in batch],
                params,
                None if greedy else [seeds[i][j] for i, j in batch],
            )
            for (i, _), out in zip(batch, outs, strict=True):
                results[i].append(out)  # a prompt's samples are sorted in order of j
        return results

    def _generate_batch(
        self, prompts: list[list[int]], params: GenerationParams, seeds: list[int] | None
    ) -> list[Output]:
        """One output per row of `prompts`: greedy when `seeds` is None, else each row
        sampled with its own seed."""
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        width = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, ids in enumerate(prompts):
            if ids:
                input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
                attention[row, width - len(ids) :] = 1

        # Sampling happens in the logits processor; `generate` only takes its argmax.
        config = GenerationConfig(
            max_new_tokens=params.max_new_tokens,
            do_sample=False,
            eos_token_id=sorted(self.eos_ids),
            pad_token_id=self.pad_id,
        )
        if params.stop:  # ends rows early; `_to_outputs` finds where each one stopped
            config.stop_strings = list(params.stop)
        processors = None
        if seeds is not None:
            processors = LogitsProcessorList(
                [RowSampler(seeds, params.temperature, params.top_p, width, self.device)]
            )
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention.to(self.device),
                generation_config=config,
                logits_processor=processors,
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
        if self._given is not None:  # the caller's model, as it came
            config, training = self._given
            self.model.generation_config = config
            self.model.train(training)
        self.model = self.engine = None
        release_accelerator_memory()


class RowSampler:
    """A `generate` logits processor that draws each row's next token from the row's own
    random stream and leaves only that token possible, so that greedy search takes it.

    `generate`'s own sampling draws a whole batch from one torch generator, which makes a
    row's sample depend on the rows beside it (so on the batch size). Here a row's n-th
    token is a function of its seed, n and its logits alone: the engine's counter-based
    draw (`xling.engine.sampling`), so both paths draw the same tokens for one seed. Rows
    that already finished are sampled too; `generate` replaces their tokens by padding.
    """

    def __init__(
        self, seeds: Sequence[int], temperature: float, top_p: float, prompt_width: int, device: str
    ) -> None:
        import torch

        from xling.engine.sampling import draw_for, sampling_mode, seed_key

        rows = len(seeds)
        self.keys = torch.tensor([seed_key(s) for s in seeds], dtype=torch.long, device=device)
        self.temperature = torch.full((rows,), float(temperature), device=device)
        self.top_p = torch.full((rows,), float(top_p), device=device)
        self.prompt_width = prompt_width
        self.mode = sampling_mode([(temperature, top_p)])
        self.draw = draw_for(torch.device(device))

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        from xling.engine.sampling import sample

        # Tokens drawn so far: the engine's counter (left padding gives all rows one width).
        counters = torch.full_like(self.keys, input_ids.shape[1] - self.prompt_width)
        token = sample(
            scores,
            self.temperature,
            self.top_p,
            self.keys,
            counters,
            mode=self.mode,
            draw=self.draw,
        )
        return torch.full_like(scores, float("-inf")).scatter_(1, token[:, None], 0.0)


def release_accelerator_memory() -> None:
    """Give a dropped model's GPU memory back, so the next stage (training, scoring) has it."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass
