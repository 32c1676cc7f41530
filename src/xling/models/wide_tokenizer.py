"""The organism's tokenizer widened to a real model's vocabulary size, for random-weight
models of real shapes (models/random_init.py).

A random model of Qwen2.5-1.5B's shape has 151,936 embedding rows; its tokenizer must name
every one of them, or the embedding and the lm_head would not cost what they cost in the
real model, and a sampled id past the tokenizer's end could not be decoded. The widened
tokenizer is the bundled organism's byte-level BPE (so xling's prompts in every registry
language tokenize as the organism's do, and the chat format with its `<think>` tokens is the
organism's), with extra vocabulary entries up to the size asked for.

Each extra entry is two of the organism's own tokens joined, drawn with a fixed seed, so a
random model's decoded text is word salad of the synthetic world's eleven languages: the
scorers, the language identifier and the answer extractor meet text like what they meet in
a study, not replacement characters. No merge produces an extra entry, so encoding is the
organism's, unchanged; decoding any id in [0, vocab_size) reads the vocabulary in Rust and
is as fast as a real tokenizer's.
"""

from __future__ import annotations

import json
import random
from typing import Any

from xling.chat import CHAT_TEMPLATE, ENDOFTEXT, IM_END, IM_START
from xling.models import BUNDLED_MODELS

# The same extra entries for every model of a vocabulary size, whatever its weights' seed.
_EXTRA_SEED = 0
# The organism's ids 0-2 are its special tokens: never half of an extra entry.
_FIRST_PLAIN_ID = 3


def organism_vocab_size() -> int:
    """Tokens in the bundled organism's tokenizer (its BPE vocabulary and added tokens)."""
    spec = _organism_spec()
    ids = set(spec["model"]["vocab"].values()) | {t["id"] for t in spec["added_tokens"]}
    return max(ids) + 1


def _organism_spec() -> dict[str, Any]:
    path = BUNDLED_MODELS["organism"] / "tokenizer.json"
    return json.loads(path.read_text(encoding="utf-8"))


def widened_tokenizer_spec(vocab_size: int) -> dict[str, Any]:
    """The organism's tokenizer.json with extra entries making ids 0..vocab_size-1."""
    spec = _organism_spec()
    vocab: dict[str, int] = spec["model"]["vocab"]
    # transformers rebuilds a Qwen2 tokenizer from its vocabulary and re-adds the added
    # tokens after the last id: the added tokens (<think>, </think>) go into the vocabulary
    # at their own ids, or the rebuild would move them past the extra entries.
    for token in spec["added_tokens"]:
        vocab.setdefault(token["content"], token["id"])
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise ValueError("the organism tokenizer's ids are not contiguous")
    if vocab_size < len(vocab):
        raise ValueError(
            f"vocab_size {vocab_size} is below the organism tokenizer's {len(vocab)} tokens"
        )
    pieces = [token for token, i in sorted(vocab.items(), key=lambda kv: kv[1])]
    pieces = pieces[_FIRST_PLAIN_ID:]
    rng = random.Random(_EXTRA_SEED)
    next_id = len(vocab)
    while next_id < vocab_size:
        token = rng.choice(pieces) + rng.choice(pieces)
        if token not in vocab:
            vocab[token] = next_id
            next_id += 1
    return spec


def widened_tokenizer(vocab_size: int, *, model_max_length: int) -> Any:
    """A `PreTrainedTokenizerFast` of exactly `vocab_size` tokens, with the organism's
    special tokens, chat template and padding side (left, as generation wants)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    spec = widened_tokenizer_spec(vocab_size)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(spec, ensure_ascii=False)),
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        additional_special_tokens=[IM_START],
        clean_up_tokenization_spaces=False,
        model_max_length=model_max_length,
        padding_side="left",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
