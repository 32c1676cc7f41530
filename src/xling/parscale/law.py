r"""The parallel scaling law of ParScale and its fit.

    L(N, P) = (A / (N · (k · ln P + 1)))^α + E

N counts non-embedding parameters (prefixes and aggregator included, so N grows a little
with P), P the parallel streams, ln the natural logarithm. P streams then act like
multiplying the parameters by (k · ln P + 1): the "P streams ≈ N · (k ln P + 1) parameters"
equivalence. The paper fits it by minimising a Huber loss (δ = 10⁻³) of the residuals of
ln L with L-BFGS from a grid of starting points; this module minimises the same objective
with scipy's `least_squares` (Huber loss) from a grid of starts, with A in parameter units.

Alternatives compared by leave-one-out error (each point predicted by a fit to the others):

- `power_p`: a power law in P, L = (A/N)^α · P^(−β) + E (P multiplies N by P^(β/α));
- `no_p`:    L = (A/N)^α + E, which ignores P.

Uncertainty: every constant is refitted on each bootstrap replicate of the losses, either
given (the study resamples its held-out batches, the same draw for every cell) or, for
published points without batches, a residual bootstrap around the fit.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from xling.analysis.bootstrap import Estimate, check_bootstrap_options, summarize
from xling.errors import XlingError
from xling.tables import csv_number, read_csv

HUBER_DELTA = 1e-3  # on ln L residuals, the paper's choice
LAW_FORMULA = "L = (A / (N·(k·ln P + 1)))^α + E"
MODELS = ("parscale", "power_p", "no_p")
CONSTANTS = ("A", "k", "alpha", "E")


@dataclass(frozen=True)
class Points:
    n: np.ndarray  # parameters
    p: np.ndarray  # parallel streams
    loss: np.ndarray

    def __post_init__(self) -> None:
        if not (len(self.n) == len(self.p) == len(self.loss)):
            raise XlingError("N, P and loss need the same length")
        n, p, loss = (np.asarray(v, dtype=float) for v in (self.n, self.p, self.loss))
        with np.errstate(invalid="ignore"):
            ok = (n > 0) & (p >= 1) & (p == np.round(p)) & (loss > 0)
        ok &= np.isfinite(n) & np.isfinite(p) & np.isfinite(loss)
        if not ok.all():
            i = int(np.argmin(ok))
            problem = _point_problem(float(n[i]), float(p[i]), float(loss[i]))
            raise XlingError(f"point {i + 1}: {problem}")

    def __len__(self) -> int:
        return len(self.n)


def _point_problem(n: float, p: float, loss: float) -> str | None:
    """What makes (N, P, loss) unusable for the law, or None."""
    if not (math.isfinite(n) and n > 0):
        return f"N={n:g}: the parameter count must be > 0"
    if not (math.isfinite(p) and p >= 1 and p == int(p)):
        return f"P={p:g}: P counts parallel streams, a whole number >= 1"
    if not (math.isfinite(loss) and loss > 0):
        return f"loss={loss:g}: the loss must be a finite number > 0"
    return None


def read_points_csv(path: str | Path) -> Points:
    """Columns N, P, loss (names case-insensitive; other columns are ignored)."""
    path = Path(path)
    header, table = read_csv(path)
    cols = {name.strip().lower(): name for name in header}
    if any(c not in cols for c in ("n", "p", "loss")):
        raise XlingError(f"{path}: needs columns N, P and loss (got {', '.join(header)})")
    rows = []
    for lineno, row in table:
        values = [
            csv_number(row.get(cols[key], "").strip(), f"{path}:{lineno}", cols[key])
            for key in ("n", "p", "loss")
        ]
        problem = _point_problem(*values)
        if problem:
            raise XlingError(f"{path}:{lineno}: {problem}")
        rows.append(values)
    if not rows:
        raise XlingError(f"{path}: no data rows")
    n, p, loss = (np.array(col) for col in zip(*rows, strict=True))
    return Points(n, p, loss)


# --------------------------------------------------------------------------- models


def _terms(
    model: str, theta: np.ndarray, n: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """exp(u) (the reducible loss), ∂u/∂α and ∂u/∂shape for theta = (ln A, α, shape, E)."""
    log_a, alpha, shape, _ = theta
    base = log_a - np.log(n)
    log_p = np.log(p)
    if model == "parscale":
        mult = np.maximum(shape * log_p + 1.0, 1e-12)
        u = alpha * (base - np.log(mult))
        return np.exp(u), base - np.log(mult), -alpha * log_p / mult
    if model == "power_p":
        return np.exp(alpha * base - shape * log_p), base, -log_p
    if model == "no_p":
        return np.exp(alpha * base), base, np.zeros_like(base)
    raise XlingError(f"unknown law model {model!r}; known: {', '.join(MODELS)}")


def predict(model: str, theta: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Loss under `model` with internal parameters theta = (ln A, α, shape, E), where shape
    is k (parscale), β (power_p) or unused (no_p)."""
    return _terms(model, theta, n, p)[0] + theta[3]


def _bounds(model: str, pts: Points) -> tuple[list[float], list[float]]:
    lmin = float(pts.loss.min())
    # k may be negative (P hurting) as long as the multiplier stays positive at the largest P.
    k_low = -0.95 / math.log(max(float(pts.p.max()), 2.0))
    shape_low = {"parscale": k_low, "power_p": -2.0, "no_p": -1e-9}[model]
    shape_high = {"parscale": 50.0, "power_p": 2.0, "no_p": 1e-9}[model]
    return [-np.inf, 1e-4, shape_low, 0.0], [np.inf, 5.0, shape_high, lmin * (1 - 1e-9)]


def _starts(model: str, pts: Points) -> list[np.ndarray]:
    lmin = float(pts.loss.min())
    log_n_mid = float(np.mean(np.log(pts.n)))
    base = pts.loss[pts.p == pts.p.min()]
    level = float(np.mean(base if len(base) else pts.loss))
    # Few, spread-out starts: on the paper's points and on our grids every start converges to
    # the same optimum, and each costs ~80 evaluations.
    shapes = {"parscale": (0.1, 0.8), "power_p": (0.01, 0.1), "no_p": (0.0,)}
    starts = []
    for alpha in (0.1, 0.4):
        for e_frac in (0.0, 0.7):
            e = e_frac * lmin
            log_a = log_n_mid + math.log(max(level - e, 1e-6)) / alpha
            for shape in shapes[model]:
                starts.append(np.array([log_a, alpha, shape, e]))
    return starts


def _solve(
    model: str, pts: Points, starts: list[np.ndarray], delta: float = HUBER_DELTA
) -> tuple[np.ndarray, float]:
    lo, hi = _bounds(model, pts)
    log_obs = np.log(pts.loss)

    def residuals(theta: np.ndarray) -> np.ndarray:
        return np.log(np.maximum(predict(model, theta, pts.n, pts.p), 1e-300)) - log_obs

    def jacobian(theta: np.ndarray) -> np.ndarray:
        reducible, du_alpha, du_shape = _terms(model, theta, pts.n, pts.p)
        pred = np.maximum(reducible + theta[3], 1e-300)
        cols = (
            reducible * theta[1],
            reducible * du_alpha,
            reducible * du_shape,
            np.ones_like(pred),
        )
        return np.stack(cols, axis=1) / pred[:, None]

    def run(x0: np.ndarray, budget: int) -> Any:
        x0 = np.clip(x0, [a + 1e-12 for a in lo], [b - 1e-12 for b in hi])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                res = least_squares(
                    residuals,
                    x0,
                    jac=jacobian,
                    bounds=(lo, hi),
                    loss="huber",
                    f_scale=delta,
                    x_scale="jac",
                    xtol=1e-12,
                    ftol=1e-12,
                    gtol=1e-12,
                    max_nfev=budget,
                )
            except (ValueError, np.linalg.LinAlgError):
                return None
        return res if np.all(np.isfinite(res.x)) else None

    # Screen every start briefly, then finish the best two: on well-posed points every
    # start converges to one optimum in < 150 evaluations, and on flat, ill-posed ones (a
    # toy grid early in training) full runs from every start would crawl for nothing.
    screened = [r for r in (run(s, 60 if len(starts) > 2 else 150) for s in starts) if r]
    screened.sort(key=lambda r: r.cost)
    finals = [r if r.status > 0 or len(starts) <= 2 else run(r.x, 300) for r in screened[:2]]
    finals = [r for r in finals if r is not None]
    if not finals:
        raise XlingError(f"the {model} law could not be fitted to these points")
    best = min(finals, key=lambda r: r.cost)
    return best.x, float(best.cost)


def fit_model(
    model: str, pts: Points, warm: np.ndarray | None = None, *, grid: bool | None = None
) -> np.ndarray:
    """Internal parameters of the best fit from `warm` (a nearby solution) and/or a grid of
    starts. By default the grid is used only without `warm`: refitting a bootstrap replicate
    or a leave-one-out subset from the full fit is fast and lands on the same optimum."""
    use_grid = warm is None if grid is None else grid
    starts = ([warm] if warm is not None else []) + (_starts(model, pts) if use_grid else [])
    try:
        return _solve(model, pts, starts)[0]
    except XlingError:
        if use_grid:
            raise
        return _solve(model, pts, _starts(model, pts))[0]


def constants(theta: np.ndarray) -> dict[str, float]:
    log_a, alpha, k, e = (float(v) for v in theta)
    # A degenerate fit (α → 0) can push ln A beyond what a float holds: A is then undefined.
    a = math.exp(log_a) if log_a < 700 else math.inf
    return {"A": a, "k": k, "alpha": alpha, "E": e}


def theta_of(a: float, k: float, alpha: float, e: float) -> np.ndarray:
    return np.array([math.log(a), alpha, k, e])


# --------------------------------------------------------------------------- report


@dataclass
class ModelScore:
    model: str
    n_params: int
    rmse: float  # in-sample, loss units
    loo_rmse: float  # leave-one-out predictions, loss units
    loo_mape: float  # mean |relative error| of the leave-one-out predictions
    loo_errors: list[float] = field(default_factory=list)  # predicted − observed, per point


@dataclass
class LawFit:
    points: Points
    theta: np.ndarray
    estimates: dict[str, Estimate]  # A, k, alpha, E
    multipliers: dict[int, Estimate]  # P -> k ln P + 1
    r2: float
    rmse: float
    scores: list[ModelScore]
    ci: float
    n_boot: int
    ci_method: str
    replicate_thetas: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def best_model(self) -> str | None:
        return min(self.scores, key=lambda s: s.loo_rmse).model if self.scores else None

    def predict(self, n: np.ndarray, p: np.ndarray) -> np.ndarray:
        return predict("parscale", self.theta, np.asarray(n, float), np.asarray(p, float))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, est in self.estimates.items():
            out[name] = est.value
        out["ci_level"] = self.ci
        out["ci"] = {name: [est.lo, est.hi] for name, est in self.estimates.items()}
        out["law"] = LAW_FORMULA
        out["n_points"] = len(self.points)
        out["r2"] = self.r2
        out["rmse"] = self.rmse
        out["equivalent_parameter_multiplier"] = {
            str(p): {"value": e.value, "ci": [e.lo, e.hi]} for p, e in self.multipliers.items()
        }
        out["leave_one_out"] = {  # empty when fitted without the comparison
            s.model: {
                "n_params": s.n_params,
                "rmse": s.rmse,
                "loo_rmse": s.loo_rmse,
                "loo_mape": s.loo_mape,
            }
            for s in self.scores
        }
        out["best_by_loo"] = self.best_model
        out["bootstrap"] = {"n_boot": self.n_boot, "method": self.ci_method}
        out["warnings"] = list(self.warnings)
        return out


def _loo(model: str, pts: Points, warm: np.ndarray) -> list[float]:
    errors = []
    for i in range(len(pts)):
        keep = np.arange(len(pts)) != i
        sub = Points(pts.n[keep], pts.p[keep], pts.loss[keep])
        theta = fit_model(model, sub, warm=warm)
        errors.append(
            float(predict(model, theta, pts.n[i : i + 1], pts.p[i : i + 1])[0] - pts.loss[i])
        )
    return errors


def _residual_replicates(
    pts: Points, theta: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    fitted = predict("parscale", theta, pts.n, pts.p)
    resid = np.log(pts.loss) - np.log(fitted)
    resid = resid * math.sqrt(len(pts) / max(len(pts) - 4, 1))  # degrees-of-freedom inflation
    draws = rng.choice(resid, size=(n_boot, len(pts)), replace=True)
    return fitted * np.exp(draws)


def fit_law(
    pts: Points,
    *,
    replicates: np.ndarray | None = None,
    n_boot: int = 500,
    seed: int = 0,
    ci: float = 0.95,
    loo: bool = True,
    multiplier_ps: tuple[int, ...] = (2, 4, 8),
    start: np.ndarray | None = None,
    grid: bool = True,
) -> LawFit:
    """Fit the law, its bootstrap CIs and (with `loo`) the leave-one-out comparison.

    `replicates` (n_boot × points) are resampled losses; without them a residual bootstrap
    of `n_boot` draws is used (0 = no CIs). `start`: internal parameters of a related fit
    to start from as well as (`grid`) or instead of the grid of starts (e.g. one language's
    points from the fit to all languages)."""
    check_bootstrap_options(n_boot=n_boot, seed=seed, ci=ci)
    if len(pts) < 5:
        raise XlingError(f"the law has 4 constants: need at least 5 points, got {len(pts)}")
    notes = []
    if len(np.unique(pts.p)) < 2:
        notes.append("only one value of P: k is not identified")
    if len(np.unique(pts.n)) < 2:
        notes.append("only one value of N: A and α are not identified")
    theta = fit_model("parscale", pts, warm=start, grid=grid or start is None)
    fitted = predict("parscale", theta, pts.n, pts.p)
    ss_res = float(((pts.loss - fitted) ** 2).sum())
    ss_tot = float(((pts.loss - pts.loss.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    rmse = math.sqrt(ss_res / len(pts))

    method = "none"
    reps_theta = None
    if replicates is not None:
        replicates = np.asarray(replicates, float)
        method = "given loss replicates (held-out batches resampled, paired across points)"
    elif n_boot > 0:
        replicates = _residual_replicates(pts, theta, n_boot, np.random.default_rng(seed))
        method = "residual bootstrap on ln L around the fit"
    if replicates is not None:
        thetas = []
        for row in replicates:
            try:
                thetas.append(fit_model("parscale", Points(pts.n, pts.p, row), warm=theta))
            except XlingError:
                thetas.append(np.full(4, np.nan))
        reps_theta = np.array(thetas)

    point = constants(theta)
    estimates = {}
    for j, name in enumerate(("A", "alpha", "k", "E")):
        reps = None
        if reps_theta is not None:
            if name == "A":
                with np.errstate(over="ignore"):
                    reps = np.exp(reps_theta[:, 0])
            else:
                reps = reps_theta[:, j]
        estimates[name] = summarize(point[name], reps, ci)
    estimates = {name: estimates[name] for name in CONSTANTS}
    multipliers = {}
    for p in multiplier_ps:
        value = point["k"] * math.log(p) + 1.0
        reps = None if reps_theta is None else reps_theta[:, 2] * math.log(p) + 1.0
        multipliers[p] = summarize(value, reps, ci)

    scores = []
    if loo:
        for model in MODELS:
            model_theta = theta if model == "parscale" else fit_model(model, pts)
            pred = predict(model, model_theta, pts.n, pts.p)
            errors = _loo(model, pts, model_theta)
            scores.append(
                ModelScore(
                    model=model,
                    n_params=3 if model == "no_p" else 4,
                    rmse=math.sqrt(float(((pred - pts.loss) ** 2).mean())),
                    loo_rmse=math.sqrt(float(np.mean(np.square(errors)))),
                    loo_mape=float(np.mean(np.abs(errors) / pts.loss)),
                    loo_errors=errors,
                )
            )
    return LawFit(
        points=pts,
        theta=theta,
        estimates=estimates,
        multipliers=multipliers,
        r2=r2,
        rmse=rmse,
        scores=scores,
        ci=ci,
        n_boot=0 if replicates is None else len(replicates),
        ci_method=method,
        replicate_thetas=reps_theta,
        warnings=notes,
    )
