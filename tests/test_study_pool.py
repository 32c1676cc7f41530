"""Pooling one study over several organisms: runs.csv with an organism column, and verdicts
from one bootstrap that resamples organisms (xling.study.pooled)."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from xling.analysis.synthetic import DEMO_BASE, run_records, study_accuracies, write_run
from xling.errors import XlingError
from xling.study import Study, StudyConfig
from xling.study.pooled import pool_studies


def organism_study(root: Path, name: str, beta: float, shift: float, seed: int) -> Study:
    """A finished one-arm study on disk: its runs (MTI (X + 1)^beta, two seeds), base run
    and the arm report's runs.csv, for an organism whose base is `shift` more accurate."""
    study = Study(
        StudyConfig(base_model=name, out=str(root / name), x_values=(0, 1, 2, 3), seeds=(0, 1))
    )
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(800)
    base = {lang: a + shift for lang, a in DEMO_BASE.items()}

    def write(path: Path, acc: dict[str, float], langs=None) -> None:
        records = run_records(acc, off=0.0, n_problems=800, z=z, rng=rng, rho=0.4)
        write_run(path, records, train_langs=langs)

    write(study.base_run, base)
    rows = []
    for run in study.run_table():
        langs = study.cfg.train_langs(run.x)
        write(run.run_dir, study_accuracies(base, langs, (run.x + 1) ** beta, seen_gain=0.4), langs)
        # As an arm report writes it: the run's folder and its training languages.
        rows.append({"run": run.run_dir.name, "X": run.x + 1, "mti": 1.0})
    table = study.out / "report" / "grpo" / "tables" / "runs.csv"
    table.parent.mkdir(parents=True)
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return study


def test_two_organisms_pool_into_one_runs_table_and_one_set_of_verdicts(tmp_path: Path) -> None:
    a = organism_study(tmp_path, "org-a", 0.6, 0.0, seed=1)
    b = organism_study(tmp_path, "org-b", 0.6, 0.05, seed=2)
    vs = pool_studies([a, b], tmp_path / "pooled", n_boot=150)
    with (tmp_path / "pooled" / "runs.csv").open() as handle:
        runs = list(csv.DictReader(handle))
    assert len(runs) == 2 * 4 * 2
    assert list(runs[0])[:5] == ["organism", "arm", "run", "x", "seed"]
    assert {r["organism"] for r in runs} == {"org-a", "org-b"}
    # X and seed come from the study's run table, matched by the run's folder.
    assert {(r["run"], r["x"], r["seed"]) for r in runs} == {
        (f"X{x}-s{s}", str(x), str(s)) for x in range(4) for s in range(2)
    }
    assert all(int(r["X"]) == int(r["x"]) + 1 for r in runs)
    assert vs.organisms == ["org-a", "org-b"]
    law = next(v for v in vs.rows if v.key == "mti_law")
    assert "(2 + 2 seeds over organisms per cell)" in law.cells
    assert law.estimate.value == pytest.approx(0.6, abs=0.25)
    with (tmp_path / "pooled" / "verdicts.csv").open() as handle:
        keys = {row["finding"].split(":")[0] for row in csv.DictReader(handle)}
    assert {"MTI law", "Accuracy law", "Monolingual gap"} <= keys
    with (tmp_path / "pooled" / "cells.csv").open() as handle:
        cells = {int(r["x"]): r for r in csv.DictReader(handle)}
    assert sorted(cells) == [0, 1, 2, 3]
    x3 = cells[3]
    assert (x3["organisms"], x3["runs"]) == ("2", "4")
    # Every unseen language gains mti·s, so the MTI over the fixed unseen set (the
    # languages no cell trains on) is today's MTI; the absolute one weighs base accuracy.
    assert float(x3["mti_fixed_unseen"]) == pytest.approx(float(x3["mti"]), rel=0.1)
    assert float(x3["mti"]) == pytest.approx(4**0.6, rel=0.25)
    assert float(x3["mti_lo"]) < float(x3["mti"]) < float(x3["mti_hi"])
    assert float(x3["unseen_gain"]) > 0 and float(x3["seen_gain"]) > 0
    meta = json.loads((tmp_path / "pooled" / "verdicts.json").read_text())["meta"]
    assert "organisms resampled" in meta["scheme"]
    assert (
        "independently pretrained organisms (org-a, org-b)"
        in (tmp_path / "pooled" / "verdicts.md").read_text()
    )


def test_pooling_refuses_studies_of_another_design(tmp_path: Path) -> None:
    a = organism_study(tmp_path, "org-a", 0.5, 0.0, seed=1)
    with pytest.raises(XlingError, match="at least two"):
        pool_studies([a], tmp_path / "p")
    other = Study(replace(a.cfg, out=str(tmp_path / "org-c"), x_values=(0, 1)))
    with pytest.raises(XlingError, match="x_values"):
        pool_studies([a, other], tmp_path / "p")
    twin = Study(replace(a.cfg, out=str(tmp_path / "x" / "org-a")))
    with pytest.raises(XlingError, match="different names"):
        pool_studies([a, twin], tmp_path / "p")
    stray = organism_study(tmp_path, "org-e", 0.5, 0.0, seed=3)
    table = stray.out / "report" / "grpo" / "tables" / "runs.csv"
    table.write_text(table.read_text() + "X9-s0,10,1.0\n")
    with pytest.raises(XlingError, match="'X9-s0' is not a run of arm grpo"):
        pool_studies([a, stray], tmp_path / "p")
    missing = Study(replace(a.cfg, out=str(tmp_path / "org-d")))
    with pytest.raises(XlingError, match="run the study's reports first"):
        pool_studies([a, missing], tmp_path / "p")
