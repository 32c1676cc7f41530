"""`xling parscale ...`: the ParScale command group (domain code lives in the sibling modules;
heavy libraries are imported inside the commands so `xling --help` stays fast)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from xling.cli.flags import config_command, option
from xling.cli.output import make_console
from xling.errors import XlingError
from xling.parscale.cost import DEFAULT_K

Opt = typer.Option
console = make_console()


def fit_command(
    csv_in: Annotated[Path, Opt("--csv", help="Points: a CSV with columns N, P, loss.")],
    json_out: Annotated[
        bool, Opt("--json", help="Print the fit as one JSON object (A, k, alpha, E, CIs, ...).")
    ] = False,
    n_boot: Annotated[int, Opt(help="Residual-bootstrap resamples for the CIs (0 = none).")] = 200,
    seed: Annotated[int, Opt(help="Bootstrap seed.")] = 0,
    ci: Annotated[float, Opt(help="Confidence level of the intervals.")] = 0.95,
    loo: Annotated[
        bool, Opt("--loo/--no-loo", help="Leave-one-out comparison with the alternatives.")
    ] = True,
) -> None:
    """Fit L = (A/(N·(k·ln P + 1)))^α + E to published points (e.g. the paper's), with
    bootstrap CIs and a leave-one-out comparison with a power law in P and a law without P."""
    from rich.table import Table

    from xling.analysis.bootstrap import check_bootstrap_options
    from xling.parscale.law import LAW_FORMULA, fit_law, read_points_csv

    check_bootstrap_options(n_boot=n_boot, seed=seed, ci=ci)
    fit = fit_law(read_points_csv(csv_in), n_boot=n_boot, seed=seed, ci=ci, loo=loo)
    if json_out:
        typer.echo(json.dumps(fit.to_dict(), indent=2))
        return
    table = Table(title=f"{csv_in.name}: {LAW_FORMULA}", title_justify="left")
    for col in ("constant", "value", f"{round(100 * ci)}% CI"):
        table.add_column(col, no_wrap=col == "constant")
    for name, est in fit.estimates.items():
        lo = "n/a" if est.lo is None else f"{est.lo:.4g}"
        hi = "n/a" if est.hi is None else f"{est.hi:.4g}"
        table.add_row(name, f"{est.value:.4g}", f"[{lo}, {hi}]")
    for p, est in fit.multipliers.items():
        table.add_row(
            f"P={p}: k·ln P + 1",
            f"{est.value:.4g}",
            "" if est.lo is None else f"[{est.lo:.4g}, {est.hi:.4g}]",
        )
    table.add_row("R²", f"{fit.r2:.5f}", "")
    console.print(table)
    for score in fit.scores:
        console.print(
            f"  {score.model:9s} leave-one-out RMSE {score.loo_rmse:.5f} "
            f"(mean |rel. err| {100 * score.loo_mape:.3f}%)"
        )
    for note in fit.warnings:
        console.print(f"[yellow]warning:[/] {note}")


_PRESET = option(
    "preset",
    str,
    "demo",
    "Preset: demo (CPU, minutes) | gpu (one H200) | code-gpu (one H200, needs --code-corpus).",
)
_REPORT_ONLY = option(
    "report_only", bool, False, "Only rewrite the report from the finished cells."
)


def _resolve_study(
    cls: type, path: Path | None, sets: Sequence[str], flags: dict[str, Any], **options: Any
) -> Any:
    from xling.parscale.settings import load_study_settings

    return load_study_settings(options["preset"], path, sets, **flags)


def _run_study(cfg: Any, *, report_only: bool, **_: Any) -> None:
    from xling.parscale.study import ParScaleStudy

    study = ParScaleStudy(cfg, console)
    if report_only:
        if not study.done_cells():
            raise XlingError(f"{cfg.out}: no finished cells to report on")
        study.write_report()
        return
    study.run()


def organism_heads_command(
    out: Annotated[Path, Opt(help="Output folder (resumable).")],
    base: Annotated[
        str, Opt(help="The frozen backbone: 'organism' (bundled) or a model directory.")
    ] = "organism",
    streams: Annotated[str, Opt(help="Comma-separated P values (>= 2) to post-train.")] = "2,4,8",
    steps: Annotated[int | None, Opt(help="Post-training steps per head [150].")] = None,
    batch_size: Annotated[int | None, Opt(help="Post-training batch size [64].")] = None,
    lr: Annotated[float | None, Opt(help="Post-training learning rate [5e-3].")] = None,
    prefix_tokens: Annotated[int | None, Opt(help="Prefix positions per layer [16].")] = None,
    n_test: Annotated[int | None, Opt(help="Test problems per language [100].")] = None,
    max_new_tokens: Annotated[int | None, Opt(help="Generation limit [320].")] = None,
    eval_batch_size: Annotated[int | None, Opt(help="Prompts per generation batch [128].")] = None,
    score_workers: Annotated[int | None, Opt(help="Scoring worker processes [4].")] = None,
    device: Annotated[str | None, Opt(help="auto | cpu | cuda.")] = None,
) -> None:
    """Post-train ParScale heads (prefixes + aggregator) on the frozen organism, evaluate the
    organism and every head with `xling eval` in the 11 languages, and compare the
    per-language gains (does P help low-resource languages more than English?)."""
    _at_least(
        1,
        steps=steps,
        batch_size=batch_size,
        prefix_tokens=prefix_tokens,
        n_test=n_test,
        max_new_tokens=max_new_tokens,
        eval_batch_size=eval_batch_size,
        score_workers=score_workers,
    )
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise XlingError(f"--lr must be a finite number > 0, got {lr}")
    from xling.parscale.organism_eval import run_heads_comparison, settings_with

    cfg = settings_with(
        streams=_ints(streams, "--streams"),
        prefix_tokens=prefix_tokens,
        n_test=n_test,
        max_new_tokens=max_new_tokens,
        eval_batch_size=eval_batch_size,
        score_workers=score_workers,
        device=device,
        train_steps=steps,
        train_batch_size=batch_size,
        train_lr=lr,
    )
    if base == "organism":
        from xling.organism import bundled_organism

        base_dir = bundled_organism()
    else:
        base_dir = Path(base)
        if not base_dir.is_dir():
            raise XlingError(f"--base {base}: not a model directory")
    run_heads_comparison(base_dir, out, cfg, console)


def _at_least(low: int, **values: int | None) -> None:
    """Refuse a count below `low` (None: not given) naming its flag."""
    for name, value in values.items():
        if value is not None and value < low:
            raise XlingError(f"--{name.replace('_', '-')} must be >= {low}, got {value}")


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise XlingError(f"{option} {text!r}: expected comma-separated integers") from None


def cost_command(
    json_out: Annotated[Path | None, Opt("--json", help="Write the figures as JSON here.")] = None,
    shape: Annotated[str, Opt(help="qwen2-0.5b (the GPU bench) | tiny (CPU smoke).")] = (
        "qwen2-0.5b"
    ),
    streams: Annotated[str, Opt(help="Comma-separated P values.")] = "2,4,8",
    batch: Annotated[str, Opt(help="Comma-separated batch sizes.")] = "1,2,4,8",
    new_tokens: Annotated[int, Opt(help="Generated tokens per measurement.")] = 64,
    prompt_tokens: Annotated[int, Opt(help="Prompt tokens.")] = 64,
    prefix_tokens: Annotated[
        int | None, Opt(help="ParScale prefix positions per layer [the --study's, else 48].")
    ] = None,
    k: Annotated[
        float | None,
        Opt(
            help="Law constant k: the equal-loss dense model has N·(k·ln P + 1) "
            f"[the --study's fit, else {DEFAULT_K}, the paper's Python points]."
        ),
    ] = None,
    device: Annotated[str, Opt(help="auto | cpu | cuda.")] = "auto",
    study: Annotated[
        Path | None,
        Opt(
            help="A finished `xling parscale study` folder: measure its own models (shape, "
            "vocabulary, prefix length) with the k its law fitted."
        ),
    ] = None,
    size: Annotated[
        str | None, Opt(help="With --study: which size, e.g. h288-l8 [the largest].")
    ] = None,
) -> None:
    """Memory and latency per generated token: P streams against the dense model of equal
    predicted loss (random weights, Qwen2.5-0.5B's shape or a --study's), beside the paper's
    22×/6× claim."""
    from xling.jsonl import write_json_atomic
    from xling.parscale.cost import CostSettings, print_cost, run_cost_bench, study_cost_inputs

    custom: dict[str, Any] = {}
    if study is not None:
        found = study_cost_inputs(study, size)
        shape = found["label"]
        prefix_tokens = found["prefix_tokens"] if prefix_tokens is None else prefix_tokens
        custom = {"custom": found["shape"], "k_ci": found["k_ci"]}
        k = found["k"] if k is None else k
    elif size is not None:
        raise XlingError("--size needs --study")
    k = DEFAULT_K if k is None else k
    prefix_tokens = 48 if prefix_tokens is None else prefix_tokens  # the paper's
    _at_least(1, prefix_tokens=prefix_tokens, prompt_tokens=prompt_tokens)
    _at_least(2, new_tokens=new_tokens)
    p_values = _ints(streams, "--streams")
    # The dense comparison model has N·(k·ln P + 1) parameters: that must be a positive size.
    if not math.isfinite(k) or any(k * math.log(p) + 1 <= 0 for p in p_values if p >= 1):
        raise XlingError(f"--k {k}: k·ln P + 1 must be > 0 for every P in --streams")
    cfg = CostSettings(
        shape=shape,
        streams=p_values,
        batch_sizes=_ints(batch, "--batch"),
        prompt_tokens=prompt_tokens,
        new_tokens=new_tokens,
        prefix_tokens=prefix_tokens,
        k=k,
        device=device,
        **custom,
    )
    result = run_cost_bench(cfg, console)
    if json_out is not None:
        write_json_atomic(json_out, result)
        console.print(f"wrote {json_out}")
    print_cost(result, console)


def budget_command(
    studies: Annotated[
        list[Path],
        typer.Argument(help="Study folders; several = candidate recipes, in preference order."),
    ],
    json_out: Annotated[Path | None, Opt("--json", help="Write the checks as JSON here.")] = None,
) -> None:
    """Is the grid's token budget enough, and which candidate recipe wins: rules read off
    the P = 1 cells only (their online loss: windows seen once), so a P = 1 column can set
    the budget and recipe before the other P are trained."""
    from rich.table import Table

    from xling.jsonl import write_json_atomic
    from xling.parscale.budget import (
        TAIL,
        check_budget,
        choose_recipe,
        study_cells,
        unfinished_column,
    )

    found = [(folder, *study_cells(folder)) for folder in studies]
    for folder, settings, cells in found:
        if missing := unfinished_column(settings, cells):
            raise XlingError(
                f"{folder}: the P = 1 column is not finished ({', '.join(missing)} missing); "
                "rerun its study to finish it"
            )
    checks = [check_budget(cells) for _, _, cells in found]
    for (folder, settings, _), check in zip(found, checks, strict=True):
        train = settings["train"]
        table = Table(
            title=f"{folder}: {train['steps']} steps × {train['batch_size']} × "
            f"{train['seq_len']} tokens, lr {train['lr']:g}",
            title_justify="left",
        )
        for col in ("P = 1 cell", "N", f"online loss, last {TAIL:.0%}", "late drop", "held-out"):
            table.add_column(col, justify="left" if col == "P = 1 cell" else "right")
        for c in check.column:
            table.add_row(
                c.cell, f"{c.n:,}", f"{c.validation:.4f}", f"{c.late_drop:.2%}", f"{c.heldout:.4f}"
            )
        console.print(table)
        style = "green" if check.enough else "yellow"
        console.print(f"[{style}]{check.verdict()}[/]")
    chosen = choose_recipe(checks) if len(checks) > 1 else 0
    if len(checks) > 1:
        console.print(
            f"recipe: [bold]{studies[chosen]}[/] (lowest mean online loss of the P = 1 column, "
            f"{checks[chosen].mean_validation:.4f})"
        )
    if json_out is not None:
        write_json_atomic(
            json_out,
            {
                "studies": [
                    {"folder": str(folder), "train": settings["train"], **check.to_dict()}
                    for (folder, settings, _), check in zip(found, checks, strict=True)
                ],
                "chosen": str(studies[chosen]),
            },
        )
        console.print(f"wrote {json_out}")


def corpus_command(
    out: Annotated[Path, Opt(help="Output folder (a new one, or this corpus's own to rerun).")],
    sources: Annotated[
        list[str],
        Opt(
            "--from",
            help="'site-packages' (every site-packages folder of this interpreter) or a "
            "folder of Python files; repeatable.",
        ),
    ],
    vocab_size: Annotated[int, Opt(help="Byte-level BPE vocabulary size.")] = 8192,
    heldout_fraction: Annotated[
        float, Opt(help="Share of files held out (chosen by a seeded hash of the content).")
    ] = 0.02,
    seed: Annotated[int, Opt(help="Seed of the split and of the file order.")] = 0,
    max_bytes: Annotated[int, Opt(help="Skip files larger than this many bytes.")] = 1_000_000,
    max_files: Annotated[
        int | None, Opt(help="Use at most this many files (a seeded sample; for quick runs).")
    ] = None,
    force: Annotated[
        bool, Opt("--force", help="Replace another corpus (or other files) in --out.")
    ] = False,
) -> None:
    """Build a real-code corpus for the N × P grid: Python files from an environment or
    folders, deduplicated, split by file, a byte-level BPE tokenizer trained on the train
    split, both splits tokenized into flat token files, with manifest.json and files.jsonl."""
    from xling.parscale.corpus import CorpusSettings, build_corpus

    settings = CorpusSettings(
        sources=tuple(sources),
        vocab_size=vocab_size,
        heldout_fraction=heldout_fraction,
        seed=seed,
        max_bytes=max_bytes,
        max_files=max_files,
    )
    manifest = build_corpus(settings, out, force=force, console=console)
    files, tokens, skipped = manifest["files"], manifest["tokens"], manifest["skipped"]
    console.print(
        f"corpus {manifest['corpus_hash'][:12]} → {out}: {files['kept']:,} files "
        f"({files['train']:,} train, {files['heldout']:,} held out) from "
        f"{len(manifest['packages'])} packages; tokens {tokens['train']:,} train, "
        f"{tokens['heldout']:,} held out; vocabulary {manifest['tokenizer']['vocab_size']:,}"
    )
    console.print(
        "skipped: "
        + ", ".join(f"{n:,} {reason.replace('_', ' ')}" for reason, n in skipped.items())
    )


def register(app: typer.Typer) -> None:
    """Add the `parscale` command group to the main `xling` app."""
    group = typer.Typer(
        help="ParScale: P parallel streams with learned prefixes and aggregation (arXiv "
        "2505.10475) — its scaling law, a study on the organism, cost and evaluation.",
        no_args_is_help=True,
    )
    group.command("fit")(fit_command)
    from xling.parscale.settings import StudySettings

    group.command("study")(
        config_command(
            StudySettings,
            _run_study,
            doc="Train the N × P grid from scratch on the organism corpus or, with "
            "--code-corpus, on a corpus from `xling parscale corpus` (resumable: finished "
            "cells are kept; --max-minutes stops between cells), fit the parallel scaling law "
            "with CIs, and write the report. Flags override --set, which overrides --config, "
            "which overrides the preset.",
            extra=[_PRESET, _REPORT_ONLY],
            resolve=_resolve_study,
        )
    )
    group.command("organism-heads")(organism_heads_command)
    group.command("cost")(cost_command)
    group.command("corpus")(corpus_command)
    group.command("budget")(budget_command)
    app.add_typer(group, name="parscale")
