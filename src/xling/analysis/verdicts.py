r"""Verdicts v2 (issue 21): each paper finding as a paired difference with its own CI.

`paper.py` compares directions of point estimates read from the arms' separate reports.
Here every finding is one difference D between cells of the study, estimated from ONE
bootstrap over all runs it involves, with a percentile CI, a bootstrap p-value, and a
Holm-Bonferroni adjustment across the findings.

Cells and X. A cell is (arm, X), X = the parallel languages added to English (the run
folders' X<k>, English-only = 0; the arms' reports count training languages, X + 1). The
runs of a cell are its training seeds; its base is the base run its arm starts from
(`base/`, or `base-<stage>/` for an arm with a `base_stage`, e.g. instruct).

Scheme (two-level, paired bootstrap).

1. Problems. Every base run and every run of the arms involved are aligned on shared
   (benchmark, language, problem id) axes and resampled together (`compute_cube`):
   replicate b draws one multiset of problem ids per benchmark and applies it to every run
   and language. A difference between two arms therefore sees the problem difficulty the
   runs share and pays only for what differs (paired), not for two independent draws.
2. Seeds. In replicate b, each cell with k seed runs first draws k of them with
   replacement (a count vector w_b, k draws), then averages the drawn runs' accuracies
   under replicate b's problem resample: acc_b(cell, l) = Σ_j w_bj·acc_b(run_j, l) / k.
   Seed draws are independent between cells, except that cells made of the very same runs
   (a run two arms share, e.g. the X = 0 run of an arm and of its shuffled control) share
   their draw, so their difference stays exactly 0. Row 0 (the point estimate) is the plain
   mean over seeds on all problems. With one seed per cell w_b = (1) and this is the
   ordinary paired bootstrap.
3. Organisms. Runs may come from several independently pretrained models ("organisms",
   `StudyRun.organism`), each measured against base runs of its own. A cell's gain is the
   mean over its organisms of each one's seed-mean gain; replicate b first draws the
   organisms with replacement (one draw for every cell, so differences stay paired at this
   level too) and weights each organism's gain by its count. With one organism this level
   does nothing.
4. Statistics. Gains and MTI are taken from the cell's seed-mean accuracy per language (a
   ratio of means, as `mti_arrays` computes for one run: one seed whose training-language
   gain is ≤ 0 does not make the cell undefined). The base run is the same for every seed.

Differences (each an `Estimate`: point + percentile CI, plus a p-value):

- parallel − shuffled MTI, per X and pooled (mean over the X ≥ 1 both arms have: at X = 0
  there is one language and nothing to shuffle, so the control is the same data);
- SFT − RL mean absolute accuracy gain over the low-resource languages (`LOW_RESOURCE`),
  pooled over the X both arms have where each of those languages is trained in both or in
  neither (so the two gains are measured on the same language sets);
- base − instruct MTI at X = 0 (English-only GRPO from each starting model, each against
  its own base run): relative MTI and absolute-gain MTI (`mti_gain="absolute"`);
- the first-parallel leap MTI(X = 1) − MTI(X = 0) of the main arm.

An MTI is a ratio: in a replicate where a cell's training-language gain is ≤ 0 the
difference is undefined (NaN). The share of such replicates is reported
(`denominator_le0_share`); the CI and the p-value come from the other replicates (as
`summarize` does: beyond (1 − ci)/2 of them the CI is reported as unbounded instead).

p-value: two-sided, p = 2·min(share of replicates ≤ 0, share ≥ 0), floored at 1/(B + 1)
(B = defined replicates: a bootstrap cannot resolve smaller p) and capped at 1.

Holm-Bonferroni over the family {pooled parallel − shuffled, SFT − RL, base − instruct
(relative MTI), leap} (those that are defined). Verdict at α: "reproduces" when the CI
excludes 0, the Holm-adjusted p ≤ α and the sign is the paper's; "refuted" when both hold
with the opposite sign; "inconclusive" otherwise (CI includes 0, or unbounded, or the
adjustment takes p above α); "undefined" when the point estimate is not computable. Rows
outside the family (per-X differences, the absolute-gain MTI) carry no adjusted p and
their verdict uses the CI alone. The paper's signs: parallel > shuffled, SFT < RL on
low-resource languages, base > instruct, leap > 0.

Outcome in plain words (`outcome`; the rule was fixed before the pooled organism v3 study
ran): "reproduces" and "refuted" as the verdict says; "cannot test" when the study file
says the testbed has no mechanism for the finding (its mechanism text starts with "none"),
when the difference is undefined, or when its CI is unbounded (a ratio's denominator ≤ 0,
or a law that does not fit, in too many replicates), each with that reason; "not settled"
for the rest: a bounded CI that includes 0, or a Holm-adjusted p above α, which more
replicates or a larger budget could settle.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xling.analysis.bootstrap import (
    DEFAULT_SEED,
    Cube,
    Estimate,
    check_bootstrap_options,
    compute_cube,
    resample_counts,
    summarize,
)
from xling.analysis.fits import MIN_FIT_X, fit_power_nls
from xling.analysis.paper import LOW_RESOURCE, PAPER, StudyArm
from xling.analysis.rundata import SCORES, Run, align, load_run
from xling.analysis.transfer import GAIN_KINDS, gains, mti_from_gains
from xling.errors import XlingError
from xling.tables import write_csv

COLUMNS = (
    "finding",
    "paper",
    "ours",
    "ci_lo",
    "ci_hi",
    "verdict",
    "p",
    "p_holm",
    "denominator_le0_share",
    "cells",
    "mechanism",
    "outcome",
    "outcome_reason",
)
OUTCOMES = ("reproduces", "refuted", "not settled", "cannot test")
# The findings, by the key a study file's [report] mechanisms table names them with (the
# per-X rows parallel_vs_shuffled_x<N> take parallel_vs_shuffled's).
FINDINGS = (
    "parallel_vs_shuffled",
    "sft_vs_rl",
    "base_vs_instruct_relative",
    "base_vs_instruct_absolute",
    "leap",
    "mti_law",
    "accuracy_law",
    "gap",
)


def check_mechanisms(mechanisms: dict[str, str]) -> None:
    unknown = sorted(set(mechanisms) - set(FINDINGS))
    if unknown:
        raise XlingError(
            f"report.mechanisms names unknown finding(s) {', '.join(unknown)}; "
            f"the findings are {', '.join(FINDINGS)}"
        )


ALPHA = 0.05
_RATIO_CAUSE = "a training-language gain (an MTI denominator) is ≤ 0"


@dataclass(frozen=True)
class StudyRun:
    """One trained run of a study arm: where it is and the base run it is measured against.

    x: parallel languages added to English (the pipeline's X; English-only = 0).
    organism: which independently pretrained starting model the run belongs to, when a
    finding pools several (each with base runs of its own); "" for a single one."""

    arm: str
    x: int
    seed: int
    run_dir: Path
    base_dir: Path
    organism: str = ""


# --------------------------------------------------------------------------- p-values


def bootstrap_p(reps: np.ndarray) -> float | None:
    """Two-sided bootstrap p-value of "the difference is 0" from its replicates (NaN ones
    left out): 2·min(share ≤ 0, share ≥ 0), floored at 1/(B + 1), capped at 1."""
    reps = np.asarray(reps, dtype=float)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return None
    two_sided = 2.0 * min(float(np.mean(reps <= 0)), float(np.mean(reps >= 0)))
    return min(1.0, max(two_sided, 1.0 / (reps.size + 1)))


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values, in the input order (None stays None and is not
    counted in the family): sorted ascending, p_(i) · (m − i + 1), made monotone by a
    running maximum and capped at 1."""
    for p in pvalues:
        if p is not None and not (math.isfinite(p) and 0.0 <= p <= 1.0):
            raise XlingError(f"a p-value must lie in [0, 1], got {p!r}")
    present = [i for i, p in enumerate(pvalues) if p is not None]
    m = len(present)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(present, key=lambda i: pvalues[i])):  # type: ignore[arg-type,return-value]
        running = max(running, min(1.0, (m - rank) * pvalues[i]))  # type: ignore[operator]
        out[i] = running
    return out


# --------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class _Member:
    """The seed runs of one cell from one organism, and that organism's base run."""

    organism: str
    runs: tuple[int, ...]  # cube indices of the seed runs
    seeds: tuple[int, ...]
    base: int  # cube index of the base run


@dataclass(frozen=True)
class _Cell:
    arm: str
    x: int
    members: tuple[_Member, ...]  # one per organism, in the cube's organism order
    train_langs: tuple[str, ...]

    @property
    def runs(self) -> tuple[int, ...]:
        return tuple(r for m in self.members for r in m.runs)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(s for m in self.members for s in m.seeds)


@dataclass
class CellCube:
    """One paired cube over base runs and trained runs, read by (arm, X) cell with the seed
    level (and, across several organisms, the organism level) resampled as the module
    docstring says."""

    cube: Cube
    cells: dict[tuple[str, int], _Cell]
    resample_seeds: bool
    organisms: list[str] = field(default_factory=lambda: [""])
    warnings: list[str] = field(default_factory=list)
    _weights: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict, repr=False)
    # (B, organisms) draw counts, shared by every cell: findings compare cells of the same
    # drawn organisms (paired at the top level too).
    _organism_weights: np.ndarray | None = field(default=None, repr=False)
    _member_acc: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def langs(self) -> list[str]:
        return self.cube.langs

    @property
    def n_boot(self) -> int:
        return self.cube.n_boot

    def xs(self, arm: str) -> list[int]:
        return sorted(x for a, x in self.cells if a == arm)

    def cell(self, arm: str, x: int) -> _Cell:
        try:
            return self.cells[(arm, x)]
        except KeyError:
            raise XlingError(f"arm {arm!r} has no run at X={x}") from None

    def _seed_mean(self, m: _Member) -> np.ndarray:
        """(1 + B, L) accuracy of one organism's seed runs: the seed mean on all problems in
        row 0, the seed-resampled mean under each problem resample in rows 1..B."""
        if m.runs not in self._member_acc:
            sel = self.cube.acc[:, list(m.runs), :]  # (1 + B, k, L)
            k = len(m.runs)
            w = self._weights[m.runs][:, :, None]  # (B, k, 1)
            # A run drawn 0 times must not bring its NaN (no problem drawn) into the sum.
            reps = np.where(w > 0, w * sel[1:], 0.0).sum(axis=1) / k
            self._member_acc[m.runs] = np.concatenate([sel[:1].mean(axis=1), reps], axis=0)
        return self._member_acc[m.runs]

    def _over_organisms(self, c: _Cell, per_member: list[np.ndarray]) -> np.ndarray:
        """(1 + B, L) mean over the cell's organisms: plain in row 0, weighted by each
        replicate's organism draw in rows 1..B."""
        stacked = np.stack(per_member, axis=1)  # (1 + B, n, L)
        if len(per_member) == 1:
            return stacked[:, 0]
        assert self._organism_weights is not None
        order = [self.organisms.index(m.organism) for m in c.members]
        w = self._organism_weights[:, order][:, :, None]  # (B, n, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            reps = np.where(w > 0, w * stacked[1:], 0.0).sum(axis=1) / w.sum(axis=1)
        return np.concatenate([stacked[:1].mean(axis=1), reps], axis=0)

    def acc(self, arm: str, x: int) -> np.ndarray:
        """(1 + B, L) accuracy of the cell (seed means, then the organism mean)."""
        c = self.cell(arm, x)
        return self._over_organisms(c, [self._seed_mean(m) for m in c.members])

    def gain(self, arm: str, x: int, kind: str) -> np.ndarray:
        """(1 + B, L) gain of the cell: each organism's seed mean against its own base run,
        then the mean over organisms."""
        c = self.cell(arm, x)
        per = [gains(self.cube.acc[:, m.base, :], self._seed_mean(m), kind) for m in c.members]
        return self._over_organisms(c, per)

    def mti(
        self, arm: str, x: int, kind: str, unseen: Sequence[str] | None = None
    ) -> tuple[np.ndarray, str | None]:
        """(1 + B,) aggregate MTI of the cell against its base, and why it is undefined at
        the point estimate (None when defined). The numerator averages the cell's unseen
        languages, or `unseen` when given (a fixed set); languages whose gain is undefined
        on all problems (base accuracy 0) are left out, as `compare_from_cube` does."""
        c = self.cell(arm, x)
        g = self.gain(arm, x, kind)
        seen = np.array([lang in c.train_langs for lang in self.langs], dtype=bool)
        pool = ~seen if unseen is None else np.isin(self.langs, list(unseen)) & ~seen
        use = pool & np.isfinite(g[0])
        m = mti_from_gains(g, seen, use=use)
        label = f"{arm} X={x}"
        if not seen.any():
            return m["mti"], f"{label}: no training language is evaluated"
        if not use.any():
            return m["mti"], f"{label}: no unseen language with a defined gain"
        den = float(m["gain_seen"][0])
        if not (math.isfinite(den) and den > 0):
            shown = "undefined" if not math.isfinite(den) else f"{den:+.3f}"
            return m["mti"], f"{label}: training-language {kind} gain is {shown} (≤ 0)"
        return m["mti"], None

    def mean_gain(self, arm: str, x: int, langs: Sequence[str]) -> np.ndarray:
        """(1 + B,) mean absolute accuracy gain of the cell over `langs` (evaluated ones)."""
        idx = [self.langs.index(lang) for lang in langs]
        return self.gain(arm, x, "absolute")[:, idx].mean(axis=1)

    def fixed_unseen(self) -> list[str]:
        """The languages no cell trains on."""
        trained = {lang for c in self.cells.values() for lang in c.train_langs}
        return [lang for lang in self.langs if lang not in trained]


CELL_COLUMNS = (
    "arm",
    "x",
    "organisms",
    "runs",
    "seen_gain",
    "seen_gain_lo",
    "seen_gain_hi",
    "unseen_gain",
    "unseen_gain_lo",
    "unseen_gain_hi",
    "mti",
    "mti_lo",
    "mti_hi",
    "mti_fixed_unseen",
    "mti_fixed_unseen_lo",
    "mti_fixed_unseen_hi",
    "mti_abs",
    "mti_abs_lo",
    "mti_abs_hi",
    "mti_denominator_le0_share",
)


def cell_rows(cc: CellCube, *, ci: float = 0.95, mti_gain: str = "relative") -> list[dict]:
    """Per (arm, X) cell: the mean absolute gains (points) on its seen and unseen languages
    and its MTI three ways, each from the same bootstrap as the verdicts (problems, seeds
    within the cell and organisms all resampled)."""
    fixed = cc.fixed_unseen()
    rows = []
    for (arm, x), c in sorted(cc.cells.items()):
        row: dict[str, Any] = {
            "arm": arm,
            "x": x,
            "organisms": len(c.members),
            "runs": len(c.runs),
        }
        seen = [lang for lang in cc.langs if lang in c.train_langs]
        unseen = [lang for lang in cc.langs if lang not in c.train_langs]
        for key, langs in (("seen_gain", seen), ("unseen_gain", unseen)):
            e = summarize(float("nan"), None, ci, undefined="no such language")
            if langs:
                g = 100 * cc.mean_gain(arm, x, langs)
                e = summarize(float(g[0]), g[1:], ci)
            row.update({key: e.value, f"{key}_lo": e.lo, f"{key}_hi": e.hi})
        for key, kind, pool in (
            ("mti", mti_gain, None),
            ("mti_fixed_unseen", mti_gain, fixed),
            ("mti_abs", "absolute", None),
        ):
            values, why = cc.mti(arm, x, kind, pool)
            e = summarize(float(values[0]), values[1:], ci, undefined=why, ci_cause=_RATIO_CAUSE)
            row.update({key: e.value, f"{key}_lo": e.lo, f"{key}_hi": e.hi})
            if key == "mti":
                row["mti_denominator_le0_share"] = float(np.mean(~np.isfinite(values[1:])))
        rows.append(row)
    return rows


def _label(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def build_cell_cube(
    runs: Iterable[StudyRun],
    *,
    n_boot: int = 2000,
    seed: int = DEFAULT_SEED,
    benchmark: str = "all",
    resample_seeds: bool = True,
    resample_organisms: bool = True,
) -> CellCube:
    """Load every run and base run of `runs` once (a run two arms share is one run) into one
    paired bootstrap cube and group them into (arm, X) cells, each with one member per
    organism."""
    check_bootstrap_options(n_boot=n_boot, seed=seed)
    runs = list(runs)
    if not runs:
        raise XlingError("no runs given")
    index: dict[Path, int] = {}
    loaded: list[Run] = []

    def load(path: Path) -> int:
        key = Path(path).resolve()
        if key not in index:
            index[key] = len(loaded)
            loaded.append(load_run(path, name=_label(key)))
        return index[key]

    organisms = sorted({r.organism for r in runs})
    grouped: dict[tuple[str, int], dict[str, list[tuple[int, int, int]]]] = {}
    for r in runs:
        members = grouped.setdefault((r.arm, r.x), {})
        members.setdefault(r.organism, []).append((r.seed, load(r.run_dir), load(r.base_dir)))
    cells: dict[tuple[str, int], _Cell] = {}
    for (arm, x), by_organism in sorted(grouped.items()):
        where = f"arm {arm!r} X={x}"
        members = []
        langs = set()
        for organism in organisms:
            listed = by_organism.get(organism)
            if not listed:
                continue
            named = f"{where}{f' (organism {organism})' if organism else ''}"
            seeds = [s for s, _, _ in listed]
            if len(set(seeds)) != len(seeds):
                raise XlingError(f"{named}: seed listed twice ({seeds})")
            bases = {b for _, _, b in listed}
            if len(bases) != 1:
                names = ", ".join(loaded[b].name for b in sorted(bases))
                raise XlingError(f"{named}: its seed runs name different bases ({names})")
            for _, ri, _ in listed:
                if loaded[ri].train_langs is None:
                    raise XlingError(
                        f"{loaded[ri].path}: training languages unknown (no train.json with "
                        "train_langs), so its MTI cannot be computed"
                    )
                langs.add(tuple(loaded[ri].train_langs))
            members.append(
                _Member(
                    organism,
                    tuple(ri for _, ri, _ in listed),
                    tuple(seeds),
                    bases.pop(),
                )
            )
        if len(langs) != 1:
            raise XlingError(f"{where}: its seed runs trained on different languages")
        cells[(arm, x)] = _Cell(arm, x, tuple(members), langs.pop())
    aligned = align(loaded, benchmark=benchmark)
    cube = compute_cube(aligned, n_boot=n_boot, seed=seed)
    # Seeds and organisms are drawn from streams of their own, so adding seeds or
    # organisms to a study leaves the problem resamples (and with one seed per cell and one
    # organism, every result) unchanged.
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED]))
    weights: dict[tuple[int, ...], np.ndarray] = {}
    for c in cells.values():
        for m in c.members:
            if m.runs in weights:
                continue
            k = len(m.runs)
            weights[m.runs] = (
                resample_counts(k, n_boot, rng) if resample_seeds else np.ones((n_boot, k))
            )
    organism_weights = None
    if len(organisms) > 1:
        org_rng = np.random.default_rng(np.random.SeedSequence([seed, 0x0C6A]))
        organism_weights = (
            resample_counts(len(organisms), n_boot, org_rng)
            if resample_organisms
            else np.ones((n_boot, len(organisms)))
        )
    return CellCube(
        cube,
        cells,
        resample_seeds,
        organisms,
        list(aligned.warnings),
        weights,
        organism_weights,
    )


# --------------------------------------------------------------------------- findings


@dataclass
class Verdict:
    """One difference between cells: the paper's claimed sign, ours with its CI, p-values."""

    key: str
    finding: str
    paper: str
    sign: int  # the paper's claimed sign of the difference: +1 or -1
    estimate: Estimate
    p: float | None
    denominator_le0_share: float | None  # None for differences without a ratio
    cells: str
    family: bool  # in the Holm family
    p_holm: float | None = None
    verdict: str = ""
    mechanism: str = ""  # what in the testbed could produce the finding (study file)
    outcome: str = ""  # one of OUTCOMES (`outcome`)
    outcome_reason: str = ""

    def ours(self) -> str:
        e = self.estimate
        if not e.defined:
            return f"undefined: {e.reason}"
        text = e.fmt(3, sign=True)
        if e.reason:  # the value is defined, its CI is not
            text += f" ({e.reason})"
        share = self.denominator_le0_share
        if share and e.lo is not None:
            text += f"; {100 * share:.1f}% of replicates undefined, CI over the rest"
        return text

    def row(self) -> dict[str, Any]:
        return {
            "finding": self.finding,
            "paper": self.paper,
            "ours": self.ours(),
            "ci_lo": self.estimate.lo,
            "ci_hi": self.estimate.hi,
            "verdict": self.verdict,
            "p": self.p,
            "p_holm": self.p_holm,
            "denominator_le0_share": self.denominator_le0_share,
            "cells": self.cells,
            "mechanism": self.mechanism,
            "outcome": self.outcome,
            "outcome_reason": self.outcome_reason,
        }


def _judge(v: Verdict, alpha: float) -> str:
    e = v.estimate
    if not e.defined:
        return "undefined"
    if e.lo is None or e.hi is None or e.lo <= 0 <= e.hi:
        return "inconclusive"
    if v.family and (v.p_holm is None or v.p_holm > alpha):
        return "inconclusive"
    return "reproduces" if (e.lo > 0) == (v.sign > 0) else "refuted"


def outcome(v: Verdict) -> tuple[str, str]:
    """The verdict in plain words, with its reason (module docstring: Outcome)."""
    e = v.estimate
    if v.mechanism.strip().lower().startswith("none"):
        return "cannot test", v.mechanism.strip()
    if not e.defined:
        return "cannot test", f"undefined: {e.reason}"
    if e.lo is None or e.hi is None:
        return "cannot test", e.reason or "its CI is unbounded"
    if v.verdict in ("reproduces", "refuted"):
        return v.verdict, f"CI [{e.lo:+.3g}, {e.hi:+.3g}] excludes 0"
    if e.lo <= 0 <= e.hi:
        return "not settled", f"CI [{e.lo:+.3g}, {e.hi:+.3g}] includes 0"
    if v.p_holm is None:
        return "not settled", "no Holm-adjusted p"
    return "not settled", f"Holm-adjusted p = {v.p_holm:.3g} is above α"


def _pooled(
    key: str,
    finding: str,
    paper: str,
    sign: int,
    parts: list[tuple[str, np.ndarray, str | None]],
    *,
    ci: float,
    ratio: bool,
    family: bool,
    cells: str,
    nan_cause: str = _RATIO_CAUSE,
) -> Verdict:
    """The mean of per-cell differences `parts` ((label, (1 + B,) array, why undefined)),
    over those defined at the point estimate; the others are named in `cells`. `ratio`:
    replicates can be undefined (NaN, for `nan_cause`), and their share is reported."""
    usable = [(lab, d) for lab, d, why in parts if why is None]
    skipped = [why for _, _, why in parts if why is not None]
    if skipped:
        cells += "; left out: " + "; ".join(skipped)
    if not usable:
        why = "; ".join(skipped) or cells
        return Verdict(
            key, finding, paper, sign, Estimate(None, reason=why), None, None, cells, family
        )
    d = np.mean(np.stack([a for _, a in usable]), axis=0)
    reps = d[1:]
    share = float(np.mean(~np.isfinite(reps))) if ratio and reps.size else None
    est = summarize(float(d[0]), reps, ci, ci_cause=nan_cause if ratio else None)
    return Verdict(key, finding, paper, sign, est, bootstrap_p(reps), share, cells, family)


def _xs_text(cc: CellCube, arms: Sequence[str], xs: Sequence[int]) -> str:
    if not xs:
        return "no common X"

    def runs(cell: _Cell) -> str:
        if len(cell.members) == 1:
            return f"{len(cell.seeds)} seed(s)"
        return " + ".join(f"{len(m.seeds)}" for m in cell.members) + " seeds over organisms"

    counts = {(a, x): runs(cc.cell(a, x)) for a in arms for x in xs}
    if len(set(counts.values())) == 1:
        per = f"{next(iter(counts.values()))} per cell"
    else:
        per = "runs: " + ", ".join(f"{a} X={x}: {k}" for (a, x), k in counts.items())
    return f"{' vs '.join(arms)} at X={','.join(str(x) for x in xs)} ({per})"


@dataclass(frozen=True)
class Roles:
    """Which arm plays which part in the findings (None: the study has no such arm)."""

    main: str | None
    shuffled: str | None = None
    sft: str | None = None
    instruct: str | None = None

    @classmethod
    def from_arms(cls, arms: Sequence[StudyArm]) -> Roles:
        """As `paper_rows` picks them: the first GRPO arm from the base model that is not the
        shuffled control is the main arm; the first shuffled arm, the first SFT arm from the
        base model and the first GRPO arm from another starting model fill the rest."""

        def first(pred) -> str | None:
            return next((a.name for a in arms if pred(a)), None)

        shuffled = first(lambda a: a.shuffled)
        return cls(
            main=first(lambda a: a.method == "grpo" and not a.base_stage and a.name != shuffled),
            shuffled=shuffled,
            sft=first(lambda a: a.method == "sft" and not a.base_stage and a.name != shuffled),
            instruct=first(lambda a: a.method == "grpo" and a.base_stage),
        )

    def names(self) -> list[str]:
        return [n for n in (self.main, self.shuffled, self.sft, self.instruct) if n]


def findings(
    cc: CellCube,
    roles: Roles,
    *,
    ci: float = 0.95,
    mti_gain: str = "relative",
    low_resource: Sequence[str] = LOW_RESOURCE,
) -> list[Verdict]:
    """Every difference the study's arms allow, family members first, not yet adjusted."""
    if mti_gain not in GAIN_KINDS:
        raise XlingError(f"mti_gain must be one of {', '.join(GAIN_KINDS)}, got {mti_gain!r}")
    main = roles.main
    family: list[Verdict] = []
    detail: list[Verdict] = []
    if main is None or main not in {a for a, _ in cc.cells}:
        return []

    def mti_diff(a: tuple[str, int], b: tuple[str, int], kind: str):
        ma, why_a = cc.mti(*a, kind)
        mb, why_b = cc.mti(*b, kind)
        return ma - mb, why_a or why_b

    if roles.shuffled and roles.shuffled in {a for a, _ in cc.cells}:
        sh = roles.shuffled
        common = sorted(set(cc.xs(main)) & set(cc.xs(sh)))
        parts = []
        for x in common:
            d, why = mti_diff((main, x), (sh, x), mti_gain)
            parts.append((f"X={x}", d, why))
            detail.append(
                _pooled(
                    f"parallel_vs_shuffled_x{x}",
                    f"Parallel − shuffled MTI at X={x} (detail, outside the Holm family)",
                    "parallel > shuffled",
                    +1,
                    [(f"X={x}", d, why)],
                    ci=ci,
                    ratio=True,
                    family=False,
                    cells=_xs_text(cc, (main, sh), [x])
                    + (
                        "; the same runs in both arms, so 0 by construction"
                        if cc.cell(main, x).runs == cc.cell(sh, x).runs
                        else ""
                    ),
                )
            )
        pooled_xs = [x for x in common if x >= 1]
        family.append(
            _pooled(
                "parallel_vs_shuffled",
                f"Parallel − shuffled MTI ({mti_gain}), mean over X ≥ 1",
                "parallel > shuffled (parallel data transfers better)",
                +1,
                [p for p, x in zip(parts, common, strict=True) if x >= 1],
                ci=ci,
                ratio=True,
                family=True,
                cells=_xs_text(cc, (main, sh), pooled_xs),
            )
        )

    if roles.sft and roles.sft in {a for a, _ in cc.cells}:
        sft = roles.sft
        low = [lang for lang in low_resource if lang in cc.langs]
        entered, differ = [], []
        for x in sorted(set(cc.xs(main)) & set(cc.xs(sft))):
            a, b = cc.cell(main, x), cc.cell(sft, x)
            if all((lang in a.train_langs) == (lang in b.train_langs) for lang in low):
                entered.append(x)
            else:
                differ.append(x)
        cells = _xs_text(cc, (sft, main), entered) + f"; languages {','.join(low) or 'none'}"
        if differ:
            cells += f"; left out X={','.join(map(str, differ))} (training languages differ)"
        parts = (
            [
                (f"X={x}", cc.mean_gain(sft, x, low) - cc.mean_gain(main, x, low), None)
                for x in entered
            ]
            if low
            else []
        )
        if not low:
            cells += f"; none of {', '.join(low_resource)} is evaluated"
        family.append(
            _pooled(
                "sft_vs_rl",
                f"SFT − RL mean accuracy gain on {', '.join(low_resource)} (mean over X)",
                "SFT < RL (SFT hurts, RL helps)",
                -1,
                parts,
                ci=ci,
                ratio=False,
                family=True,
                cells=cells,
            )
        )

    if roles.instruct and roles.instruct in {a for a, _ in cc.cells}:
        inst = roles.instruct
        paper = f"{PAPER['mti_base']:.2f} − {PAPER['mti_instruct']:.2f} = "
        paper += f"{PAPER['mti_base'] - PAPER['mti_instruct']:+.2f}"
        for kind, in_family in (("relative", True), ("absolute", False)):
            have = (main, 0) in cc.cells and (inst, 0) in cc.cells
            parts = [("X=0", *mti_diff((main, 0), (inst, 0), kind))] if have else []
            where = "X=0 missing in " + " or ".join(
                a for a in (main, inst) if (a, 0) not in cc.cells
            )
            (family if in_family else detail).append(
                _pooled(
                    f"base_vs_instruct_{kind}",
                    f"Base − {inst} MTI ({kind} gains) at X=0, English-only GRPO"
                    + ("" if in_family else " (outside the Holm family)"),
                    paper if kind == "relative" else "base > instruct",
                    +1,
                    parts,
                    ci=ci,
                    ratio=True,
                    family=in_family,
                    cells=_xs_text(cc, (main, inst), [0]) if have else where,
                )
            )

    if (main, 0) in cc.cells and (main, 1) in cc.cells:
        parts = [("X=1 − X=0", *mti_diff((main, 1), (main, 0), mti_gain))]
        cells = _xs_text(cc, (main,), [0, 1])
    else:
        parts, cells = [], f"{main} lacks X=0 or X=1"
    leap = PAPER["mti_first_parallel"] - PAPER["mti_mono"]
    family.append(
        _pooled(
            "leap",
            f"First-parallel leap: MTI ({mti_gain}) X=1 − X=0 of {main}",
            f"{PAPER['mti_first_parallel']:.2f} − {PAPER['mti_mono']:.2f} = {leap:+.2f}",
            +1,
            parts,
            ci=ci,
            ratio=True,
            family=True,
            cells=cells,
        )
    )
    family += _law_verdicts(cc, main, mti_gain, ci)
    return family + detail


_FIT_CAUSE = "the power law did not converge on a replicate"


def _law_fit(x: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """α and β of α·X^β fitted to values (1 + B, n) at x (n,): row 0 on the points, rows
    1..B on each replicate (NaN where a fit does not converge or a value is undefined)."""
    alpha = np.full(values.shape[0], np.nan)
    beta = np.full(values.shape[0], np.nan)
    for row, y in enumerate(values):
        if np.all(np.isfinite(y)):
            fitted = fit_power_nls(x, y)
            if fitted is not None:
                alpha[row], beta[row] = fitted
    return alpha, beta


def _law_verdicts(cc: CellCube, main: str, mti_gain: str, ci: float) -> list[Verdict]:
    """The MTI law's and the accuracy law's exponents and the monolingual gap, each from
    the power law refitted on every replicate of the main arm's cells (so the organism,
    seed and problem levels all enter their CIs). X counts training languages as the
    paper's laws do (English-only = 1); the laws are fitted to the parallel settings."""
    xs = cc.xs(main)
    x = np.array(xs, dtype=float) + 1.0
    parallel = x > 1
    cells = _xs_text(cc, (main,), xs) + "; law fitted to X ≥ 1 (training languages ≥ 2)"
    enough = len(set(x[parallel])) >= MIN_FIT_X
    too_few = f"{main} has {int(parallel.sum())} parallel setting(s); a law needs {MIN_FIT_X}"
    mtis, why_mti = [], []
    for x_value in xs:
        values, why = cc.mti(main, x_value, mti_gain)
        mtis.append(values)
        if why is not None and x_value >= 1:
            why_mti.append(why)
    accuracy = np.stack([100 * cc.acc(main, v).mean(axis=1) for v in xs], axis=1)
    mti_values = np.stack(mtis, axis=1)
    where = cells if enough else f"{cells}; {too_few}"

    def row(key: str, finding: str, paper: str, parts: list) -> Verdict:
        return _pooled(
            key,
            finding,
            paper,
            +1,
            parts,
            ci=ci,
            ratio=True,
            family=True,
            cells=where,
            nan_cause=_FIT_CAUSE,
        )

    rows = []
    for key, finding, law, values, undefined in (
        (
            "mti_law",
            f"MTI law: exponent β of MTI ({mti_gain}) = α·X^β",
            "mti_law",
            mti_values,
            "; ".join(why_mti) or None,
        ),
        (
            "accuracy_law",
            "Accuracy law: exponent β of accuracy = α·X^β",
            "accuracy_law",
            accuracy,
            None,
        ),
    ):
        alpha_paper, beta_paper = PAPER[law]
        parts = []
        if enough and undefined is None:
            _, beta = _law_fit(x[parallel], values[:, parallel])
            why = None if np.isfinite(beta[0]) else f"{main}: the power law does not converge"
            parts = [("law", beta, why)]
        elif enough:
            parts = [("law", values[:, 0], undefined)]
        paper = f"β = {beta_paper:.2f} ({alpha_paper:.2f}·X^{beta_paper:.2f})"
        rows.append(row(key, finding, paper, parts))
    gap_parts = []
    if enough and 0 in xs:
        alpha, _ = _law_fit(x[parallel], accuracy[:, parallel])
        gap = alpha - accuracy[:, xs.index(0)]  # the law at X = 1 is α
        why = None if np.isfinite(gap[0]) else f"{main}: the accuracy law does not converge"
        gap_parts = [("gap", gap, why)]
    predicted, measured = PAPER["mono_predicted"], PAPER["mono_measured"]
    rows.append(
        row(
            "gap",
            "Monolingual gap: accuracy law at English-only training − measured (points)",
            f"{predicted:.2f} − {measured:.2f} = {predicted - measured:+.2f}",
            gap_parts,
        )
    )
    return rows


def adjust(verdicts: list[Verdict], alpha: float = ALPHA) -> list[Verdict]:
    """Holm-adjust the family's p-values and give every row its verdict (in place)."""
    members = [v for v in verdicts if v.family]
    for v, p in zip(members, holm([v.p for v in members]), strict=True):
        v.p_holm = p
    for v in verdicts:
        v.verdict = _judge(v, alpha)
        v.outcome, v.outcome_reason = outcome(v)
    return verdicts


@dataclass
class VerdictSet:
    rows: list[Verdict]
    n_boot: int
    seed: int
    ci: float
    alpha: float
    mti_gain: str
    resample_seeds: bool
    langs: list[str]
    arms: list[str]
    warnings: list[str] = field(default_factory=list)
    organisms: list[str] = field(default_factory=lambda: [""])
    cells: list[dict[str, Any]] = field(default_factory=list)  # `cell_rows`

    def table(self) -> list[dict[str, Any]]:
        return [v.row() for v in self.rows]

    def meta(self) -> dict[str, Any]:
        return {
            "scheme": "paired bootstrap over problems (one cube over every run involved), "
            "seeds resampled within each (arm, X) cell"
            + (", organisms resampled for all cells at once" if len(self.organisms) > 1 else "")
            + "; Holm-Bonferroni over the family",
            "organisms": self.organisms,
            "family": [v.key for v in self.rows if v.family],
            "n_boot": self.n_boot,
            "seed": self.seed,
            "ci": self.ci,
            "alpha": self.alpha,
            "mti_gain": self.mti_gain,
            "resample_seeds": self.resample_seeds,
            "langs": self.langs,
            "arms": self.arms,
            "warnings": self.warnings,
        }


def compute_verdicts(
    runs: Sequence[StudyRun],
    arms: Sequence[StudyArm],
    *,
    n_boot: int = 2000,
    seed: int = DEFAULT_SEED,
    ci: float = 0.95,
    alpha: float = ALPHA,
    mti_gain: str = "relative",
    benchmark: str = "all",
    resample_seeds: bool = True,
    resample_organisms: bool = True,
    mechanisms: dict[str, str] | None = None,
) -> VerdictSet:
    """The verdicts of a study from its run folders: one cube over the base runs and the
    runs of the arms the findings involve. Runs not evaluated yet (no scores.jsonl) are left
    out with a warning."""
    check_bootstrap_options(n_boot=n_boot, seed=seed, ci=ci)
    roles = Roles.from_arms(arms)
    if roles.main is None:
        raise XlingError("no main GRPO arm (from the base model, not shuffled): no verdicts")
    involved = set(roles.names())
    chosen = [r for r in runs if r.arm in involved]
    ready = [r for r in chosen if (Path(r.run_dir) / SCORES).is_file()]
    warnings = [
        f"{r.arm} X={r.x} seed {r.seed}: no {SCORES} in {r.run_dir}, left out"
        for r in chosen
        if r not in ready
    ]
    cc = build_cell_cube(
        ready,
        n_boot=n_boot,
        seed=seed,
        benchmark=benchmark,
        resample_seeds=resample_seeds,
        resample_organisms=resample_organisms,
    )
    rows = findings(cc, roles, ci=ci, mti_gain=mti_gain)
    if mechanisms:
        check_mechanisms(mechanisms)
        for v in rows:
            v.mechanism = mechanisms.get(v.key.split("_x")[0], "")
    adjust(rows, alpha)  # after the mechanisms: the outcome reads them
    return VerdictSet(
        rows=rows,
        n_boot=n_boot,
        seed=seed,
        ci=ci,
        alpha=alpha,
        mti_gain=mti_gain,
        resample_seeds=resample_seeds,
        langs=cc.langs,
        arms=sorted({a for a, _ in cc.cells}),
        warnings=warnings + cc.warnings,
        organisms=cc.organisms,
        cells=cell_rows(cc, ci=ci, mti_gain=mti_gain),
    )


# --------------------------------------------------------------------------- output


def write_verdicts_csv(vs: VerdictSet, path: Path) -> Path:
    """verdicts.csv at `path`, and the cells' table (`cell_rows`) as cells.csv beside it."""
    write_csv(vs.cells, path.with_name("cells.csv"), columns=CELL_COLUMNS)
    return write_csv(vs.table(), path, columns=COLUMNS)


def _p_text(p: float | None) -> str:
    if p is None:
        return "—"
    return f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"


def verdicts_markdown(vs: VerdictSet) -> str:
    """The summary.md section (without its heading)."""
    pct = f"{100 * vs.ci:g}%"
    lines = [
        f"Each finding as one difference with its {pct} percentile CI from a single paired "
        f"bootstrap ({vs.n_boot} replicates, seed {vs.seed}) over every run involved: each "
        "replicate resamples the same problems in every run and language"
        + (", and the training seeds within each (arm, X) cell" if vs.resample_seeds else "")
        + (
            f"; the {len(vs.organisms)} independently pretrained organisms "
            f"({', '.join(vs.organisms)}) are drawn with replacement first, each measured "
            "against its own base"
            if len(vs.organisms) > 1
            else ""
        )
        + f". p: two-sided bootstrap p-value; p_holm: Holm-Bonferroni over the "
        f"{sum(v.family for v in vs.rows)} findings above the detail rows. A verdict other "
        f"than inconclusive needs the CI to exclude 0 and p_holm ≤ {vs.alpha:g}; detail rows "
        "use the CI alone. X counts the languages added to English (the reports count "
        "training languages, X + 1). MTI differences are undefined in replicates whose "
        "training-language gain is ≤ 0: their share is given, and the CI uses the rest.",
        "",
    ]
    family = [v for v in vs.rows if v.family]
    if family:
        lines += ["In plain words (the findings of the Holm family):", ""]
        for name in OUTCOMES:
            these = [v for v in family if v.outcome == name]
            # An empty outcome is said too: "reproduces: none" is a result, not an omission.
            listed = "; ".join(f"{v.finding} ({v.outcome_reason})" for v in these) or "none"
            lines.append(f"- **{name.capitalize()}:** {listed}.")
        lines.append("")
    keys = ("finding", "paper", "ours", "p", "p_holm", "verdict", "cells")
    if any(v.mechanism for v in vs.rows):
        keys += ("mechanism",)
    lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for v in vs.rows:
        row = v.row()
        row["p"], row["p_holm"] = _p_text(v.p), _p_text(v.p_holm)
        lines.append("| " + " | ".join(str(row[k]).replace("|", "/") for k in keys) + " |")
    if vs.warnings:
        lines += ["", *(f"- {w}" for w in vs.warnings)]
    return "\n".join(lines) + "\n"


__all__ = [
    "ALPHA",
    "CELL_COLUMNS",
    "COLUMNS",
    "FINDINGS",
    "OUTCOMES",
    "CellCube",
    "Roles",
    "StudyRun",
    "Verdict",
    "VerdictSet",
    "adjust",
    "bootstrap_p",
    "build_cell_cube",
    "cell_rows",
    "check_mechanisms",
    "compute_verdicts",
    "findings",
    "holm",
    "outcome",
    "verdicts_markdown",
    "write_verdicts_csv",
]
