"""Read run and study directories into aligned per-problem arrays.

A *run* is the directory `xling eval` writes (docs/run-format.md); the analysis needs its
`scores.jsonl` and, for trained runs, a `train.json` naming the training languages. A
*study* is a folder holding a `base/` run and one directory per trained run
(docs/study-format.md).

Everything downstream works on per-problem arrays: for each benchmark, problems are
identified by their id, which is the same in every language and every run, so the same
resampled ids can be used for the base run, the trained runs and all languages at once
(a paired bootstrap).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xling.errors import XlingError
from xling.jsonl import read_json_object, read_jsonl
from xling.languages import ALL_CODES, get_language, parse_langs

TRAIN_JSON = "train.json"
STUDY_JSON = "study.json"
SCORES = "scores.jsonl"

# How the number of training languages X is counted (see fits.py for the paper's usage).
X_KINDS = ("num-train-langs", "num-parallel-langs")

# Per-problem fields kept for each (benchmark, lang) cell, summed over samples.
# correct_off: correct *and* off-target, so a gain can be split into the part that comes
# with answers in another language (English drift) and the in-language part.
_FIELDS = ("correct", "n", "off", "off_n", "fmt", "noans", "correct_off")
_F = {name: i for i, name in enumerate(_FIELDS)}


def lang_name(code: str) -> str:
    """English language name from the registry; the code itself for unknown codes."""
    try:
        return get_language(code).name
    except XlingError:
        return code


def lang_order(codes) -> list[str]:
    order = {c: i for i, c in enumerate(ALL_CODES)}
    return sorted(set(codes), key=lambda c: (order.get(c, len(order)), c))


@dataclass
class Run:
    """One evaluated model: per (benchmark, lang, problem id) sums over samples."""

    path: Path
    name: str
    model: str | None = None
    train_langs: tuple[str, ...] | None = None
    num_parallel_langs: int | None = None
    num_train_langs: int | None = None
    # cells[(benchmark, lang)][id] -> sums over samples of each of _FIELDS
    cells: dict[tuple[str, str], dict[str, list[float]]] = field(default_factory=dict)
    # scoring[(benchmark, lang)] -> [correct (flexible), correct_strict, n, n scored strictly]
    scoring: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def strict_flexible(
        self, benchmarks: list[str], langs: list[str]
    ) -> tuple[float | None, float | None]:
        """(flexible, strict) accuracy averaged over the (benchmark, language) cells with
        equal weight, as metrics.json's `overall`; strict is None when some scores predate
        strict scoring."""
        cells = [self.scoring[c] for c in self.scoring if c[0] in benchmarks and c[1] in langs]
        if not cells:
            return None, None
        flexible = sum(c[0] / c[2] for c in cells) / len(cells)
        if any(c[3] < c[2] for c in cells):
            return flexible, None
        return flexible, sum(c[1] / c[3] for c in cells) / len(cells)

    @property
    def benchmarks(self) -> list[str]:
        return sorted({b for b, _ in self.cells})

    def langs(self, benchmark: str | None = None) -> list[str]:
        return lang_order(lang for b, lang in self.cells if benchmark in (None, b))

    def x(self, kind: str) -> float:
        """The run's number of training languages X (kind: see X_KINDS)."""
        if kind not in X_KINDS:
            raise XlingError(f"unknown X kind {kind!r}; use one of {', '.join(X_KINDS)}")
        if self.train_langs is not None:
            n_train = len(self.train_langs)
        elif self.num_train_langs is not None:
            n_train = self.num_train_langs
        elif self.num_parallel_langs is not None:
            n_train = self.num_parallel_langs + 1
        else:
            raise XlingError(
                f"{self.path}: no {TRAIN_JSON} with train_langs (or num_train_langs), so the "
                "number of training languages is unknown; write one (docs/study-format.md) "
                "or give X explicitly, e.g. --x 1,2,3"
            )
        return float(n_train if kind == "num-train-langs" else n_train - 1)


def _read_json(path: Path) -> dict[str, Any]:
    return read_json_object(path)


def train_record(train_langs: Sequence[str]) -> dict[str, Any]:
    """The train.json an evaluation of a trained model needs when nothing else wrote one
    (an imported run, a model evaluated from Python): its training languages, X counted as
    `load_run` checks it (languages besides the first)."""
    langs = list(train_langs)
    return {"train_langs": langs, "num_parallel_langs": len(langs) - 1}


def read_train_json(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / TRAIN_JSON
    return _read_json(path) if path.exists() else None


def load_run(path: str | Path, name: str | None = None) -> Run:
    """Read a run directory's scores.jsonl (+ metrics.json model name, + train.json)."""
    path = Path(path)
    if not path.is_dir():
        raise XlingError(f"{path}: not a directory (expected a run directory from `xling eval`)")
    scores = path / SCORES
    if not scores.exists():
        raise XlingError(
            f"{path}: no {SCORES}; the analysis needs per-problem scores "
            "(run `xling eval`, or `xling score` on a run with generations only)"
        )
    run = Run(path=path, name=name or path.name)
    metrics = path / "metrics.json"
    if metrics.exists():
        model = _read_json(metrics).get("model")
        if model is not None and not isinstance(model, str):
            raise XlingError(f"{metrics}: model must be a string, got {model!r}")
        run.model = model

    latest: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    first_line: dict[tuple[str, str, str, int], int] = {}
    for lineno, rec in enumerate(read_jsonl(scores), start=1):
        key = _score_key(rec, f"{scores}:{lineno}")
        if key in latest:
            _check_duplicate(latest[key], rec, key, f"{scores}:{lineno}", first_line[key])
            continue
        latest[key] = rec
        first_line[key] = lineno
    if not latest:
        raise XlingError(f"{scores}: no scored records")
    for (bench, lang, pid, _sample), rec in latest.items():
        cell = run.cells.setdefault((bench, lang), {})
        acc = cell.setdefault(pid, [0.0] * len(_FIELDS))
        acc[_F["correct"]] += float(bool(rec.get("correct")))
        acc[_F["n"]] += 1.0
        off = rec.get("off_target")
        if off is not None:
            acc[_F["off"]] += float(bool(off))
            acc[_F["off_n"]] += 1.0
            acc[_F["correct_off"]] += float(bool(off) and bool(rec.get("correct")))
        acc[_F["fmt"]] += float(bool(rec.get("format_ok")))
        acc[_F["noans"]] += float(rec.get("pred") is None)
        scoring = run.scoring.setdefault((bench, lang), [0.0, 0.0, 0.0, 0.0])
        scoring[0] += float(bool(rec.get("correct")))
        scoring[2] += 1.0
        if rec.get("correct_strict") is not None:
            scoring[1] += float(bool(rec["correct_strict"]))
            scoring[3] += 1.0

    train = read_train_json(path)
    if train is not None:
        _apply_train_json(run, train)
    return run


# The record fields the analysis counts: (name, may be null). A string "false" would count
# as true under bool(), so anything but a JSON boolean is refused.
_FLAGS = (("correct", False), ("format_ok", True), ("off_target", True), ("correct_strict", True))


def _score_key(rec: dict[str, Any], where: str) -> tuple[str, str, str, int]:
    if not isinstance(rec, dict):
        raise XlingError(f"{where}: a score record must be a JSON object")
    try:
        bench, lang, pid, sample = (rec[k] for k in ("benchmark", "lang", "id", "sample"))
    except KeyError:
        raise XlingError(f"{where}: record lacks benchmark/lang/id/sample") from None
    if not (isinstance(bench, str) and isinstance(lang, str)):
        raise XlingError(f"{where}: benchmark and lang must be strings")
    if isinstance(pid, bool) or not isinstance(pid, str | int):
        raise XlingError(f"{where}: id must be a string or an integer, got {pid!r}")
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        raise XlingError(f"{where}: sample must be an integer >= 0, got {sample!r}")
    for name, nullable in _FLAGS:
        value = rec.get(name)
        if not isinstance(value, bool) and not (nullable and value is None):
            null = " or null" if nullable else ""
            raise XlingError(f"{where}: {name} must be true or false{null}, got {value!r}")
    return bench, lang, str(pid), sample


def _check_duplicate(
    kept: dict[str, Any], rec: dict[str, Any], key: tuple, where: str, first: int
) -> None:
    """A key scored twice is harmless when both records agree on everything the analysis
    counts; otherwise which one is right is unknowable, and either choice moves the MTI."""
    for name in (*(f for f, _ in _FLAGS), "pred"):
        if kept.get(name) != rec.get(name):
            bench, lang, pid, sample = key
            raise XlingError(
                f"{where}: duplicate score for benchmark {bench!r}, lang {lang!r}, id {pid!r}, "
                f"sample {sample} disagrees with line {first} on {name} "
                f"({kept.get(name)!r} vs {rec.get(name)!r}); keep one record per key"
            )


def _apply_train_json(run: Run, train: dict[str, Any]) -> None:
    where = run.path / TRAIN_JSON
    langs = train.get("train_langs")
    if langs is not None:
        if isinstance(langs, str):
            langs = [langs]
        if not isinstance(langs, list) or not all(isinstance(c, str) for c in langs):
            raise XlingError(
                f"{where}: train_langs must be a list of language codes, got {langs!r}"
            )
        try:
            run.train_langs = parse_langs(langs)
        except XlingError as exc:
            raise XlingError(f"{where}: {exc}") from None
    for key in ("num_parallel_langs", "num_train_langs"):
        value = train.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise XlingError(f"{where}: {key} must be a non-negative integer, got {value!r}")
        setattr(run, key, value)
    if run.train_langs is not None:
        n = len(run.train_langs)
        if run.num_parallel_langs is not None and run.num_parallel_langs != n - 1:
            run.warnings.append(
                f"{where}: num_parallel_langs={run.num_parallel_langs} but train_langs has {n} "
                f"language(s) (expected {n - 1} = languages besides the first); using train_langs"
            )
        if run.num_train_langs is not None and run.num_train_langs != n:
            run.warnings.append(
                f"{where}: num_train_langs={run.num_train_langs} but train_langs has {n}; "
                "using train_langs"
            )


# --------------------------------------------------------------------------- studies


@dataclass
class Study:
    path: Path
    base: Path
    trained: list[Path]
    meta: dict[str, Any] = field(default_factory=dict)


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and ((path / SCORES).exists() or (path / "metrics.json").exists())


def find_study(path: str | Path) -> Study | None:
    """A study folder (base/ + trained run dirs with train.json), or None if `path` isn't one."""
    path = Path(path)
    if not path.is_dir():
        return None
    where = path / STUDY_JSON
    meta = _read_json(where) if where.exists() else {}
    if not isinstance(meta.get("base", "base"), str):
        raise XlingError(f"{where}: base must be a folder name, got {meta['base']!r}")
    base = path / meta.get("base", "base")
    if "runs" in meta:
        runs = meta["runs"]
        if not isinstance(runs, list) or not all(isinstance(r, str) for r in runs):
            raise XlingError(f"{where}: runs must be a list of folder names, got {runs!r}")
        trained = [path / r for r in runs]
        missing = [str(t) for t in trained if not t.is_dir()]
        if missing:
            raise XlingError(f"{path / STUDY_JSON}: listed run(s) missing: {', '.join(missing)}")
    else:
        trained = sorted(
            (
                d
                for d in path.iterdir()
                if d.is_dir() and d.resolve() != base.resolve() and (d / TRAIN_JSON).exists()
            ),
            key=lambda d: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", d.name)],
        )
    if not is_run_dir(base):
        if meta or trained:
            raise XlingError(
                f"{path}: looks like a study (trained runs or {STUDY_JSON}) but has no base run "
                f"at {base} (docs/study-format.md)"
            )
        return None
    if not trained:
        return None
    return Study(path=path, base=base, trained=trained, meta=meta)


# --------------------------------------------------------------------------- alignment


@dataclass
class BenchArrays:
    """Per-problem sums for one benchmark, shape (R runs, L langs, n problems) each."""

    ids: list[str]
    langs: list[str]
    sums: np.ndarray  # (len(_FIELDS), R, L, n)

    def get(self, name: str) -> np.ndarray:
        return self.sums[_F[name]]


@dataclass
class Aligned:
    runs: list[Run]
    benches: dict[str, BenchArrays]
    warnings: list[str] = field(default_factory=list)

    @property
    def langs(self) -> list[str]:
        return lang_order(lang for b in self.benches.values() for lang in b.langs)

    def n_problems(self) -> dict[str, int]:
        return {name: len(b.ids) for name, b in self.benches.items()}


def align(runs: list[Run], benchmark: str = "all", langs: list[str] | None = None) -> Aligned:
    """Put runs on common (benchmark, language, problem id) axes.

    A language is kept for a benchmark only when every run evaluated it; problem ids are the
    union over runs and languages (a problem missing from one cell is masked there, not
    dropped everywhere).
    """
    if not runs:
        raise XlingError("no runs given")
    warnings: list[str] = []
    common = set(runs[0].benchmarks)
    for r in runs[1:]:
        common &= set(r.benchmarks)
    every = set().union(*(r.benchmarks for r in runs))
    if benchmark != "all":
        if benchmark not in common:
            raise XlingError(
                f"benchmark {benchmark!r} is not in every run; common benchmarks: "
                f"{', '.join(sorted(common)) or 'none'}"
            )
        common = {benchmark}
    elif every - common:
        left_out = ", ".join(sorted(every - common))
        warnings.append(f"benchmark(s) not in every run, left out: {left_out}")
    if not common:
        raise XlingError("the runs share no benchmark")

    benches: dict[str, BenchArrays] = {}
    unpaired_only = False
    for bench in sorted(common):
        per_run = [set(r.langs(bench)) for r in runs]
        keep = set.intersection(*per_run)
        dropped = set.union(*per_run) - keep
        if langs is not None:
            keep &= set(langs)
        if dropped:
            warnings.append(
                f"{bench}: language(s) not evaluated in every run, left out: "
                f"{', '.join(lang_order(dropped))}"
            )
        # The bootstrap pairs runs through shared problem ids; a language in which no id
        # was scored by every run would get a "paired" interval built from unrelated draws.
        unpaired = {
            lang
            for lang in keep
            if not set.intersection(*(set(r.cells[(bench, lang)]) for r in runs))
        }
        if unpaired:
            keep -= unpaired
            unpaired_only = unpaired_only or not keep
            warnings.append(
                f"{bench}: language(s) with no problem id scored in every run "
                f"({', '.join(r.name for r in runs)}), left out: "
                f"{', '.join(lang_order(unpaired))}"
            )
        if not keep:
            continue
        lang_list = lang_order(keep)
        ids: set[str] = set()
        for r in runs:
            for lang in lang_list:
                ids.update(r.cells[(bench, lang)])
        id_list = sorted(ids, key=_id_key)
        index = {pid: i for i, pid in enumerate(id_list)}
        sums = np.zeros((len(_FIELDS), len(runs), len(lang_list), len(id_list)))
        for ri, r in enumerate(runs):
            for li, lang in enumerate(lang_list):
                for pid, vals in r.cells[(bench, lang)].items():
                    sums[:, ri, li, index[pid]] = vals
        missing = int((sums[_F["n"]] == 0).sum())
        if missing:
            warnings.append(
                f"{bench}: {missing} (run, language, problem) cell(s) have no score; "
                "those problems are left out of that cell's averages"
            )
        benches[bench] = BenchArrays(ids=id_list, langs=lang_list, sums=sums)
    if not benches and unpaired_only:
        raise XlingError(
            f"{' and '.join(r.name for r in runs)} share no problem: no (benchmark, language, "
            "id) was scored in every run, so there is nothing to compare pairwise (were they "
            "evaluated on the same benchmark data?)"
        )
    if not benches:
        raise XlingError("no language was evaluated in every run")
    for r in runs:
        warnings.extend(r.warnings)
    return Aligned(runs=runs, benches=benches, warnings=warnings)


def _id_key(pid: str) -> tuple[int, int | str]:
    return (0, int(pid)) if pid.isdigit() else (1, pid)
