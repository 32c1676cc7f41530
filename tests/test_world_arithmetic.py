"""Organism v3's alignment knobs: steps written in each language's own words and numbers in
native digits, so cross-lingual alignment is not free (the world's rendering, the corpus
and the benchmark; the design-table rows need a GPU)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from xling.extract import extract_answer
from xling.languages import ALL_CODES, get_language
from xling.organism import OrganismConfig, step_examples
from xling.testing.cli import one_line_error, run_xling
from xling.world import generate_problems, lang_data, render_parts
from xling.world.langs import ARITHMETIC_KEYS, parse_lang
from xling.world.problems import Step
from xling.world.vocab import TemplateError

SYMBOLS = re.compile(r"\d\s*[+×÷=-]\s*\d|\s[×÷=]\s")
PROBLEMS = generate_problems(40, seed=0, split="test")


def test_step_render_with_and_without_words() -> None:
    step = Step((17, 3, 5), ("-", "-"), 9)
    assert step.render() == "17 - 3 - 5 = 9"
    words = {"+": "plus", "-": "minus", "×": "times", "÷": "over", "=": "is"}
    assert step.render(words=words) == "17 minus 3 minus 5 is 9"
    assert step.render(lambda n: f"<{n}>", words) == "<17> minus <3> minus <5> is <9>"


@pytest.mark.parametrize("lang", ALL_CODES)
def test_every_language_writes_its_steps_in_its_own_words(lang: str) -> None:
    words = lang_data(lang).arithmetic
    assert set(words) == set(ARITHMETIC_KEYS)
    for problem in PROBLEMS:
        shared = render_parts(problem, lang)
        local = render_parts(problem, lang, arithmetic="localized")
        # Same question, same number of steps, same final line: only the arithmetic differs.
        assert local.question == shared.question
        assert local.answer_line == shared.answer_line
        assert len(local.steps) == len(shared.steps)
        for step, line in zip(problem.steps, local.steps, strict=True):
            assert f" {words['=']} " in line
            for op in step.ops:
                assert f" {words[op]} " in line
            assert not SYMBOLS.search(line), line
    assert any(" = " in line for p in PROBLEMS for line in render_parts(p, lang).steps)


def test_native_digits_where_a_language_has_them_and_answers_still_score() -> None:
    problem = PROBLEMS[0]
    for lang in ("bn", "te", "th"):
        digits = get_language(lang).digits
        assert digits
        parts = render_parts(problem, lang, native_digits=True, arithmetic="localized")
        solution = "\n".join((*parts.steps, parts.answer_line))
        assert not re.search(r"[0-9]", solution.replace("\\boxed", ""))
        assert set(digits) & set(solution)
        # The scorer reads native digits: the boxed answer is the problem's answer.
        assert extract_answer(solution, lang).answer == str(problem.answer)


def test_unknown_style_and_a_language_without_words_are_refused() -> None:
    with pytest.raises(TemplateError, match="arithmetic 'spoken'"):
        render_parts(PROBLEMS[0], "en", arithmetic="spoken")
    text = (Path(__file__).parents[1] / "src/xling/world/langs/en.toml").read_text(encoding="utf-8")
    without = re.sub(r"\[arithmetic\][^\[]*", "", text, count=1)
    assert not parse_lang(without, source="x.toml").arithmetic  # optional for a new language
    broken = text.replace('"÷" = "divided by"\n', "")
    with pytest.raises(TemplateError, match=r"arithmetic: missing key '÷'"):
        parse_lang(broken, source="x.toml")


def test_the_organism_corpus_renders_its_world_and_old_checkpoints_still_resume() -> None:
    base = {"lang_weights": {"en": 1.0, "es": 1.0}, "careful_share": {"default": 1.0}}
    plain = OrganismConfig(**base, batch_size=16)
    worded = OrganismConfig(**base, batch_size=16, arithmetic="localized", native_digits=True)
    steps = [
        line
        for ex in step_examples(worded, 0)
        for line in ex.assistant.splitlines()
        if line and not line.startswith("<") and "boxed" not in line
    ]
    assert steps and not any(SYMBOLS.search(line) for line in steps)
    assert any(" por " in line or " times " in line for line in steps)
    assert any(" × " in ex.assistant or " = " in ex.assistant for ex in step_examples(plain, 0))
    # The knobs at their v2 values are not part of the identity, so a checkpoint made before
    # they existed still resumes; set, they are.
    assert not {"arithmetic", "native_digits", "type_coverage"} & set(plain.identity())
    assert worded.identity()["arithmetic"] == "localized"
    assert worded.identity()["native_digits"] is True
    with pytest.raises(Exception, match="arithmetic must be one of"):
        OrganismConfig(**base, arithmetic="spoken")


def test_build_bench_renders_the_world_it_is_asked_for(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    proc = run_xling(
        "organism", "build-bench", "--out", out, "--n-train", "2", "--n-test", "3",
        "--langs", "bn,es", "--arithmetic", "localized", "--native-digits",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in (out / "test" / "synth_bn.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    assert all(" সমান " in r["solution"] for r in rows)
    assert all(set(get_language("bn").digits) & set(r["question"]) for r in rows)
    bad = run_xling("organism", "build-bench", "--out", tmp_path / "x", "--arithmetic", "sung")
    one_line_error(bad, "arithmetic")
