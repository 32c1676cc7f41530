"""Several trained runs (+ their base) analysed together: per-run metrics and scaling fits.

One paired bootstrap cube covers the base run and every trained run, so each replicate
resamples the same problems everywhere; fits and their CIs come from refitting every
replicate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xling.analysis.bootstrap import Cube, compute_cube
from xling.analysis.fits import MONO_X, FitReport, analyze
from xling.analysis.rundata import X_KINDS, Run, align, find_study, load_run
from xling.analysis.transfer import (
    CompareResult,
    check_compare_options,
    compare_from_cube,
    gains,
    mti_arrays,
)
from xling.errors import XlingError
from xling.languages import parse_langs

# metric -> (label for axes and tables, unit, needs a base run)
METRICS: dict[str, tuple[str, str, bool]] = {
    "mti": ("MTI", "", True),
    "accuracy": ("Accuracy", "%", False),
    "gain": ("Accuracy gain over base", "pp", True),
    "off_target_rate": ("Off-target rate", "%", False),
    "format_rate": ("Format-compliance rate", "%", False),
    "no_answer_rate": ("No-answer rate", "%", False),
}
_FIELD = {
    "accuracy": "acc",
    "off_target_rate": "off",
    "format_rate": "fmt",
    "no_answer_rate": "noans",
}


@dataclass
class StudyData:
    base: Run | None
    runs: list[Run]
    xs: np.ndarray
    x_kind: str
    cube: Cube
    compares: list[CompareResult | None]
    ci: float
    mti_gain: str
    benchmark: str
    path: Path | None = None
    warnings: list[str] = field(default_factory=list)
    # Evaluated languages that no run with known training languages trains on: the unseen
    # set of every run's mti_fixed_unseen (it does not shrink as X grows).
    fixed_unseen: list[str] = field(default_factory=list)

    @property
    def offset(self) -> int:
        return 1 if self.base is not None else 0

    def seen(self, i: int) -> list[str] | None:
        c = self.compares[i]
        if c is not None:
            return c.train_langs
        r = self.runs[i]
        return list(r.train_langs) if r.train_langs else None


def parse_x(spec: str, runs: list[Run]) -> tuple[np.ndarray, str]:
    """--x: an X kind (num-train-langs | num-parallel-langs) or explicit values '1,2,4'."""
    spec = spec.strip()
    if spec in X_KINDS:
        return np.array([r.x(spec) for r in runs]), spec
    try:
        values = [float(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) and v >= 0 for v in values):
        raise XlingError(
            f"--x {spec!r}: use {' or '.join(X_KINDS)}, or one number >= 0 per run, e.g. 1,2,3"
        )
    if len(values) != len(runs):
        raise XlingError(f"--x gives {len(values)} value(s) for {len(runs)} run(s)")
    return np.array(values), "explicit"


def _unique_names(runs: list[Run]) -> None:
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.name] = seen.get(r.name, 0) + 1
    for r in runs:
        if seen[r.name] > 1:
            r.name = f"{r.path.parent.name}/{r.path.name}"


def load_study(
    paths: list[str | Path],
    base: str | Path | None = None,
    *,
    x: str = "num-train-langs",
    train_langs=None,
    benchmark: str = "all",
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    mti_gain: str = "relative",
    langs=None,
) -> StudyData:
    """Load trained runs (or one study folder) and their base into one bootstrap cube."""
    check_compare_options(ci, mti_gain, n_boot=n_boot, seed=seed)
    # Parsed once here: a plain string such as "en" must stay one code, not two letters.
    override = list(parse_langs(train_langs)) if train_langs else None
    paths = [Path(p) for p in paths]
    study_path = None
    if len(paths) == 1:
        study = find_study(paths[0])
        if study is not None:
            study_path = study.path
            paths = study.trained
            base = base if base is not None else study.base
    if not paths:
        raise XlingError("no runs given")
    runs = [load_run(p) for p in paths]
    base_run = load_run(base, name="base") if base is not None else None
    _unique_names(runs + ([base_run] if base_run else []))
    xs, x_kind = parse_x(x, runs)
    order = np.argsort(xs, kind="stable")
    runs = [runs[i] for i in order]
    xs = xs[order]
    lang_filter = list(parse_langs(langs)) if langs else None
    all_runs = ([base_run] if base_run else []) + runs
    aligned = align(all_runs, benchmark=benchmark, langs=lang_filter)
    cube = compute_cube(aligned, n_boot=n_boot, seed=seed)
    off = 1 if base_run else 0
    seens = [override or (list(r.train_langs) if r.train_langs else None) for r in runs]
    fixed_unseen = fixed_unseen_langs(cube.langs, [s for s in seens if s])
    compares: list[CompareResult | None] = []
    for i, seen in enumerate(seens):
        if base_run is None or not seen:
            compares.append(None)
            continue
        compares.append(
            compare_from_cube(
                cube,
                0,
                off + i,
                seen,
                ci=ci,
                mti_gain=mti_gain,
                benchmark=benchmark,
                fixed_unseen=fixed_unseen,
            )
        )
    return StudyData(
        base=base_run,
        runs=runs,
        xs=xs,
        x_kind=x_kind,
        cube=cube,
        compares=compares,
        ci=ci,
        mti_gain=mti_gain,
        benchmark=benchmark,
        path=study_path,
        warnings=list(aligned.warnings),
        fixed_unseen=fixed_unseen,
    )


def fixed_unseen_langs(langs: list[str], train_sets: list[list[str]]) -> list[str]:
    """The evaluated languages (in `langs` order) that none of `train_sets` contains."""
    trained = {lang for s in train_sets for lang in s}
    return [lang for lang in langs if lang not in trained]


def _lang_mask(sd: StudyData, i: int, spec: str) -> np.ndarray:
    langs = sd.cube.langs
    if spec == "all":
        return np.ones(len(langs), dtype=bool)
    if spec in ("seen", "unseen"):
        seen = sd.seen(i)
        if seen is None:
            raise XlingError(f"{sd.runs[i].path}: training languages unknown (train.json)")
        m = np.array([lang in seen for lang in langs])
        return m if spec == "seen" else ~m
    codes = parse_langs(spec)
    missing = [c for c in codes if c not in langs]
    if missing:
        raise XlingError(f"--metric-langs: not evaluated in every run: {', '.join(missing)}")
    return np.array([lang in codes for lang in langs])


def metric_values(
    sd: StudyData, metric: str, metric_langs: str = "all"
) -> tuple[np.ndarray, list[str]]:
    """(1 + B, R) values of `metric` for every trained run (row 0 = full data).

    Rates and accuracies are in percent (mean over the selected languages); MTI is a ratio.
    Runs whose value is undefined get NaN and a reason in the returned list.
    """
    if metric not in METRICS:
        raise XlingError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    if METRICS[metric][2] and sd.base is None:
        raise XlingError(
            f"metric {metric!r} compares with the base run: pass --base "
            "(or give a study folder with base/)"
        )
    cube, off = sd.cube, sd.offset
    B1 = cube.acc.shape[0]
    out = np.full((B1, len(sd.runs)), np.nan)
    problems: list[str] = []
    for i, r in enumerate(sd.runs):
        mask = _lang_mask(sd, i, metric_langs)
        if metric == "mti":
            seen = sd.seen(i)
            if seen is None:
                raise XlingError(
                    f"{r.path}: training languages unknown; add train.json or pass --train-langs"
                )
            cmp = sd.compares[i]
            if cmp is not None and not cmp.mti.defined:
                problems.append(f"{r.name}: MTI undefined ({cmp.mti.reason})")
                continue
            seen_mask = np.array([lang in seen for lang in cube.langs])
            g0 = gains(cube.acc[0, 0], cube.acc[0, off + i], sd.mti_gain)
            use = ~seen_mask & np.isfinite(g0)
            out[:, i] = mti_arrays(
                cube.acc[:, 0], cube.acc[:, off + i], seen_mask, sd.mti_gain, use=use
            )["mti"]
        elif metric == "gain":
            d = cube.acc[:, off + i][:, mask] - cube.acc[:, 0][:, mask]
            out[:, i] = 100 * d.mean(axis=-1)
        else:
            v = cube.field(_FIELD[metric])[:, off + i][:, mask]
            ok = np.isfinite(v)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:, i] = 100 * np.where(ok, v, 0.0).sum(-1) / ok.sum(-1)
            if not np.isfinite(out[0, i]):
                problems.append(f"{r.name}: {metric} unavailable")
    return out, problems


def fit_study(
    sd: StudyData,
    metric: str = "mti",
    *,
    metric_langs: str = "all",
    include_mono: bool = False,
    mono_x: float | None = None,
) -> FitReport:
    values, problems = metric_values(sd, metric, metric_langs)
    keep = np.isfinite(values[0])
    if not keep.any():
        raise XlingError(f"no run has a defined {metric} to fit: {'; '.join(problems)}")
    if not keep.all():
        sd.warnings.extend(f"left out of the {metric} fit: {p}" for p in problems)
    label, unit, _ = METRICS[metric]
    reps = values[1:, keep] if values.shape[0] > 1 else None
    if reps is not None:
        # A replicate in which some run's value is undefined cannot be refitted.
        reps = np.where(np.isfinite(reps), reps, np.nan)
    if mono_x is None:
        mono_x = MONO_X.get(sd.x_kind, 1.0 if sd.x_kind == "explicit" else None)
    report = analyze(
        sd.xs[keep],
        values[0, keep],
        _drop_bad_rows(reps),
        metric=label,
        unit=unit,
        x_kind=sd.x_kind,
        mono_x=mono_x,
        include_mono=include_mono,
        ci=sd.ci,
        seed=sd.cube.seed,
        ci_method="paired bootstrap over problems (same ids in every run and language)",
        labels=[r.name for r, k in zip(sd.runs, keep, strict=True) if k],
    )
    report.warnings.extend(problems)
    return report


def _drop_bad_rows(reps: np.ndarray | None) -> np.ndarray | None:
    if reps is None:
        return None
    ok = np.isfinite(reps).all(axis=1)
    # Dropping is fine while rare; summarize() then reports CIs from the rest. If too many
    # replicates are undefined, keep them (as NaN rows) so the CI is reported as unbounded.
    if ok.mean() >= 0.975:
        return reps[ok]
    return reps
