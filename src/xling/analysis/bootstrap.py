"""Paired, vectorized bootstrap over problems.

One resample draws n problem ids with replacement *per benchmark* and applies the same draw
to every run and every language: problem ids are parallel (the same id is the same problem
in every language and every run), so gains, MTI and fits see the correlation between base
and trained runs and between languages instead of treating them as independent samples.

A resample is stored as a count vector w (how often each problem was drawn), so a
resampled mean over problems is a matrix product: (B × n) @ (n × cells). 10 000 resamples of
500 problems × 11 languages × 2 runs is one 10 000 × 500 × 44 product (see bench/bootstrap.py).
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np

from xling.analysis.rundata import _F, Aligned
from xling.errors import XlingError

DEFAULT_SEED = 0
_CHUNK = 1000  # resamples drawn per block; fixed so results depend on the seed only


# --------------------------------------------------------------------------- estimates


@dataclass(frozen=True)
class Estimate:
    """A point value with its bootstrap CI; `value is None` means undefined (see `reason`).

    Never holds inf or NaN: anything not computable is None plus a human-readable reason.
    """

    value: float | None
    lo: float | None = None
    hi: float | None = None
    reason: str | None = None  # why the value (or only its CI) is undefined
    note: str | None = None  # a caveat that leaves the value defined

    @property
    def defined(self) -> bool:
        return self.value is not None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None or k == "value"}

    @classmethod
    def from_dict(cls, data: dict | None) -> Estimate:
        """The inverse of `to_dict` (a missing entry is undefined)."""
        if not data:
            return cls(None, reason="not reported")
        return cls(
            data.get("value"), data.get("lo"), data.get("hi"), data.get("reason"), data.get("note")
        )

    @classmethod
    def from_row(cls, row: dict[str, str], key: str, reason_key: str | None = None) -> Estimate:
        """`key`, `key_lo` and `key_hi` of a CSV row as written by the reports (an empty
        cell is None); the reason an undefined value has is read from `reason_key`."""

        def number(cell: str | None) -> float | None:
            try:
                value = float(cell) if cell not in (None, "", "None") else None
            except ValueError:
                return None
            return value if value is not None and math.isfinite(value) else None

        value = number(row.get(key))
        reason = (row.get(reason_key) or None) if reason_key else None
        if value is None:
            return cls(None, reason=reason or "undefined")
        return cls(value, number(row.get(f"{key}_lo")), number(row.get(f"{key}_hi")))

    def scaled(self, k: float) -> Estimate:
        def s(v: float | None) -> float | None:
            return None if v is None else v * k

        lo, hi = s(self.lo), s(self.hi)
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        return Estimate(s(self.value), lo, hi, self.reason, self.note)

    def fmt(
        self,
        digits: int = 2,
        scale: float = 1.0,
        sign: bool = False,
        ci: bool = True,
        unit: str = "",
    ) -> str:
        if self.value is None:
            return "undefined"
        text = fmt_num(self.value * scale, digits, sign) + unit
        if ci and self.lo is not None and self.hi is not None:
            lo, hi = fmt_num(self.lo * scale, digits), fmt_num(self.hi * scale, digits)
            text += f" [{lo}, {hi}]"
        return text


def fmt_num(v: float, digits: int = 2, sign: bool = False) -> str:
    """Fixed-point text without a negative zero ("-0.00")."""
    if abs(v) < 0.5 * 10**-digits:
        v = 0.0
    return f"{v:{'+' if sign else ''}.{digits}f}"


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def summarize(
    point: float,
    reps: np.ndarray | None,
    ci: float = 0.95,
    undefined: str | None = None,
    ci_cause: str | None = None,
    note: str | None = None,
) -> Estimate:
    """Point estimate + percentile CI from bootstrap replicates.

    `undefined` (or a non-finite point) makes the whole estimate undefined with that reason.
    Replicates that are undefined (NaN) are dropped while they are at most (1 - ci)/2 of all
    resamples; beyond that the interval would be unbounded (e.g. a ratio whose denominator's
    own CI reaches zero), so the CI is reported as undefined with `ci_cause`.
    """
    point = float(point) if point is not None else float("nan")
    if undefined or not math.isfinite(point):
        return Estimate(None, reason=undefined or "not computable", note=note)
    if reps is None or len(reps) == 0:
        return Estimate(point, note=note)
    reps = np.asarray(reps, dtype=float)
    ok = np.isfinite(reps)
    tail = (1.0 - ci) / 2.0
    bad = 1.0 - ok.mean()
    if bad > tail:
        cause = ci_cause or "the value is undefined"
        return Estimate(
            point,
            reason=f"CI unbounded: {cause} in {100 * bad:.1f}% of bootstrap resamples",
            note=note,
        )
    lo, hi = np.percentile(reps[ok], [100 * tail, 100 * (1 - tail)])
    if bad > 0:
        extra = f"{int((~ok).sum())} undefined resample(s) dropped"
        note = f"{note}; {extra}" if note else extra
    return Estimate(point, float(lo), float(hi), note=note)


@dataclass(frozen=True)
class FiellerInterval:
    """Fieller confidence set of a ratio θ = a / b; never holds inf or NaN.

    bounded:    [lo, hi]
    two rays:   (−∞, below] ∪ [above, ∞)   (lo = hi = None)
    one ray:    (−∞, below] or [above, ∞)  (only one of below / above set)
    whole line: everything None, `reason` says why
    undefined:  everything None, `reason` says why (e.g. no resamples)
    """

    lo: float | None = None
    hi: float | None = None
    below: float | None = None
    above: float | None = None
    reason: str | None = None  # why the set is unbounded or undefined
    note: str | None = None

    @property
    def bounded(self) -> bool:
        return self.lo is not None and self.hi is not None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def text(self, digits: int = 2) -> str:
        if self.lo is not None and self.hi is not None:
            return f"[{fmt_num(self.lo, digits)}, {fmt_num(self.hi, digits)}]"
        parts = []
        if self.below is not None:
            parts.append(f"(−∞, {fmt_num(self.below, digits)}]")
        if self.above is not None:
            parts.append(f"[{fmt_num(self.above, digits)}, ∞)")
        if parts:
            return " ∪ ".join(parts)
        return "(−∞, ∞)" if self.reason and self.reason.startswith("unbounded") else "n/a"


_UNBOUNDED = "unbounded: the denominator is not distinguishable from 0"


def fieller_interval(
    a: float, b: float, var_a: float, var_b: float, cov_ab: float, ci: float = 0.95
) -> FiellerInterval:
    """Fieller's confidence set for θ = a / b from the estimates a, b and their
    (co)variances: every θ with (a − θ·b)² ≤ z²·Var(a − θ·b), where
    Var(a − θ·b) = var_a − 2θ·cov_ab + θ²·var_b and z is the two-sided normal quantile of `ci`.

    Rearranged, the set is where q(θ) = qa·θ² − 2·qb·θ + qc ≤ 0 with
    qa = b² − z²·var_b,  qb = a·b − z²·cov_ab,  qc = a² − z²·var_a,  D = qb² − qa·qc:

    - qa > 0 (b is significantly away from 0): the bounded interval (qb ∓ √D) / qa;
    - qa < 0, D > 0: the two rays outside the roots (−∞, r₁] ∪ [r₂, ∞);
    - qa ≤ 0, D ≤ 0: the whole real line;
    - qa = 0: a single ray (the inequality is linear in θ).

    Unlike a percentile interval of the resampled ratio, nothing is dropped when the
    denominator's own interval reaches 0: the set simply becomes unbounded, and says so.
    """
    # Hand-written: scipy/statsmodels offer no Fieller interval from given moments (and
    # none from bootstrap replicates), only delta-method or percentile ratio intervals.
    z = NormalDist().inv_cdf(1.0 - (1.0 - ci) / 2.0)
    z2 = z * z
    qa = b * b - z2 * var_b
    qb = a * b - z2 * cov_ab
    qc = a * a - z2 * var_a
    disc = qb * qb - qa * qc
    if qa > 0:
        # θ = a/b satisfies q(θ) = −z²·Var ≤ 0, so D ≥ 0 up to rounding.
        root = math.sqrt(max(disc, 0.0))
        return FiellerInterval(lo=(qb - root) / qa, hi=(qb + root) / qa)
    if qa == 0:
        if qb == 0:
            return FiellerInterval(reason=_UNBOUNDED + " (the whole line)")
        # −2·qb·θ + qc ≤ 0: θ ≥ qc / (2·qb) when qb > 0, θ ≤ it when qb < 0.
        edge = qc / (2 * qb)
        single = _UNBOUNDED + " (a single ray)"
        if qb > 0:
            return FiellerInterval(above=edge, reason=single)
        return FiellerInterval(below=edge, reason=single)
    if disc <= 0:
        return FiellerInterval(reason=_UNBOUNDED + " (the whole line)")
    root = math.sqrt(disc)
    r1, r2 = sorted(((qb - root) / qa, (qb + root) / qa))
    return FiellerInterval(below=r1, above=r2, reason=_UNBOUNDED + " (two rays)")


def fieller_from_replicates(
    num: np.ndarray, den: np.ndarray, ci: float = 0.95, undefined: str | None = None
) -> FiellerInterval:
    """Fieller set of num/den from bootstrap rows: row 0 is the point estimate, rows 1..
    the resamples whose sample (co)variances stand in for Var(a), Var(b), Cov(a, b).

    Resamples where either part is undefined (NaN) are left out and counted in `note`.
    """
    if undefined:
        return FiellerInterval(reason=undefined)
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    a, b = float(num[0]), float(den[0])
    if not (math.isfinite(a) and math.isfinite(b)):
        return FiellerInterval(reason="the point estimate is not computable")
    ok = np.isfinite(num[1:]) & np.isfinite(den[1:])
    if ok.sum() < 2:
        return FiellerInterval(reason="fewer than 2 bootstrap resamples to estimate variances")
    cov = np.cov(num[1:][ok], den[1:][ok])
    out = fieller_interval(a, b, cov[0, 0], cov[1, 1], cov[0, 1], ci)
    dropped = int((~ok).sum())
    if dropped:
        note = f"{dropped} resample(s) with an undefined part left out of the variances"
        out = FiellerInterval(out.lo, out.hi, out.below, out.above, out.reason, note)
    return out


def percentile_ci(
    reps: np.ndarray, ci: float = 0.95, axis: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    tail = 100 * (1.0 - ci) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanpercentile(reps, [tail, 100 - tail], axis=axis)
    return lo, hi


# --------------------------------------------------------------------------- resampling


def check_bootstrap_options(
    *, n_boot: int | None = None, seed: int | None = None, ci: float | None = None
) -> None:
    """Refuse resample counts, seeds and CI levels no bootstrap can use (None: not checked),
    before any data is read: numpy would fail on them later with a traceback, or the CI
    would silently be empty."""
    if n_boot is not None and not (_whole(n_boot) and n_boot >= 0):
        raise XlingError(f"--n-boot must be a whole number >= 0, got {n_boot!r}")
    if seed is not None and not (_whole(seed) and seed >= 0):
        raise XlingError(f"--seed must be a whole number >= 0, got {seed!r}")
    if ci is not None and not (isinstance(ci, numbers.Real) and 0 < ci < 1):
        raise XlingError(f"--ci must lie strictly between 0 and 1, got {ci!r}")


def _whole(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def resample_counts(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) matrix: how many times each of n problems is drawn in each resample."""
    idx = rng.integers(0, n, size=(n_boot, n))
    idx += (np.arange(n_boot) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)


def _blocks(n_boot: int):
    done = 0
    while done < n_boot:
        b = min(_CHUNK, n_boot - done)
        yield b
        done += b


@dataclass
class Cube:
    """Per (run, language) statistics for the full data (index 0) and each resample (1..B).

    acc, off, fmt, noans: arrays (1 + B, R, L) of fractions in [0, 1]; NaN where a cell has
    nothing to average (e.g. no response with identifiable language for `off`). Languages are
    macro-averaged over benchmarks with equal weight (like `overall` in metrics.json).
    acc_off: the share of answers both correct and off-target (a part of acc).
    """

    langs: list[str]
    run_names: list[str]
    acc: np.ndarray
    off: np.ndarray
    fmt: np.ndarray
    noans: np.ndarray
    n_boot: int
    seed: int
    n_problems: dict[str, int]
    per_bench: dict[str, dict[str, np.ndarray]]  # point estimates only: bench -> field -> (R, L)
    bench_langs: dict[str, list[str]]
    acc_off: np.ndarray | None = None

    @property
    def point(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k)[0] for k in ("acc", "off", "fmt", "noans")}

    def field(self, name: str) -> np.ndarray:
        return getattr(self, name)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[den <= 0] = np.nan
    return out


def _bench_stats(arr, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Resampled per-(run, lang) statistics of one benchmark; weights (B, n).

    All weighted sums come from one matrix product W @ M, M = per-problem columns
    [present | correct | format | no-answer (per-problem means) | off-target | identified |
    correct and off-target (per-problem mean)].
    """
    sums = arr.sums
    n = sums[_F["n"]]
    shape = n.shape[:2]
    flat = shape[0] * shape[1]
    ok = n > 0
    safe_n = np.where(ok, n, 1.0)
    cols = [ok.astype(np.float64)]
    for name in ("correct", "fmt", "noans"):
        cols.append(np.where(ok, sums[_F[name]] / safe_n, 0.0))
    cols.append(sums[_F["off"]])
    cols.append(sums[_F["off_n"]])
    cols.append(np.where(ok, sums[_F["correct_off"]] / safe_n, 0.0))
    M = np.concatenate([c.reshape(flat, -1) for c in cols], axis=0).T  # (n, 6·R·L)
    S = weights @ M
    b = weights.shape[0]
    parts = S.reshape(b, len(cols), flat)
    den = parts[:, 0]
    out = {
        "acc": _ratio(parts[:, 1], den),
        "fmt": _ratio(parts[:, 2], den),
        "noans": _ratio(parts[:, 3], den),
        "off": _ratio(parts[:, 4], parts[:, 5]),
        "acc_off": _ratio(parts[:, 6], den),
    }
    return {k: v.reshape(b, *shape) for k, v in out.items()}


def compute_cube(aligned: Aligned, n_boot: int = 2000, seed: int = DEFAULT_SEED) -> Cube:
    """Full-data statistics plus `n_boot` paired resamples (same problem draw for every run
    and language of a benchmark; benchmarks resampled independently)."""
    check_bootstrap_options(n_boot=n_boot, seed=seed)
    langs = aligned.langs
    li = {lang: i for i, lang in enumerate(langs)}
    R = len(aligned.runs)
    rng = np.random.default_rng(seed)
    keys = ("acc", "off", "fmt", "noans", "acc_off")

    def combine(per_bench: dict[str, dict[str, np.ndarray]], b: int) -> dict[str, np.ndarray]:
        out = {}
        for key in keys:
            total = np.zeros((b, R, len(langs)))
            count = np.zeros((b, R, len(langs)))
            for bench, stats in per_bench.items():
                idx = [li[lang] for lang in aligned.benches[bench].langs]
                v = stats[key]
                ok = np.isfinite(v)
                total[:, :, idx] += np.where(ok, v, 0.0)
                count[:, :, idx] += ok
            out[key] = _ratio(total, count)
        return out

    point_bench = {
        bench: _bench_stats(arr, np.ones((1, len(arr.ids))))
        for bench, arr in aligned.benches.items()
    }
    parts = {k: [v] for k, v in combine(point_bench, 1).items()}
    for b in _blocks(n_boot):
        block = {
            bench: _bench_stats(arr, resample_counts(len(arr.ids), b, rng))
            for bench, arr in aligned.benches.items()
        }
        for k, v in combine(block, b).items():
            parts[k].append(v)
    arrays = {k: np.concatenate(v, axis=0) for k, v in parts.items()}
    return Cube(
        langs=langs,
        run_names=[r.name for r in aligned.runs],
        n_boot=n_boot,
        seed=seed,
        n_problems=aligned.n_problems(),
        per_bench={b: {k: v[0] for k, v in s.items()} for b, s in point_bench.items()},
        bench_langs={b: list(a.langs) for b, a in aligned.benches.items()},
        **arrays,
    )
