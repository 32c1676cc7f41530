"""`xling compare`, `xling fit` and `xling report` (registered on the main Typer app)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xling.cli.output import make_console
from xling.errors import XlingError

console = make_console()
err_console = make_console(stderr=True)
Opt = typer.Option
Arg = typer.Argument

N_BOOT_HELP = "Bootstrap resamples (paired over problem ids; at least 1)."


def _fail(exc: XlingError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
    return typer.Exit(code=2)


def _unreadable(exc: OSError) -> XlingError:
    """An input or output path the system refused (a folder where a file belongs, no
    permission), as one line naming the path."""
    return XlingError(f"{exc.filename or 'a file'}: {exc.strerror or exc}")


def _check_bootstrap(n_boot: int, seed: int, ci: float) -> str | None:
    """Refuse what no CI can come from; returns a warning when the count is too small for
    the level's tails to hold even one resample each (the interval is then the extremes)."""
    from xling.analysis.bootstrap import check_bootstrap_options

    # Every table heads its intervals "[95% CI]": without resamples there would be none.
    if n_boot < 1:
        raise XlingError(f"--n-boot must be >= 1, got {n_boot}")
    check_bootstrap_options(n_boot=n_boot, seed=seed, ci=ci)
    needed = math.ceil(2 / (1 - ci) - 1e-9)
    if n_boot < needed:
        return (
            f"--n-boot {n_boot} is too few for {100 * ci:g}% intervals: each tail holds "
            f"less than one resample (use at least {needed}, better thousands)"
        )
    return None


def _pct(e, sign: bool = False) -> str:
    return e.fmt(1, 100, sign=sign)


def _undef(text: str) -> str:
    return f"[italic dark_orange]{text}[/]" if text.startswith("undefined") else text


# --------------------------------------------------------------------------- compare


def compare_command(
    base: Annotated[Path, Arg(help="The base (untrained) model's run directory.")],
    trained: Annotated[Path, Arg(help="The trained model's run directory.")],
    train_langs: Annotated[
        str | None,
        Opt(
            help="Training (seen) languages, e.g. en,es "
            "[default: train_langs from the trained run's "
            "train.json]."
        ),
    ] = None,
    benchmark: Annotated[
        str, Opt(help="One benchmark, or 'all' (languages macro-averaged over benchmarks).")
    ] = "all",
    langs: Annotated[
        str | None,
        Opt(
            help="Only these evaluation languages, e.g. "
            "en,es,sw [default: every language in both runs]."
        ),
    ] = None,
    n_boot: Annotated[int, Opt(help=N_BOOT_HELP)] = 10_000,
    seed: Annotated[int, Opt(help="Bootstrap seed.")] = 0,
    ci: Annotated[float, Opt(help="Confidence level of the intervals.")] = 0.95,
    mti_gain: Annotated[str, Opt(help="MTI gain: relative (default) or absolute.")] = "relative",
    json_out: Annotated[Path | None, Opt("--json", help="Write the full result as JSON.")] = None,
    csv_out: Annotated[
        Path | None, Opt("--csv", help="Write the per-language table as CSV.")
    ] = None,
) -> None:
    """Transfer metrics of a trained run against its base: per-language accuracy gain,
    relative gain, off-target change (seen vs unseen languages) and the Multilingual
    Transferability Index (MTI, arXiv 2510.02272), all with paired-bootstrap CIs."""
    from xling.analysis.transfer import MTI_FORMULA, compare, dump_json
    from xling.tables import write_csv

    try:
        few = _check_bootstrap(n_boot, seed, ci)
        res = compare(
            base,
            trained,
            train_langs,
            benchmark=benchmark,
            n_boot=n_boot,
            seed=seed,
            ci=ci,
            mti_gain=mti_gain,
            langs=langs,
        )
    except XlingError as exc:
        raise _fail(exc) from None
    except OSError as exc:
        raise _fail(_unreadable(exc)) from None
    level = f"{round(100 * ci)}% CI"
    problems = ", ".join(f"{b}: {n}" for b, n in res.n_problems.items())
    t = Table(
        title=f"{res.trained} vs {res.base} — {problems} problems, {res.n_boot} paired "
        f"resamples, [{level}]",
        title_justify="left",
        header_style="bold",
    )
    for col, just in (
        ("language", "left"),
        ("seen", "center"),
        ("base acc %", "right"),
        ("trained acc %", "right"),
        ("gain pp", "right"),
        ("relative gain", "right"),
        ("off-target Δ pp", "right"),
        ("MTI(l)", "right"),
    ):
        t.add_column(col, justify=just, no_wrap=col == "language")
    for r in res.rows:
        t.add_row(
            f"{r.name} ({r.lang})",
            "✓" if r.seen else "",
            _pct(r.base_acc),
            _pct(r.trained_acc),
            _pct(r.gain, True),
            _undef(r.rel_gain.fmt(2)),
            _undef(_pct(r.off_change, True)),
            _undef(r.mti.fmt(2)),
        )
    t.add_section()
    for g in res.groups.values():
        t.add_row(
            f"mean: {g.group} ({len(g.langs)})",
            "",
            _pct(g.base_acc),
            _pct(g.trained_acc),
            _pct(g.gain, True),
            _undef(g.rel_gain.fmt(2)),
            _undef(_pct(g.off_change, True)),
            _undef(res.mti.fmt(2)) if g.group == "unseen" else "",
        )
    console.print(t)
    console.print(
        f"[bold]MTI[/] = {_undef(res.mti.fmt(2))}  "
        f"(seen: {', '.join(res.seen) or '—'}; gains: {res.mti_gain})"
    )
    if res.mti.reason:
        console.print(f"  [dark_orange]{res.mti.reason}[/]")
    if res.mti.note:
        console.print(f"  note: {res.mti.note}")
    console.print(f"  [dim]{MTI_FORMULA}[/]")
    reasons = sorted(
        {
            f"{r.name}: {e.reason}"
            for r in res.rows
            for e in (r.rel_gain, r.mti)
            if e.reason and e.reason != res.mti.reason
        }
    )
    for line in reasons:
        console.print(f"  [dark_orange]undefined[/] {line}")
    for w in res.warnings + ([few] if few else []):
        console.print(f"[yellow]warning:[/] {w}")
    try:
        if json_out:
            dump_json(res.to_dict(), json_out)
            console.print(f"wrote {json_out}")
        if csv_out:
            write_csv(res.table(), csv_out)
            console.print(f"wrote {csv_out}")
    except OSError as exc:
        raise _fail(_unreadable(exc)) from None


# --------------------------------------------------------------------------- fit


def fit_command(
    runs: Annotated[
        list[Path] | None,
        Arg(
            help="Trained run directories, or one study folder (base/ + runs with train.json).",
            show_default=False,
        ),
    ] = None,
    csv_in: Annotated[
        Path | None,
        Opt(
            "--csv",
            help="Fit plain numbers instead of runs: a CSV "
            "with columns X, value[, lo, hi] (lo/hi "
            "read as 95% intervals).",
        ),
    ] = None,
    base: Annotated[
        Path | None,
        Opt(
            help="The base run (needed for --metric mti or gain) "
            "[default: base/ of a study folder]."
        ),
    ] = None,
    metric: Annotated[
        str,
        Opt(
            help="mti | accuracy | gain | off_target_rate | format_rate | "
            "no_answer_rate (rates and accuracy in %)."
        ),
    ] = "mti",
    x: Annotated[
        str,
        Opt(
            help="X per run: num-train-langs (languages in the training data, "
            "English included: monolingual = 1), num-parallel-langs "
            "(languages added to English: monolingual = 0), or one number "
            "per run, e.g. 1,2,4,8."
        ),
    ] = "num-train-langs",
    metric_langs: Annotated[
        str,
        Opt(
            help="Languages averaged for accuracy/rates: all | seen | "
            "unseen | codes, e.g. sw,te,ja."
        ),
    ] = "all",
    mono_x: Annotated[
        float | None,
        Opt(
            help="X of the monolingual point (leap and gap) "
            "[default: 1 for num-train-langs and explicit X, "
            "0 for num-parallel-langs]."
        ),
    ] = None,
    include_mono: Annotated[
        bool,
        Opt(
            help="Also fit the monolingual point (the gap is "
            "always measured against a fit without it)."
        ),
    ] = False,
    train_langs: Annotated[
        str | None, Opt(help="Override the training languages of every run (for MTI).")
    ] = None,
    benchmark: Annotated[str, Opt(help="One benchmark, or 'all'.")] = "all",
    n_boot: Annotated[int, Opt(help=N_BOOT_HELP + " Every resample is refitted.")] = 1000,
    seed: Annotated[int, Opt(help="Bootstrap seed.")] = 0,
    ci: Annotated[float, Opt(help="Confidence level of the intervals.")] = 0.95,
    mti_gain: Annotated[str, Opt(help="MTI gain: relative or absolute.")] = "relative",
    json_out: Annotated[Path | None, Opt("--json", help="Write the fit report as JSON.")] = None,
    plot: Annotated[Path | None, Opt(help="Write the scaling plot (.png, .svg or .pdf).")] = None,
) -> None:
    """Fit the parallel scaling law f(X) = α·X^β (nonlinear and log-log least squares) to a
    metric over the number of training languages X, with bootstrap CIs for α, β and R²; report
    the First-Parallel Leap and the Monolingual Generalization Gap, and compare with a
    saturating law a − c·X^(−b) by held-out error."""
    from xling.analysis import fits as F
    from xling.analysis.study import METRICS, fit_study, load_study
    from xling.analysis.transfer import dump_json

    try:
        few = _check_bootstrap(n_boot, seed, ci)
        if mono_x is not None and not math.isfinite(mono_x):
            raise XlingError(f"--mono-x must be a finite number, got {mono_x}")
        if plot is not None and plot.suffix.lower() not in (".png", ".svg", ".pdf"):
            raise XlingError(f"--plot {plot}: name a .png, .svg or .pdf file")
        if csv_in is not None:
            if runs:
                raise XlingError("give either run directories or --csv, not both")
            kind = x if x in F.MONO_X else "num-train-langs"
            fr = F.fit_csv(
                csv_in,
                x_kind=kind,
                mono_x=mono_x,
                include_mono=include_mono,
                n_boot=n_boot,
                seed=seed,
                ci=ci,
            )
        else:
            if not runs:
                raise XlingError("give trained run directories, a study folder, or --csv FILE")
            if metric not in METRICS:
                raise XlingError(f"unknown --metric {metric!r}; use one of {', '.join(METRICS)}")
            sd = load_study(
                runs,
                base,
                x=x,
                train_langs=train_langs,
                benchmark=benchmark,
                n_boot=n_boot,
                seed=seed,
                ci=ci,
                mti_gain=mti_gain,
            )
            fr = fit_study(
                sd, metric, metric_langs=metric_langs, include_mono=include_mono, mono_x=mono_x
            )
            fr.warnings.extend(sd.warnings)
    except XlingError as exc:
        raise _fail(exc) from None
    except OSError as exc:
        raise _fail(_unreadable(exc)) from None
    if few:
        fr.warnings.append(few)
    _print_fit(fr)
    try:
        if json_out:
            dump_json(fr.to_dict(), json_out)
            console.print(f"wrote {json_out}")
        if plot:
            _save_plot(fr, plot)
            console.print(f"wrote {plot}")
    except OSError as exc:
        raise _fail(_unreadable(exc)) from None


def _save_plot(fr, plot: Path) -> None:
    from xling.analysis import plots

    unit = f" ({fr.unit})" if fr.unit else ""
    fig = plots.scaling_plot(fr, ylabel=f"{fr.metric}{unit}", title=f"{fr.metric} vs X")
    try:
        plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(plot, dpi=200)
    finally:
        plots.plt.close(fig)


def _print_fit(fr) -> None:
    unit = f" {fr.unit}" if fr.unit else ""
    diff_unit = " pp" if fr.unit in ("%", "pp") else unit
    pts = Table(
        title=f"{fr.metric} by X ({fr.x_kind}); CIs: {fr.ci_method}",
        title_justify="left",
        header_style="bold",
    )
    for col in ("point", "X", f"{fr.metric}{unit}", f"{round(100 * fr.ci)}% CI", ""):
        pts.add_column(col, justify="left" if col == "point" else "right", no_wrap=col == "point")
    for xv, yv, lo, hi, lab in zip(fr.x, fr.y, fr.y_lo, fr.y_hi, fr.labels, strict=True):
        mono = "monolingual" if fr.mono_x is not None and xv == fr.mono_x else ""
        ci = f"[{lo:.3g}, {hi:.3g}]" if lo is not None and hi is not None else "—"
        pts.add_row(lab, f"{xv:g}", f"{yv:.4g}", ci, mono)
    console.print(pts)
    models = Table(
        title="Models (fitted without the monolingual point)" if not fr.include_mono else "Models",
        title_justify="left",
        header_style="bold",
    )
    for col in ("model", "parameters", "R²", "LOO RMSE", "extrapolation error"):
        models.add_column(col, justify="left" if col in ("model", "parameters") else "right")
    for m in fr.models:
        params = ", ".join(f"{k}={v:.4g}" for k, v in (m.params or {}).items())
        models.add_row(
            f"{m.model}  {m.formula}",
            params or f"— {m.reason}",
            "—" if m.r2 is None else f"{m.r2:.3f}",
            "—" if m.loo_rmse is None else f"{m.loo_rmse:.3g}",
            "—" if m.extrap_error is None else f"{m.extrap_error:+.3g}",
        )
    console.print(models)
    s = Table(
        title=f"Parallel scaling law f(X) = α·X^β, {round(100 * fr.ci)}% CIs from "
        f"{fr.n_boot} refits",
        title_justify="left",
        header_style="bold",
    )
    s.add_column("quantity", no_wrap=True)
    s.add_column("estimate", justify="right")
    s.add_column("note")
    rows = [
        ("α (nonlinear LS)", fr.alpha.fmt(4), fr.alpha),
        ("β (nonlinear LS)", fr.beta.fmt(4), fr.beta),
        ("R²", fr.r2.fmt(3), fr.r2),
        ("α (log-log LS)", fr.alpha_loglog.fmt(4), fr.alpha_loglog),
        ("β (log-log LS)", fr.beta_loglog.fmt(4), fr.beta_loglog),
        ("First-Parallel Leap", fr.leap.fmt(3, sign=True) + diff_unit, fr.leap),
        ("  ÷ average later step", fr.leap_ratio.fmt(2), fr.leap_ratio),
        ("Monolingual Generalization Gap", fr.gap.fmt(3, sign=True) + diff_unit, fr.gap),
        ("  law at monolingual X", fr.gap_predicted.fmt(3) + unit, fr.gap_predicted),
        ("  measured at monolingual X", fr.gap_measured.fmt(3) + unit, fr.gap_measured),
    ]
    for name, text, e in rows:
        s.add_row(name, _undef(text), e.reason or e.note or "")
    console.print(s)
    verdict = {"power": "power law", "saturating": "saturating law (plateau)"}.get(
        fr.better or "", "undecided"
    )
    console.print(f"better held-out fit: [bold]{verdict}[/] — {fr.better_reason}")
    for w in fr.warnings:
        console.print(f"[yellow]warning:[/] {w}")


# --------------------------------------------------------------------------- report


def report_command(
    path: Annotated[
        Path,
        Arg(
            help="A study folder (base/ + trained runs with train.json, see "
            "docs/study-format.md) or one run directory."
        ),
    ],
    out: Annotated[Path, Opt(help="Output folder.")] = Path("report"),
    base: Annotated[
        Path | None,
        Opt(
            help="Base run for a single trained run (enables gains "
            "and MTI) [default: base/ of a study folder]."
        ),
    ] = None,
    train_langs: Annotated[
        str | None, Opt(help="Training languages of a single run, if it has no train.json.")
    ] = None,
    x: Annotated[
        str, Opt(help="num-train-langs | num-parallel-langs | explicit values.")
    ] = "num-train-langs",
    benchmark: Annotated[str, Opt(help="One benchmark, or 'all'.")] = "all",
    n_boot: Annotated[int, Opt(help=N_BOOT_HELP)] = 2000,
    seed: Annotated[int, Opt(help="Bootstrap seed.")] = 0,
    ci: Annotated[float, Opt(help="Confidence level of the intervals.")] = 0.95,
    mti_gain: Annotated[str, Opt(help="MTI gain: relative or absolute.")] = "relative",
    title: Annotated[str | None, Opt(help="Report title.")] = None,
    screenshot: Annotated[bool, Opt(help="Also render report.png with headless Chromium.")] = False,
) -> None:
    """Write report.html (self-contained), report.md, figures (PNG + SVG) and CSV tables:
    accuracy, off-target rate and MTI by language, and MTI / accuracy vs the number of
    training languages with the fitted law, its CI band, the leap and the gap."""
    from xling.analysis.report import build_report

    try:
        few = _check_bootstrap(n_boot, seed, ci)
        res = build_report(
            path,
            out,
            base=base,
            train_langs=train_langs,
            x=x,
            benchmark=benchmark,
            n_boot=n_boot,
            seed=seed,
            ci=ci,
            mti_gain=mti_gain,
            title=title,
            screenshot=screenshot,
        )
    except XlingError as exc:
        raise _fail(exc) from None
    except OSError as exc:
        raise _fail(_unreadable(exc)) from None
    t = Table(title=f"report written to {res.out}", title_justify="left", header_style="bold")
    t.add_column("file", no_wrap=True)
    t.add_column("what")
    t.add_row(str(res.html), "self-contained HTML (figures embedded)")
    t.add_row(str(res.md), "Markdown (links figures/)")
    for name, p in res.figures.items():
        t.add_row(str(p["png"].parent / f"{name}.{{png,svg}}"), "figure")
    for name, p in res.tables.items():
        t.add_row(str(p), f"table: {name}")
    if res.screenshot:
        t.add_row(str(res.screenshot), "Chromium screenshot")
    console.print(t)
    for w in res.warnings + ([few] if few else []):
        console.print(f"[yellow]warning:[/] {w}")


def register(app: typer.Typer) -> None:
    """Add `compare`, `fit` and `report` to the main `xling` app."""
    app.command("compare")(compare_command)
    app.command("fit")(fit_command)
    app.command("report")(report_command)
