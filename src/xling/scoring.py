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
from xling.scorers import DEFAULT_SCORER, check_scorer, rescore

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
    think_lang = answer_lang = None
    if _THINK_CLOSE in gen.output:
        # Split where the answer section starts for extraction (`final_section`): after the
        # last "</think>". Identified here, under the worker's hard timeout with the rest.
        thinking, _, answer = gen.output.rpartition(_THINK_CLOSE)
        think_lang = detect_language(thinking).lang
        answer_lang = detect_language(answer).lang
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
        think_lang=think_lang,
        answer_lang=answer_lang,
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


def warm_up() -> None:
    # Pay the language-model load once per worker, not inside the first item's timeout.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    detect_language("warm up the detector with a sentence")


# Why a worker's start-up failed, kept in the worker. pebble replaces a worker whose
# initializer raises, forever and silently (a study on the GPU machine sat 500 s with no
# error), so the initializer never raises: each item reports the failure instead, and the
# failure threshold below stops the run with its message.
_START_FAILURE: str | None = None


def _start_worker(warm: Callable[[], None]) -> None:
    global _START_FAILURE
    try:
        warm()
    except BaseException as exc:
        _START_FAILURE = f"{type(exc).__name__}: {exc}"


def _score_in_worker(gen: Generation, scorer: str = DEFAULT_SCORER) -> Score:
    if _START_FAILURE is not None:
        raise RuntimeError(f"the scoring worker did not start ({_START_FAILURE})")
    return rescore(score_generation(gen), gen, scorer)


# A run stops once this many items failed in the workers and they are at least half of the
# items scored: a scorer bug on a rare output costs one item, a broken pool (a worker that
# dies on every item, a missing library) stops the run with its reason instead of writing
# 0 % accuracy (or training on all-zero rewards).
FAILURES_TO_STOP = 10
# No result at all for this long (on top of the items' own timeouts) means the workers never
# started or hang outside any item (a language-ID import that blocks): stop, saying so.
DEFAULT_STALL_S = 120.0


class ScoringStopped(XlingError):
    """The scoring workers cannot score: the scores handed out before it are good."""


def check_pool_settings(workers: Any, timeout_s: Any) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise XlingError(f"scoring needs at least 1 worker process, got {workers!r}")
    # pebble reads a timeout of 0 as "none": the hard timeout is what keeps sympy bombs
    # from hanging a run, so it must be a finite positive number of seconds.
    if isinstance(timeout_s, bool) or not 0 < timeout_s < float("inf"):
        raise XlingError(
            f"the scoring timeout must be a positive number of seconds, got {timeout_s!r}"
        )


class ScoringPool:
    """Worker processes that score untrusted output: each item under a hard timeout, the
    workers watched for start-up failure and stalls, the run stopped (ScoringStopped) once
    the workers keep failing. `warm` runs in each worker as it starts (a module-level
    function); `context` is the multiprocessing start method (None: the platform's);
    `scorer` judges the answers (`xling.scorers`)."""

    def __init__(
        self,
        workers: int,
        timeout_s: float,
        *,
        stall_s: float = DEFAULT_STALL_S,
        warm: Callable[[], None] = warm_up,
        context: Any = None,
        scorer: str = DEFAULT_SCORER,
    ) -> None:
        from pebble import ProcessPool

        check_pool_settings(workers, timeout_s)
        self.scorer = check_scorer(scorer)
        if not stall_s > 0:
            raise XlingError(f"stall_s must be positive, got {stall_s!r}")
        self.timeout_s = timeout_s
        # The item waited on has at most one round of the workers' items ahead of it.
        self.deadline = stall_s + 2 * timeout_s
        self.done = self.failed = 0
        self.first_failure = ""
        options = {"context": context} if context is not None else {}
        self._pool = ProcessPool(
            max_workers=workers, initializer=_start_worker, initargs=(warm,), **options
        )

    def schedule(self, gen: Generation) -> Any:
        return self._pool.schedule(
            _score_in_worker, args=(gen, self.scorer), timeout=self.timeout_s
        )

    def result(self, gen: Generation, future: Any) -> Score:
        """`gen`'s score from its future: a timeout or a scorer bug is a failed score, a
        broken or stalled pool stops the run."""
        try:
            score = future.result(timeout=self.deadline)
        except FutureTimeout:
            if not future.done():
                raise ScoringStopped(
                    f"scoring made no progress for {self.deadline:g} s: the workers did not "
                    "start or hang outside any item (a language-ID or math-verify import that "
                    "blocks?); rerun to continue"
                ) from None
            score = failed_score(gen, "timeout", f"scoring exceeded {self.timeout_s:g}s")
        except BrokenProcessPool as exc:
            raise ScoringStopped(f"scoring workers could not run: {exc}") from exc
        except Exception as exc:  # a scorer bug must not lose the rest of the run
            score = failed_score(gen, "error", f"{type(exc).__name__}: {exc}")
        self.done += 1
        if score.status == "error":
            self.failed += 1
            self.first_failure = self.first_failure or score.detail
            if self.failed >= FAILURES_TO_STOP and 2 * self.failed >= self.done:
                raise ScoringStopped(
                    f"scoring stopped: {self.failed} of {self.done} items failed in the "
                    f"workers (first: {self.first_failure}); fix the cause and rerun"
                )
        return score

    def close(self, *, wait: bool = True) -> None:
        """Finish (wait) or kill the workers; a stopped run must not wait on hung ones."""
        if wait:
            self._pool.close()
        else:
            self._pool.stop()
        self._pool.join()


def score_many(
    generations: Iterable[Generation],
    *,
    workers: int = 2,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_done: Callable[[Score], None] | None = None,
    stall_s: float = DEFAULT_STALL_S,
    warm: Callable[[], None] = warm_up,
    scorer: str = DEFAULT_SCORER,
) -> Iterator[Score]:
    """Score in `workers` processes, each item under a hard `timeout_s`, answers judged by
    `scorer` (`xling.scorers`). Yields in input order.

    Raises ScoringStopped when the workers cannot score (see FAILURES_TO_STOP and stall_s);
    the items that failed are not yielded then, so a rerun scores them again.
    """
    check_pool_settings(workers, timeout_s)  # here, not at the first item
    check_scorer(scorer)
    return _score_many(generations, workers, timeout_s, on_done, stall_s, warm, scorer)


def _score_many(
    generations: Iterable[Generation],
    workers: int,
    timeout_s: float,
    on_done: Callable[[Score], None] | None,
    stall_s: float,
    warm: Callable[[], None],
    scorer: str,
) -> Iterator[Score]:
    # The platform's default start method (fork on Linux): spawn-like methods re-import the
    # caller's main module, which breaks scripts without a __main__ guard. Workers never
    # touch torch, so forking a parent that holds a model is safe.
    pool = ScoringPool(workers, timeout_s, stall_s=stall_s, warm=warm, scorer=scorer)
    pending: list[tuple[Generation, Any]] = []
    window = max(8, workers * 16)  # bounded in-flight work keeps memory flat on big runs

    def drain(until: int) -> Iterator[Score]:
        while len(pending) > until:
            gen, future = pending.pop(0)
            score = pool.result(gen, future)
            if on_done is not None:
                on_done(score)
            yield score

    finished = False
    try:
        for gen in generations:
            pending.append((gen, pool.schedule(gen)))
            yield from drain(window)
        yield from drain(0)
        finished = True
    finally:
        pool.close(wait=finished)
