"""bench/organism_dose_table.py: the dose-response table of a study grid, also of one cut
short (its unevaluated cells shown as missing, not a crash)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import bench_module

from xling.analysis.synthetic import DEMO_BASE, run_records, study_accuracies, write_run
from xling.study import Study, load_study_config


def test_dose_table_of_a_grid_cut_short(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    table = bench_module("organism_dose_table")
    toml = tmp_path / "grid.toml"
    budgets = "".join(
        f'[[arms]]\nname = "s{steps}-lr1e-4"\n'
        f"train = {{ max_steps = {steps}, learning_rate = 1e-4 }}\n"
        f'[[arms]]\nname = "s{steps}-lr1e-4-shuffled"\nx_values = [7]\n'
        f"train_data = {{ shuffle_ids = true }}\n"
        f"train = {{ max_steps = {steps}, learning_rate = 1e-4 }}\n"
        for steps in (8, 16)
    )
    toml.write_text(
        f'base_model = "org"\nout = "{tmp_path / "grid"}"\nx_values = [0, 7]\n'
        f"[report]\nn_boot = 200\n{budgets}"
    )
    study = Study(load_study_config(toml))
    rng = np.random.default_rng(0)
    z = rng.standard_normal(400)
    write_run(study.base_run, run_records(DEMO_BASE, off=0.0, n_problems=400, z=z, rng=rng))
    # Every run but the s16 budget's X = 7 pair is trained and evaluated.
    for slot, run in zip(study.slots(), study.run_table(), strict=True):
        if run.arm.startswith("s16") and run.x == 7:
            continue
        langs = study.cfg.train_langs(run.x)
        acc = study_accuracies(DEMO_BASE, langs, 0.8, seen_gain=0.1)
        records = run_records(acc, off=0.0, n_problems=400, z=z, rng=rng)
        write_run(run.run_dir, records, train_langs=langs)
        marker = study.marker(study.eval_step(slot))
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({}))
    assert table.main(["dose", str(toml), str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "not evaluated yet: s16-lr1e-4 X=7" in err
    assert "s8-lr1e-4 X=" not in err
    with (tmp_path / "out" / "dose.csv").open() as handle:
        rows = {r["arm"]: r for r in csv.DictReader(handle)}
    assert set(rows) == {"s8-lr1e-4", "s16-lr1e-4"}
    assert (rows["s8-lr1e-4"]["steps"], rows["s16-lr1e-4"]["lr"]) == ("8", "0.0001")
    # The finished budget has both cells and the X = 7 parallel − shuffled difference; the
    # one cut short has its X = 0 cell only.
    assert float(rows["s8-lr1e-4"]["x0_seen_gain"]) > 0
    assert rows["s8-lr1e-4"]["x7_mti"] and rows["s8-lr1e-4"]["x7_par_minus_shuf"]
    assert rows["s16-lr1e-4"]["x0_mti"] and not rows["s16-lr1e-4"]["x7_mti"]
    assert not rows["s16-lr1e-4"].get("x7_par_minus_shuf")
    md = (tmp_path / "out" / "dose.md").read_text().splitlines()
    cut_short = next(line for line in md if line.startswith("| 16 | 0.0001 |"))
    assert cut_short.endswith("| – | – | – | – |")  # X = 7: seen, unseen, MTI, difference
