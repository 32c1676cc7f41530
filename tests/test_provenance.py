"""env.json: versions, git state, model and data fingerprints, and the history of a resumed
run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xling import provenance
from xling.provenance import (
    ENV_JSON,
    environment,
    model_info,
    records_fingerprint,
    write_env_json,
)


def test_local_weights_are_hashed_and_any_change_shows(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 1000)
    (tmp_path / "config.json").write_text("{}")
    first = model_info(str(tmp_path))
    assert first["weight_files"] == 1 and first["weight_bytes"] == 1000
    assert model_info(str(tmp_path))["weights_sha256"] == first["weights_sha256"]
    (tmp_path / "config.json").write_text('{"x": 1}')  # not a weight file
    assert model_info(str(tmp_path))["weights_sha256"] == first["weights_sha256"]
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 999 + b"\x01")
    assert model_info(str(tmp_path))["weights_sha256"] != first["weights_sha256"]


def test_large_weights_get_a_stat_fingerprint_that_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "model-00001.safetensors").write_bytes(b"\x00" * 100)
    monkeypatch.setattr(provenance, "FULL_HASH_LIMIT", 10)
    info = model_info(str(tmp_path))
    assert "weights_sha256" not in info and len(info["weights_stat_sha256"]) == 64


def test_hub_model_commit_from_the_local_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    refs = tmp_path / "models--org--name" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text("a" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    info = model_info("org/name")
    assert info == {"name": "org/name", "revision": None, "commit": "a" * 40}
    assert "commit" not in model_info("org/other", "v2")  # nothing cached: no guess


def test_records_fingerprint_depends_on_content_and_order_not_key_order() -> None:
    rows = [{"id": "1", "q": "2+2"}, {"id": "2", "q": "3+3"}]
    same = [{"q": "2+2", "id": "1"}, {"q": "3+3", "id": "2"}]
    assert records_fingerprint(rows) == records_fingerprint(same)
    assert records_fingerprint(rows) != records_fingerprint(rows[::-1])
    assert records_fingerprint(rows) != records_fingerprint([rows[0]])


def test_env_json_keeps_every_invocation(tmp_path: Path) -> None:
    first = environment(model={"name": "m"}, data={"sha256": "d"}, extra={"method": "sft"})
    assert first["packages"]["torch"] and first["packages"]["xling"]
    assert first["device"]["cpu_count"] >= 1 and first["command"]
    git = first["git"]
    if (Path(provenance.__file__).parents[2] / ".git").exists():
        assert git is not None and len(git["commit"]) == 40
    write_env_json(tmp_path, first)
    write_env_json(tmp_path, {**first, "method": "resumed"})
    saved = json.loads((tmp_path / ENV_JSON).read_text())
    assert saved["method"] == "resumed"
    assert [p["method"] for p in saved["previous"]] == ["sft"]
    assert "previous" not in saved["previous"][0]


def test_every_eval_run_has_env_json(tiny_model_dir: Path, tmp_path: Path) -> None:
    from xling.evaluate import EvalConfig, run_eval
    from xling.world import build_benchmark

    build_benchmark(tmp_path / "bench", n_train=0, n_test=2, seed=0, langs=("en", "es"))
    cfg = EvalConfig(
        model=str(tiny_model_dir),
        bench="jsonl",
        data=str(tmp_path / "bench" / "test"),
        bench_name="synth",
        id_field="id",
        langs="en,es",
        max_new_tokens=4,
        score_workers=1,
        out=str(tmp_path / "run"),
    )
    run_eval(cfg)
    env = json.loads((tmp_path / "run" / ENV_JSON).read_text())
    assert env["model"]["weights_sha256"] and env["model"]["path"] == str(tiny_model_dir)
    assert env["data"]["problems"] == 4 and len(env["data"]["problems_sha256"]) == 64
    assert env["backend"] == "hf" and env["processes"] == 1 and env["packages"]["transformers"]
    first = env["data"]["problems_sha256"]
    run_eval(cfg)  # a resume: the same problems, one more invocation on record
    env = json.loads((tmp_path / "run" / ENV_JSON).read_text())
    assert env["data"]["problems_sha256"] == first and len(env["previous"]) == 1
