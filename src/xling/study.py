"""`xling study run`: the whole Parallel-Scaling-Law study as one resumable pipeline.

    base model ─ eval ─────────────────────────────────────────┐
    for X in grid: parallel data (en + first X of the order) ─ train ─ eval ─┤
                                                       analysis + report ◄───┘

Every step leaves a marker in <out>/steps/ when it completes, and the steps themselves
(evaluation, training) resume from their own files, so rerunning after a crash continues
where it stopped and redoes nothing. The layout of <out>/<method>/ is the study folder of
docs/study-format.md, so `xling report` and `xling fit` work on it directly.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from xling.benchmarks.registry import eval_defaults
from xling.config import EvalConfig, read_toml, reject_unknown
from xling.errors import XlingError
from xling.jsonl import write_json_atomic
from xling.languages import get_language, parse_langs

METHODS = ("grpo", "sft")
DEFAULT_ORDER = ("es", "ru", "de", "fr", "bn", "th", "zh")  # the paper's parallel set


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
    report: dict[str, Any] = field(default_factory=dict)  # n_boot, seed, screenshot

    def __post_init__(self) -> None:
        parse_langs(self.parallel_order)
        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown:
            raise XlingError(f"unknown method(s) {unknown}; known: {', '.join(METHODS)}")
        too_big = [x for x in self.x_values if not 0 <= x <= len(self.parallel_order)]
        if too_big:
            raise XlingError(
                f"x_values {too_big} out of range: X counts languages added to English and "
                f"parallel_order has {len(self.parallel_order)}"
            )

    def train_langs(self, x: int) -> tuple[str, ...]:
        return ("en", *self.parallel_order[:x])


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
    for key in ("x_values", "parallel_order", "methods", "seeds"):
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


class Study:
    def __init__(self, cfg: StudyConfig, console: Console | None = None) -> None:
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.console = console or Console()

    # ------------------------------------------------------------------ layout
    @property
    def bench_dir(self) -> Path:
        return self.out / "bench"

    @property
    def base_run(self) -> Path:
        return self.out / "base"

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

    # ------------------------------------------------------------------ steps
    def steps(self) -> list[Step]:
        cfg = self.cfg
        steps: list[Step] = []
        if cfg.synthetic:
            steps.append(Step("bench", "build the synthetic parallel benchmark", self._bench))
        steps.append(Step("eval:base", "evaluate the base model", self._eval_base))
        for method in cfg.methods:
            for x in cfg.x_values:
                for seed in cfg.seeds:
                    name = self.run_name(x, seed)
                    langs = ",".join(cfg.train_langs(x))
                    steps += [
                        Step(
                            f"data:{name}",
                            f"parallel data {name} ({langs})",
                            lambda x=x, seed=seed: self._data(x, seed),
                        ),
                        Step(
                            f"train:{method}:{name}",
                            f"{method.upper()} on {name}",
                            lambda m=method, x=x, seed=seed: self._train(m, x, seed),
                        ),
                        Step(
                            f"eval:{method}:{name}",
                            f"evaluate {method} {name}",
                            lambda m=method, x=x, seed=seed: self._eval_trained(m, x, seed),
                        ),
                    ]
            steps.append(
                Step(
                    f"report:{method}",
                    f"{method} fits and report",
                    lambda m=method: self._report(m),
                )
            )
        # Data steps are shared by methods: keep the first of each name only.
        unique: dict[str, Step] = {}
        for step in steps:
            unique.setdefault(step.name, step)
        return list(unique.values())

    def status(self) -> list[tuple[Step, dict[str, Any] | None]]:
        return [(s, self._read_marker(s.name)) for s in self.steps()]

    def _read_marker(self, name: str) -> dict[str, Any] | None:
        path = self.marker(name)
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def run(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.out / "study.config.json", asdict(self.cfg))
        steps = self.steps()
        for index, step in enumerate(steps, start=1):
            if self._read_marker(step.name) is not None:
                continue
            self.console.rule(f"[bold]{index}/{len(steps)} {step.describe}")
            started = time.time()
            step.run()
            self.marker(step.name).parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(
                self.marker(step.name),
                {
                    "step": step.name,
                    "seconds": round(time.time() - started, 1),
                    "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                },
            )

    # ------------------------------------------------------------------ step bodies
    def _bench(self) -> None:
        from xling.synthetic import build_benchmark

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

    def _eval_base(self) -> None:
        from xling.evaluate import run_eval

        run_eval(self._eval_config(self.base_model(), self.base_run), self.console)

    def _data_path(self, x: int, seed: int) -> Path:
        return self.out / "data" / f"{self.run_name(x, seed)}.jsonl"

    def _data(self, x: int, seed: int) -> None:
        from xling.benchmarks import benchmark_specs
        from xling.train.data import build_parallel_from_spec, write_parallel

        td = dict(self.cfg.train_data)
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
            self.cfg.train_langs(x),
            int(td.get("n", 1000)),
            seed=seed,
            budget=td.get("budget", "per-lang"),
            shuffle_ids=bool(td.get("shuffle_ids", False)),
            solution_field=td.get("solution_field", "solution"),
        )
        write_parallel(pset, self._data_path(x, seed))

    def _train_dir(self, method: str, x: int, seed: int) -> Path:
        return self.out / "train" / f"{method}-{self.run_name(x, seed)}"

    def _train(self, method: str, x: int, seed: int) -> None:
        from xling.train.config import GRPOTrainConfig, SFTTrainConfig
        from xling.train.grpo import run_grpo
        from xling.train.sft import run_sft

        cls, runner = (GRPOTrainConfig, run_grpo) if method == "grpo" else (SFTTrainConfig, run_sft)
        overrides = self.cfg.grpo if method == "grpo" else self.cfg.sft
        out = self._train_dir(method, x, seed)
        cfg = cls(
            **{
                **overrides,
                "model": self.base_model(),
                "data": str(self._data_path(x, seed)),
                "out": str(out),
                "seed": seed,
            }
        )
        runner(cfg, resume=out.exists(), console=self.console)

    def _eval_trained(self, method: str, x: int, seed: int) -> None:
        from xling.evaluate import run_eval
        from xling.train.common import FINAL_DIR

        train_dir = self._train_dir(method, x, seed)
        run_dir = self.out / method / self.run_name(x, seed)
        run_eval(self._eval_config(str(train_dir / FINAL_DIR), run_dir), self.console)
        train_info = json.loads((train_dir / "train.json").read_text(encoding="utf-8"))
        write_json_atomic(run_dir / "train.json", train_info)

    def _report(self, method: str) -> None:
        from xling.analysis.report import build_report

        folder = self.out / method
        runs = [self.run_name(x, s) for x in self.cfg.x_values for s in self.cfg.seeds]
        write_json_atomic(
            folder / "study.json",
            {"name": f"{self.cfg.name} ({method})", "base": "../base", "runs": runs},
        )
        opts = {"n_boot": 2000, "seed": 0} | self.cfg.report
        result = build_report(
            folder, self.out / "report" / method, title=f"{self.cfg.name}: {method.upper()}", **opts
        )
        summary = {
            metric: {k: getattr(fr, k).to_dict() for k in ("alpha", "beta", "r2", "leap", "gap")}
            for metric, fr in result.fits.items()
        }
        write_json_atomic(self.out / "report" / method / "summary.json", summary)


# ---------------------------------------------------------------------- headline


def headline(cfg: StudyConfig, console: Console) -> None:
    """Per-language accuracy base vs trained, MTI per X, α, β, leap and gap."""
    out = Path(cfg.out)
    base = json.loads((out / "base" / "metrics.json").read_text(encoding="utf-8"))
    for method in cfg.methods:
        folder = out / method
        report_dir = out / "report" / method
        runs = [
            (x, folder / (f"X{x}" if len(cfg.seeds) == 1 else f"X{x}-s{cfg.seeds[0]}"))
            for x in cfg.x_values
        ]
        table = Table(
            title=f"{cfg.name} — {method.upper()}: accuracy % by language", title_justify="left"
        )
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
        summary_path = report_dir / "summary.json"
        if summary_path.exists():
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            for metric, values in summary.items():
                parts = [f"{k}={_est(values[k])}" for k in ("alpha", "beta", "leap", "gap")]
                console.print(f"[bold]{metric} law[/] f(X)=α·X^β: " + ", ".join(parts))
        console.print(f"report: [bold]{report_dir / 'report.html'}[/]")


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
