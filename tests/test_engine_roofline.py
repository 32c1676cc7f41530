"""The decode roofline of bench/long_generate.py: bytes a schedule must read, by hand."""

from __future__ import annotations

import pytest

from xling.engine.roofline import decode_roofline_seconds
from xling.models.shapes import QWEN2_5_1_5B_SHAPE as QWEN_1_5B
from xling.models.shapes import QWEN2_5_7B_SHAPE as QWEN_7B
from xling.models.shapes import decode_weight_bytes, kv_bytes_per_token, parameter_count


def test_sizes_of_a_real_shape() -> None:
    # 28 layers × (k and v) × 2 heads × 128 dims × 2 bytes.
    assert kv_bytes_per_token(QWEN_1_5B) == 28 * 2 * 2 * 128 * 2 == 28_672
    # Qwen2.5-1.5B has 1.54B parameters, its embedding (tied) counted once: ~3.09 GB bf16.
    assert decode_weight_bytes(QWEN_1_5B) == pytest.approx(2 * 1.5437e9, rel=0.01)
    assert decode_weight_bytes(QWEN_1_5B) == 2 * parameter_count(QWEN_1_5B)
    # The 7B's input embedding is its own matrix; a step reads only its batch's rows of it.
    embedding = QWEN_7B["vocab_size"] * QWEN_7B["hidden_size"]
    assert decode_weight_bytes(QWEN_7B) == 2 * (parameter_count(QWEN_7B) - embedding)


def test_uniform_batch_matches_the_closed_form() -> None:
    n, length, prompt, weights, kv = 3, 5, 4, 1000, 10
    # Every step reads the weights once and, per live sequence, prompt + tokens so far.
    expected = sum(weights + kv * n * (prompt + t) for t in range(length))
    got = decode_roofline_seconds(
        [length] * n, prompt, slots=8, weights=weights, kv_token=kv, bandwidth=1.0
    )
    assert got == pytest.approx(expected)


def test_ragged_requests_refill_slots_first_come_first_served() -> None:
    # Two slots, lengths 1, 3, 3: steps (tokens so far of the live sequences) are
    # [A0, B0] -> A done, C joins -> [B1, C0] -> [B2, C1] -> B done -> [C2].
    prompt, weights, kv = 0, 100, 1
    got = decode_roofline_seconds(
        [1, 3, 3], prompt, slots=2, weights=weights, kv_token=kv, bandwidth=1.0
    )
    assert got == pytest.approx(4 * weights + kv * (0 + 0 + 1 + 0 + 2 + 1 + 2))
    # A third slot takes C at once: three steps, [A0, B0, C0] -> [B1, C1] -> [B2, C2].
    wide = decode_roofline_seconds(
        [1, 3, 3], prompt, slots=3, weights=weights, kv_token=kv, bandwidth=1.0
    )
    assert wide == pytest.approx(3 * weights + kv * (0 + 0 + 0 + 1 + 1 + 2 + 2))
    assert wide < got
