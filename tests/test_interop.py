"""Other tools' results in and out (docs/interop.md), on files the real tools wrote
(tests/data/interop/, made by bench/interop_fixtures.py; SOURCE.md says how): lm-eval runs
of the organism and four GRPO-trained copies, lighteval details and PolyMath output of the
same generations, imported, compared, fitted, reported and exported back."""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from xling.errors import XlingError
from xling.interop import ImportOptions, TaskNames, export_lm_eval, import_run, train_metadata
from xling.jsonl import read_jsonl
from xling.testing.cli import one_line_error
from xling.testing.cli import run_xling as xling

DATA = Path(__file__).parent / "data" / "interop"
LM_EVAL = DATA / "lm-eval"
TRAINED = ("X1", "X2", "X3", "X4")
MGSM = ImportOptions(bench="mgsm")


def results_of(run: str) -> dict:
    (path,) = (LM_EVAL / run).glob("results_*.json")
    return json.loads(path.read_text(encoding="utf-8"))


def sample_lines(run: str, lang: str, flt: str = "flexible-extract") -> dict[int, dict]:
    (path,) = (LM_EVAL / run).glob(f"samples_xling_mgsm_{lang}_*.jsonl")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {s["doc_id"]: s for s in lines if s["filter"] == flt}


def metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text(encoding="utf-8"))


def verdicts(run: Path) -> dict[tuple[str, str], bool]:
    return {(r["lang"], r["id"]): r["correct"] for r in read_jsonl(run / "scores.jsonl")}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """base/ and X1..X4/ imported from the real lm-eval runs, as a study folder."""
    root = tmp_path_factory.mktemp("study")
    import_run("lm-eval", [LM_EVAL / "base"], root / "base", MGSM, workers=1)
    for name in TRAINED:
        train = train_metadata(None, LM_EVAL / f"{name}-train.json")
        import_run("lm-eval", [LM_EVAL / name], root / name, MGSM, train=train, workers=1)
    return root


# ------------------------------------------------------------------ lm-eval import


def test_an_imported_run_holds_the_tools_samples(study: Path) -> None:
    lines = sample_lines("base", "es")
    gens = {(g["lang"], g["id"]): g for g in read_jsonl(study / "base" / "generations.jsonl")}
    assert len(gens) == 3 * len(lines)
    for doc_id, line in lines.items():
        gen = gens[("es", str(doc_id))]
        assert gen["benchmark"] == "mgsm"
        assert gen["output"] == line["resps"][0][0]
        assert gen["prompt"] == line["arguments"]["gen_args_0"]["arg_0"]
        assert gen["answer"] == line["target"] == str(line["doc"]["answer"])
        assert gen["question"] == line["doc"]["question"]
    config = json.loads((study / "base" / "config.json").read_text())
    assert config["imported"]["tool"] == "lm-eval"
    assert config["imported"]["tool_version"] == results_of("base")["lm_eval_version"]
    assert config["model"] == results_of("base")["model_name"]
    assert config["max_new_tokens"] == 128 and config["temperature"] == 0.0
    assert config["langs"] == "en,es,sw" and config["n"] == 1
    env = json.loads((study / "base" / "env.json").read_text())
    assert env["imported_from"] == "lm-eval" and env["model"]["imported"]
    assert env["data"]["files"] and all(len(h) == 64 for h in env["data"]["files"].values())


@pytest.mark.parametrize("run", ["base", *TRAINED])
def test_xling_rescore_agrees_with_lm_eval_and_matches_its_accuracy(study: Path, run: str) -> None:
    report = json.loads((study / run / "import.json").read_text())
    ours = verdicts(study / run)
    agree = compared = 0
    for cell in report["cells"]:
        lang = cell["lang"]
        lines = sample_lines(run, lang)
        theirs = {str(d): s["exact_match"] == 1.0 for d, s in lines.items()}
        # What lm-eval recorded per sample, and what its results file says for the task.
        recorded = results_of(run)["results"][f"xling_mgsm_{lang}"]["exact_match,flexible-extract"]
        assert cell["source_accuracy"] == pytest.approx(sum(theirs.values()) / len(theirs))
        assert cell["reported"] == pytest.approx(recorded)
        same = sum(ours[(lang, pid)] == right for pid, right in theirs.items())
        assert cell["agree"] == same and cell["compared"] == len(theirs)
        agree, compared = agree + same, compared + len(theirs)
        if same == len(theirs):  # then xling's accuracy is lm-eval's, to the sample
            accuracy = metrics(study / run)["benchmarks"]["mgsm"]["langs"][lang]["accuracy"]
            assert accuracy == pytest.approx(recorded)
    assert (report["agree"], report["compared"]) == (agree, compared)
    # On these files the two scorers judge every response alike: both read the \boxed{}.
    assert agree == compared == 18


def test_the_tools_verdicts_are_kept_beside_xlings(study: Path) -> None:
    rows = {(r["lang"], r["id"]): r for r in read_jsonl(study / "base" / "source_scores.jsonl")}
    strict = sample_lines("base", "en", "strict-match")
    for doc_id, line in sample_lines("base", "en").items():
        row = rows[("en", str(doc_id))]
        assert row["tool"] == "lm-eval" and row["metric"] == "exact_match,flexible-extract"
        assert row["correct"] is (line["exact_match"] == 1.0)
        assert row["pred"] == line["filtered_resps"][0]
        assert row["scores"] == {
            "exact_match,flexible-extract": line["exact_match"],
            "exact_match,strict-match": strict[doc_id]["exact_match"],
        }


def test_a_disagreement_is_counted_and_named(tmp_path: Path) -> None:
    runs = tmp_path / "lm"
    shutil.copytree(LM_EVAL / "base", runs)
    (path,) = runs.glob("samples_xling_mgsm_en_*.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    flipped = next(s for s in lines if s["filter"] == "flexible-extract" and s["exact_match"])
    flipped["exact_match"] = 0.0  # lm-eval now says a response xling accepts is wrong
    path.write_text("".join(json.dumps(s) + "\n" for s in lines))
    summary = import_run("lm-eval", [runs], tmp_path / "run", MGSM, workers=1)
    en = next(c for c in summary.cells if c.lang == "en")
    assert (en.agree, en.compared, en.xling_only, en.source_only) == (5, 6, 1, 0)
    assert en.source_accuracy == pytest.approx(en.xling_accuracy - 1 / 6)
    assert (summary.agree, summary.compared) == (17, 18)


def test_another_filter_can_be_the_verdict(tmp_path: Path) -> None:
    options = ImportOptions(bench="mgsm", source_filter="strict-match")
    summary = import_run("lm-eval", [LM_EVAL / "base"], tmp_path / "run", options, workers=1)
    record = json.loads((tmp_path / "run" / "import.json").read_text())
    assert record["source_metric"] == "exact_match,strict-match"
    results = results_of("base")["results"]
    for cell in summary.cells:
        assert cell.reported == results[f"xling_mgsm_{cell.lang}"]["exact_match,strict-match"]
    # The trained runs' files keep only flexible-extract lines: asking for another is an error.
    with pytest.raises(XlingError, match=r"samples_xling_mgsm_en_.*\.jsonl:1: no filter"):
        import_run("lm-eval", [LM_EVAL / "X1"], tmp_path / "x1", options, workers=1)


@pytest.mark.parametrize(
    ("task", "pattern", "expected"),
    [
        ("mgsm_native_cot_bn", None, ("mgsm_native_cot", "bn")),
        ("xling_mgsm_sw", None, ("xling_mgsm", "sw")),
        ("mgsm:te", None, ("mgsm", "te")),
        ("mgsm_native_cot_bn", "{bench}_{lang}", ("mgsm_native_cot", "bn")),
        ("mgsm_native_cot_bn", "mgsm_native_cot_{lang}", ("mgsm_native_cot_bn", "bn")),
        ("gsm-ja-v2", r"gsm-(?P<lang>[a-z]+)-v2", ("gsm-ja-v2", "ja")),
        ("mgsm_DE", None, ("mgsm", "de")),
    ],
)
def test_task_names_give_benchmark_and_language(task, pattern, expected) -> None:
    assert TaskNames(pattern)(task, "f:1") == expected
    assert TaskNames(pattern, bench="mgsm")(task, "f:1") == ("mgsm", expected[1])


@pytest.mark.parametrize(
    ("task", "pattern", "message"),
    [
        ("gsm8k_cot", None, "no language code in task name 'gsm8k_cot'"),
        ("mgsm_native_cot_bn", "{bench}-{lang}", "does not match --lang-from-task"),
        ("mgsm_xx", "{bench}_{lang}", "'xx' is not a language xling knows"),
    ],
)
def test_task_names_that_say_no_language_are_refused(task, pattern, message) -> None:
    with pytest.raises(XlingError, match=message):
        TaskNames(pattern)(task, "f:1")
    with pytest.raises(XlingError, match="must contain"):
        TaskNames("{bench}")


# ------------------------------------------------------------------ compare, fit, report


def test_compare_reads_imported_runs(study: Path, tmp_path: Path) -> None:
    out = tmp_path / "compare.json"
    proc = xling("compare", study / "base", study / "X2", "--n-boot", "200", "--json", out)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())
    assert res["seen"] == ["en", "es"]
    base, trained = results_of("base")["results"], results_of("X2")["results"]
    rows = {r["lang"]: r for r in res["languages"]}
    assert set(rows) == {"en", "es", "sw"}
    for lang, row in rows.items():
        key = "exact_match,flexible-extract"
        assert row["base_acc"]["value"] == pytest.approx(base[f"xling_mgsm_{lang}"][key])
        assert row["trained_acc"]["value"] == pytest.approx(trained[f"xling_mgsm_{lang}"][key])


def test_fit_and_report_read_an_imported_study(study: Path, tmp_path: Path) -> None:
    out = tmp_path / "fit.json"
    proc = xling("fit", study, "--metric", "accuracy", "--n-boot", "50", "--json", out)
    assert proc.returncode == 0, proc.stderr
    fit = json.loads(out.read_text())
    assert fit["x"] == [1.0, 2.0, 3.0, 4.0]
    # Each point is the run's accuracy over the three languages, as lm-eval recorded it.
    for x, y in zip(fit["x"], fit["y"], strict=True):
        cells = results_of(f"X{int(x)}")["results"].values()
        mean = statistics.mean(c["exact_match,flexible-extract"] for c in cells)
        assert y == pytest.approx(100 * mean)
    report = tmp_path / "report"
    proc = xling("report", study, "--out", report, "--n-boot", "100")
    assert proc.returncode == 0, proc.stderr
    text = (report / "report.md").read_text()
    assert "MTI" in text and all(name in text for name in TRAINED)


# ------------------------------------------------------------------ export


def test_the_python_api_fits_and_compares_imported_runs(study: Path) -> None:
    from xling import api

    base = api.load(study / "base")
    runs = {name: api.load(study / name) for name in TRAINED}
    assert base.train_langs is None and runs["X1"].train_langs is not None
    with pytest.raises(XlingError, match="no run has a defined mti to fit"):
        api.fit(base, runs, n_boot=50)  # 6 problems a language: no training-language gain
    law = api.fit(base, runs, metric="accuracy", n_boot=50)
    assert list(law.x) == [1.0, 2.0, 3.0, 4.0] and law.summary_rows()
    result = api.compare(base, runs["X2"], n_boot=50)
    assert set(result.seen) == set(runs["X2"].train_langs) & {"en", "es", "sw"}
    assert result.rows[0].base_acc.value == pytest.approx(
        metrics(study / "base")["benchmarks"]["mgsm"]["langs"][result.rows[0].lang]["accuracy"]
    )


def test_export_writes_lm_evals_layout_and_reads_back(study: Path, tmp_path: Path) -> None:
    written = export_lm_eval(study / "X2", tmp_path / "out")
    folder = written[0].parent
    assert folder.name == results_of("X2")["model_name_sanitized"]
    document = json.loads(written[0].read_text())
    # The keys lm-eval's own results file has (of those an exporter can know).
    assert set(document) <= set(results_of("X2"))
    assert {"results", "versions", "n-shot", "config", "n-samples"} <= set(document)
    cells = metrics(study / "X2")["benchmarks"]["mgsm"]["langs"]
    scores = list(read_jsonl(study / "X2" / "scores.jsonl"))
    for lang, cell in cells.items():
        task = document["results"][f"mgsm_{lang}"]
        right = [float(s["correct"]) for s in scores if s["lang"] == lang]
        assert task["acc,none"] == pytest.approx(cell["accuracy"])
        assert task["exact_match,strict-match"] == pytest.approx(cell["accuracy_strict"])
        assert task["acc_stderr,none"] == pytest.approx(statistics.stdev(right) / math.sqrt(6))
        assert document["n-samples"][f"mgsm_{lang}"] == {"original": 6, "effective": 6}
    real = json.loads(
        next((LM_EVAL / "base").glob("samples_*_en_*.jsonl")).read_text().split("\n")[0]
    )
    (mine_path,) = folder.glob("samples_mgsm_en_*.jsonl")
    mine = [json.loads(line) for line in mine_path.read_text().splitlines()]
    assert len(mine) == 2 * 6  # one line per problem and filter, as lm-eval logs them
    assert set(mine[0]) == set(real)
    # Read back by xling: the same accuracies, every verdict the same as xling's.
    again = import_run("lm-eval", [folder], tmp_path / "again", workers=1)
    assert (again.agree, again.compared) == (18, 18)
    assert metrics(tmp_path / "again")["benchmarks"]["mgsm"]["langs"] == cells


def _lm_eval_python() -> str | None:
    """lm-eval's venv: `make lm-eval-env` (.venv-lmeval, which CI builds and names in
    XLING_LM_EVAL_PYTHON) or the one bench/interop_fixtures.py makes."""
    root = Path(__file__).resolve().parents[1]
    for candidate in (
        os.environ.get("XLING_LM_EVAL_PYTHON"),
        str(root / ".venv-lmeval" / "bin" / "python"),
        "/tmp/xling-lmeval-venv/bin/python",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    if os.environ.get("XLING_REQUIRE_LM_EVAL"):
        raise RuntimeError("XLING_REQUIRE_LM_EVAL is set but no lm-eval venv was found")
    return None


_READ_BACK = """
import json, sys
from pathlib import Path
from datasets import load_dataset
from pydantic import TypeAdapter
from lm_eval.result_schema import EvalResults, SampleResult
from lm_eval.utils import (get_file_task_name, get_latest_filename, get_results_filenames,
                           get_sample_results_filenames, make_table)
files = [str(p) for p in Path(sys.argv[1]).rglob("*.json*")]
results = get_latest_filename(get_results_filenames(files))
document = TypeAdapter(EvalResults).validate_python(json.loads(Path(results).read_text()))
tasks = {}
for path in get_sample_results_filenames(files):
    rows = load_dataset("json", data_files=path, split="train")
    for row in json.loads(json.dumps(list(rows))):
        TypeAdapter(SampleResult).validate_python(row)
    tasks[get_file_task_name(Path(path).name)] = len(rows)
print(json.dumps({"tasks": tasks, "table": make_table(document)}))
"""


@pytest.mark.skipif(_lm_eval_python() is None, reason="no lm-eval venv (bench/interop_fixtures.py)")
def test_lm_eval_reads_an_exported_run(study: Path, tmp_path: Path) -> None:
    """lm-eval's own code reads the export: its file-name helpers, its results-table
    printer, `datasets` as it loads sample files, and its result schema (which the export
    meets in full; lm-eval's own results files do not, their task configs hold lists)."""
    export_lm_eval(study / "base", tmp_path / "out")
    proc = subprocess.run(
        [_lm_eval_python(), "-c", _READ_BACK, str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["tasks"] == {"mgsm_en": 12, "mgsm_es": 12, "mgsm_sw": 12}
    accuracy = metrics(study / "base")["benchmarks"]["mgsm"]["langs"]["es"]["accuracy"]
    assert "|mgsm_es|" in got["table"] and f"{accuracy:.4f}" in got["table"]


# ------------------------------------------------------------------ PolyMath, lighteval


def test_polymath_output_imports_with_its_scorers_accuracy(study: Path, tmp_path: Path) -> None:
    output = DATA / "polymath" / "output" / "organism"
    summary = import_run("polymath", [output], tmp_path / "run", workers=1)
    assert summary.model == "organism"
    score = json.loads((output / "score.json").read_text())
    lm_eval_base = metrics(study / "base")["benchmarks"]["mgsm"]["langs"]
    for cell in summary.cells:
        assert cell.benchmark == "polymath-low"
        assert cell.reported == pytest.approx(score[cell.lang]["low"]["accuracy"] / 100)
        assert cell.compared == 0  # PolyMath keeps no per-response verdict
        # The same generations as the lm-eval base run, re-scored by xling alike.
        assert cell.xling_accuracy == pytest.approx(lm_eval_base[cell.lang]["accuracy"])
    ids = {g["id"] for g in read_jsonl(tmp_path / "run" / "generations.jsonl")}
    assert ids == {f"low-{i}" for i in range(6)}  # as `xling eval --bench polymath` names them
    rows = list(read_jsonl(tmp_path / "run" / "generations.jsonl"))
    assert all(r["answer_type"] == "latex" for r in rows)
    assert any(r["output"].startswith("<think>\n") for r in rows)


def test_lighteval_details_import_with_its_verdicts(study: Path, tmp_path: Path) -> None:
    folder = DATA / "lighteval" / "base"
    summary = import_run("lighteval", [folder], tmp_path / "run", MGSM, workers=1)
    ours = verdicts(tmp_path / "run")
    assert {c.lang for c in summary.cells} == {"en", "sw"}
    for cell in summary.cells:
        (path,) = folder.glob(f"details_xling_mgsm:{cell.lang}|0_*.parquet")
        rows = pq.read_table(path).to_pylist()
        theirs = {r["doc"]["id"]: r["metric"]["extractive_match"] == 1.0 for r in rows}
        assert cell.compared == len(theirs) == 6
        assert cell.source_accuracy == pytest.approx(sum(theirs.values()) / 6)
        assert cell.agree == sum(ours[(cell.lang, pid)] == ok for pid, ok in theirs.items())
    record = json.loads((tmp_path / "run" / "import.json").read_text())
    assert record["source_metric"] == "extractive_match"
    # lighteval's math-verify match and xling judge these responses alike.
    assert (summary.agree, summary.compared) == (12, 12)


# ------------------------------------------------------------------ errors and options


def _copy_base(tmp_path: Path) -> Path:
    runs = tmp_path / "lm"
    shutil.copytree(LM_EVAL / "base", runs)
    return next(runs.glob("samples_xling_mgsm_es_*.jsonl"))


def _rewrite_line(path: Path, index: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[index] = text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda s: "{not json", "corrupt JSON line"),
        (lambda s: json.dumps({k: v for k, v in s.items() if k != "resps"}), "an lm-eval sample"),
        (lambda s: json.dumps({**s, "resps": [[["-1.5", "True"]]]}), "resps must hold"),
        (lambda s: json.dumps({**s, "target": "two", "doc": {"question": "q"}}), "gold answer"),
        (lambda s: json.dumps({**s, "exact_match": 0.5}), "score exact_match must be 0 or 1"),
    ],
)
def test_a_malformed_lm_eval_line_is_one_line_naming_file_and_line(
    tmp_path: Path, change, needle
) -> None:
    path = _copy_base(tmp_path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    index = next(i for i, s in enumerate(lines) if s["filter"] == "flexible-extract")
    assert index > 0  # a line in the middle of the file, not the first
    _rewrite_line(path, index, change(lines[index]))
    proc = xling("import", "lm-eval", path.parent, "--out", tmp_path / "run")
    one_line_error(proc, f"{path}:{index + 1}: {needle}")
    assert not (tmp_path / "run" / "generations.jsonl").exists()


def test_malformed_polymath_and_lighteval_files_name_file_and_line(tmp_path: Path) -> None:
    level = tmp_path / "poly" / "m" / "low"
    level.mkdir(parents=True)
    good = {"idx": 0, "question": "q", "answer": "1", "thinking_pred": "", "answer_pred": "1"}
    bad = {k: v for k, v in good.items() if k != "answer_pred"} | {"idx": 1}
    (level / "en.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    proc = xling("import", "polymath", tmp_path / "poly", "--out", tmp_path / "p")
    one_line_error(proc, f"{level / 'en.jsonl'}:2", "needs answer_pred")
    (level / "en.jsonl").write_text(json.dumps(good | {"answer": "\\frac{1}{2"}) + "\n")
    proc = xling("import", "polymath", tmp_path / "poly", "--out", tmp_path / "p")
    one_line_error(proc, f"{level / 'en.jsonl'}:1", "unbalanced braces")
    fake = tmp_path / "details_mgsm:en|0_2026-01-01T00-00-00.parquet"
    fake.write_text("not parquet")
    proc = xling("import", "lighteval", fake, "--out", tmp_path / "l")
    one_line_error(proc, str(fake), "not a readable parquet file")


def test_a_problem_given_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(XlingError, match=r"mgsm/en problem '0' sample 0 appears twice"):
        import_run("lm-eval", [LM_EVAL / "base", LM_EVAL / "X1"], tmp_path / "r", MGSM)


def test_train_langs_make_a_trained_run(tmp_path: Path) -> None:
    proc = xling(
        "import", "lm-eval", LM_EVAL / "X2", "--out", tmp_path / "run", "--bench", "mgsm",
        "--train-langs", "en,es", "--workers", "1",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "agree on 18 of 18 responses" in proc.stdout
    train = json.loads((tmp_path / "run" / "train.json").read_text())
    assert train == {"train_langs": ["en", "es"], "num_parallel_langs": 1}
    with pytest.raises(XlingError, match="not both"):
        train_metadata("en", LM_EVAL / "X1-train.json")
    with pytest.raises(XlingError, match="unknown language code 'xx'"):
        train_metadata("en,xx", None)
    proc = xling("import", "lm-eval", LM_EVAL / "X2", "--out", tmp_path / "run")
    one_line_error(proc, "already holds a run")


def test_options_a_tool_has_no_use_for_are_refused(tmp_path: Path) -> None:
    proc = xling(
        "import", "polymath", DATA / "polymath", "--out", tmp_path / "r", "--source-filter", "x"
    )
    one_line_error(proc, "--source-filter: not an option for polymath files")
    proc = xling(
        "import",
        "lm-eval",
        LM_EVAL / "base",
        "--out",
        tmp_path / "r",
        "--lang-from-task",
        "{bench}",
    )
    one_line_error(proc, "must contain {lang}")
    proc = xling("export", LM_EVAL / "base", "--out", tmp_path / "e")
    one_line_error(proc, "is not a run directory")
