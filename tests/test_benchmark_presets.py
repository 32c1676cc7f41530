"""Benchmark presets: every shipped preset loads from a local fixture in the exact layout of
its source (a local copy of the hub repository, read through `datasets.load_dataset` as
the hub would be; or the per-language JSONL / TSV folder `--data` takes), and `--bench NAME`
works in `xling eval`, `xling data parallel` and a study."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from xling.benchmarks import (
    BenchmarkSpec,
    benchmark_specs,
    eval_defaults,
    get_preset,
    load_benchmark,
    presets,
)
from xling.benchmarks.registry import load_preset
from xling.errors import XlingError
from xling.languages import ALL_CODES

BENCH = Path(__file__).parent / "data" / "bench"
PRESET_NAMES = {"mgsm", "polymath", "math500", "aime24", "aime25", "gpqa-diamond", "synth"}


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def write_parquet(path: Path, rows: list[dict], types: dict[str, str] | None = None) -> None:
    """Rows as a parquet file; `types` pins column dtypes (an all-null column would
    otherwise get no type, unlike the hub's files)."""
    import datasets

    path.parent.mkdir(parents=True, exist_ok=True)
    features = (
        datasets.Features({k: datasets.Value(v) for k, v in types.items()}) if types else None
    )
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(path))


MGSM_TYPES = {
    "question": "string",
    "answer": "string",
    "answer_number": "int64",
    "equation_solution": "string",
}


def write_card(repo: Path, configs: dict[str, dict[str, str]]) -> None:
    """A dataset card declaring configs as the hub does: {config: {split: data file}}."""
    lines = ["---", "configs:"]
    for config, splits in configs.items():
        lines += [f"- config_name: {config}", "  data_files:"]
        for split, path in splits.items():
            lines += [f"  - split: {split}", f"    path: {path}"]
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "README.md").write_text("\n".join([*lines, "---", "", "# fixture"]), "utf-8")


def hub_specs(name: str, repo: Path, **kwargs) -> list[BenchmarkSpec]:
    """The preset's default (hub) source, read from a local copy of the repository."""
    return [replace(s, path=str(repo)) for s in benchmark_specs(name, **kwargs)]


# ------------------------------------------------------------------------ the registry


def test_registry_ships_the_paper_presets_with_sources_and_citations() -> None:
    shipped = presets()
    assert set(shipped) >= PRESET_NAMES
    for preset in shipped.values():
        assert preset.citation and preset.licence and preset.description
        assert preset.local is not None and preset.local.layout
        assert preset.source is not None and preset.source.layout
    assert get_preset("gpqa-diamond").answer_type == "choice"
    assert get_preset("polymath").source.splits == ("low", "medium", "high", "top")
    assert set(get_preset("polymath").source.languages) == set(ALL_CODES)


def test_bad_preset_files_fail_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "oops.toml"
    bad.write_text('name = "oops"\n[source]\nkind = "csv"\n', "utf-8")
    with pytest.raises(XlingError, match="unknown loader kind 'csv'"):
        load_preset(bad)
    bad.write_text('name = "other"\n[source]\nkind = "hf"\n', "utf-8")
    with pytest.raises(XlingError, match="must match the file name"):
        load_preset(bad)
    bad.write_text('name = "oops"\nanswer_type = "choice"\n[source]\nkind = "hf"\n', "utf-8")
    with pytest.raises(XlingError, match=r"fields\.choices go together"):
        load_preset(bad)
    bad.write_text('name = "oops"\nsamples = 3\n[source]\nkind = "hf"\n', "utf-8")
    with pytest.raises(XlingError, match="unknown key"):
        load_preset(bad)


def test_unknown_benchmark_names_presets_and_kinds() -> None:
    with pytest.raises(XlingError, match=r"unknown benchmark 'gsm8k'; presets: .*polymath.*kinds"):
        benchmark_specs("gsm8k")


def test_english_only_hub_source_says_what_data_to_pass() -> None:
    with pytest.raises(XlingError, match=r"math500 from HuggingFaceH4/MATH-500.*holds en, not ja"):
        benchmark_specs("math500", langs=["en", "ja"])


def test_preset_eval_defaults() -> None:
    assert eval_defaults("aime24") == {
        "n": 8,
        "temperature": 0.6,
        "top_p": 0.95,
        "max_new_tokens": 16384,
        "langs": "en",
    }
    assert "langs" not in eval_defaults("aime24", data="translations/")
    assert eval_defaults("jsonl") == {}


# ------------------------------------------------------------------------ mgsm


def test_mgsm_from_hub_layout(tmp_path: Path, hf_cache: Path) -> None:
    repo = tmp_path / "mgsm-hub"
    configs = {}
    for lang, question in (("en", "Janet has 16 eggs."), ("de", "Janet hat 16 Eier.")):
        rows = [
            {"question": question, "answer": None, "answer_number": 18, "equation_solution": None},
            {
                "question": f"{question} (2)",
                "answer": None,
                "answer_number": 5600,
                "equation_solution": None,
            },
        ]
        write_parquet(repo / lang / "test-00000-of-00001.parquet", rows, MGSM_TYPES)
        exemplar = [
            {
                "question": "Q",
                "answer": "Step-by-step: 3",
                "answer_number": 3,
                "equation_solution": "1+2",
            }
        ]
        write_parquet(repo / lang / "train-00000-of-00001.parquet", exemplar, MGSM_TYPES)
        configs[lang] = {"test": f"{lang}/test-*", "train": f"{lang}/train-*"}
    write_card(repo, configs)
    problems = load_benchmark(hub_specs("mgsm", repo), ["en", "de"])
    assert [(p.benchmark, p.lang, p.id, p.answer) for p in problems] == [
        ("mgsm", "en", "0", "18"),
        ("mgsm", "en", "1", "5600"),
        ("mgsm", "de", "0", "18"),
        ("mgsm", "de", "1", "5600"),
    ]
    train = load_benchmark(hub_specs("mgsm", repo, training=True), ["en"])
    assert [p.answer for p in train] == ["3"]  # the exemplars' answer_number


def test_mgsm_from_tsv_folder() -> None:
    problems = load_benchmark(benchmark_specs("mgsm", data=str(BENCH / "mgsm")), ["en", "es"])
    assert {p.benchmark for p in problems} == {"mgsm"} and len(problems) == 6


# ------------------------------------------------------------------------ polymath

POLYMATH_LANGS = ("en", "ja", "bn", "sw", "zh")


@pytest.fixture
def polymath_repo(tmp_path: Path) -> Path:
    """A local copy of Qwen/PolyMath: <lang>/<level>.parquet with per-language configs,
    including a language xling does not know (ar)."""
    repo = tmp_path / "PolyMath"
    configs = {}
    for lang in (*POLYMATH_LANGS, "ar"):
        configs[lang] = {}
        for level in ("top", "high", "medium", "low"):
            rows = [
                {
                    "id": f"{level}-{lang}-{i}",
                    "question": f"[{lang}] {level} problem {i}",
                    "answer": ans,
                }
                for i, ans in enumerate(["70", "$\\frac{\\sqrt{6}}{4}$"])
            ]
            write_parquet(repo / lang / f"{level}.parquet", rows)
            configs[lang][level] = f"{lang}/{level}.parquet"
    write_card(repo, configs)
    return repo


def test_polymath_levels_are_parallel_benchmarks(polymath_repo: Path, hf_cache: Path) -> None:
    specs = benchmark_specs("polymath", data=str(polymath_repo), langs=["en", "ja", "bn"])
    problems = load_benchmark(specs, ["en", "ja", "bn"])
    assert {p.benchmark for p in problems} == {
        "polymath-low",
        "polymath-medium",
        "polymath-high",
        "polymath-top",
    }
    assert len(problems) == 4 * 3 * 2
    ids = {
        (p.benchmark, p.lang): [
            q.id for q in problems if (q.benchmark, q.lang) == (p.benchmark, p.lang)
        ]
        for p in problems
    }
    assert ids[("polymath-low", "ja")] == ids[("polymath-low", "en")] == ["low-0", "low-1"]
    by_key = {(p.benchmark, p.lang, p.id): p for p in problems}
    assert by_key[("polymath-top", "bn", "top-1")].answer == "$\\frac{\\sqrt{6}}{4}$"
    assert by_key[("polymath-top", "bn", "top-1")].question == "[bn] top problem 1"
    assert all(p.answer_type == "latex" for p in problems)


def test_polymath_one_level_keeps_its_name(polymath_repo: Path, hf_cache: Path) -> None:
    specs = hub_specs("polymath", polymath_repo, split="top")
    problems = load_benchmark(specs, ["sw", "zh"])
    assert {p.benchmark for p in problems} == {"polymath-top"}
    assert [p.id for p in problems if p.lang == "zh"] == ["top-0", "top-1"]


# ------------------------------------------------------------------------ math500 / aime


def test_math500_from_hub_layout_and_translations(tmp_path: Path, hf_cache: Path) -> None:
    repo = tmp_path / "MATH-500"
    row = {
        "problem": "Convert $(0,3)$ to polar coordinates.",
        "solution": "... $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$",
        "answer": "\\left( 3, \\frac{\\pi}{2} \\right)",
        "subject": "Precalculus",
        "level": 2,
        "unique_id": "test/precalculus/807.json",
    }
    write_jsonl(
        repo / "test.jsonl", [row, {**row, "unique_id": "test/algebra/1.json", "answer": "5"}]
    )
    problems = load_benchmark(hub_specs("math500", repo), ["en"])
    assert [p.id for p in problems] == ["test/precalculus/807.json", "test/algebra/1.json"]
    assert problems[0].answer_type == "latex" and problems[1].answer == "5"

    translations = tmp_path / "math500-translated"
    for lang, text in (("en", "Convert"), ("es", "Convierte"), ("zh", "转换")):
        write_jsonl(translations / f"math500_{lang}.jsonl", [{**row, "problem": f"{text} $(0,3)$"}])
    problems = load_benchmark(
        benchmark_specs("math500", data=str(translations)), ["en", "es", "zh"]
    )
    assert [(p.lang, p.id) for p in problems] == [
        ("en", "test/precalculus/807.json"),
        ("es", "test/precalculus/807.json"),
        ("zh", "test/precalculus/807.json"),
    ]
    assert problems[2].question == "转换 $(0,3)$"


def test_aime24_from_hub_layout(tmp_path: Path, hf_cache: Path) -> None:
    repo = tmp_path / "aime_2024"
    rows = [
        {
            "id": 60,
            "problem": "Every morning Aya goes for a 9-kilometer-long walk…",
            "solution": "…",
            "answer": "204",
            "url": "https://artofproblemsolving.com/…",
            "year": "2024",
        },
        {
            "id": 61,
            "problem": "Let ABC be a triangle…",
            "solution": "…",
            "answer": "113",
            "url": "https://artofproblemsolving.com/…",
            "year": "2024",
        },
    ]
    write_parquet(repo / "data" / "train-00000-of-00001.parquet", rows)
    write_card(repo, {"default": {"train": "data/train-*"}})
    problems = load_benchmark(hub_specs("aime24", repo), ["en"])
    assert [(p.benchmark, p.id, p.answer) for p in problems] == [
        ("aime24", "60", "204"),
        ("aime24", "61", "113"),
    ]


def test_aime25_from_hub_layout_and_translations(tmp_path: Path, hf_cache: Path) -> None:
    repo = tmp_path / "aime25"
    rows = [{"problem": "Find the sum of all integer bases $b>9$…", "answer": "70", "id": "0"}]
    write_jsonl(repo / "test.jsonl", rows)
    assert [p.answer for p in load_benchmark(hub_specs("aime25", repo), ["en"])] == ["70"]
    folder = tmp_path / "aime25-translated"
    write_jsonl(folder / "aime25_en.jsonl", rows)
    write_jsonl(folder / "aime25_th.jsonl", [{**rows[0], "problem": "หาผลรวมของฐาน $b>9$…"}])
    problems = load_benchmark(benchmark_specs("aime25", data=str(folder)), ["en", "th"])
    assert [(p.lang, p.id, p.answer) for p in problems] == [("en", "0", "70"), ("th", "0", "70")]


# ------------------------------------------------------------------------ gpqa

GPQA_ROW = {
    "Pre-Revision Question": "…",
    "Question": "Which gas is produced when…?",
    "Correct Answer": "carbon dioxide",
    "Incorrect Answer 1": "water",
    "Incorrect Answer 2": "methane",
    "Incorrect Answer 3": "oxygen",
    "Explanation": "…",
    "Record ID": "rec06pnAkLOr2t2mp",
    "Subdomain": "Chemistry (general)",
    "High-level domain": "Chemistry",
}


def test_gpqa_from_hub_layout(tmp_path: Path, hf_cache: Path) -> None:
    import csv

    repo = tmp_path / "gpqa"
    repo.mkdir()
    for config, n in (("gpqa_diamond", 2), ("gpqa_main", 3)):
        with (repo / f"{config}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(GPQA_ROW))
            writer.writeheader()
            for i in range(n):
                writer.writerow({**GPQA_ROW, "Record ID": f"rec{config}{i}"})
    write_card(repo, {c: {"train": f"{c}.csv"} for c in ("gpqa_diamond", "gpqa_main")})
    problems = load_benchmark(hub_specs("gpqa-diamond", repo), ["en"])
    assert [p.id for p in problems] == ["recgpqa_diamond0", "recgpqa_diamond1"]
    assert problems[0].answer_type == "choice"
    assert problems[0].choices == ("carbon dioxide", "water", "methane", "oxygen")


def test_gpqa_translations_in_several_languages(tmp_path: Path) -> None:
    folder = tmp_path / "gpqa-translated"
    translated = {
        "en": ("Which gas is produced?", "carbon dioxide", "water", "methane", "oxygen"),
        "es": ("¿Qué gas se produce?", "dióxido de carbono", "agua", "metano", "oxígeno"),
        "ja": ("どの気体が発生しますか？", "二酸化炭素", "水", "メタン", "酸素"),
        "bn": ("কোন গ্যাস উৎপন্ন হয়?", "কার্বন ডাই অক্সাইড", "পানি", "মিথেন", "অক্সিজেন"),
    }
    for lang, (q, correct, w1, w2, w3) in translated.items():
        write_jsonl(
            folder / f"gpqa-diamond_{lang}.jsonl",
            [
                {
                    **GPQA_ROW,
                    "Question": q,
                    "Correct Answer": correct,
                    "Incorrect Answer 1": w1,
                    "Incorrect Answer 2": w2,
                    "Incorrect Answer 3": w3,
                },
                {**GPQA_ROW, "Record ID": "rec2", "Question": q + " (2)"},
            ],
        )
    problems = load_benchmark(benchmark_specs("gpqa-diamond", data=str(folder)), list(translated))
    assert len(problems) == 8
    ja = next(p for p in problems if p.lang == "ja" and p.id == "rec06pnAkLOr2t2mp")
    assert ja.choices == ("二酸化炭素", "水", "メタン", "酸素") and ja.answer == "二酸化炭素"
    assert {p.id for p in problems if p.lang == "bn"} == {"rec06pnAkLOr2t2mp", "rec2"}
    with pytest.raises(XlingError, match=r"missing gpqa-diamond_te\.jsonl"):
        load_benchmark(benchmark_specs("gpqa-diamond", data=str(folder)), ["en", "te"])


# ------------------------------------------------------------------------ synth


def test_synth_generated_and_from_build_bench_folder(tmp_path: Path) -> None:
    from xling.world import build_benchmark

    generated = load_benchmark(benchmark_specs("synth"), ["en", "sw"], limit=3)
    assert len(generated) == 6 and {p.benchmark for p in generated} == {"synth"}
    en, sw = generated[:3], generated[3:]
    assert [p.id for p in en] == [p.id for p in sw] and en[0].question != sw[0].question

    build_benchmark(tmp_path / "bench", n_train=4, n_test=2, seed=0, langs=["en", "te"])
    problems = load_benchmark(
        benchmark_specs("synth", data=str(tmp_path / "bench" / "test")), ["en", "te"]
    )
    assert len(problems) == 4 and problems[0].id == problems[2].id
    train = load_benchmark(benchmark_specs("synth", training=True), ["en"], limit=2)
    assert {p.id for p in train}.isdisjoint({p.id for p in generated})  # train != test problems


# ------------------------------------------------------------------------ --bench NAME wiring


def test_data_parallel_takes_a_preset(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from xling.cli import app

    out = tmp_path / "x1.jsonl"
    result = CliRunner().invoke(
        app, ["data", "parallel", "--bench", "synth", "--x", "1", "--n", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert {r["lang"] for r in rows} == {"en", "es"} and {r["benchmark"] for r in rows} == {"synth"}
    meta = json.loads(out.with_name("x1.meta.json").read_text("utf-8"))
    assert meta["source"]["split"] == "train"  # the preset's training split


def test_benchmarks_command_lists_presets() -> None:
    from typer.testing import CliRunner

    from xling.cli import app

    result = CliRunner().invoke(app, ["benchmarks"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for name in PRESET_NAMES:
        assert name in result.output
    assert "Qwen/PolyMath" in result.output and "gpqa-diamond_<lang>.jsonl" in result.output
    detail = CliRunner().invoke(app, ["benchmarks", "polymath"], env={"COLUMNS": "200"})
    assert "wang2025polymath" in detail.output and "low, medium, high, top" in detail.output
    assert CliRunner().invoke(app, ["benchmarks", "nope"]).exit_code != 0


class _LetterBackend:
    """Answers every multiple-choice prompt with the letter of the choice that reads
    "correct …", the first prompt of each chunk only flexibly ("I pick option X")."""

    name = "fake"

    def __init__(self, *args, **kwargs) -> None:
        self.prompts: list[str] = []

    def generate(self, requests, params):
        from xling.backends.base import Output

        outputs = []
        for index, request in enumerate(requests):
            prompt = request.messages[-1]["content"]
            self.prompts.append(prompt)
            letter = next(
                line[0] for line in prompt.splitlines() if line[1:3] == ") " and "correct" in line
            )
            text = f"I pick option {letter}." if index == 0 else f"Answer: {letter}"
            outputs.append([Output(text, "stop", 5)] * params.n)
        return outputs

    def close(self) -> None:
        pass


def test_eval_gpqa_records_the_shuffle_and_scores_strict_and_flexible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xling import evaluate
    from xling.jsonl import read_jsonl

    folder = tmp_path / "gpqa"
    for lang in ("en", "de"):
        rows = [
            {
                **GPQA_ROW,
                "Record ID": f"r{i}",
                "Question": f"[{lang}] Q{i}",
                "Correct Answer": f"correct {i}",
                "Incorrect Answer 1": f"wrong {i}a",
                "Incorrect Answer 2": f"wrong {i}b",
                "Incorrect Answer 3": f"wrong {i}c",
            }
            for i in range(6)
        ]
        write_jsonl(folder / f"gpqa-diamond_{lang}.jsonl", rows)
    backend = _LetterBackend()
    monkeypatch.setattr(evaluate, "get_backend", lambda *a, **k: backend)
    cfg = evaluate.eval_config(
        None,
        model="fake",
        bench="gpqa-diamond",
        data=str(folder),
        langs="en,de",
        batch_size=3,
        score_workers=1,
        out=str(tmp_path / "run"),
    )
    assert cfg.max_new_tokens == 8192  # the preset's default, under flags and config files
    metrics = evaluate.run_eval(cfg)

    gens = list(read_jsonl(tmp_path / "run" / "generations.jsonl"))
    assert len(gens) == 12 and all(g["answer_type"] == "choice" for g in gens)
    for g in gens:
        shown = g["choices"]
        assert sorted(g["choice_order"]) == [0, 1, 2, 3]
        assert shown[LETTER_INDEX[g["answer"]]].startswith("correct")
        assert f"A) {shown[0]}" in g["prompt"]
    by_key = {(g["lang"], g["id"]): g["choice_order"] for g in gens}
    assert all(by_key[("en", f"r{i}")] == by_key[("de", f"r{i}")] for i in range(6))
    assert len({tuple(v) for v in by_key.values()}) > 1  # shuffled per problem

    cell = metrics["benchmarks"]["gpqa-diamond"]["langs"]["en"]
    assert cell["accuracy"] == cell["accuracy_flexible"] == 1.0
    assert cell["accuracy_strict"] == pytest.approx(4 / 6)  # 2 chunks opened with "option X"
    csv_text = (tmp_path / "run" / "metrics.csv").read_text("utf-8")
    assert "accuracy_strict" in csv_text.splitlines()[0]


LETTER_INDEX = {letter: i for i, letter in enumerate("ABCD")}


def test_old_flags_keep_their_meaning() -> None:
    # `--bench mgsm --data DIR` reads the TSV folder with xling's old defaults.
    (spec,) = benchmark_specs("mgsm", data=str(BENCH / "mgsm"))
    assert (spec.kind, spec.benchmark) == ("mgsm", "mgsm")
    assert eval_defaults("mgsm", data="x") == {"n": 1, "max_new_tokens": 1024}
    assert "langs" not in eval_defaults("polymath")  # it holds all 11: "all" stays
    # Loader kinds with field flags, as before presets existed.
    (spec,) = benchmark_specs("jsonl", data="f.jsonl", fields={"question": "q", "id": "pid"})
    assert (spec.fields.question, spec.fields.answer, spec.fields.id) == ("q", "answer", "pid")
    assert (
        spec.split == "test" and benchmark_specs("hf", data="x", training=True)[0].split == "train"
    )
    with pytest.raises(XlingError, match="--data is required"):
        benchmark_specs("jsonl")
    with pytest.raises(XlingError, match="--bench synth"):
        benchmark_specs("synthetic")
    # A preset's field map takes flag overrides.
    (spec,) = benchmark_specs("math500", data="d", fields={"question": "translated_problem"})
    assert (spec.fields.question, spec.fields.id) == ("translated_problem", "unique_id")
