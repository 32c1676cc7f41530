"""Scoring: format checks, and the adversarial corpus that must never hang or execute."""

from pathlib import Path

import pytest

from xling.records import Generation
from xling.scoring import check_think, score_generation, score_many
from xling.testing.records import generation


def gen(output: str, answer: str = "18", lang: str = "en", i: int = 0) -> Generation:
    return generation(output, answer, lang=lang, id=str(i), question="q")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no block here", None),
        ("<think>reason</think>The answer is \\boxed{1}", True),
        ("reason</think>\\boxed{1}", True),  # the template opened the block in the prompt
        ("<think>reason without end \\boxed{1}", False),
        ("<think>a</think><think>b</think>\\boxed{1}", False),
        ("</think>x<think>", False),
        ("<think>only thinking</think>   ", False),
    ],
)
def test_check_think(text: str, expected: bool | None) -> None:
    assert check_think(text) is expected


def test_score_right_answer_in_language() -> None:
    s = score_generation(
        gen(
            "Janet verkauft 16 - 3 - 4 = 9 Eier für je 2 Dollar, also verdient sie jeden Tag "
            "9 * 2 = 18 Dollar auf dem Bauernmarkt. \\boxed{18}",
            lang="de",
        )
    )
    assert s.correct and s.status == "ok" and s.boxed and s.format_ok
    assert s.detected_lang == "de" and s.off_target is False and s.lang_confidence > 0.5


def test_score_off_target_and_unboxed() -> None:
    s = score_generation(
        gen(
            "She sells nine eggs every day at the farmers market for two dollars each, so she "
            "makes eighteen dollars.\nFinal Answer: 18",
            lang="bn",
        )
    )
    assert s.correct and not s.boxed and not s.format_ok
    assert s.detected_lang == "en" and s.off_target is True


def test_box_inside_think_only_is_not_format_ok() -> None:
    s = score_generation(gen("<think>so \\boxed{18}</think>The answer is 18."))
    assert s.correct and not s.format_ok


def test_wrong_and_missing_answers() -> None:
    assert not score_generation(gen("\\boxed{17}")).correct
    empty = score_generation(gen(""))
    assert empty.pred is None and empty.status == "no_answer" and empty.off_target is None


def test_adversarial_corpus_is_bounded_and_never_executes(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    corpus = [
        "\\boxed{9^{9^{9^{9}}}}",  # sympy would evaluate this power tower for ever
        "\\boxed{" + "{" * 10_000 + "1" + "}" * 10_000 + "}",
        "The answer is 18. " * 300_000,  # ~5 MB
        f"\\boxed{{__import__('os').system('touch {marker}')}}",
        f"Answer: __import__('os').system('touch {marker}')",
        f"\\boxed{{exec(\"open('{marker}', 'w')\")}}",
        "1," * 200_000 + "\\boxed{",
        "\x00\x01\ufffd" * 1000,
    ]
    gens = [gen(text, answer="5", i=i) for i, text in enumerate(corpus)]
    gens.append(gen("\\boxed{5}", answer="5", i=len(corpus)))  # a normal item after the storm
    scores = list(score_many(gens, workers=2, timeout_s=3.0))
    assert [s.id for s in scores] == [g.id for g in gens]
    assert not any(s.correct for s in scores[:-1])
    assert scores[0].status == "timeout"
    assert scores[-1].correct and scores[-1].status == "ok"
    assert not marker.exists()


def test_truncated_response_is_no_answer_under_strict_scoring() -> None:
    cut = Generation(
        benchmark="t",
        lang="en",
        id="0",
        sample=0,
        question="q",
        answer="18",
        prompt="q",
        output="16 - 3 - 4 = 9 eggs, and 9 * 2 = 18. Let me double-check the price per",
        finish_reason="length",
    )
    s = score_generation(cut)
    assert s.correct and s.pred == "18" and s.status == "ok"  # flexible: the last number
    assert s.pred_strict is None and s.correct_strict is False


def test_strict_and_flexible_agree_on_an_explicit_answer() -> None:
    s = score_generation(gen("So she makes 18 dollars.\n**Final Answer:** 18"))
    assert s.correct and s.correct_strict and s.pred_strict == s.pred == "18"
