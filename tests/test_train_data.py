"""The parallel training-set builder: aligned ids, both budget policies, the shuffled-id
control, solutions, files, and clear errors (xling.train.data, `xling data parallel`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import shared_data

from xling.benchmarks import BenchmarkSpec
from xling.errors import XlingError
from xling.extract import extract_answer
from xling.languages import PARALLEL_ORDER
from xling.records import Problem
from xling.train.data import (
    ParallelDataError,
    build_parallel,
    build_parallel_from_spec,
    langs_for_x,
    meta_path,
    per_lang_counts,
    read_train_meta,
    read_train_rows,
    write_parallel,
)
from xling.world import build_benchmark

LANGS = ("en", "es", "ru")


def problems(n: int, langs: tuple[str, ...] = LANGS, missing: dict | None = None) -> list:
    """n parallel problems per language; `missing` = {lang: ids to leave out}."""
    missing = missing or {}
    return [
        Problem("toy", str(i), lang, f"{lang} question {i}", str(i * 7))
        for lang in langs
        for i in range(n)
        if str(i) not in missing.get(lang, ())
    ]


def ids_by_lang(rows) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        out[r.lang].append(r.id)
    return dict(out)


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synth")
    build_benchmark(folder, n_train=30, n_test=2, seed=1, langs=("en", "es", "ru", "bn"))
    return folder / "train"


def synth_spec(folder: Path) -> BenchmarkSpec:
    from xling.benchmarks import FieldMap

    return BenchmarkSpec("jsonl", str(folder), name="synth", fields=FieldMap(id="id"))


# ------------------------------------------------------------------ alignment and budgets


def test_per_lang_budget_aligns_ids_and_multiplies_rows() -> None:
    pset = build_parallel(problems(20), LANGS, 8, seed=3)
    by_lang = ids_by_lang(pset.rows)
    assert list(by_lang) == list(LANGS)
    assert all(len(ids) == 8 for ids in by_lang.values())
    assert len(pset.rows) == 8 * len(LANGS)  # X = 2 parallel languages: rows x (X + 1)
    assert by_lang["en"] == by_lang["es"] == by_lang["ru"]  # same problems, same order
    for row in pset.rows:  # every row is the source's problem in that language
        assert row.question == f"{row.lang} question {row.id}"
        assert row.answer == str(int(row.id) * 7)
    meta = pset.meta
    assert meta["budget"] == "per-lang" and meta["shuffle_ids"] is False
    assert meta["num_parallel_langs"] == 2 and meta["n_problems"] == 8
    assert meta["rows_per_lang"] == {"en": 8, "es": 8, "ru": 8}


def test_fixed_budget_keeps_the_total_and_stays_aligned() -> None:
    pset = build_parallel(problems(20), LANGS, 10, seed=3, budget="fixed")
    by_lang = ids_by_lang(pset.rows)
    assert len(pset.rows) == 10  # the same total as English-only training with n = 10
    assert [len(by_lang[code]) for code in LANGS] == [4, 3, 3]
    # Every language takes a prefix of the same id order: the shorter lists are prefixes.
    assert by_lang["es"] == by_lang["en"][:3] and by_lang["ru"] == by_lang["en"][:3]
    assert pset.meta["budget"] == "fixed" and pset.meta["n_rows"] == 10
    assert per_lang_counts(7, 1, "fixed") == [7]
    with pytest.raises(ParallelDataError, match="fewer than one problem"):
        per_lang_counts(2, 3, "fixed")
    with pytest.raises(ParallelDataError, match="unknown budget"):
        per_lang_counts(2, 3, "balanced")


@pytest.mark.parametrize("budget", ["per-lang", "fixed"])
def test_shuffled_control_breaks_alignment(budget: str) -> None:
    parallel = build_parallel(problems(40), LANGS, 9, seed=5, budget=budget)
    control = build_parallel(problems(40), LANGS, 9, seed=5, budget=budget, shuffle_ids=True)
    par, ctl = ids_by_lang(parallel.rows), ids_by_lang(control.rows)
    # Same row counts per language: only the alignment differs.
    assert {k: len(v) for k, v in par.items()} == {k: len(v) for k, v in ctl.items()}
    assert ctl["en"] == par["en"]  # English keeps the parallel set's problems
    sets = [set(ids) for ids in ctl.values()]
    for i, a in enumerate(sets):
        for b in sets[i + 1 :]:
            assert not a & b  # no problem shared between any two languages
    assert control.meta["shuffle_ids"] is True


def test_selection_is_seeded_and_nested() -> None:
    a = build_parallel(problems(50), LANGS, 10, seed=1)
    b = build_parallel(problems(50), LANGS, 10, seed=1)
    c = build_parallel(problems(50), LANGS, 10, seed=2)
    small = build_parallel(problems(50), LANGS, 4, seed=1)
    assert a.rows == b.rows
    assert ids_by_lang(a.rows)["en"] != ids_by_lang(c.rows)["en"]
    assert ids_by_lang(small.rows)["en"] == ids_by_lang(a.rows)["en"][:4]
    assert ids_by_lang(a.rows)["en"] != [str(i) for i in range(10)]  # shuffled, not source order


def test_only_ids_present_in_every_language_are_used() -> None:
    source = problems(6, missing={"ru": {"0", "1"}, "es": {"5"}})
    pset = build_parallel(source, LANGS, 3, seed=0)
    used = {r.id for r in pset.rows}
    assert used <= {"2", "3", "4"}
    with pytest.raises(ParallelDataError, match="need 4 problems but the source has 3"):
        build_parallel(source, LANGS, 4, seed=0)


def test_errors_on_languages_absent_from_the_source() -> None:
    with pytest.raises(ParallelDataError, match=r"no problems in bn, th; languages found: en"):
        build_parallel(problems(5), ("en", "es", "ru", "bn", "th"), 2)
    with pytest.raises(XlingError, match="unknown language code"):
        build_parallel(problems(5), ("en", "xx"), 2)


def test_shuffled_control_needs_enough_distinct_problems() -> None:
    with pytest.raises(ParallelDataError, match="distinct problems for the shuffled control"):
        build_parallel(problems(10), LANGS, 4, shuffle_ids=True)  # needs 12
    build_parallel(problems(12), LANGS, 4, shuffle_ids=True)


def test_langs_for_x_follows_the_papers_order() -> None:
    assert langs_for_x(0) == ("en",)
    assert langs_for_x(2) == ("en", "es", "ru")
    assert langs_for_x(7) == ("en", *PARALLEL_ORDER)
    with pytest.raises(ParallelDataError, match="between 0 and 7"):
        langs_for_x(8)


# ------------------------------------------------------------------ real loaders and files


def test_from_a_jsonl_source_with_worked_solutions(synth_dir: Path, tmp_path: Path) -> None:
    pset = build_parallel_from_spec(synth_spec(synth_dir), "en,es,bn", 6, seed=0)
    assert len(pset.rows) == 18
    assert all(r.solution and "\\boxed{" in r.solution for r in pset.rows)
    by_key = {(r.lang, r.id): r for r in pset.rows}
    for r in pset.rows:  # each solution is the same problem's and ends in its answer
        assert extract_answer(r.solution, r.lang).answer == r.answer
        assert by_key["en", r.id].answer == r.answer
    assert pset.meta["solutions_per_lang"] == {"en": 6, "es": 6, "bn": 6}

    out = tmp_path / "train.jsonl"
    write_parallel(pset, out)
    rows = read_train_rows(out)
    assert rows == list(pset.rows)
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert first["budget"] == "per-lang" and first["shuffle_ids"] is False
    meta = read_train_meta(out)
    assert meta["langs"] == ["en", "es", "bn"] and meta["source"]["kind"] == "jsonl"
    meta_path(out).unlink()  # without the sidecar the rows still tell the policy
    meta = read_train_meta(out)
    assert meta["budget"] == "per-lang" and meta["num_parallel_langs"] == 2


def test_source_missing_a_language_file_is_an_error(synth_dir: Path) -> None:
    with pytest.raises(XlingError, match=r"missing synth_th\.jsonl"):
        build_parallel_from_spec(synth_spec(synth_dir), "en,th", 2)


def test_mgsm_has_no_solutions_and_limits_n() -> None:
    folder = shared_data("mgsm")
    pset = build_parallel_from_spec(BenchmarkSpec("mgsm", str(folder)), "en,zh", 250)
    assert len(pset.rows) == 500 and all(r.solution is None for r in pset.rows)
    with pytest.raises(ParallelDataError, match="need 251 problems but the source has 250"):
        build_parallel_from_spec(BenchmarkSpec("mgsm", str(folder)), "en,zh", 251)


def test_bad_training_rows_are_reported_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = {"id": "1", "lang": "en", "question": "q", "answer": "1"}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "lang": "xx"}) + "\n")
    with pytest.raises(XlingError, match=r"bad\.jsonl:2: unknown language code 'xx'"):
        read_train_rows(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(XlingError, match=r"bad\.jsonl:2: duplicate id '1' for lang en"):
        read_train_rows(path)
    with pytest.raises(XlingError, match="xling data parallel"):
        read_train_rows(tmp_path / "absent.jsonl")


# ------------------------------------------------------------------ the command


def xling(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xling.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_cli_builds_the_set(synth_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "x1.jsonl"
    base = [
        "data",
        "parallel",
        "--bench",
        "jsonl",
        "--data",
        str(synth_dir),
        "--bench-name",
        "synth",
        "--id-field",
        "id",
    ]
    proc = xling(*base, "--x", "1", "--n", "5", "--budget", "fixed", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "5 rows" in proc.stdout and "X = 1" in proc.stdout
    rows = read_train_rows(out)
    assert [r.lang for r in rows] == ["en"] * 3 + ["es"] * 2
    assert json.loads(meta_path(out).read_text())["budget"] == "fixed"

    proc = xling(*base, "--langs", "en,th", "--out", str(tmp_path / "th.jsonl"))
    assert proc.returncode == 2 and "missing synth_th.jsonl" in proc.stderr
    proc = xling(*base, "--langs", "en", "--x", "1", "--out", str(tmp_path / "y.jsonl"))
    assert proc.returncode == 2 and "exactly one of --langs" in proc.stderr
