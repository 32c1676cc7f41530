"""One study's findings over several independently pretrained organisms.

A study runs one base model; replicating a finding across organisms means running the
same study file once per organism (only the models differ) and then pooling them:

    xling study pool study-s0.toml study-s1.toml --out docs/gpu/organism-v3

writes `runs.csv` (every trained run of every study, with its organism and its MTIs as
each study's reports measured them), `verdicts.csv` / `verdicts.md` (the findings from
one bootstrap over all of them, organisms resampled at the top level:
`xling.analysis.verdicts`) and `cells.csv` (each (arm, X) cell's gains and MTIs from that
same bootstrap). Each study must have run its reports first.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from xling.analysis.verdicts import (
    StudyRun,
    VerdictSet,
    compute_verdicts,
    verdicts_markdown,
    write_verdicts_csv,
)
from xling.errors import XlingError
from xling.jsonl import write_json_atomic, write_text_atomic
from xling.study.config import StudyConfig
from xling.study.pipeline import Study
from xling.tables import write_csv

# The run columns every pooled runs.csv leads with; the rest follow in the reports' order.
LEAD = ("organism", "arm", "run", "x", "seed")


def _organism(cfg: StudyConfig) -> str:
    return Path(cfg.out).name


def pooled_runs_table(studies: Sequence[Study]) -> list[dict[str, Any]]:
    """Every arm report's runs.csv rows, each with its organism (the study folder's name),
    arm, and the run's X (languages added to English) and training seed from the study's
    run table (an arm report names a run only by its folder)."""
    rows: list[dict[str, Any]] = []
    for study in studies:
        organism = _organism(study.cfg)
        slots = {(run.arm, run.run_dir.name): run for run in study.run_table()}
        for arm in study.arms:
            table = study.out / "report" / arm.name / "tables" / "runs.csv"
            if not table.is_file():
                raise XlingError(
                    f"{table} is missing: run the study's reports first "
                    f"(xling study run on {study.cfg.out})"
                )
            with table.open(encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    run = slots.get((arm.name, row.get("run", "")))
                    if run is None:
                        raise XlingError(
                            f"{table}: run {row.get('run')!r} is not a run of arm {arm.name} "
                            "in this study file (a report from another design?)"
                        )
                    lead = {"organism": organism, "arm": arm.name, "x": run.x, "seed": run.seed}
                    rows.append({**lead, **row})
    return rows


def pooled_study_runs(studies: Sequence[Study]) -> list[StudyRun]:
    return [
        replace(run, organism=_organism(study.cfg))
        for study in studies
        for run in study.run_table()
    ]


def check_same_design(studies: Sequence[Study]) -> None:
    """The studies must differ in their models only: the same arms, X values and data."""
    if len(studies) < 2:
        raise XlingError("pooling needs at least two studies (one per organism)")
    names = [_organism(s.cfg) for s in studies]
    if len(set(names)) != len(names):
        raise XlingError(f"the studies' output folders must have different names: {names}")
    first = studies[0]
    for other in studies[1:]:
        for field in ("x_values", "seeds", "synthetic", "train_data", "grpo", "sft", "eval"):
            if getattr(first.cfg, field) != getattr(other.cfg, field):
                raise XlingError(
                    f"{other.cfg.out} differs from {first.cfg.out} in {field}: pool only "
                    "studies that differ in their models"
                )
        if [(a.name, a.method) for a in first.arms] != [(a.name, a.method) for a in other.arms]:
            raise XlingError(f"{other.cfg.out} has other arms than {first.cfg.out}")


def pool_studies(
    studies: Sequence[Study],
    out: Path,
    *,
    n_boot: int | None = None,
    seed: int | None = None,
) -> VerdictSet:
    check_same_design(studies)
    report = studies[0].cfg.report
    rows = pooled_runs_table(studies)
    columns = list(LEAD) + [k for k in rows[0] if k not in LEAD] if rows else list(LEAD)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / "runs.csv", columns=columns)
    vs = compute_verdicts(
        pooled_study_runs(studies),
        studies[0].study_arms(),
        n_boot=n_boot or report.n_boot,
        seed=report.seed if seed is None else seed,
        ci=report.ci,
        mti_gain=report.mti_gain,
        mechanisms=report.mechanisms,
    )
    write_verdicts_csv(vs, out / "verdicts.csv")
    write_json_atomic(out / "verdicts.json", {"meta": vs.meta(), "rows": vs.table()})
    title = ", ".join(s.cfg.name for s in studies)
    write_text_atomic(out / "verdicts.md", f"# Verdicts: {title}\n\n" + verdicts_markdown(vs))
    return vs
