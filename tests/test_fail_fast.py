"""Nothing hangs, nothing is silently wrong (issue 22): scoring pools that cannot work stop
the run with one line, every number is range-checked, one writer per run directory, a run
refuses another problem set, text that cannot be written is cleaned where it enters, and
prompts that cannot fit the model are refused before anything is generated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from xling.errors import XlingError
from xling.records import Generation, generation_from_row, to_dict
from xling.scoring import FAILURES_TO_STOP, ScoringStopped, score_many
from xling.testing.cli import one_line_error
from xling.testing.cli import run_xling as xling
from xling.testing.records import generation


def _gen(i: int, output: str = "so \\boxed{3}", answer: str = "3") -> Generation:
    return generation(output, answer, id=str(i), benchmark="b")


# ------------------------------------------------------------------ scoring workers


@pytest.mark.parametrize("workers", [0, -1])
def test_score_many_refuses_no_workers_at_once(workers: int) -> None:
    # Before: pebble was started with no workers and waited forever.
    with pytest.raises(XlingError, match="at least 1 worker"):
        score_many([_gen(0)], workers=workers)


@pytest.mark.parametrize("timeout", [0, -1.0, float("inf"), float("nan")])
def test_score_many_refuses_a_timeout_that_is_no_timeout(timeout: float) -> None:
    # Before: 0 turned the hard timeout off (pebble's "none") and a power tower hung the run.
    with pytest.raises(XlingError, match="timeout must be a positive"):
        score_many([_gen(0)], timeout_s=timeout)


def _hang_forever() -> None:
    time.sleep(3600)


def _fail_to_start() -> None:
    raise ImportError("no module named lingua (simulated)")


def _run_with_watchdog(fn, seconds: float):  # type: ignore[no-untyped-def]
    """fn() in a thread; the test fails (rather than hangs) when it does not return."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: it hangs"
    return box


def test_workers_that_hang_at_start_stop_the_run_with_a_reason() -> None:
    # A language-ID import that blocks (rather than raising) hung `xling score` silently.
    box = _run_with_watchdog(
        lambda: list(
            score_many([_gen(i) for i in range(3)], timeout_s=1, stall_s=2, warm=_hang_forever)
        ),
        seconds=60,
    )
    assert isinstance(box.get("error"), ScoringStopped), box
    assert "no progress" in str(box["error"])


def test_workers_that_fail_to_start_stop_the_run_with_their_error() -> None:
    # On the GPU machine a failing initializer left a study hung for 500 s with no error.
    box = _run_with_watchdog(
        lambda: list(score_many([_gen(i) for i in range(40)], warm=_fail_to_start)),
        seconds=60,
    )
    error = box.get("error")
    assert isinstance(error, ScoringStopped), box
    assert "simulated" in str(error) and f"{FAILURES_TO_STOP} of {FAILURES_TO_STOP}" in str(error)


def _die(gen: Generation) -> object:
    os._exit(3)


def test_a_worker_that_dies_on_every_item_stops_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Before: rc 0 and 0 % accuracy without a warning. Workers are forked after the patch.
    monkeypatch.setattr("xling.scoring.score_generation", _die)
    box = _run_with_watchdog(
        lambda: list(score_many([_gen(i) for i in range(30)], workers=1)), seconds=120
    )
    assert isinstance(box.get("error"), ScoringStopped), box
    assert "failed in the workers" in str(box["error"])


def test_a_stopped_run_keeps_no_failed_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from xling.evaluate import score_stage

    run = tmp_path / "run"
    _write_run(run, [to_dict(_gen(i)) for i in range(30)])
    monkeypatch.setattr("xling.scoring.score_generation", _die)
    with pytest.raises(ScoringStopped):
        score_stage(run, workers=1, timeout_s=5, console=Console(file=open(os.devnull, "w")))  # noqa: SIM115
    # Nothing recorded as scored, so the rerun (after the cause is fixed) scores them all.
    scores = run / "scores.jsonl"
    assert not scores.exists() or not scores.read_text()


def test_a_rare_scorer_failure_costs_one_item(monkeypatch: pytest.MonkeyPatch) -> None:
    from xling import scoring

    real = scoring.score_generation

    def flaky(gen: Generation) -> object:
        if gen.id == "5":
            raise ValueError("a scorer bug on one output")
        return real(gen)

    monkeypatch.setattr("xling.scoring.score_generation", flaky)
    scores = list(score_many([_gen(i) for i in range(30)]))
    assert [s.status for s in scores].count("error") == 1
    assert sum(s.correct for s in scores) == 29


# ------------------------------------------------------------------ rows as they enter


def test_generation_rows_are_checked_and_cleaned() -> None:
    row = to_dict(_gen(0, output="bad \ud800 text\x00 \\boxed{42}", answer="42"))
    row["answer"] = 42  # an int gold crashed inside the error handler
    gen = generation_from_row(row, "g.jsonl, row 1")
    assert gen.answer == "42" and "\ud800" not in gen.output and "\x00" not in gen.output
    gen.output.encode("utf-8")  # writable now
    with pytest.raises(XlingError, match=r"g.jsonl, row 2: output must be text"):
        generation_from_row({**row, "output": None}, "g.jsonl, row 2")
    with pytest.raises(XlingError, match="lacks answer"):
        generation_from_row({k: v for k, v in row.items() if k != "answer"}, "x")
    with pytest.raises(XlingError, match="sample must be an integer"):
        generation_from_row({**row, "sample": "0"}, "x")


def _write_run(run: Path, rows: list[dict[str, object]], *, raw: bytes = b"") -> None:
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"model": "m"}), encoding="utf-8")
    body = "".join(json.dumps(r) + "\n" for r in rows).encode() + raw
    (run / "generations.jsonl").write_bytes(body)


def test_score_keeps_going_past_a_poisoned_row(tmp_path: Path) -> None:
    # A lone surrogate in generations.jsonl (json.dumps writes it as "\ud800") raised
    # UnicodeEncodeError at the same batch on every resume.
    rows = [to_dict(_gen(i, output=f"x \\boxed{{{i}}}", answer=str(i))) for i in range(3)]
    rows[1]["output"] = "so \ud800 \\boxed{1}"
    rows[2]["answer"] = 2
    run = tmp_path / "run"
    _write_run(run, rows)
    proc = xling("score", str(run), "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    scores = [json.loads(line) for line in (run / "scores.jsonl").read_text().splitlines()]
    assert [s["correct"] for s in scores] == [True, True, True]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--workers", "0"], ["at least 1 worker"]),
        (["--workers", "-1"], ["at least 1 worker"]),
        (["--timeout=0"], ["timeout must be a positive"]),
    ],
)
def test_score_command_refuses_settings_that_hang(
    tmp_path: Path, args: list[str], needles: list[str]
) -> None:
    run = tmp_path / "run"
    _write_run(run, [to_dict(_gen(0))])
    one_line_error(xling("score", str(run), *args, timeout=60), *needles)


@pytest.mark.parametrize(
    ("config", "raw", "needle"),
    [
        ('{"model": ', b"", "not valid JSON"),
        ("[1, 2]", b"", "expected a JSON object"),
        ('{"model": "m"}', b'{"benchmark": "\xff"}\n', "not UTF-8"),
        ('{"model": "m"}', b'{"benchmark": "b"}\n', "lacks"),
    ],
)
def test_score_command_says_what_is_wrong_with_a_run(
    tmp_path: Path, config: str, raw: bytes, needle: str
) -> None:
    run = tmp_path / "run"
    _write_run(run, [to_dict(_gen(0))], raw=raw)
    (run / "config.json").write_text(config, encoding="utf-8")
    one_line_error(xling("score", str(run), "--workers", "1", timeout=120), needle)


def test_error_text_is_never_read_as_markup(tmp_path: Path) -> None:
    run = tmp_path / "[bold]run[/]"
    one_line_error(xling("score", str(run), timeout=60), "[bold]run[/] is not a run directory")


# ------------------------------------------------------------------ numbers in range


@pytest.mark.parametrize(
    ("setting", "needle"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens (--max-new-tokens) must be >= 1"),
        ({"batch_size": 0}, "batch_size"),
        ({"n": 0}, "n (--n) must be >= 1"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_p": 2.0}, "top_p"),
        ({"top_p": 0.0}, "top_p"),
        ({"score_workers": 0}, "score_workers"),
        ({"score_timeout": 0.0}, "score_timeout"),
        ({"limit": 0}, "limit"),
        ({"out": " "}, "out (--out)"),
        ({"backend": "nope"}, "backend must be one of"),
    ],
)
def test_eval_settings_are_range_checked(setting: dict[str, object], needle: str) -> None:
    from xling.evaluate import eval_config

    with pytest.raises(XlingError) as info:
        eval_config(model="m", **setting)
    assert needle in str(info.value)


def test_eval_command_refuses_bad_numbers_in_one_line(tmp_path: Path) -> None:
    # `--n 0` used to say "generations.jsonl not found: run xling eval first".
    for args, needle in [
        (["--n", "0"], "n (--n) must be >= 1"),
        (["--temperature", "-1"], "temperature"),
        (["--out", ""], "out (--out)"),
    ]:
        proc = xling("eval", "--model", "m", "--bench", "synth", *args, timeout=60)
        one_line_error(proc, needle)


def test_train_settings_are_range_checked() -> None:
    from xling.config import load
    from xling.train.config import GRPOTrainConfig

    for setting, needle in [
        ({"temperature": 0.0}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"score_workers": 0}, "score_workers"),
        ({"vllm_gpu_memory_utilization": 2.0}, "vllm_gpu_memory_utilization"),
    ]:
        with pytest.raises(XlingError, match=needle):
            load(GRPOTrainConfig, flags=setting)


def test_a_disk_error_is_one_line(tmp_path: Path) -> None:
    # /proc refuses new directories even to root: the same path as a full or read-only disk.
    proc = xling("eval", "--model", "m", "--bench", "synth", "--out", "/proc/xling/run")
    one_line_error(proc, "/proc/xling")


# ------------------------------------------------------------------ one writer per run


def test_a_run_held_by_a_live_process_is_refused(tmp_path: Path) -> None:
    from xling.lock import RUN_LOCK, run_lock

    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / RUN_LOCK).write_text(f"{holder.pid}\nxling eval", encoding="utf-8")
        refused = pytest.raises(XlingError, match=rf"in use by another process \(pid {holder.pid}")
        with refused, run_lock(run):
            pass
    finally:
        holder.kill()
        holder.wait()
    with run_lock(run):  # its holder is gone: the stale lock is taken over
        assert (run / RUN_LOCK).read_text().startswith(str(os.getpid()))
        with run_lock(run):  # the holder itself may enter again
            pass
        assert (run / RUN_LOCK).exists()
    assert not (run / RUN_LOCK).exists()


@pytest.mark.slow
def test_two_evals_on_one_run_never_write_twice(tiny_model_dir: Path, tmp_path: Path) -> None:
    # Before: both exited 0 with every row twice (n_samples 400, a spurious pass@2 column).
    from xling.lock import RUN_LOCK

    out = tmp_path / "run"
    args = [
        sys.executable, "-m", "xling.cli", "eval", "--model", str(tiny_model_dir),
        "--bench", "synth", "--langs", "en,es", "--limit", "24", "--max-new-tokens", "48",
        "--batch-size", "2", "--out", str(out),
    ]  # fmt: skip
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / RUN_LOCK).exists() and first.poll() is None:
        assert time.monotonic() < deadline, "the first eval never took the run"
        time.sleep(0.05)
    second = subprocess.run(args, capture_output=True, text=True, timeout=300)
    _, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err
    if (out / "metrics.json").exists() and second.returncode == 0:
        pytest.skip("the first eval finished before the second started: no overlap to test")
    one_line_error(second, "in use by another process")
    keys = [
        (r["lang"], r["id"], r["sample"])
        for r in map(json.loads, (out / "generations.jsonl").read_text().splitlines())
    ]
    assert len(keys) == len(set(keys)) == 48


# ------------------------------------------------------------------ one problem set per run


def _fake_backend(monkeypatch: pytest.MonkeyPatch, text: str = "\\boxed{1}") -> None:
    from xling.backends.base import Output

    class Fake:
        name = "fake"

        def __init__(self, model: str, **_: object) -> None:
            pass

        def generate(self, requests, params):  # type: ignore[no-untyped-def]
            return [
                [Output(text=text, finish_reason="stop", n_tokens=3)] * params.n for _ in requests
            ]

        def close(self) -> None:
            pass

    monkeypatch.setattr("xling.evaluate.get_backend", lambda name, model, **o: Fake(model))


def test_resume_refuses_another_problem_set_unless_extended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from xling.evaluate import eval_config, run_eval

    _fake_backend(monkeypatch)
    console = Console(file=open(os.devnull, "w"))  # noqa: SIM115
    out = str(tmp_path / "run")
    base = {"model": "m", "bench": "synth", "out": out, "score_workers": 1}
    run_eval(eval_config(**base, langs="en", limit=4), console)
    # Before: config.json was rewritten and cells of different sizes averaged.
    with pytest.raises(XlingError, match=r"another problem set.*--extend"):
        run_eval(eval_config(**base, langs="en,es", limit=4), console)
    with pytest.raises(XlingError, match="can only grow"):
        run_eval(eval_config(**base, langs="en", limit=2), console, extend=True)
    metrics = run_eval(eval_config(**base, langs="en,es", limit=6), console, extend=True)
    cells = metrics["benchmarks"]["synth"]["langs"]
    assert {lang: cell["n_problems"] for lang, cell in cells.items()} == {"en": 6, "es": 6}
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["langs"] == "en,es" and config["limit"] == 6
    [extension] = config["extensions"]
    assert extension["langs"] == ["en", "en,es"] and extension["limit"] == [4, 6]
    # The same settings again resume as before and keep the record.
    run_eval(eval_config(**base, langs="es,en", limit=6), console)
    assert len(json.loads((tmp_path / "run" / "config.json").read_text())["extensions"]) == 1


def test_backend_output_that_cannot_be_written_is_cleaned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from xling.evaluate import eval_config, run_eval

    # An openai-compatible server can send "\ud800": it crashed every resume at one batch.
    _fake_backend(monkeypatch, text="so \ud800\x00 \\boxed{1}")
    console = Console(file=open(os.devnull, "w"))  # noqa: SIM115
    out = tmp_path / "run"
    run_eval(
        eval_config(model="m", bench="synth", langs="en", limit=2, out=str(out), score_workers=1),
        console,
    )
    outputs = [json.loads(line)["output"] for line in (out / "generations.jsonl").open()]
    assert outputs and all(o == "so \ufffd \\boxed{1}" for o in outputs)


# ------------------------------------------------------------------ prompts that cannot fit


def test_a_prompt_longer_than_the_context_is_refused_before_generating(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: a 2 MB question made eval try to allocate terabytes.
    from rich.console import Console

    from xling.evaluate import eval_config, run_eval

    data = tmp_path / "data.jsonl"
    rows = [
        {"question": "What is 1 + 1?", "answer": "2"},
        {"question": "Count: " + "one two " * 200_000, "answer": "3"},
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "run"
    console = Console(file=open(os.devnull, "w"))  # noqa: SIM115
    cfg = eval_config(
        model=str(tiny_model_dir),
        bench="jsonl",
        data=str(data),
        langs="en",
        out=str(out),
        max_new_tokens=8,
    )
    started = time.monotonic()
    with pytest.raises(XlingError, match=r"/en/1: a prompt of \d+ tokens .* context of"):
        run_eval(cfg, console)
    assert time.monotonic() - started < 60
    assert not (out / "generations.jsonl").exists() or not (out / "generations.jsonl").read_text()


# ------------------------------------------------------------------ bundled names


def test_bundled_model_names_resolve_locally() -> None:
    from xling.models import BUNDLED_MODELS, resolve_model

    assert Path(resolve_model("organism")) == BUNDLED_MODELS["organism"]
    assert (Path(resolve_model("organism")) / "config.json").is_file()
    assert resolve_model("Qwen/Qwen2.5-1.5B") == "Qwen/Qwen2.5-1.5B"


@pytest.mark.slow
def test_eval_takes_the_bundled_organism_by_name(tmp_path: Path) -> None:
    # Before: `--model organism` asked the model hub for 55 s, then failed.
    out = tmp_path / "run"
    proc = xling("eval", "--model", "organism", "--bench", "synth", "--langs", "en",
                 "--limit", "2", "--max-new-tokens", "32", "--score-workers", "1",
                 "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "config.json").read_text())["model"] == "organism"
    assert len((out / "scores.jsonl").read_text().splitlines()) == 2


def test_benchmark_text_that_cannot_be_written_is_cleaned(tmp_path: Path) -> None:
    from xling.benchmarks import BenchmarkSource, load_benchmark

    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"question": "What is 1\ud800 + 1?\x00", "answer": "2"}) + "\n")
    [problem] = load_benchmark(BenchmarkSource(bench="jsonl", data=str(data)).specs(["en"]), ["en"])
    assert problem.question == "What is 1\ufffd + 1?"
