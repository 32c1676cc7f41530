"""The scripts that carry GPU work across calls and sittings: bench/study_piece.py's
pieces and results archive, and bench/gpu_wheels.py's cut of the lingua wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import BENCH, bench_module

from xling.study import shipped_study


def micro_study(path: Path, out: Path) -> Path:
    """The shipped micro study, written to `path` with its runs in `out`."""
    micro = shipped_study("micro").read_text(encoding="utf-8")
    path.write_text(micro.replace('out = "runs/micro"', f'out = "{out}"'), encoding="utf-8")
    return path


def test_results_archive_keeps_scores_and_markers_and_drops_bulk(tmp_path: Path) -> None:
    piece = bench_module("study_piece")
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
        "report/grpo/report.html": "<html>",
        "steps/report_grpo.json": "{}",
        "steps/summary.json": "{}",
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
    wheels = bench_module("gpu_wheels")
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


@pytest.mark.slow
def test_a_piece_runs_studies_in_order_on_shared_process_slots(tmp_path: Path) -> None:
    """Three micro studies on two process slots: a process leaves when its study has
    nothing ready for it, and its slot goes to the first study with a step ready; all
    finish in one piece, each with its own archives, the reports left for the machine that
    merges the pieces."""
    names = ("first", "second", "third")
    files = [str(micro_study(tmp_path / f"{name}.toml", tmp_path / name)) for name in names]
    out = tmp_path / "out"
    options = ["--minutes", "8", "--procs", "2", "--out", str(out)]
    proc = subprocess.run(
        [sys.executable, str(BENCH / "study_piece.py"), "run", *files, *options],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    work = {"bench", "eval_base", "data_X0", "data_X1", "train_grpo_X0", "train_grpo_X1"}
    work |= {"eval_grpo_X0", "eval_grpo_X1"}
    for name in names:
        done = {p.stem for p in (tmp_path / name / "steps").glob("*.json")}
        assert done == work  # everything but the report, which needs the merged study
        assert not list((tmp_path / name / "steps").glob("*.lock"))
        for archive in ("new.tar.xz", "state.tar.xz"):
            assert (out / name / archive).is_file()
    with tarfile.open(out / "logs.tar.xz") as tar:
        logs = [Path(n).name for n in tar.getnames() if n.endswith(".log")]
    # More processes than slots: the slots were handed on, to every study.
    assert len(logs) > 2
    assert {name.rsplit("-", 1)[1].removesuffix(".log") for name in logs} == set(names)


@pytest.mark.slow
def test_a_study_whose_steps_keep_failing_is_given_up_and_the_next_runs(tmp_path: Path) -> None:
    broken = micro_study(tmp_path / "broken.toml", tmp_path / "broken")
    broken.write_text(
        broken.read_text().replace(
            'base_model = "organism"', f'base_model = "{tmp_path / "no-such-model"}"'
        )
    )
    fine = micro_study(tmp_path / "fine.toml", tmp_path / "fine")
    options = ["--minutes", "8", "--procs", "2", "--out", str(tmp_path / "out")]
    proc = subprocess.run(
        [sys.executable, str(BENCH / "study_piece.py"), "run", str(broken), str(fine), *options],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "3 processes failed; giving up on it" in proc.stdout
    assert "no-such-model" in proc.stdout  # the failure's own words come with it
    assert (tmp_path / "fine" / "steps" / "eval_grpo_X1.json").is_file()
    assert not (tmp_path / "broken" / "steps" / "eval_base.json").exists()
    assert (tmp_path / "out" / "broken" / "new.tar.xz").is_file()  # what it made still travels


def test_a_study_passes_slots_on_only_in_its_tail(tmp_path: Path) -> None:
    piece = bench_module("study_piece")
    path = micro_study(tmp_path / "micro.toml", tmp_path / "study")
    p = piece.Piece(str(path), None)
    study = p.study

    def mark(*names: str) -> None:
        for name in names:
            study.marker(name).write_text("{}")

    def running(name: str) -> None:  # a live process other than this one runs it
        study.marker(name).with_suffix(".lock").write_text(str(os.getppid()))

    assert p.claim(now=100.0) == "take"  # the benchmark step is free
    p.launches.append(100.0)
    assert p.claim(now=105.0) == "hold"  # the process launched for it has yet to take it
    running("bench")
    assert p.claim(now=200.0) == "hold"  # the benchmark gates three steps
    study.marker("bench").with_suffix(".lock").unlink()
    mark("bench", "eval:base", "data:X0", "data:X1", "train:grpo:X0", "eval:grpo:X0")
    running("train:grpo:X1")
    # Its last evaluation waits on the one training: that training's process takes it.
    assert p.outlook() == (0, 1, 1) and p.claim(now=200.0) == "pass"


def test_a_study_taken_up_from_its_results_builds_missing_training_data_again(
    tmp_path: Path,
) -> None:
    piece = bench_module("study_piece")
    from xling.study import Study, load_study_config

    path = micro_study(tmp_path / "micro.toml", tmp_path / "study")
    study = Study(load_study_config(path))
    x0, x1 = study.slots()
    for slot in (x0, x1):
        study.marker(f"data:{study.run_name(slot.x, slot.seed)}").parent.mkdir(
            parents=True, exist_ok=True
        )
        study.marker(f"data:{study.run_name(slot.x, slot.seed)}").write_text("{}")
    study.data_path(x0).parent.mkdir(parents=True)
    study.data_path(x0).write_text("{}\n")  # X0's file is here, X1's is not
    assert piece.forget_missing_data(study) == [f"data:{study.run_name(x1.x, x1.seed)}"]
    assert study.marker(f"data:{study.run_name(x0.x, x0.seed)}").exists()


def test_a_merged_archive_leaves_no_marker_of_what_it_does_not_carry(tmp_path: Path) -> None:
    """Merged here, a study finishes here: the benchmark (never packed) and a run trained on
    the GPU but not evaluated there (its weights never travel) are made again."""
    import argparse

    from xling.study import Study, load_study_config

    piece = bench_module("study_piece")
    path = micro_study(tmp_path / "micro.toml", tmp_path / "here")
    study = Study(load_study_config(path))
    gpu = tmp_path / "gpu"
    done = ["bench", "eval:base", "train:grpo:X0", "eval:grpo:X0", "train:grpo:X1"]
    for name in done:
        marker = gpu / study.marker(name).relative_to(study.out)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("{}")
    (gpu / "bench" / "test").mkdir(parents=True)
    (gpu / "bench" / "test" / "synth_en.jsonl").write_text("{}\n")
    archive = tmp_path / "new.tar.xz"
    piece.keep_results(gpu, archive)
    piece.merge(argparse.Namespace(study=str(path), archives=[str(archive)]))
    left = {name for name in done if study.marker(name).exists()}
    assert left == {"eval:base", "train:grpo:X0", "eval:grpo:X0"}
