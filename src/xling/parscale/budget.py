"""Is a grid's token budget enough, and which recipe: rules read off the P = 1 cells alone.

A fixed-budget N × P grid says something about P only when its P = 1 models are limited by
N rather than by the budget or the recipe: the loss must fall with N, and the smallest
model must have stopped improving fast. Both are judged on the P = 1 column before the
other P are trained (a study grows in place, `StudySettings.identity`), so the choice can
never be steered by what P does.

The figure judged is the *online* loss, the mean training loss over the last steps. With a
code corpus every training window is drawn once (`corpus.iter_batches`: non-overlapping
windows, no repeats), so the loss of a batch before its step is a loss on text the model
has not seen: a validation figure from the train files, while the held-out files stay the
law's measurement. (On the organism's corpus, whose problems can repeat, it is only close.)

Rules (fixed before the code grid was run; docs/parscale/real-code/README.md):
- validation figure of a cell: mean online loss over the last `TAIL` of its steps;
- budget enough iff the figures of the P = 1 column fall strictly with N, and the smallest
  model's figure fell by less than `FLAT_DROP` (relative) from the window of steps
  (0.7, 0.8]·S to the last window (0.9, 1.0]·S;
- recipe: of candidate studies with the same sizes, the lowest mean figure over the P = 1
  column; within `TIE` nats the one listed first.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from xling.parscale.settings import CellResult, ModelShape, StudyError

TAIL = 0.1
FLAT_DROP = 0.02
TIE = 0.005


def online_loss(cell: CellResult, start: float, end: float) -> float:
    """Mean logged training loss over steps in (start·S, end·S], S the cell's last step."""
    if not cell.train_log:
        raise StudyError(f"cell {cell.name}: no training log to judge the budget by")
    last = cell.train_log[-1]["step"]
    # Rounded: 0.7 · 700 is 489.99999999999994 in floating point, which would let step 490
    # into the window (0.7, 0.8]·700.
    lo, hi = round(start * last, 9), round(end * last, 9)
    window = [e["loss"] for e in cell.train_log if lo < e["step"] <= hi]
    if not window:
        raise StudyError(
            f"cell {cell.name}: its training log has no entry in steps "
            f"({start:g}, {end:g}]·{last:g}; log at least every {last * (end - start):g} steps"
        )
    return sum(window) / len(window)


@dataclass(frozen=True)
class ColumnCell:
    cell: str
    n: int  # backbone non-embedding parameters
    validation: float  # online loss over the last TAIL of steps
    late_drop: float  # relative fall of the online loss from (0.7, 0.8]·S to (0.9, 1]·S
    heldout: float  # the law's measurement, shown, never judged


@dataclass(frozen=True)
class BudgetCheck:
    column: tuple[ColumnCell, ...]  # the P = 1 cells, by N

    @property
    def falls_with_n(self) -> bool:
        figures = [c.validation for c in self.column]
        return all(b < a for a, b in itertools.pairwise(figures))

    @property
    def smallest_flat(self) -> bool:
        return self.column[0].late_drop < FLAT_DROP

    @property
    def enough(self) -> bool:
        return self.falls_with_n and self.smallest_flat

    @property
    def mean_validation(self) -> float:
        return sum(c.validation for c in self.column) / len(self.column)

    def verdict(self) -> str:
        problems = []
        if not self.falls_with_n:
            problems.append("the P = 1 online loss does not fall strictly with N")
        if not self.smallest_flat:
            problems.append(
                "the smallest model's online loss still fell "
                f"{100 * self.column[0].late_drop:.1f}% over the last fifth of training "
                f"(rule: < {100 * FLAT_DROP:g}%)"
            )
        return "budget enough" if not problems else "budget too small: " + "; ".join(problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": [asdict(c) for c in self.column],
            "falls_with_n": self.falls_with_n,
            "smallest_flat": self.smallest_flat,
            "enough": self.enough,
            "mean_validation": self.mean_validation,
            "verdict": self.verdict(),
            "rule": {"tail": TAIL, "flat_drop": FLAT_DROP, "tie": TIE},
        }


def check_budget(cells: Sequence[CellResult]) -> BudgetCheck:
    """The rule above on the P = 1 cells among `cells` (at least two sizes)."""
    column = sorted(
        (c for c in cells if c.streams == 1), key=lambda c: c.params["backbone_non_embedding"]
    )
    if len(column) < 2:
        raise StudyError("the budget check needs the P = 1 cells of at least two sizes")
    return BudgetCheck(
        tuple(
            ColumnCell(
                cell=c.name,
                n=c.params["backbone_non_embedding"],
                validation=online_loss(c, 1 - TAIL, 1.0),
                late_drop=1 - online_loss(c, 0.9, 1.0) / online_loss(c, 0.7, 0.8),
                heldout=c.loss,
            )
            for c in column
        )
    )


def choose_recipe(checks: Sequence[BudgetCheck]) -> int:
    """Index of the recipe the rule picks: the lowest mean validation figure over the P = 1
    column, ties within TIE nats going to the earlier candidate."""
    if not checks:
        raise StudyError("no candidate recipes")
    sizes = {tuple(c.cell for c in check.column) for check in checks}
    if len(sizes) != 1:
        raise StudyError("candidate recipes must have the same P = 1 sizes to be compared")
    best = min(check.mean_validation for check in checks)
    return next(i for i, check in enumerate(checks) if check.mean_validation <= best + TIE)


def unfinished_column(settings: dict[str, Any], cells: Sequence[CellResult]) -> list[str]:
    """The sizes of a study's settings (study.json) whose P = 1 cell is not trained yet: a
    verdict on a partial column would judge another grid than the one asked for."""
    have = {c.shape.name for c in cells if c.streams == 1}
    sizes = [ModelShape(**size).name for size in settings.get("sizes", [])]
    return [name for name in sizes if name not in have]


def study_cells(folder: str | Path) -> tuple[dict[str, Any], list[CellResult]]:
    """The resolved settings (study.json) and finished cells of a study folder."""
    folder = Path(folder)
    marker = folder / "study.json"
    if not marker.is_file():
        raise StudyError(f"{folder}: not a ParScale study folder (no study.json)")
    try:
        settings = json.loads(marker.read_text(encoding="utf-8"))["settings"]
        cells = [
            CellResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
            for path in sorted(folder.glob("cells/*/result.json"))
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StudyError(f"{folder}: unreadable study ({exc})") from None
    return settings, cells
