"""The study's steps, in order: the pipeline behind `xling study run`.

    base model ─ eval ─────────────────────────────────────────────────┐
    for each arm, for X in grid: parallel data (en + first X) ─ train ─ eval ─┤
                                         per-arm analysis + report ◄──────────┤
                                 the arms side by side, next to the paper ◄───┘

An arm is a training method on a kind of data from a base model (the default: one arm per
method; the paper's controls are extra arms). Every step leaves a marker in <out>/steps/
when it completes, and the steps themselves (evaluation, training) resume from their own
files, so rerunning after a crash continues where it stopped and redoes nothing. The layout
of <out>/<arm>/ is the study folder of docs/study-format.md (its study.json lists the runs,
some of which may live in another arm's folder), so `xling report` and `xling fit` work on
it directly.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.rule import Rule

from xling import lock
from xling.analysis.paper import StudyArm
from xling.analysis.verdicts import StudyRun
from xling.benchmarks.registry import eval_defaults
from xling.config import flat_toml
from xling.errors import XlingError
from xling.evaluate import EvalConfig
from xling.jsonl import write_json_atomic, write_text_atomic
from xling.study.config import Arm, StudyConfig, TrainDataSpec, config_json


@dataclass(frozen=True)
class Step:
    name: str  # unique, also the marker file name
    describe: str
    run: Callable[[], None]
    needs: tuple[str, ...] = ()  # steps whose markers must exist before this one runs


@dataclass(frozen=True)
class Slot:
    """Where one trained run of an arm lives: its own, or one an earlier arm trains
    identically (same method, base, data and settings), which is then shared."""

    arm: Arm
    owner: str  # the arm whose folders hold the run
    x: int
    seed: int
    data_label: str  # data file name prefix ("" for the study's own training data)


class Study:
    def __init__(self, cfg: StudyConfig, console: Console | None = None) -> None:
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.console = console or Console()
        self.arms = cfg.arm_list()

    # ------------------------------------------------------------------ layout
    @property
    def bench_dir(self) -> Path:
        return self.out / "bench"

    @property
    def base_run(self) -> Path:
        return self.out / "base"

    def base_run_of(self, stage: str | None) -> Path:
        return self.base_run if stage is None else self.out / f"base-{stage}"

    def stage_dir(self, stage: str) -> Path:
        return self.out / "stages" / stage

    def run_name(self, x: int, seed: int) -> str:
        return f"X{x}" if len(self.cfg.seeds) == 1 else f"X{x}-s{seed}"

    def marker(self, step: str) -> Path:
        return self.out / "steps" / f"{step.replace(':', '_')}.json"

    def train_step(self, slot: Slot) -> str:
        """The step training a slot's run, named here only (bench tools find its marker)."""
        return f"train:{slot.owner}:{self.run_name(slot.x, slot.seed)}"

    def eval_step(self, slot: Slot) -> str:
        """The step evaluating a slot's run, named here only (bench tools find its marker)."""
        return f"eval:{slot.owner}:{self.run_name(slot.x, slot.seed)}"

    def base_model(self) -> str:
        if self.cfg.base_model == "organism":
            from xling.organism.model import bundled_organism

            return str(bundled_organism())
        if not self.cfg.base_model:
            raise XlingError("the study file must name base_model (hub id, path or 'organism')")
        return self.cfg.base_model

    def model_of(self, start: str | None) -> str:
        """The model behind an arm's `start` key: the study's base model, an organism stage
        trained here, or a model the arm names (`base_model`)."""
        if start is None:
            return self.base_model()
        named = {a.start: a.base_model for a in self.arms if a.base_model is not None}
        return named[start] if start in named else str(self.stage_dir(start))

    def x_values(self, arm: Arm) -> tuple[int, ...]:
        return self.cfg.x_values if arm.x_values is None else arm.x_values

    def train_data(self, arm: Arm) -> TrainDataSpec:
        return self.cfg.train_data.over(arm.train_data)

    def train_overrides(self, arm: Arm) -> dict[str, Any]:
        return {**(self.cfg.grpo if arm.method == "grpo" else self.cfg.sft), **arm.train}

    def slots(self) -> list[Slot]:
        """Every (arm, X, seed) with the arm whose run it uses and its data file's label."""

        def data_identity(arm: Arm, x: int) -> str:
            data = self.train_data(arm).given()
            if x == 0:  # one language: neither the budget nor the id shuffle changes the rows
                data = {k: v for k, v in data.items() if k not in ("budget", "shuffle_ids")}
            return json.dumps(data, sort_keys=True)

        labels: dict[str, str] = {}
        owners: dict[str, str] = {}
        slots = []
        for arm in self.arms:
            for x in self.x_values(arm):
                identity = data_identity(arm, x)
                default = self.train_data(arm).given() == self.cfg.train_data.given()
                label = labels.setdefault(identity, "" if default else f"{arm.name}-")
                run_key = json.dumps(
                    [arm.method, arm.start, identity, self.train_overrides(arm)],
                    sort_keys=True,
                )
                owner = owners.setdefault(run_key, arm.name)
                slots += [Slot(arm, owner, x, seed, label) for seed in self.cfg.seeds]
        return slots

    def data_path(self, slot: Slot) -> Path:
        return self.out / "data" / f"{slot.data_label}{self.run_name(slot.x, slot.seed)}.jsonl"

    def train_dir(self, slot: Slot) -> Path:
        return self.out / "train" / f"{slot.owner}-{self.run_name(slot.x, slot.seed)}"

    def run_dir(self, slot: Slot) -> Path:
        return self.out / slot.owner / self.run_name(slot.x, slot.seed)

    # ------------------------------------------------------------------ steps
    def steps(self) -> list[Step]:
        steps: list[Step] = []
        bench: tuple[str, ...] = ()
        if self.cfg.synthetic is not None:
            steps.append(Step("bench", "build the synthetic parallel benchmark", self._bench))
            bench = ("bench",)
        steps.append(
            Step(
                "eval:base",
                "evaluate the base model",
                lambda: self._eval_base(None),
                bench,
            )
        )
        for stage in dict.fromkeys(a.base_stage for a in self.arms if a.base_stage):
            steps += [
                Step(
                    f"stage:{stage}",
                    f"train the {stage} base model (organism preset {stage!r})",
                    lambda stage=stage: self._stage(stage),
                ),
                Step(
                    f"eval:base:{stage}",
                    f"evaluate the {stage} base model",
                    lambda stage=stage: self._eval_base(stage),
                    (*bench, f"stage:{stage}"),
                ),
            ]
        for start in dict.fromkeys(a.start for a in self.arms if a.base_model is not None):
            steps.append(
                Step(
                    f"eval:base:{start}",
                    f"evaluate the base model {self.model_of(start)}",
                    lambda start=start: self._eval_base(start),
                    bench,
                )
            )
        slots = self.slots()
        reports = []
        for arm in self.arms:
            base_eval = "eval:base" if arm.start is None else f"eval:base:{arm.start}"
            stage = (f"stage:{arm.base_stage}",) if arm.base_stage else ()
            for slot in (s for s in slots if s.arm is arm and s.owner == arm.name):
                name = self.run_name(slot.x, slot.seed)
                langs = ",".join(self.cfg.train_langs(slot.x))
                data = f"data:{slot.data_label}{name}"
                steps += [
                    Step(
                        data,
                        f"parallel data {slot.data_label}{name} ({langs})",
                        lambda slot=slot: self._data(slot),
                        bench,
                    ),
                    Step(
                        self.train_step(slot),
                        f"{arm_label(arm)} on {name}",
                        lambda slot=slot: self._train(slot),
                        (data, *stage),
                    ),
                    Step(
                        self.eval_step(slot),
                        f"evaluate {arm.name} {name}",
                        lambda slot=slot: self._eval_trained(slot),
                        (self.train_step(slot),),
                    ),
                ]
            evals = [self.eval_step(slot) for slot in slots if slot.arm is arm]
            reports.append(f"report:{arm.name}")
            steps.append(
                Step(
                    f"report:{arm.name}",
                    f"{arm.name} fits and report",
                    lambda arm=arm: self._report(arm),
                    (base_eval, *evals),
                )
            )
        if len(self.arms) > 1:
            steps.append(
                Step("summary", "compare the arms with the paper", self._summary, tuple(reports))
            )
        # Data steps are shared by arms: keep the first of each name only.
        unique: dict[str, Step] = {}
        for step in steps:
            unique.setdefault(step.name, step)
        return list(unique.values())

    def status(self) -> list[tuple[Step, dict[str, Any] | None]]:
        return [(s, self._read_marker(s.name)) for s in self.steps()]

    def _read_marker(self, name: str) -> dict[str, Any] | None:
        path = self.marker(name)
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def steps_for(self, arms: Sequence[str] | None) -> list[Step]:
        """The steps that the named arms need (all steps when None): the shared start,
        their runs (also those another arm owns), their reports; the summary only for all."""
        steps = self.steps()
        if arms is None:
            return steps
        unknown = sorted(set(arms) - {a.name for a in self.arms})
        if unknown:
            known = ", ".join(a.name for a in self.arms)
            raise XlingError(f"unknown arm(s) {', '.join(unknown)}; this study has {known}")
        chosen = [a for a in self.arms if a.name in arms]
        wanted = {"bench", "eval:base"}
        slots = self.slots()
        for arm in chosen:
            wanted.add(f"report:{arm.name}")
            if arm.base_stage:
                wanted |= {f"stage:{arm.base_stage}", f"eval:base:{arm.base_stage}"}
            elif arm.base_model is not None:
                wanted.add(f"eval:base:{arm.start}")
            for slot in slots:
                if slot.arm is arm:
                    name = self.run_name(slot.x, slot.seed)
                    wanted |= {
                        f"data:{slot.data_label}{name}",
                        self.train_step(slot),
                        self.eval_step(slot),
                    }
        return [s for s in steps if s.name in wanted]

    def run(self, arms: Sequence[str] | None = None, *, wait: bool = True) -> bool:
        """Run every pending step (only those `arms` need, when given), each as soon as the
        steps it needs are done. True when none is left pending.

        Several processes may run one study at once: one per GPU with its own arms, or
        several on one large GPU, which small models leave mostly idle. Each takes the
        earliest step that is ready and that no other live process is running, so they
        share the work without doing any step twice. When no pending step is ready for
        this process (each is running elsewhere, or waits on one that is), it waits for
        them, or, with `wait=False`, returns False so that a scheduler can give its place
        to other work (bench/study_piece.py)."""
        self.out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.out / "study.config.json", config_json(self.cfg))
        steps = self.steps_for(arms)
        number = {step.name: index for index, step in enumerate(steps, start=1)}
        pending = [s for s in steps if self._read_marker(s.name) is None]
        waiting_on: str | None = None
        while pending:
            step = next((s for s in pending if self._take_ready(s)), None)
            if step is None:
                # Every pending step waits on a step another process is running.
                if not wait:
                    self.console.print(
                        f"nothing ready here: {len(pending)} steps left to other processes"
                    )
                    return False
                busy = pending[0].describe
                if busy != waiting_on:
                    self.console.print(f"waiting for another process to finish {busy}")
                    waiting_on = busy
                time.sleep(2.0)
                pending = [s for s in pending if self._read_marker(s.name) is None]
                continue
            waiting_on = None
            try:
                # At most 120 columns: a console writing to a pipe is ~unbounded in width.
                rule = Rule(f"[bold]{number[step.name]}/{len(steps)} {step.describe}")
                self.console.print(rule, width=min(self.console.width, 120))
                started = time.time()
                step.run()
                write_json_atomic(
                    self.marker(step.name),
                    {
                        "step": step.name,
                        "seconds": round(time.time() - started, 1),
                        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                    },
                )
            finally:
                lock.release(self.marker(step.name).with_suffix(".lock"))
            pending = [s for s in pending if self._read_marker(s.name) is None]
        return True

    def _take_ready(self, step: Step) -> bool:
        """Whether `step` can run now (what it needs is done) and this process got its lock
        (no other live process is running it); a step found finished is not taken."""
        if any(self._read_marker(need) is None for need in step.needs):
            return False
        if not self._lock(step.name):
            return False
        if self._read_marker(step.name) is not None:  # finished while we looked
            lock.release(self.marker(step.name).with_suffix(".lock"))
            return False
        return True

    def _lock(self, name: str) -> bool:
        return lock.take(self.marker(name).with_suffix(".lock"))

    # ------------------------------------------------------------------ step bodies
    def _bench(self) -> None:
        from xling.world import build_benchmark

        syn = self.cfg.synthetic
        assert syn is not None
        build_benchmark(
            self.bench_dir,
            n_train=syn.n_train,
            n_test=syn.n_test,
            seed=syn.seed,
            n_validation=syn.n_validation,
            scheme=syn.splits,
            native_digits=True if syn.native_digits else None,
            arithmetic=syn.arithmetic,
        )

    def _eval_config(self, model: str, out: Path) -> EvalConfig:
        values: dict[str, Any] = {"langs": "all"}
        if self.cfg.synthetic is not None:
            values |= {
                "bench": "jsonl",
                "data": str(self.bench_dir / self.cfg.synthetic.eval_split),
                "bench_name": "synth",
                "id_field": "id",
            }
        values |= self.cfg.eval
        # A preset's defaults (samples, length) sit under what the study file sets.
        values = eval_defaults(values.get("bench", EvalConfig.bench), values.get("data")) | values
        return EvalConfig(**{**values, "model": model, "out": str(out)})

    def _eval_base(self, stage: str | None) -> None:
        from xling.evaluate import run_eval

        run_eval(self._eval_config(self.model_of(stage), self.base_run_of(stage)), self.console)

    def _stage(self, stage: str) -> None:
        from xling.organism import load_organism_config, pretrain

        options = next(a.stage_options for a in self.arms if a.base_stage == stage)
        cfg = load_organism_config(stage, **{**options, "init": self.base_model()})
        out = self.stage_dir(stage)
        resume = (out / "checkpoint").exists()
        pretrain(cfg, out, resume=resume, console=self.console)

    def _data(self, slot: Slot) -> None:
        from xling.train.data import build_parallel_from_spec, write_parallel

        td = self.train_data(slot.arm)
        if self.cfg.synthetic is not None:
            synthetic = TrainDataSpec(
                kind="jsonl", path=str(self.bench_dir / "train"), name="synth", id_field="id"
            )
            td = synthetic.over(td)
        pset = build_parallel_from_spec(
            td.source().specs(training=True),
            self.cfg.train_langs(slot.x),
            td.rows,
            seed=slot.seed,
            budget=td.budget or "per-lang",
            shuffle_ids=bool(td.shuffle_ids),
            solution_field=td.solution_field or "solution",
        )
        write_parallel(pset, self.data_path(slot))

    def _train(self, slot: Slot) -> None:
        from xling.train.config import GRPOTrainConfig, SFTTrainConfig
        from xling.train.grpo import run_grpo
        from xling.train.sft import run_sft

        grpo = slot.arm.method == "grpo"
        cls, runner = (GRPOTrainConfig, run_grpo) if grpo else (SFTTrainConfig, run_sft)
        out = self.train_dir(slot)
        cfg = cls(
            **{
                **self.train_overrides(slot.arm),
                "model": self.model_of(slot.arm.start),
                "data": str(self.data_path(slot)),
                "out": str(out),
                "seed": slot.seed,
            }
        )
        if self.cfg.launcher:
            self._launch(slot.arm.method, cfg, resume=out.exists())
        else:
            runner(cfg, resume=out.exists(), console=self.console)

    def _launch(self, method: str, cfg: Any, *, resume: bool) -> None:
        """The training step as a job of its own under the study's launcher (multi-GPU)."""
        out = Path(cfg.out)
        out.mkdir(parents=True, exist_ok=True)
        config_path = out / "launch.toml"
        write_text_atomic(config_path, flat_toml(asdict(cfg)))
        command = [*shlex.split(self.cfg.launcher), "-m", "xling.cli", "train", method]
        command += ["--config", str(config_path), *(["--resume"] if resume else [])]
        self.console.print(f"[dim]launching: {shlex.join(command)}[/]")
        try:
            code = subprocess.run(command, check=False).returncode
        except FileNotFoundError:
            raise XlingError(f"launcher program not found: {command[0]!r}") from None
        if code != 0:
            raise XlingError(f"training step exited with code {code}: {shlex.join(command)}")

    def _eval_trained(self, slot: Slot) -> None:
        from xling.evaluate import run_eval
        from xling.train.common import FINAL_DIR

        train_dir = self.train_dir(slot)
        run_dir = self.run_dir(slot)
        metrics = run_eval(self._eval_config(str(train_dir / FINAL_DIR), run_dir), self.console)
        train_info = json.loads((train_dir / "train.json").read_text(encoding="utf-8"))
        write_json_atomic(run_dir / "train.json", train_info)
        self._card_with_results(slot, metrics)

    def _card_with_results(self, slot: Slot, metrics: dict[str, Any]) -> None:
        """The trained model's card, now with its held-out results beside the base model's."""
        from xling.train.card import write_model_card

        base_path = self.base_run_of(slot.arm.start) / "metrics.json"
        base = json.loads(base_path.read_text(encoding="utf-8")) if base_path.is_file() else None
        samples = self._eval_config("", self.run_dir(slot)).n
        note = (
            f"Evaluated by the xling study `{self.out.name}` (arm {slot.arm.name}, seed "
            f"{slot.seed}) on its held-out test problems, {samples} sample(s) each."
        )
        write_model_card(
            self.train_dir(slot), {"metrics": metrics, "base_metrics": base, "note": note}
        )

    def _report(self, arm: Arm) -> None:
        from xling.analysis.report import build_report

        folder = self.out / arm.name
        folder.mkdir(parents=True, exist_ok=True)
        runs = [
            os.path.relpath(self.run_dir(slot), folder) for slot in self.slots() if slot.arm is arm
        ]
        base = os.path.relpath(self.base_run_of(arm.start), folder)
        write_json_atomic(
            folder / "study.json",
            {"name": f"{self.cfg.name} ({arm.name})", "base": base, "runs": runs},
        )
        title = f"{self.cfg.name}: {arm.name} ({arm.method.upper()})"
        result = build_report(
            folder,
            self.out / "report" / arm.name,
            title=title,
            **self.cfg.report.build_options(),
        )
        summary = {
            metric: {k: getattr(fr, k).to_dict() for k in ("alpha", "beta", "r2", "leap", "gap")}
            for metric, fr in result.fits.items()
        }
        write_json_atomic(self.out / "report" / arm.name / "summary.json", summary)

    def study_arms(self) -> list[StudyArm]:
        """The arms as the comparison with the paper sees them."""
        return [
            StudyArm(a.name, a.method, a.start_label, bool(self.train_data(a).shuffle_ids))
            for a in self.arms
        ]

    def run_table(self) -> list[StudyRun]:
        """Every trained run of every arm, (arm, X, seed, run folder, base run folder): a run
        another arm owns is listed under each arm that uses it."""
        return [
            StudyRun(
                slot.arm.name,
                slot.x,
                slot.seed,
                self.run_dir(slot),
                self.base_run_of(slot.arm.start),
            )
            for slot in self.slots()
        ]

    def _summary(self) -> None:
        from xling.analysis.paper import write_study_summary

        report = self.cfg.report
        write_study_summary(
            self.cfg.name,
            self.study_arms(),
            self.out / "report",
            self.run_table(),
            n_boot=report.n_boot,
            seed=report.seed,
            ci=report.ci,
            mti_gain=report.mti_gain,
            mechanisms=report.mechanisms,
        )


def arm_label(arm: Arm) -> str:
    method = arm.method.upper()
    return method if arm.name == arm.method else f"{arm.name} ({method})"
