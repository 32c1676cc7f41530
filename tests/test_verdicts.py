"""Verdicts v2: each finding as a paired difference with its CI, p-value and Holm adjustment,
on synthetic runs written to disk with known MTIs."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from xling.analysis.paper import StudyArm, write_study_summary
from xling.analysis.synthetic import run_records, study_accuracies, write_run
from xling.analysis.verdicts import (
    COLUMNS,
    OUTCOMES,
    StudyRun,
    bootstrap_p,
    build_cell_cube,
    compute_verdicts,
    holm,
)
from xling.errors import XlingError
from xling.study import Study, StudyConfig

BASE = {"en": 0.5, "es": 0.45, "ru": 0.4, "bn": 0.3, "sw": 0.3, "te": 0.3}
TRAIN = {0: ("en",), 1: ("en", "es"), 2: ("en", "es", "ru")}
ARMS = [
    StudyArm("grpo", "grpo", None, False),
    StudyArm("shuf", "grpo", None, True),
    StudyArm("sft", "sft", None, False),
    StudyArm("inst", "grpo", "instruct", False),
]
N_BOOT = 400


class Writer:
    """Runs on disk that share one latent problem difficulty z (parallel problems)."""

    def __init__(self, root: Path, n: int = 300, rho: float = 0.5, seed: int = 0) -> None:
        self.root = root
        self.n = n
        self.rho = rho
        self.rng = np.random.default_rng(seed)
        self.z = self.rng.standard_normal(n)

    def run(self, name: str, acc: dict[str, float], train=None) -> Path:
        records = run_records(acc, off=0.0, n_problems=self.n, z=self.z, rng=self.rng, rho=self.rho)
        return write_run(self.root / name, records, train_langs=train)

    def trained(self, name: str, x: int, mti: float, base=BASE, seen_gain: float = 0.3) -> Path:
        acc = study_accuracies(base, TRAIN[x], mti, seen_gain=seen_gain)
        return self.run(name, acc, TRAIN[x])


def by_key(vs) -> dict:
    return {v.key: v for v in vs.rows}


def study(tmp_path: Path, par: float, shuf: float, sft_low: float, inst: float) -> list:
    """grpo (MTI 1.0 at X=0, `par` at X=1,2), shuf (`shuf` at X=1,2; X=0 shares grpo's
    run as the pipeline does), sft (low-resource accuracy + `sft_low`) and inst (MTI `inst`
    at X=0 from its own base)."""
    w = Writer(tmp_path)
    base = w.run("base", BASE)
    inst_base_acc = {k: v + 0.1 for k, v in BASE.items()}
    inst_base = w.run("base-instruct", inst_base_acc)
    runs = [StudyRun("grpo", 0, 0, w.trained("grpo/X0", 0, 1.0), base)]
    runs.append(StudyRun("shuf", 0, 0, runs[0].run_dir, base))
    for x in (1, 2):
        runs.append(StudyRun("grpo", x, 0, w.trained(f"grpo/X{x}", x, par), base))
        runs.append(StudyRun("shuf", x, 0, w.trained(f"shuf/X{x}", x, shuf), base))
    for x in (0, 1):
        acc = study_accuracies(BASE, TRAIN[x], 1.0, seen_gain=0.3)
        acc |= {lang: BASE[lang] + sft_low for lang in ("bn", "sw", "te")}
        runs.append(StudyRun("sft", x, 0, w.run(f"sft/X{x}", acc, TRAIN[x]), base))
    runs.append(
        StudyRun("inst", 0, 0, w.trained("inst/X0", 0, inst, base=inst_base_acc), inst_base)
    )
    return runs


def test_clear_findings_reproduce_with_cis_that_exclude_zero(tmp_path: Path) -> None:
    runs = study(tmp_path, par=2.5, shuf=0.5, sft_low=-0.15, inst=0.2)
    vs = compute_verdicts(runs, ARMS, n_boot=N_BOOT, seed=0)
    v = by_key(vs)
    assert [r.key for r in vs.rows if r.family] == [
        "parallel_vs_shuffled",
        "sft_vs_rl",
        "base_vs_instruct_relative",
        "leap",
        "mti_law",
        "accuracy_law",
        "gap",
    ]
    # Two parallel settings (X = 1, 2) cannot fix a law: undefined, and out of Holm's count.
    for key in ("mti_law", "accuracy_law", "gap"):
        assert v[key].verdict == "undefined" and v[key].p_holm is None
        assert "a law needs 3" in v[key].cells
    for key in ("parallel_vs_shuffled", "sft_vs_rl", "base_vs_instruct_relative", "leap"):
        e = v[key].estimate
        assert v[key].verdict == "reproduces", (key, v[key].row())
        assert e.lo is not None and e.hi is not None and not e.lo <= 0 <= e.hi, key
        assert v[key].p_holm is not None and v[key].p_holm <= 0.05
    assert v["parallel_vs_shuffled"].estimate.value == pytest.approx(2.0, abs=0.6)
    assert v["sft_vs_rl"].estimate.value < 0
    # The shared X=0 run: its per-X difference is exactly 0 in every replicate.
    x0 = v["parallel_vs_shuffled_x0"].estimate
    assert x0.value == 0 and x0.lo == 0 and x0.hi == 0
    assert v["parallel_vs_shuffled_x0"].verdict == "inconclusive"
    assert "0 by construction" in v["parallel_vs_shuffled_x0"].cells
    assert "X=1,2" in v["parallel_vs_shuffled"].cells  # X=0 is not pooled
    assert "X=0,1" in v["sft_vs_rl"].cells and "bn,sw,te" in v["sft_vs_rl"].cells
    assert v["base_vs_instruct_absolute"].p_holm is None  # outside the family
    assert v["sft_vs_rl"].denominator_le0_share is None  # not a ratio
    assert v["leap"].denominator_le0_share == 0.0


LAW_LANGS = ("en", "es", "ru", "bn", "sw", "te")


def law_study(
    w: Writer, base: Path, beta: float, prefix: str = "", organism: str = "", jitter=0.0
) -> list[StudyRun]:
    """The main arm at X = 0..4 with MTI 1.0·(X + 1)^beta (X + 1 training languages), two
    seeds, the mean accuracy rising with X; `jitter` shifts this organism's MTIs."""
    runs = []
    for x in range(5):
        langs = LAW_LANGS[: x + 1]
        mti = (1.0 + jitter) * (x + 1) ** beta
        for seed in (0, 1):
            acc = study_accuracies(BASE, langs, mti, seen_gain=0.5 + 0.02 * x)
            path = w.run(f"{prefix}grpo/X{x}-s{seed}", acc, langs)
            runs.append(StudyRun("grpo", x, seed, path, base, organism))
    return runs


def test_the_laws_are_refitted_on_every_replicate(tmp_path: Path) -> None:
    w = Writer(tmp_path, n=1500, rho=0.3)
    base = w.run("base", BASE)
    v = by_key(compute_verdicts(law_study(w, base, 0.5), ARMS[:1], n_boot=200, seed=0))
    law = v["mti_law"]
    assert law.family and law.p_holm is not None
    assert law.estimate.value == pytest.approx(0.5, abs=0.15)
    assert law.estimate.lo > 0 and law.p is not None and law.p <= 0.05, law.row()
    assert law.verdict in ("reproduces", "inconclusive")  # Holm may take p above 0.05
    assert "X=0,1,2,3,4" in law.cells and "2 seed(s) per cell" in law.cells
    assert v["accuracy_law"].estimate.value > 0  # every language gains more as X grows
    # The gap: the accuracy law at one training language minus the English-only cell.
    gap = v["gap"].estimate
    assert gap.defined and gap.lo is not None and gap.lo <= gap.value <= gap.hi

    flat = by_key(compute_verdicts(law_study(w, base, 0.0, "flat-"), ARMS[:1], n_boot=200))
    e = flat["mti_law"].estimate
    assert e.lo is not None and e.lo <= 0 <= e.hi and abs(e.value) < 0.2
    assert flat["mti_law"].verdict == "inconclusive"


def test_organisms_pool_their_own_gains_and_widen_the_cis(tmp_path: Path) -> None:
    """Two organisms, each measured against its own base: a cell's gain is the mean of
    theirs, and resampling organisms widens a CI when they disagree."""
    w = Writer(tmp_path, n=600)
    base_a = w.run("a/base", BASE)
    base_b = w.run("b/base", {k: v + 0.1 for k, v in BASE.items()})
    runs_a = law_study(w, base_a, 0.4, "a/", "a", jitter=-0.4)
    runs_b = law_study(w, base_b, 0.4, "b/", "b", jitter=+0.4)
    both = build_cell_cube(runs_a + runs_b, n_boot=300, seed=0)
    alone_a = build_cell_cube(runs_a, n_boot=300, seed=0)
    alone_b = build_cell_cube(runs_b, n_boot=300, seed=0)
    assert both.organisms == ["a", "b"] and len(both.cell("grpo", 2).members) == 2
    langs = ["es", "sw"]
    pooled = both.mean_gain("grpo", 2, langs)[0]
    separate = (alone_a.mean_gain("grpo", 2, langs)[0] + alone_b.mean_gain("grpo", 2, langs)[0]) / 2
    assert pooled == pytest.approx(separate)
    fixed = build_cell_cube(runs_a + runs_b, n_boot=300, seed=0, resample_organisms=False)

    def width(cube) -> float:
        mti, why = cube.mti("grpo", 2, "relative")
        assert why is None
        lo, hi = np.nanpercentile(mti[1:], [2.5, 97.5])
        return hi - lo

    assert width(both) > 1.5 * width(fixed)
    # Organism draws that take one organism twice give that organism's value.
    weights = both._organism_weights
    only_a = np.flatnonzero(weights[:, 1] == 0)
    assert only_a.size > 0
    a_mti = alone_a.mti("grpo", 2, "relative")[0]
    assert np.all(np.abs(both.mti("grpo", 2, "relative")[0][1 + only_a] - a_mti[0]) < 0.6)


def test_each_verdict_carries_the_mechanism_the_study_file_names(tmp_path: Path) -> None:
    runs = study(tmp_path, par=2.5, shuf=0.5, sft_low=-0.15, inst=0.2)
    said = {"parallel_vs_shuffled": "worded steps", "gap": "none: no monolingual point"}
    v = by_key(compute_verdicts(runs, ARMS, n_boot=50, seed=0, mechanisms=said))
    assert v["parallel_vs_shuffled"].mechanism == "worded steps"
    assert v["parallel_vs_shuffled_x1"].mechanism == "worded steps"  # its per-X rows too
    assert v["gap"].row()["mechanism"] == "none: no monolingual point"
    assert v["leap"].mechanism == ""
    with pytest.raises(XlingError, match=r"unknown finding.*mti_lw"):
        compute_verdicts(runs, ARMS, n_boot=50, mechanisms={"mti_lw": "typo"})
    with pytest.raises(XlingError, match="unknown finding"):
        StudyConfig(base_model="m", report={"mechanisms": {"leep": "x"}})


def test_equal_arms_are_inconclusive(tmp_path: Path) -> None:
    runs = study(tmp_path, par=1.5, shuf=1.5, sft_low=0.05, inst=1.0)
    v = by_key(compute_verdicts(runs, ARMS, n_boot=N_BOOT, seed=0))
    e = v["parallel_vs_shuffled"].estimate
    assert e.lo is not None and e.hi is not None and e.lo <= 0 <= e.hi
    assert v["parallel_vs_shuffled"].verdict == "inconclusive"
    assert v["parallel_vs_shuffled"].p > 0.05


def test_opposite_signs_are_refuted(tmp_path: Path) -> None:
    runs = study(tmp_path, par=0.5, shuf=2.5, sft_low=0.25, inst=2.5)
    v = by_key(compute_verdicts(runs, ARMS, n_boot=N_BOOT, seed=0))
    for key in ("parallel_vs_shuffled", "sft_vs_rl", "base_vs_instruct_relative", "leap"):
        assert v[key].verdict == "refuted", (key, v[key].row())
    assert v["parallel_vs_shuffled"].estimate.hi < 0
    assert v["sft_vs_rl"].estimate.lo > 0  # SFT helps low-resource more than RL


def test_outcomes_say_in_plain_words_what_the_verdicts_mean(tmp_path: Path) -> None:
    def judged(folder: str, mechanisms: dict[str, str] | None = None, **effects: float):
        runs = study(tmp_path / folder, **effects)
        return by_key(compute_verdicts(runs, ARMS, n_boot=N_BOOT, seed=0, mechanisms=mechanisms))

    said = {"gap": "none: no monolingual point", "leap": "shared steps"}
    refuted = judged("r", said, par=0.5, shuf=2.5, sft_low=0.25, inst=2.5)
    assert refuted["sft_vs_rl"].outcome == "refuted"
    assert "excludes 0" in refuted["sft_vs_rl"].outcome_reason
    # The study file says the testbed cannot produce it, whatever the numbers say.
    assert refuted["gap"].outcome == "cannot test"
    assert refuted["gap"].outcome_reason == "none: no monolingual point"
    assert refuted["leap"].row()["outcome"] == "refuted"

    equal = judged("e", par=1.5, shuf=1.5, sft_low=0.05, inst=1.0)
    assert equal["parallel_vs_shuffled"].outcome == "not settled"
    assert "includes 0" in equal["parallel_vs_shuffled"].outcome_reason


def test_an_unbounded_or_undefined_difference_cannot_be_tested() -> None:
    from xling.analysis.bootstrap import Estimate
    from xling.analysis.verdicts import Verdict, outcome

    def verdict(estimate: Estimate) -> Verdict:
        return Verdict("k", "f", "p", +1, estimate, 0.5, 0.4, "cells", family=True)

    unbounded = Estimate(0.5, None, None, reason="CI unbounded: denominator ≤ 0 in 44%")
    assert outcome(verdict(unbounded)) == ("cannot test", unbounded.reason)
    undefined = Estimate(None, reason="no runs at X = 1")
    assert outcome(verdict(undefined)) == ("cannot test", "undefined: no runs at X = 1")
    bounded = verdict(Estimate(0.5, 0.1, 0.9))
    bounded.p_holm = 0.2
    assert outcome(bounded) == ("not settled", "Holm-adjusted p = 0.2 is above α")


def test_holm_matches_a_hand_computation() -> None:
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # None is not a family member: m = 2 here.
    assert holm([0.5, None, 0.6]) == [1.0, None, 1.0]
    adjusted = holm([0.7, 0.8, 0.001])
    assert adjusted == pytest.approx([1.0, 1.0, 0.003])  # capped at 1 and monotone
    raw = [0.02, 0.011, 0.3, 0.012, 0.0001]
    adj = holm(raw)
    order = np.argsort(raw)
    assert all(adj[i] >= raw[i] for i in range(len(raw)))
    assert all(adj[a] <= adj[b] for a, b in itertools.pairwise(order))
    with pytest.raises(XlingError):
        holm([1.5])


def test_bootstrap_p_is_two_sided_and_floored() -> None:
    assert bootstrap_p(np.full(99, 0.3)) == pytest.approx(1 / 100)
    assert bootstrap_p(np.array([-1.0, 1.0, np.nan])) == 1.0
    assert bootstrap_p(np.r_[np.full(90, 1.0), np.full(10, -1.0)]) == pytest.approx(0.2)
    assert bootstrap_p(np.array([np.nan])) is None


def width(e) -> float:
    assert e.lo is not None and e.hi is not None
    return e.hi - e.lo


def test_seed_resampling_widens_the_ci_when_seeds_disagree(tmp_path: Path) -> None:
    w = Writer(tmp_path, n=400)
    base = w.run("base", BASE)
    two = [
        StudyRun("grpo", 1, 0, w.trained("grpo/X1-s0", 1, 3.0), base),
        StudyRun("grpo", 1, 1, w.trained("grpo/X1-s1", 1, 1.0), base),
        StudyRun("shuf", 1, 0, w.trained("shuf/X1", 1, 1.0), base),
    ]
    one = [StudyRun("grpo", 1, 0, w.trained("grpo/X1-one", 1, 2.0), base), two[2]]

    def ci(runs, resample_seeds=True):
        vs = compute_verdicts(runs, ARMS, n_boot=N_BOOT, seed=0, resample_seeds=resample_seeds)
        return by_key(vs)["parallel_vs_shuffled_x1"]

    hier, flat, single = ci(two), ci(two, resample_seeds=False), ci(one)
    assert "runs: grpo X=1: 2 seed(s), shuf X=1: 1 seed(s)" in hier.cells
    assert hier.estimate.value == pytest.approx(single.estimate.value, abs=0.5)
    assert width(hier.estimate) > 1.5 * width(flat.estimate)
    assert width(hier.estimate) > 1.5 * width(single.estimate)


def test_one_cube_pairs_runs_that_share_problem_noise(tmp_path: Path) -> None:
    w = Writer(tmp_path, rho=0.9)
    base = w.run("base", BASE)
    par = StudyRun("grpo", 1, 0, w.trained("grpo/X1", 1, 2.0), base)
    shuf = StudyRun("shuf", 1, 0, w.trained("shuf/X1", 1, 1.6), base)

    joint = build_cell_cube([par, shuf], n_boot=N_BOOT, seed=0)
    paired = joint.mti("grpo", 1, "relative")[0] - joint.mti("shuf", 1, "relative")[0]
    # Unpaired: each arm in a cube of its own, its problems drawn independently.
    alone_a = build_cell_cube([par], n_boot=N_BOOT, seed=1)
    alone_b = build_cell_cube([shuf], n_boot=N_BOOT, seed=2)
    unpaired = alone_a.mti("grpo", 1, "relative")[0] - alone_b.mti("shuf", 1, "relative")[0]
    assert paired[0] == pytest.approx(unpaired[0])  # the same point estimate

    def spread(reps: np.ndarray) -> float:
        lo, hi = np.nanpercentile(reps[1:], [2.5, 97.5])
        return float(hi - lo)

    assert spread(paired) < 0.8 * spread(unpaired)  # 0.63 of it here


def test_a_cell_needs_consistent_seed_runs(tmp_path: Path) -> None:
    w = Writer(tmp_path, n=30)
    base = w.run("base", BASE)
    r0 = w.trained("grpo/X1-s0", 1, 1.0)
    with pytest.raises(XlingError, match="seed listed twice"):
        build_cell_cube([StudyRun("grpo", 1, 0, r0, base), StudyRun("grpo", 1, 0, r0, base)])
    r1 = w.trained("grpo/X1-s1", 2, 1.0)
    with pytest.raises(XlingError, match="different languages"):
        build_cell_cube([StudyRun("grpo", 1, 0, r0, base), StudyRun("grpo", 1, 1, r1, base)])


def test_the_study_summary_writes_verdicts_from_the_run_folders(tmp_path: Path) -> None:
    cfg = StudyConfig(
        name="t",
        base_model="m",
        out=str(tmp_path / "out"),
        x_values=(0, 1),
        parallel_order=("es", "ru", "de", "fr", "bn", "th", "zh"),
        arms=(
            {"name": "grpo", "method": "grpo"},
            {"name": "shuf", "method": "grpo", "train_data": {"shuffle_ids": True}},
            {"name": "sft", "method": "sft"},
            {"name": "inst", "method": "grpo", "base_stage": "instruct", "x_values": [0]},
        ),
    )
    st = Study(cfg)
    table = st.run_table()
    cells = {(r.arm, r.x): r for r in table}
    assert set(cells) == {("grpo", 0), ("grpo", 1), ("shuf", 0), ("shuf", 1)} | {
        ("sft", 0),
        ("sft", 1),
        ("inst", 0),
    }
    # The shuffled control's X=0 run is the main arm's (one language: nothing to shuffle).
    assert cells[("shuf", 0)].run_dir == cells[("grpo", 0)].run_dir == st.out / "grpo" / "X0"
    assert cells[("shuf", 1)].run_dir == st.out / "shuf" / "X1"
    assert cells[("inst", 0)].base_dir == st.out / "base-instruct"
    assert cells[("sft", 1)].base_dir == st.out / "base"

    w = Writer(st.out, n=200)
    w.run("base", BASE)
    w.run("base-instruct", BASE)
    mti = {"grpo": 2.0, "shuf": 1.0, "sft": 1.0, "inst": 1.0}
    for r in table:
        if not (r.run_dir / "scores.jsonl").exists():
            w.trained(str(r.run_dir.relative_to(st.out)), r.x, mti[r.arm] if r.x else 1.0)
    st._summary()

    report = st.out / "report"
    with (report / "verdicts.csv").open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == COLUMNS
    assert rows[0]["finding"].startswith("Parallel − shuffled MTI")
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    assert [r["finding"] for r in summary["verdicts"]] == [r["finding"] for r in rows]
    assert summary["verdicts_meta"]["n_boot"] == cfg.report.n_boot
    assert summary["paper"] == []  # no arm report was written: the old rows stay as they are
    md = (report / "summary.md").read_text(encoding="utf-8")
    assert "## Verdicts (paired CIs, Holm-adjusted)" in md and "| p_holm |" in md
    plain = md.split("In plain words")[1].split("| finding |")[0]
    family = [r for r in rows if r["p_holm"]]
    assert family and all(r["outcome"] in OUTCOMES for r in rows)
    for r in family:  # each finding of the family, listed under its outcome
        assert r["finding"] in plain and f"**{r['outcome'].capitalize()}:**" in plain
    for outcome in set(OUTCOMES) - {r["outcome"] for r in family}:  # said to be empty
        assert f"**{outcome.capitalize()}:** none." in plain
    assert all(f"**{outcome.capitalize()}:**" in plain for outcome in OUTCOMES)
    assert (report / "summary.csv").exists()


def test_summary_without_runs_has_no_verdicts_and_errors_do_not_stop_it(tmp_path: Path) -> None:
    report = tmp_path / "report"
    report.mkdir()
    payload = write_study_summary("t", ARMS, report)
    assert "verdicts" not in payload and not (report / "verdicts.csv").exists()
    missing = [StudyRun("grpo", 0, 0, tmp_path / "nope", tmp_path / "base")]
    payload = write_study_summary("t", ARMS, report, missing, n_boot=10)
    assert payload["verdicts"] == [] and "no runs given" in payload["verdicts_meta"]["error"]
    assert "_not computed: no runs given_" in (report / "summary.md").read_text()
