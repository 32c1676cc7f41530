"""bench/long_generate.py on the CPU: its modes' keys, a key/value split sweep, merging."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import bench_module

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def lg() -> ModuleType:
    return bench_module("long_generate")


def run_tiny(
    lg: ModuleType, out: Path, monkeypatch: pytest.MonkeyPatch, *flags: str
) -> dict[str, Any]:
    """The bench on the CPU at the tiny shape, 2 slots and 8-token prompts, with `flags`;
    its JSON."""
    argv = [
        "long_generate.py",
        "--out", str(out),
        "--device", "cpu",
        "--shapes", "tiny",
        "--slots", "2",
        "--prompt-tokens", "8",
        "--bandwidth-gbs", "10",
        *flags,
    ]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    lg.main()
    return json.loads((out / "long-generate-cpu.json").read_text(encoding="utf-8"))


def test_modes_and_their_keys(lg: ModuleType) -> None:
    assert lg.mode_keys("dense") == ("engine", "peak_gb")
    assert lg.mode_keys("paged") == ("engine_paged", "paged_peak_gb")
    assert lg.mode_keys("paged@4") == ("engine_paged_s4", "paged_peak_gb_s4")
    assert lg.mode_keys("paged-fused@8") == ("engine_paged_fused_s8", "paged_fused_peak_gb_s8")
    assert lg.run_modes("dense,paged", []) == ["dense", "paged"]
    assert lg.run_modes("dense,paged,paged-fused", [1, 4]) == [
        "dense",
        "paged@1",
        "paged@4",
        "paged-fused@1",
        "paged-fused@4",
    ]
    assert lg.positive_ints("") == []
    assert lg.positive_ints("1, 2,8") == [1, 2, 8]
    with pytest.raises(ValueError, match="at least 1"):
        lg.positive_ints("2,0")


def test_a_split_sweep_gives_suffixed_keys_and_merges(
    lg: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_tiny(
        lg,
        tmp_path,
        monkeypatch,
        "--max-new", "16,12",
        "--kinds", "ragged",
        "--attention", "paged",
        "--kv-splits", "1,2",
        "--requests-per-slot", "2",
        "--plain-on-ragged",
        "--plain-max-new", "4",
        "--fuse-cache-writes",
    )  # fmt: skip
    assert "errors" not in result
    assert result["settings"]["fuse_cache_writes"] == "True"
    row = result["rows"]["tiny_slots2_new16_ragged"]
    for k in (1, 2):
        prefix = f"engine_paged_s{k}"
        assert row[f"{prefix}_tok_s"] > 0
        assert row[f"{prefix}_graph_captures"] == 0  # no graphs on a CPU
        assert row[f"{prefix}_capture_s"] == 0.0 and row[f"{prefix}_capture_s_each"] == []
        # Eager flex attention still compiles a wrapper (Dynamo with its eager backend).
        each = row[f"{prefix}_compile_s_each"]
        assert sum(seconds for _, seconds, _ in each) == pytest.approx(
            row[f"{prefix}_compile_s"], abs=0.02
        )
        assert row[f"{prefix}_kv_splits"] is None  # eager attention: no kernel to split
    assert "engine_paged_tok_s" not in row
    # generate, timed twice; on a ragged row also its rate on the row's own requests.
    assert row["plain_tok_s"] > 0 and row["plain_first_tok_s"] > 0
    assert 0 < row["plain_work_tok_s"] <= row["plain_tok_s"]
    assert row["engine_paged_s1_vs_plain"] == pytest.approx(
        row["engine_paged_s1_tok_s"] / row["plain_work_tok_s"], abs=0.01
    )
    assert row["paged_pool_tokens"] > 0
    # The timed call's wall time by part, and the roofline schedule's steps beside it.
    split = row["engine_paged_s1_time_split"]
    assert split["decode_steps"] > 0 and row["roofline_steps"] > 0
    assert split["prefills"] >= 1 and split["decode_s"] > 0 and split["prefill_s"] > 0
    # The next row of the same slots reuses generate's measurement and says so.
    shorter = result["rows"]["tiny_slots2_new12_ragged"]
    assert "plain_measured_with" not in row
    assert shorter["plain_measured_with"] == "slots2_new16_ragged"
    assert shorter["plain_tok_s"] == row["plain_tok_s"]
    table = capsys.readouterr().out.rsplit("wrote", 1)[1]
    assert "engine_paged_s1_tok_s" in table and "engine_paged_s2_tok_s" in table

    # A note a person adds to a call's JSON travels into the merged file's runs.
    noted = tmp_path / "noted.json"
    noted.write_text(json.dumps({"note": "first call", **result}), encoding="utf-8")
    merged = lg.merge_results([noted], tmp_path / "merged")
    merged_json = json.loads(merged.read_text(encoding="utf-8"))
    assert merged_json["rows"] == result["rows"]
    assert merged_json["runs"][0]["note"] == "first call"
    # A later call merged into that file: its rows win, the first run keeps the rest.
    later = {**result, "rows": {"tiny_slots2_new12_ragged": {"requests": 9}}}
    (tmp_path / "later.json").write_text(json.dumps(later), encoding="utf-8")
    again = lg.merge_results([merged, tmp_path / "later.json"], tmp_path / "again")
    again_json = json.loads(again.read_text(encoding="utf-8"))
    assert again_json["rows"]["tiny_slots2_new12_ragged"] == {"requests": 9}
    assert again_json["rows"]["tiny_slots2_new16_ragged"] == row
    assert [r["rows"] for r in again_json["runs"]] == [
        ["tiny_slots2_new16_ragged"],
        ["tiny_slots2_new12_ragged"],
    ]
    assert again_json["runs"][0]["note"] == "first call"


def test_generate_keeps_only_the_requested_tokens_of_a_ragged_batch(lg: ModuleType) -> None:
    assert lg.generate_kept_share([4, 4, 4, 4], slots=2) == 1.0
    # Batches [8, 2] and [4]: 16 + 4 tokens computed for the 14 requested.
    assert lg.generate_kept_share([8, 2, 4], slots=2) == pytest.approx(14 / 20)


@pytest.mark.skipif(shutil.which("g++") is None, reason="torch.compile on a CPU needs g++")
def test_each_compilation_is_logged_by_function(lg: ModuleType) -> None:
    """The warm-up's compile log names the functions compiled since a moment, each once,
    and leaves out a call that compiled nothing (dynamic shapes: a new size reuses it)."""
    import torch

    def norm_scale(x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)

    def gate(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.silu(x) * x

    compiled_norm = torch.compile(norm_scale, dynamic=True, fullgraph=True)
    compiled_gate = torch.compile(gate, dynamic=True, fullgraph=True)
    compiled_norm(torch.randn(4, 8))
    since = time.time_ns() // 1000
    compiled_gate(torch.randn(4, 8))
    compiled_norm(torch.randn(6, 8))
    log = lg.compilations_since(since)
    assert [entry[0] for entry in log] == ["gate"]
    assert log[0][1] > 0 and isinstance(log[0][2], bool)
    assert lg.compilations_since(time.time_ns() // 1000) == []


def test_splits_are_checked(
    lg: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["long_generate.py", "--out", "/nonexistent"]
    for flags, message in (
        (["--attention", "dense", "--kv-splits", "2"], "needs a paged mode"),
        (["--attention", "paged", "--kv-splits", "2,0"], "at least 1"),
        (["--split-k", "0"], "--split-k must be at least 1"),
    ):
        monkeypatch.setattr(sys, "argv", [*argv, *flags])
        with pytest.raises(SystemExit):
            lg.main()
        assert message in capsys.readouterr().err


def test_profiles_at_several_row_counts(
    lg: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xling.engine.model as model_module

    split_calls: list[int] = []
    real_split = model_module.split_k_linear

    def counted(*args: Any) -> Any:
        split_calls.append(args[-1])
        return real_split(*args)

    monkeypatch.setattr(model_module, "split_k_linear", counted)
    result = run_tiny(
        lg,
        tmp_path,
        monkeypatch,
        "--max-new", "8",
        "--kinds", "uniform",
        "--attention", "dense",
        "--plain-max-new", "2",
        "--profile-steps", "4",
        "--profile-rows", "1,2,3",
        "--steps-per-sync", "2",
        "--split-k", "2",
    )  # fmt: skip
    assert result["settings"]["steps_per_sync"] == "2"
    assert result["settings"]["split_k"] == "2" and split_calls  # it reached the engine
    row = result["rows"]["tiny_slots2_new8_uniform"]
    assert row["engine_profile"]["rows"] == 2  # the row's slots: the plain key
    assert row["engine_profile_r1"]["rows"] == 1
    assert "engine_profile_r3" not in row  # more rows than slots
    launches = row["engine_profile"]["kernels_per_step"]
    assert set(launches) == set(row["engine_profile"]["ms_per_step"])
    assert sum(launches.values()) > 0
    # The costliest kernels (aten operators on a CPU) by name, most time first.
    top = row["engine_profile"]["top_kernels"]
    assert 0 < len(top) <= lg.TOP_KERNELS
    assert [t["ms"] for t in top] == sorted((t["ms"] for t in top), reverse=True)
    assert all(t["name"].startswith("aten::") for t in top)
