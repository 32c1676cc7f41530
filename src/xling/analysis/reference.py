"""Figures measured elsewhere that a study shows beside its own: a small study (the CPU
demo) next to the larger run it stands for (the GPU study of the same organism), so that a
reader never takes a limit of the small budget for a finding.

A study file lists them under `[[report.reference]]`, each with where it was measured:

    [[report.reference]]
    label = "GPU X0 seed 0"
    gain_seen_pp = [18.4, 12.0, 24.4]     # value, CI low, CI high, in points
    gain_unseen_pp = [14.1, 10.1, 18.3]
    mti = [1.01, 0.66, 1.60]
"""

from __future__ import annotations

from dataclasses import dataclass

from xling.analysis.bootstrap import Estimate
from xling.errors import XlingError

Triple = tuple[float, float, float]  # value, CI low, CI high


@dataclass(frozen=True)
class ReferenceRun:
    label: str
    gain_seen_pp: Triple  # training languages (English alone at X = 0), points
    gain_unseen_pp: Triple
    mti: Triple

    def __post_init__(self) -> None:
        for name in ("gain_seen_pp", "gain_unseen_pp", "mti"):
            value = getattr(self, name)
            if len(value) != 3:
                raise XlingError(
                    f"reference {self.label!r}: {name} must be [value, ci_low, ci_high]"
                )
            point, lo, hi = value
            if not lo <= point <= hi:
                raise XlingError(
                    f"reference {self.label!r}: {name} {point} lies outside its CI [{lo}, {hi}]"
                )

    def estimate(self, name: str) -> Estimate:
        point, lo, hi = getattr(self, name)
        return Estimate(float(point), float(lo), float(hi))


COLUMNS = ("run", "trained gain pp", "unseen gain pp", "MTI")


def row(label: str, gain_seen_pp: Estimate, gain_unseen_pp: Estimate, mti: Estimate) -> list[str]:
    """One table row: the gains in points with one decimal, MTI with two."""
    return [
        label,
        gain_seen_pp.fmt(1, sign=True),
        gain_unseen_pp.fmt(1, sign=True),
        mti.fmt(2) if mti.defined else f"undefined ({mti.reason})",
    ]


def reference_row(ref: ReferenceRun) -> list[str]:
    return row(
        ref.label,
        ref.estimate("gain_seen_pp"),
        ref.estimate("gain_unseen_pp"),
        ref.estimate("mti"),
    )
