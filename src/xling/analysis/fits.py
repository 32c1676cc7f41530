r"""Parallel scaling-law fits, the First-Parallel Leap and the Monolingual Generalization Gap.

Yang et al. 2025 (arXiv 2510.02272), parallel-training study (Section 4): models are trained
on English plus 0..7 parallel languages (the same problems translated into es, ru, de, fr,
bn, th, zh) and a metric (MTI, accuracy) is fitted with a power law over the number of
training languages,

    f(X) = α · X^β        (transferability: 2.00·X^0.29; accuracy: 56.98·X^0.02)

**Definition of X used here** (`--x num-train-langs`, the default): the number of languages
in the training data, English included. Monolingual English training is X = 1, English plus
one parallel language X = 2, …, English plus all seven X = 8. This is the reading under
which the paper's own numbers agree: the accuracy law evaluated at the monolingual point
gives α = 56.98 (the "predicted ≈ 56.98 vs actual ≈ 54.24" of the gap), which needs
X_mono = 1, and the MTI law at X = 2 gives 2.00·2^0.29 ≈ 2.45, matching the measured ≈ 2.50
with one parallel language. `--x num-parallel-langs` counts only the languages added to
English (monolingual X = 0); a power law is 0 there, so the gap is undefined in that mode.
(The paper's text for X could not be retrieved while this was written; the definition is
inferred from the reported numbers as explained.)

Fits (all on the points *without* the monolingual run unless include_mono is set, because
the paper's law is fitted over the parallel settings and the gap is measured against it):

- log-log least squares: log y = log α + β log X (needs y > 0);
- nonlinear least squares on y directly (scipy.optimize.curve_fit), started from log-log;
- saturating alternative f(X) = a − c·X^(−b), compared with the power law by leave-one-out
  error over the fitted points and by the error predicting the largest X from the rest, so
  a power law can be told from a plateau.

First-Parallel Leap: L = v(X_mono + 1) − v(X_mono), the jump from monolingual training to one
parallel language; reported absolutely and as a ratio to the average later step
(v(X_max) − v(X_mono + 1)) / (X_max − X_mono − 1), the mean change per added language after
the first. v(X) is the mean over runs at that X.

Monolingual Generalization Gap: G = f̂(X_mono) − v(X_mono), where f̂ is the power law fitted
without the monolingual point (paper: 56.98 − 54.24 ≈ 2.74 accuracy points). G > 0 means
monolingual training falls short of what the parallel law predicts.

Uncertainty: every quantity is recomputed on each bootstrap replicate of the points (paired
problem resampling for runs; for CSV input, normal draws from the given lo/hi, taken as 95%
intervals, or a residual bootstrap when none are given) and reported as percentile CIs.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import OptimizeWarning, curve_fit, minimize_scalar
from scipy.stats import norm

from xling.analysis.bootstrap import Estimate, check_bootstrap_options, percentile_ci, summarize
from xling.errors import XlingError
from xling.tables import csv_number, read_csv

MONO_X = {"num-train-langs": 1.0, "num-parallel-langs": 0.0}


def power_law(x, alpha, beta):
    return alpha * np.power(x, beta)


def saturating(x, a, c, b):
    return a - c * np.power(x, -b)


# --------------------------------------------------------------------------- basic fits


def fit_loglog(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares in log-log space, vectorized over leading axes of y (..., n).

    Returns (alpha, beta) arrays; NaN where some y ≤ 0 or X has < 2 distinct values.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    lx = np.log(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.log(np.where(y > 0, y, np.nan))
    dx = lx - lx.mean()
    sxx = (dx**2).sum()
    if not sxx > 0:
        nan = np.full(y.shape[:-1], np.nan)
        return nan, nan.copy()
    beta = (ly * dx).sum(axis=-1) / sxx
    alpha = np.exp(ly.mean(axis=-1) - beta * lx.mean())
    return alpha, beta


def r_squared(y: np.ndarray, yhat: np.ndarray) -> float:
    ss_res = float(((y - yhat) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    if ss_tot <= 0:
        return 1.0 if ss_res <= 1e-24 else float("nan")
    return 1.0 - ss_res / ss_tot


def fit_power_nls(
    x: np.ndarray, y: np.ndarray, sigma: np.ndarray | None = None
) -> tuple[float, float] | None:
    """Nonlinear least squares y ≈ α·X^β; None if it does not converge."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if len(np.unique(x)) < 2:
        return None
    a0, b0 = fit_loglog(x, y)
    if not (np.isfinite(a0) and np.isfinite(b0)):
        a0, b0 = max(abs(float(np.mean(y))), 1e-6), 0.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            p, _ = curve_fit(power_law, x, y, p0=(float(a0), float(b0)), sigma=sigma, maxfev=4000)
    except (RuntimeError, ValueError):
        return None
    if not np.all(np.isfinite(p)):
        return None
    return float(p[0]), float(p[1])


def _sat_linear(x: np.ndarray, y: np.ndarray, b: float) -> tuple[float, float, float]:
    """For fixed b, a − c·X^(−b) is linear in (a, c): closed-form least squares."""
    design = np.column_stack([np.ones_like(x), -np.power(x, -b)])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    sse = float(((design @ coef - y) ** 2).sum())
    return float(coef[0]), float(coef[1]), sse


def fit_saturating(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float] | None:
    """Least squares y ≈ a − c·X^(−b), b in [0.01, 20]; None if X has < 3 distinct values.

    (a, c) are solved in closed form for each b (variable projection), and b is found by a
    grid search refined with scipy's bounded scalar minimizer: robust and fast even when the
    data are nearly flat or nearly a power law (b → 0).
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if len(np.unique(x)) < 3:
        return None
    grid = np.geomspace(0.01, 20.0, 80)
    sse = [_sat_linear(x, y, b)[2] for b in grid]
    k = int(np.argmin(sse))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    res = minimize_scalar(
        lambda b: _sat_linear(x, y, b)[2],
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-6},
    )
    b = float(res.x) if res.success and res.fun <= sse[k] else float(grid[k])
    a, c, _ = _sat_linear(x, y, b)
    if not all(map(math.isfinite, (a, c, b))):
        return None
    return a, c, b


# --------------------------------------------------------------------------- model comparison


@dataclass
class ModelFit:
    model: str  # "power (nonlinear LS)" | "power (log-log LS)" | "saturating"
    formula: str
    params: dict[str, float] | None
    r2: float | None
    loo_rmse: float | None  # leave-one-out RMSE over the fitted points
    extrap_error: float | None  # prediction − value at the largest X, fitted without it
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _predictor(model: str):
    if model == "saturating":

        def fit(x, y):
            p = fit_saturating(x, y)
            return None if p is None else (lambda t, p=p: saturating(t, *p))
    elif model == "loglog":

        def fit(x, y):
            a, b = fit_loglog(x, y)
            ok = np.isfinite(a) and np.isfinite(b)
            return (lambda t, a=float(a), b=float(b): power_law(t, a, b)) if ok else None
    else:

        def fit(x, y):
            p = fit_power_nls(x, y)
            return None if p is None else (lambda t, p=p: power_law(t, *p))

    return fit


def _held_out(
    x: np.ndarray, y: np.ndarray, model: str, min_points: int
) -> tuple[float | None, float | None, str | None]:
    fit = _predictor(model)
    ux = np.unique(x)
    loo = None
    if len(ux) > min_points:
        errs = []
        for xv in ux:  # leave out every point at one X value
            keep = x != xv
            f = fit(x[keep], y[keep])
            if f is None:
                errs = None
                break
            errs.extend((f(x[~keep]) - y[~keep]).tolist())
        if errs:
            loo = float(np.sqrt(np.mean(np.square(errs))))
    extrap = None
    if len(ux) > min_points:
        keep = x != ux.max()
        f = fit(x[keep], y[keep])
        if f is not None:
            extrap = float(np.mean(f(x[~keep])) - np.mean(y[~keep]))
    reason = (
        None if loo is not None else (f"held-out error needs ≥ {min_points + 1} distinct X values")
    )
    return loo, extrap, reason


def compare_models(x: np.ndarray, y: np.ndarray) -> tuple[list[ModelFit], str | None, str]:
    """Power law (NLS, log-log) vs saturating; returns fits, the better model, and why."""
    out = []
    p = fit_power_nls(x, y)
    loo, ext, _why = _held_out(x, y, "power", 2)
    out.append(
        ModelFit(
            "power (nonlinear LS)",
            "α·X^β",
            None if p is None else {"alpha": p[0], "beta": p[1]},
            None if p is None else r_squared(y, power_law(x, *p)),
            loo,
            ext,
            None
            if p is not None
            else "did not converge"
            if len(np.unique(x)) > 1
            else "needs ≥ 2 distinct X values",
        )
    )
    a, b = fit_loglog(x, y)
    ok = bool(np.isfinite(a) and np.isfinite(b))
    loo_l, ext_l, _ = _held_out(x, y, "loglog", 2) if ok else (None, None, None)
    out.append(
        ModelFit(
            "power (log-log LS)",
            "α·X^β",
            {"alpha": float(a), "beta": float(b)} if ok else None,
            r_squared(y, power_law(x, a, b)) if ok else None,
            loo_l,
            ext_l,
            None if ok else "needs all values > 0 and ≥ 2 distinct X values",
        )
    )
    s = fit_saturating(x, y)
    loo_s, ext_s, why_s = _held_out(x, y, "saturating", 3)
    out.append(
        ModelFit(
            "saturating",
            "a − c·X^(−b)",
            None if s is None else {"a": s[0], "c": s[1], "b": s[2]},
            None if s is None else r_squared(y, saturating(x, *s)),
            loo_s,
            ext_s,
            why_s if s is not None else "needs ≥ 3 distinct X values to fit",
        )
    )
    if loo is None or loo_s is None:
        return (
            out,
            ("power" if loo is not None else None),
            (
                "saturating model " + (why_s or "failed")
                if loo is not None
                else "too few points for a held-out comparison"
            ),
        )
    better = "power" if loo <= loo_s else "saturating"
    return out, better, (f"leave-one-out RMSE {loo:.4g} (power) vs {loo_s:.4g} (saturating)")


# --------------------------------------------------------------------------- full analysis


@dataclass
class FitReport:
    metric: str
    unit: str
    x_kind: str
    mono_x: float | None
    x: list[float]
    y: list[float]
    y_lo: list[float | None]
    y_hi: list[float | None]
    labels: list[str]
    fit_x: list[float]  # the X values the main fit used
    include_mono: bool
    alpha: Estimate
    beta: Estimate
    r2: Estimate
    alpha_loglog: Estimate
    beta_loglog: Estimate
    models: list[ModelFit]
    better: str | None
    better_reason: str
    leap: Estimate
    leap_ratio: Estimate
    avg_later_step: Estimate
    gap: Estimate
    gap_predicted: Estimate
    gap_measured: Estimate
    ci: float
    n_boot: int
    seed: int
    ci_method: str
    band: dict[str, list[float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for k, v in self.__dict__.items():
            if isinstance(v, Estimate):
                out[k] = v.to_dict()
            elif k == "models":
                out[k] = [m.to_dict() for m in v]
            else:
                out[k] = v
        return out

    def summary_rows(self) -> list[dict[str, Any]]:
        rows = []
        for key in (
            "alpha",
            "beta",
            "r2",
            "alpha_loglog",
            "beta_loglog",
            "leap",
            "leap_ratio",
            "avg_later_step",
            "gap",
            "gap_predicted",
            "gap_measured",
        ):
            e: Estimate = getattr(self, key)
            rows.append(
                {
                    "metric": self.metric,
                    "quantity": key,
                    "value": e.value,
                    "lo": e.lo,
                    "hi": e.hi,
                    "note": e.reason or e.note or "",
                }
            )
        return rows


def _means_by_x(x: np.ndarray, y: np.ndarray) -> dict[float, np.ndarray]:
    """x: (n,), y: (..., n) -> {x value: mean over points at that x, shape (...)}"""
    return {float(v): y[..., x == v].mean(axis=-1) for v in np.unique(x)}


def _fit_reps(fx: np.ndarray, fy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NLS power fits for every replicate row of fy (B, n)."""
    B = fy.shape[0]
    alpha = np.full(B, np.nan)
    beta = np.full(B, np.nan)
    for i in range(B):
        p = fit_power_nls(fx, fy[i])
        if p is not None:
            alpha[i], beta[i] = p
    return alpha, beta


MIN_FIT_X = 3
_NO_CONVERGENCE = "the fit did not converge"


@dataclass
class _Points:
    """What `analyze` measures on: values y at X, their bootstrap replicates and the
    monolingual X."""

    x: np.ndarray
    y: np.ndarray
    reps: np.ndarray | None  # (B, n) replicates of y; None without a bootstrap
    mono_x: float | None

    @property
    def has_mono(self) -> bool:
        return self.mono_x is not None and bool(np.any(self.x == self.mono_x))

    @cached_property
    def means(self) -> dict[float, np.ndarray]:
        """Mean value at each X: [0] over the points, [1:] over each replicate."""
        values = self.y[None, :] if self.reps is None else np.vstack([self.y[None, :], self.reps])
        return _means_by_x(self.x, values)

    def estimate(self, values: np.ndarray, ci: float, **kwargs: Any) -> Estimate:
        """values[0] computed on the points, values[1:] on each replicate."""
        return summarize(values[0], None if self.reps is None else values[1:], ci, **kwargs)


@dataclass(frozen=True)
class _PowerLaw:
    """α·X^β fitted to the points and refitted to each replicate (None without replicates)."""

    alpha: float
    beta: float
    rep_alpha: np.ndarray | None
    rep_beta: np.ndarray | None

    def values_at(self, x: float) -> np.ndarray:
        """The law at x: [0] as fitted to the points, [1:] as refitted to each replicate."""
        replicated = [] if self.rep_alpha is None else self.rep_alpha * x**self.rep_beta
        return np.concatenate([[self.alpha * x**self.beta], replicated])


@dataclass(frozen=True)
class _LawEstimates:
    """The power law with its CIs, and its log-log twin's parameters."""

    law: _PowerLaw
    alpha: Estimate
    beta: Estimate
    r2: Estimate
    alpha_loglog: Estimate
    beta_loglog: Estimate


@dataclass(frozen=True)
class _Leap:
    """The First-Parallel Leap, its ratio to the average later step, and that step."""

    leap: Estimate
    ratio: Estimate
    avg_later_step: Estimate

    @classmethod
    def undefined(cls, reason: str) -> _Leap:
        later = Estimate(None, reason=reason)
        return cls(Estimate(None, reason=reason), later, later)


@dataclass(frozen=True)
class _Gap:
    """The Monolingual Generalization Gap: the law's prediction minus the measured value."""

    gap: Estimate
    predicted: Estimate
    measured: Estimate

    @classmethod
    def undefined(cls, reason: str) -> _Gap:
        e = Estimate(None, reason=reason)
        return cls(e, e, e)


def _checked_points(
    x: ArrayLike, y: ArrayLike, x_kind: str, mono_x: float | None
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """x and y as float arrays and the monolingual X (from x_kind unless given); refuses
    values that no power law can be fitted to."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) == 0 or y.shape != x.shape:
        raise XlingError("need one value per X")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise XlingError("every X and value must be a finite number")
    if mono_x is None:
        mono_x = MONO_X.get(x_kind)
    if np.any((x < 0) | ((x == 0) & (x != mono_x))):
        raise XlingError(
            "X must be > 0 for a power law (count X as the number of training "
            "languages: monolingual = 1)"
        )
    return x, y, mono_x


def _law_points(
    x: np.ndarray, mono_x: float | None, include_mono: bool
) -> tuple[np.ndarray, list[str]]:
    """Mask of the points the law is fitted to, and warnings about points left out.

    The monolingual point is left out unless include_mono: the gap measures it against the
    law of the parallel settings. X ≤ 0 is always left out, where α·X^β is 0 or undefined.
    """
    warn: list[str] = []
    has_mono = mono_x is not None and bool(np.any(x == mono_x))
    fit_mask = np.ones(len(x), dtype=bool) if (include_mono or not has_mono) else (x != mono_x)
    if np.any(x[fit_mask] <= 0):
        fit_mask &= x > 0
        warn.append("points with X ≤ 0 left out of the power-law fit")
    if len(np.unique(x[fit_mask])) < MIN_FIT_X:
        # Two points fix α and β exactly: such a "law" has no residual to judge it by.
        raise XlingError(
            f"a power-law fit needs ≥ {MIN_FIT_X} distinct X values (with a defined value) "
            f"besides the monolingual point; got X = {', '.join(f'{v:g}' for v in np.unique(x))}"
        )
    return fit_mask, warn


def _fit_laws(fx: np.ndarray, fy: np.ndarray) -> tuple[list[ModelFit], str | None, str]:
    """The power law and its alternatives fitted to the law's points (`compare_models`);
    refuses points that the power law itself cannot be fitted to."""
    models, better, why = compare_models(fx, fy)
    if models[0].params is None:
        raise XlingError(f"the power-law fit failed: {models[0].reason}")
    return models, better, why


def _replicates(reps: ArrayLike | None) -> np.ndarray | None:
    """reps as a (B, n) float array; None when there are none."""
    if reps is not None and len(reps):
        return np.asarray(reps, dtype=float)
    return None


def _replicate_r2(
    fx: np.ndarray, rep_fy: np.ndarray, alpha: np.ndarray, beta: np.ndarray
) -> np.ndarray:
    """R² of every replicate's refitted law; NaN where a replicate's values are all equal."""
    with np.errstate(invalid="ignore", over="ignore"):
        pred = alpha[:, None] * np.power(fx[None, :], beta[:, None])
    ss_res = ((rep_fy - pred) ** 2).sum(axis=1)
    ss_tot = ((rep_fy - rep_fy.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.nan)


def _bootstrap_power_law(
    pts: _Points, fit_mask: np.ndarray, power: ModelFit, ci: float
) -> _LawEstimates:
    """α, β and R² of the nonlinear power-law fit `power` and α, β of the log-log fit, each
    with a percentile CI from refitting the law to every replicate of the law's points."""
    fx, fy = pts.x[fit_mask], pts.y[fit_mask]
    ra = rb = rr2 = la = lb = None
    if pts.reps is not None:
        rep_fy = pts.reps[:, fit_mask]
        ra, rb = _fit_reps(fx, rep_fy)
        rr2 = _replicate_r2(fx, rep_fy, ra, rb)
        la, lb = fit_loglog(fx, rep_fy)
    pa, pb = fit_loglog(fx, fy)
    loglog_reason = None if np.isfinite(pa) else "log-log fit needs every value > 0"
    a_pt, b_pt, r2_pt = power.params["alpha"], power.params["beta"], power.r2
    return _LawEstimates(
        law=_PowerLaw(a_pt, b_pt, ra, rb),
        alpha=summarize(a_pt, ra, ci, ci_cause=_NO_CONVERGENCE),
        beta=summarize(b_pt, rb, ci, ci_cause=_NO_CONVERGENCE),
        r2=summarize(
            r2_pt if r2_pt is not None else float("nan"),
            rr2,
            ci,
            undefined=None
            if r2_pt is not None and math.isfinite(r2_pt)
            else "all fitted values are equal",
            ci_cause="values are all equal",
        ),
        alpha_loglog=summarize(float(pa), la, ci, undefined=loglog_reason, ci_cause="a value ≤ 0"),
        beta_loglog=summarize(float(pb), lb, ci, undefined=loglog_reason, ci_cause="a value ≤ 0"),
    )


def _no_mono_reason(mono_x: float | None) -> str:
    if mono_x is None:
        return "the monolingual X is unknown"
    return f"no monolingual point (X = {mono_x:g}) among the inputs"


def _first_parallel_leap(pts: _Points, ci: float) -> _Leap:
    """v(X_mono + 1) − v(X_mono), the average later step and the leap's ratio to it."""
    if not pts.has_mono:
        return _Leap.undefined(_no_mono_reason(pts.mono_x))
    means, mono_x = pts.means, pts.mono_x
    first = mono_x + 1
    if first not in means:
        return _Leap.undefined(f"no point with one parallel language (X = {first:g})")
    lv = means[first] - means[mono_x]
    leap = pts.estimate(lv, ci)
    later = [v for v in means if v > first]
    if not later:
        step = Estimate(
            None, reason=f"no point beyond X = {first:g} to define the average later step"
        )
        return _Leap(leap, step, step)
    last = max(later)
    sv = (means[last] - means[first]) / (last - first)
    step = pts.estimate(sv, ci)
    with np.errstate(divide="ignore", invalid="ignore"):
        rv = np.where(sv > 0, lv / sv, np.nan)
    ratio = pts.estimate(
        rv,
        ci,
        undefined=None
        if sv[0] > 0
        else f"the average later step is {sv[0]:+.3g} (≤ 0): the ratio is undefined",
        ci_cause="the average later step is ≤ 0",
    )
    return _Leap(leap, ratio, step)


def _law_without_mono(
    pts: _Points, mask: np.ndarray, law: _PowerLaw, include_mono: bool
) -> _PowerLaw:
    """The law the gap is measured against, fitted to the points in `mask` (neither the
    monolingual point nor X ≤ 0): `law` itself unless that included the monolingual point."""
    if not include_mono:
        return law
    p = fit_power_nls(pts.x[mask], pts.y[mask])
    alpha, beta = (np.nan, np.nan) if p is None else p
    ra, rb = (None, None) if pts.reps is None else _fit_reps(pts.x[mask], pts.reps[:, mask])
    return _PowerLaw(alpha, beta, ra, rb)


def _monolingual_gap(pts: _Points, law: _PowerLaw, include_mono: bool, ci: float) -> _Gap:
    """f̂(X_mono) − v(X_mono): the law of the parallel settings at the monolingual X minus
    the value measured there."""
    if not pts.has_mono:
        return _Gap.undefined(_no_mono_reason(pts.mono_x))
    mono_x = pts.mono_x
    if mono_x <= 0:
        return _Gap.undefined(
            "a power law α·X^β is 0 at X = 0, so it cannot predict the monolingual "
            "point in num-parallel-langs mode; use --x num-train-langs (monolingual "
            "X = 1)"
        )
    parallel = (pts.x != mono_x) & (pts.x > 0)
    if len(np.unique(pts.x[parallel])) < 2:
        return _Gap.undefined("the gap needs ≥ 2 distinct X values besides the monolingual point")
    predicted = _law_without_mono(pts, parallel, law, include_mono).values_at(mono_x)
    measured = pts.means[mono_x]
    return _Gap(
        gap=pts.estimate(predicted - measured, ci, ci_cause=_NO_CONVERGENCE),
        predicted=pts.estimate(predicted, ci, ci_cause=_NO_CONVERGENCE),
        measured=pts.estimate(measured, ci),
    )


def _law_band(
    pts: _Points,
    fx: np.ndarray,
    law: _PowerLaw,
    saturating_params: dict[str, float] | None,
    ci: float,
) -> dict[str, list[float]]:
    """The fitted law on a grid from the monolingual X to the largest X (for plots), with
    its bootstrap CI band and the saturating alternative where they exist."""
    mono_x = pts.mono_x
    lo_x = min(float(fx.min()), mono_x if (mono_x and mono_x > 0) else float(fx.min()))
    grid = np.linspace(lo_x, float(pts.x.max()), 60)
    band: dict[str, list[float]] = {
        "x": grid.tolist(),
        "fit": power_law(grid, law.alpha, law.beta).tolist(),
    }
    if law.rep_alpha is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            curves = law.rep_alpha[:, None] * np.power(grid[None, :], law.rep_beta[:, None])
        blo, bhi = percentile_ci(curves, ci)
        band["lo"], band["hi"] = blo.tolist(), bhi.tolist()
    if saturating_params:
        sat = saturating_params
        band["saturating"] = saturating(grid, sat["a"], sat["c"], sat["b"]).tolist()
    return band


def _point_intervals(
    pts: _Points, ci: float, y_lo: ArrayLike | None, y_hi: ArrayLike | None
) -> tuple[list[float | None], list[float | None]]:
    """Each point's interval: as given, else the percentile CI of its replicates, else None."""
    if pts.reps is not None and y_lo is None:
        plo, phi = percentile_ci(pts.reps, ci)
        y_lo = [float(v) for v in plo]
        y_hi = [float(v) for v in phi]
    n = len(pts.x)
    return (
        list(y_lo) if y_lo is not None else [None] * n,
        list(y_hi) if y_hi is not None else [None] * n,
    )


def analyze(
    x,
    y,
    reps: np.ndarray | None = None,
    *,
    metric: str = "value",
    unit: str = "",
    x_kind: str = "num-train-langs",
    mono_x: float | None = None,
    include_mono: bool = False,
    ci: float = 0.95,
    n_boot: int = 0,
    seed: int = 0,
    ci_method: str = "none",
    labels=None,
    y_lo=None,
    y_hi=None,
) -> FitReport:
    """Fit, compare, leap and gap for points (x, y); reps: (B, n) bootstrap replicates of y.

    The report's n_boot counts the replicates given; the `n_boot` argument is not used.
    """
    x, y, mono_x = _checked_points(x, y, x_kind, mono_x)
    fit_mask, warn = _law_points(x, mono_x, include_mono)
    fx = x[fit_mask]
    models, better, why = _fit_laws(fx, y[fit_mask])
    pts = _Points(x, y, _replicates(reps), mono_x)
    law = _bootstrap_power_law(pts, fit_mask, models[0], ci)
    leap = _first_parallel_leap(pts, ci)
    gap = _monolingual_gap(pts, law.law, include_mono, ci)
    band = _law_band(pts, fx, law.law, models[2].params, ci)
    y_lo, y_hi = _point_intervals(pts, ci, y_lo, y_hi)
    return FitReport(
        metric=metric,
        unit=unit,
        x_kind=x_kind,
        mono_x=mono_x,
        x=x.tolist(),
        y=y.tolist(),
        y_lo=y_lo,
        y_hi=y_hi,
        labels=list(labels) if labels is not None else [f"X={v:g}" for v in x],
        fit_x=fx.tolist(),
        include_mono=include_mono,
        alpha=law.alpha,
        beta=law.beta,
        r2=law.r2,
        alpha_loglog=law.alpha_loglog,
        beta_loglog=law.beta_loglog,
        models=models,
        better=better,
        better_reason=why,
        leap=leap.leap,
        leap_ratio=leap.ratio,
        avg_later_step=leap.avg_later_step,
        gap=gap.gap,
        gap_predicted=gap.predicted,
        gap_measured=gap.measured,
        ci=ci,
        n_boot=0 if pts.reps is None else len(pts.reps),
        seed=seed,
        ci_method=ci_method,
        band=band,
        warnings=warn,
    )


# --------------------------------------------------------------------------- CSV input


@dataclass
class CsvPoints:
    x: np.ndarray
    y: np.ndarray
    lo: np.ndarray | None
    hi: np.ndarray | None
    labels: list[str]


def read_points_csv(path: str | Path) -> CsvPoints:
    """Columns X, value[, lo, hi][, label] (case-insensitive; `y` is accepted for value)."""
    path = Path(path)
    header, rows = read_csv(path)
    cols = {name.strip().lower(): name for name in header}
    xcol = cols.get("x")
    ycol = cols.get("value") or cols.get("y")
    if xcol is None or ycol is None:
        raise XlingError(f"{path}: needs columns X and value (got {', '.join(header)})")
    locol, hicol, labcol = cols.get("lo"), cols.get("hi"), cols.get("label")
    xs, ys, los, his, labels = [], [], [], [], []
    for lineno, row in rows:

        def num(col, required=True, row=row, lineno=lineno):
            raw = row.get(col, "").strip() if col else ""
            if not raw:
                if required:
                    raise XlingError(f"{path}:{lineno}: missing {col}")
                return None
            return csv_number(raw, f"{path}:{lineno}", col)

        xs.append(num(xcol))
        if xs[-1] < 0:
            raise XlingError(f"{path}:{lineno}: {xcol}={xs[-1]:g} (X counts languages: >= 0)")
        ys.append(num(ycol))
        lo, hi = num(locol, False), num(hicol, False)
        if (lo is None) != (hi is None):
            raise XlingError(f"{path}:{lineno}: give both lo and hi, or neither")
        if lo is not None and not lo <= ys[-1] <= hi:
            raise XlingError(f"{path}:{lineno}: need lo ≤ value ≤ hi")
        los.append(lo)
        his.append(hi)
        labels.append(row.get(labcol, "").strip() if labcol else f"X={xs[-1]:g}")
    if not xs:
        raise XlingError(f"{path}: no data rows")
    have = [v is not None for v in los]
    if any(have) and not all(have):
        raise XlingError(f"{path}: lo/hi given for some rows only; give them for all or none")
    return CsvPoints(
        np.array(xs),
        np.array(ys),
        np.array(los, float) if all(have) else None,
        np.array(his, float) if all(have) else None,
        labels,
    )


def csv_replicates(
    pts: CsvPoints, n_boot: int, seed: int, mono_x: float | None, ci_in: float = 0.95
) -> tuple[np.ndarray | None, str]:
    """Bootstrap replicates for CSV points: parametric from lo/hi, else residual."""
    rng = np.random.default_rng(seed)
    if n_boot <= 0:
        return None, "none"
    if pts.lo is not None:
        z = norm.ppf(1 - (1 - ci_in) / 2)
        sd = (pts.hi - pts.lo) / (2 * z)
        return pts.y + rng.standard_normal((n_boot, len(pts.y))) * sd, (
            "parametric: normal draws with sd = (hi − lo)/(2·1.96)"
        )
    fit_mask = (
        pts.x != mono_x
        if mono_x is not None and np.any(pts.x == mono_x)
        else np.ones(len(pts.x), bool)
    )
    fx, fy = pts.x[fit_mask], pts.y[fit_mask]
    p = fit_power_nls(fx, fy)
    if p is None or len(fx) < 3:
        return None, "none (residual bootstrap needs ≥ 3 fitted points)"
    resid = fy - power_law(fx, *p)
    resid = resid * math.sqrt(len(fx) / max(len(fx) - 2, 1))  # degrees-of-freedom inflation
    draws = rng.choice(resid, size=(n_boot, len(pts.x)), replace=True)
    base = np.where(fit_mask, power_law(pts.x, *p), pts.y)
    return base + draws, "residual bootstrap around the power-law fit"


def fit_csv(
    path: str | Path,
    *,
    metric: str | None = None,
    unit: str = "",
    x_kind: str = "num-train-langs",
    mono_x: float | None = None,
    include_mono: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
) -> FitReport:
    check_bootstrap_options(n_boot=n_boot, seed=seed, ci=ci)
    if mono_x is not None and not math.isfinite(mono_x):
        raise XlingError(f"--mono-x must be a finite number, got {mono_x}")
    pts = read_points_csv(path)
    if mono_x is None:
        mono_x = MONO_X.get(x_kind)
    reps, method = csv_replicates(pts, n_boot, seed, mono_x)
    return analyze(
        pts.x,
        pts.y,
        reps,
        metric=metric or Path(path).stem,
        unit=unit,
        x_kind=x_kind,
        mono_x=mono_x,
        include_mono=include_mono,
        ci=ci,
        n_boot=n_boot,
        seed=seed,
        ci_method=method,
        labels=pts.labels,
        y_lo=None if pts.lo is None else pts.lo.tolist(),
        y_hi=None if pts.hi is None else pts.hi.tolist(),
    )
