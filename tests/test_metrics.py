import csv
from pathlib import Path

import pytest

from xling.metrics import aggregate, pass_at_k, write_metrics_csv


def score(
    lang: str,
    pid: str,
    sample: int,
    correct: bool,
    off: bool | None = False,
    fmt: bool = True,
    pred: str | None = "1",
) -> dict:
    return {
        "benchmark": "mgsm",
        "lang": lang,
        "id": pid,
        "sample": sample,
        "correct": correct,
        "off_target": off,
        "format_ok": fmt,
        "pred": pred,
        "status": "ok",
    }


def test_pass_at_k_matches_definition() -> None:
    assert pass_at_k(4, 0, 1) == 0.0
    assert pass_at_k(4, 4, 2) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2)


def test_aggregate_per_language_and_macro(tmp_path: Path) -> None:
    rows = [
        score("en", "0", 0, True),
        score("en", "0", 1, True),
        score("en", "1", 0, False),
        score("en", "1", 1, True, off=True),
        score("bn", "0", 0, False, off=None, pred=None, fmt=False),
        score("bn", "0", 1, False),
        score("bn", "1", 0, True),
        score("bn", "1", 1, False, off=True),
    ]
    m = aggregate(rows)
    en, bn = m["benchmarks"]["mgsm"]["langs"]["en"], m["benchmarks"]["mgsm"]["langs"]["bn"]
    assert list(m["benchmarks"]["mgsm"]["langs"]) == ["en", "bn"]  # registry order
    assert en["accuracy"] == 0.75 and bn["accuracy"] == 0.25
    assert en["pass@2"] == 1.0 and bn["pass@2"] == 0.5
    assert en["off_target_rate"] == 0.25
    assert bn["off_target_rate"] == pytest.approx(1 / 3)  # the unidentified sample is excluded
    assert bn["no_answer_rate"] == 0.25 and bn["format_rate"] == 0.75
    assert m["benchmarks"]["mgsm"]["macro"]["accuracy"] == 0.5
    write_metrics_csv({"model": "m", **m}, tmp_path / "m.csv")
    table = list(csv.DictReader((tmp_path / "m.csv").open()))
    assert [r["lang"] for r in table] == ["en", "bn", "macro"]
    assert float(table[0]["pass@2"]) == 1.0


def test_strict_beside_flexible_and_old_scores_without_strict() -> None:
    rows = [
        {**score("en", "0", 0, True), "correct_strict": True, "pred_strict": "1"},
        {**score("en", "1", 0, True), "correct_strict": False, "pred_strict": None},
        {**score("en", "2", 0, False), "correct_strict": False, "pred_strict": "7"},
    ]
    cell = aggregate(rows)["benchmarks"]["mgsm"]["langs"]["en"]
    assert cell["accuracy"] == cell["accuracy_flexible"] == pytest.approx(2 / 3)
    assert cell["accuracy_strict"] == pytest.approx(1 / 3)
    assert cell["no_answer_rate_strict"] == pytest.approx(1 / 3)
    # Scores written before strict scoring: no strict figure rather than a wrong one.
    old = aggregate([score("en", "0", 0, True)])
    assert old["benchmarks"]["mgsm"]["langs"]["en"]["accuracy_strict"] is None
    assert old["overall"]["accuracy_strict"] is None
