from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import shared_data

from xling import benchmarks
from xling.benchmarks import BenchmarkSpec, FieldMap, LoadReport, RawRow, load_problems
from xling.errors import BadRowError, XlingError
from xling.languages import ALL_CODES, UnknownLanguageError
from xling.records import Problem

BENCH = Path(__file__).parent / "data" / "bench"
MGSM_LANGS = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")


def ids_by_lang(problems: list[Problem]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for p in problems:
        out[p.lang].append(p.id)
    return dict(out)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ real MGSM (shared data)


def test_real_mgsm_is_parallel_across_all_languages() -> None:
    folder = shared_data("mgsm")
    problems = load_problems(BenchmarkSpec("mgsm", str(folder)), MGSM_LANGS)
    assert len(problems) == 250 * 11
    by_lang = ids_by_lang(problems)
    assert sorted(by_lang) == sorted(MGSM_LANGS)
    expected = [str(i) for i in range(250)]
    assert all(ids == expected for ids in by_lang.values())
    assert {p.benchmark for p in problems} == {"mgsm"}
    assert all(p.question and p.answer and "\t" not in p.answer for p in problems)
    index = {(p.lang, p.id): p for p in problems}
    assert index["en", "0"].answer == "18"
    assert index["en", "0"].question.startswith("Janet")
    for lang in MGSM_LANGS:  # the thousands separator is kept; normalizing is the scorer's job
        assert index[lang, "249"].answer == "5,600"
        assert index[lang, "0"].answer == index["en", "0"].answer


def test_real_mgsm_limit_keeps_the_same_ids() -> None:
    folder = shared_data("mgsm")
    problems = load_problems(BenchmarkSpec("mgsm", str(folder)), "all", limit=5)
    assert len(problems) == 5 * len(ALL_CODES)
    assert all(ids == ["0", "1", "2", "3", "4"] for ids in ids_by_lang(problems).values())


# ------------------------------------------------------------------ mgsm fixtures


def test_mgsm_fixture_splits_on_last_tab_and_keeps_answer_text() -> None:
    problems = load_problems(BenchmarkSpec("mgsm", str(BENCH / "mgsm")), ["en", "es"])
    assert [(p.lang, p.id) for p in problems] == [
        ("en", "0"),
        ("en", "1"),
        ("en", "2"),
        ("es", "0"),
        ("es", "1"),
        ("es", "2"),
    ]
    second = problems[1]
    assert second == Problem(
        "mgsm", "1", "en", "A shelf holds 1,234 books.\tOne tab in text", "1,234"
    )
    assert problems[4].answer == "1,234"


def test_mgsm_custom_name() -> None:
    spec = BenchmarkSpec("mgsm", str(BENCH / "mgsm"), name="mgsm-tiny")
    assert {p.benchmark for p in load_problems(spec, "en")} == {"mgsm-tiny"}


def test_mgsm_missing_language_file_names_file_and_present_languages() -> None:
    with pytest.raises(XlingError) as err:
        load_problems(BenchmarkSpec("mgsm", str(BENCH / "mgsm")), ["en", "de", "ja"])
    msg = str(err.value)
    assert "mgsm_de.tsv" in msg and "mgsm_ja.tsv" in msg
    assert "languages present: en, es" in msg


def test_mgsm_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(XlingError, match=r"mgsm folder not found: .*nope"):
        load_problems(BenchmarkSpec("mgsm", str(tmp_path / "nope")), "en")
    file = write(tmp_path / "mgsm_en.tsv", "q\t1\n")
    with pytest.raises(XlingError, match="must be a folder"):
        load_problems(BenchmarkSpec("mgsm", str(file)), "en")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("no tab here", "no tab (expected question<TAB>answer)"),
        ("", "empty line (expected question<TAB>answer)"),
        ("\t42", "question is empty"),
        ("What is 1 + 1?\t  ", "answer is empty"),
    ],
)
def test_mgsm_malformed_line_reports_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = write(tmp_path / "mgsm_en.tsv", f"Good one?\t1\n{line}\nGood two?\t2\n")
    with pytest.raises(BadRowError) as err:
        load_problems(BenchmarkSpec("mgsm", str(tmp_path)), "en")
    assert str(err.value) == f"{path}:2: {reason}"


def test_mgsm_skip_bad_counts_and_keeps_line_ids(tmp_path: Path) -> None:
    en = write(tmp_path / "mgsm_en.tsv", "Q0?\t1\nbroken\nQ2?\t3\n\t4\nQ4?\t5\n\n")
    write(tmp_path / "mgsm_es.tsv", "P0?\t1\nP1?\t2\nP2?\t3\nP3?\t4\nP4?\t5\n")
    report = LoadReport()
    problems = load_problems(
        BenchmarkSpec("mgsm", str(tmp_path)), ["en", "es"], skip_bad=True, report=report
    )
    assert report.n_skipped == 2
    assert report.skipped == [
        f"{en}:2: no tab (expected question<TAB>answer)",
        f"{en}:4: question is empty",
    ]
    by_lang = ids_by_lang(problems)
    assert by_lang["en"] == ["0", "2", "4"]  # ids stay line indexes: still parallel with es
    assert by_lang["es"] == ["0", "1", "2", "3", "4"]
    # limit takes the first N ids of the first language and the same ids elsewhere
    limited = load_problems(
        BenchmarkSpec("mgsm", str(tmp_path)), ["en", "es"], skip_bad=True, limit=2
    )
    assert ids_by_lang(limited) == {"en": ["0", "2"], "es": ["0", "2"]}


def test_skip_bad_without_report_and_all_bad_language(tmp_path: Path) -> None:
    write(tmp_path / "mgsm_en.tsv", "Q0?\t1\nbad\n")
    assert len(load_problems(BenchmarkSpec("mgsm", str(tmp_path)), "en", skip_bad=True)) == 1
    write(tmp_path / "mgsm_en.tsv", "bad\nalso bad\n")
    with pytest.raises(XlingError, match=r"no problems for en .every row was malformed"):
        load_problems(BenchmarkSpec("mgsm", str(tmp_path)), "en", skip_bad=True)


def test_duplicate_id_within_a_language(tmp_path: Path) -> None:
    path = write(
        tmp_path / "b.jsonl",
        '{"id": "a", "question": "Q1", "answer": 1}\n'
        '{"id": "b", "question": "Q2", "answer": 2}\n'
        '{"id": "a", "question": "Q3", "answer": 3}\n',
    )
    spec = BenchmarkSpec("jsonl", str(path), fields=FieldMap(id="id"))
    with pytest.raises(BadRowError) as err:
        load_problems(spec, "en")
    assert str(err.value) == f"{path}:3: duplicate id 'a' for lang en (first at {path}:1)"
    report = LoadReport()
    problems = load_problems(spec, "en", skip_bad=True, report=report)
    assert [(p.id, p.question) for p in problems] == [("a", "Q1"), ("b", "Q2")]
    assert report.skipped == [str(err.value)]


# ------------------------------------------------------------------ jsonl


def test_jsonl_single_file_with_lang_and_id_fields() -> None:
    spec = BenchmarkSpec(
        "jsonl",
        str(BENCH / "single.jsonl"),
        fields=FieldMap(question="problem", answer="solution", id="uid", lang="lang"),
    )
    problems = load_problems(spec, ["en", "es"])
    assert [(p.lang, p.id, p.answer) for p in problems] == [
        ("en", "p1", "5"),
        ("en", "p2", "3.5"),
        ("en", "p3", "100"),  # "EN" counts as en
        ("es", "p1", "5"),
        ("es", "p2", "3,5"),
    ]
    assert {p.benchmark for p in problems} == {"single"}
    assert problems[3].question == "¿Cuánto es 2 + 3?"
    fr = load_problems(spec, "fr")
    assert [(p.id, p.question) for p in fr] == [("p3", "Combien font 10 * 10 ?")]


def test_jsonl_lang_field_without_ids_counts_position_per_language() -> None:
    spec = BenchmarkSpec(
        "jsonl",
        str(BENCH / "single.jsonl"),
        fields=FieldMap(question="problem", answer="solution", lang="lang"),
    )
    assert ids_by_lang(load_problems(spec, ["en", "es", "fr"])) == {
        "en": ["0", "1", "2"],
        "es": ["0", "1"],
        "fr": ["0"],
    }


def test_jsonl_lang_field_missing_language_lists_present() -> None:
    spec = BenchmarkSpec(
        "jsonl",
        str(BENCH / "single.jsonl"),
        fields=FieldMap(question="problem", answer="solution", lang="lang"),
    )
    with pytest.raises(XlingError, match=r"no rows with lang=de; languages present: en, es, fr"):
        load_problems(spec, ["en", "de"])


def test_jsonl_single_language_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "aime.jsonl",
        '{"question": "Q0", "answer": 204}\n\n{"question": "Q1", "answer": "073"}\n',
    )
    problems = load_problems(BenchmarkSpec("jsonl", str(path)), "en")
    assert problems == [
        Problem("aime", "0", "en", "Q0", "204"),
        Problem("aime", "1", "en", "Q1", "073"),
    ]
    with pytest.raises(XlingError, match=r"single language \(en\).*cannot load es"):
        load_problems(BenchmarkSpec("jsonl", str(path)), ["en", "es"])
    spanish = load_problems(BenchmarkSpec("jsonl", str(path), name="aime-es", lang="es"), "es")
    assert [(p.benchmark, p.lang) for p in spanish] == [("aime-es", "es")] * 2
    with pytest.raises(UnknownLanguageError):
        load_problems(BenchmarkSpec("jsonl", str(path), lang="xx"), "en")


def test_jsonl_per_language_variants() -> None:
    spec = BenchmarkSpec("jsonl", str(BENCH / "variants"), name="tiny")
    problems = load_problems(spec, ["de", "en"])
    assert [(p.lang, p.id, p.answer) for p in problems] == [
        ("de", "0", "2"),
        ("de", "1", "2"),
        ("de", "2", "5"),
        ("en", "0", "2"),
        ("en", "1", "2"),
        ("en", "2", "5"),
    ]
    assert {p.benchmark for p in problems} == {"tiny"}
    assert problems[0].question == "Was ist 1 + 1?"
    with pytest.raises(XlingError) as err:
        load_problems(spec, ["en", "sw"])
    assert "missing tiny_sw.jsonl" in str(err.value)
    assert "languages present: de, en" in str(err.value)


def test_jsonl_variants_default_name_is_folder_name(tmp_path: Path) -> None:
    write(tmp_path / "math500" / "math500_en.jsonl", '{"question": "Q", "answer": "1/2"}\n')
    problems = load_problems(BenchmarkSpec("jsonl", str(tmp_path / "math500")), "en")
    assert problems == [Problem("math500", "0", "en", "Q", "1/2")]


def test_jsonl_missing_file(tmp_path: Path) -> None:
    with pytest.raises(XlingError, match=r"jsonl file or folder not found: .*missing.jsonl"):
        load_problems(BenchmarkSpec("jsonl", str(tmp_path / "missing.jsonl")), "en")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"question": "Q", "answer": ', "invalid JSON (Expecting value at column 29)"),
        ('["Q", "1"]', "expected a JSON object, got list"),
        ('{"answer": "1"}', "missing field 'question'"),
        ('{"q": "Q"}', "missing field 'question', 'answer'"),
        ('{"question": "  ", "answer": "1"}', "question is empty"),
        ('{"question": "Q", "answer": ""}', "answer is empty"),
        ('{"question": "Q", "answer": null}', "answer is null, expected text or a number"),
        ('{"question": "Q", "answer": true}', "answer is true, expected text or a number"),
        ('{"question": "Q", "answer": [1, 2]}', "answer is a list, expected text or a number"),
        ('{"question": 7, "answer": "7", "id": "x"}', None),  # a number question is allowed
    ],
)
def test_jsonl_malformed_rows_report_file_and_line(
    tmp_path: Path, line: str, reason: str | None
) -> None:
    # line 2 is blank (not a record), so the bad record is on line 3
    path = write(tmp_path / "b.jsonl", '{"question": "Q0", "answer": "0"}\n\n' + line + "\n")
    spec = BenchmarkSpec("jsonl", str(path))
    if reason is None:
        assert len(load_problems(spec, "en")) == 2
        return
    with pytest.raises(BadRowError) as err:
        load_problems(spec, "en")
    assert str(err.value) == f"{path}:3: {reason}"
    report = LoadReport()
    assert [p.id for p in load_problems(spec, "en", skip_bad=True, report=report)] == ["0"]
    assert report.skipped == [str(err.value)]


@pytest.mark.parametrize(
    ("line", "answer_type", "reason"),
    [
        ('{"question": "Q", "answer": "two"}', "number", "'two' is not a number"),
        ('{"question": "Q", "answer": "NaN"}', "number", "'NaN' is not a number"),
        ('{"question": "Q", "answer": NaN}', "number", "'nan' is not a number"),
        ('{"question": "Q", "answer": "inf"}', "number", "'inf' is not a number"),
        ('{"question": "Q", "answer": Infinity}', "number", "'inf' is not a number"),
        ('{"question": "Q", "answer": "3 or 4"}', "number", "'3 or 4' is not a number"),
        ('{"question": "Q", "answer": "\\\\frac{1}{2"}', "latex", "has unbalanced braces"),
        ('{"question": "Q", "answer": "x}"}', "latex", "has unbalanced braces"),
    ],
)
def test_malformed_gold_answer_is_a_bad_row(
    tmp_path: Path, line: str, answer_type: str, reason: str
) -> None:
    path = write(tmp_path / "b.jsonl", '{"question": "Q0", "answer": "0"}\n' + line + "\n")
    spec = BenchmarkSpec("jsonl", str(path), answer_type=answer_type)
    with pytest.raises(BadRowError) as err:
        load_problems(spec, "en")
    message = str(err.value)
    assert message.startswith(f"{path}:2: gold answer ") and reason in message
    assert "\n" not in message
    report = LoadReport()
    assert [p.id for p in load_problems(spec, "en", skip_bad=True, report=report)] == ["0"]
    assert report.skipped == [message]


def test_mgsm_gold_that_is_no_number_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "mgsm_en.tsv", "Good one?\t1\nHow many?\ttwo\n")
    with pytest.raises(BadRowError) as err:
        load_problems(BenchmarkSpec("mgsm", str(tmp_path)), "en")
    assert str(err.value) == (f"{path}:2: gold answer 'two' is not a number (answer type 'number')")


def test_json_number_golds_load_as_text(tmp_path: Path) -> None:
    big = "7" * 5000  # past Python's int-conversion limit: json.loads used to raise on it
    path = write(
        tmp_path / "b.jsonl",
        '{"question": "Q0", "answer": 42}\n'
        '{"question": "Q1", "answer": 3.5}\n'
        '{"question": "Q2", "answer": 1e20}\n'
        '{"question": "Q3", "answer": -7}\n'
        f'{{"question": "Q4", "answer": {big}}}\n',
    )
    problems = load_problems(BenchmarkSpec("jsonl", str(path)), "en")
    assert [p.answer for p in problems] == ["42", "3.5", "1e+20", "-7", big]


def test_latex_and_choice_golds_are_not_held_to_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path / "b.jsonl",
        '{"question": "Q0", "answer": "\\\\frac{\\\\sqrt{6}}{4}"}\n'
        '{"question": "Q1", "answer": "\\\\left( 3, \\\\frac{\\\\pi}{2} \\\\right)"}\n'
        '{"question": "Q2", "answer": "x^2 + 1"}\n',
    )
    problems = load_problems(BenchmarkSpec("jsonl", str(path), answer_type="latex"), "en")
    assert [p.answer for p in problems] == [
        "\\frac{\\sqrt{6}}{4}",
        "\\left( 3, \\frac{\\pi}{2} \\right)",
        "x^2 + 1",
    ]


def test_real_mgsm_golds_all_pass_the_gold_check() -> None:
    problems = load_problems(BenchmarkSpec("mgsm", str(shared_data("mgsm"))), MGSM_LANGS)
    assert len(problems) == 250 * len(MGSM_LANGS)  # not one row refused


def test_jsonl_missing_id_and_lang_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path / "b.jsonl",
        '{"id": 1, "lang": "en", "question": "Q", "answer": "1"}\n'
        '{"lang": "en", "question": "Q", "answer": "1"}\n'
        '{"id": 3, "question": "Q", "answer": "1"}\n'
        '{"id": 4, "lang": 5, "question": "Q", "answer": "1"}\n',
    )
    spec = BenchmarkSpec("jsonl", str(path), fields=FieldMap(id="id", lang="lang"))
    report = LoadReport()
    problems = load_problems(spec, "en", skip_bad=True, report=report)
    assert [p.id for p in problems] == ["1"]  # an integer id becomes "1"
    assert report.skipped == [
        f"{path}:2: missing field 'id'",
        f"{path}:3: lang field 'lang' missing",
        f"{path}:4: lang field 'lang' not a language code: 5",
    ]


# ------------------------------------------------------------------ hf (datasets)


ROWS = [
    {"pid": "a", "language": "en", "problem": "What is 2 + 2?", "target": 4},
    {"pid": "b", "language": "en", "problem": "What is 3 + 3?", "target": 6},
    {"pid": "a", "language": "sw", "problem": "2 + 2 ni ngapi?", "target": 4},
    {"pid": "b", "language": "sw", "problem": "3 + 3 ni ngapi?", "target": 6},
]
HF_FIELDS = FieldMap(question="problem", answer="target", id="pid", lang="language")


def test_hf_save_to_disk_with_lang_column(tmp_path: Path, hf_cache: Path) -> None:
    import datasets

    folder = tmp_path / "ds"
    datasets.Dataset.from_list(ROWS).save_to_disk(str(folder))
    spec = BenchmarkSpec("hf", str(folder), name="toy", fields=HF_FIELDS)
    problems = load_problems(spec, ["sw", "en"])
    assert [(p.benchmark, p.lang, p.id, p.answer) for p in problems] == [
        ("toy", "sw", "a", "4"),
        ("toy", "sw", "b", "6"),
        ("toy", "en", "a", "4"),
        ("toy", "en", "b", "6"),
    ]
    assert load_problems(spec, ["sw", "en"], limit=1) == [problems[0], problems[2]]


def test_hf_save_to_disk_dataset_dict_split(tmp_path: Path, hf_cache: Path) -> None:
    import datasets

    folder = tmp_path / "dd"
    en_rows = [{"question": r["problem"], "answer": str(r["target"])} for r in ROWS[:2]]
    datasets.DatasetDict(
        {
            "test": datasets.Dataset.from_list(en_rows),
            "train": datasets.Dataset.from_list(en_rows[:1]),
        }
    ).save_to_disk(str(folder))
    assert len(load_problems(BenchmarkSpec("hf", str(folder)), "en")) == 2
    train = load_problems(BenchmarkSpec("hf", str(folder), split="train"), "en")
    assert train == [Problem("dd", "0", "en", "What is 2 + 2?", "4")]
    with pytest.raises(XlingError, match="no split 'validation'; splits: test, train"):
        load_problems(BenchmarkSpec("hf", str(folder), split="validation"), "en")


def test_hf_missing_column_lists_columns(tmp_path: Path, hf_cache: Path) -> None:
    import datasets

    folder = tmp_path / "ds"
    datasets.Dataset.from_list(ROWS).save_to_disk(str(folder))
    spec = BenchmarkSpec("hf", str(folder), fields=FieldMap(lang="language"))
    with pytest.raises(XlingError) as err:
        load_problems(spec, "en")
    assert str(err.value).endswith(
        "[test]: no column 'question', 'answer'; columns: pid, language, problem, target"
    )


def test_hf_malformed_row_names_dataset_and_row(tmp_path: Path, hf_cache: Path) -> None:
    import datasets

    folder = tmp_path / "ds"
    rows = [
        {"question": "Q0", "answer": "1"},
        {"question": "Q1", "answer": None},
        {"question": "", "answer": "3"},
        {"question": "Q3", "answer": "4"},
    ]
    datasets.Dataset.from_list(rows).save_to_disk(str(folder))
    spec = BenchmarkSpec("hf", str(folder))
    with pytest.raises(BadRowError) as err:
        load_problems(spec, "en")
    assert str(err.value) == f"{folder}[test] row 1: answer is null, expected text or a number"
    report = LoadReport()
    problems = load_problems(spec, "en", skip_bad=True, report=report)
    assert [p.id for p in problems] == ["0", "3"]
    assert report.skipped == [str(err.value), f"{folder}[test] row 2: question is empty"]


def test_hf_local_json_through_load_dataset(tmp_path: Path, hf_cache: Path) -> None:
    path = write(tmp_path / "gsm.jsonl", "".join(json.dumps(r) + "\n" for r in ROWS))
    spec = BenchmarkSpec("hf", str(path), fields=HF_FIELDS)
    problems = load_problems(spec, ["en", "sw"])
    assert [(p.benchmark, p.lang, p.id) for p in problems] == [
        ("gsm", "en", "a"),
        ("gsm", "en", "b"),
        ("gsm", "sw", "a"),
        ("gsm", "sw", "b"),
    ]
    assert hf_cache.exists()  # really went through load_dataset's cache


def test_hf_local_parquet_single_language(tmp_path: Path, hf_cache: Path) -> None:
    import datasets

    path = tmp_path / "aime.parquet"
    datasets.Dataset.from_list(ROWS[:2]).to_parquet(str(path))
    spec = BenchmarkSpec("hf", str(path), fields=FieldMap(question="problem", answer="target"))
    assert [(p.id, p.answer) for p in load_problems(spec, "en")] == [("0", "4"), ("1", "6")]


def test_hf_per_language_files_via_path_template(tmp_path: Path, hf_cache: Path) -> None:
    for lang in ("en", "sw"):
        rows = [r for r in ROWS if r["language"] == lang]
        write(tmp_path / f"bench_{lang}.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    spec = BenchmarkSpec(
        "hf",
        str(tmp_path / "bench_{lang}.jsonl"),
        fields=FieldMap(question="problem", answer="target"),
    )
    problems = load_problems(spec, ["en", "sw"])
    assert {p.benchmark for p in problems} == {"bench"}
    assert ids_by_lang(problems) == {"en": ["0", "1"], "sw": ["0", "1"]}
    assert problems[2].question == "2 + 2 ni ngapi?"
    with pytest.raises(XlingError, match=r"hf dataset path not found: .*bench_de.jsonl"):
        load_problems(spec, ["en", "de"])


def test_hf_per_language_configs(tmp_path: Path, hf_cache: Path) -> None:
    repo = tmp_path / "mbench"
    configs = []
    for lang in ("en", "sw"):
        rows = [r for r in ROWS if r["language"] == lang]
        write(repo / "data" / f"{lang}.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
        configs.append(
            f"- config_name: {lang}\n  data_files:\n  - split: test\n    path: data/{lang}.jsonl\n"
        )
    write(repo / "README.md", "---\nconfigs:\n" + "".join(configs) + "---\n")
    spec = BenchmarkSpec(
        "hf",
        str(repo),
        config="{lang}",
        fields=FieldMap(question="problem", answer="target", id="pid"),
    )
    problems = load_problems(spec, ["sw", "en"])
    assert [(p.benchmark, p.lang, p.id) for p in problems] == [
        ("mbench", "sw", "a"),
        ("mbench", "sw", "b"),
        ("mbench", "en", "a"),
        ("mbench", "en", "b"),
    ]
    with pytest.raises(XlingError) as err:
        load_problems(spec, ["en", "th"])
    assert "mbench:th[test]" in str(err.value)
    assert "'th' not found" in str(err.value) and "'en', 'sw'" in str(err.value)


def test_hf_missing_local_path(tmp_path: Path) -> None:
    with pytest.raises(XlingError, match="hf dataset path not found"):
        load_problems(BenchmarkSpec("hf", str(tmp_path / "nope")), "en")


# ------------------------------------------------------------------ common API


def test_unknown_kind_lists_known_kinds() -> None:
    msg = "unknown benchmark kind 'csv'; known kinds: mgsm, jsonl, hf"
    with pytest.raises(XlingError, match=msg):
        load_problems(BenchmarkSpec("csv", str(BENCH)), "en")


def test_unknown_language_lists_known_codes() -> None:
    with pytest.raises(UnknownLanguageError, match="unknown language code 'xx'; known codes: en"):
        load_problems(BenchmarkSpec("mgsm", str(BENCH / "mgsm")), ["en", "xx"])


def test_limit_edge_cases() -> None:
    spec = BenchmarkSpec("mgsm", str(BENCH / "mgsm"))
    assert load_problems(spec, "en,es", limit=0) == []
    assert len(load_problems(spec, "en,es", limit=99)) == 6
    with pytest.raises(XlingError, match="limit must be >= 0"):
        load_problems(spec, "en", limit=-1)


def test_adding_a_loader_is_one_function_and_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    def load_toy(spec: BenchmarkSpec, langs: tuple[str, ...]) -> list[RawRow]:
        return [RawRow(f"toy:{i}", lang, i, f"q{i}", i) for lang in langs for i in range(2)]

    monkeypatch.setitem(benchmarks.LOADERS, "toy", load_toy)
    problems = load_problems(BenchmarkSpec("toy", "-"), ["en", "ja"])
    assert ids_by_lang(problems) == {"en": ["0", "1"], "ja": ["0", "1"]}
    assert problems[1] == Problem("toy", "1", "en", "q1", "1")
