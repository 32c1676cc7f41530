"""The scripts that carry GPU work across calls and sittings: bench/study_piece.py's
results archive and bench/gpu_wheels.py's cut of the lingua wheel."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _bench_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_results_archive_keeps_scores_and_markers_and_drops_bulk(tmp_path: Path) -> None:
    piece = _bench_module("study_piece")
    study = tmp_path / "study"
    wanted = {
        "steps/eval_grpo_X0-s0.json": "{}",
        "grpo/X0-s0/scores.jsonl": '{"correct": true}\n',
        "grpo/X0-s0/metrics.json": "{}",
        "train/grpo-X0-s0/metrics.jsonl": "{}\n",
    }
    dropped = {
        "grpo/X0-s0/generations.jsonl": "long text\n",
        "data/X0-s0.jsonl": "{}\n",
        "bench/test/synth_en.jsonl": "{}\n",
        "train/grpo-X0-s0/final/model.safetensors": "weights",
        "train/grpo-X0-s0/checkpoint-16/optimizer.pt": "state",
        "train/grpo-X0-s0/training_curves.png": "png",
        "steps/eval_grpo_X0-s1.lock": "pid",
    }
    for name, text in {**wanted, **dropped}.items():
        (study / name).parent.mkdir(parents=True, exist_ok=True)
        (study / name).write_text(text)
    archive = tmp_path / "results.tar.xz"
    piece.keep_results(study, archive)
    restored = tmp_path / "restored"
    piece._unpack(archive, restored)
    found = {str(p.relative_to(restored)) for p in restored.rglob("*") if p.is_file()}
    assert found == set(wanted)
    assert (restored / "grpo/X0-s0/scores.jsonl").read_text() == wanted["grpo/X0-s0/scores.jsonl"]


def test_lingua_cut_keeps_only_the_named_languages_and_a_true_record(tmp_path: Path) -> None:
    wheels = _bench_module("gpu_wheels")
    wheel = tmp_path / "lingua_language_detector-1.3.5-py3-none-any.whl"
    members = {
        "lingua/__init__.py": b"x = 1\n",
        "lingua/language-models/en/unigrams.json.br": b"en",
        "lingua/language-models/bn/unigrams.json.br": b"bn",
        "lingua/language-models/ko/unigrams.json.br": b"ko",
        "lingua_language_detector-1.3.5.dist-info/METADATA": b"Name: lingua\n",
        "lingua_language_detector-1.3.5.dist-info/RECORD": b"stale\n",
    }
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    wheels.cut_lingua(wheel, {"en", "bn"})
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        record = zf.read("lingua_language_detector-1.3.5.dist-info/RECORD").decode()
    assert "lingua/language-models/ko/unigrams.json.br" not in names
    assert {"lingua/language-models/en/unigrams.json.br", "lingua/__init__.py"} <= names
    listed = {line.split(",")[0] for line in record.splitlines()}
    assert listed == names
    assert wheels._record_line("lingua/__init__.py", b"x = 1\n") in record.splitlines()
