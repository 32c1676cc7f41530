"""The organism's tokenizer and model: a byte-level BPE tokenizer trained on the synthetic
world's text in every registry language, and a small `Qwen2ForCausalLM`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xling.models import BUNDLED_MODELS, resolve_model
from xling.organism.config import OrganismConfig, OrganismError
from xling.organism.corpus import THINK_CLOSE, THINK_OPEN, derive_seed, tokenizer_corpus

BUNDLED_DIR = BUNDLED_MODELS["organism"]


def build_tokenizer(cfg: OrganismConfig) -> Any:
    from xling.chat import make_chat_tokenizer

    tokenizer = make_chat_tokenizer(
        cfg.vocab_size, model_max_length=cfg.seq_len, corpus=tokenizer_corpus(cfg)
    )
    if cfg.reasoning_marker == "think":
        # Ordinary added tokens, not special ones: decoding with skip_special_tokens (what
        # every backend does) must keep them, as it keeps Qwen3's <think>.
        tokenizer.add_tokens([THINK_OPEN, THINK_CLOSE])
    return tokenizer


def build_model(cfg: OrganismConfig, tokenizer: Any) -> Any:
    """A freshly initialized Qwen2ForCausalLM (weights a function of cfg.seed)."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from xling.chat import ENDOFTEXT, IM_END

    eot, im_end = (
        tokenizer.convert_tokens_to_ids(ENDOFTEXT),
        tokenizer.convert_tokens_to_ids(IM_END),
    )
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads,
        max_position_embeddings=max(cfg.seq_len, 2048),  # eval may generate past seq_len
        rope_theta=cfg.rope_theta,
        tie_word_embeddings=cfg.tie_word_embeddings,
        bos_token_id=eot,
        eos_token_id=im_end,
        pad_token_id=eot,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed("xling-organism-init", cfg.seed) % (2**31))
        model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=eot, eos_token_id=[im_end, eot], pad_token_id=eot
    )
    return model


def load_init(path: str) -> tuple[Any, Any]:
    """(tokenizer, float32 model) of an existing organism directory ("organism": the
    bundled one), to train further."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(path)
    if not (Path(path) / "config.json").is_file():
        raise OrganismError(f"init: {path} is not a model directory (no config.json)")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return tokenizer, model


def count_params(model: Any) -> int:
    """Distinct parameters (a tied embedding counts once)."""
    return sum(p.numel() for p in model.parameters())


def bundled_organism() -> Path:
    """The organism checkpoint shipped with xling (the `full` preset; its training log,
    organism.json and base evaluation sit beside the weights)."""
    return Path(resolve_model("organism"))
