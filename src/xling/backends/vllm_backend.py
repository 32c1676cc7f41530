"""`vllm`: in-process generation with `vllm.LLM` (install with `pip install 'xling[vllm]'`).

Prompts are rendered with the model's chat template exactly as the `hf` backend renders them
(`chat_template_kwargs` included) and passed as token ids, so both backends see the same
prompt tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xling.backends.base import GenerationParams, Output, Request
from xling.backends.hf import derive_seed, encode_prompts, release_accelerator_memory
from xling.errors import XlingError


class VLLMNotInstalledError(XlingError):
    pass


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise VLLMNotInstalledError(
            f"vllm is not installed: pip install 'xling[vllm]' ({exc})"
        ) from None
    return vllm


def default_memory_share() -> float:
    """vLLM's own 0.9 on a GPU. On a CPU vLLM reads it as a share of host memory, where 0.9
    leaves the rest of the process (and machine) too little and start-up fails."""
    import torch

    return 0.9 if torch.cuda.is_available() else 0.3


class VLLMBackend:
    name = "vllm"

    def __init__(
        self,
        model: Any,
        *,
        dtype: str = "auto",
        seed: int = 0,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float | None = None,
        max_model_len: int | None = None,
        enforce_eager: bool = False,
        trust_remote_code: bool = False,
        revision: str | None = None,
        chat_template_kwargs: Mapping[str, Any] | None = None,
        engine_options: Mapping[str, Any] | None = None,
    ) -> None:
        vllm = _import_vllm()
        self._vllm = vllm
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self._owned = isinstance(model, str)
        if not self._owned:  # a `vllm.LLM` the caller built: used as it is, never torn down
            if not isinstance(model, vllm.LLM):
                raise XlingError(
                    f"the vllm backend takes a model name or a vllm.LLM, not {type(model).__name__}"
                )
            self.llm = model
            config = getattr(getattr(model, "llm_engine", None), "model_config", None)
            self.model_name = str(getattr(config, "model", None) or "vllm.LLM")
            self.tokenizer = model.get_tokenizer()
            return
        self.model_name = str(model)
        if gpu_memory_utilization is None:
            gpu_memory_utilization = default_memory_share()
        options: dict[str, Any] = {
            "model": self.model_name,
            "dtype": dtype,
            "seed": seed,
            "tensor_parallel_size": tensor_parallel_size,
            "gpu_memory_utilization": gpu_memory_utilization,
            "enforce_eager": enforce_eager,
            "trust_remote_code": trust_remote_code,
        }
        if max_model_len is not None:
            options["max_model_len"] = max_model_len
        if revision is not None:  # vLLM takes the tokenizer at the same revision
            options["revision"] = revision
        options.update(engine_options or {})
        self.llm: Any = vllm.LLM(**options)
        self.tokenizer = self.llm.get_tokenizer()

    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[list[Output]]:
        if self.llm is None:
            raise XlingError("the vllm backend is closed")
        if params.n < 1:
            raise XlingError(f"n must be at least 1, got {params.n}")
        if not requests:
            return []
        greedy = params.temperature <= 0
        k = 1 if greedy else params.n
        conversations = [r.messages for r in requests]
        prompts = [
            {"prompt_token_ids": ids}
            for ids in encode_prompts(self.tokenizer, conversations, self.chat_template_kwargs)
        ]
        # One seed per prompt, from its key (as the hf backend's), so prompts do not share a
        # random stream and a prompt's samples do not depend on the batch it is sent in.
        sampling = [
            self._vllm.SamplingParams(
                n=k,
                temperature=max(params.temperature, 0.0),
                top_p=params.top_p if not greedy else 1.0,
                max_tokens=params.max_new_tokens,
                seed=derive_seed(params.seed, i if r.seed_key is None else r.seed_key) & 0x7FFFFFFF,
                stop=list(params.stop) or None,
            )
            for i, r in enumerate(requests)
        ]
        results = self.llm.generate(prompts, sampling, use_tqdm=False)
        outputs: list[list[Output]] = []
        for result in results:
            samples = [
                Output(
                    text=c.text,
                    finish_reason=c.finish_reason
                    if c.finish_reason in ("stop", "length")
                    else (None if c.finish_reason is None else str(c.finish_reason)),
                    n_tokens=len(c.token_ids),
                )
                for c in sorted(result.outputs, key=lambda c: c.index)
            ]
            outputs.append(samples * params.n if greedy else samples)
        if len(outputs) != len(requests) or any(len(o) != params.n for o in outputs):
            raise XlingError("vllm returned a different number of outputs than requested")
        return outputs

    def close(self) -> None:
        if getattr(self, "llm", None) is None:
            return
        self.llm = None
        if self._owned:
            release_accelerator_memory()
