"""GRPO reward functions on hand-made completions (xling.train.rewards).

Every reward goes through the evaluation scorer in worker processes under a hard timeout,
so these tests also cover: both completion shapes TRL passes, the adversarial input that
must not hang training, and one scoring pass per batch for all three rewards."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest

from xling.engine import Completion
from xling.train.rewards import (
    DEFAULT_REWARDS,
    REWARDS,
    EarlyScoring,
    RewardConfigError,
    RolloutScorer,
    accuracy_reward,
    build_reward_funcs,
    completion_text,
    format_reward,
    language_reward,
    parse_reward_spec,
    template_uses_think,
)

EN_RIGHT = "Janet has 16 eggs and eats 3, so 16 - 3 = 13 are left.\nThe answer is \\boxed{13}."
EN_WRONG = "Janet has 16 eggs and eats 3, so 16 - 3 = 12 are left.\nThe answer is \\boxed{12}."
EN_NO_BOX = "Janet has 16 eggs and eats 3, so 16 - 3 = 13 eggs are left.\nFinal Answer: 13"
ES_RIGHT = (
    "Janet tiene 16 huevos y se come 3, así que le quedan 16 - 3 = 13 huevos.\n"
    "La respuesta es \\boxed{13}."
)
RU_RIGHT = "У Джанет 16 яиц, она съедает 3, значит остаётся 16 - 3 = 13 яиц.\nОтвет: \\boxed{13}"
THINK_OK = (
    "<think>Janet has sixteen eggs and eats three of them.</think>\nSo the result is \\boxed{13}."
)
THINK_BROKEN = (
    "<think>Janet has sixteen eggs <think> and eats three.\nSo the result is \\boxed{13}."
)


@pytest.fixture(scope="module")
def scorer() -> Iterator[RolloutScorer]:
    with RolloutScorer(workers=2, timeout_s=3.0) as s:
        yield s


def rewards(
    scorer: RolloutScorer, completions: list, langs: list[str], answers: list[str], **kw: object
) -> dict[str, list[float]]:
    cols = {"lang": langs, "answer": answers, "scorer": scorer}
    return {
        "accuracy": accuracy_reward(completions, **cols),
        "format": format_reward(completions, **cols, **kw),
        "language": language_reward(completions, **cols),
    }


def test_hand_made_completions(scorer: RolloutScorer) -> None:
    cases = [  # (completion, prompt lang, gold, (accuracy, format, language))
        (EN_RIGHT, "en", "13", (1, 1, 1)),
        (EN_WRONG, "en", "13", (0, 1, 1)),
        (EN_NO_BOX, "en", "13", (1, 0, 1)),  # right answer, but not in \boxed{}
        (ES_RIGHT, "es", "13", (1, 1, 1)),
        (RU_RIGHT, "ru", "13", (1, 1, 1)),
        (EN_RIGHT, "es", "13", (1, 1, 0)),  # right, boxed, but English for a Spanish prompt
        (ES_RIGHT, "ru", "13", (1, 1, 0)),
        ("", "en", "13", (0, 0, 0)),  # empty
        ("\\boxed{13}", "en", "13", (1, 1, 0)),  # no words: language unidentifiable
        ("The answer is \\boxed{1,000}.", "en", "1000", (1, 1, 1)),  # same normalization as eval
        (THINK_OK, "en", "13", (1, 1, 1)),
        (THINK_BROKEN, "en", "13", (1, 0, 1)),  # malformed think block fails the format
        ("I think it is \\boxed{13", "en", "13", (1, 0, 1)),  # unclosed box: last number only
    ]
    got = rewards(scorer, [c[0] for c in cases], [c[1] for c in cases], [c[2] for c in cases])
    for i, (text, lang, _, expected) in enumerate(cases):
        values = (got["accuracy"][i], got["format"][i], got["language"][i])
        assert values == expected, f"{lang}: {text[:50]!r}"


def test_conversational_completions_and_reasoning_fields(scorer: RolloutScorer) -> None:
    completions = [
        [{"role": "assistant", "content": EN_RIGHT}],
        [{"role": "assistant", "content": [{"type": "text", "text": ES_RIGHT}]}],
        [
            {
                "role": "assistant",
                "content": "So the result is \\boxed{13}.",
                "reasoning_content": "Janet has sixteen eggs and eats three of them.",
            }
        ],
    ]
    got = rewards(scorer, completions, ["en", "es", "en"], ["13"] * 3)
    assert got == {"accuracy": [1, 1, 1], "format": [1, 1, 1], "language": [1, 1, 1]}
    assert completion_text(completions[2]).startswith("<think>Janet")
    assert completion_text(None) == "" and completion_text("plain") == "plain"


def test_required_think_block(scorer: RolloutScorer) -> None:
    got = rewards(
        scorer,
        [EN_RIGHT, THINK_OK, "Janet eggs.</think> so \\boxed{13}"],
        ["en"] * 3,
        ["13"] * 3,
        require_think=True,
    )
    # A template that opens <think> in the prompt leaves only the closing tag to the model.
    assert got["format"] == [0, 1, 1]
    assert got["accuracy"] == [1, 1, 1]


def test_adversarial_completions_are_bounded(scorer: RolloutScorer) -> None:
    adversarial = [
        "\\boxed{9^{9^{9^{9}}}}",  # sympy would evaluate this power tower for ever
        "\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}",
        "The answer is 13. " * 50_000,
        "\\boxed{__import__('os').system('true')}",
        "\x00\x01\ufffd" * 500,
        EN_RIGHT,  # a normal rollout after the storm still scores
    ]
    started = time.monotonic()
    got = rewards(scorer, adversarial, ["en"] * 6, ["5"] * 5 + ["13"])
    assert time.monotonic() - started < 30  # bounded by the per-item timeout, not sympy
    assert got["accuracy"] == [0, 0, 0, 0, 0, 1]
    assert got["format"][0] == 0 and got["language"][0] == 0  # a timeout scores zero
    assert scorer.n_timeouts >= 1


def test_one_scoring_pass_per_batch_and_rollout_metrics() -> None:
    logged: list[tuple[str, float]] = []
    completions = [EN_RIGHT, EN_WRONG, EN_RIGHT, ""]
    cols = {"lang": ["en", "en", "es", "es"], "answer": ["13"] * 4}
    with RolloutScorer(workers=1) as scorer:
        funcs, weights = build_reward_funcs(DEFAULT_REWARDS, scorer)
        for func in funcs:  # TRL calls each reward with the same completions list
            func(completions=completions, log_metric=lambda k, v: logged.append((k, v)), **cols)
        assert scorer.n_scored == len(completions)
    metrics = dict(logged)
    assert len(logged) == len(metrics)  # logged once per batch, not once per reward
    assert metrics["off_target_rate"] == pytest.approx(1 / 3)  # es prompt, English reply
    assert metrics["rollouts/unidentified_rate"] == pytest.approx(1 / 4)  # the empty one
    assert metrics["rollouts/accuracy"] == pytest.approx(2 / 4)
    assert metrics["rollouts/accuracy_en"] == pytest.approx(1 / 2)
    assert metrics["rollouts/accuracy_es"] == pytest.approx(1 / 2)
    assert weights == [0.8, 0.1, 0.1]
    names = [f.func.__name__ for f in funcs]
    assert names == ["accuracy_reward", "format_reward", "language_reward"]


def test_early_scores_are_the_batch_scores() -> None:
    """Completions scored as they finish give the very scores of the batch, which then
    schedules only what it was not handed early; early ones no batch holds are dropped."""
    completions = [EN_RIGHT, EN_WRONG, ES_RIGHT, EN_NO_BOX]
    cols = {"lang": ["en", "en", "es", "en"], "answer": ["13"] * 4}
    with RolloutScorer(workers=2) as plain:
        expected = plain.score(completions, cols["lang"], cols["answer"])[0]
    # Token ids [i] decode to completion i; prompt 4 is one the batch will not hold.
    langs, answers = [*cols["lang"], "es"], [*cols["answer"], "13"]
    switch_interval = sys.getswitchinterval()

    def decode(ids: list[list[int]]) -> list[str]:
        return [completions[i[0]] for i in ids]

    with RolloutScorer(workers=2) as scorer:
        with EarlyScoring(scorer, decode, langs, answers) as early:
            assert sys.getswitchinterval() < switch_interval  # the generating thread first
            for i in (2, 0, 1):  # in finishing order; the last one is not handed early
                early.on_finish(i, Completion([i], "stop"))
            early.on_finish(4, Completion([0], "stop"))
        assert sys.getswitchinterval() == switch_interval
        got = scorer.score(completions, cols["lang"], cols["answer"])[0]
        assert scorer.n_early == 3
        assert got == expected
        assert [s.id for s in got] == ["0", "1", "2", "3"]
        assert not scorer._early  # the next batch starts clean


def test_early_scoring_failure_leaves_the_batch_to_the_rewards(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(ids: list[list[int]]) -> list[str]:
        raise ValueError("no tokenizer here")

    with RolloutScorer(workers=1) as scorer:
        with EarlyScoring(scorer, broken, ["en"], ["13"]) as early:
            early.on_finish(0, Completion([1, 2], "stop"))
        assert accuracy_reward([EN_RIGHT], lang=["en"], answer=["13"], scorer=scorer) == [1.0]
        assert scorer.n_early == 0
    assert "early reward scoring stopped (ValueError: no tokenizer here)" in caplog.text


def test_missing_columns_are_a_clear_error(scorer: RolloutScorer) -> None:
    with pytest.raises(RewardConfigError, match="column"):
        accuracy_reward([EN_RIGHT], answer=["13"], scorer=scorer)
    with pytest.raises(RewardConfigError, match="1 completions but 2 langs"):
        accuracy_reward([EN_RIGHT], lang=["en", "es"], answer=["13"], scorer=scorer)


def test_reward_specs() -> None:
    assert parse_reward_spec(DEFAULT_REWARDS) == [
        ("accuracy", 0.8),
        ("format", 0.1),
        ("language", 0.1),
    ]
    assert parse_reward_spec("accuracy") == [("accuracy", 1.0)]
    assert parse_reward_spec(" Accuracy=1 , language=0.5 ") == [
        ("accuracy", 1.0),
        ("language", 0.5),
    ]
    for bad, message in [
        ("accuracy=0.8,length=0.2", "unknown reward 'length'"),
        ("accuracy=-1", ">= 0"),
        ("accuracy=x", "not a number"),
        ("accuracy,accuracy", "twice"),
        ("", "no rewards"),
    ]:
        with pytest.raises(RewardConfigError, match=message):
            parse_reward_spec(bad)
    assert set(REWARDS) == {"accuracy", "format", "language"}


def test_think_template_detection() -> None:
    class Tok:
        chat_template: object = None

    tok = Tok()
    assert not template_uses_think(tok)
    tok.chat_template = "{{ '<|im_start|>assistant\\n' }}"
    assert not template_uses_think(tok)
    tok.chat_template = "{{ '<|im_start|>assistant\\n<think>\\n' }}"
    assert template_uses_think(tok)
