r"""Transfer metrics: per-language gains and the Multilingual Transferability Index (MTI).

Multilingual Transferability Index (Yang et al. 2025, arXiv 2510.02272, "Parallel Scaling
Law: Unveiling Reasoning Generalization through A Cross-Linguistic Perspective"; introduced
with the evaluation metrics of the observational study, Section 2, and used for every
comparison in Sections 3-4).

    Notation. A_base(l), A_RPT(l): accuracy of the model before / after reinforcement
    post-training on language l. S: the training (seen) languages that were evaluated
    (English only for monolingual training; English plus the parallel languages for the
    parallel-training study). U: the evaluated languages not in S (unseen targets).

    Relative gain           Δ(l)   = (A_RPT(l) − A_base(l)) / A_base(l)
    Training-language gain  Δ_S    = (1/|S|) · Σ_{s∈S} Δ(s)
    Per-target MTI          MTI(l) = Δ(l) / Δ_S
    Aggregate MTI           MTI    = (1/|U|) · Σ_{l∈U} MTI(l)  =  mean_{l∈U} Δ(l) / Δ_S

MTI > 1: unseen languages gained more, relative to where they started, than the training
languages did; MTI < 1: transfer falls short of the training-language gain; MTI < 0: the
unseen languages got worse. Per-language accuracy is macro-averaged over benchmarks (equal
weight per benchmark, as `overall` in metrics.json) before the gains are taken.

Provenance (read before citing numbers): the formula above is reconstructed from the paper's
description of MTI ("the relative gain in reasoning accuracy for unseen languages compared to
the training set", MTI > 1 = better relative transfer) and its reported values (base models
≈ 1.95 vs instruct ≈ 1.23; English-only training ≈ 1.16 vs one parallel language ≈ 2.50).
The paper's equation text could not be retrieved while this was written, so the exact
equation number and details such as whether the gain is relative (default here) or absolute
are unverified; `mti_gain="absolute"` (CLI `--mti-gain absolute`) computes the absolute
variant Δ(l) = A_RPT(l) − A_base(l) for comparison.

Beside it, every comparison reports (issue 21, part 4):

    mti_fixed_unseen  the same ratio, the numerator averaged over a fixed unseen set that the
                      caller gives (a study: the languages that no run trains on), so the set
                      does not shrink as the number of training languages X grows;
    mti_abs           the ratio of absolute gains A_trained − A_base (accuracy points);
    mti_checks        per variant, the share of bootstrap resamples with Δ_S ≤ 0 (which the
                      percentile CI drops) and the Fieller interval of the ratio from the
                      resamples' (co)variances of numerator and Δ_S (which keeps them, and
                      is unbounded when Δ_S is not distinguishable from 0).

Undefined cases are reported as such, with the reason, never as inf/NaN: Δ(l) needs
A_base(l) > 0; MTI needs Δ_S > 0 (a ratio against a zero or negative training-language gain
does not measure transfer); the aggregate needs at least one seen and one unseen language.
An unseen language whose Δ(l) is undefined is left out of the aggregate and named in a note.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xling.analysis.bootstrap import (
    Cube,
    Estimate,
    FiellerInterval,
    check_bootstrap_options,
    compute_cube,
    fieller_from_replicates,
    summarize,
)
from xling.analysis.rundata import align, lang_name, lang_order, load_run
from xling.errors import XlingError
from xling.languages import parse_langs

GAIN_KINDS = ("relative", "absolute")
MTI_FORMULA = (
    "MTI = mean_{l∈unseen} Δ(l) / Δ_S,  Δ(l) = (A_trained(l) − A_base(l)) / A_base(l),  "
    "Δ_S = mean_{s∈seen} Δ(s)"
)


# --------------------------------------------------------------------------- array level


def _rate(values: np.ndarray, reps: Any, ci: float, missing: str) -> Estimate:
    """Point value (row 0) and bootstrap replicates of an off-target statistic, undefined
    with `missing` as the reason when the point value is not a number."""
    return summarize(
        values[0], values[reps], ci, undefined=None if np.isfinite(values[0]) else missing
    )


def gains(base: np.ndarray, trained: np.ndarray, kind: str = "relative") -> np.ndarray:
    """Δ per language (last axis); NaN where undefined (relative gain with base ≤ 0)."""
    if kind not in GAIN_KINDS:
        raise XlingError(f"unknown gain kind {kind!r}; use one of {', '.join(GAIN_KINDS)}")
    diff = trained - base
    if kind == "absolute":
        return diff
    with np.errstate(divide="ignore", invalid="ignore"):
        out = diff / base
    return np.where(base > 0, out, np.nan)


def mti_arrays(
    base: np.ndarray,
    trained: np.ndarray,
    seen: np.ndarray,
    kind: str = "relative",
    use: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Vectorized MTI. base, trained: (..., L) accuracies; seen: bool (L,).

    use: bool (L,) of unseen languages that enter the aggregate (default: all unseen).
    Returns gain (..., L), gain_seen (...) (the denominator Δ_S), gain_unseen (...) (the
    numerator, mean Δ over `use`), mti_lang (..., L), mti (...); NaN = undefined.
    """
    return mti_from_gains(gains(base, trained, kind), seen, use)


def mti_from_gains(
    g: np.ndarray, seen: np.ndarray, use: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """`mti_arrays` from per-language gains Δ (..., L) already computed (e.g. averaged over
    independently pretrained models, each against its own base)."""
    seen = np.asarray(seen, dtype=bool)
    unseen = ~seen if use is None else np.asarray(use, dtype=bool)
    nan = np.full(g.shape[:-1], np.nan)
    g_seen = g[..., seen].mean(axis=-1) if seen.any() else nan
    ok = g_seen > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        mti_lang = np.where(ok[..., None], g / g_seen[..., None], np.nan)
        mean_u = g[..., unseen].mean(axis=-1) if unseen.any() else nan
        mti = np.where(ok, mean_u / g_seen, np.nan)
    return {
        "gain": g,
        "gain_seen": g_seen,
        "gain_unseen": mean_u,
        "mti_lang": mti_lang,
        "mti": mti,
    }


# --------------------------------------------------------------------------- results


# The per-language estimates of a LangRow, in the order tables and JSON list them.
ESTIMATE_FIELDS = (
    "base_acc",
    "trained_acc",
    "gain",
    "rel_gain",
    "base_off",
    "trained_off",
    "off_change",
    "mti",
    "gain_off",
    "drift_share",
)
_UNSPLIT = "this cube does not split answers by language (no correct-and-off-target counts)"
_DRIFT_CAUSE = "the accuracy gain is <= 0"


@dataclass
class LangRow:
    lang: str
    name: str
    seen: bool
    base_acc: Estimate
    trained_acc: Estimate
    gain: Estimate  # absolute accuracy gain (fraction; ×100 = percentage points)
    rel_gain: Estimate  # relative gain Δ(l)
    base_off: Estimate
    trained_off: Estimate
    off_change: Estimate  # off-target rate change (fraction)
    mti: Estimate  # per-target MTI(l)
    # The part of `gain` made of correct answers written off-target (e.g. English drift),
    # and its share of the gain (undefined unless the gain is > 0): transfer that arrives
    # as answers in another language is not the in-language skill the study asks about.
    gain_off: Estimate = field(default_factory=lambda: Estimate(None, reason=_UNSPLIT))
    drift_share: Estimate = field(default_factory=lambda: Estimate(None, reason=_UNSPLIT))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lang": self.lang, "name": self.name, "seen": self.seen}
        for key in ESTIMATE_FIELDS:
            out[key] = getattr(self, key).to_dict()
        return out


@dataclass
class GroupRow:
    group: str  # "seen" | "unseen" | "all"
    langs: list[str]
    base_acc: Estimate
    trained_acc: Estimate
    gain: Estimate
    rel_gain: Estimate
    off_change: Estimate
    gain_off: Estimate = field(default_factory=lambda: Estimate(None, reason=_UNSPLIT))
    drift_share: Estimate = field(default_factory=lambda: Estimate(None, reason=_UNSPLIT))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group": self.group, "langs": self.langs}
        for key in GROUP_FIELDS:
            out[key] = getattr(self, key).to_dict()
        return out


GROUP_FIELDS = (
    "base_acc",
    "trained_acc",
    "gain",
    "rel_gain",
    "off_change",
    "gain_off",
    "drift_share",
)


# A gain is a mean of 0/1 differences: where they cancel, float sums leave ~1e-17, not a
# gain, and a share over it comes out near 1e16 (seen in organism v3's runs.csv).
_NO_GAIN = 1e-9


def _drift_split(gain: np.ndarray, gain_off: np.ndarray, ci: float) -> tuple[Estimate, Estimate]:
    """(gain from correct off-target answers, its share of the gain), each with CIs; the
    share is undefined where the gain is <= 0. gain, gain_off: (1 + B,)."""
    positive = gain > _NO_GAIN
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(positive, gain_off / gain, np.nan)
    reason = None if positive[0] else f"the accuracy gain is {gain[0]:+.3f} (<= 0)"
    return (
        summarize(gain_off[0], gain_off[1:], ci),
        summarize(share[0], share[1:], ci, undefined=reason, ci_cause=_DRIFT_CAUSE),
    )


@dataclass(frozen=True)
class RatioCheck:
    """How far one MTI's bootstrap can be trusted as a ratio.

    denominator_le0_share: share of bootstrap resamples whose training-language gain Δ_S is
    ≤ 0 (None without resamples or without an evaluated training language). The percentile
    CI drops those resamples (their ratio is undefined); a large share means the interval
    describes only the resamples in which training helped at all.
    fieller: Fieller set of numerator / Δ_S from the same resamples, which keeps them.
    """

    denominator_le0_share: float | None
    fieller: FiellerInterval

    def to_dict(self) -> dict[str, Any]:
        return {
            "denominator_le0_share": self.denominator_le0_share,
            "fieller": self.fieller.to_dict(),
        }


# The MTI variants of a CompareResult, in the order tables list them.
MTI_VARIANTS = ("mti", "mti_fixed_unseen", "mti_abs")


def _not_computed() -> Estimate:
    return Estimate(None, reason="not computed")


@dataclass
class CompareResult:
    base: str
    trained: str
    train_langs: list[str]
    seen: list[str]  # training languages that were evaluated
    unseen: list[str]
    benchmark: str
    n_problems: dict[str, int]
    n_boot: int
    seed: int
    ci: float
    mti_gain: str
    rows: list[LangRow]
    groups: dict[str, GroupRow]
    mti: Estimate
    warnings: list[str] = field(default_factory=list)
    # The same ratio over a caller-given unseen set that does not depend on this run (in a
    # study: the languages no run trains on), so it does not shrink as X grows.
    mti_fixed_unseen: Estimate = field(default_factory=_not_computed)
    fixed_unseen: list[str] | None = None
    # The ratio of absolute gains (accuracy points), whatever `mti_gain` is.
    mti_abs: Estimate = field(default_factory=_not_computed)
    # Per MTI variant (MTI_VARIANTS): denominator ≤ 0 share and Fieller interval.
    mti_checks: dict[str, RatioCheck] = field(default_factory=dict)

    def row(self, lang: str) -> LangRow:
        for r in self.rows:
            if r.lang == lang:
                return r
        raise KeyError(lang)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "trained": self.trained,
            "train_langs": self.train_langs,
            "seen": self.seen,
            "unseen": self.unseen,
            "benchmark": self.benchmark,
            "n_problems": self.n_problems,
            "n_boot": self.n_boot,
            "seed": self.seed,
            "ci": self.ci,
            "mti_gain": self.mti_gain,
            "mti_formula": MTI_FORMULA,
            "mti": self.mti.to_dict(),
            "mti_fixed_unseen": self.mti_fixed_unseen.to_dict(),
            "fixed_unseen": self.fixed_unseen,
            "mti_abs": self.mti_abs.to_dict(),
            "mti_checks": {k: c.to_dict() for k, c in self.mti_checks.items()},
            "groups": {k: g.to_dict() for k, g in self.groups.items()},
            "languages": [r.to_dict() for r in self.rows],
            "warnings": self.warnings,
        }

    def table(self) -> list[dict[str, Any]]:
        """Flat rows (one per language, plus group rows) for CSV."""
        out = []

        def cols(prefix: str, e: Estimate) -> dict[str, Any]:
            return {
                prefix: e.value,
                f"{prefix}_lo": e.lo,
                f"{prefix}_hi": e.hi,
                f"{prefix}_note": e.reason or "",
            }

        for r in self.rows:
            row: dict[str, Any] = {
                "base_run": self.base,
                "trained_run": self.trained,
                "lang": r.lang,
                "language": r.name,
                "seen": int(r.seen),
            }
            for key in ESTIMATE_FIELDS:
                row.update(cols(key, getattr(r, key)))
            out.append(row)
        for g in self.groups.values():
            row = {
                "base_run": self.base,
                "trained_run": self.trained,
                "lang": g.group,
                "language": f"mean of {g.group} ({len(g.langs)})",
                "seen": "",
            }
            for key in GROUP_FIELDS:
                row.update(cols(key, getattr(g, key)))
            row.update(cols("mti", self.mti if g.group == "unseen" else Estimate(None, reason="")))
            out.append(row)
        return out


# --------------------------------------------------------------------------- computation


def _mean_over(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if not mask.any():
        return np.full(a.shape[:-1], np.nan)
    return a[..., mask].mean(axis=-1)


def _nanmean_over(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if not mask.any():
        return np.full(a.shape[:-1], np.nan)
    sub = a[..., mask]
    ok = np.isfinite(sub)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok.any(axis=-1), np.where(ok, sub, 0).sum(-1) / ok.sum(-1), np.nan)


_CI_CAUSE = "the training-language gain is ≤ 0 or a base accuracy is 0"


def _seen_reason(
    acc_b0: np.ndarray,
    g_seen_point: float,
    seen: np.ndarray,
    langs: list[str],
    train_langs: list[str],
    kind: str,
) -> str | None:
    """Why the training-language gain Δ_S (the MTI denominator) rules out an MTI, or None."""
    if not seen.any():
        return (
            f"none of the training languages ({', '.join(train_langs)}) was "
            "evaluated, so there is no training-language gain to compare with"
        )
    if not np.isfinite(g_seen_point):
        zero = [langs[i] for i in range(len(langs)) if seen[i] and not acc_b0[i] > 0]
        return (
            f"base accuracy is 0 in training language(s) {', '.join(zero)}: the "
            "training-language relative gain is undefined"
        )
    if g_seen_point <= 0:
        return (
            f"training-language {kind} gain is {g_seen_point:+.3f} (≤ 0): "
            "MTI is a ratio against it and is undefined"
        )
    return None


def _aggregate_mti(
    acc_b: np.ndarray,
    acc_t: np.ndarray,
    seen: np.ndarray,
    unseen: np.ndarray,
    kind: str,
    *,
    langs: list[str],
    train_langs: list[str],
    ci: float,
    no_unseen: str,
) -> tuple[Estimate, RatioCheck]:
    """Aggregate MTI = mean Δ over `unseen` / Δ_S with its percentile CI, and the checks
    on its denominator. acc_b, acc_t: (1 + B, L); `no_unseen`: the reason when `unseen` is
    empty. Unseen languages whose Δ is undefined are left out and named in the note."""
    g_point = gains(acc_b[0], acc_t[0], kind)
    use = unseen & np.isfinite(g_point)
    excluded = [langs[i] for i in np.flatnonzero(unseen & ~np.isfinite(g_point))]
    m = mti_arrays(acc_b, acc_t, seen, kind, use=use)
    reason = _seen_reason(acc_b[0], float(m["gain_seen"][0]), seen, langs, train_langs, kind)
    if reason is None and not unseen.any():
        reason = no_unseen
    elif reason is None and not use.any():
        reason = "base accuracy is 0 in every unseen language: no relative gain is defined"
    note = None
    if excluded and not reason:
        note = f"leaves out {', '.join(excluded)} (base accuracy 0)"
    est = summarize(m["mti"][0], m["mti"][1:], ci, undefined=reason, ci_cause=_CI_CAUSE, note=note)
    den = m["gain_seen"][1:]
    share = float(np.mean(den <= 0)) if len(den) and seen.any() else None
    fieller = fieller_from_replicates(m["gain_unseen"], m["gain_seen"], ci, undefined=reason)
    return est, RatioCheck(share, fieller)


def compare_from_cube(
    cube: Cube,
    base_idx: int,
    trained_idx: int,
    train_langs,
    *,
    ci: float = 0.95,
    mti_gain: str = "relative",
    benchmark: str = "all",
    warnings: list[str] | None = None,
    fixed_unseen: Sequence[str] | None = None,
) -> CompareResult:
    """Gains and MTI of run `trained_idx` against run `base_idx` of a bootstrap cube.

    train_langs: codes as a list, or one comma-separated string ("en" or "en,es").
    fixed_unseen: the unseen set of `mti_fixed_unseen` (in a study, the languages that no
    run trains on); None leaves that estimate undefined."""
    train_langs = list(parse_langs(train_langs))
    langs = cube.langs
    L = len(langs)
    seen = np.array([lang in train_langs for lang in langs], dtype=bool)
    warnings = list(warnings or [])
    not_evaluated = [t for t in train_langs if t not in langs]
    if not_evaluated:
        warnings.append(f"training language(s) not evaluated: {', '.join(not_evaluated)}")

    acc_b, acc_t = cube.acc[:, base_idx], cube.acc[:, trained_idx]
    off_b, off_t = cube.off[:, base_idx], cube.off[:, trained_idx]
    g_abs = acc_t - acc_b
    g_rel = gains(acc_b, acc_t, "relative")
    off_ch = off_t - off_b
    split = cube.acc_off is not None
    g_off = cube.acc_off[:, trained_idx] - cube.acc_off[:, base_idx] if split else None

    g_point = gains(acc_b[0], acc_t[0], mti_gain)
    use = ~seen & np.isfinite(g_point)
    excluded = [langs[i] for i in range(L) if not seen[i] and not np.isfinite(g_point[i])]
    m = mti_arrays(acc_b, acc_t, seen, mti_gain, use=use)
    reps = slice(1, None)
    seen_reason = _seen_reason(
        acc_b[0], float(m["gain_seen"][0]), seen, langs, train_langs, mti_gain
    )
    ci_cause = _CI_CAUSE

    rows = []
    for i, lang in enumerate(langs):
        base_zero = not acc_b[0, i] > 0
        rel_reason = "base accuracy is 0, so the relative gain is undefined" if base_zero else None
        lang_reason = None
        if mti_gain == "relative" and base_zero:
            lang_reason = rel_reason
        elif seen_reason:
            lang_reason = seen_reason
        rows.append(
            LangRow(
                lang=lang,
                name=lang_name(lang),
                seen=bool(seen[i]),
                base_acc=summarize(acc_b[0, i], acc_b[reps, i], ci),
                trained_acc=summarize(acc_t[0, i], acc_t[reps, i], ci),
                gain=summarize(g_abs[0, i], g_abs[reps, i], ci),
                rel_gain=summarize(
                    g_rel[0, i],
                    g_rel[reps, i],
                    ci,
                    undefined=rel_reason,
                    ci_cause="base accuracy is 0",
                ),
                base_off=_rate(off_b[:, i], reps, ci, "no response with an identifiable language"),
                trained_off=_rate(
                    off_t[:, i], reps, ci, "no response with an identifiable language"
                ),
                off_change=_rate(
                    off_ch[:, i], reps, ci, "off-target rate unavailable in one of the runs"
                ),
                mti=summarize(
                    m["mti_lang"][0, i],
                    m["mti_lang"][reps, i],
                    ci,
                    undefined=lang_reason,
                    ci_cause=ci_cause,
                ),
                **(
                    dict(
                        zip(
                            ("gain_off", "drift_share"),
                            _drift_split(g_abs[:, i], g_off[:, i], ci),
                            strict=True,
                        )
                    )
                    if g_off is not None
                    else {}
                ),
            )
        )

    groups = {}
    for name, mask in (("seen", seen), ("unseen", ~seen), ("all", np.ones(L, dtype=bool))):
        if not mask.any():
            continue
        rel = _mean_over(g_rel, mask if name != "unseen" else use)
        rel_reason = None
        if not np.isfinite(rel[0]):
            rel_reason = "base accuracy is 0 in: " + ", ".join(
                langs[i] for i in range(L) if mask[i] and not acc_b[0, i] > 0
            )
        note = None
        if name == "unseen" and excluded:
            note = f"relative gain leaves out {', '.join(excluded)} (base accuracy 0)"
        gsum = _mean_over(g_abs, mask)
        offm = _nanmean_over(off_ch, mask)
        groups[name] = GroupRow(
            group=name,
            langs=[langs[i] for i in range(L) if mask[i]],
            base_acc=summarize(_mean_over(acc_b, mask)[0], _mean_over(acc_b, mask)[reps], ci),
            trained_acc=summarize(_mean_over(acc_t, mask)[0], _mean_over(acc_t, mask)[reps], ci),
            gain=summarize(gsum[0], gsum[reps], ci),
            rel_gain=summarize(
                rel[0],
                rel[reps],
                ci,
                undefined=rel_reason,
                ci_cause="a base accuracy is 0",
                note=note,
            ),
            off_change=summarize(
                offm[0],
                offm[reps],
                ci,
                undefined=None if np.isfinite(offm[0]) else "off-target rate unavailable",
            ),
            **(
                dict(
                    zip(
                        ("gain_off", "drift_share"),
                        _drift_split(gsum, _mean_over(g_off, mask), ci),
                        strict=True,
                    )
                )
                if g_off is not None
                else {}
            ),
        )

    no_unseen = (
        "every evaluated language is a training language: there is no unseen "
        "language to measure transfer to"
    )

    def aggregate(unseen: np.ndarray, kind: str, why_empty: str) -> tuple[Estimate, RatioCheck]:
        return _aggregate_mti(
            acc_b,
            acc_t,
            seen,
            unseen,
            kind,
            langs=langs,
            train_langs=train_langs,
            ci=ci,
            no_unseen=why_empty,
        )

    mti, check = aggregate(~seen, mti_gain, no_unseen)
    checks = {"mti": check}
    mti_abs, checks["mti_abs"] = aggregate(~seen, "absolute", no_unseen)
    if fixed_unseen is None:
        fixed = None
    elif isinstance(fixed_unseen, str):
        fixed = list(parse_langs(fixed_unseen)) if fixed_unseen.strip() else []
    else:
        fixed = list(dict.fromkeys(fixed_unseen))
    if fixed is None:
        why = "no fixed unseen set given (a study uses the languages no run trains on)"
        mti_fixed = Estimate(None, reason=why)
        checks["mti_fixed_unseen"] = RatioCheck(None, FiellerInterval(reason=why))
    else:
        # A fixed language this run trains on is not unseen for it: it is left out.
        fixed_mask = np.array([lang in fixed for lang in langs], dtype=bool) & ~seen
        why_empty = (
            "the fixed unseen set is empty: every evaluated language is a training "
            "language of some run"
            if not fixed
            else f"no language of the fixed unseen set ({', '.join(fixed)}) is evaluated "
            "and untrained in this run"
        )
        mti_fixed, checks["mti_fixed_unseen"] = aggregate(fixed_mask, mti_gain, why_empty)
    return CompareResult(
        base=cube.run_names[base_idx],
        trained=cube.run_names[trained_idx],
        train_langs=train_langs,
        seen=[lang for lang, s in zip(langs, seen, strict=True) if s],
        unseen=[lang for lang, s in zip(langs, seen, strict=True) if not s],
        benchmark=benchmark,
        n_problems=cube.n_problems,
        n_boot=cube.n_boot,
        seed=cube.seed,
        ci=ci,
        mti_gain=mti_gain,
        rows=rows,
        groups=groups,
        mti=mti,
        warnings=warnings,
        mti_fixed_unseen=mti_fixed,
        fixed_unseen=fixed,
        mti_abs=mti_abs,
        mti_checks=checks,
    )


def resolve_train_langs(run, override) -> list[str]:
    if override:
        return list(parse_langs(override))
    if run.train_langs:
        return list(run.train_langs)
    raise XlingError(
        f"{run.path}: training languages unknown; pass --train-langs en,… or add a train.json "
        '({"train_langs": ["en", …]}) to the run directory'
    )


def check_compare_options(
    ci: float, mti_gain: str, *, n_boot: int | None = None, seed: int | None = None
) -> None:
    """Fail before any run is loaded when the CI level, the resample count, the seed or the
    MTI gain kind is off."""
    check_bootstrap_options(n_boot=n_boot, seed=seed, ci=ci)
    if mti_gain not in GAIN_KINDS:
        raise XlingError(f"--mti-gain must be one of {', '.join(GAIN_KINDS)}")


def compare(
    base_path: str | Path,
    trained_path: str | Path,
    train_langs=None,
    *,
    benchmark: str = "all",
    n_boot: int = 10_000,
    seed: int = 0,
    ci: float = 0.95,
    mti_gain: str = "relative",
    langs=None,
) -> CompareResult:
    """Compare a trained run with its base run (paired bootstrap over problems)."""
    check_compare_options(ci, mti_gain, n_boot=n_boot, seed=seed)
    base = load_run(base_path)
    trained = load_run(trained_path)
    if base.name == trained.name:
        base.name, trained.name = f"{base.name} (base)", f"{trained.name} (trained)"
    seen = resolve_train_langs(trained, train_langs)
    lang_filter = list(parse_langs(langs)) if langs else None
    aligned = align([base, trained], benchmark=benchmark, langs=lang_filter)
    cube = compute_cube(aligned, n_boot=n_boot, seed=seed)
    # One trained run is a study of one: its fixed unseen set is its own unseen set.
    return compare_from_cube(
        cube,
        0,
        1,
        seen,
        ci=ci,
        mti_gain=mti_gain,
        benchmark=benchmark,
        warnings=aligned.warnings,
        fixed_unseen=[lang for lang in cube.langs if lang not in seen],
    )


def dump_json(data: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )


__all__ = [
    "GAIN_KINDS",
    "MTI_FORMULA",
    "MTI_VARIANTS",
    "CompareResult",
    "GroupRow",
    "LangRow",
    "RatioCheck",
    "check_compare_options",
    "compare",
    "compare_from_cube",
    "dump_json",
    "gains",
    "lang_order",
    "mti_arrays",
    "mti_from_gains",
]
