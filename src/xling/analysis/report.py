"""`xling report`: a self-contained HTML report, a Markdown report, figures and CSV tables.

Input is a study folder (docs/study-format.md), a trained run plus `--base`, or a single run
(per-language accuracy and off-target rate only). Output folder:

    report.html   self-contained (figures embedded as PNG data URIs, no external requests)
    report.md     the same content; figures linked from figures/
    figures/      every figure as PNG (200 dpi) and SVG
    tables/       per_language.csv, runs.csv, fits.csv, fit_points.csv (runs.csv: per
                  trained run, accuracy and the gain over all, the training (seen) and the
                  unseen languages, MTI and the off-target change, each with _lo and _hi;
                  MTI's Fieller interval (mti_fieller_lo/_hi) and the share of resamples
                  with a training-language gain ≤ 0 (mti_denominator_le0_share); the MTI
                  variants mti_fixed_unseen and mti_abs with the same columns)

This module decides what a study, compare or single-run report says; laying it out as HTML
and Markdown is xling.analysis.document's.
"""

from __future__ import annotations

import datetime as _dt
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xling import __version__
from xling.analysis import plots
from xling.analysis.agreement import scorer_agreement
from xling.analysis.bootstrap import Estimate, FiellerInterval, fmt_num, summarize
from xling.analysis.document import Doc, screenshot_html, write_documents
from xling.analysis.fits import FitReport
from xling.analysis.reference import COLUMNS as REFERENCE_COLUMNS
from xling.analysis.reference import ReferenceRun, reference_row
from xling.analysis.reference import row as reference_columns
from xling.analysis.rundata import find_study, lang_name
from xling.analysis.study import StudyData, fit_study, load_study
from xling.analysis.transfer import MTI_FORMULA, MTI_VARIANTS, CompareResult, RatioCheck
from xling.errors import XlingError
from xling.tables import write_csv

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# --------------------------------------------------------------------------- formatting


def _pct(e: Estimate, sign: bool = False) -> str:
    return e.fmt(1, 100, sign=sign)


def _ratio(e: Estimate) -> str:
    return e.fmt(2)


def _diff_unit(unit: str) -> str:
    """Unit of a difference of values: percentages differ by percentage points."""
    return " pp" if unit in ("%", "pp") else (f" {unit}" if unit else "")


def _ci_text(e: Estimate, digits: int = 2, sign: bool = False) -> str:
    if e.lo is None or e.hi is None:
        return "CI n/a" + (f" ({e.reason})" if e.reason else "")
    return f"CI [{fmt_num(e.lo, digits, sign)}, {fmt_num(e.hi, digits, sign)}]"


# --------------------------------------------------------------------------- helpers


def pick_runs(xs: np.ndarray, mono_x: float | None) -> list[int]:
    """Runs shown in per-language bar charts: all if ≤ 3, else monolingual, one parallel
    language and the largest X."""
    idx = list(range(len(xs)))
    if len(idx) <= 3:
        return idx
    chosen: list[int] = []
    for target in (mono_x, None if mono_x is None else mono_x + 1, float(np.max(xs))):
        if target is None:
            continue
        hits = [i for i in idx if xs[i] == target and i not in chosen]
        if hits:
            chosen.append(hits[0])
    for i in idx:
        if len(chosen) >= 3:
            break
        if i not in chosen:
            chosen.append(i)
    return sorted(chosen, key=lambda i: xs[i])


def run_label(sd: StudyData, i: int) -> str:
    """'X=2 (en+es)' for study runs named after their X, else 'name (X=2)'."""
    r = sd.runs[i]
    if not np.isfinite(sd.xs[i]) or sd.x_kind == "none":
        return r.name
    xv = f"{sd.xs[i]:g}"
    seen = sd.seen(i) or []
    langs = "+".join(seen) if len(seen) <= 3 else f"{seen[0]}+{len(seen) - 1} more"
    if r.name.lower().replace(" ", "") in (f"x{xv}", f"x={xv}", f"x_{xv}", f"x-{xv}"):
        return f"X={xv} ({langs})" if seen else f"X={xv}"
    return f"{r.name} (X={xv})"


def _stat_estimate(sd: StudyData, field_name: str, run_index: int, lang_index: int) -> Estimate:
    arr = sd.cube.field(field_name)[:, run_index, lang_index]
    return summarize(
        arr[0], arr[1:], sd.ci, undefined=None if np.isfinite(arr[0]) else "nothing to average"
    )


# --------------------------------------------------------------------------- report


@dataclass
class ReportResult:
    out: Path
    html: Path
    md: Path
    figures: dict[str, dict[str, Path]]
    tables: dict[str, Path]
    screenshot: Path | None = None
    warnings: list[str] = field(default_factory=list)
    fits: dict[str, FitReport] = field(default_factory=dict)  # "mti" / "accuracy" in a study


@dataclass
class _Report:
    """What the report's sections share while they are written, in document order."""

    path: Path
    out: Path
    sd: StudyData
    mode: str  # "study", "compare" or "single"
    ci: float
    doc: Doc
    title: str = ""
    fits: dict[str, FitReport] = field(default_factory=dict)
    figures: dict[str, dict[str, Path]] = field(default_factory=dict)
    tables: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    shown: list[int] = field(default_factory=list)  # runs drawn in per-language charts
    undefined_reasons: list[str] = field(default_factory=list)  # listed near the end
    subset_note: str = ""

    @property
    def figdir(self) -> Path:
        return self.out / "figures"

    @property
    def tabdir(self) -> Path:
        return self.out / "tables"

    @property
    def compares(self) -> list[CompareResult]:
        return [c for c in self.sd.compares if c is not None]

    def save_figure(self, fig: Figure, name: str, caption: str, wide: bool = True) -> None:
        self.figures[name] = plots.save(fig, self.figdir, name)
        self.doc.figure(self.figures[name], caption, wide=wide)

    def write_table(self, name: str, rows: list[dict[str, Any]]) -> None:
        self.tables[name] = self.tabdir / f"{name}.csv"
        write_csv(rows, self.tables[name])


def build_report(
    path: str | Path,
    out: str | Path = "report",
    *,
    base: str | Path | None = None,
    train_langs=None,
    x: str = "num-train-langs",
    benchmark: str = "all",
    n_boot: int = 2000,
    seed: int = 0,
    ci: float = 0.95,
    mti_gain: str = "relative",
    title: str | None = None,
    screenshot: bool = False,
    see_also: tuple[str, ...] = (),
    scope: str = "",
    references: tuple[ReferenceRun, ...] = (),
) -> ReportResult:
    """`see_also`: lines shown under the title (e.g. where a larger run of the same study
    is), Markdown links allowed. `scope`: what this run's budget can and cannot show, said
    first; `references`: figures of a larger run, tabled beside this run's own."""
    path = Path(path)
    out = Path(out)
    opts = {
        "train_langs": train_langs,
        "benchmark": benchmark,
        "n_boot": n_boot,
        "seed": seed,
        "ci": ci,
        "mti_gain": mti_gain,
    }
    mode, sd = _load_study_data(path, base, x, opts)
    out.mkdir(parents=True, exist_ok=True)
    rep = _Report(path, out, sd, mode, ci, Doc(out=out), warnings=list(sd.warnings))
    _fit_laws(rep)
    _header(rep, title)
    if scope:
        rep.doc.p(scope)
    for line in see_also:
        rep.doc.p(f"See also: {line}")
    _key_numbers(rep)
    if references and rep.compares:
        _reference_table(rep, references)
    _scaling_section(rep)
    _language_figures(rep)
    if rep.compares:
        _runs_tables(rep)
    else:
        _single_run_table(rep)
    _scoring_table(rep)
    _scorer_agreement_table(rep)
    _fit_tables(rep)
    _closing_sections(rep)
    html_path, md_path = write_documents(rep.doc, rep.title)
    result = ReportResult(
        out=out,
        html=html_path,
        md=md_path,
        figures=rep.figures,
        tables=rep.tables,
        warnings=sorted(set(rep.warnings)),
        fits=rep.fits,
    )
    if screenshot:
        result.screenshot = screenshot_html(html_path, out / "report.png")
    return result


def _load_study_data(
    path: Path, base: str | Path | None, x: str, opts: dict[str, Any]
) -> tuple[str, StudyData]:
    """The report's mode ("study", "compare" or "single") and its loaded data."""
    study = find_study(path)
    if study is None and not (path / "scores.jsonl").exists():
        raise XlingError(
            f"{path}: neither a study folder (base/ + trained runs with "
            "train.json, docs/study-format.md) nor a run directory"
        )
    if study is not None:
        return "study", load_study([path], base, x=x, **opts)
    mode = "compare" if base is not None else "single"
    try:
        sd = load_study([path], base, x=x, **opts)
    except XlingError as exc:
        if "number of training languages is unknown" not in str(exc):
            raise
        sd = load_study([path], base, x="0", **opts)
        sd.x_kind = "none"
    if mode == "compare" and sd.compares[0] is None:
        raise XlingError(
            f"{path}: training languages unknown; pass --train-langs or add "
            "train.json to the run directory"
        )
    return mode, sd


def _fit_laws(rep: _Report) -> None:
    """Scaling-law fits (study with several X values); a failed fit becomes a warning."""
    if rep.mode != "study":
        return
    for metric in ("mti", "accuracy"):
        try:
            rep.fits[metric] = fit_study(rep.sd, metric)
        except XlingError as exc:
            rep.warnings.append(f"{metric} scaling fit skipped: {exc}")


def _header(rep: _Report, title: str | None) -> None:
    rep.title = (
        title
        or {
            "study": "Parallel scaling study",
            "compare": "Transfer report",
            "single": "Evaluation report",
        }[rep.mode]
    )
    rep.doc.h(1, f"xling — {rep.title}")
    sd = rep.sd
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    problems = ", ".join(f"{b}: {n}" for b, n in sd.cube.n_problems.items())
    rep.doc.p(
        f"Input {rep.path} · generated {stamp} by xling {__version__} · problems per benchmark "
        f"({problems}) · {sd.cube.n_boot} paired bootstrap resamples, seed {sd.cube.seed}, "
        f"{round(100 * rep.ci)}% CIs",
        cls="sub",
    )


def _key_numbers(rep: _Report) -> None:
    if rep.mode == "study":
        cards = [
            card
            for metric, name in (("mti", "MTI law"), ("accuracy", "Accuracy law"))
            if metric in rep.fits
            for card in _fit_cards(rep.fits[metric], name)
        ]
    elif rep.mode == "compare":
        cards = _compare_cards(rep.compares[0])
    else:
        cards = _single_run_cards(rep)
    if cards:
        rep.doc.cards(cards)


def _reference_table(rep: _Report, references: tuple[ReferenceRun, ...]) -> None:
    """This study's runs beside the reference runs, in the same columns."""
    sd = rep.sd
    rows = []
    for i, c in enumerate(sd.compares):
        if c is None:
            continue
        rows.append(own_row(run_label(sd, i), c))
    rows.extend(reference_row(ref) for ref in references)
    rep.doc.h(2, "Beside the reference runs")
    rep.doc.table(list(REFERENCE_COLUMNS), rows, align_left=1)


def own_row(label: str, c: CompareResult) -> list[str]:
    """A compared run in the reference table's columns."""
    empty = Estimate(None, reason="no such language")
    seen = c.groups["seen"].gain if "seen" in c.groups else empty
    unseen = c.groups["unseen"].gain if "unseen" in c.groups else empty
    return reference_columns(label, seen.scaled(100), unseen.scaled(100), c.mti)


def _fit_cards(fr: FitReport, name: str) -> list[tuple[str, str, str]]:
    """Law, First-Parallel Leap and Monolingual Generalization Gap of one fitted metric."""
    u = _diff_unit(fr.unit)
    leap_cap = _ci_text(fr.leap, sign=True)
    leap_cap += (
        f" · ×{fr.leap_ratio.value:.1f} the average later step"
        if fr.leap_ratio.defined
        else f" · ratio: {fr.leap_ratio.reason}"
    )
    return [
        (
            name,
            f"{fr.alpha.value:.2f}·X^{fr.beta.value:.2f}",
            f"β {fr.beta.fmt(2)} · R² {fr.r2.fmt(2)} · better fit: {fr.better or 'n/a'}",
        ),
        (
            f"First-Parallel Leap ({fr.metric})",
            fr.leap.fmt(2, sign=True, ci=False) + u,
            leap_cap if fr.leap.defined else str(fr.leap.reason),
        ),
        (
            f"Monolingual Generalization Gap ({fr.metric})",
            fr.gap.fmt(2, sign=True, ci=False) + u,
            f"law predicts {fr.gap_predicted.fmt(2, ci=False)}, measured "
            f"{fr.gap_measured.fmt(2, ci=False)} · {_ci_text(fr.gap, sign=True)}"
            if fr.gap.defined
            else str(fr.gap.reason),
        ),
    ]


def _compare_cards(c: CompareResult) -> list[tuple[str, str, str]]:
    cards = [
        (
            "MTI",
            _ratio(c.mti),
            c.mti.reason or f"unseen vs seen ({', '.join(c.seen)}) relative gain",
        )
    ]
    for g in ("seen", "unseen"):
        if g in c.groups:
            cards.append(
                (
                    f"Accuracy gain, {g}",
                    _pct(c.groups[g].gain, True) + " pp",
                    f"mean over {len(c.groups[g].langs)} language(s)",
                )
            )
    if "all" in c.groups:
        cards.append(
            (
                "Off-target change",
                _pct(c.groups["all"].off_change, True) + " pp",
                "mean over languages",
            )
        )
    return cards


def _single_run_cards(rep: _Report) -> list[tuple[str, str, str]]:
    acc = rep.sd.cube.acc[:, 0]
    mean = np.nanmean(acc, axis=-1)
    return [
        (
            "Mean accuracy",
            _pct(summarize(mean[0], mean[1:], rep.ci)) + " %",
            f"macro over {len(rep.sd.cube.langs)} language(s)",
        )
    ]


def _scaling_section(rep: _Report) -> None:
    if not rep.fits:
        return
    rep.doc.h(2, "Scaling with the number of training languages", "scaling")
    rep.doc.figrow_start()
    for metric, ylabel, stitle, digits in (
        ("mti", "MTI (ratio; 1 = as much as training languages)", "Transferability (MTI)", 2),
        ("accuracy", "Accuracy (%, mean over languages)", "Accuracy", 1),
    ):
        fr = rep.fits.get(metric)
        if fr is None:
            continue
        fig = plots.scaling_plot(fr, ylabel=ylabel, title=f"{stitle} vs X", digits=digits)
        rep.save_figure(
            fig,
            f"{metric}_vs_x",
            f"{stitle} vs number of training languages X, with the power-law fit "
            f"(without the monolingual point), its {round(100 * rep.ci)}% bootstrap band, "
            "the saturating alternative, the First-Parallel Leap and the "
            "Monolingual Generalization Gap.",
            wide=False,
        )
    rep.doc.figrow_end()
    _fit_models_table(rep)
    _law_table(rep)


def _fit_models_table(rep: _Report) -> None:
    """Power law against its alternative, per metric."""
    rows = []
    for fr in rep.fits.values():
        for m in fr.models:
            params = ", ".join(f"{k}={v:.4g}" for k, v in (m.params or {}).items())
            rows.append(
                [
                    fr.metric,
                    m.model,
                    params or f"— ({m.reason})",
                    "—" if m.r2 is None else f"{m.r2:.3f}",
                    "—" if m.loo_rmse is None else f"{m.loo_rmse:.3g}",
                    "—" if m.extrap_error is None else f"{m.extrap_error:+.3g}",
                ]
            )
    rep.doc.table(
        ["metric", "model", "parameters", "R²", "LOO RMSE", "extrapolation error"],
        rows,
        "Fits over X (monolingual point excluded). LOO RMSE: leave-one-X-out "
        "prediction error; extrapolation error: largest X predicted from the "
        "rest. The model with the lower LOO RMSE fits better.",
        align_left=3,
    )


def _law_table(rep: _Report) -> None:
    """Power-law parameters, leap and gap with CIs, per metric."""
    names = {
        "alpha": "α",
        "beta": "β",
        "r2": "R²",
        "leap": "leap",
        "leap_ratio": "leap ÷ later step",
        "gap": "gap",
    }
    rows = []
    for fr in rep.fits.values():
        u = _diff_unit(fr.unit)
        rows.append(
            [
                fr.metric,
                f"{fr.alpha.fmt(2)}",
                f"{fr.beta.fmt(3)}",
                f"{fr.r2.fmt(2)}",
                fr.leap.fmt(2, sign=True) + u,
                fr.leap_ratio.fmt(1) if fr.leap_ratio.defined else "undefined",
                fr.gap.fmt(2, sign=True) + u,
                fr.better or "—",
            ]
        )
        for key, label in names.items():
            e = getattr(fr, key)
            if e.reason:
                rep.undefined_reasons.append(f"{fr.metric} {label}: {e.reason}")
    rep.doc.table(
        ["metric", "α", "β", "R²", "leap", "leap ÷ later step", "gap", "better"],
        rows,
        f"Power law f(X) = α·X^β by nonlinear least squares (without the monolingual "
        f"point); leap = First-Parallel Leap, gap = Monolingual Generalization Gap; "
        f"{round(100 * rep.ci)}% CIs from {rep.sd.cube.n_boot} paired bootstrap refits.",
    )


def _language_figures(rep: _Report) -> None:
    rep.doc.h(2, "Per-language results", "languages")
    sd = rep.sd
    mono_x = next(iter(rep.fits.values())).mono_x if rep.fits else 1.0
    rep.shown = pick_runs(sd.xs, mono_x) if sd.runs else []
    rep.subset_note = (
        ""
        if len(rep.shown) == len(sd.runs)
        else f"Showing {len(rep.shown)} of {len(sd.runs)} trained runs "
        "(monolingual, one parallel language, largest X); tables/ has all."
    )
    _accuracy_off_target_bars(rep)
    if rep.compares:
        _mti_bars(rep)
    if rep.mode == "study" and len(rep.compares) >= 2:
        _run_heatmaps(rep)


def _accuracy_off_target_bars(rep: _Report) -> None:
    sd, langs = rep.sd, rep.sd.cube.langs
    series: dict[str, list[plots.Series]] = {"acc": [], "off": []}
    for stat, bars in series.items():
        if sd.base is not None:
            estimates = [_stat_estimate(sd, stat, 0, j) for j in range(len(langs))]
            bars.append(plots.Series("base", estimates, plots.BASE_COLOR))
        for k, i in enumerate(rep.shown):
            color = plots.SERIES_COLORS[k % len(plots.SERIES_COLORS)]
            estimates = [_stat_estimate(sd, stat, sd.offset + i, j) for j in range(len(langs))]
            bars.append(plots.Series(run_label(sd, i), estimates, color, sd.seen(i) or ()))
    panels = (
        (
            "acc",
            "accuracy_by_language",
            "Accuracy (%)",
            "Accuracy by language",
            f"Accuracy by language with {round(100 * rep.ci)}% paired-bootstrap CIs; hatched "
            "bars are training (seen) languages of that run.",
        ),
        (
            "off",
            "off_target_by_language",
            "Off-target responses (%)",
            "Off-target rate by language (response not in the prompt's language)",
            "Share of responses whose detected language differs from the prompt's "
            "(responses with no identifiable language excluded), with CIs.",
        ),
    )
    for stat, name, ylabel, title, caption in panels:
        fig = plots.language_bars(
            langs, series[stat], ylabel=ylabel, title=title, note=rep.subset_note
        )
        rep.save_figure(fig, name, caption)


def _mti_bars(rep: _Report) -> None:
    mti_series = []
    for k, i in enumerate(rep.shown):
        c = rep.sd.compares[i]
        if c is None:
            continue
        mti_series.append(
            plots.Series(
                run_label(rep.sd, i),
                [r.mti for r in c.rows],
                plots.SERIES_COLORS[k % len(plots.SERIES_COLORS)],
                c.train_langs,
            )
        )
    fig = plots.language_bars(
        rep.sd.cube.langs,
        mti_series,
        scale=1.0,
        ylabel="MTI(l) = Δ(l) / Δ_seen",
        title="Transferability (MTI) by target language",
        ref_line=1.0,
        ref_label="MTI = 1 (same relative gain as training languages)",
        note=rep.subset_note,
        ylim0=False,
    )
    rep.save_figure(
        fig,
        "mti_by_language",
        "Per-target-language MTI: the language's relative accuracy gain divided by "
        "the mean relative gain of the training languages (hatched = seen; "
        "n/a = undefined).",
    )


def _run_heatmaps(rep: _Report) -> None:
    """MTI and accuracy gain for every trained run × language (study with ≥ 2 runs)."""
    sd, langs = rep.sd, rep.sd.cube.langs
    idx = [i for i, c in enumerate(sd.compares) if c is not None]
    labels = [run_label(sd, i) for i in idx]
    seen = np.array([[r.seen for r in sd.compares[i].rows] for i in idx])
    fig = plots.heatmap(
        _run_matrix(sd, idx, "mti"),
        labels,
        langs,
        seen,
        title="Per-language MTI across runs",
        cbar_label="MTI(l) (1 = training-language gain)",
        digits=2,
    )
    rep.save_figure(
        fig,
        "mti_heatmap",
        "Per-language MTI for every trained run (rows by X); "
        "hatched bold cells are training languages.",
    )
    fig = plots.heatmap(
        _run_matrix(sd, idx, "gain", scale=100.0),
        labels,
        langs,
        seen,
        title="Accuracy gain over the base model (percentage points)",
        cbar_label="accuracy gain (pp)",
        center=0.0,
        digits=1,
    )
    rep.save_figure(
        fig,
        "gain_heatmap",
        "Accuracy gain over the base model for every trained run and language.",
    )


def _runs_tables(rep: _Report) -> None:
    """Summary of every trained run, then per-language tables of the runs shown above."""
    sd = rep.sd
    rep.doc.h(2, "Runs", "runs")
    rows, run_rows = [], []
    shares: list[str] = []
    for i, r in enumerate(sd.runs):
        c = sd.compares[i]
        if c is None:
            continue
        rows.append(
            [
                r.name,
                f"{sd.xs[i]:g}" if sd.x_kind != "none" else "—",
                ", ".join(c.train_langs),
                _pct(c.groups["all"].trained_acc),
                _pct(c.groups["all"].gain, True),
                _pct(c.groups["seen"].gain, True) if "seen" in c.groups else "—",
                _pct(c.groups["unseen"].gain, True) if "unseen" in c.groups else "—",
                _ratio(c.mti),
                _fieller_cell(c.mti_checks.get("mti")),
                _ratio(c.mti_fixed_unseen),
                _ratio(c.mti_abs),
                _pct(c.groups["all"].off_change, True),
            ]
        )
        if c.mti.reason:
            rep.undefined_reasons.append(f"{r.name} MTI: {c.mti.reason}")
        for key, label in (("mti_fixed_unseen", "MTI (fixed unseen)"), ("mti_abs", "MTI (abs.)")):
            e: Estimate = getattr(c, key)
            if e.reason and e.reason != c.mti.reason:
                rep.undefined_reasons.append(f"{r.name} {label}: {e.reason}")
        shares.extend(_denominator_lines(r.name, c))
        run_rows.append(_run_csv_row(sd, i, c))
    rep.doc.table(
        [
            "run",
            "X",
            "training languages",
            "accuracy %",
            "gain pp (all)",
            "gain pp (seen)",
            "gain pp (unseen)",
            "MTI",
            "MTI Fieller CI",
            "MTI (fixed unseen)",
            "MTI (abs. gains)",
            "off-target Δ pp",
        ],
        rows,
        "Means over evaluation languages, base run = "
        f"{sd.base.name if sd.base else '—'}; brackets: {round(100 * rep.ci)}% percentile "
        "CIs. MTI: mean relative gain of the languages this run does not train on ÷ that "
        "of its training languages (the unseen set shrinks as X grows). MTI Fieller CI: "
        "the same ratio's Fieller interval from the bootstrap (co)variances of numerator "
        "and denominator; it keeps the resamples whose training-language gain is ≤ 0, "
        "which the percentile CI drops, and is unbounded when that gain is not "
        "distinguishable from 0. MTI (fixed unseen): the numerator averages only over "
        f"the languages no run trains on ({_fixed_set_text(sd.fixed_unseen)}), the same "
        "set for every X. MTI (abs. gains): the ratio of accuracy-point gains instead of "
        "relative gains.",
        align_left=3,
    )
    if shares:
        rep.doc.p(
            "Resamples with a training-language gain ≤ 0 (the percentile CIs of MTI leave "
            "them out; the Fieller interval keeps them):"
        )
        rep.doc.bullets(shares)
    rep.write_table("runs", run_rows)
    for i in rep.shown:
        c = sd.compares[i]
        if c is None:
            continue
        _lang_table(rep, c, run_label(sd, i))
    all_rows = []
    for i, c in enumerate(sd.compares):
        if c is not None:
            for row in c.table():
                all_rows.append({"X": sd.xs[i] if sd.x_kind != "none" else "", **row})
    rep.write_table("per_language", all_rows)


def _run_csv_row(sd: StudyData, i: int, c: CompareResult) -> dict[str, Any]:
    """One row of runs.csv: every estimate as value, lo, hi."""
    r = sd.runs[i]
    # A run with no unseen (or no evaluated training) language has no such group: empty.
    no_group = Estimate(None, reason="no such language")
    row: dict[str, Any] = {
        "run": r.name,
        "path": str(r.path),
        "model": r.model or "",
        "X": sd.xs[i] if sd.x_kind != "none" else "",
        "x_kind": sd.x_kind,
        "train_langs": " ".join(c.train_langs),
        **{
            f"{k}{s}": v
            for k, e in (
                ("accuracy", c.groups["all"].trained_acc),
                ("gain", c.groups["all"].gain),
                ("gain_seen", c.groups["seen"].gain if "seen" in c.groups else no_group),
                ("gain_unseen", c.groups["unseen"].gain if "unseen" in c.groups else no_group),
                ("mti", c.mti),
                ("off_target_change", c.groups["all"].off_change),
            )
            for s, v in (("", e.value), ("_lo", e.lo), ("_hi", e.hi))
        },
        "mti_note": c.mti.reason or c.mti.note or "",
        "fixed_unseen_langs": " ".join(c.fixed_unseen or []),
    }
    # Each MTI variant: value, percentile CI, Fieller CI, denominator share and a note; the
    # Fieller columns of "mti" land right after mti_lo / mti_hi.
    for key in MTI_VARIANTS:
        e: Estimate = getattr(c, key)
        check = c.mti_checks.get(key)
        fieller = check.fieller if check else FiellerInterval(reason="not computed")
        cols = {
            f"{key}_fieller_lo": fieller.lo,
            f"{key}_fieller_hi": fieller.hi,
            f"{key}_fieller_note": _fieller_note(fieller),
            f"{key}_denominator_le0_share": check.denominator_le0_share if check else None,
        }
        if key != "mti":
            cols = {key: e.value, f"{key}_lo": e.lo, f"{key}_hi": e.hi, **cols}
            cols[f"{key}_note"] = e.reason or e.note or ""
        row = _insert_after(row, "mti_hi", cols) if key == "mti" else {**row, **cols}
    # The unseen gain's part that came as correct answers in another language (drift).
    unseen = c.groups.get("unseen")
    for key in ("gain_off", "drift_share"):
        e = getattr(unseen, key) if unseen is not None else no_group
        row |= {f"unseen_{key}": e.value, f"unseen_{key}_lo": e.lo, f"unseen_{key}_hi": e.hi}
    return row


def _insert_after(row: dict[str, Any], key: str, cols: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        out[k] = v
        if k == key:
            out.update(cols)
    return out


def _fieller_note(f: FiellerInterval) -> str:
    """Why a Fieller set is unbounded or undefined (with its rays), plus its note."""
    parts = []
    if f.reason:
        rays = f.below is not None or f.above is not None
        parts.append(f"{f.reason}: {f.text(4)}" if rays else f.reason)
    if f.note:
        parts.append(f.note)
    return "; ".join(parts)


def _fieller_cell(check: RatioCheck | None) -> str:
    if check is None:
        return "—"
    return check.fieller.text(2)


def _fixed_set_text(langs: list[str]) -> str:
    return ", ".join(langs) if langs else "none: every language is trained on by some run"


def _denominator_lines(name: str, c: CompareResult) -> list[str]:
    """'run: 3.1% of resamples (MTI, relative gains)' for each MTI denominator that is
    ≤ 0 in some resamples; the fixed-unseen MTI shares the relative denominator."""
    lines = []
    for key, what in (("mti", f"{c.mti_gain} gains"), ("mti_abs", "absolute gains")):
        if key == "mti_abs" and c.mti_gain == "absolute":
            continue
        check = c.mti_checks.get(key)
        share = check.denominator_le0_share if check else None
        if share:
            lines.append(f"{name}: {100 * share:.1f}% of resamples ({what})")
    return lines


def _single_run_table(rep: _Report) -> None:
    """Accuracy and off-target rate per language when nothing is compared."""
    sd = rep.sd
    rows, csv_rows = [], []
    for j, lang in enumerate(sd.cube.langs):
        a = _stat_estimate(sd, "acc", sd.offset, j)
        o = _stat_estimate(sd, "off", sd.offset, j)
        rows.append([lang_name(lang), lang, _pct(a), _pct(o)])
        csv_rows.append(
            {
                "run": sd.runs[0].name,
                "lang": lang,
                "language": lang_name(lang),
                "accuracy": a.value,
                "accuracy_lo": a.lo,
                "accuracy_hi": a.hi,
                "off_target": o.value,
                "off_target_lo": o.lo,
                "off_target_hi": o.hi,
            }
        )
    rep.doc.h(3, "Accuracy and off-target rate")
    rep.doc.table(["language", "code", "accuracy %", "off-target %"], rows, align_left=2)
    rep.write_table("per_language", csv_rows)


def _pct_or_dash(value: float | None) -> str:
    return "—" if value is None else fmt_num(100 * value, 1)


def _scoring_table(rep: _Report) -> None:
    """Strict beside flexible accuracy: how much of each score rests on the fallback chain
    (bold or last numbers, a "therefore" sentence) rather than an explicit final answer."""
    sd = rep.sd
    benches = list(sd.cube.n_problems)
    langs = sd.cube.langs
    runs = ([sd.base] if sd.base is not None else []) + sd.runs
    if rep.mode == "single":
        run = sd.runs[0]
        keyed = [(f"{lang_name(lang)} ({lang})", run, [lang]) for lang in langs]
        keyed.append(("mean over languages", run, langs))
        first = "language"
    else:
        keyed = [(run.name, run, langs) for run in runs]
        first = "run"
    rows, csv_rows = [], []
    for label, run, cell_langs in keyed:
        flexible, strict = run.strict_flexible(benches, cell_langs)
        diff = None if flexible is None or strict is None else flexible - strict
        rows.append([label, *(_pct_or_dash(v) for v in (flexible, strict, diff))])
        csv_rows.append(
            {
                first: label,
                "run": run.name,
                "accuracy_flexible": flexible,
                "accuracy_strict": strict,
                "flexible_minus_strict": diff,
            }
        )
    rep.doc.h(3, "Strict and flexible answers")
    rep.doc.table(
        [first, "flexible %", "strict %", "flexible − strict pp"],
        rows,
        "Flexible = the answer the fallback chain finds (the accuracy used everywhere "
        "else in this report); strict = only an explicit final answer (a box or a "
        "final-answer announcement) counts. Means over the report's languages; '—' where "
        "scores predate strict scoring (re-score with `xling score RUN`).",
    )
    rep.write_table("scoring", csv_rows)


def _scorer_agreement_table(rep: _Report) -> None:
    """Each run's own scorer beside the others it was re-scored with (`xling score RUN
    --scorer NAME`): answers each accepts, and how many they judge differently."""
    sd = rep.sd
    runs = ([sd.base] if sd.base is not None else []) + sd.runs
    rows, csv_rows = [], []
    for run in runs:
        for row in scorer_agreement(run.path):
            accepted = ", ".join(f"{k} {v}" for k, v in row.accepted.items())
            differ = ", ".join(f"{k} {v}" for k, v in row.differ.items())
            rows.append([run.name, row.benchmark, row.lang, str(row.n), accepted, differ])
            csv_rows.append({"run": run.name, **row.as_dict()})
    if not rows:
        return
    rep.doc.h(3, "Agreement between scorers")
    rep.doc.table(
        ["run", "benchmark", "language", "answers", "accepted by", "differing from the first"],
        rows,
        "The same generations judged by the run's own scorer (first) and the others it was "
        "re-scored with: xling's extraction, math-verify, and lm-evaluation-harness's MGSM "
        "filters (strict: 'The answer is N'; flexible: the last number). A gap between two "
        "scorers is the part of an accuracy difference that answer extraction makes.",
    )
    rep.write_table("scorer_agreement", csv_rows)


def _fit_tables(rep: _Report) -> None:
    """fits.csv (summary quantities and every model) and fit_points.csv (the fitted points)."""
    if not rep.fits:
        return
    fit_rows, point_rows = [], []
    for metric, fr in rep.fits.items():
        for row in fr.summary_rows():
            fit_rows.append({"fit": metric, **row})
        for m in fr.models:
            fit_rows.append(
                {
                    "fit": metric,
                    "metric": fr.metric,
                    "quantity": f"model:{m.model}",
                    "value": m.r2,
                    "lo": m.loo_rmse,
                    "hi": m.extrap_error,
                    "note": "value=R², lo=LOO RMSE, hi=extrapolation error; "
                    + ", ".join(f"{k}={v:.6g}" for k, v in (m.params or {}).items()),
                }
            )
        for xv, yv, lo, hi, lab in zip(fr.x, fr.y, fr.y_lo, fr.y_hi, fr.labels, strict=True):
            point_rows.append({"fit": metric, "run": lab, "X": xv, "value": yv, "lo": lo, "hi": hi})
    rep.write_table("fits", fit_rows)
    rep.write_table("fit_points", point_rows)


def _closing_sections(rep: _Report) -> None:
    """Undefined values, definitions, warnings and the list of files."""
    doc = rep.doc
    if rep.undefined_reasons:
        doc.h(3, "Undefined values")
        doc.bullets(sorted(set(rep.undefined_reasons)))
    _definitions(doc, rep.sd, rep.ci)
    rep.warnings.extend(w for fr in rep.fits.values() for w in fr.warnings)
    if rep.warnings:
        doc.h(2, "Warnings", "warnings")
        doc.bullets(sorted(set(rep.warnings)))
    doc.h(2, "Files", "files")
    doc.bullets(
        [f"{p.relative_to(rep.out).as_posix()}" for p in rep.tables.values()]
        + [f"figures/{name}.png, figures/{name}.svg" for name in rep.figures]
    )


def _run_matrix(sd: StudyData, idx: list[int], field_name: str, scale: float = 1.0) -> np.ndarray:
    """runs × languages values of one per-language estimate; NaN where undefined."""
    return np.array(
        [
            [
                np.nan if (v := getattr(r, field_name).value) is None else scale * v
                for r in sd.compares[i].rows
            ]
            for i in idx
        ]
    )


def _lang_table(rep: _Report, c: CompareResult, label: str) -> None:
    doc = rep.doc
    doc.h(3, f"{label} vs base")
    rows = []
    for r in c.rows:
        rows.append(
            [
                r.name + (" (train)" if r.seen else ""),
                _pct(r.base_acc),
                _pct(r.trained_acc),
                _pct(r.gain, True),
                _ratio(r.rel_gain),
                _pct(r.off_change, True),
                _ratio(r.mti),
            ]
        )
        for e in (r.rel_gain, r.mti):
            if e.reason:
                rep.undefined_reasons.append(f"{label}, {r.name}: {e.reason}")
    for g in c.groups.values():
        rows.append(
            [
                f"mean: {g.group} ({len(g.langs)})",
                _pct(g.base_acc),
                _pct(g.trained_acc),
                _pct(g.gain, True),
                _ratio(g.rel_gain),
                _pct(g.off_change, True),
                _ratio(c.mti) if g.group == "unseen" else "",
            ]
        )
    doc.table(
        [
            "language",
            "base acc %",
            "trained acc %",
            "gain pp",
            "relative gain",
            "off-target Δ pp",
            "MTI",
        ],
        rows,
        f"MTI (aggregate over unseen languages) = {c.mti.fmt(2)}; relative gain of the "
        f"training languages Δ_seen = "
        f"{c.groups['seen'].rel_gain.fmt(3) if 'seen' in c.groups else 'n/a'}."
        + _drift_sentence(c),
    )


def _drift_sentence(c: CompareResult) -> str:
    """How much of the unseen-language gain arrives as correct answers in another language
    (English drift) rather than in the language asked: empty when it cannot be split."""
    group = c.groups.get("unseen")
    if group is None or group.gain_off.value is None:
        return ""
    text = (
        " Correct answers written off-target (drift) account for "
        f"{_pct(group.gain_off, True)} pp of the unseen languages' gain"
    )
    if group.drift_share.value is not None:
        text += f" ({group.drift_share.fmt(2)} of it)"
    return text + "."


def _definitions(doc: Doc, sd: StudyData, ci: float) -> None:
    doc.h(2, "Definitions and method", "definitions")
    items = [
        (
            "Accuracy",
            "mean over problems of the per-problem share of correct samples "
            "(avg@n), macro-averaged over benchmarks; shown in %. Answers are read "
            "flexibly: an explicit final answer (a box, a final-answer announcement in any "
            "registry language), else a closing 'therefore' sentence, a bold number or the "
            "last number. Strict accuracy counts explicit final answers only.",
        ),
        (
            "Off-target rate",
            "share of responses whose detected language differs from the "
            "prompt's language; responses without identifiable text excluded.",
        ),
        (
            "MTI (Yang et al. 2025, arXiv 2510.02272, Multilingual Transferability Index)",
            MTI_FORMULA + f". Gains: {sd.mti_gain}. Undefined (never inf/NaN) when a base accuracy "
            "is 0, the training-language gain is ≤ 0, or there is no seen/unseen language. The "
            "formula is reconstructed from the paper's description and reported numbers; its "
            "equation text was not available to verify (see xling.analysis.transfer).",
        ),
        (
            "MTI variants",
            "MTI (fixed unseen): the same ratio with the numerator averaged only over the "
            "evaluated languages that no run of the study trains on "
            f"({_fixed_set_text(sd.fixed_unseen)}), so the unseen set does not shrink as X "
            "grows; MTI (abs. gains): the ratio of absolute gains A_trained − A_base "
            "(accuracy points) instead of relative gains.",
        ),
        (
            "Fieller interval",
            "the confidence set of a ratio a/b (here mean unseen gain / Δ_S): every θ with "
            "(a − θ·b)² ≤ z²·Var(a − θ·b), the variances and covariance taken from the "
            "bootstrap resamples. Unlike the percentile CI, which drops resamples whose "
            "Δ_S is ≤ 0, it keeps them; when Δ_S is not distinguishable from 0 it is two "
            "rays or the whole line and is reported as unbounded.",
        ),
        (
            "X",
            "number of training languages, English included (monolingual = 1, English + one "
            "parallel language = 2); --x num-parallel-langs counts only added languages.",
        ),
        (
            "Parallel scaling law",
            "f(X) = α·X^β fitted by nonlinear least squares (and by "
            "log-log least squares) without the monolingual point.",
        ),
        (
            "First-Parallel Leap",
            "v(X_mono + 1) − v(X_mono); also as a ratio to the average "
            "later step (v(X_max) − v(X_mono+1)) / (X_max − X_mono − 1).",
        ),
        (
            "Monolingual Generalization Gap",
            "law fitted without the monolingual point, "
            "evaluated at X_mono, minus the measured monolingual "
            "value (> 0: monolingual training underperforms).",
        ),
        (
            "Uncertainty",
            f"{round(100 * ci)}% percentile intervals from {sd.cube.n_boot} paired "
            "bootstrap resamples over problems: the same resampled problem ids for "
            "the base run, every trained run and every language (ids are parallel); "
            f"seed {sd.cube.seed}.",
        ),
    ]
    doc.raw(
        '<div class="defs"><dl>'
        + "".join(f"<dt><b>{html.escape(k)}</b></dt><dd>{html.escape(v)}</dd>" for k, v in items)
        + "</dl></div>",
        "\n".join(f"- **{k}:** {v}" for k, v in items),
    )
