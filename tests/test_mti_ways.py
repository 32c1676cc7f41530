"""MTI three ways (today's, fixed unseen set, absolute gains), the share of resamples whose
denominator is ≤ 0, and the Fieller interval of the MTI ratio (issue 21, part 4)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from xling.analysis.bootstrap import (
    Cube,
    FiellerInterval,
    compute_cube,
    fieller_from_replicates,
    fieller_interval,
)
from xling.analysis.report import build_report
from xling.analysis.results import read_arm_results
from xling.analysis.rundata import align
from xling.analysis.study import fixed_unseen_langs, load_study
from xling.analysis.synthetic import make_study, memory_run
from xling.analysis.transfer import CompareResult, compare_from_cube

Z95 = 1.959963984540054


def counts(k: int, n: int = 10) -> np.ndarray:
    """n problems, the first k correct (one sample each)."""
    return np.arange(n) < k


def point_cube(base: dict[str, int], runs: dict[str, dict[str, int]]) -> Cube:
    """Full-data cube (no resamples) of a base and trained runs with k of 10 correct."""
    all_runs = [memory_run("base", {k: counts(v) for k, v in base.items()})]
    all_runs += [memory_run(n, {k: counts(v) for k, v in acc.items()}) for n, acc in runs.items()]
    return compute_cube(align(all_runs), n_boot=0, seed=0)


def acc_cube(langs: list[str], base: np.ndarray, trained: np.ndarray) -> Cube:
    """A cube straight from accuracies: base, trained (1 + B, L); row 0 = point estimate."""
    acc = np.stack([base, trained], axis=1)
    zeros = np.zeros_like(acc)
    return Cube(
        langs=langs,
        run_names=["base", "trained"],
        acc=acc,
        off=zeros,
        fmt=zeros,
        noans=zeros,
        n_boot=acc.shape[0] - 1,
        seed=0,
        n_problems={"synth": 10},
        per_bench={},
        bench_langs={"synth": langs},
    )


# ---------------------------------------------------------------- fixed unseen set


def test_fixed_unseen_mti_uses_only_the_fixed_set_and_differs_from_todays() -> None:
    base = {"en": 5, "es": 4, "ru": 5, "sw": 2}
    x1 = {"en": 6, "es": 8, "ru": 6, "sw": 3}  # trains en
    x2 = {"en": 6, "es": 6, "ru": 6, "sw": 3}  # trains en, es
    cube = point_cube(base, {"X1": x1, "X2": x2})
    fixed = fixed_unseen_langs(cube.langs, [["en"], ["en", "es"]])
    assert fixed == ["ru", "sw"]
    r1 = compare_from_cube(cube, 0, 1, ["en"], fixed_unseen=fixed)
    r2 = compare_from_cube(cube, 0, 2, ["en", "es"], fixed_unseen=fixed)
    # Δ: X1 en 0.2, es 1.0, ru 0.2, sw 0.5; X2 en 0.2, es 0.5, ru 0.2, sw 0.5
    assert r1.mti.value == pytest.approx((1.0 + 0.2 + 0.5) / 3 / 0.2)
    assert r1.mti_fixed_unseen.value == pytest.approx((0.2 + 0.5) / 2 / 0.2)
    assert r2.mti.value == pytest.approx((0.2 + 0.5) / 2 / 0.35)
    # The largest X has no other unseen language than the fixed set: the two agree there.
    assert r2.mti_fixed_unseen.value == pytest.approx(r2.mti.value)
    assert r1.fixed_unseen == ["ru", "sw"]
    # Changing only es (not in the fixed set) moves today's MTI of X1, not the fixed one.
    r1b = compare_from_cube(
        point_cube(base, {"X1": {**x1, "es": 4}}), 0, 1, ["en"], fixed_unseen=fixed
    )
    assert r1b.mti.value != pytest.approx(r1.mti.value)
    assert r1b.mti_fixed_unseen.value == pytest.approx(r1.mti_fixed_unseen.value)


def test_fixed_unseen_empty_or_missing_is_undefined_with_a_reason() -> None:
    cube = point_cube({"en": 5, "es": 4}, {"X1": {"en": 6, "es": 6}})
    assert fixed_unseen_langs(cube.langs, [["en"], ["en", "es"]]) == []
    r = compare_from_cube(cube, 0, 1, ["en"], fixed_unseen=[])
    assert r.mti.defined and not r.mti_fixed_unseen.defined
    assert "fixed unseen set is empty" in (r.mti_fixed_unseen.reason or "")
    assert r.mti_checks["mti_fixed_unseen"].fieller.reason == r.mti_fixed_unseen.reason
    r = compare_from_cube(cube, 0, 1, ["en"])
    assert "no fixed unseen set given" in (r.mti_fixed_unseen.reason or "")
    # A fixed language the run itself trains on is not unseen for it.
    r = compare_from_cube(cube, 0, 1, ["en", "es"], fixed_unseen=["es"])
    assert not r.mti_fixed_unseen.defined and "untrained" in (r.mti_fixed_unseen.reason or "")


def test_load_study_computes_the_fixed_set_from_every_runs_training_languages(
    tmp_path: Path,
) -> None:
    base = {"en": 0.6, "es": 0.5, "ru": 0.45, "sw": 0.2}
    study = make_study(tmp_path / "s", xs=(1, 2), n_problems=40, seed=1, base=base)
    sd = load_study([study], n_boot=0)
    assert sd.fixed_unseen == ["ru", "sw"]  # X2 trains en, es
    assert all(c is not None and c.fixed_unseen == ["ru", "sw"] for c in sd.compares)
    sd = load_study([study], n_boot=0, train_langs="en,es,ru,sw")
    assert sd.fixed_unseen == []
    c = sd.compares[0]
    assert c is not None and not c.mti_fixed_unseen.defined


# ---------------------------------------------------------------- absolute gains


def test_absolute_mti_is_the_ratio_of_absolute_gains() -> None:
    cube = point_cube({"en": 5, "es": 4, "sw": 2}, {"T": {"en": 6, "es": 6, "sw": 5}})
    r = compare_from_cube(cube, 0, 1, ["en"])
    # absolute gains en 0.1, es 0.2, sw 0.3 -> (0.2 + 0.3) / 2 / 0.1
    assert r.mti_abs.value == pytest.approx(2.5)
    assert r.mti.value == pytest.approx((0.5 + 1.5) / 2 / 0.2)  # relative: 5.0
    r = compare_from_cube(cube, 0, 1, ["en", "es"])
    assert r.mti_abs.value == pytest.approx(0.3 / 0.15)
    # With mti_gain="absolute", today's MTI is the same number.
    r = compare_from_cube(cube, 0, 1, ["en"], mti_gain="absolute")
    assert r.mti.value == pytest.approx(r.mti_abs.value)


# ---------------------------------------------------------------- denominator ≤ 0


def test_denominator_share_counts_exactly_the_constructed_resamples() -> None:
    B = 200
    rng = np.random.default_rng(0)
    # en (seen) base 0.5, trained 0.6 ± noise: Δ_S > 0 except in the rows set below.
    base = np.tile([0.5, 0.4, 0.3], (B + 1, 1))
    trained = np.column_stack(
        [0.6 + rng.uniform(-0.02, 0.02, B + 1), np.full(B + 1, 0.5), np.full(B + 1, 0.45)]
    )
    trained[0, 0] = 0.6
    bad = [3, 50, 120]  # resample indices (rows) with Δ_S = 0, < 0, < 0
    trained[bad, 0] = [0.5, 0.45, 0.3]
    r = compare_from_cube(acc_cube(["en", "es", "sw"], base, trained), 0, 1, ["en"])
    for key in ("mti", "mti_abs"):
        assert r.mti_checks[key].denominator_le0_share == pytest.approx(len(bad) / B)
    # 1.5% ≤ 2.5%: the percentile CI still exists, from the other resamples, and says so.
    assert r.mti.lo is not None and "3 undefined resample(s) dropped" in (r.mti.note or "")
    # Without resamples there is no share to report.
    r0 = compare_from_cube(acc_cube(["en", "es", "sw"], base[:1], trained[:1]), 0, 1, ["en"])
    assert r0.mti_checks["mti"].denominator_le0_share is None


# ---------------------------------------------------------------- Fieller


def closed_form(a: float, b: float, sa: float, sb: float, z: float = Z95) -> tuple[float, float]:
    """Textbook Fieller limits for independent a, b with standard errors sa, sb."""
    root = z * math.sqrt(a * a * sb * sb + b * b * sa * sa - z * z * sa * sa * sb * sb)
    den = b * b - z * z * sb * sb
    return (a * b - root) / den, (a * b + root) / den


def exact_moment_reps(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n draws (u, v) whitened to mean 0, variance 1 (ddof=1) and correlation 0 exactly."""
    x = np.random.default_rng(seed).standard_normal((n, 2))
    x -= x.mean(axis=0)
    chol = np.linalg.cholesky(np.cov(x.T))
    x = x @ np.linalg.inv(chol).T
    return x[:, 0], x[:, 1]


def test_fieller_matches_the_closed_form_for_independent_normal_parts() -> None:
    a, b, sa, sb = 0.6, 0.2, 0.1, 0.05
    lo, hi = closed_form(a, b, sa, sb)
    f = fieller_interval(a, b, sa**2, sb**2, 0.0, 0.95)
    assert f.bounded and f.reason is None
    assert (f.lo, f.hi) == (pytest.approx(lo), pytest.approx(hi))
    assert f.lo < a / b < f.hi
    # From bootstrap replicates with exactly those moments (row 0 = the point).
    u, v = exact_moment_reps(1000)
    num = np.concatenate([[a], a + sa * u])
    den = np.concatenate([[b], b + sb * v])
    g = fieller_from_replicates(num, den, 0.95)
    assert (g.lo, g.hi) == (pytest.approx(lo), pytest.approx(hi))


def test_fieller_with_correlation_solves_the_defining_inequality() -> None:
    a, b, va, vb, cov = 1.0, 0.5, 0.04, 0.01, 0.012
    f = fieller_interval(a, b, va, vb, cov, 0.9)
    z = 1.6448536269514722
    for theta in (f.lo, f.hi):
        assert theta is not None
        lhs = (a - theta * b) ** 2
        assert lhs == pytest.approx(z * z * (va - 2 * theta * cov + theta**2 * vb))


def test_fieller_covers_at_the_nominal_rate() -> None:
    # a − θ·b is exactly normal when a, b are: the Fieller set covers θ = 2 in 95% of draws.
    rng = np.random.default_rng(5)
    sa, sb, theta = 0.3, 0.15, 2.0
    hits = 0
    n = 4000
    for a, b in zip(rng.normal(theta * 1.0, sa, n), rng.normal(1.0, sb, n), strict=True):
        f = fieller_interval(a, b, sa**2, sb**2, 0.0, 0.95)
        hits += bool(
            (f.bounded and f.lo <= theta <= f.hi)  # type: ignore[operator]
            or (f.below is not None and theta <= f.below)
            or (f.above is not None and theta >= f.above)
            or (f.reason and "whole line" in f.reason)
        )
    assert hits / n == pytest.approx(0.95, abs=0.012)


def test_fieller_unbounded_cases_are_reported_as_such() -> None:
    # b not distinguishable from 0, a is: two rays around a gap containing 0.
    f = fieller_interval(5.0, 0.5, 1.0, 1.0, 0.0, 0.95)
    assert f.lo is None and f.hi is None
    assert f.below is not None and f.above is not None and f.below < 0 < f.above
    assert f.above <= 10.0  # the point a/b lies in the upper ray
    assert "unbounded: the denominator is not distinguishable from 0" in (f.reason or "")
    assert "two rays" in (f.reason or "") and "∞" in f.text()
    # Neither part distinguishable from 0: the whole line.
    f = fieller_interval(0.1, 0.1, 1.0, 1.0, 0.0, 0.95)
    assert (f.lo, f.hi, f.below, f.above) == (None, None, None, None)
    assert "whole line" in (f.reason or "") and f.text() == "(−∞, ∞)"
    # Undefined input: no resamples, or a point that is not a number.
    assert fieller_from_replicates(np.array([1.0]), np.array([0.5])).reason is not None
    f = fieller_from_replicates(np.array([np.nan, 1, 2]), np.array([1.0, 1, 2]))
    assert f.lo is None and "not computable" in (f.reason or "")
    assert isinstance(FiellerInterval().to_dict(), dict)


def test_fieller_of_a_compare_is_bounded_when_the_gain_is_clear() -> None:
    rng = np.random.default_rng(2)
    n = 400
    z = rng.standard_normal(n)
    base = memory_run("base", {"en": z < 0.0, "sw": z < -1.0})  # ~50%, ~16%
    trained = memory_run("trained", {"en": z < 0.5, "sw": z < -0.5})  # ~69%, ~31%
    r: CompareResult = compare_from_cube(
        compute_cube(align([base, trained]), n_boot=400, seed=0), 0, 1, ["en"]
    )
    f = r.mti_checks["mti"].fieller
    assert f.bounded and f.lo < r.mti.value < f.hi  # type: ignore[operator]
    assert r.mti_checks["mti"].denominator_le0_share == 0.0
    # Close to the percentile CI when the denominator is far from 0.
    assert r.mti.lo is not None and r.mti.hi is not None
    assert f.lo == pytest.approx(r.mti.lo, rel=0.25) and f.hi == pytest.approx(r.mti.hi, rel=0.25)


# ---------------------------------------------------------------- runs.csv and report.md


def test_runs_csv_and_report_carry_the_three_mtis(tmp_path: Path) -> None:
    base = {"en": 0.55, "es": 0.5, "ru": 0.45, "bn": 0.3, "sw": 0.25}
    study = make_study(tmp_path / "study", xs=(1, 2, 3), n_problems=400, seed=4, base=base)
    rep = build_report(study, tmp_path / "report", n_boot=200, seed=0)
    with rep.tables["runs"].open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0])
    for col in (
        "mti",
        "mti_lo",
        "mti_hi",
        "mti_note",
        "mti_fixed_unseen",
        "mti_fixed_unseen_lo",
        "mti_fixed_unseen_hi",
        "mti_abs",
        "mti_abs_lo",
        "mti_abs_hi",
        "mti_denominator_le0_share",
        "mti_fieller_lo",
        "mti_fieller_hi",
    ):
        assert col in header, col
    # The Fieller columns sit right after the percentile ones.
    i = header.index("mti_hi")
    assert header[i + 1 : i + 3] == ["mti_fieller_lo", "mti_fieller_hi"]
    assert [r["fixed_unseen_langs"] for r in rows] == ["bn sw"] * 3
    for row in rows:
        mti = float(row["mti"])
        # mti_abs = mean absolute unseen gain / mean absolute seen gain, from the same row.
        assert float(row["mti_abs"]) == pytest.approx(
            float(row["gain_unseen"]) / float(row["gain_seen"])
        )
        share = float(row["mti_denominator_le0_share"])
        assert 0.0 <= share <= 1.0
        if row["mti_fieller_lo"]:
            assert float(row["mti_fieller_lo"]) <= mti <= float(row["mti_fieller_hi"])
        else:
            assert row["mti_fieller_note"].startswith("unbounded")
        for key in ("mti_fixed_unseen", "mti_abs"):
            if row[f"{key}_lo"]:
                assert float(row[f"{key}_lo"]) <= float(row[key]) <= float(row[f"{key}_hi"])
    # X3 trains en, es, ru: its unseen set is the fixed set, so the two MTIs agree; X1's
    # unseen set also holds es and ru, so they differ.
    assert float(rows[2]["mti_fixed_unseen"]) == pytest.approx(float(rows[2]["mti"]))
    assert float(rows[0]["mti_fixed_unseen"]) != pytest.approx(float(rows[0]["mti"]))
    md = rep.md.read_text(encoding="utf-8")
    for text in ("MTI Fieller CI", "MTI (fixed unseen)", "MTI (abs. gains)", "(bn, sw)"):
        assert text in md, text
    # Existing readers of runs.csv still find their columns.
    arm = read_arm_results(tmp_path / "report")
    assert arm is not None and [r.mti.value for r in arm.runs] == pytest.approx(
        [float(r["mti"]) for r in rows]
    )
