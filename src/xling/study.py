"""`xling study run`: the whole Parallel-Scaling-Law study as one resumable pipeline.

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
import re
import shlex
import subprocess
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from xling.analysis.bootstrap import Estimate
from xling.analysis.reference import COLUMNS as REFERENCE_COLUMNS
from xling.analysis.reference import ReferenceRun, parse_references, reference_row
from xling.analysis.reference import row as reference_columns
from xling.benchmarks.registry import eval_defaults
from xling.config import EvalConfig, flat_toml, read_toml, reject_unknown
from xling.errors import XlingError
from xling.jsonl import write_json_atomic, write_text_atomic
from xling.languages import get_language, parse_langs

METHODS = ("grpo", "sft")
DEFAULT_ORDER = ("es", "ru", "de", "fr", "bn", "th", "zh")  # the paper's parallel set


@dataclass(frozen=True)
class Arm:
    """One line of the study: a training method on a kind of data from a base model.

    The default arms are one per method on the study's own training data. Extra arms are
    the controls: another budget policy, the shuffled-id (non-parallel) data, SFT, or a
    second base model made by an organism stage (`base_stage`, e.g. "instruct")."""

    name: str  # folder name under <out>/ and <out>/report/
    method: str = "grpo"
    train_data: dict[str, Any] = field(default_factory=dict)  # over the study's train_data
    train: dict[str, Any] = field(default_factory=dict)  # over the study's grpo/sft table
    base_stage: str | None = None  # organism preset trained on top of base_model first
    stage_options: dict[str, Any] = field(default_factory=dict)  # over that preset's options
    x_values: tuple[int, ...] | None = None  # default: the study's

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.name or ""):
            raise XlingError(f"arm name {self.name!r}: use letters, digits, '.', '_' or '-'")
        if self.method not in METHODS:
            raise XlingError(
                f"arm {self.name}: unknown method {self.method!r}; known: {', '.join(METHODS)}"
            )


@dataclass(frozen=True)
class StudyConfig:
    name: str = "study"
    base_model: str = ""  # HF hub id or path; "organism" = the checkpoint shipped with xling
    out: str = "runs/study"
    x_values: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7)  # parallel languages added to English
    parallel_order: tuple[str, ...] = DEFAULT_ORDER
    methods: tuple[str, ...] = ("grpo",)  # add "sft" for the paper's SFT-vs-RL comparison
    seeds: tuple[int, ...] = (0,)
    # Generate the synthetic parallel benchmark into <out>/bench and use it for training
    # (train split) and evaluation (test split): {"n_train": …, "n_test": …, "seed": …}.
    synthetic: dict[str, Any] = field(default_factory=dict)
    # Where training problems come from: bench (a preset or a loader kind; "kind" is the old
    # spelling), path, name, split, config, question/answer/id/lang fields, plus n, budget,
    # shuffle_ids, solution_field.
    train_data: dict[str, Any] = field(default_factory=dict)
    grpo: dict[str, Any] = field(default_factory=dict)  # GRPOTrainConfig overrides
    sft: dict[str, Any] = field(default_factory=dict)  # SFTTrainConfig overrides
    eval: dict[str, Any] = field(default_factory=dict)  # EvalConfig overrides (bench = a preset)
    # n_boot, seed, screenshot, see_also; scope (what this budget can and cannot show) and
    # [[report.reference]] runs measured elsewhere (xling.analysis.reference)
    report: dict[str, Any] = field(default_factory=dict)
    # Arms ([[arms]] tables: name, method, train_data, train, base_stage, x_values); when
    # given they replace `methods`. Runs that two arms would train identically are shared.
    arms: tuple[dict[str, Any], ...] = ()
    # Run every training step as a job of its own under this command prefix, e.g.
    # "accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes 2": the
    # step becomes `<launcher> -m xling.cli train <method> --config <train dir>/launch.toml`,
    # so one study step trains on several GPUs while the study itself stays one process.
    launcher: str = ""

    def __post_init__(self) -> None:
        parse_langs(self.parallel_order)
        self.references()  # a malformed reference fails here, not after the trainings
        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown:
            raise XlingError(f"unknown method(s) {unknown}; known: {', '.join(METHODS)}")
        arms = self.arm_list()
        names = [a.name for a in arms]
        if len(set(names)) != len(names):
            raise XlingError(f"arm names must be unique, got {names}")
        stages: dict[str, dict[str, Any]] = {}
        for arm in arms:
            if arm.base_stage is None:
                continue
            from xling.organism.config import preset_path

            preset_path(arm.base_stage)  # an unknown preset fails here, not hours later
            if stages.setdefault(arm.base_stage, arm.stage_options) != arm.stage_options:
                raise XlingError(
                    f"arms using base_stage {arm.base_stage!r} must agree on stage_options"
                )
        xs = set(self.x_values).union(*(a.x_values or () for a in arms))
        too_big = sorted(x for x in xs if not 0 <= x <= len(self.parallel_order))
        if too_big:
            raise XlingError(
                f"x_values {too_big} out of range: X counts languages added to English and "
                f"parallel_order has {len(self.parallel_order)}"
            )

    def train_langs(self, x: int) -> tuple[str, ...]:
        return ("en", *self.parallel_order[:x])

    def references(self) -> tuple[ReferenceRun, ...]:
        return parse_references(self.report.get("reference", ()))

    def arm_list(self) -> list[Arm]:
        if not self.arms:
            return [Arm(name=m, method=m) for m in self.methods]
        arms = []
        for table in self.arms:
            if not isinstance(table, dict):
                raise XlingError(f"each [[arms]] entry must be a table, got {table!r}")
            unknown = sorted(set(table) - {f.name for f in fields(Arm)})
            if unknown:
                raise XlingError(f"arm {table.get('name')}: unknown key(s) {', '.join(unknown)}")
            values = dict(table)
            if "x_values" in values:
                values["x_values"] = tuple(values["x_values"])
            arms.append(Arm(**values))
        return arms


def shipped_study(name: str) -> Path:
    """A study file shipped with xling (src/xling/data/studies/<name>.toml)."""
    path = Path(__file__).resolve().parent / "data" / "studies" / f"{name}.toml"
    if not path.exists():
        known = sorted(p.stem for p in path.parent.glob("*.toml"))
        raise XlingError(f"no shipped study {name!r}; shipped: {', '.join(known)}")
    return path


def parse_settings(settings: Sequence[str]) -> dict[str, Any]:
    """`key=value` / `section.key=value` strings (values in TOML syntax) as a nested dict.

    A value that is not valid TOML is taken as a plain string, so `--set out=runs/x` works
    without quoting."""
    nested: dict[str, Any] = {}
    for setting in settings:
        key, sep, raw = setting.partition("=")
        key = key.strip()
        if not sep or not key:
            raise XlingError(f"--set {setting!r}: expected key=value or section.key=value")
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        *sections, leaf = key.split(".")
        target = nested
        for section in sections:
            target = target.setdefault(section, {})
            if not isinstance(target, dict):
                raise XlingError(f"--set {setting!r}: {section!r} is not a table")
        target[leaf] = value
    return nested


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_study_config(path: Path, settings: Sequence[str] = (), **overrides: Any) -> StudyConfig:
    """The study file, then `settings` (`--set section.key=value`), then non-None overrides."""
    data = _merge(read_toml(path, "study file"), parse_settings(settings))
    reject_unknown(data, StudyConfig, path, noun="key")
    for key in ("x_values", "parallel_order", "methods", "seeds", "arms"):
        if key in data:
            data[key] = tuple(data[key])
    data.update({k: v for k, v in overrides.items() if v is not None})
    cfg = StudyConfig(**data)
    # Relative paths in a study file are relative to the file, so studies are portable.
    if cfg.base_model and cfg.base_model != "organism":
        candidate = path.parent / cfg.base_model
        if candidate.exists():
            cfg = replace(cfg, base_model=str(candidate))
    return cfg


@dataclass(frozen=True)
class Step:
    name: str  # unique, also the marker file name
    describe: str
    run: Callable[[], None]


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

    def base_model(self) -> str:
        if self.cfg.base_model == "organism":
            from xling.organism.model import bundled_organism

            return str(bundled_organism())
        if not self.cfg.base_model:
            raise XlingError("the study file must name base_model (hub id, path or 'organism')")
        return self.cfg.base_model

    def model_of(self, stage: str | None) -> str:
        return self.base_model() if stage is None else str(self.stage_dir(stage))

    def x_values(self, arm: Arm) -> tuple[int, ...]:
        return self.cfg.x_values if arm.x_values is None else arm.x_values

    def train_data(self, arm: Arm) -> dict[str, Any]:
        return {**self.cfg.train_data, **arm.train_data}

    def train_overrides(self, arm: Arm) -> dict[str, Any]:
        return {**(self.cfg.grpo if arm.method == "grpo" else self.cfg.sft), **arm.train}

    def slots(self) -> list[Slot]:
        """Every (arm, X, seed) with the arm whose run it uses and its data file's label."""

        def data_identity(arm: Arm, x: int) -> str:
            data = self.train_data(arm)
            if x == 0:  # one language: neither the budget nor the id shuffle changes the rows
                data = {k: v for k, v in data.items() if k not in ("budget", "shuffle_ids")}
            return json.dumps(data, sort_keys=True)

        labels: dict[str, str] = {}
        owners: dict[str, str] = {}
        slots = []
        for arm in self.arms:
            for x in self.x_values(arm):
                identity = data_identity(arm, x)
                default = self.train_data(arm) == self.cfg.train_data
                label = labels.setdefault(identity, "" if default else f"{arm.name}-")
                run_key = json.dumps(
                    [arm.method, arm.base_stage, identity, self.train_overrides(arm)],
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
        if self.cfg.synthetic:
            steps.append(Step("bench", "build the synthetic parallel benchmark", self._bench))
        steps.append(Step("eval:base", "evaluate the base model", lambda: self._eval_base(None)))
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
                ),
            ]
        slots = self.slots()
        for arm in self.arms:
            for slot in (s for s in slots if s.arm is arm and s.owner == arm.name):
                name = self.run_name(slot.x, slot.seed)
                langs = ",".join(self.cfg.train_langs(slot.x))
                steps += [
                    Step(
                        f"data:{slot.data_label}{name}",
                        f"parallel data {slot.data_label}{name} ({langs})",
                        lambda slot=slot: self._data(slot),
                    ),
                    Step(
                        f"train:{arm.name}:{name}",
                        f"{_arm_label(arm)} on {name}",
                        lambda slot=slot: self._train(slot),
                    ),
                    Step(
                        f"eval:{arm.name}:{name}",
                        f"evaluate {arm.name} {name}",
                        lambda slot=slot: self._eval_trained(slot),
                    ),
                ]
            steps.append(
                Step(
                    f"report:{arm.name}",
                    f"{arm.name} fits and report",
                    lambda arm=arm: self._report(arm),
                )
            )
        if len(self.arms) > 1:
            steps.append(Step("summary", "compare the arms with the paper", self._summary))
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
            for slot in slots:
                if slot.arm is arm:
                    name = self.run_name(slot.x, slot.seed)
                    wanted |= {
                        f"data:{slot.data_label}{name}",
                        f"train:{slot.owner}:{name}",
                        f"eval:{slot.owner}:{name}",
                    }
        return [s for s in steps if s.name in wanted]

    def run(self, arms: Sequence[str] | None = None) -> None:
        """Run every pending step in order (only those `arms` need, when given).

        Several processes may run one study at once (say, one per GPU, each with its own
        arms): a step being run by another live process is waited for, not run twice."""
        self.out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.out / "study.config.json", asdict(self.cfg))
        steps = self.steps_for(arms)
        for index, step in enumerate(steps, start=1):
            if self._read_marker(step.name) is not None:
                continue
            if not self._lock(step.name):
                self.console.print(f"waiting for another process to finish {step.describe}")
                while self._read_marker(step.name) is None and not self._lock(step.name):
                    time.sleep(2.0)
            if self._read_marker(step.name) is not None:  # finished while we looked
                self.marker(step.name).with_suffix(".lock").unlink(missing_ok=True)
                continue
            try:
                self.console.rule(f"[bold]{index}/{len(steps)} {step.describe}")
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
                self.marker(step.name).with_suffix(".lock").unlink(missing_ok=True)

    def _lock(self, name: str) -> bool:
        """Take the step's lock file; False while another live process holds it. A lock
        left by a dead process (a kill) is taken over."""
        lock = self.marker(name).with_suffix(".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    holder = int(lock.read_text(encoding="utf-8").strip() or 0)
                except (OSError, ValueError):
                    holder = 0
                if holder and holder != os.getpid() and _alive(holder):
                    return False
                lock.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            return True
        return False

    # ------------------------------------------------------------------ step bodies
    def _bench(self) -> None:
        from xling.organism.world import build_benchmark

        syn = self.cfg.synthetic
        build_benchmark(
            self.bench_dir,
            n_train=int(syn.get("n_train", 1000)),
            n_test=int(syn.get("n_test", 100)),
            seed=int(syn.get("seed", 0)),
        )

    def _eval_config(self, model: str, out: Path) -> EvalConfig:
        values: dict[str, Any] = {"langs": "all"}
        if self.cfg.synthetic:
            values |= {
                "bench": "jsonl",
                "data": str(self.bench_dir / "test"),
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
        from xling.benchmarks import benchmark_specs
        from xling.train.data import build_parallel_from_spec, write_parallel

        td = self.train_data(slot.arm)
        if self.cfg.synthetic:
            td = {
                "kind": "jsonl",
                "path": str(self.bench_dir / "train"),
                "name": "synth",
                "id_field": "id",
            } | td
        specs = benchmark_specs(
            td.get("bench") or td.get("kind", "mgsm"),
            data=str(td["path"]) if td.get("path") else None,
            name=td.get("name"),
            fields={
                "question": td.get("question_field"),
                "answer": td.get("answer_field"),
                "id": td.get("id_field"),
                "lang": td.get("lang_field"),
            },
            split=td.get("split"),
            config=td.get("config"),
            training=True,
        )
        pset = build_parallel_from_spec(
            specs,
            self.cfg.train_langs(slot.x),
            int(td.get("n", 1000)),
            seed=slot.seed,
            budget=td.get("budget", "per-lang"),
            shuffle_ids=bool(td.get("shuffle_ids", False)),
            solution_field=td.get("solution_field", "solution"),
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
                "model": self.model_of(slot.arm.base_stage),
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
        run_eval(self._eval_config(str(train_dir / FINAL_DIR), run_dir), self.console)
        train_info = json.loads((train_dir / "train.json").read_text(encoding="utf-8"))
        write_json_atomic(run_dir / "train.json", train_info)

    def _report(self, arm: Arm) -> None:
        from xling.analysis.report import build_report

        folder = self.out / arm.name
        folder.mkdir(parents=True, exist_ok=True)
        runs = [
            os.path.relpath(self.run_dir(slot), folder) for slot in self.slots() if slot.arm is arm
        ]
        base = os.path.relpath(self.base_run_of(arm.base_stage), folder)
        write_json_atomic(
            folder / "study.json",
            {"name": f"{self.cfg.name} ({arm.name})", "base": base, "runs": runs},
        )
        opts = {"n_boot": 2000, "seed": 0} | self.cfg.report
        opts["see_also"] = tuple(opts.get("see_also", ()))
        opts.pop("reference", None)
        opts["references"] = self.cfg.references()
        title = f"{self.cfg.name}: {arm.name} ({arm.method.upper()})"
        result = build_report(folder, self.out / "report" / arm.name, title=title, **opts)
        summary = {
            metric: {k: getattr(fr, k).to_dict() for k in ("alpha", "beta", "r2", "leap", "gap")}
            for metric, fr in result.fits.items()
        }
        write_json_atomic(self.out / "report" / arm.name / "summary.json", summary)

    def _summary(self) -> None:
        from xling.analysis.paper import write_study_summary

        write_study_summary(self, self.out / "report")


def _arm_label(arm: Arm) -> str:
    method = arm.method.upper()
    return method if arm.name == arm.method else f"{arm.name} ({method})"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------- headline


def headline(cfg: StudyConfig, console: Console, arms: Sequence[str] | None = None) -> None:
    """Per arm: per-language accuracy base vs trained, MTI per X, α, β, leap and gap; then
    the comparison with the paper when the study has several arms (and all were run)."""
    study = Study(cfg, console)
    out = study.out
    for arm in study.arms:
        if arms is not None and arm.name not in arms:
            continue
        base_dir = study.base_run_of(arm.base_stage)
        base = json.loads((base_dir / "metrics.json").read_text(encoding="utf-8"))
        report_dir = out / "report" / arm.name
        runs = [
            (slot.x, study.run_dir(slot))
            for slot in study.slots()
            if slot.arm is arm and slot.seed == cfg.seeds[0]
        ]
        title = f"{cfg.name} — {_arm_label(arm)}: accuracy % by language"
        # A narrow table (few runs) would wrap its title: keep the title on one line.
        table = Table(title=title, title_justify="left", min_width=len(title) + 2)
        table.add_column("language")
        table.add_column("base", justify="right")
        metrics = {x: json.loads((d / "metrics.json").read_text()) for x, d in runs}
        for x, _ in runs:
            table.add_column(f"en+{x}", justify="right")
        for bench, data in base["benchmarks"].items():
            for lang, cell in data["langs"].items():
                row = [f"{get_language(lang).name}", f"{100 * cell['accuracy']:.1f}"]
                for x, _ in runs:
                    trained = metrics[x]["benchmarks"][bench]["langs"].get(lang)
                    row.append("—" if trained is None else f"{100 * trained['accuracy']:.1f}")
                table.add_row(*row)
        console.print(table)
        runs_csv = report_dir / "tables" / "runs.csv"
        if runs_csv.exists():
            import csv

            mti = Table(title="MTI per X (95% CI)", title_justify="left")
            for col in ("run", "X", "training languages", "accuracy %", "MTI"):
                mti.add_column(col)
            for row in csv.DictReader(runs_csv.open(encoding="utf-8")):
                mti.add_row(
                    row["run"],
                    row["X"],
                    row["train_langs"],
                    _fmt(row["accuracy"], 100),
                    _ci(row["mti"], row["mti_lo"], row["mti_hi"]),
                )
            console.print(mti)
            _print_references(cfg, runs_csv, console)
        summary_path = report_dir / "summary.json"
        if summary_path.exists():
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            for metric, values in summary.items():
                parts = [f"{k}={_est(values[k])}" for k in ("alpha", "beta", "leap", "gap")]
                console.print(f"[bold]{metric} law[/] f(X)=α·X^β: " + ", ".join(parts))
        console.print(f"report: [bold]{report_dir / 'report.html'}[/]")
    for line in cfg.report.get("see_also", ()):
        console.print(f"see also: {line}")
    paper_md = out / "report" / "summary.md"
    if arms is None and len(study.arms) > 1 and paper_md.exists():
        console.print(paper_md.read_text(encoding="utf-8"))


def _print_references(cfg: StudyConfig, runs_csv: Path, console: Console) -> None:
    """What this study's budget can show, and its runs beside the reference runs."""
    import csv

    references = cfg.references()
    scope = cfg.report.get("scope", "")
    if scope:
        console.print(scope)
    if not references:
        return
    table = Table(title="Beside the reference runs (95% CIs)", title_justify="left")
    for col in REFERENCE_COLUMNS:
        table.add_column(col)
    for r in csv.DictReader(runs_csv.open(encoding="utf-8")):

        def estimate(key: str, scale: float = 1.0, r: dict[str, str] = r) -> Estimate:
            value = [
                None if r.get(k) in (None, "", "None") else scale * float(r[k])
                for k in (key, f"{key}_lo", f"{key}_hi")
            ]
            if value[0] is None:
                return Estimate(None, reason=r.get("mti_note") or "undefined")
            return Estimate(value[0], value[1], value[2])

        table.add_row(
            *reference_columns(
                f"{r['run']} (here)",
                estimate("gain_seen", 100),
                estimate("gain_unseen", 100),
                estimate("mti"),
            )
        )
    for ref in references:
        table.add_row(*reference_row(ref))
    console.print(table)


def _fmt(value: str, scale: float = 1.0) -> str:
    return "—" if value in ("", "None") else f"{scale * float(value):.1f}"


def _ci(value: str, lo: str, hi: str) -> str:
    if value in ("", "None"):
        return "undefined"
    if lo in ("", "None") or hi in ("", "None"):
        return f"{float(value):.2f}"
    return f"{float(value):.2f} [{float(lo):.2f}, {float(hi):.2f}]"


def _est(e: dict[str, Any]) -> str:
    if e.get("value") is None:
        return f"undefined ({e.get('reason', '')})"
    text = f"{e['value']:.3g}"
    if e.get("lo") is not None and e.get("hi") is not None:
        text += f" [{e['lo']:.3g}, {e['hi']:.3g}]"
    return text
