"""A compact generation engine for Qwen2 / Qwen3 / Llama / Mistral HF models.

Plain PyTorch in the manner of gpt-fast and nano-vllm: the decoder computed from the HF
model's own tensors (model.py), a preallocated per-slot KV cache (cache.py) or a pool of
pages read through flex attention (paged.py, `EngineConfig(attention="paged")`), on-device
sampling with per-request counter-based seeds (sampling.py), continuous batching
(scheduler.py, engine.py), CUDA-graph decode steps (graphs.py) and, for larger models,
torch.compile'd element-wise kernels (compiling.py). `unsupported_reason(model)` says
whether a model can run on it; `Engine(model, eos_token_ids=...)` runs it.
"""

from xling.engine.engine import Engine, EngineConfig, EngineError
from xling.engine.model import SUPPORTED_MODEL_TYPES, UnsupportedModelError, unsupported_reason
from xling.engine.scheduler import Completion, SamplingParams

__all__ = [
    "SUPPORTED_MODEL_TYPES",
    "Completion",
    "Engine",
    "EngineConfig",
    "EngineError",
    "SamplingParams",
    "UnsupportedModelError",
    "unsupported_reason",
]
