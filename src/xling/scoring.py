"""Generation -> Score: extraction (strict and flexible), equivalence, response language,
format. Multiple-choice generations are scored by their chosen letter (`xling.choice`).

Model output is untrusted. Every item is scored in a worker process under a hard
timeout (pebble kills the worker and starts a fresh one), because sympy inside
math-verify can run for hours on a crafted answer and a thread cannot be stopped;
signals do not work in threads either. A timed-out item is scored wrong with
status "timeout" and never blocks the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from xling.choice import extract_choice_answers
from xling.equivalence import answers_equal
from xling.errors import XlingError
from xling.extract import extract_answers, final_section, find_boxed, normalize_answer
from xling.langid import detect_language, is_off_target
from xling.records import Generation, Score

DEFAULT_TIMEOUT_S = 5.0
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"


def check_think(text: str) -> bool | None:
    """Well-formedness of a <think> block; None when the response uses none.

    Templates such as DeepSeek-R1's and Qwen3's put "<think>" in the prompt, so a
    response may legitimately contain only the closing tag.
    """
    opens, closes = text.count(_THINK_OPEN), text.count(_THINK_CLOSE)
    if opens == 0 and closes == 0:
        return None
    if closes != 1 or opens > 1:
        return False
    if opens == 1 and text.find(_THINK_OPEN) > text.find(_THINK_CLOSE):
        return False
    return bool(text.split(_THINK_CLOSE, 1)[1].strip())


def score_generation(gen: Generation) -> Score:
    """Score one generation in-process, strictly and flexibly. Use `score_many` for untrusted
    output."""
    if gen.answer_type == "choice":
        gold = gen.answer.strip().upper()
        answers = extract_choice_answers(gen.output, gen.choices or [], gen.lang)
        correct = answers.flexible.answer == gold
        correct_strict = answers.strict.answer == gold
    else:
        gold = normalize_answer(gen.answer, gen.lang) or gen.answer.strip()
        answers = extract_answers(gen.output, gen.lang, question=gen.question)
        correct = answers_equal(answers.flexible.answer, gold)
        correct_strict = (
            correct
            if answers.strict.answer == answers.flexible.answer
            else answers_equal(answers.strict.answer, gold)
        )
    extraction = answers.flexible
    think_ok = check_think(gen.output)
    # With a reasoning block, the box must be in the answer after it.
    boxed = extraction.boxed and bool(find_boxed(final_section(gen.output)))
    guess = detect_language(gen.output)
    detail = (extraction.source or "") + (" ambiguous" if extraction.ambiguous else "")
    return Score(
        benchmark=gen.benchmark,
        lang=gen.lang,
        id=gen.id,
        sample=gen.sample,
        gold=gold,
        pred=extraction.answer,
        correct=correct,
        status="ok" if extraction.answer is not None else "no_answer",
        boxed=boxed,
        think_ok=think_ok,
        format_ok=boxed and think_ok is not False,
        detected_lang=guess.lang,
        lang_confidence=round(guess.confidence, 4),
        off_target=is_off_target(guess, gen.lang),
        detail=detail,
        pred_strict=answers.strict.answer,
        correct_strict=correct_strict,
    )


def failed_score(gen: Generation, status: str, detail: str) -> Score:
    return Score(
        benchmark=gen.benchmark,
        lang=gen.lang,
        id=gen.id,
        sample=gen.sample,
        gold=gen.answer.strip(),
        pred=None,
        correct=False,
        status=status,
        boxed=False,
        think_ok=None,
        format_ok=False,
        detected_lang=None,
        lang_confidence=0.0,
        off_target=None,
        detail=detail[:200],
        pred_strict=None,
        correct_strict=False,
    )


def _warm_worker() -> None:
    # Pay the language-model load once per worker, not inside the first item's timeout.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    detect_language("warm up the detector with a sentence")


def score_many(
    generations: Iterable[Generation],
    *,
    workers: int = 2,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_done: Callable[[Score], None] | None = None,
) -> Iterator[Score]:
    """Score in `workers` processes, each item under a hard `timeout_s`. Yields in input order."""
    from pebble import ProcessPool

    # The platform's default start method (fork on Linux): spawn-like methods re-import the
    # caller's main module, which breaks scripts without a __main__ guard. Workers never
    # touch torch, so forking a parent that holds a model is safe.
    with ProcessPool(max_workers=workers, initializer=_warm_worker) as pool:
        pending: list[tuple[Generation, Any]] = []
        window = max(8, workers * 16)  # bounded in-flight work keeps memory flat on big runs

        def drain(until: int) -> Iterator[Score]:
            while len(pending) > until:
                gen, future = pending.pop(0)
                try:
                    score = future.result()
                except FutureTimeout:
                    score = failed_score(gen, "timeout", f"scoring exceeded {timeout_s:g}s")
                except BrokenProcessPool as exc:  # the pool itself died: nothing to record
                    raise XlingError(f"scoring workers could not run: {exc}") from exc
                except Exception as exc:  # a scorer bug must not lose the rest of the run
                    score = failed_score(gen, "error", f"{type(exc).__name__}: {exc}")
                if on_done is not None:
                    on_done(score)
                yield score

        for gen in generations:
            pending.append((gen, pool.schedule(score_generation, args=(gen,), timeout=timeout_s)))
            yield from drain(window)
        yield from drain(0)
