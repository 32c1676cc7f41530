"""xling from Python: evaluate a model, compare two evaluations, fit the scaling law and
write a report, in a notebook or a script. The command line is a layer over the same code.

    from xling import api

    base = api.evaluate("organism", bench="synth", langs="en,es,sw", limit=50)
    tuned = api.evaluate(policy, tokenizer=tokenizer, bench="synth", langs="en,es,sw",
                         limit=50, train_langs="en")        # a model in memory
    result = api.compare(base, tuned)                       # gains and MTI with CIs
    print(result.mti)

`model` is a hub id or path (as `xling eval --model`), a transformers model (with its
tokenizer), a `vllm.LLM`, or a function `messages -> text`. Every other keyword is an
`xling eval` option (`EvalConfig`). A result lives in memory, backed by a temporary run
directory that goes with it; `out=` keeps the run directory (and resumes one), and
`result.save(path)` keeps it afterwards. See docs/api.md.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from xling.analysis.fits import FitReport
from xling.analysis.report import ReportResult, build_report
from xling.analysis.rundata import TRAIN_JSON, read_train_json, train_record
from xling.analysis.study import fit_study, load_study
from xling.analysis.transfer import CompareResult
from xling.analysis.transfer import compare as compare_runs
from xling.backends import backend_for_object
from xling.errors import XlingError
from xling.evaluate import EvalConfig, eval_config, run_eval
from xling.jsonl import read_jsonl, write_json_atomic
from xling.languages import parse_langs


@dataclass
class EvalResult:
    """One evaluation: metrics, per-sample scores and generations, and the run directory
    behind them (temporary unless `out=` or `save` kept it)."""

    path: Path
    metrics: dict[str, Any]
    config: EvalConfig
    train_langs: tuple[str, ...] | None = None
    _cleanup: Any = field(default=None, repr=False)

    @property
    def scores(self) -> list[dict[str, Any]]:
        return list(read_jsonl(self.path / "scores.jsonl"))

    @property
    def generations(self) -> list[dict[str, Any]]:
        return list(read_jsonl(self.path / "generations.jsonl"))

    def accuracy(self, lang: str | None = None, bench: str | None = None) -> float | None:
        """Accuracy in one language (of one benchmark, else its macro over benchmarks),
        or the overall macro average."""
        if lang is None:
            return self.metrics["overall"]["accuracy"]
        values = [
            data["langs"][lang]["accuracy"]
            for name, data in self.metrics["benchmarks"].items()
            if bench in (None, name) and lang in data["langs"]
        ]
        values = [v for v in values if v is not None]
        return sum(values) / len(values) if values else None

    def save(self, path: str | Path) -> EvalResult:
        """Copy the run directory to `path` (a run `xling compare/report` read) and use it."""
        target = Path(path)
        if target.exists():
            raise XlingError(f"{target} exists; choose a new folder")
        shutil.copytree(self.path, target, ignore=shutil.ignore_patterns("xling.lock"))
        return EvalResult(target, self.metrics, self.config, self.train_langs)


def _temporary_dir(owner: object) -> tuple[Path, Any]:
    folder = Path(tempfile.mkdtemp(prefix="xling-run-"))
    return folder, weakref.finalize(owner, shutil.rmtree, folder, ignore_errors=True)


def evaluate(
    model: Any,
    *,
    tokenizer: Any = None,
    out: str | Path | None = None,
    train_langs: str | Sequence[str] | None = None,
    console: Console | None = None,
    **options: Any,
) -> EvalResult:
    """Evaluate `model` (see the module docstring) with `xling eval`'s options, e.g.
    bench="mgsm", data="path/to/mgsm", langs="all", n=4, temperature=0.6, limit=100.

    `train_langs`: the languages the model was trained in, when it was (recorded as the
    run's train.json, so `compare`, `fit` and `report` know its seen languages)."""
    by_name = isinstance(model, str)
    label = model if by_name else options.pop("model_name", None)
    backend = None
    if not by_name:
        backend = backend_for_object(
            model,
            tokenizer=tokenizer,
            batch_size=options.get("batch_size", EvalConfig.batch_size),
            engine=options.get("engine", EvalConfig.engine),
            chat_template_kwargs=options.get("chat_template_kwargs"),
        )
        label = label or backend.model_name
    result = EvalResult(Path(), {}, EvalConfig())
    if out is None:
        folder, result._cleanup = _temporary_dir(result)
    else:
        folder = Path(out)
    cfg = eval_config(**{**options, "model": label, "out": str(folder)})
    console = console or Console(quiet=True)
    try:
        metrics = run_eval(cfg, console, backend=backend)
    finally:
        if backend is not None:
            backend.close()  # gives a caller's model back as it came (train mode, config)
    result.path, result.metrics, result.config = folder, metrics, cfg
    if train_langs is not None:
        langs = parse_langs(train_langs if isinstance(train_langs, str) else ",".join(train_langs))
        result.train_langs = tuple(langs)
        write_json_atomic(folder / TRAIN_JSON, train_record(langs))
    return result


def parallel_data(
    out: str | Path, *, bench: str = "synth", langs: str = "en", n: int = 1000, **options: Any
) -> Path:
    """A parallel training set (JSONL + its .meta.json), as `xling data parallel`: the same
    `n` problems of `bench`'s training split in each of `langs`. `options`: data, seed,
    budget, shuffle_ids and the source's field names."""
    from xling.benchmarks import BenchmarkSource
    from xling.train.data import build_parallel_from_spec, write_parallel

    build = {k: options.pop(k) for k in ("seed", "budget", "shuffle_ids") if k in options}
    source = BenchmarkSource(bench=bench, **options)
    pset = build_parallel_from_spec(
        source.specs(parse_langs(langs), training=True), langs, n, **build
    )
    write_parallel(pset, Path(out))
    return Path(out)


def train(
    model: str, data: str | Path, out: str | Path, *, method: str = "grpo", **options: Any
) -> Path:
    """Post-train `model` on a parallel set (`parallel_data`) with GRPO or SFT, as `xling
    train`; returns the trained model's folder (out/final). `options`: the method's config
    fields (GRPOTrainConfig / SFTTrainConfig), `trl={...}` included."""
    from xling.train.common import FINAL_DIR
    from xling.train.config import GRPOTrainConfig, SFTTrainConfig

    if method not in ("grpo", "sft"):
        raise XlingError(f"method must be grpo or sft, got {method!r}")
    quiet = Console(quiet=True)
    settings = {**options, "model": model, "data": str(data), "out": str(out)}
    if method == "grpo":
        from xling.train.grpo import run_grpo

        run_grpo(GRPOTrainConfig(**settings), console=quiet)
    else:
        from xling.train.sft import run_sft

        run_sft(SFTTrainConfig(**settings), console=quiet)
    return Path(out) / FINAL_DIR


def load(path: str | Path) -> EvalResult:
    """A run directory already on disk (`xling eval`, `xling import`, a study's run) as a
    result, its training languages from its train.json when it has one."""
    from xling.jsonl import read_json_object

    folder = Path(path)
    for name in ("config.json", "metrics.json"):
        if not (folder / name).is_file():
            raise XlingError(f"{folder}: no {name}; not a finished run directory")
    fields = {f.name for f in dataclasses.fields(EvalConfig)}
    saved = read_json_object(folder / "config.json")
    cfg = EvalConfig(**{k: v for k, v in saved.items() if k in fields})
    train = read_train_json(folder)
    langs = tuple(train["train_langs"]) if train and train.get("train_langs") else None
    return EvalResult(folder, read_json_object(folder / "metrics.json"), cfg, langs)


def compare(
    base: EvalResult,
    trained: EvalResult,
    *,
    train_langs: str | Sequence[str] | None = None,
    **options: Any,
) -> CompareResult:
    """Gains, off-target change and MTI of `trained` against `base`, with paired-bootstrap
    CIs (`xling compare`'s options: benchmark, langs, n_boot, seed, ci, mti_gain)."""
    langs = train_langs if train_langs is not None else trained.train_langs
    if langs is None:
        raise XlingError("compare needs the trained languages: evaluate(..., train_langs=...)")
    if not isinstance(langs, str):
        langs = ",".join(langs)
    return compare_runs(base.path, trained.path, langs, **options)


def mti(base: EvalResult, trained: EvalResult, **options: Any) -> Any:
    """The Multilingual Transferability Index of `trained` against `base` (an estimate with
    its CI: `.value`, `.lo`, `.hi`)."""
    return compare(base, trained, **options).mti


def _study_folder(base: EvalResult, runs: Mapping[str, EvalResult], folder: Path) -> Path:
    """A study folder (docs/study-format.md) of copies of the runs: base/ and one per run."""
    for name, run in {"base": base, **runs}.items():
        if name != "base" and run.train_langs is None:
            raise XlingError(f"run {name!r} has no train_langs (evaluate(..., train_langs=))")
        shutil.copytree(run.path, folder / name, ignore=shutil.ignore_patterns("xling.lock"))
    return folder


def _named(runs: Sequence[EvalResult] | Mapping[str, EvalResult]) -> dict[str, EvalResult]:
    if isinstance(runs, Mapping):
        return dict(runs)
    return {f"run{i}-" + "-".join(r.train_langs or ()): r for i, r in enumerate(runs)}


def fit(
    base: EvalResult,
    runs: Sequence[EvalResult] | Mapping[str, EvalResult],
    *,
    metric: str = "mti",
    **options: Any,
) -> FitReport:
    """The parallel scaling law over trained runs (X from their train_langs), as `xling
    fit`: power law, First-Parallel Leap and Monolingual Generalization Gap with CIs.
    `options`: x, benchmark, n_boot, seed, ci, mti_gain, include_mono."""
    include_mono = options.pop("include_mono", False)
    with tempfile.TemporaryDirectory(prefix="xling-study-") as tmp:
        folder = _study_folder(base, _named(runs), Path(tmp))
        study = load_study([folder], **options)
        return fit_study(study, metric, include_mono=include_mono)


def report(
    base: EvalResult,
    runs: Sequence[EvalResult] | Mapping[str, EvalResult],
    out: str | Path = "report",
    **options: Any,
) -> ReportResult:
    """report.html, report.md, figures and CSV tables in `out`, as `xling report`; the
    runs are copied into out/study/ so the report's links stay valid."""
    out = Path(out)
    folder = out / "study"
    if folder.exists():
        raise XlingError(f"{folder} exists; choose a new report folder")
    _study_folder(base, _named(runs), folder)
    return build_report(folder, out, **options)
