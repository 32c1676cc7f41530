"""The parallel scaling law fit: recovery of known constants, CSV/CLI, the alternatives."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data
from typer.testing import CliRunner

from xling.cli import app
from xling.errors import XlingError
from xling.parscale.law import Points, fit_law, predict, read_points_csv, theta_of

# The paper's sizes (0.5B..4.4B non-embedding parameters) at P = 1, 2, 4, 8.
SIZES = np.array([5.36e8, 6.94e8, 1.09e9, 1.57e9, 2.77e9, 4.35e9])
TRUTH = {"A": 4.0e7, "k": 0.42, "alpha": 0.17, "E": 0.85}


def _law_points(noise: float = 0.0, seed: int = 0) -> Points:
    n = np.tile(SIZES, 4)
    p = np.repeat([1.0, 2.0, 4.0, 8.0], len(SIZES))
    loss = predict("parscale", theta_of(TRUTH["A"], TRUTH["k"], TRUTH["alpha"], TRUTH["E"]), n, p)
    if noise:
        loss = loss * np.exp(np.random.default_rng(seed).normal(0, noise, len(loss)))
    return Points(n, p, loss)


def _write_csv(path: Path, pts: Points) -> Path:
    rows = ["N,P,loss"] + [
        f"{n:.0f},{p:.0f},{loss:.10f}" for n, p, loss in zip(pts.n, pts.p, pts.loss, strict=True)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_fit_cli_recovers_known_constants_within_5_percent(tmp_path: Path) -> None:
    csv_path = _write_csv(tmp_path / "points.csv", _law_points())
    result = CliRunner().invoke(
        app, ["parscale", "fit", "--csv", str(csv_path), "--json", "--n-boot", "10", "--no-loo"]
    )
    assert result.exit_code == 0, result.output
    fitted = json.loads(result.output)
    for name, true in TRUTH.items():
        assert fitted[name] == pytest.approx(true, rel=0.05), name
        lo, hi = fitted["ci"][name]
        assert lo <= fitted[name] <= hi
    assert fitted["r2"] > 0.999
    multiplier = fitted["equivalent_parameter_multiplier"]["8"]["value"]
    assert multiplier == pytest.approx(TRUTH["k"] * math.log(8) + 1, rel=0.02)


def test_law_beats_the_alternatives_on_law_data() -> None:
    fit = fit_law(_law_points(noise=0.002), n_boot=0)
    scores = {s.model: s for s in fit.scores}
    assert fit.best_model == "parscale"
    # Ignoring P costs far more than the noise; a power law in P is close but worse.
    assert scores["no_p"].loo_rmse > 5 * scores["parscale"].loo_rmse
    assert scores["power_p"].loo_rmse > scores["parscale"].loo_rmse


def test_bootstrap_ci_covers_the_truth_under_noise() -> None:
    fit = fit_law(_law_points(noise=0.003, seed=3), n_boot=30, loo=False)
    k = fit.estimates["k"]
    assert k.lo is not None and k.lo < TRUTH["k"] < k.hi
    assert k.hi - k.lo > 0.01  # noise makes a real interval


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("N,P\n1,1\n", "needs columns N, P and loss"),
        ("N,P,loss\n1e9,1,abc\n", ":2: loss='abc' is not a number"),
        ("N,P,loss\n1e9,0,2.0\n", ":2: P=0: P counts parallel streams"),
        ("N,P,loss\n1e9,1,2.0\n1e9,1.5,2.0\n", ":3: P=1.5: P counts parallel streams"),
        ("N,P,loss\n0,1,2.0\n", ":2: N=0: the parameter count must be > 0"),
        ("N,P,loss\n1e9,2,-0.5\n", ":2: loss=-0.5: the loss must be a finite number > 0"),
        ("N,P,loss\n1e9,2,nan\n", ":2: loss='nan' is not finite"),
        ("N,P,loss\n", "no data rows"),
    ],
)
def test_bad_csv_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(XlingError, match=message.replace("(", r"\(")):
        read_points_csv(path)
    result = CliRunner().invoke(app, ["parscale", "fit", "--csv", str(path)])
    assert result.exit_code != 0


def test_points_refuse_a_fractional_stream_count() -> None:
    pts = _law_points()
    p = pts.p.copy()
    p[7] = 2.5
    with pytest.raises(XlingError, match=r"point 8: P=2\.5"):
        Points(pts.n, p, pts.loss)


def test_too_few_points_is_refused() -> None:
    pts = _law_points()
    with pytest.raises(XlingError, match="at least 5 points"):
        fit_law(Points(pts.n[:4], pts.p[:4], pts.loss[:4]))


def test_papers_points_fit_with_a_logarithmic_p_effect() -> None:
    fit = fit_law(read_points_csv(shared_data("parscale-points") / "pile.csv"), n_boot=0)
    assert fit.r2 > 0.99
    # The paper's finding: P streams ≈ O(log P) more parameters (k well above 0), and the
    # law predicts left-out points far better than a law that ignores P.
    assert 0.2 < fit.estimates["k"].value < 0.6
    scores = {s.model: s.loo_rmse for s in fit.scores}
    assert scores["parscale"] < scores["no_p"] / 3
