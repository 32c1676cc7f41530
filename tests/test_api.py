"""The Python API: docs/api.md's example runs as written (offline, on the organism) and the
pieces it stands on behave: models in memory are handed back as they came, a function is a
model, results live in temporary folders unless kept."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from xling import api
from xling.errors import XlingError

DOCS = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def example_code() -> str:
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(r"## Example.*?```python\n(.*?)```", text, re.S)
    assert found, "docs/api.md has no example"
    return found.group(1)


@pytest.mark.slow
def test_docs_api_example_runs_and_its_assertions_hold(tmp_path: Path) -> None:
    # `python -c`, as a notebook cell runs: training's scoring workers start by spawning,
    # which re-imports a script's main module (a script puts the calls under a main guard).
    proc = subprocess.run(
        [sys.executable, "-c", example_code()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "2"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"^sw: \d+\.\d -> \d+\.\d %$", proc.stdout, re.M), proc.stdout
    assert "MTI: Estimate(" in proc.stdout
    work = tmp_path / "api-example"
    assert (work / "X0-run" / "scores.jsonl").is_file()
    assert (work / "report" / "study" / "X0" / "train.json").is_file()


def test_a_function_is_a_model_and_results_live_in_a_temporary_folder() -> None:
    asked: list[list[dict[str, str]]] = []

    def model(messages: list[dict[str, str]]) -> str:
        asked.append(messages)
        return "\\boxed{7}"

    result = api.evaluate(model, bench="synth", langs="en,es", limit=3)
    assert len(asked) == 6 and asked[0][-1]["role"] == "user"
    assert len(result.scores) == 6 and len(result.generations) == 6
    assert {g["output"] for g in result.generations} == {"\\boxed{7}"}
    expected = sum(s["gold"] == "7" for s in result.scores if s["lang"] == "es") / 3
    assert result.accuracy("es") == expected
    folder = result.path
    assert (folder / "metrics.json").is_file()
    del result
    import gc

    gc.collect()
    assert not folder.exists()  # the temporary run went with its result


def test_a_model_in_memory_is_handed_back_as_it_came(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model.train()
    model.generation_config.top_k = 7  # a setting the evaluation must not keep or use
    before = model.generation_config
    result = api.evaluate(
        model, tokenizer=tokenizer, bench="synth", langs="en", limit=2, max_new_tokens=4
    )
    assert model.training and model.generation_config is before
    env = result.path / "env.json"
    import json

    assert json.loads(env.read_text())["model"]["in_memory"] == "HFBackend"
    kept = result.save(Path(result.path.parent) / f"{result.path.name}-kept")
    try:
        assert (kept.path / "scores.jsonl").is_file() and kept.metrics == result.metrics
    finally:
        import shutil

        shutil.rmtree(kept.path)


def test_compare_needs_training_languages_and_bad_models_are_refused() -> None:
    run = api.evaluate(lambda m: "\\boxed{1}", bench="synth", langs="en", limit=2)
    with pytest.raises(XlingError, match="train_langs"):
        api.compare(run, run)
    with pytest.raises(XlingError, match="model must be a hub id or path"):
        api.evaluate(42, bench="synth", langs="en", limit=1)
    with pytest.raises(XlingError, match="unknown key 'limt'"):
        api.evaluate(lambda m: "x", bench="synth", langs="en", limt=1)
