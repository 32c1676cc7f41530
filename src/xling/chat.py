"""The chat format xling's own models speak (the organism, the tiny test model, ParScale
studies): Qwen2.5's ChatML tokens and template, and a byte-level BPE tokenizer trained
in-process with Qwen2's pre-tokenizer, so a model built here loads through
`AutoTokenizer.from_pretrained` like a hub Qwen2 checkpoint."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END)

# Qwen2.5-style ChatML, minus the default system prompt.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Qwen2's pre-tokenizer split. transformers 5 rebuilds a qwen2 checkpoint's tokenizer pipeline
# (NFC, this split, byte-level) around the saved vocab and merges, so training with exactly that
# pipeline makes the saved tokenizer.json and the loaded tokenizer agree on every version.
_QWEN2_SPLIT = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


def _train_tokenizer(vocab_size: int, corpus: Iterable[str]):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN2_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte: nothing is <unk>
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return tok


def make_chat_tokenizer(vocab_size: int, *, model_max_length: int, corpus: Iterable[str]) -> Any:
    """A byte-level BPE tokenizer trained on `corpus`, wrapped as a
    `PreTrainedTokenizerFast` with the ChatML special tokens and chat template."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(vocab_size, corpus),
        eos_token=IM_END,  # as in Qwen2.5-Instruct: a chat turn ends the generation
        pad_token=ENDOFTEXT,
        additional_special_tokens=[IM_START],
        clean_up_tokenization_spaces=False,  # keep decode(encode(x)) == x
        model_max_length=model_max_length,
        padding_side="left",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
