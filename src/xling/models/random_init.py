"""A random-weight model folder of a real model's shape, with no download.

`write_random_model(out, "qwen2.5-1.5b")` writes what a hub checkpoint holds - config.json,
bf16 safetensors, generation_config.json, a tokenizer with its chat template - for a Qwen2
causal LM of that shape (models/shapes.py) with freshly initialized weights. The folder
loads through `AutoModelForCausalLM.from_pretrained` / `AutoTokenizer.from_pretrained` and
is a model like any other to `xling eval`, `xling train grpo` and `xling study run`, so the
cost of a real-size run (memory, step time, tokens/s) can be measured where no checkpoint
can be fetched.

The tokenizer is the organism's, widened to the shape's vocabulary (models/wide_tokenizer.py),
with the organism's chat format: xling's prompts render as they do for the organism, and the
format reward applies its rules unchanged. Random weights put about 1/vocab of the
probability on each token, the end-of-turn token included, so completions almost always run
to the length limit: a run on such a model measures the cost of its longest traces.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xling.chat import ENDOFTEXT, IM_END
from xling.models.shapes import named_shape, parameter_count

# Written beside the weights: what made the folder.
RANDOM_MODEL_JSON = "random_model.json"
# Qwen2.5's context and rotary base, so attention over long traces is what it is there.
MAX_POSITION_EMBEDDINGS = 32768
ROPE_THETA = 1_000_000.0


def qwen2_config(shape: Mapping[str, int | bool], **special_ids: int | None) -> Any:
    """A Qwen2Config of `shape` with Qwen2.5's context, rotary base and norm epsilon, and
    the given bos/eos/pad token ids."""
    from transformers import Qwen2Config

    return Qwen2Config(
        **shape,
        max_position_embeddings=MAX_POSITION_EMBEDDINGS,
        rope_theta=ROPE_THETA,
        rms_norm_eps=1e-6,
        use_sliding_window=False,
        **special_ids,
    )


def random_qwen2_config(shape: Mapping[str, int | bool], tokenizer: Any) -> Any:
    """A Qwen2Config of `shape` whose special ids are the tokenizer's (ChatML's)."""
    endoftext = tokenizer.convert_tokens_to_ids(ENDOFTEXT)
    im_end = tokenizer.convert_tokens_to_ids(IM_END)
    return qwen2_config(shape, bos_token_id=endoftext, eos_token_id=im_end, pad_token_id=endoftext)


def write_random_model(
    out: Path | str,
    shape: str | Mapping[str, int | bool],
    *,
    seed: int = 0,
    device: str = "cpu",
    dtype: str = "bfloat16",
) -> dict[str, Any]:
    """Write a random-weight model of `shape` (a name in NAMED_SHAPES, or the sizes) to
    `out` and return what was written (also saved as random_model.json there).

    `device`: where the weights are initialized ("cuda" is much faster for billions of
    parameters); the saved weights are the same kind of draw either way, not the same
    numbers (each device has its own random generator)."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    from xling.models.wide_tokenizer import widened_tokenizer

    started = time.perf_counter()
    name = shape if isinstance(shape, str) else "custom"
    sizes = dict(named_shape(shape) if isinstance(shape, str) else shape)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = widened_tokenizer(
        int(sizes["vocab_size"]), model_max_length=MAX_POSITION_EMBEDDINGS
    )
    config = random_qwen2_config(sizes, tokenizer)
    torch_dtype = getattr(torch, dtype)
    target = torch.device(device)
    fork = [target.index or 0] if target.type == "cuda" else []
    with torch.random.fork_rng(devices=fork, device_type=target.type):
        torch.manual_seed(seed)
        with target:
            model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    # The end of a turn or of the text stops generation, as in Qwen2.5-Instruct.
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=[config.eos_token_id, config.pad_token_id],
        pad_token_id=config.pad_token_id,
    )
    params = sum(p.numel() for p in model.parameters())  # a tied embedding counts once
    expected = parameter_count(sizes)
    if params != expected:
        raise RuntimeError(f"built {params} parameters, the shape's formula says {expected}")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    info = {
        "shape": name,
        "sizes": sizes,
        "parameters": params,
        "dtype": dtype,
        "seed": seed,
        "init_device": target.type,
        "vocab_size": len(tokenizer),
        "tokenizer": "the organism's byte-level BPE widened to the vocabulary size "
        "(xling.models.wide_tokenizer)",
        "weights_bytes": sum(f.stat().st_size for f in out.glob("*.safetensors")),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / RANDOM_MODEL_JSON).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    del model
    if target.type == "cuda":
        torch.cuda.empty_cache()
    return info
