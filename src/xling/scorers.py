"""Other tools' scorers on the same generations, so a difference between papers can be split
into what the model did and what the answer extraction did.

- `xling`: xling's own extraction and equivalence (`xling.scoring.score_generation`).
- `math-verify`: Hugging Face's math-verify as its README uses it: `parse` the whole
  response with its default extraction (LaTeX, then plain expressions, boxed answers
  first) and `verify` it against the parsed gold answer.
- `lm-eval-strict` / `lm-eval-flexible`: lm-evaluation-harness's MGSM native chain-of-
  thought filters ("The answer is N", first match; or the last number-like run of the
  response) and its `exact_match` with `ignore_case` and `ignore_punctuation`, as its
  `mgsm_native_cot_<lang>` tasks configure them (lm-eval 0.4).

Every scorer keeps xling's language identification and format checks: only the answer
(`pred`, `correct`, and their strict twins) changes. Multiple-choice generations are scored
by xling's letter scoring under every scorer (the others define no choice extraction for
these tasks); their `detail` says so.
"""

from __future__ import annotations

import dataclasses
import re
import string
from pathlib import Path

from xling.errors import XlingError
from xling.jsonl import read_json_object
from xling.records import Generation, Score

SCORERS = ("xling", "math-verify", "lm-eval-flexible", "lm-eval-strict")
DEFAULT_SCORER = "xling"

# lm-eval's MGSM native-CoT filters (lm_eval/tasks/mgsm/native_cot/*.yaml).
_LM_EVAL_STRICT = re.compile(r"The answer is (\-?[0-9\.\,]+)")
_LM_EVAL_FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def check_scorer(name: str) -> str:
    if name not in SCORERS:
        raise XlingError(f"unknown scorer {name!r}; choose one of {', '.join(SCORERS)}")
    return name


def scores_file(scorer: str, primary: str) -> str:
    """The run file a scorer's scores go to: scores.jsonl for the run's own scorer (what
    metrics, compare and fits read), scores.<scorer>.jsonl for any other."""
    return "scores.jsonl" if scorer == primary else f"scores.{scorer}.jsonl"


def run_scorer(run_dir: Path) -> str:
    """The scorer that wrote the run's scores.jsonl (config.json `scorer`; xling's before
    there was a choice)."""
    config = Path(run_dir) / "config.json"
    if not config.is_file():
        return DEFAULT_SCORER
    value = read_json_object(config).get("scorer", DEFAULT_SCORER)
    return value if value in SCORERS else DEFAULT_SCORER


def lm_eval_extract(text: str, *, strict: bool) -> str | None:
    """lm-eval's regex filter: strict takes the first "The answer is N", flexible the last
    match of its number pattern (the first non-empty group of that match)."""
    matches = (_LM_EVAL_STRICT if strict else _LM_EVAL_FLEXIBLE).findall(text)
    if not matches:
        return None
    match = matches[0] if strict else matches[-1]
    if isinstance(match, tuple):
        match = next((group for group in match if group), "")
    return match.strip() or None


def lm_eval_exact_match(pred: str, gold: str) -> bool:
    """lm-eval's exact_match with ignore_case and ignore_punctuation: "1,000." equals
    "1000", and a minus sign is punctuation there too."""
    return pred.lower().translate(_PUNCTUATION) == gold.lower().translate(_PUNCTUATION)


def math_verify_answer(text: str, gold: str) -> tuple[str | None, bool]:
    """(the answer math-verify extracted, as its string form; whether it verifies)."""
    from math_verify import parse, verify

    found = parse(text)
    if not found:
        return None, False
    pred = str(found[-1]) if isinstance(found[-1], str) else str(found[0])
    return pred, bool(verify(parse(gold), found))


def rescore(score: Score, gen: Generation, scorer: str) -> Score:
    """`score` (xling's) with its answer judged by `scorer` instead."""
    if scorer == "xling":
        return score
    if gen.answer_type == "choice":
        return dataclasses.replace(score, detail=f"{score.detail} [{scorer}: xling's choice]")
    if scorer == "math-verify":
        pred, correct = math_verify_answer(gen.output, gen.answer)
        pred_strict, correct_strict = pred, correct
    else:
        gold = gen.answer.strip()
        pred = lm_eval_extract(gen.output, strict=scorer == "lm-eval-strict")
        correct = pred is not None and lm_eval_exact_match(pred, gold)
        pred_strict = lm_eval_extract(gen.output, strict=True)
        correct_strict = pred_strict is not None and lm_eval_exact_match(pred_strict, gold)
    return dataclasses.replace(
        score,
        pred=pred,
        correct=correct,
        status="ok" if pred is not None else "no_answer",
        pred_strict=pred_strict,
        correct_strict=correct_strict,
        detail=scorer,
    )
