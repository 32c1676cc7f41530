"""Other tools' scorers on the same generations: lm-eval's MGSM filters and exact match,
math-verify's parse/verify, each keeping xling's language and format checks."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from xling.errors import XlingError
from xling.records import Generation
from xling.scorers import (
    check_scorer,
    lm_eval_exact_match,
    lm_eval_extract,
    math_verify_answer,
    rescore,
    scores_file,
)
from xling.scoring import score_generation, score_many
from xling.testing.records import generation


def gen(output: str, answer: str = "18", lang: str = "en") -> Generation:
    return generation(output, answer, lang=lang, id="1", benchmark="mgsm")


def test_lm_eval_filters_as_its_mgsm_tasks_apply_them() -> None:
    text = "She has 16 - 3 = 13 eggs. The answer is 18. Then 4 more."
    assert lm_eval_extract(text, strict=True) == "18."
    assert lm_eval_extract(text, strict=False) == "4"  # the last number-like run
    assert lm_eval_extract("\\boxed{18}", strict=True) is None  # no "The answer is"
    assert lm_eval_extract("costs $1,200.", strict=False) == "$1,200."
    assert lm_eval_extract("no digits", strict=False) is None
    assert lm_eval_exact_match("18.", "18") and lm_eval_exact_match("1,200", "1200")
    assert lm_eval_exact_match("-5", "5")  # punctuation, minus included, is ignored
    assert not lm_eval_exact_match("180", "18")


def test_math_verify_reads_boxed_and_plain_answers() -> None:
    assert math_verify_answer("so \\boxed{\\frac{1}{2}}", "0.5")[1]
    pred, correct = math_verify_answer("The total is 1,234 apples", "1234")
    assert correct and pred == "1234"
    assert math_verify_answer("nothing to see", "3") == (None, False)


def test_rescore_changes_only_the_answer_judgement() -> None:
    g = gen("<think>16 - 3 = 13</think> Je pense \\boxed{18}")
    xling = score_generation(g)
    assert xling.correct
    strict = rescore(xling, g, "lm-eval-strict")
    assert not strict.correct and strict.pred is None and strict.status == "no_answer"
    flexible = rescore(xling, g, "lm-eval-flexible")
    assert flexible.correct and flexible.pred == "18"
    for other in (strict, flexible, rescore(xling, g, "math-verify")):
        assert other.detected_lang == xling.detected_lang
        assert other.format_ok == xling.format_ok and other.off_target == xling.off_target


def test_scorer_names_and_files() -> None:
    with pytest.raises(XlingError, match="unknown scorer 'lm-eval'"):
        check_scorer("lm-eval")
    assert scores_file("xling", "xling") == "scores.jsonl"
    assert scores_file("math-verify", "xling") == "scores.math-verify.jsonl"
    assert scores_file("xling", "math-verify") == "scores.xling.jsonl"


def test_score_many_scores_with_the_chosen_scorer_in_workers() -> None:
    gens = [gen("The answer is 18."), gen("It is \\boxed{18}")]
    flexible = list(score_many(gens, workers=1, scorer="lm-eval-strict"))
    assert [s.correct for s in flexible] == [True, False]
    assert all(s.detail == "lm-eval-strict" for s in flexible)
    with pytest.raises(XlingError, match="unknown scorer"):
        score_many(gens, scorer="nope")


def _run_dir(tmp_path: Path) -> Path:
    """A run holding generations only, which the scorers judge differently."""
    from xling.records import to_dict

    run = tmp_path / "run"
    run.mkdir()
    outputs = {
        "1": ("The answer is 18.", "18"),  # every scorer accepts
        "2": ("so \\boxed{18} apples", "18"),  # no "The answer is": lm-eval-strict says no
        "3": ("The answer is 12. Then 5 more", "12"),  # flexible takes the last number
        "4": ("\\boxed{7}", "8"),  # every scorer rejects
    }
    rows = [
        to_dict(dataclasses.replace(gen(out, answer=gold), id=pid, lang=lang))
        for lang in ("en", "es")
        for pid, (out, gold) in outputs.items()
    ]
    (run / "generations.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    (run / "config.json").write_text(json.dumps({"model": "m"}), encoding="utf-8")
    return run


def test_other_scorers_go_beside_the_runs_and_their_agreement_is_counted(
    tmp_path: Path,
) -> None:
    from rich.console import Console

    from xling.analysis.agreement import scorer_agreement
    from xling.evaluate import score_stage

    run = _run_dir(tmp_path)
    quiet = Console(quiet=True)
    assert score_stage(run, workers=1, timeout_s=5, console=quiet) == 8
    assert scorer_agreement(run) == []  # only the run's own scores so far
    for scorer in ("lm-eval-strict", "lm-eval-flexible"):
        score_stage(run, workers=1, timeout_s=5, console=quiet, rescore=True, scorer=scorer)
    own = [json.loads(line) for line in (run / "scores.jsonl").read_text().splitlines()]
    assert all(s["detail"] != "lm-eval-strict" for s in own)  # the run's scores untouched
    rows = scorer_agreement(run)
    assert [(r.benchmark, r.lang, r.n) for r in rows] == [("mgsm", "en", 4), ("mgsm", "es", 4)]
    for row in rows:
        assert row.primary == "xling"
        assert row.accepted == {"xling": 3, "lm-eval-strict": 2, "lm-eval-flexible": 2}
        assert row.differ == {"lm-eval-strict": 1, "lm-eval-flexible": 1}


@pytest.mark.slow
def test_cli_score_with_other_scorers_and_the_report_table(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    run = _run_dir(tmp_path)

    def xling(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "xling.cli", *args],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "COLUMNS": "200"},
        )

    for scorer in ("xling", "math-verify", "lm-eval-flexible"):
        proc = xling("score", str(run), "--scorer", scorer, "--workers", "1")
        assert proc.returncode == 0, proc.stderr
    assert "agreement between scorers" in proc.stdout
    assert (run / "scores.math-verify.jsonl").is_file()
    proc = xling("report", str(run), "--out", str(tmp_path / "report"), "--n-boot", "50")
    assert proc.returncode == 0, proc.stderr
    report = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "Agreement between scorers" in report
    table = (tmp_path / "report" / "tables" / "scorer_agreement.csv").read_text(encoding="utf-8")
    assert "accepted_lm-eval-flexible" in table.splitlines()[0]
