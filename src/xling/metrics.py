"""Scores -> per benchmark × language aggregates (see docs/run-format.md)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from math import comb
from pathlib import Path
from typing import Any

from xling.languages import ALL_CODES
from xling.tables import write_csv

# `accuracy` is the flexible score (the fallback chain), as it always was: the report's MTI
# and scaling fits read it. `accuracy_flexible` repeats it beside `accuracy_strict` (an
# explicit final answer only), lm-evaluation-harness style.
RATE_KEYS = (
    "accuracy",
    "accuracy_strict",
    "accuracy_flexible",
    "off_target_rate",
    "format_rate",
    "no_answer_rate",
    "no_answer_rate_strict",
)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def aggregate(scores: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Nested metrics dict: benchmarks -> langs -> metric, plus macro and overall averages."""
    cells: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for s in scores:
        cells[(s["benchmark"], s["lang"])].append(s)

    order = {code: i for i, code in enumerate(ALL_CODES)}
    benchmarks: dict[str, dict[str, Any]] = {}
    for bench, lang in sorted(cells, key=lambda c: (c[0], order.get(c[1], 99), c[1])):
        benchmarks.setdefault(bench, {"langs": {}})["langs"][lang] = _cell_metrics(
            cells[(bench, lang)]
        )
    all_cells = []
    for bench in benchmarks.values():
        langs = list(bench["langs"].values())
        all_cells.extend(langs)
        bench["macro"] = _macro(langs)
    return {"benchmarks": benchmarks, "overall": _macro(all_cells)}


def _cell_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_problem: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        by_problem[str(r["id"])].append(bool(r["correct"]))
    n_min = min(len(v) for v in by_problem.values())
    identified = [bool(r["off_target"]) for r in rows if r.get("off_target") is not None]
    out: dict[str, Any] = {
        "n_problems": len(by_problem),
        "n_samples": len(rows),
        "accuracy": _mean([float(r["correct"]) for r in rows]),
        "accuracy_strict": _strict_mean(rows, lambda r: float(r["correct_strict"])),
        "accuracy_flexible": _mean([float(r["correct"]) for r in rows]),
        "off_target_rate": _mean([float(x) for x in identified]),
        "format_rate": _mean([float(r["format_ok"]) for r in rows]),
        "no_answer_rate": _mean([float(r["pred"] is None) for r in rows]),
        "no_answer_rate_strict": _strict_mean(rows, lambda r: float(r.get("pred_strict") is None)),
        "timeouts": sum(r["status"] == "timeout" for r in rows),
    }
    k = 1
    while k <= n_min:
        out[f"pass@{k}"] = _mean([pass_at_k(len(v), sum(v), k) for v in by_problem.values()])
        k *= 2
    return out


def _strict_mean(
    rows: list[dict[str, Any]], value: Callable[[dict[str, Any]], float]
) -> float | None:
    """A strict-score mean; None when some scores predate strict scoring (`xling score`
    re-scores them)."""
    if any(r.get("correct_strict") is None for r in rows):
        return None
    return _mean([value(r) for r in rows])


def _macro(cells: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in RATE_KEYS:
        values = [c[key] for c in cells if c.get(key) is not None]
        out[key] = _mean(values)
    return out


def write_metrics_csv(metrics: dict[str, Any], path: Path) -> None:
    """One row per benchmark and language, and each benchmark's macro average."""
    pass_keys = sorted(
        {
            k
            for b in metrics["benchmarks"].values()
            for c in b["langs"].values()
            for k in c
            if k.startswith("pass@")
        },
        key=lambda k: int(k.split("@")[1]),
    )
    columns = ["benchmark", "lang", "n_problems", "n_samples", *RATE_KEYS, "timeouts", *pass_keys]
    rows = []
    for bench, data in metrics["benchmarks"].items():
        rows += [{"benchmark": bench, "lang": lang, **cell} for lang, cell in data["langs"].items()]
        rows.append({"benchmark": bench, "lang": "macro", **data["macro"]})
    write_csv(rows, path, columns)
