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

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from xling.analysis.bootstrap import Estimate
from xling.errors import XlingError


@dataclass(frozen=True)
class ReferenceRun:
    label: str
    gain_seen_pp: Estimate  # training languages (English alone at X = 0), points
    gain_unseen_pp: Estimate
    mti: Estimate


def _estimate(key: str, value: Any, label: str) -> Estimate:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 3
        or not all(isinstance(v, int | float) for v in value)
    ):
        raise XlingError(f"reference {label!r}: {key} must be [value, ci_low, ci_high]")
    point, lo, hi = (float(v) for v in value)
    if not lo <= point <= hi:
        raise XlingError(f"reference {label!r}: {key} {point} lies outside its CI [{lo}, {hi}]")
    return Estimate(point, lo, hi)


def parse_references(entries: Sequence[Any]) -> tuple[ReferenceRun, ...]:
    """`[[report.reference]]` tables as ReferenceRuns; a missing or unknown key is an error
    that names the closest known one."""
    names = [f.name for f in fields(ReferenceRun)]
    out = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise XlingError("each [[report.reference]] must be a table")
        label = str(entry.get("label", ""))
        for key in entry:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise XlingError(f"reference {label!r}: unknown key {key!r}{hint}")
        missing = [n for n in names if n not in entry]
        if missing:
            raise XlingError(f"reference {label!r}: missing {', '.join(missing)}")
        out.append(
            ReferenceRun(
                label=label,
                **{n: _estimate(n, entry[n], label) for n in names if n != "label"},
            )
        )
    return tuple(out)


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
    return row(ref.label, ref.gain_seen_pp, ref.gain_unseen_pp, ref.mti)
