"""Evaluation protocols: the paper's (unchanged) and PolyMath's own (arXiv 2504.18428): its
per-language instruction, DW-ACC over its four levels, and the language consistency of the
thinking and the answer; end to end with `xling eval --protocol polymath` on a local copy
of Qwen/PolyMath."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xling.errors import XlingError
from xling.languages import ALL_CODES, get_language
from xling.prompts import user_message
from xling.protocols import (
    POLYMATH_INSTRUCTIONS,
    PROTOCOLS,
    check_protocol,
    describe,
    dw_acc,
    instruction,
    polymath_level,
    protocol_metrics,
)
from xling.records import Generation, Problem, Score, from_dict, to_dict
from xling.scoring import score_generation
from xling.testing.records import generation

LEVELS = ("low", "medium", "high", "top")

# ------------------------------------------------------------------------ instructions


def test_paper_instruction_is_the_registry_one() -> None:
    for code in ALL_CODES:
        assert instruction(code) == instruction(code, "paper") == get_language(code).instruction


def test_polymath_instruction_per_language() -> None:
    assert PROTOCOLS == ("paper", "polymath")
    assert set(POLYMATH_INSTRUCTIONS) == set(ALL_CODES)
    # PolyMath's instruction.py `query_dic`, as Python reads it (backslashed braces kept).
    assert (
        instruction("en", "polymath") == r"Note: Please put the final answer in the $\boxed\{\}$."
    )
    assert instruction("zh", "polymath") == r"注意：请将最终答案放在 $\boxed\{\}$ 中。"
    assert instruction("ja", "polymath") == r"注意：最終的な答えを $\boxed\{\}$ に入れてください。"
    assert instruction("sw", "polymath") == (
        r"Kumbuka: Tafadhali weka jibu la mwisho katika $\boxed\{\}$."
    )
    texts = {instruction(code, "polymath") for code in ALL_CODES}
    assert len(texts) == len(ALL_CODES)  # one per language, in that language
    for code in ALL_CODES:
        text = instruction(code, "polymath")
        assert r"$\boxed\{\}$" in text and text != instruction(code, "paper")


def test_the_prompt_ends_with_the_protocol_instruction() -> None:
    problem = Problem(
        benchmark="polymath-low", id="low-0", lang="de", question=" Was ist 2+2? ", answer="4"
    )
    assert user_message(problem, "polymath") == (
        "Was ist 2+2?\n\n" + r"Hinweis: Bitte setzen Sie die endgültige Antwort in $\boxed\{\}$."
    )
    assert user_message(problem).endswith(get_language("de").instruction)


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(XlingError, match="unknown protocol 'polymat'"):
        check_protocol("polymat")
    with pytest.raises(XlingError, match="unknown protocol"):
        instruction("en", "mgsm")
    with pytest.raises(XlingError, match="unknown protocol"):
        protocol_metrics([], "nope")


# ------------------------------------------------------------------------ DW-ACC


def rows_for(
    lang: str, level: str, correct: list[bool], *, strict: list[bool] | None = None, base="polymath"
) -> list[dict]:
    """Score rows of one language and level, one sample per problem."""
    return [
        to_dict(
            Score(
                benchmark=f"{base}-{level}",
                lang=lang,
                id=f"{level}-{i}",
                sample=0,
                gold="1",
                pred="1" if ok else "2",
                correct=ok,
                status="ok",
                boxed=True,
                think_ok=None,
                format_ok=True,
                detected_lang=lang,
                lang_confidence=1.0,
                off_target=False,
                correct_strict=(strict or correct)[i],
                pred_strict="1",
            )
        )
        for i, ok in enumerate(correct)
    ]


def test_dw_acc_weights_levels_1_2_4_8() -> None:
    scores = [
        *rows_for("en", "low", [True, True]),
        *rows_for("en", "medium", [True, False]),
        *rows_for("en", "high", [False, False]),
        *rows_for("en", "top", [False, False]),
        # de: 0.5, 0.5, 0.5, 1.0 flexibly; strictly 0, 0, 0, 0.5
        *rows_for("de", "low", [True, False], strict=[False, False]),
        *rows_for("de", "medium", [False, True], strict=[False, False]),
        *rows_for("de", "high", [True, False], strict=[False, False]),
        *rows_for("de", "top", [True, True], strict=[True, False]),
    ]
    section = protocol_metrics(scores, "polymath")["polymath"]
    assert section["levels"] == list(LEVELS)
    assert section["weights"] == {"low": 1, "medium": 2, "high": 4, "top": 8}
    # en: (1·1.0 + 2·0.5 + 4·0 + 8·0) / 15; de: (0.5 + 1 + 2 + 8) / 15
    assert section["dw_acc"]["en"] == pytest.approx(2 / 15)
    assert section["dw_acc"]["de"] == pytest.approx(11.5 / 15)
    assert section["dw_acc"]["macro"] == pytest.approx((2 / 15 + 11.5 / 15) / 2)
    assert section["dw_acc_strict"]["de"] == pytest.approx(8 * 0.5 / 15)
    assert section["dw_acc_strict"]["en"] == pytest.approx(2 / 15)
    assert list(section["dw_acc"]) == ["en", "de", "macro"]  # the registry's order
    assert protocol_metrics(scores, "paper") == {}


def test_dw_acc_is_avg_at_n_over_samples() -> None:
    low = rows_for("en", "low", [True, False, False, False])
    for i, row in enumerate(low):  # two problems, two samples each: 1/4 correct
        row["id"], row["sample"] = f"low-{i // 2}", i % 2
    others = [r for lv in LEVELS[1:] for r in rows_for("en", lv, [True])]
    section = protocol_metrics(low + others, "polymath")["polymath"]
    assert section["dw_acc"]["en"] == pytest.approx((0.25 + 2 + 4 + 8) / 15)


def test_dw_acc_needs_every_level() -> None:
    scores = [
        *[r for lv in LEVELS for r in rows_for("en", lv, [True])],
        *[r for lv in ("low", "high", "top") for r in rows_for("fr", lv, [True])],
    ]
    section = protocol_metrics(scores, "polymath")["polymath"]
    assert section["dw_acc"] == {"en": 1.0, "fr": None, "macro": 1.0}
    only_top = protocol_metrics(rows_for("en", "top", [True]), "polymath")["polymath"]
    assert only_top["levels"] == ["top"]
    assert only_top["dw_acc"] == {"en": None, "macro": None}
    assert dw_acc({"low": 1.0, "medium": 1.0, "high": 1.0}) is None
    assert dw_acc(dict.fromkeys(LEVELS, 0.5)) == pytest.approx(0.5)


def test_levels_are_read_from_the_part_names() -> None:
    assert [polymath_level(f"polymath-{lv}") for lv in LEVELS] == list(LEVELS)
    assert polymath_level("pm-top") == "top"  # --bench-name pm
    assert polymath_level("mgsm") is None and polymath_level("top") is None
    assert polymath_level("polymath-middle") is None
    renamed = [r for lv in LEVELS for r in rows_for("en", lv, [lv == "top"], base="pm")]
    section = protocol_metrics(renamed, "polymath")["polymath"]
    assert section["dw_acc"]["en"] == pytest.approx(8 / 15)


def test_scores_without_strict_verdicts_have_no_strict_dw_acc() -> None:
    scores = [r for lv in LEVELS for r in rows_for("en", lv, [True])]
    scores[0]["correct_strict"] = None
    section = protocol_metrics(scores, "polymath")["polymath"]
    assert section["dw_acc"]["en"] == 1.0 and section["dw_acc_strict"]["en"] is None


# ------------------------------------------------------------------------ consistency

EN_THINK = "Okay, Janet had twelve apples and she ate three, so I subtract to see how many remain."
ZH_THINK = "好的，珍妮特有十二个苹果，她吃了三个，所以我需要做减法来求出还剩多少个。"
ES_THINK = (
    "Bueno, Janet tenía doce manzanas y se comió tres, así que resto para saber cuántas quedan."
)
EN_ANSWER = "Janet has nine apples left, so the answer is \\boxed{9}."
ES_ANSWER = "A Janet le quedan nueve manzanas, así que la respuesta es \\boxed{9}."


def gen(lang: str, output: str, i: int) -> Generation:
    return generation(
        output, "9", lang=lang, id=f"low-{i}", benchmark="polymath-low", question="q", prompt="p"
    )


@pytest.fixture(scope="module")
def consistency_scores() -> list[dict]:
    outputs = [
        gen("en", f"<think>{EN_THINK}</think>{EN_ANSWER}", 0),  # both in English
        gen("en", f"<think>{ZH_THINK}</think>{EN_ANSWER}", 1),  # thinks in Chinese
        gen("en", EN_ANSWER, 2),  # no thinking block: left out
        gen("es", f"{EN_THINK}</think>{ES_ANSWER}", 0),  # template opened <think>: thinks in en
        gen("es", f"<think>{ES_THINK}</think>{EN_ANSWER}", 1),  # answers in English
        gen("es", f"<think>{ES_THINK}</think>\\boxed{{9}}", 2),  # an answer with no letters
    ]
    return [to_dict(score_generation(g)) for g in outputs]


def test_score_records_the_thinking_and_answer_languages(consistency_scores: list[dict]) -> None:
    found = [(s["lang"], s["think_lang"], s["answer_lang"]) for s in consistency_scores]
    assert found == [
        ("en", "en", "en"),
        ("en", "zh", "en"),
        ("en", None, None),
        ("es", "en", "es"),
        ("es", "es", "en"),
        ("es", "es", None),
    ]
    assert consistency_scores[3]["correct"] and consistency_scores[5]["correct"]


def test_language_consistency_rates(consistency_scores: list[dict]) -> None:
    section = protocol_metrics(consistency_scores, "polymath")["polymath"]
    en, es, macro = (section["language_consistency"][k] for k in ("en", "es", "macro"))
    assert en == {
        "thinking": 0.5,
        "answer": 1.0,
        "both": 0.5,
        "n_thinking": 2,
        "n_answer": 2,
        "n_both": 2,
    }
    assert es["thinking"] == pytest.approx(2 / 3) and es["n_thinking"] == 3
    assert es["answer"] == 0.5 and es["n_answer"] == 2
    assert es["both"] == 0.0 and es["n_both"] == 2
    assert macro == {
        "thinking": pytest.approx((0.5 + 2 / 3) / 2),
        "answer": 0.75,
        "both": 0.25,
    }


def test_old_score_rows_still_load_and_have_no_consistency() -> None:
    rows = [r for lv in LEVELS for r in rows_for("en", lv, [True])]
    for row in rows:
        del row["think_lang"], row["answer_lang"]
    score = from_dict(Score, rows[0])
    assert score.think_lang is None and score.answer_lang is None
    section = protocol_metrics(rows, "polymath")["polymath"]
    assert section["dw_acc"]["en"] == 1.0
    assert section["language_consistency"]["en"]["thinking"] is None
    assert section["language_consistency"]["macro"] == dict.fromkeys(("thinking", "answer", "both"))


def test_describe_shows_the_protocol_metrics(consistency_scores: list[dict]) -> None:
    assert describe({"benchmarks": {}, "overall": {}}) == []
    scores = [
        *rows_for("en", "low", [True, True]),
        *rows_for("en", "medium", [True, False]),
        *rows_for("en", "high", [False, False]),
        *rows_for("en", "top", [False, False]),
        *[s for s in consistency_scores if s["lang"] == "en"],
    ]
    lines = describe(protocol_metrics(scores, "polymath"))
    text = "\n".join(lines)
    assert "arXiv 2504.18428" in lines[0] and "top 8" in lines[0]
    en_line = next(line for line in lines if line.strip().startswith("en "))
    # low 5/5 (the consistency rows are low-level too, all correct), medium 1/2: 2/15
    assert en_line.split()[1:] == ["13.3", "13.3", "50.0", "100.0", "50.0", "2"]
    assert "needs all four levels" not in text
    partial = describe(protocol_metrics(consistency_scores[:1], "polymath"))
    assert any("this run holds: low" in line for line in partial)


# ------------------------------------------------------------------------ end to end


class _ThinkingBackend:
    """Thinks in English and answers in the prompt's language (the gold answer, boxed)."""

    name = "fake"

    def generate(self, requests, params):
        from xling.backends.base import Output

        outputs = []
        for request in requests:
            prompt = request.messages[-1]["content"]
            lang, answer = prompt[1:3], prompt.split("2+")[1].split("?")[0]
            text = f"{EN_THINK}</think>" + (ES_ANSWER if lang == "es" else EN_ANSWER).replace(
                "9", str(2 + int(answer))
            )
            outputs.append([Output(text, "stop", 20)] * params.n)
        return outputs

    def close(self) -> None:
        pass


def test_run_scores_the_thinking_language_in_the_workers(tmp_path: Path, hf_cache: Path) -> None:
    from xling import evaluate

    repo, out = tmp_path / "PolyMath", tmp_path / "run"
    write_polymath_copy(repo, ("en", "es"), per_level=1)
    cfg = evaluate.eval_config(
        None,
        model="fake",
        bench="polymath",
        data=str(repo),
        langs="en,es",
        protocol="polymath",
        score_workers=1,
        out=str(out),
    )
    metrics = evaluate.run_eval(cfg, backend=_ThinkingBackend())
    scores = [json.loads(line) for line in (out / "scores.jsonl").read_text("utf-8").splitlines()]
    assert {(s["lang"], s["think_lang"], s["answer_lang"]) for s in scores} == {
        ("en", "en", "en"),
        ("es", "en", "es"),
    }
    section = metrics["polymath"]
    assert section["dw_acc"] == {"en": 1.0, "es": 1.0, "macro": 1.0}
    assert section["language_consistency"]["es"]["thinking"] == 0.0
    assert section["language_consistency"]["es"]["answer"] == 1.0
    assert section["language_consistency"]["en"]["both"] == 1.0
    assert json.loads((out / "metrics.json").read_text("utf-8"))["polymath"] == section


def write_polymath_copy(repo: Path, langs: tuple[str, ...], per_level: int) -> None:
    """A local copy of Qwen/PolyMath as `huggingface-cli download` leaves it:
    <lang>/<level>.parquet (id, question, answer) and the card declaring the configs."""
    import datasets

    card = ["---", "configs:"]
    for lang in langs:
        card += [f"- config_name: {lang}", "  data_files:"]
        for level in LEVELS:
            rows = [
                {
                    "id": f"{level}-{lang}-{i}",
                    "question": f"[{lang}] {level} {i}: 2+{i}?",
                    "answer": str(2 + i),
                }
                for i in range(per_level)
            ]
            path = repo / lang / f"{level}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            datasets.Dataset.from_list(rows).to_parquet(str(path))
            card += [f"  - split: {level}", f"    path: {lang}/{level}.parquet"]
    (repo / "README.md").write_text("\n".join([*card, "---", "", "# fixture"]), "utf-8")


@pytest.mark.slow
def test_eval_with_the_polymath_protocol(
    tiny_model_dir: Path, tmp_path: Path, hf_cache: Path, one_torch_thread: None
) -> None:
    from typer.testing import CliRunner

    from xling.cli import app

    repo, out = tmp_path / "PolyMath", tmp_path / "run"
    write_polymath_copy(repo, ("en", "th"), per_level=2)
    args = [
        "eval", "--model", str(tiny_model_dir), "--bench", "polymath", "--data", str(repo),
        "--langs", "en,th", "--protocol", "polymath", "--max-new-tokens", "4",
        "--batch-size", "16", "--score-workers", "1", "--out", str(out),
    ]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output

    assert json.loads((out / "config.json").read_text("utf-8"))["protocol"] == "polymath"
    gens = [
        json.loads(line) for line in (out / "generations.jsonl").read_text("utf-8").splitlines()
    ]
    assert len(gens) == 2 * 4 * 2
    for g in gens:
        assert g["prompt"].endswith("\n\n" + POLYMATH_INSTRUCTIONS[g["lang"]])
    scores = [json.loads(line) for line in (out / "scores.jsonl").read_text("utf-8").splitlines()]
    assert all("think_lang" in s and "answer_lang" in s for s in scores)

    metrics = json.loads((out / "metrics.json").read_text("utf-8"))
    assert set(metrics["benchmarks"]) == {f"polymath-{lv}" for lv in LEVELS}
    section = metrics["polymath"]
    assert section["levels"] == list(LEVELS)
    assert set(section["dw_acc"]) == {"en", "th", "macro"}
    for lang in ("en", "th"):
        # The weighted mean of the levels' accuracies in the benchmark tables.
        by_level = {lv: metrics["benchmarks"][f"polymath-{lv}"]["langs"][lang] for lv in LEVELS}
        weighted = zip((1, 2, 4, 8), LEVELS, strict=True)
        expected = sum(w * by_level[lv]["accuracy"] for w, lv in weighted) / 15
        assert section["dw_acc"][lang] == pytest.approx(expected)
    assert set(section["language_consistency"]) == {"en", "th", "macro"}
