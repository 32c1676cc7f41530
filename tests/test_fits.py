"""Scaling-law fits, leap, gap, CSV input (xling.analysis.fits)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from xling.analysis.fits import (
    analyze,
    compare_models,
    fit_csv,
    fit_loglog,
    fit_power_nls,
    fit_saturating,
    read_points_csv,
)
from xling.analysis.study import fit_study, load_study
from xling.analysis.synthetic import make_study
from xling.cli import app
from xling.errors import XlingError

X = np.arange(1, 9, dtype=float)


def test_noiseless_power_law_recovered_exactly():
    y = 2.00 * X**0.29
    a, b = fit_loglog(X, y)
    assert a == pytest.approx(2.0, rel=1e-10) and b == pytest.approx(0.29, rel=1e-10)
    a, b = fit_power_nls(X, y)
    assert a == pytest.approx(2.0, rel=1e-6) and b == pytest.approx(0.29, rel=1e-6)
    fr = analyze(X, y, x_kind="num-train-langs", include_mono=True)
    assert fr.alpha.value == pytest.approx(2.0, rel=1e-6)
    assert fr.r2.value == pytest.approx(1.0)


def test_noisy_power_law_recovered_with_bootstrap_ci():
    rng = np.random.default_rng(0)
    x = np.repeat(X[1:], 3)  # three seeds per X, no monolingual point
    y = 56.98 * x**0.02 + rng.normal(0, 0.3, size=x.size)
    sd = np.full(x.size, 0.3)
    reps = y + rng.normal(0, 0.3, size=(400, x.size))
    fr = analyze(x, y, reps, x_kind="num-train-langs")
    assert fr.alpha.value == pytest.approx(56.98, abs=1.0)
    assert fr.beta.value == pytest.approx(0.02, abs=0.01)
    assert fr.beta.lo < 0.02 < fr.beta.hi and fr.alpha.lo < 56.98 < fr.alpha.hi
    assert fr.alpha_loglog.value == pytest.approx(fr.alpha.value, rel=1e-3)
    assert fit_power_nls(x, y, sigma=sd) is not None


def test_vectorized_loglog_over_replicates():
    Y = np.vstack([2 * X**0.3, 3 * X**0.1, np.r_[-1.0, 2 * X[1:] ** 0.3]])
    a, b = fit_loglog(X, Y)
    assert a[:2] == pytest.approx([2, 3]) and b[:2] == pytest.approx([0.3, 0.1])
    assert np.isnan(a[2])  # a non-positive value has no log-log fit


def test_gap_and_leap_on_paper_like_mti_curve():
    # monolingual MTI 1.16 at X=1, exact law 2.00·X^0.29 for X = 2..8
    y = np.r_[1.16, 2.00 * X[1:] ** 0.29]
    fr = analyze(X, y, x_kind="num-train-langs")
    assert fr.fit_x == list(X[1:])  # fitted without the monolingual point
    assert fr.alpha.value == pytest.approx(2.0, rel=1e-6)
    assert fr.gap_predicted.value == pytest.approx(2.00)
    assert fr.gap_measured.value == pytest.approx(1.16)
    assert fr.gap.value == pytest.approx(0.84, abs=1e-6)
    leap = 2.00 * 2**0.29 - 1.16
    later = (2.00 * 8**0.29 - 2.00 * 2**0.29) / 6
    assert fr.leap.value == pytest.approx(leap)
    assert fr.avg_later_step.value == pytest.approx(later)
    assert fr.leap_ratio.value == pytest.approx(leap / later)


def test_gap_on_paper_accuracy_numbers():
    y = np.r_[54.24, 56.98 * X[1:] ** 0.02]
    fr = analyze(X, y, x_kind="num-train-langs")
    assert fr.gap.value == pytest.approx(56.98 - 54.24, abs=1e-4)


def test_gap_undefined_at_x_zero_and_leap_ratio_undefined_when_later_steps_fall():
    x = np.arange(0, 8, dtype=float)
    y = np.r_[1.16, 2.00 * (x[1:] + 1) ** 0.29]
    fr = analyze(x, y, x_kind="num-parallel-langs")
    assert fr.mono_x == 0.0 and fr.gap.value is None and "X = 0" in fr.gap.reason
    assert fr.leap.defined
    y = np.r_[1.0, 3.0, 2.9, 2.8, 2.7]
    fr = analyze(np.arange(1, 6.0), y, x_kind="num-train-langs")
    assert fr.leap.value == pytest.approx(2.0)
    assert fr.leap_ratio.value is None and "≤ 0" in fr.leap_ratio.reason
    fr = analyze(np.arange(2, 6.0), y[1:], x_kind="num-train-langs")
    assert fr.leap.value is None and "no monolingual point" in fr.leap.reason
    json.dumps(fr.to_dict(), allow_nan=False)


def test_power_law_told_from_plateau():
    x = np.arange(2, 12, dtype=float)
    sat = 5 - 4 * x**-1.5
    models, better, _ = compare_models(x, sat)
    assert better == "saturating"
    a, c, b = fit_saturating(x, sat)
    assert (a, c, b) == pytest.approx((5, 4, 1.5), rel=1e-3)
    models, better, _ = compare_models(x, 2 * x**0.29)
    assert better == "power"
    assert models[0].loo_rmse == pytest.approx(0, abs=1e-6)


def test_too_few_points():
    # Two points fix α and β exactly, leaving nothing to judge the law by: refused.
    for xs in ([1.0, 2.0], [2.0, 3.0], [1.0, 2.0, 3.0]):
        x = np.array(xs)
        with pytest.raises(XlingError, match="≥ 3 distinct X"):
            analyze(x, 2 * x**0.3)
    fr = analyze(np.array([2.0, 3.0, 4.0]), np.array([1.0, 1.2, 1.3]))
    assert fr.alpha.value is not None and fr.beta.value is not None


def test_csv_input_with_and_without_intervals(tmp_path):
    p = tmp_path / "paper.csv"
    rows = ["X,value,lo,hi"] + [
        f"{x:g},{v:.6f},{v - 0.2:.6f},{v + 0.2:.6f}"
        for x, v in zip(X, np.r_[1.16, 2.00 * X[1:] ** 0.29], strict=True)
    ]
    p.write_text("\n".join(rows) + "\n")
    fr = fit_csv(p, n_boot=300, seed=1)
    assert fr.alpha.value == pytest.approx(2.0, rel=1e-4)
    assert fr.alpha.lo < 2.0 < fr.alpha.hi
    assert fr.gap.value == pytest.approx(0.84, abs=1e-4) and fr.gap.lo is not None
    assert fr.y_lo[0] == pytest.approx(0.96)
    assert "parametric" in fr.ci_method

    q = tmp_path / "plain.csv"
    rng = np.random.default_rng(3)
    q.write_text(
        "x,Value,label\n"
        + "".join(f"{x:g},{2 * x**0.29 + rng.normal(0, 0.02):.5f},run{x:g}\n" for x in X[1:])
    )
    fr = fit_csv(q, n_boot=200)
    assert fr.beta.value == pytest.approx(0.29, abs=0.05)
    assert "residual" in fr.ci_method and fr.labels[0] == "run2"
    assert fr.leap.value is None  # no monolingual point given


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("X,foo\n1,2\n", "needs columns X and value"),
        ("X,value\n1,abc\n", "not a number"),
        ("X,value,lo,hi\n1,2,3,4\n", "lo ≤ value ≤ hi"),
        ("X,value,lo,hi\n1,2,1,\n", "both lo and hi"),
        ("X,value\n", "no data rows"),
    ],
)
def test_bad_csv_is_reported_with_line(tmp_path, text, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(XlingError, match=match):
        read_points_csv(p)


@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    return make_study(
        tmp_path_factory.mktemp("study") / "study",
        xs=(1, 2, 3, 4, 5),
        n_problems=150,
        seed=1,
        base={"en": 0.6, "es": 0.5, "ru": 0.45, "sw": 0.2, "ja": 0.4},
    )


def test_fit_from_study_runs(small_study):
    sd = load_study([small_study], n_boot=200, seed=0)
    assert list(sd.xs) == [1, 2, 3, 4, 5] and sd.base is not None
    fr = fit_study(sd, "accuracy")
    assert fr.unit == "%" and 30 < fr.alpha.value < 80
    assert fr.alpha.lo is not None and fr.gap.defined and fr.leap.defined
    fr = fit_study(sd, "mti")
    assert fr.alpha.defined and fr.x == [1, 2, 3, 4, 5]
    fr = fit_study(sd, "off_target_rate", metric_langs="unseen")
    assert fr.unit == "%"
    with pytest.raises(XlingError, match="base"):
        fit_study(load_study(sorted(small_study.glob("X*")), n_boot=0), "mti")


def test_fit_cli(small_study, tmp_path):
    runner = CliRunner(env={"COLUMNS": "200"})
    res = runner.invoke(
        app,
        [
            "fit",
            str(small_study),
            "--metric",
            "accuracy",
            "--n-boot",
            "100",
            "--json",
            str(tmp_path / "fit.json"),
            "--plot",
            str(tmp_path / "fit.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Monolingual Generalization Gap" in res.output and "First-Parallel Leap" in res.output
    assert json.loads((tmp_path / "fit.json").read_text())["metric"] == "Accuracy"
    assert (tmp_path / "fit.png").stat().st_size > 10_000
    csv = tmp_path / "pts.csv"
    csv.write_text("X,value\n" + "".join(f"{x:g},{2 * x**0.29:.6f}\n" for x in X))
    res = runner.invoke(app, ["fit", "--csv", str(csv), "--n-boot", "50"])
    assert res.exit_code == 0, res.output and "α" in res.output
    res = runner.invoke(app, ["fit", str(small_study), "--x", "1,2"])
    assert res.exit_code == 2 and "2 value(s) for 5 run(s)" in res.output
