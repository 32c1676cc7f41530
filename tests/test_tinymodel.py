from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from xling.chat import IM_END, IM_START
from xling.languages import LANGUAGES
from xling.testing.tinymodel import build_tiny_model, ensure_tiny_model


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_loads_through_from_pretrained(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert model.config.model_type == "qwen2"
    assert model.config.vocab_size == len(tok)
    assert tok.eos_token == IM_END
    assert tok.pad_token_id is not None
    assert IM_START in tok.all_special_tokens
    assert (tiny_model_dir / "model.safetensors").exists()


def test_small_on_disk(tiny_model_dir: Path) -> None:
    total = sum(f.stat().st_size for f in tiny_model_dir.rglob("*") if f.is_file())
    assert total < 2 * 1024 * 1024


def test_chat_template_renders_chatml(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "1+1?"},
        {"role": "assistant", "content": "2"},
        {"role": "user", "content": "2+2?"},
    ]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\n1+1?<|im_end|>\n"
        "<|im_start|>assistant\n2<|im_end|>\n"
        "<|im_start|>user\n2+2?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    no_prompt = tok.apply_chat_template(messages[:2], tokenize=False)
    assert no_prompt.endswith("1+1?<|im_end|>\n")
    # Special tokens are single ids, not byte soup.
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert ids.count(tok.convert_tokens_to_ids(IM_START)) == 5


@pytest.mark.parametrize("code", list(LANGUAGES))
def test_tokenizer_round_trips_every_language(tiny_model_dir: Path, code: str) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    lang = LANGUAGES[code]
    text = (
        f"{lang.instruction}\n\n{lang.answer_words[0]}: \\boxed{{{lang.digits[1]}{lang.digits[7]}}}"
        f"  {lang.native_name} {lang.digits} $\\frac{{3}}{{4}} + x^2$\t12,5 "
    )
    ids = tok.encode(text, add_special_tokens=False)
    assert tok.decode(ids) == text
    # Trained on these strings: far fewer tokens than UTF-8 bytes.
    assert len(ids) < len(text.encode("utf-8")) * 0.7


def test_same_seed_same_files_other_seed_other_weights(tmp_path: Path) -> None:
    a = build_tiny_model(tmp_path / "a", seed=0)
    b = build_tiny_model(tmp_path / "b", seed=0)
    c = build_tiny_model(tmp_path / "c", seed=1)
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert _digest(a / name) == _digest(b / name)
    assert _digest(a / "model.safetensors") != _digest(c / "model.safetensors")
    assert _digest(a / "tokenizer.json") == _digest(c / "tokenizer.json")


def test_ensure_tiny_model_builds_once(tmp_path: Path) -> None:
    first = ensure_tiny_model(tmp_path)
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    second = ensure_tiny_model(tmp_path)
    assert first == second
    assert (second / "model.safetensors").stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no staging left behind
