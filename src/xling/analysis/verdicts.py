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
3. Statistics. Gains and MTI are taken from the cell's seed-mean accuracy per language (a
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
from xling.analysis.paper import LOW_RESOURCE, PAPER, StudyArm
from xling.analysis.rundata import SCORES, Run, align, load_run
from xling.analysis.transfer import GAIN_KINDS, gains, mti_arrays
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
)
ALPHA = 0.05
_RATIO_CAUSE = "a training-language gain (an MTI denominator) is ≤ 0"


@dataclass(frozen=True)
class StudyRun:
    """One trained run of a study arm: where it is and the base run it is measured against.

    x: parallel languages added to English (the pipeline's X; English-only = 0)."""

    arm: str
    x: int
    seed: int
    run_dir: Path
    base_dir: Path


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
class _Cell:
    arm: str
    x: int
    runs: tuple[int, ...]  # cube indices of the seed runs
    seeds: tuple[int, ...]
    base: int  # cube index of the base run
    train_langs: tuple[str, ...]


@dataclass
class CellCube:
    """One paired cube over base runs and trained runs, read by (arm, X) cell with the seed
    level resampled as the module docstring says."""

    cube: Cube
    cells: dict[tuple[str, int], _Cell]
    resample_seeds: bool
    warnings: list[str] = field(default_factory=list)
    _weights: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict, repr=False)
    _acc: dict[tuple[str, int], np.ndarray] = field(default_factory=dict, repr=False)

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

    def acc(self, arm: str, x: int) -> np.ndarray:
        """(1 + B, L) accuracy of the cell: the seed mean on all problems in row 0, the
        seed-resampled mean under each problem resample in rows 1..B."""
        key = (arm, x)
        if key not in self._acc:
            c = self.cell(arm, x)
            sel = self.cube.acc[:, list(c.runs), :]  # (1 + B, k, L)
            k = len(c.runs)
            w = self._weights[c.runs][:, :, None]  # (B, k, 1)
            # A run drawn 0 times must not bring its NaN (no problem drawn) into the sum.
            reps = np.where(w > 0, w * sel[1:], 0.0).sum(axis=1) / k
            self._acc[key] = np.concatenate([sel[:1].mean(axis=1), reps], axis=0)
        return self._acc[key]

    def base_acc(self, arm: str, x: int) -> np.ndarray:
        return self.cube.acc[:, self.cell(arm, x).base, :]

    def mti(self, arm: str, x: int, kind: str) -> tuple[np.ndarray, str | None]:
        """(1 + B,) aggregate MTI of the cell against its base, and why it is undefined at
        the point estimate (None when defined). Unseen languages whose gain is undefined
        on all problems (base accuracy 0) are left out, as `compare_from_cube` does."""
        c = self.cell(arm, x)
        base, trained = self.base_acc(arm, x), self.acc(arm, x)
        seen = np.array([lang in c.train_langs for lang in self.langs], dtype=bool)
        use = ~seen & np.isfinite(gains(base[0], trained[0], kind))
        m = mti_arrays(base, trained, seen, kind, use=use)
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
        return (self.acc(arm, x)[:, idx] - self.base_acc(arm, x)[:, idx]).mean(axis=1)


def _label(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def build_cell_cube(
    runs: Iterable[StudyRun],
    *,
    n_boot: int = 2000,
    seed: int = DEFAULT_SEED,
    benchmark: str = "all",
    resample_seeds: bool = True,
) -> CellCube:
    """Load every run and base run of `runs` once (a run two arms share is one run) into one
    paired bootstrap cube and group them into (arm, X) cells."""
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

    grouped: dict[tuple[str, int], list[tuple[int, int, int]]] = {}
    for r in runs:
        grouped.setdefault((r.arm, r.x), []).append((r.seed, load(r.run_dir), load(r.base_dir)))
    cells: dict[tuple[str, int], _Cell] = {}
    for (arm, x), members in sorted(grouped.items()):
        seeds = [s for s, _, _ in members]
        if len(set(seeds)) != len(seeds):
            raise XlingError(f"arm {arm!r} X={x}: seed listed twice ({seeds})")
        bases = {b for _, _, b in members}
        if len(bases) != 1:
            names = ", ".join(loaded[b].name for b in sorted(bases))
            raise XlingError(f"arm {arm!r} X={x}: its seed runs name different bases ({names})")
        langs = set()
        for _, ri, _ in members:
            if loaded[ri].train_langs is None:
                raise XlingError(
                    f"{loaded[ri].path}: training languages unknown (no train.json with "
                    "train_langs), so its MTI cannot be computed"
                )
            langs.add(tuple(loaded[ri].train_langs))
        if len(langs) != 1:
            raise XlingError(f"arm {arm!r} X={x}: its seed runs trained on different languages")
        cells[(arm, x)] = _Cell(
            arm,
            x,
            tuple(ri for _, ri, _ in members),
            tuple(seeds),
            bases.pop(),
            langs.pop(),
        )
    aligned = align(loaded, benchmark=benchmark)
    cube = compute_cube(aligned, n_boot=n_boot, seed=seed)
    # Seeds are drawn from a stream of their own, so adding seeds to a study leaves the
    # problem resamples (and with one seed per cell, every result) unchanged.
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED]))
    weights: dict[tuple[int, ...], np.ndarray] = {}
    for c in cells.values():
        if c.runs in weights:
            continue
        k = len(c.runs)
        weights[c.runs] = (
            resample_counts(k, n_boot, rng) if resample_seeds else np.ones((n_boot, k))
        )
    return CellCube(cube, cells, resample_seeds, list(aligned.warnings), weights)


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
) -> Verdict:
    """The mean of per-cell differences `parts` ((label, (1 + B,) array, why undefined)),
    over those defined at the point estimate; the others are named in `cells`."""
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
    est = summarize(float(d[0]), reps, ci, ci_cause=_RATIO_CAUSE if ratio else None)
    return Verdict(key, finding, paper, sign, est, bootstrap_p(reps), share, cells, family)


def _xs_text(cc: CellCube, arms: Sequence[str], xs: Sequence[int]) -> str:
    if not xs:
        return "no common X"
    counts = {(a, x): len(cc.cell(a, x).seeds) for a in arms for x in xs}
    if len(set(counts.values())) == 1:
        per = f"{next(iter(counts.values()))} seed(s) per cell"
    else:
        per = "seeds: " + ", ".join(f"{a} X={x}: {k}" for (a, x), k in counts.items())
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
    return family + detail


def adjust(verdicts: list[Verdict], alpha: float = ALPHA) -> list[Verdict]:
    """Holm-adjust the family's p-values and give every row its verdict (in place)."""
    members = [v for v in verdicts if v.family]
    for v, p in zip(members, holm([v.p for v in members]), strict=True):
        v.p_holm = p
    for v in verdicts:
        v.verdict = _judge(v, alpha)
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

    def table(self) -> list[dict[str, Any]]:
        return [v.row() for v in self.rows]

    def meta(self) -> dict[str, Any]:
        return {
            "scheme": "paired bootstrap over problems (one cube over every run involved), "
            "seeds resampled within each (arm, X) cell; Holm-Bonferroni over the family",
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
        ready, n_boot=n_boot, seed=seed, benchmark=benchmark, resample_seeds=resample_seeds
    )
    rows = adjust(findings(cc, roles, ci=ci, mti_gain=mti_gain), alpha)
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
    )


# --------------------------------------------------------------------------- output


def write_verdicts_csv(vs: VerdictSet, path: Path) -> Path:
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
        + f". p: two-sided bootstrap p-value; p_holm: Holm-Bonferroni over the "
        f"{sum(v.family for v in vs.rows)} findings above the detail rows. A verdict other "
        f"than inconclusive needs the CI to exclude 0 and p_holm ≤ {vs.alpha:g}; detail rows "
        "use the CI alone. X counts the languages added to English (the reports count "
        "training languages, X + 1). MTI differences are undefined in replicates whose "
        "training-language gain is ≤ 0: their share is given, and the CI uses the rest.",
        "",
    ]
    keys = ("finding", "paper", "ours", "p", "p_holm", "verdict", "cells")
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
    "COLUMNS",
    "CellCube",
    "Roles",
    "StudyRun",
    "Verdict",
    "VerdictSet",
    "adjust",
    "bootstrap_p",
    "build_cell_cube",
    "compute_verdicts",
    "findings",
    "holm",
    "verdicts_markdown",
    "write_verdicts_csv",
]
