"""MTI, gains and the paired bootstrap (xling.analysis.transfer / bootstrap)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from xling.analysis.bootstrap import Estimate, compute_cube, resample_counts, summarize
from xling.analysis.rundata import align, load_run
from xling.analysis.synthetic import (
    aligned_from_arrays,
    draw_correct,
    memory_run,
    run_records,
    write_run,
)
from xling.analysis.transfer import compare, compare_from_cube, gains, mti_arrays
from xling.cli import app
from xling.errors import XlingError


def counts(k: int, n: int = 10) -> np.ndarray:
    """n problems, the first k correct (one sample each)."""
    return np.arange(n) < k


def cmp(
    base: dict, trained: dict, seen, n_boot: int = 0, off_b=None, off_t=None, kind: str = "relative"
):
    b = memory_run("base", {k: counts(v) for k, v in base.items()}, off=off_b)
    t = memory_run("trained", {k: counts(v) for k, v in trained.items()}, off=off_t)
    cube = compute_cube(align([b, t]), n_boot=n_boot, seed=0)
    return compare_from_cube(cube, 0, 1, seen, mti_gain=kind)


# ---------------------------------------------------------------- hand-computed examples


def test_mti_hand_computed_single_training_language():
    # base en 50%, es 40%, sw 20%; trained en 60%, es 60%, sw 40%
    # Δ(en) = 0.1/0.5 = 0.2, Δ(es) = 0.2/0.4 = 0.5, Δ(sw) = 0.2/0.2 = 1.0
    r = cmp({"en": 5, "es": 4, "sw": 2}, {"en": 6, "es": 6, "sw": 4}, ["en"])
    assert r.row("en").rel_gain.value == pytest.approx(0.2)
    assert r.row("es").rel_gain.value == pytest.approx(0.5)
    assert r.row("sw").rel_gain.value == pytest.approx(1.0)
    assert r.row("en").mti.value == pytest.approx(1.0)
    assert r.row("es").mti.value == pytest.approx(2.5)
    assert r.row("sw").mti.value == pytest.approx(5.0)
    assert r.mti.value == pytest.approx((0.5 + 1.0) / 2 / 0.2)  # 3.75
    assert r.seen == ["en"] and r.unseen == ["es", "sw"]
    assert r.row("es").gain.value == pytest.approx(0.2)
    assert r.groups["seen"].gain.value == pytest.approx(0.1)
    assert r.groups["unseen"].gain.value == pytest.approx(0.2)
    assert r.groups["unseen"].rel_gain.value == pytest.approx(0.75)
    assert r.groups["all"].base_acc.value == pytest.approx((0.5 + 0.4 + 0.2) / 3)


def test_mti_hand_computed_parallel_training():
    # seen = en, es: Δ_S = (0.2 + 0.5)/2 = 0.35; only sw unseen: MTI = 1.0/0.35
    r = cmp({"en": 5, "es": 4, "sw": 2}, {"en": 6, "es": 6, "sw": 4}, ["en", "es"])
    assert r.groups["seen"].rel_gain.value == pytest.approx(0.35)
    assert r.mti.value == pytest.approx(1.0 / 0.35)
    assert r.row("es").mti.value == pytest.approx(0.5 / 0.35)


def test_absolute_gain_variant():
    r = cmp({"en": 5, "es": 4, "sw": 2}, {"en": 6, "es": 6, "sw": 4}, ["en"], kind="absolute")
    # absolute gains 0.1, 0.2, 0.2 -> MTI = 0.2 / 0.1
    assert r.mti.value == pytest.approx(2.0)


def test_mti_arrays_vectorized_matches_scalar():
    base = np.array([[0.5, 0.4, 0.2], [0.5, 0.5, 0.25]])
    trained = np.array([[0.6, 0.6, 0.4], [0.55, 0.5, 0.5]])
    m = mti_arrays(base, trained, np.array([True, False, False]))
    assert m["mti"][0] == pytest.approx(3.75)
    assert m["mti"][1] == pytest.approx(((0.0 / 0.5) + (0.25 / 0.25)) / 2 / 0.1)
    assert np.isnan(gains(np.array([0.0]), np.array([0.3]))[0])


# ---------------------------------------------------------------- undefined cases


def _no_nan(result) -> None:
    json.dumps(result.to_dict(), allow_nan=False)  # raises on NaN/inf


def test_base_accuracy_zero_in_unseen_language_is_undefined_and_excluded():
    r = cmp({"en": 5, "es": 4, "sw": 0}, {"en": 6, "es": 6, "sw": 3}, ["en"], n_boot=200)
    sw = r.row("sw")
    assert sw.rel_gain.value is None and "base accuracy is 0" in sw.rel_gain.reason
    assert sw.mti.value is None and "base accuracy is 0" in sw.mti.reason
    assert sw.gain.value == pytest.approx(0.3)  # the absolute gain is still defined
    assert r.mti.value == pytest.approx(0.5 / 0.2)  # sw left out of the aggregate ...
    assert "sw" in r.mti.note  # ... and named
    _no_nan(r)


@pytest.mark.parametrize("trained_en", [5, 4])  # zero gain, negative gain
def test_non_positive_training_gain_makes_mti_undefined(trained_en):
    r = cmp({"en": 5, "es": 4, "sw": 2}, {"en": trained_en, "es": 6, "sw": 4}, ["en"], n_boot=200)
    assert r.mti.value is None
    assert "≤ 0" in r.mti.reason and "training-language" in r.mti.reason
    assert all(row.mti.value is None for row in r.rows)
    assert r.row("es").rel_gain.value == pytest.approx(0.5)  # gains stay defined
    _no_nan(r)


def test_base_zero_in_training_language_makes_mti_undefined():
    r = cmp({"en": 0, "es": 4}, {"en": 3, "es": 6}, ["en"])
    assert r.mti.value is None and "training language" in r.mti.reason
    _no_nan(r)


def test_no_unseen_or_no_seen_language():
    r = cmp({"en": 5, "es": 4}, {"en": 6, "es": 6}, ["en", "es"])
    assert r.mti.value is None and "no unseen" in r.mti.reason
    r = cmp({"en": 5, "es": 4}, {"en": 6, "es": 6}, ["fr"])
    assert r.mti.value is None and "none of the training languages" in r.mti.reason
    assert any("not evaluated" in w for w in r.warnings)


def test_summarize_never_returns_nan_or_inf():
    assert summarize(float("nan"), None).value is None
    assert summarize(float("inf"), None).value is None
    reps = np.array([1.0] * 90 + [np.nan] * 10)  # 10% undefined resamples
    e = summarize(1.0, reps, 0.95, ci_cause="denominator ≤ 0")
    assert e.value == 1.0 and e.lo is None and "CI unbounded" in e.reason
    e = summarize(1.0, np.array([1.0] * 99 + [np.nan]), 0.95)
    assert e.lo == 1.0 and "dropped" in e.note
    assert Estimate(None, reason="x").fmt() == "undefined"


# ---------------------------------------------------------------- off-target, loading, CLI


def test_off_target_change_by_group():
    n = 10
    off_b = {"en": np.arange(n) < 1, "es": np.arange(n) < 5, "sw": np.arange(n) < 8}
    off_t = {"en": np.arange(n) < 0, "es": np.arange(n) < 2, "sw": np.arange(n) < 4}
    r = cmp(
        {"en": 5, "es": 4, "sw": 2},
        {"en": 6, "es": 6, "sw": 4},
        ["en"],
        off_b={k: v[:, None] for k, v in off_b.items()},
        off_t={k: v[:, None] for k, v in off_t.items()},
    )
    assert r.row("es").off_change.value == pytest.approx(-0.3)
    assert r.groups["seen"].off_change.value == pytest.approx(-0.1)
    assert r.groups["unseen"].off_change.value == pytest.approx((-0.3 - 0.4) / 2)


def test_resample_counts_are_seeded_multinomials():
    a = resample_counts(500, 64, np.random.default_rng(1))
    b = resample_counts(500, 64, np.random.default_rng(1))
    assert a.shape == (64, 500) and np.array_equal(a, b)
    assert np.all(a.sum(axis=1) == 500)


def test_bootstrap_is_paired_across_runs_and_languages():
    # Trained = base with a few extra correct answers: an unpaired bootstrap would give a
    # gain CI as wide as the accuracy CIs; the paired one is much narrower.
    rng = np.random.default_rng(0)
    z = rng.standard_normal(400)
    base = draw_correct(np.full(400, 0.5), z, rng, rho=0.95)[:, 0]
    trained = base | (rng.random(400) < 0.05)
    b = memory_run("b", {"en": base, "es": base})
    t = memory_run("t", {"en": trained, "es": trained})
    r = compare_from_cube(compute_cube(align([b, t]), n_boot=2000, seed=0), 0, 1, ["en"])
    acc_width = r.row("en").base_acc.hi - r.row("en").base_acc.lo
    gain = r.row("en").gain
    assert gain.hi - gain.lo < 0.5 * acc_width
    # identical languages -> identical resampled gains -> MTI is exactly 1 in every resample
    assert r.mti.value == pytest.approx(1.0) and r.mti.hi - r.mti.lo < 1e-9


def test_ci_coverage_on_synthetic_data():
    """≥ 90% of 200 simulated 95% intervals contain the true gain and the true MTI."""
    truth_b = {"en": 0.50, "es": 0.40, "sw": 0.30}
    truth_t = {"en": 0.65, "es": 0.60, "sw": 0.50}
    rel = {k: (truth_t[k] - truth_b[k]) / truth_b[k] for k in truth_b}
    true_mti = (rel["es"] + rel["sw"]) / 2 / rel["en"]
    true_gain = truth_t["sw"] - truth_b["sw"]
    rng = np.random.default_rng(12345)
    n, sims = 400, 200
    langs = list(truth_b)
    acc = np.array([[truth_b[k] for k in langs], [truth_t[k] for k in langs]])  # (2, L)
    hit_mti = hit_gain = 0
    for _ in range(sims):
        z = rng.standard_normal(n)  # problem difficulty shared by runs and languages
        correct = draw_correct(np.broadcast_to(acc[..., None], (2, len(langs), n)), z, rng)
        seed = int(rng.integers(1 << 30))
        cube = compute_cube(aligned_from_arrays(correct, langs), n_boot=400, seed=seed)
        r = compare_from_cube(cube, 0, 1, ["en"])
        hit_mti += r.mti.lo is not None and r.mti.lo <= true_mti <= r.mti.hi
        g = r.row("sw").gain
        hit_gain += g.lo <= true_gain <= g.hi
    assert hit_gain / sims >= 0.90
    assert hit_mti / sims >= 0.90


def test_compare_from_run_directories_and_cli(tmp_path):
    rng = np.random.default_rng(0)
    z = rng.standard_normal(80)
    base = write_run(
        tmp_path / "base",
        run_records({"en": 0.5, "es": 0.4, "sw": 0.2}, n_problems=80, z=z, rng=rng, n_samples=2),
    )
    trained = write_run(
        tmp_path / "trained",
        run_records({"en": 0.7, "es": 0.6, "sw": 0.4}, n_problems=80, z=z, rng=rng, n_samples=2),
        train_langs=["en"],
    )
    run = load_run(trained)
    assert run.train_langs == ("en",) and run.x("num-train-langs") == 1.0
    assert run.x("num-parallel-langs") == 0.0
    r = compare(base, trained, n_boot=300)
    assert r.seen == ["en"] and r.mti.defined and r.n_problems == {"synth": 80}
    # --train-langs overrides train.json
    r2 = compare(base, trained, "en,es", n_boot=0)
    assert r2.seen == ["en", "es"]

    runner = CliRunner(env={"COLUMNS": "200"})
    out = tmp_path / "cmp.json"
    res = runner.invoke(
        app,
        [
            "compare",
            str(base),
            str(trained),
            "--n-boot",
            "200",
            "--json",
            str(out),
            "--csv",
            str(tmp_path / "cmp.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "MTI" in res.output and "Swahili" in res.output
    data = json.loads(out.read_text())
    assert data["seen"] == ["en"] and math.isfinite(data["mti"]["value"])
    assert (tmp_path / "cmp.csv").read_text().startswith("base_run,")
    res = runner.invoke(app, ["compare", str(base), str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a directory" in res.output
    for cmd in ("compare", "fit", "report"):
        res = runner.invoke(app, [cmd, "--help"])
        assert res.exit_code == 0 and "Usage" in res.output


def test_missing_train_langs_is_a_clear_error(tmp_path):
    rng = np.random.default_rng(0)
    base = write_run(tmp_path / "b", run_records({"en": 0.5}, n_problems=10, rng=rng))
    trained = write_run(tmp_path / "t", run_records({"en": 0.6}, n_problems=10, rng=rng))
    with pytest.raises(XlingError, match="--train-langs"):
        compare(base, trained, n_boot=0)
