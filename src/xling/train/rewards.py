"""GRPO rewards: accuracy, format and language consistency, scored exactly as evaluation scores.

Every reward is a plain function ``(completions, **columns) -> list[float]`` as TRL calls it:
`completions` are strings, or chat messages (``[{"role": "assistant", "content": ...}]``)
when the prompts are conversational; the dataset's `lang` and `answer` columns arrive as
keyword lists. The three rewards share one `RolloutScorer`, which runs
`xling.scoring.score_generation` (the evaluation scorer: same extraction, equivalence and
language identification) for each completion in a persistent pebble process pool under the
same hard per-item timeout as `xling eval`. A completion that makes sympy run forever is
killed after `timeout_s`, scored wrong, and training goes on. The scorer scores a batch once
and the three rewards read the same `Score`s.

* accuracy: 1 when the extracted final answer equals the gold answer, else 0.
* format:   1 when the final answer is in ``\\boxed{}`` (after the reasoning block, if any) and
  the ``<think>`` block is well formed when present; with ``require_think`` (templates that
  reason in a think block) the block must be present too.
* language: 1 when the response's identified language is the prompt's language; 0 when it is
  another language or none can be identified (empty, pure math).

Defaults follow arXiv 2510.02272: 0.8 accuracy + 0.1 format + 0.1 language.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import logging
import queue
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from xling.errors import XlingError
from xling.records import Generation, Score
from xling.scoring import DEFAULT_TIMEOUT_S, ScoringPool, check_pool_settings
from xling.workers import worker_context

if TYPE_CHECKING:  # the engine (and torch) only where rollouts are generated
    from xling.engine.scheduler import Completion

log = logging.getLogger(__name__)

DEFAULT_REWARDS = "accuracy=0.8,format=0.1,language=0.1"
GIL_SWITCH_INTERVAL_S = 0.0005  # while rollouts are scored as they are generated
# Message keys under which chat parsers put a reasoning trace apart from the answer.
_REASONING_KEYS = ("reasoning_content", "reasoning", "thinking")

LogMetric = Callable[[str, float], None]


class RewardConfigError(XlingError):
    pass


# ------------------------------------------------------------------------ completions


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # multimodal content blocks: keep the text parts
        return "".join(
            str(block.get("text", "")) if isinstance(block, Mapping) else str(block)
            for block in content
        )
    return str(content)


def completion_text(completion: Any) -> str:
    """The text of one completion in any of TRL's shapes: a string, a message, or a list of
    messages (conversational). A reasoning trace that a chat parser split off is put back
    as ``<think>…</think>`` in front of the answer, so scoring sees what the model wrote."""
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    messages = [completion] if isinstance(completion, Mapping) else list(completion)
    parts: list[str] = []
    for message in messages:
        if not isinstance(message, Mapping):
            parts.append(str(message))
            continue
        if message.get("role", "assistant") != "assistant":
            continue
        reasoning = next((message[k] for k in _REASONING_KEYS if message.get(k)), None)
        if reasoning:
            parts.append(f"<think>{_content_text(reasoning)}</think>")
        parts.append(_content_text(message.get("content")))
    return "".join(parts)


# ------------------------------------------------------------------------ the scorer


class RolloutScorer:
    """Scores rollouts with the evaluation scorer in a persistent process pool.

    One per trainer process. `score` remembers the last batch, so the three rewards of one
    GRPO batch (TRL passes them the same `completions` list) score it only once.
    """

    def __init__(self, *, workers: int = 2, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        check_pool_settings(workers, timeout_s)
        self.workers = workers
        self.timeout_s = timeout_s
        self._pool: Any = None
        self._lock = threading.Lock()
        self._last_key: Any = None
        self._last_batch: Any = None  # the last `completions` object, kept alive (see score)
        self._last_scores: list[Score] = []
        self.n_scored = 0
        self.n_timeouts = 0
        self.n_early = 0  # scores of a batch that were started before it was asked for
        self.seconds = 0.0  # wall time spent scoring, for benchmarks
        self._early: dict[tuple[str, str, str], Any] = {}  # (text, lang, answer) -> future
        self._early_lock = threading.Lock()

    def _ensure_pool(self) -> ScoringPool:
        if self._pool is None:
            self._pool = ScoringPool(self.workers, self.timeout_s, context=worker_context())
        return self._pool

    def start(self) -> RolloutScorer:
        """Start the workers now (otherwise on the first batch)."""
        self._ensure_pool()
        return self

    def score(
        self, completions: Sequence[Any], langs: Sequence[str], answers: Sequence[Any]
    ) -> tuple[list[Score], bool]:
        """(scores, new_batch). Scores are memoized on the batch's content; `new_batch` is
        False when called again with the very same `completions` object, as TRL does for
        each reward of one batch (the reference is kept, so its id cannot be reused)."""
        if len(langs) != len(completions) or len(answers) != len(completions):
            raise RewardConfigError(
                f"{len(completions)} completions but {len(langs)} langs and {len(answers)} answers"
            )
        texts = [completion_text(c) for c in completions]
        key = (tuple(texts), tuple(langs), tuple(str(a) for a in answers))
        with self._lock:
            new_batch = completions is not self._last_batch
            self._last_batch = completions
            if key == self._last_key:
                return self._last_scores, new_batch
            started = time.perf_counter()
            gens = [
                _generation(i, text, str(lang), str(answer))
                for i, (text, lang, answer) in enumerate(zip(texts, langs, answers, strict=True))
            ]
            scores = self._score_all(gens)
            self.seconds += time.perf_counter() - started
            self.n_scored += len(scores)
            self._last_key, self._last_scores = key, scores
            return scores, new_batch

    def score_early(self, text: str, lang: str, answer: Any) -> None:
        """Start scoring one completion before its batch is asked for (while the rest are
        still being generated). `score` takes the result when its batch holds the same
        (text, lang, answer); what no batch asks for is dropped with the next batch."""
        key = (text, str(lang), str(answer))
        with self._early_lock:
            if key not in self._early:
                gen = _generation(0, *key)
                self._early[key] = self._ensure_pool().schedule(gen)

    def _score_all(self, gens: list[Generation]) -> list[Score]:
        pool = self._ensure_pool()
        with self._early_lock:
            early, self._early = self._early, {}
        futures = []
        for gen in gens:
            future = early.get((gen.output, gen.lang, gen.answer))
            if future is None:
                future = pool.schedule(gen)
            else:
                self.n_early += 1
            futures.append(future)
        # Early ones no gen asks for are left to finish: cancelling a running task makes
        # pebble replace its worker, a restart that costs seconds.
        scores: list[Score] = []
        for gen, future in zip(gens, futures, strict=True):
            try:
                # A timeout or a scorer bug costs one rollout's reward, not the run; workers
                # that keep failing stop the training (ScoringStopped) rather than let it
                # learn from all-zero rewards.
                score = pool.result(gen, future)
            except XlingError:
                self.close()
                raise
            if score.status == "timeout":
                self.n_timeouts += 1
            elif score.id != gen.id:  # an early score, made under another id
                score = dataclasses.replace(score, id=gen.id)
            scores.append(score)
        return scores

    def close(self) -> None:
        with self._early_lock:
            self._early = {}
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close(wait=False)

    def __enter__(self) -> RolloutScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _generation(index: int, text: str, lang: str, answer: str) -> Generation:
    return Generation(
        benchmark="train",
        lang=lang,
        id=str(index),
        sample=0,
        question="",
        answer=answer,
        prompt="",
        output=text,
    )


class EarlyScoring:
    """Scores rollouts as they finish, while the others are still being generated.

    `on_finish(i, completion)` (the engine's callback) only queues the token ids of prompt
    i's rollout with that prompt's lang and answer: a thread decodes them in batches and
    hands the texts to `RolloutScorer.score_early`, so neither decoding nor scheduling holds
    up the generation loop (whose host thread mostly waits on the GPU, with the GIL
    released). When the rewards then score the batch, most scores are done. It only saves
    time: a failure here is logged once and the rewards score the batch as usual.
    """

    def __init__(
        self,
        scorer: RolloutScorer,
        decode_batch: Callable[[list[list[int]]], list[str]],
        langs: Sequence[Any],
        answers: Sequence[Any],
    ) -> None:
        self.scorer = scorer
        self.decode_batch = decode_batch
        self.langs = langs
        self.answers = answers
        self._queue: queue.SimpleQueue[tuple[list[int], str, str] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="xling-early-scoring", daemon=True)
        self._failed = False

    def on_finish(self, index: int, completion: Completion) -> None:
        self._queue.put((completion.tokens, str(self.langs[index]), str(self.answers[index])))

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get())
            finished = batch[-1] is None
            items = [item for item in batch if item is not None]
            if items and not self._failed:
                try:
                    texts = self.decode_batch([tokens for tokens, _, _ in items])
                    for text, (_, lang, answer) in zip(texts, items, strict=True):
                        self.scorer.score_early(text, lang, answer)
                except Exception as exc:  # an optimization: the rewards will score these
                    self._failed = True
                    log.warning("early reward scoring stopped (%s: %s)", type(exc).__name__, exc)
            if finished:
                return

    def __enter__(self) -> EarlyScoring:
        # Between waits on the GPU the generation loop needs the GIL back at once; by
        # default a busy thread (this one, the pool's) keeps it for up to 5 ms. On an H200
        # (docs/gpu/README.md), early scoring took the organism's generation of 4,096
        # rollouts from 1.09 to 1.51 s; with this interval and the collector change of the
        # same run, 1.37 s.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        self._thread.join()
        sys.setswitchinterval(self._switch_interval)


_DEFAULT: RolloutScorer | None = None


def default_scorer() -> RolloutScorer:
    """A process-wide scorer for rewards called without one (scripts, tests)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = RolloutScorer()
        atexit.register(_DEFAULT.close)
    return _DEFAULT


def log_rollout_metrics(scores: Sequence[Score], log_metric: LogMetric) -> None:
    """Per-batch rollout statistics beside TRL's per-reward means."""
    n = len(scores)
    if not n:
        return
    identified = [s.off_target for s in scores if s.off_target is not None]
    if identified:  # the evaluation's definition: over responses whose language is known
        log_metric("off_target_rate", sum(identified) / len(identified))
    log_metric("rollouts/unidentified_rate", 1 - len(identified) / n)
    log_metric("rollouts/accuracy", sum(s.correct for s in scores) / n)
    log_metric("rollouts/format_rate", sum(s.format_ok for s in scores) / n)
    log_metric("rollouts/no_answer_rate", sum(s.pred is None for s in scores) / n)
    log_metric("rollouts/timeout_rate", sum(s.status == "timeout" for s in scores) / n)
    totals, hits = Counter(s.lang for s in scores), Counter(s.lang for s in scores if s.correct)
    for lang in sorted(totals):
        log_metric(f"rollouts/accuracy_{lang}", hits[lang] / totals[lang])


def _scores_for(
    completions: Sequence[Any],
    lang: Sequence[str] | None,
    answer: Sequence[Any] | None,
    scorer: RolloutScorer | None,
    log_metric: LogMetric | None,
) -> list[Score]:
    if lang is None or answer is None:
        missing = [name for name, col in (("lang", lang), ("answer", answer)) if col is None]
        raise RewardConfigError(
            f"reward needs the dataset column(s) {', '.join(missing)} (one per prompt); build "
            "the training set with `xling data parallel`"
        )
    scores, new_batch = (scorer or default_scorer()).score(completions, lang, answer)
    if new_batch and log_metric is not None:
        log_rollout_metrics(scores, log_metric)
    return scores


# ------------------------------------------------------------------------ the rewards


def accuracy_reward(
    completions: Sequence[Any],
    lang: Sequence[str] | None = None,
    answer: Sequence[Any] | None = None,
    *,
    scorer: RolloutScorer | None = None,
    log_metric: LogMetric | None = None,
    **_: Any,
) -> list[float]:
    """1.0 when the final answer is correct (evaluation's extraction and equivalence)."""
    scores = _scores_for(completions, lang, answer, scorer, log_metric)
    return [1.0 if s.correct else 0.0 for s in scores]


def format_reward(
    completions: Sequence[Any],
    lang: Sequence[str] | None = None,
    answer: Sequence[Any] | None = None,
    *,
    require_think: bool = False,
    scorer: RolloutScorer | None = None,
    log_metric: LogMetric | None = None,
    **_: Any,
) -> list[float]:
    """1.0 when the final answer is in \\boxed{} and any <think> block is well formed
    (required to be there with `require_think`)."""
    scores = _scores_for(completions, lang, answer, scorer, log_metric)
    if require_think:
        return [1.0 if s.boxed and s.think_ok is True else 0.0 for s in scores]
    return [1.0 if s.format_ok else 0.0 for s in scores]


def language_reward(
    completions: Sequence[Any],
    lang: Sequence[str] | None = None,
    answer: Sequence[Any] | None = None,
    *,
    scorer: RolloutScorer | None = None,
    log_metric: LogMetric | None = None,
    **_: Any,
) -> list[float]:
    """1.0 when the response is identified as the prompt's language."""
    scores = _scores_for(completions, lang, answer, scorer, log_metric)
    return [
        1.0 if s.detected_lang is not None and s.detected_lang == s.lang else 0.0 for s in scores
    ]


RewardFunc = Callable[..., list[float]]
REWARDS: dict[str, RewardFunc] = {
    "accuracy": accuracy_reward,
    "format": format_reward,
    "language": language_reward,
}


def parse_reward_spec(spec: str) -> list[tuple[str, float]]:
    """'accuracy=0.8,format=0.1,language=0.1' -> [(name, weight), ...]; a bare name weighs 1."""
    pairs: list[tuple[str, float]] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, weight_text = part.partition("=")
        name = name.strip().lower()
        if name not in REWARDS:
            raise RewardConfigError(
                f"unknown reward {name!r} in {spec!r}; known rewards: {', '.join(REWARDS)}"
            )
        try:
            weight = float(weight_text) if sep else 1.0
        except ValueError:
            raise RewardConfigError(
                f"reward weight of {name!r} is not a number: {weight_text!r}"
            ) from None
        if weight < 0:
            raise RewardConfigError(f"reward weight of {name!r} must be >= 0, got {weight}")
        if any(name == n for n, _ in pairs):
            raise RewardConfigError(f"reward {name!r} is listed twice in {spec!r}")
        pairs.append((name, weight))
    if not pairs:
        raise RewardConfigError(f"no rewards in {spec!r}; e.g. {DEFAULT_REWARDS}")
    return pairs


def build_reward_funcs(
    spec: str, scorer: RolloutScorer, *, require_think: bool = False
) -> tuple[list[RewardFunc], list[float]]:
    """The reward functions (bound to `scorer`) and their weights, for GRPOTrainer.

    They are `functools.partial`s of the plain functions, so TRL names them after the
    functions (`rewards/accuracy_reward/mean`, …) and they stay picklable.
    """
    funcs: list[RewardFunc] = []
    weights: list[float] = []
    for name, weight in parse_reward_spec(spec):
        func = REWARDS[name]
        extra = {"require_think": require_think} if func is format_reward else {}
        funcs.append(functools.partial(func, scorer=scorer, **extra))
        weights.append(weight)
    return funcs, weights


def template_uses_think(tokenizer: Any) -> bool:
    """Whether the chat template reasons in a <think> block (Qwen3, DeepSeek-R1 style)."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, Mapping):
        template = " ".join(str(t) for t in template.values())
    return isinstance(template, str) and "<think>" in template
