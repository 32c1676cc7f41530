"""Data-parallel `xling eval`: two CPU processes under torchrun (gloo) write what one
process writes, and the shared generations log they append to stays whole."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from xling.errors import XlingError
from xling.jsonl import AppendLog, read_jsonl
from xling.world import iter_records

LANGS = ("en", "es")


def xling(*args: str, launcher: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    command = [*launcher, "-m", "xling.cli", *args] if launcher else ["-m", "xling.cli", *args]
    proc = subprocess.run(
        [sys.executable, *command],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )
    if proc.returncode != 0:
        raise AssertionError(f"xling {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def keyed(run: Path, name: str, *fields: str) -> dict[tuple[str, str, int], tuple[Any, ...]]:
    rows = read_jsonl(run / name)
    return {(r["lang"], r["id"], r["sample"]): tuple(r[f] for f in fields) for r in rows}


@pytest.mark.slow
def test_a_data_parallel_run_matches_one_process(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Sampled (n = 2), two ranks at batch size 1 write the outputs and scores that one
    process writes at batch size 3; a killed parallel run resumes in one process."""
    data = tmp_path / "mgsm"
    data.mkdir()
    for lang in LANGS:
        rows = iter_records("test", 3, seed=5, langs=[lang])
        text = "".join(f"{' '.join(r['question'].split())}\t{r['answer']}\n" for r in rows)
        (data / f"mgsm_{lang}.tsv").write_text(text, encoding="utf-8")

    def run(out: Path, batch_size: int, launcher: tuple[str, ...] = ()) -> str:
        # `--set n=2`: torchrun's parser would take `--n` for an abbreviation of its own.
        args = ["eval", "--model", str(tiny_model_dir), "--bench", "mgsm", "--data", str(data)]
        args += ["--langs", ",".join(LANGS), "--set", "n=2", "--temperature", "0.9"]
        args += ["--top-p", "0.95", "--max-new-tokens", "8", "--score-workers", "1"]
        args += ["--batch-size", str(batch_size), "--out", str(out)]
        return xling(*args, launcher=launcher).stdout

    single, parallel = tmp_path / "single", tmp_path / "parallel"
    run(single, 3)
    torchrun = ("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2")
    stdout = run(parallel, 1, torchrun)
    assert "on 2 processes" in stdout and stdout.count("results in") == 1  # rank 0 speaks

    outputs = keyed(single, "generations.jsonl", "output", "n_output_tokens")
    scores = keyed(single, "scores.jsonl", "pred", "correct", "detected_lang")
    assert len(outputs) == len(scores) == 2 * 3 * len(LANGS)
    assert len({o for o, _ in outputs.values()}) == len(outputs)  # every sample its own
    assert keyed(parallel, "generations.jsonl", "output", "n_output_tokens") == outputs
    assert keyed(parallel, "scores.jsonl", "pred", "correct", "detected_lang") == scores
    assert (
        json.loads((parallel / "metrics.json").read_text())["benchmarks"]
        == json.loads((single / "metrics.json").read_text())["benchmarks"]
    )
    assert not (parallel / "xling.lock").exists()

    # As if killed: some samples written, a half line, the lock of a process that is gone.
    written = (parallel / "generations.jsonl").read_text(encoding="utf-8").splitlines(True)
    half = written[3][: len(written[3]) // 2]
    (parallel / "generations.jsonl").write_text("".join(written[:3]) + half, encoding="utf-8")
    (parallel / "scores.jsonl").unlink()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (parallel / "xling.lock").write_text(f"{gone.pid}\nxling eval", encoding="utf-8")
    stdout = run(parallel, 2)
    assert "dropped a partial last line" in stdout
    assert keyed(parallel, "generations.jsonl", "output", "n_output_tokens") == outputs
    assert keyed(parallel, "scores.jsonl", "pred", "correct", "detected_lang") == scores


def test_data_parallel_refusals_are_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from xling.evaluate import EvalConfig, run_eval

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    cfg = EvalConfig(model="m", backend="openai", out=str(tmp_path / "run"))
    with pytest.raises(XlingError, match=r"^data-parallel evaluation \(WORLD_SIZE=2\) needs"):
        run_eval(cfg)
    assert not (tmp_path / "run").exists()
    # Launcher variables without a launcher's rendezvous: one line, not a traceback.
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(XlingError, match=r"^cannot join the data-parallel job \(rank 1 of 2\)"):
        run_eval(dataclasses.replace(cfg, backend="hf"))
    assert not (tmp_path / "run").exists()


def test_the_shard_comes_from_the_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    from xling.evaluate import Shard, launch_shard

    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert launch_shard() == Shard(rank=0, world=1, local_rank=0) and launch_shard().main
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert launch_shard() == Shard(rank=3, world=4, local_rank=1) and not launch_shard().main
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(XlingError, match="no rank 4 of WORLD_SIZE 4"):
        launch_shard()
    monkeypatch.setenv("WORLD_SIZE", "four")
    with pytest.raises(XlingError, match="WORLD_SIZE='four'"):
        launch_shard()


# ---------------------------------------------------------------------------- the shared log


def rec(i: int, size: int = 0) -> dict[str, Any]:
    return {"benchmark": "b", "lang": "en", "id": str(i), "sample": 0, "output": "x" * size}


def test_opening_a_log_waits_for_a_line_in_progress(tmp_path: Path) -> None:
    """A rank that opens the log while another is appending must not cut the other's
    unfinished line as a crash's leftover: it waits for the writer's lock."""
    path = tmp_path / "generations.jsonl"
    path.write_text(json.dumps(rec(0)) + "\n")
    line = (json.dumps(rec(1)) + "\n").encode()
    opened: dict[str, AppendLog] = {}
    with path.open("ab") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)
        writer.write(line[:10])
        writer.flush()
        reader = threading.Thread(target=lambda: opened.setdefault("log", AppendLog(path)))
        reader.start()
        reader.join(0.3)
        assert reader.is_alive()  # waiting for the lock
        writer.write(line[10:])
        writer.flush()
        fcntl.flock(writer.fileno(), fcntl.LOCK_UN)
    reader.join(10)
    log = opened["log"]
    assert log.repaired_bytes == 0 and len(log) == 2 and ("b", "en", "1", 0) in log


def test_an_append_cuts_the_half_line_of_a_killed_writer(tmp_path: Path) -> None:
    """A writer killed mid-line leaves half a line; the next append (by a process that had
    the log open all along) cuts it instead of gluing a record onto it."""
    path = tmp_path / "generations.jsonl"
    log = AppendLog(path)
    log.append([rec(0)])
    with path.open("ab") as killed:
        killed.write(json.dumps(rec(9)).encode()[:15])
    assert log.append([rec(1)]) == 1
    assert [r["id"] for r in read_jsonl(path)] == ["0", "1"] and log.repaired_bytes == 15


def _append_many(path: Path, first: int) -> None:
    log = AppendLog(path)
    for batch in range(20):
        log.append([rec(first + 10 * batch + i, size=20_000) for i in range(10)])


def test_processes_appending_at_once_keep_every_line(tmp_path: Path) -> None:
    path = tmp_path / "generations.jsonl"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_append_many, args=(path, k * 1000)) for k in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    ids = [r["id"] for r in read_jsonl(path)]  # a torn line would raise here
    assert sorted(map(int, ids)) == [k * 1000 + i for k in range(2) for i in range(200)]
