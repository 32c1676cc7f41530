"""A tiny random-weight Qwen2 model with a locally trained tokenizer, for tests and smoke runs
(and random-weight models of every engine family, for tests that need no files).

`build_tiny_model(dir)` writes a directory that loads through the real path
(`AutoModelForCausalLM.from_pretrained` / `AutoTokenizer.from_pretrained`), in a few seconds,
with no network: a byte-level BPE tokenizer trained in-process on strings from the language
registry (so all of its scripts tokenize reasonably and every text round-trips), a
Qwen/ChatML chat template, and a ~1 MB Qwen2 model. The same seed gives the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from xling.chat import ENDOFTEXT, IM_END, SPECIAL_TOKENS, make_chat_tokenizer
from xling.languages import LANGUAGES

# Bump when anything below changes what gets written: `ensure_tiny_model` keys its cache on it.
_FORMAT_VERSION = 1

_MATH_SNIPPETS = (
    r"\boxed{42}",
    r"\boxed{3.5}",
    r"\boxed{-7}",
    r"\frac{1}{2}",
    r"\frac{a}{b}",
    r"\sqrt{2}",
    r"\sqrt{x^2 + y^2}",
    r"x^2 + 2x + 1 = 0",
    r"\cdot",
    r"\times",
    r"\div",
    r"\pm",
    r"\leq",
    r"\geq",
    r"\neq",
    r"\pi r^2",
    r"\left( \frac{3}{4} \right)",
    r"$5 + 3 = 8$",
    r"\$12.50",
    "12 + 7 = 19",
    "100 - 45 = 55",
    "6 * 7 = 42",
    "81 / 9 = 9",
    "3,5",
    "5.600",
    "1,000,000",
    "50%",
    "2^10 = 1024",
    "(a + b)(a - b)",
    "<think>",
    "</think>",
    "Step 1:",
    "Step 2:",
    "Therefore",
    "So the answer is",
    "Let x be",
    "total",
    "each",
    "per day",
    "dollars",
)

_ENGLISH = (
    "Janet has 16 eggs. She eats three for breakfast every morning and bakes muffins with four. "
    "She sells the remainder at the market for $2 per egg. How much money does she make every "
    "day? A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in "
    "total does it take? The answer is the number of apples left after giving half away."
)


def _corpus() -> list[str]:
    """Training text: every registry string, digits, math and a little English prose."""
    lines: list[str] = [_ENGLISH, *_MATH_SNIPPETS]
    for lang in LANGUAGES.values():
        lines += [lang.instruction, lang.name, lang.native_name, *lang.answer_words]
        lines.append(" ".join(lang.digits))
        lines.append(lang.digits)
        lines += [f"{w}: \\boxed{{{lang.digits[4]}{lang.digits[2]}}}" for w in lang.answer_words]
    # Repeat so frequent pieces merge into whole words; the order is fixed, so is the result.
    return lines * 3


def build_tiny_model(
    out_dir: Path | str,
    seed: int = 0,
    *,
    vocab_size: int = 2048,  # an upper bound: the small corpus yields about 1.1k tokens
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    max_position_embeddings: int = 2048,
) -> Path:
    """Write a tiny random Qwen2 model + tokenizer to `out_dir` (created) and return it."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = make_chat_tokenizer(
        vocab_size, model_max_length=max_position_embeddings, corpus=_corpus()
    )
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=False,  # tied, a random model greedily repeats its last token
        bos_token_id=ids[ENDOFTEXT],
        eos_token_id=ids[IM_END],
        pad_token_id=ids[ENDOFTEXT],
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=ids[ENDOFTEXT],
        eos_token_id=[ids[IM_END], ids[ENDOFTEXT]],
        pad_token_id=ids[ENDOFTEXT],
    )
    model.to(torch.float32).save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def _cache_key(seed: int) -> str:
    import tokenizers
    import transformers

    blob = json.dumps(
        [_FORMAT_VERSION, seed, transformers.__version__, tokenizers.__version__], sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def ensure_tiny_model(cache_dir: Path | str, seed: int = 0) -> Path:
    """Build the tiny model once under `cache_dir` and reuse it on later calls."""
    cache = Path(cache_dir)
    target = cache / f"tiny-qwen2-{_cache_key(seed)}"
    if (target / ".complete").exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tiny-build-", dir=cache))
    try:
        build_tiny_model(staging, seed=seed)
        (staging / ".complete").write_text("ok\n")
        try:
            os.replace(staging, target)  # atomic; fails if another process won the race
        except OSError:
            if not (target / ".complete").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


# Each family's tiny model switches on what sets it apart, so that one comparison with
# `generate` covers it: Qwen2's q/k/v biases and a sliding-window layer, Qwen3's q/k norms
# and a head size unlike hidden/heads, Llama's llama3 rotary scaling and optional biases,
# Mistral's sliding window on every layer. Windows are shorter than the test sequences.
TINY_FAMILIES = ("qwen2", "qwen3", "llama", "mistral")


def tiny_causal_lm(family: str, seed: int = 0, *, vocab_size: int = 512) -> Any:
    """A random-weight HF causal LM of `family` (TINY_FAMILIES), float32, no files."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    shared: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 256,
        # Larger than usual: peaked next-token distributions, so greedy decoding never
        # meets a near-tie that float rounding could flip.
        "initializer_range": 0.2,
        "tie_word_embeddings": False,
        "eos_token_id": 1,
        "pad_token_id": 0,
    }
    specific: dict[str, dict[str, Any]] = {
        "qwen2": {"use_sliding_window": True, "sliding_window": 12, "max_window_layers": 1},
        "qwen3": {"head_dim": 32},
        "llama": {
            "attention_bias": True,
            "mlp_bias": True,
            "rope_parameters": {
                "rope_type": "llama3",
                "rope_theta": 500000.0,
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 32,
            },
        },
        "mistral": {"sliding_window": 12, "head_dim": 16},
    }
    if family not in specific:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(TINY_FAMILIES)}")
    config = AutoConfig.for_model(family, **shared, **specific[family])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    return model.eval()


def random_prompts(n: int, vocab_size: int, seed: int = 1) -> list[list[int]]:
    """`n` prompts of 3 to 21 random token ids (never 0 or 1, the tiny models' pad and EOS)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(3, 22, (n,), generator=g).tolist()
    return [torch.randint(2, vocab_size, (k,), generator=g).tolist() for k in lengths]


def greedy_continuation(
    model: Any, prompt: list[int], max_new_tokens: int, eos_ids: list[int]
) -> list[int]:
    """transformers `generate`'s greedy continuation of one unpadded prompt, through its
    first end-of-sequence token: the reference xling's engine is checked against."""
    import torch

    ids = torch.tensor([prompt], device=model.device)
    out = model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=eos_ids,
        pad_token_id=0,
    )[0, len(prompt) :].tolist()
    stop = next((i for i, t in enumerate(out) if t in eos_ids), None)
    return out if stop is None else out[: stop + 1]
