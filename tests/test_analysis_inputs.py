"""Nothing is silently wrong in compare / fit / report / parscale fit: contradictory or
unpaired scores, unreadable inputs and out-of-range options are refused with one line, and
tables stay greppable in a pipe (issue 22)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.table import Table
from typer.testing import CliRunner

from xling.analysis.study import load_study
from xling.analysis.synthetic import make_study, run_records, write_run
from xling.analysis.transfer import compare
from xling.cli import app
from xling.cli.output import PIPE_WIDTH, make_console
from xling.errors import XlingError

LANGS = {"en": 0.5, "es": 0.4, "sw": 0.2}
TRAINED = {"en": 0.7, "es": 0.6, "sw": 0.4}


def cli_error(*args: str) -> str:
    """The message a failing command gives the user, asserted to be one line and no
    traceback. `xling`'s main() prints an XlingError escaping a command as "error: ...";
    under CliRunner it arrives as the result's exception instead."""
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code != 0, res.output
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        assert isinstance(res.exception, XlingError), repr(res.exception)
        message = str(res.exception)
    else:
        assert res.exit_code == 2, res.output
        message = res.stderr.strip()
        assert message.startswith("error: "), message
    assert "Traceback" not in message and "\n" not in message, message
    return message


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    """A base run and a trained run (train.json: en) over the same 40 problem ids."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal(40)
    base = write_run(tmp_path / "base", run_records(LANGS, n_problems=40, z=z, rng=rng))
    trained = write_run(
        tmp_path / "trained",
        run_records(TRAINED, n_problems=40, z=z, rng=rng),
        train_langs=["en"],
    )
    return base, trained


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "scores.jsonl").read_text("utf-8").splitlines()]


def _write_records(run: Path, records: list[dict]) -> None:
    text = "".join(json.dumps(r) + "\n" for r in records)
    (run / "scores.jsonl").write_text(text, encoding="utf-8")


# ------------------------------------------------------------------ duplicates and pairing


def test_duplicate_scores_that_disagree_are_refused(runs):
    base, trained = runs
    records = _records(trained)
    flipped = dict(records[0], correct=not records[0]["correct"])
    _write_records(trained, [*records, flipped])
    message = cli_error("compare", str(base), str(trained), "--n-boot", "20")
    assert str(trained / "scores.jsonl") in message
    first = records[0]
    assert f"lang {first['lang']!r}, id {first['id']!r}, sample {first['sample']}" in message
    assert "correct" in message


def test_identical_duplicate_scores_are_collapsed(runs):
    base, trained = runs
    before = compare(base, trained, n_boot=50)
    records = _records(trained)
    _write_records(trained, records + records[:15])
    after = compare(base, trained, n_boot=50)
    assert after.mti.value == pytest.approx(before.mti.value)
    assert after.row("en").trained_acc.value == pytest.approx(before.row("en").trained_acc.value)


def test_a_string_flag_is_not_read_as_true(runs):
    base, trained = runs
    records = _records(trained)
    records[3]["correct"] = "false"  # bool("false") is True: it would count as solved
    _write_records(trained, records)
    message = cli_error("compare", str(base), str(trained), "--n-boot", "20")
    assert f"{trained / 'scores.jsonl'}:4" in message and "correct must be true or false" in message


def test_runs_without_a_shared_problem_are_refused(tmp_path):
    rng = np.random.default_rng(1)
    base = write_run(tmp_path / "base", run_records(LANGS, n_problems=30, rng=rng))
    other = write_run(
        tmp_path / "other",
        run_records(TRAINED, n_problems=30, rng=rng, id_offset=1000),
        train_langs=["en"],
    )
    message = cli_error("compare", str(base), str(other), "--n-boot", "20")
    assert "share no problem" in message and "base" in message and "other" in message


def test_a_language_without_shared_problems_is_named_and_left_out(runs):
    base, trained = runs
    records = _records(trained)
    for rec in records:
        if rec["lang"] == "sw":
            rec["id"] = str(int(rec["id"]) + 1000)
    _write_records(trained, records)
    res = compare(base, trained, n_boot=50)
    assert [r.lang for r in res.rows] == ["en", "es"]
    assert any(
        "no problem id scored in every run" in w and w.endswith(": sw") for w in res.warnings
    )
    out = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["compare", str(base), str(trained), "--n-boot", "50"]
    )
    assert out.exit_code == 0, out.output
    assert "left out: sw" in out.output and "Swahili" not in out.output


# ------------------------------------------------------------------ unreadable inputs


def _break(run: Path, name: str, content: bytes) -> Path:
    path = run / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("metrics.json", b'{"model": "m\xff"}', "metrics.json:1: not UTF-8 text"),
        ("metrics.json", b'{"model": ', "metrics.json: not valid JSON"),
        ("metrics.json", b'{"model": 3}', "metrics.json: model must be a string"),
        ("train.json", b'{"train_langs": ["en"]}\n\xfe', "train.json:2: not UTF-8 text"),
        ("train.json", b'{"train_langs": 5}', "train.json: train_langs must be a list"),
        ("train.json", b'{"train_langs": ["en", 7]}', "train.json: train_langs must be a list"),
        ("train.json", b"[1, 2]", "train.json: expected a JSON object"),
    ],
)
def test_broken_run_files_are_one_line_errors(runs, name, content, expected):
    base, trained = runs
    _break(trained, name, content)
    for command in (
        ["compare", str(base), str(trained), "--n-boot", "20"],
        ["fit", str(trained), "--base", str(base), "--x", "1", "--n-boot", "20"],
        ["report", str(trained), "--base", str(base), "--out", str(trained.parent / "r")],
    ):
        message = cli_error(*command)
        assert expected in message and str(trained) in message, (command, message)


def test_missing_runs_and_broken_study_files_are_one_line_errors(tmp_path):
    missing = tmp_path / "nowhere"
    assert "not a directory" in cli_error("compare", str(missing), str(missing))
    assert "neither a study folder" in cli_error("report", str(missing))
    study = make_study(tmp_path / "study", xs=(1, 2), n_problems=20)
    (study / "study.json").write_text('{"runs": "X1"}', encoding="utf-8")
    message = cli_error("fit", str(study), "--n-boot", "20")
    assert "study.json: runs must be a list of folder names" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"X,value\n1,2.0\n2,\xe9\n", ":3: not UTF-8 text"),
        (b"X,value\n1,2.0,9\n", ":2: 3 fields but the header has 2"),
        (b"X,value\n-1,2.0\n", ":2: X=-1"),
        (b"", "empty CSV"),
    ],
)
def test_broken_fit_csv_is_a_one_line_error(tmp_path, content, expected):
    path = tmp_path / "points.csv"
    path.write_bytes(content)
    message = cli_error("fit", "--csv", str(path))
    assert str(path) in message and expected in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"N,P,loss\n1e9,1,2.5\xff\n", ":2: not UTF-8 text"),
        (b"N,P,loss\n1e9,1,2.5\n1e9,1.5,2.4\n", ":3: P=1.5"),
        (b"N,P,loss\n-1e9,1,2.5\n", ":2: N=-1e+09"),
        (b"N,P,loss\n1e9,2,0\n", ":2: loss=0"),
        (b"N,P,loss\n1e9,2,2.5,7\n", ":2: 4 fields"),
    ],
)
def test_broken_parscale_csv_is_a_one_line_error(tmp_path, content, expected):
    path = tmp_path / "points.csv"
    path.write_bytes(content)
    message = cli_error("parscale", "fit", "--csv", str(path))
    assert str(path) in message and expected in message


def test_folders_and_missing_files_given_as_csv_are_one_line_errors(tmp_path):
    for command in (["fit", "--csv"], ["parscale", "fit", "--csv"]):
        assert "no such file" in cli_error(*command, str(tmp_path / "none.csv"))
        assert "cannot be read" in cli_error(*command, str(tmp_path))


def test_an_unwritable_output_is_a_one_line_error(runs, tmp_path):
    base, trained = runs
    (tmp_path / "taken").mkdir()
    message = cli_error(
        "compare", str(base), str(trained), "--n-boot", "20", "--json", str(tmp_path / "taken")
    )
    assert str(tmp_path / "taken") in message


# ------------------------------------------------------------------ numeric options


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--n-boot", "-5", "--n-boot must be >= 1"),
        ("--n-boot", "0", "--n-boot must be >= 1"),
        ("--seed", "-1", "--seed must be a whole number >= 0"),
        ("--ci", "0", "--ci must lie strictly between 0 and 1"),
        ("--ci", "1.5", "--ci must lie strictly between 0 and 1"),
        ("--ci", "nan", "--ci must lie strictly between 0 and 1"),
    ],
)
def test_bootstrap_options_are_range_checked(runs, tmp_path, option, value, expected):
    base, trained = runs
    points = tmp_path / "points.csv"
    points.write_text("X,value\n1,1\n2,2\n3,3\n4,4\n", encoding="utf-8")
    for command in (
        ["compare", str(base), str(trained)],
        ["fit", str(trained), "--base", str(base), "--x", "1"],
        ["fit", "--csv", str(points)],
        ["report", str(trained), "--base", str(base), "--out", str(tmp_path / "r")],
    ):
        assert expected in cli_error(*command, option, value), command
    assert not (tmp_path / "r").exists()  # refused before anything is written


def test_too_few_resamples_for_the_level_is_warned_about(runs):
    base, trained = runs
    res = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["compare", str(base), str(trained), "--n-boot", "20"]
    )
    assert res.exit_code == 0, res.output
    assert "--n-boot 20 is too few for 95% intervals" in res.output
    res = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["compare", str(base), str(trained), "--n-boot", "40"]
    )
    assert res.exit_code == 0 and "too few" not in res.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--n-boot", "-1"], "--n-boot must be a whole number >= 0"),
        (["--seed", "-2"], "--seed must be a whole number >= 0"),
        (["--ci", "1"], "--ci must lie strictly between 0 and 1"),
    ],
)
def test_parscale_fit_options_are_range_checked(tmp_path, args, expected):
    path = tmp_path / "points.csv"
    path.write_text("N,P,loss\n1e9,1,2.5\n", encoding="utf-8")
    assert expected in cli_error("parscale", "fit", "--csv", str(path), *args)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--prefix-tokens", "0"], "--prefix-tokens must be >= 1"),
        (["--new-tokens", "1"], "--new-tokens must be >= 2"),
        (["--k", "-2"], "k·ln P + 1 must be > 0"),
        (["--k", "inf"], "k·ln P + 1 must be > 0"),
    ],
)
def test_parscale_cost_options_are_range_checked(args, expected):
    assert expected in cli_error("parscale", "cost", "--shape", "tiny", *args)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--max-new-tokens", "0"], "--max-new-tokens must be >= 1"),
        (["--score-workers", "-1"], "--score-workers must be >= 1"),
        (["--lr", "0"], "--lr must be a finite number > 0"),
    ],
)
def test_parscale_heads_options_are_range_checked(tmp_path, args, expected):
    out = tmp_path / "heads"
    assert expected in cli_error("parscale", "organism-heads", "--out", str(out), *args)
    assert not out.exists()


# ------------------------------------------------------------------ --train-langs en


def test_a_single_training_language_is_one_code_not_letters(runs, tmp_path):
    base, trained = runs
    (trained / "train.json").write_text('{"train_langs": ["en", "es"]}', encoding="utf-8")
    sd = load_study([trained], base, train_langs="en", n_boot=0)
    assert sd.compares[0] is not None and sd.compares[0].seen == ["en"]
    res = CliRunner(env={"COLUMNS": "200"}).invoke(
        app,
        [
            "report",
            str(trained),
            "--base",
            str(base),
            "--train-langs",
            "en",
            "--out",
            str(tmp_path / "r"),
            "--n-boot",
            "50",
        ],
    )
    assert res.exit_code == 0, res.output
    with (tmp_path / "r" / "tables" / "runs.csv").open(encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["train_langs"] == "en"  # the override, not train.json's en es


# ------------------------------------------------------------------ tables in pipes


def test_benchmarks_table_survives_a_pipe():
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    proc = subprocess.run(
        [sys.executable, "-m", "xling.cli", "benchmarks"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    lines = [line for line in proc.stdout.splitlines() if "gpqa-diamond" in line]
    # The preset's row names it whole, and the row's other cells (its Hugging Face source)
    # are on that same line instead of wrapped below it.
    assert any("gpqa-diamond" in line and "Idavidrein/gpqa" in line for line in lines), lines
    assert "\x1b[" not in proc.stdout


def test_plain_console_keeps_long_rows_on_one_line():
    buf = io.StringIO()
    console = make_console(file=buf)
    table = Table(title="points")
    table.add_column("name", no_wrap=True)
    table.add_column("note")
    long_note = " ".join(f"word{i}" for i in range(120))
    table.add_row("a-rather-long-benchmark-name", long_note)
    console.print(table)
    console.print("[bold red]error:[/] plain")
    out = buf.getvalue()
    (row,) = [line for line in out.splitlines() if "a-rather-long-benchmark-name" in line]
    assert "word0" in row and "word119" in row
    assert "\x1b[" not in out and "error: plain" in out


def test_a_terminal_keeps_rich_styling():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    console = make_console(file=Tty())
    assert console.is_terminal and console.width < PIPE_WIDTH
