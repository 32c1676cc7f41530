"""How far scorers agree on one run's generations: the run's own scores (scores.jsonl) beside
every other scorer's (scores.<scorer>.jsonl, from `xling score RUN --scorer NAME`), by
benchmark and language: how many answers each accepts and on how many they differ."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xling.jsonl import read_jsonl
from xling.languages import ALL_CODES
from xling.scorers import SCORERS, run_scorer, scores_file

Key = tuple[str, str, str, int]


@dataclass(frozen=True)
class AgreementRow:
    benchmark: str
    lang: str
    n: int  # generations both files scored
    primary: str
    accepted: dict[str, int]  # scorer -> answers it accepts (of n)
    differ: dict[str, int]  # other scorer -> answers judged otherwise than the primary

    def as_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"benchmark": self.benchmark, "lang": self.lang, "n": self.n}
        row |= {f"accepted_{k}": v for k, v in self.accepted.items()}
        row |= {f"differ_{k}": v for k, v in self.differ.items()}
        return row


def _verdicts(path: Path) -> dict[Key, bool]:
    out: dict[Key, bool] = {}
    for rec in read_jsonl(path):
        key = (str(rec["benchmark"]), str(rec["lang"]), str(rec["id"]), int(rec["sample"]))
        out.setdefault(key, bool(rec.get("correct")))
    return out


def other_scorers(run_dir: Path) -> list[str]:
    """Scorers besides the run's own whose scores the run holds."""
    primary = run_scorer(run_dir)
    return [
        s for s in SCORERS if s != primary and (Path(run_dir) / scores_file(s, primary)).is_file()
    ]


def scorer_agreement(run_dir: Path) -> list[AgreementRow]:
    """One row per (benchmark, language) over the generations every scorer scored; empty
    when the run holds only its own scores."""
    run_dir = Path(run_dir)
    primary = run_scorer(run_dir)
    others = other_scorers(run_dir)
    if not others:
        return []
    verdicts = {primary: _verdicts(run_dir / "scores.jsonl")}
    verdicts |= {s: _verdicts(run_dir / scores_file(s, primary)) for s in others}
    shared = set(verdicts[primary]).intersection(*(set(v) for v in verdicts.values()))
    order = {code: i for i, code in enumerate(ALL_CODES)}
    cells = sorted({k[:2] for k in shared}, key=lambda c: (c[0], order.get(c[1], 99), c[1]))
    rows = []
    for bench, lang in cells:
        keys = [k for k in shared if k[:2] == (bench, lang)]
        accepted = {s: sum(verdicts[s][k] for k in keys) for s in (primary, *others)}
        differ = {s: sum(verdicts[s][k] != verdicts[primary][k] for k in keys) for s in others}
        rows.append(AgreementRow(bench, lang, len(keys), primary, accepted, differ))
    return rows
