"""bench/decode_matmul.py on the CPU: which products its split-K way splits, a step's
products are the model's weights, and the bench writes a row per rows x way."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.nn.functional as F
from conftest import bench_module

from xling.models.shapes import parameter_count

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def dm() -> ModuleType:
    return bench_module("decode_matmul")


def test_splits_only_narrow_aligned_products(
    dm: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, int]] = []
    real = dm.split_k_linear

    def spy(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, pieces: int) -> torch.Tensor:
        calls.append((w.shape[0], pieces))
        return real(x, w, b, pieces)

    monkeypatch.setattr(dm, "split_k_linear", spy)
    linear = dm.linear_for("splitk2", max_out=32)
    x = torch.randn(3, 64)
    for out in (16, 32, 48):  # split up to 32 wide
        got = linear(x, torch.ones(out, 64), None)
        torch.testing.assert_close(got, x.sum(-1, keepdim=True).expand(3, out))
    assert calls == [(16, 2), (32, 2)]
    assert dm.linear_for("fused", max_out=32) is F.linear


def test_variants_are_checked(dm: ModuleType) -> None:
    cpu = torch.device("cpu")
    assert dm.parse_variants("linear, splitk4,cublaslt", cpu) == ["linear", "splitk4"]
    for bad in ("splitk1", "splitk", "blas", "fused4"):
        with pytest.raises(SystemExit, match="unknown variant"):
            dm.parse_variants(bad, cpu)


def test_a_step_reads_every_projection_once(dm: ModuleType) -> None:
    from xling.engine.model import Decoder

    shape = dm.SHAPES["tiny"]
    decoder = Decoder(dm.random_qwen2(shape, torch.device("cpu")), fuse=True)
    hidden, inter = int(shape["hidden_size"]), int(shape["intermediate_size"])
    inputs = {w: torch.zeros(2, w, dtype=decoder.dtype) for w in (hidden, inter)}
    plain = dm.products(decoder, False, inputs)
    fused = dm.products(decoder, True, inputs)
    layers = int(shape["num_hidden_layers"])
    assert len(plain) == 7 * layers + 1 and len(fused) == 4 * layers + 1
    assert [name for name, *_ in fused[:4]] == ["qkv", "o", "gate_up", "down"]
    # Every weight but the norms (two a layer and the final one), the embedding once (tied).
    params = parameter_count(shape) - (2 * layers + 1) * hidden
    assert dm.weight_bytes(plain) == dm.weight_bytes(fused) == 2 * params


def test_cpu_run_writes_a_row_per_rows_and_way(
    dm: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = [
        "decode_matmul.py",
        "--out", str(tmp_path),
        "--device", "cpu",
        "--shapes", "tiny",
        "--rows", "2,3",
        "--variants", "linear,fused,splitk2",
        "--repeats", "1",
        "--bandwidth-gbs", "10",
    ]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    dm.main()
    results = json.loads((tmp_path / "decode-matmul-cpu.json").read_text(encoding="utf-8"))
    assert "errors" not in results
    assert list(results["rows"]) == [
        f"tiny_rows{r}_{v}" for r in (2, 3) for v in ("linear", "fused", "splitk2")
    ]
    for row in results["rows"].values():
        assert row["step_ms"] > 0 and 0 < row["share"] == pytest.approx(
            row["ideal_ms"] / row["step_ms"], rel=0.01
        )
        assert row["max_rel_err"] < 1e-2  # bf16 outputs against float32 products
        names = set(row["products"])
        assert names == (
            {"q", "k", "v", "o", "gate", "up", "down", "lm_head"}
            if row["variant"] == "linear"
            else {"qkv", "o", "gate_up", "down", "lm_head"}
        )
