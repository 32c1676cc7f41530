"""The study pipeline on the micro preset: bundled organism, synthetic benchmark, two X values.

One test kills the run with SIGKILL part-way, reruns it, and checks that it finishes with the
report and that nothing finished before the kill was redone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from xling.errors import XlingError
from xling.study import Study, StudyConfig, load_study_config, shipped_study


def xling(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "xling.cli", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, f"xling {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.slow
def test_micro_study_resumes_after_kill_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "study"
    study_file = str(shipped_study("micro"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "xling.cli", "study", "run", study_file, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    steps_dir = out / "steps"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if steps_dir.exists() and len(list(steps_dir.glob("*.json"))) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the study finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {p.name: p.read_text() for p in steps_dir.glob("*.json")}
    base_generations = (out / "base" / "generations.jsonl").read_bytes()
    assert "eval_base.json" in before

    status = xling("study", "status", study_file, "--out", str(out)).stdout
    assert "pending" in status and f"{len(before)}/" in status

    result = xling("study", "run", study_file, "--out", str(out))
    after = {p.name: p.read_text() for p in steps_dir.glob("*.json")}
    assert {k: after[k] for k in before} == before  # finished steps were not redone
    assert (out / "base" / "generations.jsonl").read_bytes() == base_generations
    expected = {
        "bench",
        "eval_base",
        "data_X0",
        "train_grpo_X0",
        "eval_grpo_X0",
        "data_X1",
        "train_grpo_X1",
        "eval_grpo_X1",
        "report_grpo",
    }
    assert {Path(name).stem for name in after} == expected

    report = out / "report" / "grpo"
    for name in (
        "report.html",
        "report.md",
        "summary.json",
        "tables/runs.csv",
        "figures/accuracy_by_language.png",
    ):
        assert (report / name).exists(), name
    train = json.loads((out / "grpo" / "X1" / "train.json").read_text())
    assert train["train_langs"] == ["en", "es"] and train["num_parallel_langs"] == 1
    # The trained model's card has its held-out accuracy beside the base model's.
    (card,) = (out / "train").glob("*X1/final/README.md")
    text = card.read_text(encoding="utf-8")
    assert "## Held-out results" in text and "| bn |" in text
    assert "English (en), Spanish (es)" in text
    assert any((out / "train").glob("*X1/env.json"))
    assert (out / "grpo" / "X1" / "env.json").is_file()
    assert "accuracy % by language" in result.stdout and "MTI per X" in result.stdout
    assert "Bengali" in result.stdout

    status = xling("study", "status", study_file, "--out", str(out)).stdout
    assert f"{len(expected)}/{len(expected)} steps done" in status


def test_study_config_validation(tmp_path: Path) -> None:
    with pytest.raises(XlingError, match="out of range"):
        StudyConfig(x_values=(0, 8))
    with pytest.raises(XlingError, match="unknown method"):
        StudyConfig(methods=("ppo",))
    with pytest.raises(XlingError, match="unknown language code 'xx'"):
        StudyConfig(parallel_order=("es", "xx"))
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nmodel = "m"\n')
    with pytest.raises(XlingError, match="unknown key"):
        load_study_config(bad)
    with pytest.raises(XlingError, match="not found"):
        load_study_config(tmp_path / "missing.toml")


def test_steps_follow_the_grid_and_share_data_between_methods() -> None:
    cfg = StudyConfig(
        base_model="m", x_values=(0, 2), methods=("grpo", "sft"), synthetic={"n_train": 1}
    )
    names = [s.name for s in Study(cfg).steps()]
    assert names[:2] == ["bench", "eval:base"]
    assert names.count("data:X2") == 1
    assert {"train:grpo:X2", "train:sft:X2", "eval:sft:X0", "report:sft"} <= set(names)
    assert cfg.train_langs(2) == ("en", "es", "ru")


def test_set_overrides_merge_into_tables_and_keep_the_rest() -> None:
    full = shipped_study("full")
    cfg = load_study_config(
        full,
        [
            "grpo.learning_rate=3e-4",
            "x_values=[0, 1]",
            "train_data.budget=per-lang",  # not TOML: taken as a plain string
            "eval.batch_size = 64",
        ],
        out="/tmp/elsewhere",
    )
    assert cfg.grpo["learning_rate"] == pytest.approx(3e-4)
    assert cfg.grpo["num_generations"] == 16  # untouched keys of the table survive
    assert cfg.x_values == (0, 1)
    shipped_n = tomllib.loads(full.read_text())["train_data"]["n"]
    # n survives the override
    assert cfg.train_data.given() == {"n": shipped_n, "budget": "per-lang"}
    assert cfg.eval["batch_size"] == 64
    assert cfg.out == "/tmp/elsewhere"


def test_set_overrides_report_bad_input() -> None:
    full = shipped_study("full")
    with pytest.raises(XlingError, match="expected key=value"):
        load_study_config(full, ["learning_rate"])
    with pytest.raises(XlingError, match="'name' is not a table"):
        load_study_config(full, ["name=x", "name.sub=1"])
    with pytest.raises(XlingError, match="unknown key"):
        load_study_config(full, ["epochs=3"])


def test_set_reaches_the_cli(tmp_path: Path) -> None:
    status = xling(
        "study",
        "status",
        str(shipped_study("micro")),
        "--out",
        str(tmp_path),
        "--set",
        "x_values=[0]",
    ).stdout
    assert "GRPO on X0" in status and "X1" not in status


ARMS = (
    {"name": "grpo", "method": "grpo"},
    {"name": "grpo-shuffled", "method": "grpo", "train_data": {"shuffle_ids": True}},
    {"name": "grpo-per-lang", "method": "grpo", "train_data": {"budget": "per-lang", "n": 2}},
    {"name": "sft", "method": "sft"},
    {"name": "instruct-grpo", "method": "grpo", "base_stage": "instruct", "x_values": [0]},
)


def arms_study(tmp_path: Path | None = None) -> Study:
    cfg = StudyConfig(
        base_model="m",
        out=str(tmp_path or "/tmp/unused"),
        x_values=(0, 1),
        synthetic={"n_train": 4},
        train_data={"n": 4, "budget": "fixed"},
        arms=ARMS,
    )
    return Study(cfg)


def test_arms_share_identical_runs_and_name_their_data() -> None:
    study = arms_study()
    names = [s.name for s in study.steps()]
    assert names[:4] == ["bench", "eval:base", "stage:instruct", "eval:base:instruct"]
    assert names[-1] == "summary"
    # X0 of the shuffled control is X0 of the parallel arm (one language: nothing to shuffle).
    assert "train:grpo-shuffled:X0" not in names and "train:grpo-shuffled:X1" in names
    shuffled_x0 = next(s for s in study.slots() if s.arm.name == "grpo-shuffled" and s.x == 0)
    assert shuffled_x0.owner == "grpo" and study.run_dir(shuffled_x0).parts[-2:] == ("grpo", "X0")
    # Other data gets its own files; SFT shares the study's data with GRPO.
    assert {"data:X0", "data:X1", "data:grpo-shuffled-X1", "data:grpo-per-lang-X0"} <= set(names)
    assert "data:grpo-shuffled-X0" not in names
    assert {"train:sft:X0", "train:instruct-grpo:X0", "report:instruct-grpo"} <= set(names)
    assert "train:instruct-grpo:X1" not in names  # the arm's own x_values


def test_steps_for_selects_what_an_arm_needs() -> None:
    study = arms_study()
    names = [s.name for s in study.steps_for(["grpo-shuffled"])]
    assert names == [
        "bench",
        "eval:base",
        "data:X0",
        "train:grpo:X0",
        "eval:grpo:X0",
        "data:grpo-shuffled-X1",
        "train:grpo-shuffled:X1",
        "eval:grpo-shuffled:X1",
        "report:grpo-shuffled",
    ]
    staged = [s.name for s in study.steps_for(["instruct-grpo"])]
    assert staged[:4] == ["bench", "eval:base", "stage:instruct", "eval:base:instruct"]
    with pytest.raises(XlingError, match="unknown arm"):
        study.steps_for(["nope"])


def test_train_and_eval_step_name_the_steps_the_pipeline_runs() -> None:
    study = arms_study()
    by_name = {s.name: s for s in study.steps()}
    for slot in study.slots():
        train, evaluate = study.train_step(slot), study.eval_step(slot)
        assert {train, evaluate} <= set(by_name), (train, evaluate)
        assert by_name[evaluate].needs == (train,)
        assert evaluate in by_name[f"report:{slot.arm.name}"].needs
    shared = next(s for s in study.slots() if s.arm.name == "grpo-shuffled" and s.x == 0)
    assert (study.train_step(shared), study.eval_step(shared)) == ("train:grpo:X0", "eval:grpo:X0")
    # The marker files the pipeline writes (and the micro study's run checks) for a step.
    assert study.marker(study.eval_step(shared)).name == "eval_grpo_X0.json"


def test_an_arm_can_start_from_a_model_made_outside_the_study(tmp_path: Path) -> None:
    # Organism v3's instruct arm: a model distilled by `xling train sft`, evaluated as the
    # arm's own base, trained at X = 0 only; the main arm is untouched.
    instruct = {
        "name": "distilled-grpo",
        "method": "grpo",
        "base_model": "runs/v3 instruct/final",
        "x_values": [0],
    }
    cfg = StudyConfig(
        base_model="m",
        out=str(tmp_path),
        x_values=(0, 1),
        synthetic={"n_train": 4},
        train_data={"n": 4, "budget": "fixed"},
        arms=({"name": "grpo", "method": "grpo"}, instruct),
    )
    study = Study(cfg)
    arm = study.arms[1]
    assert arm.start == "model-runs-v3-instruct-final"
    assert arm.start_label == "v3 instruct"  # reports name the training, not its final/
    assert [a.base_stage for a in study.study_arms()] == [None, "v3 instruct"]
    assert study.model_of(arm.start) == "runs/v3 instruct/final"
    assert study.model_of(None) == "m"
    assert study.base_run_of(arm.start) == tmp_path / "base-model-runs-v3-instruct-final"
    names = [s.name for s in study.steps()]
    assert "eval:base:model-runs-v3-instruct-final" in names
    assert "train:distilled-grpo:X0" in names  # its own run: another start, another model
    assert [s.name for s in study.steps_for(["distilled-grpo"])][:3] == [
        "bench",
        "eval:base",
        "eval:base:model-runs-v3-instruct-final",
    ]
    table = {(r.arm, r.x): r.base_dir for r in study.run_table()}
    assert table[("distilled-grpo", 0)] == study.base_run_of(arm.start)
    assert table[("grpo", 0)] == study.base_run
    with pytest.raises(XlingError, match="not both"):
        StudyConfig(base_model="m", arms=({**instruct, "base_stage": "instruct"},))


def test_arm_validation() -> None:
    def make(*arms: dict) -> StudyConfig:
        return StudyConfig(base_model="m", arms=arms)

    with pytest.raises(XlingError, match="unique"):
        make({"name": "a"}, {"name": "a"})
    with pytest.raises(XlingError, match="unknown method"):
        make({"name": "a", "method": "ppo"})
    with pytest.raises(XlingError, match="unknown key"):
        make({"name": "a", "budget": "fixed"})
    with pytest.raises(XlingError, match="unknown organism preset"):
        make({"name": "a", "base_stage": "nope"})
    with pytest.raises(XlingError, match="agree on stage_options"):
        make(
            {"name": "a", "base_stage": "instruct"},
            {"name": "b", "base_stage": "instruct", "stage_options": {"steps": 1}},
        )
    with pytest.raises(XlingError, match="arm name"):
        make({"name": "../x"})
    with pytest.raises(XlingError, match="out of range"):
        make({"name": "a", "x_values": [9]})


def test_a_step_run_by_another_process_is_waited_for(tmp_path: Path) -> None:
    import threading

    from xling.study import Step

    study = arms_study(tmp_path)
    ran: list[str] = []
    steps = [Step(name, name, lambda name=name: ran.append(name)) for name in ("a", "b")]
    study.steps_for = lambda arms: steps  # type: ignore[method-assign]
    lock = study.marker("a").with_suffix(".lock")
    lock.parent.mkdir(parents=True)
    lock.write_text(str(os.getppid()))  # a live process other than this one holds step a

    def other_process_finishes() -> None:
        time.sleep(0.5)
        study.marker("a").write_text('{"step": "a"}')
        lock.unlink()

    threading.Thread(target=other_process_finishes).start()
    study.run()
    assert ran == ["b"]  # a was waited for, not run twice
    assert not list((tmp_path / "steps").glob("*.lock"))

    # A lock whose process is gone (a kill) is taken over.
    steps.append(Step("c", "c", lambda: ran.append("c")))
    study.marker("c").with_suffix(".lock").write_text("999999999")
    study.run()
    assert ran == ["b", "c"]


def a_runs_elsewhere(tmp_path: Path) -> tuple[Study, list[str], Path]:
    """Steps a, b (needs a) and c, whose run order is recorded; another live process holds
    step a's lock."""
    from xling.study import Step

    study = arms_study(tmp_path)
    ran: list[str] = []
    steps = [
        Step("a", "a", lambda: ran.append("a")),
        Step("b", "b", lambda: ran.append("b"), needs=("a",)),
        Step("c", "c", lambda: ran.append("c")),
    ]
    study.steps_for = lambda arms: steps  # type: ignore[method-assign]
    lock = study.marker("a").with_suffix(".lock")
    lock.parent.mkdir(parents=True)
    lock.write_text(str(os.getppid()))  # a live process other than this one
    return study, ran, lock


def test_a_process_runs_ready_steps_while_another_runs_what_they_wait_on(
    tmp_path: Path,
) -> None:
    import threading

    study, ran, lock = a_runs_elsewhere(tmp_path)

    def other_process_finishes() -> None:
        time.sleep(0.5)
        assert ran == ["c"]  # c did not wait behind a and b
        study.marker("a").write_text('{"step": "a"}')
        lock.unlink()

    threading.Thread(target=other_process_finishes).start()
    study.run()
    assert ran == ["c", "b"]


def test_without_waiting_a_process_leaves_what_others_run(tmp_path: Path) -> None:
    study, ran, lock = a_runs_elsewhere(tmp_path)
    # It runs what is ready (c), then leaves: a runs elsewhere and b waits on it.
    assert study.run(wait=False) is False
    assert ran == ["c"] and lock.exists()
    study.marker("a").write_text('{"step": "a"}')
    lock.unlink()
    assert study.run(wait=False) is True
    assert ran == ["c", "b"]


def test_every_step_needs_only_earlier_steps(tmp_path: Path) -> None:
    cfg = load_study_config(shipped_study("full"), ["seeds=[0,1]", "x_values=[0,1,2]"])
    steps = Study(replace(cfg, out=str(tmp_path / "s"))).steps()
    seen: set[str] = set()
    for step in steps:
        assert set(step.needs) <= seen, step.name
        seen.add(step.name)
    by_name = {s.name: s for s in steps}
    assert by_name["train:grpo:X1-s1"].needs == ("data:X1-s1",)
    assert by_name["eval:grpo:X1-s1"].needs == ("train:grpo:X1-s1",)
    assert "stage:instruct" in by_name["train:instruct-grpo:X0-s0"].needs
    report = set(by_name["report:grpo"].needs)
    assert report == {"eval:base"} | {f"eval:grpo:X{x}-s{s}" for x in (0, 1, 2) for s in (0, 1)}
    assert set(by_name["summary"].needs) == {f"report:{a.name}" for a in cfg.arm_list()}


def test_study_takes_benchmark_presets_for_eval_and_training_data(tmp_path: Path) -> None:
    cfg = StudyConfig(
        base_model="organism",
        out=str(tmp_path / "study"),
        x_values=(1,),
        train_data={"bench": "synth", "n": 3},
        eval={"bench": "aime24", "data": "translations/"},
    )
    study = Study(cfg)
    eval_cfg = study._eval_config("m", tmp_path / "run")
    # The preset's defaults, under what the study file says ("all" languages).
    assert (eval_cfg.bench, eval_cfg.n, eval_cfg.max_new_tokens) == ("aime24", 8, 16384)
    assert eval_cfg.langs == "all"
    slot = next(s for s in study.slots() if s.x == 1)
    study._data(slot)
    rows = [json.loads(line) for line in study.data_path(slot).read_text("utf-8").splitlines()]
    assert {(r["benchmark"], r["lang"]) for r in rows} == {("synth", "en"), ("synth", "es")}


def test_a_study_can_evaluate_on_the_validation_split_only(tmp_path: Path) -> None:
    def study(**synthetic) -> Study:
        return Study(StudyConfig(base_model="m", out=str(tmp_path / "s"), synthetic=synthetic))

    assert study()._eval_config("m", tmp_path / "r").data.endswith("bench/test")
    chosen = study(splits="v3", n_validation=5, eval_split="validation")
    assert chosen._eval_config("m", tmp_path / "r").data.endswith("bench/validation")
    with pytest.raises(XlingError, match="needs n_validation > 0"):
        study(splits="v3", eval_split="validation")
    with pytest.raises(XlingError, match="use 'test' or 'validation'"):
        study(splits="v3", n_validation=5, eval_split="train")


def test_flat_toml_round_trips_a_training_config() -> None:
    from xling.config import flat_toml

    values = {"model": 'a "quoted" path', "lr": 1e-4, "steps": 3, "fp": False, "langs": ("en",)}
    assert tomllib.loads(flat_toml({**values, "unset": None})) == {**values, "langs": ["en"]}
    # Tables (the [trl] passthrough) as inline tables, keys that need quotes quoted.
    tables = {"trl": {"mask_truncated_completions": True, "generation_kwargs": {"top_k": 3}}}
    tables |= {"empty": {}, "odd key": 'say "hi"'}
    assert tomllib.loads(flat_toml(tables)) == tables
    with pytest.raises(XlingError, match="no TOML form"):
        flat_toml({"when": object()})


def test_a_failing_launcher_stops_the_step_with_its_exit_code(tmp_path: Path) -> None:
    cfg = load_study_config(shipped_study("micro"))
    launcher = f"{sys.executable} -c 'import sys; sys.exit(3)'"
    study = Study(replace(cfg, out=str(tmp_path / "s"), x_values=(0,), launcher=launcher))
    with pytest.raises(XlingError, match="exited with code 3"):
        study.run()
    assert tomllib.loads((tmp_path / "s/train/grpo-X0/launch.toml").read_text())["max_steps"] == 2
    missing = Study(replace(study.cfg, launcher="no-such-launcher-xling --flag"))
    with pytest.raises(XlingError, match="launcher program not found: 'no-such-launcher-xling'"):
        missing.run()


@pytest.mark.slow
def test_a_study_step_trains_on_two_processes(tmp_path: Path) -> None:
    """The multi-GPU path on CPU: two data-parallel ranks (torchrun, gloo; `accelerate launch
    --cpu` would start only one process) run the study's GRPO step; rank 0 writes the run."""
    out = tmp_path / "study"
    launcher = f"{sys.executable} -m torch.distributed.run --standalone --nproc_per_node 2"
    xling(
        "study",
        "run",
        str(shipped_study("micro")),
        "--out",
        str(out),
        "--set",
        "x_values=[0]",
        "--set",
        f"launcher={json.dumps(launcher)}",
    )
    train = json.loads((out / "grpo" / "X0" / "train.json").read_text())
    assert train["num_processes"] == 2 and train["status"] == "done"
    # Each step's phases are logged for the fastest and the slowest rank too.
    for line in (out / "train" / "grpo-X0" / "metrics.jsonl").read_text().splitlines():
        logged = json.loads(line)
        assert 0 < logged["time/step_min_s"] <= logged["time/step_max_s"]
    assert (out / "train" / "grpo-X0" / "launch.toml").is_file()
    assert (out / "report" / "grpo" / "tables" / "runs.csv").is_file()
