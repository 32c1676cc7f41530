"""A study arm's results as its report wrote them, read once and typed.

The report of an arm (`report/<arm>/`) writes `tables/runs.csv` (one row per trained run:
accuracy, gains, MTI and off-target change, each with its CI), `tables/per_language.csv`
and `summary.json` (the fitted laws). The comparison with the paper and the terminal
headline both read them through `read_arm_results`, so what a cell means is decided here
and not re-parsed from strings wherever a number is needed.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from xling.analysis.bootstrap import Estimate

RUN_ESTIMATES = ("accuracy", "gain", "gain_seen", "gain_unseen", "mti", "off_target_change")
FIT_ESTIMATES = ("alpha", "beta", "r2", "leap", "gap")


@dataclass(frozen=True)
class RunResult:
    """One trained run against its base model. Accuracies and gains are fractions."""

    run: str
    x: float | None  # the study's X value as the report placed it (training languages)
    train_langs: tuple[str, ...]
    accuracy: Estimate
    gain: Estimate
    gain_seen: Estimate
    gain_unseen: Estimate
    mti: Estimate
    off_target_change: Estimate


@dataclass(frozen=True)
class LanguageGain:
    run: str
    lang: str
    gain: Estimate


@dataclass(frozen=True)
class ArmResults:
    name: str
    runs: tuple[RunResult, ...]
    per_language: tuple[LanguageGain, ...]
    fits: dict[str, dict[str, Estimate]]  # "mti" / "accuracy" -> alpha, beta, r2, leap, gap

    def by_x(self) -> dict[float, RunResult]:
        """One run per X value: the last listed, when several seeds share it."""
        return {r.x: r for r in self.runs if r.x is not None}

    def at(self, x: float) -> RunResult | None:
        return self.by_x().get(x)

    def fit(self, metric: str, name: str) -> Estimate:
        return self.fits.get(metric, {}).get(name, Estimate(None, reason="not fitted"))

    def mean_gain(self, langs: tuple[str, ...]) -> float | None:
        """The mean accuracy gain over every run in `langs`, where defined."""
        gains = [g.gain.value for g in self.per_language if g.lang in langs]
        defined = [g for g in gains if g is not None]
        return sum(defined) / len(defined) if defined else None

    def mean_mti(self) -> float | None:
        values = [r.mti.value for r in self.by_x().values() if r.mti.value is not None]
        return sum(values) / len(values) if values else None


def _run(row: dict[str, str]) -> RunResult:
    x = Estimate.from_row(row, "X").value
    return RunResult(
        run=row.get("run", ""),
        x=x,
        train_langs=tuple(row.get("train_langs", "").split()),
        **{
            key: Estimate.from_row(row, key, "mti_note" if key == "mti" else None)
            for key in RUN_ESTIMATES
        },
    )


def read_arm_results(folder: Path, name: str | None = None) -> ArmResults | None:
    """The results an arm's report wrote into `folder` (report/<arm>/), or None when it
    has written no runs table yet."""
    runs_csv = folder / "tables" / "runs.csv"
    if not runs_csv.is_file():
        return None
    with runs_csv.open(encoding="utf-8") as fh:
        runs = tuple(_run(row) for row in csv.DictReader(fh))
    per_language: tuple[LanguageGain, ...] = ()
    per_lang_csv = folder / "tables" / "per_language.csv"
    if per_lang_csv.is_file():
        with per_lang_csv.open(encoding="utf-8") as fh:
            per_language = tuple(
                LanguageGain(
                    row.get("trained_run", ""), row["lang"], Estimate.from_row(row, "gain")
                )
                for row in csv.DictReader(fh)
            )
    summary = folder / "summary.json"
    raw = json.loads(summary.read_text(encoding="utf-8")) if summary.is_file() else {}
    fits = {
        metric: {k: Estimate.from_dict(values.get(k)) for k in FIT_ESTIMATES}
        for metric, values in raw.items()
    }
    return ArmResults(name or folder.name, runs, per_language, fits)
