"""`xling eval` end to end on the tiny Qwen2 model: all 11 languages, resume after SIGKILL,
re-scoring, and clear errors on bad input. Runs the real CLI in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xling.languages import ALL_CODES
from xling.world import iter_records

N_PER_LANG = 2


@pytest.fixture(scope="module")
def mgsm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small MGSM-format folder (mgsm_<lang>.tsv), written from the synthetic benchmark."""
    folder = tmp_path_factory.mktemp("mgsm")
    for lang in ALL_CODES:
        rows = iter_records("test", N_PER_LANG, seed=3, langs=[lang])
        lines = [
            f"{r['question'].replace(chr(9), ' ').replace(chr(10), ' ')}\t{r['answer']}"
            for r in rows
        ]
        (folder / f"mgsm_{lang}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def xling(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "xling.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"xling {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def eval_args(model: Path, data: Path, out: Path, *extra: str, batch_size: int = 2) -> list[str]:
    return [
        "eval",
        "--model",
        str(model),
        "--bench",
        "mgsm",
        "--data",
        str(data),
        "--langs",
        "all",
        "--max-new-tokens",
        "12",
        "--batch-size",
        str(batch_size),
        "--out",
        str(out),
        *extra,
    ]


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@pytest.mark.slow
def test_eval_all_languages_writes_the_run(
    tiny_model_dir: Path, mgsm_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    sampled = (
        "--n",
        "2",
        "--temperature",
        "0.8",
        "--chat-template-kwargs",
        "enable_thinking=false",
    )
    proc = xling(*eval_args(tiny_model_dir, mgsm_dir, out, *sampled))
    assert "macro average" in proc.stdout and "Bengali (bn)" in proc.stdout
    for name in ("config.json", "generations.jsonl", "scores.jsonl", "metrics.json", "metrics.csv"):
        assert (out / name).exists(), name
    config = json.loads((out / "config.json").read_text())
    assert config["n"] == 2 and config["model"] == str(tiny_model_dir)
    assert config["chat_template_kwargs"] == {"enable_thinking": False}
    metrics = json.loads((out / "metrics.json").read_text())
    cells = metrics["benchmarks"]["mgsm"]["langs"]
    assert list(cells) == list(ALL_CODES)
    for cell in cells.values():
        assert cell["n_problems"] == N_PER_LANG and cell["n_samples"] == 2 * N_PER_LANG
        assert 0.0 <= cell["accuracy"] <= 1.0 and "pass@2" in cell
    scores = [json.loads(x) for x in lines(out / "scores.jsonl")]
    assert len(scores) == 2 * N_PER_LANG * len(ALL_CODES)
    assert {"detected_lang", "lang_confidence", "off_target", "format_ok"} <= set(scores[0])

    # A rerun of the same command generates nothing new.
    before = (out / "generations.jsonl").read_bytes()
    proc = xling(*eval_args(tiny_model_dir, mgsm_dir, out, *sampled))
    assert "already in generations.jsonl" in proc.stdout
    assert (out / "generations.jsonl").read_bytes() == before

    # Changing what is generated in the same directory is refused, not mixed in.
    proc = xling(*eval_args(tiny_model_dir, mgsm_dir, out, "--n", "3"), check=False)
    assert proc.returncode == 2 and "other settings" in proc.stderr


@pytest.mark.slow
def test_resume_after_sigkill_gives_the_same_metrics(
    tiny_model_dir: Path, mgsm_dir: Path, tmp_path: Path
) -> None:
    """Sampled, and resumed at another batch size: each sample is seeded by its problem, so
    the resumed run holds exactly what an uninterrupted one does."""
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    sampled = ("--temperature", "0.8")
    xling(*eval_args(tiny_model_dir, mgsm_dir, reference, *sampled))

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xling.cli",
            *eval_args(tiny_model_dir, mgsm_dir, killed, *sampled),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gen_path = killed / "generations.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if gen_path.exists() and len(lines(gen_path)) >= 4:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written_before_kill = lines(gen_path)
    total = N_PER_LANG * len(ALL_CODES)
    assert 4 <= len(written_before_kill) < total

    xling(*eval_args(tiny_model_dir, mgsm_dir, killed, *sampled, batch_size=3))
    assert json.loads((killed / "config.json").read_text())["batch_size"] == 3
    after = lines(gen_path)
    assert after[: len(written_before_kill)] == written_before_kill  # nothing regenerated
    keys = [(r["lang"], r["id"], r["sample"]) for r in map(json.loads, after)]
    assert len(keys) == len(set(keys)) == total
    got = json.loads((killed / "metrics.json").read_text())
    want = json.loads((reference / "metrics.json").read_text())
    assert got["benchmarks"] == want["benchmarks"]

    def outputs(run: Path) -> dict[tuple[str, str], str]:
        recs = map(json.loads, lines(run / "generations.jsonl"))
        return {(r["lang"], r["id"]): r["output"] for r in recs}

    assert outputs(killed) == outputs(reference)

    # `xling score` re-scores from generations alone and lands on the same metrics.
    (killed / "scores.jsonl").write_text("")
    xling("score", str(killed))
    assert json.loads((killed / "metrics.json").read_text())["benchmarks"] == want["benchmarks"]


@pytest.mark.slow
def test_malformed_rows_fail_with_file_and_line(tiny_model_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "bad"
    data.mkdir()
    (data / "mgsm_en.tsv").write_text("What is 2+2?\t4\nno tab on this line\n", encoding="utf-8")
    proc = xling(*eval_args(tiny_model_dir, data, tmp_path / "r", "--langs", "en"), check=False)
    assert proc.returncode == 2
    assert "mgsm_en.tsv:2" in proc.stderr and "Traceback" not in proc.stderr

    proc = xling(*eval_args(tiny_model_dir, data, tmp_path / "r2", "--langs", "en", "--skip-bad"))
    assert "skipped 1 malformed row" in proc.stdout


def test_resume_checks_what_changes_the_outputs(tmp_path: Path) -> None:
    """A resumed run must keep every setting that changes what is generated, not the batch
    size; a config.json written before a setting existed holds that setting's default."""
    from dataclasses import replace

    from xling.errors import XlingError
    from xling.evaluate import GENERATIONS, EvalConfig, prepare_run_dir

    cfg = EvalConfig(model="m", out=str(tmp_path), temperature=0.7, n=2)
    prepare_run_dir(cfg)
    (tmp_path / GENERATIONS).write_text("")
    prepare_run_dir(replace(cfg, batch_size=64, score_workers=1))
    changes = {
        "seed": 1,
        "temperature": 0.6,
        "top_p": 0.9,
        "max_new_tokens": 5,
        "n": 3,
        "model": "other",
        "revision": "v2",
        "chat_template_kwargs": {"enable_thinking": False},
        "system_prompt": "Be brief.",
    }
    for name, value in changes.items():
        with pytest.raises(XlingError, match=f"other settings \\({name}: "):
            prepare_run_dir(replace(cfg, **{name: value}))
    config = json.loads((tmp_path / "config.json").read_text())
    for name in ("revision", "chat_template_kwargs", "trust_remote_code"):
        del config[name]
    (tmp_path / "config.json").write_text(json.dumps(config))
    prepare_run_dir(cfg)
    assert json.loads((tmp_path / "config.json").read_text())["chat_template_kwargs"] == {}


def test_unknown_language_and_missing_data(tiny_model_dir: Path, tmp_path: Path) -> None:
    proc = xling(
        *eval_args(tiny_model_dir, tmp_path, tmp_path / "r", "--langs", "en,xx"), check=False
    )
    assert proc.returncode == 2 and "unknown language code 'xx'" in proc.stderr
    assert "en, es, ru" in proc.stderr
    proc = xling(
        *eval_args(tiny_model_dir, tmp_path / "nope", tmp_path / "r", "--langs", "en"), check=False
    )
    assert proc.returncode == 2 and "nope" in proc.stderr
