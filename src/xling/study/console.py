"""What a study prints when it ends: the headline tables in the terminal.

Everything here reads what the steps wrote (each run's metrics.json, each arm's report
through `xling.analysis.results`), so `xling study run` and `xling demo` can print it after
any run, also one that another process finished.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from xling.analysis.bootstrap import Estimate
from xling.analysis.reference import COLUMNS as REFERENCE_COLUMNS
from xling.analysis.reference import reference_row
from xling.analysis.reference import row as reference_columns
from xling.analysis.results import ArmResults, read_arm_results
from xling.languages import get_language
from xling.study.config import StudyConfig
from xling.study.pipeline import Study, arm_label


def headline(cfg: StudyConfig, console: Console, arms: Sequence[str] | None = None) -> None:
    """Per arm: per-language accuracy base vs trained, MTI per X, α, β, leap and gap; then
    the comparison with the paper when the study has several arms (and all were run)."""
    study = Study(cfg, console)
    out = study.out
    for arm in study.arms:
        if arms is not None and arm.name not in arms:
            continue
        base_dir = study.base_run_of(arm.start)
        base = json.loads((base_dir / "metrics.json").read_text(encoding="utf-8"))
        report_dir = out / "report" / arm.name
        runs = [
            (slot.x, study.run_dir(slot))
            for slot in study.slots()
            if slot.arm is arm and slot.seed == cfg.seeds[0]
        ]
        title = f"{cfg.name} — {arm_label(arm)}: accuracy % by language"
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
        results = read_arm_results(report_dir, arm.name)
        if results is not None:
            _print_mti(results, console)
            _print_references(cfg, results, console)
            for metric, fit in results.fits.items():
                parts = [f"{k}={_general(fit[k])}" for k in ("alpha", "beta", "leap", "gap")]
                console.print(f"[bold]{metric} law[/] f(X)=α·X^β: " + ", ".join(parts))
        console.print(f"report: [bold]{report_dir / 'report.html'}[/]")
    for line in cfg.report.see_also:
        console.print(f"see also: {line}")
    paper_md = out / "report" / "summary.md"
    if arms is None and len(study.arms) > 1 and paper_md.exists():
        console.print(paper_md.read_text(encoding="utf-8"))


def _print_mti(results: ArmResults, console: Console) -> None:
    table = Table(title="MTI per X (95% CI)", title_justify="left")
    for col in ("run", "X", "training languages", "accuracy %", "MTI"):
        table.add_column(col)
    for run in results.runs:
        table.add_row(
            run.run,
            "" if run.x is None else f"{run.x}",
            " ".join(run.train_langs),
            "—" if run.accuracy.value is None else f"{100 * run.accuracy.value:.1f}",
            _mti(run.mti),
        )
    console.print(table)


def _print_references(cfg: StudyConfig, results: ArmResults, console: Console) -> None:
    """What this study's budget can show, and its runs beside the reference runs."""
    if cfg.report.scope:
        console.print(cfg.report.scope)
    if not cfg.report.reference:
        return
    table = Table(title="Beside the reference runs (95% CIs)", title_justify="left")
    for col in REFERENCE_COLUMNS:
        table.add_column(col)
    for run in results.runs:
        table.add_row(
            *reference_columns(
                f"{run.run} (here)",
                run.gain_seen.scaled(100),
                run.gain_unseen.scaled(100),
                run.mti,
            )
        )
    for ref in cfg.report.reference:
        table.add_row(*reference_row(ref))
    console.print(table)


def _mti(e: Estimate) -> str:
    if e.value is None:
        return "undefined"
    if e.lo is None or e.hi is None:
        return f"{e.value:.2f}"
    return f"{e.value:.2f} [{e.lo:.2f}, {e.hi:.2f}]"


def _general(e: Estimate) -> str:
    if e.value is None:
        return f"undefined ({e.reason or ''})"
    text = f"{e.value:.3g}"
    if e.lo is not None and e.hi is not None:
        text += f" [{e.lo:.3g}, {e.hi:.3g}]"
    return text
