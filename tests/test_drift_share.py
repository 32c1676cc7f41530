"""How much of a gain arrives as correct answers in another language (English drift): the
split of every gain into its off-target and in-language parts (issue 21, part 4)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from xling.analysis.bootstrap import compute_cube
from xling.analysis.rundata import _F, align, load_run
from xling.analysis.synthetic import aligned_from_arrays, run_records, write_run
from xling.analysis.transfer import _drift_split, compare, compare_from_cube

N = 200


def _arrays() -> tuple[np.ndarray, np.ndarray]:
    """Two runs (base, trained) × languages (en, sw) × N problems: correct and off-target.

    base: en 50 % right, sw 20 % right, all in-language. trained: en 70 %; sw 40 %, where
    the extra 20 points are all answers written off-target (English drift)."""
    correct = np.zeros((2, 2, N), dtype=bool)
    off = np.zeros((2, 2, N), dtype=bool)
    correct[0, 0, : N // 2] = True
    correct[0, 1, : N // 5] = True
    correct[1, 0, : int(0.7 * N)] = True
    correct[1, 1, : int(0.4 * N)] = True
    off[1, 1, N // 5 : int(0.4 * N)] = True  # the new sw successes are off-target
    return correct, off


def test_the_gain_splits_into_off_target_and_in_language_parts() -> None:
    correct, off = _arrays()
    cube = compute_cube(aligned_from_arrays(correct, ["en", "sw"], off=off), n_boot=300, seed=1)
    cmp = compare_from_cube(cube, 0, 1, ["en"])
    sw, en = cmp.row("sw"), cmp.row("en")
    assert sw.gain.value == pytest.approx(0.20)
    assert sw.gain_off.value == pytest.approx(0.20)  # all of it came as drift
    assert sw.drift_share.value == pytest.approx(1.0)
    assert en.gain_off.value == pytest.approx(0.0) and en.drift_share.value == pytest.approx(0.0)
    assert sw.gain_off.lo is not None and sw.gain_off.lo < 0.20 < sw.gain_off.hi
    unseen = cmp.groups["unseen"]
    assert unseen.drift_share.value == pytest.approx(1.0)
    # In JSON and in the flat table (per_language.csv) too.
    assert cmp.to_dict()["languages"][1]["drift_share"]["value"] == pytest.approx(1.0)
    table = {r["lang"]: r for r in cmp.table()}
    assert table["sw"]["gain_off"] == pytest.approx(0.20)
    assert table["unseen"]["drift_share"] == pytest.approx(1.0)


def test_no_share_of_a_gain_that_is_not_positive() -> None:
    correct, off = _arrays()
    correct[1, 1] = correct[0, 1]  # sw gains nothing
    cube = compute_cube(aligned_from_arrays(correct, ["en", "sw"], off=off), n_boot=50, seed=1)
    sw = compare_from_cube(cube, 0, 1, ["en"]).row("sw")
    assert sw.drift_share.value is None and "<= 0" in (sw.drift_share.reason or "")


def test_a_gain_that_cancels_to_float_residue_has_no_share() -> None:
    # Means of 0/1 differences that cancel leave ~1e-17 in floats: not a gain to divide by.
    residue = (0.1 + 0.2) - 0.3
    assert 0 < residue < 1e-15
    gain = np.array([residue, 0.05, residue, -0.02])
    gain_off = np.array([0.01, 0.02, 0.01, 0.0])
    _, share = _drift_split(gain, gain_off, 0.95)
    assert share.value is None and "<= 0" in (share.reason or "")
    _, share = _drift_split(np.array([0.04, 0.05, residue]), np.array([0.02, 0.02, 0.01]), 0.95)
    assert share.value == pytest.approx(0.5)
    assert share.hi is None or share.hi < 1e3  # the residue resample is dropped, not divided


def test_runs_on_disk_count_correct_off_target_answers(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    base = write_run(tmp_path / "base", run_records({"en": 0.5, "sw": 0.3}, off=0.0, rng=rng))
    trained = write_run(
        tmp_path / "trained",
        run_records({"en": 0.7, "sw": 0.5}, off={"en": 0.0, "sw": 0.6}, rng=rng),
        train_langs=["en"],
    )
    run = load_run(trained)
    sums = np.array(list(run.cells[("synth", "sw")].values()))
    records = [json.loads(x) for x in (trained / "scores.jsonl").read_text().splitlines()]
    sw = [r for r in records if r["lang"] == "sw"]
    assert sums[:, _F["correct_off"]].sum() == sum(r["correct"] and r["off_target"] for r in sw)
    cmp = compare(base, trained, n_boot=100)
    row = cmp.row("sw")
    expected = np.mean([r["correct"] and r["off_target"] for r in sw])
    assert row.gain_off.value == pytest.approx(expected)  # the base had no off-target answers
    # A share above 1 is possible: in-language successes fell while drifted ones rose.
    assert row.drift_share.value == pytest.approx(expected / row.gain.value)
    assert load_run(base).cells and align([load_run(base), run]).langs == ["en", "sw"]


def test_study_runs_csv_has_the_unseen_drift_split(tmp_path: Path) -> None:
    import csv

    from xling.analysis.report import build_report
    from xling.analysis.synthetic import make_study

    study = make_study(tmp_path / "study", xs=(1, 2), n_problems=60)
    rep = build_report(study, tmp_path / "report", n_boot=50)
    with rep.tables["runs"].open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all("unseen_drift_share" in r and "unseen_gain_off_lo" in r for r in rows)
