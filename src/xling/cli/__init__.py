"""The `xling` command line."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from xling import __version__
from xling.cli.flags import config_command, option
from xling.cli.output import make_console
from xling.errors import XlingError

app = typer.Typer(
    name="xling",
    help=(
        "Cross-lingual reasoning transfer toolkit: evaluate any causal LM on multilingual "
        "math (accuracy, off-target language rate), compare runs (MTI), fit parallel "
        "scaling laws and write reports."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
console = make_console()
err_console = make_console(stderr=True)

Opt = typer.Option


_VLLM_OPTION = option(
    "vllm_option",
    list[str] | None,
    None,
    "vllm: any other `vllm.LLM` argument as key=value (TOML value), repeatable: "
    "`--vllm-option enforce_eager=true`.",
    "--vllm-option",
)
_CHAT_TEMPLATE_OPTION = option(
    "chat_template_kwarg",
    list[str] | None,
    None,
    "hf/vllm: an argument for the model's chat template as key=value (TOML value), "
    "repeatable: `--chat-template-kwargs enable_thinking=false`.",
    "--chat-template-kwargs",
)


def _resolve_eval(
    cls: type, path: Path | None, sets: Sequence[str], flags: dict[str, Any], **options: Any
) -> Any:
    from xling.config import parse_assignment
    from xling.evaluate import eval_config

    cfg = eval_config(path, sets, flags)
    # Added to (not replacing) the file's tables.
    for name, field, flag in (
        ("vllm_option", "vllm_options", "--vllm-option"),
        ("chat_template_kwarg", "chat_template_kwargs", "--chat-template-kwargs"),
    ):
        if options.get(name):
            extra = dict(parse_assignment(o, flag) for o in options[name])
            cfg = dataclasses.replace(cfg, **{field: {**getattr(cfg, field), **extra}})
    return cfg


_EXTEND_OPTION = option(
    "extend",
    bool,
    False,
    "Let an existing run grow to more languages or a larger --limit (recorded in its "
    "config.json); without it a run refuses another problem set.",
    "--extend",
)


def _run_eval(cfg: Any, *, extend: bool = False, **_: Any) -> None:
    from xling.evaluate import launch_shard, run_eval

    if not cfg.model:
        raise XlingError("--model is required (a HF hub id or local path, or 'organism')")
    metrics = run_eval(cfg, console, extend=extend)
    if not launch_shard().main:  # rank 0 speaks for a data-parallel run
        return
    strict = metrics["overall"].get("accuracy_strict")
    console.print(
        f"results in [bold]{cfg.out}[/] (overall accuracy "
        f"{100 * (metrics['overall']['accuracy'] or 0):.1f}%"
        + (f", strict {100 * strict:.1f}%" if strict is not None else "")
        + ")"
    )


def _register_eval() -> None:
    from xling.evaluate import EvalConfig

    app.command("eval")(
        config_command(
            EvalConfig,
            _run_eval,
            doc="Evaluate a model on a multilingual benchmark (resumable: rerun to continue).\n\n"
            "`--bench polymath`, `--bench gpqa-diamond`, … name a preset (`xling benchmarks` "
            "lists them with their sources); its sampling and length defaults apply unless a "
            "config file, a --set or a flag says otherwise. Scores are strict (an explicit "
            "final answer) and flexible. Under `torchrun --nproc_per_node N -m xling.cli eval "
            "…` (or `accelerate launch -m xling.cli eval …`) the hf backend generates on N "
            "processes.",
            extra=[_VLLM_OPTION, _CHAT_TEMPLATE_OPTION, _EXTEND_OPTION],
            resolve=_resolve_eval,
        )
    )


_register_eval()


@app.command("score")
def score_command(
    run: Annotated[Path, typer.Argument(help="A run directory written by `xling eval`.")],
    workers: Annotated[int, Opt(help="Scoring worker processes (>= 1).")] = 2,
    timeout: Annotated[float, Opt(help="Hard per-item scoring timeout (seconds, > 0).")] = 5.0,
    scorer: Annotated[
        str | None,
        Opt(
            help="xling | math-verify | lm-eval-flexible | lm-eval-strict [default: the run's "
            "own]. Another scorer's scores go beside the run's (scores.<scorer>.jsonl) and "
            "are compared with them; metrics stay the run's own."
        ),
    ] = None,
) -> None:
    """Re-score a run's existing generations (e.g. after a scorer fix) and rewrite metrics,
    or score them with another scorer and show where the scorers disagree."""
    from xling.analysis.agreement import scorer_agreement
    from xling.evaluate import load_config_json, metrics_stage, print_metrics, score_stage
    from xling.lock import run_lock
    from xling.scorers import check_scorer, run_scorer
    from xling.scoring import check_pool_settings

    check_pool_settings(workers, timeout)
    model = load_config_json(run).get("model", "")
    own = run_scorer(run)
    chosen = check_scorer(scorer or own)
    with run_lock(run):
        n = score_stage(
            run, workers=workers, timeout_s=timeout, console=console, rescore=True, scorer=chosen
        )
        metrics = metrics_stage(run, model=model)
    print_metrics(metrics, console)
    console.print(f"re-scored {n} generation(s) in [bold]{run}[/] with the {chosen} scorer")
    rows = scorer_agreement(run)
    if rows:
        table = Table(title=f"agreement between scorers (the run's own: {own})")
        others = list(rows[0].differ)
        for column in ("benchmark", "lang", "answers", *(f"{s} ✓" for s in (own, *others))):
            table.add_column(column, justify="left" if column in ("benchmark", "lang") else "right")
        for column in others:
            table.add_column(f"≠ {column}", justify="right")
        for row in rows:
            table.add_row(
                row.benchmark,
                row.lang,
                str(row.n),
                *(str(row.accepted[s]) for s in (own, *others)),
                *(str(row.differ[s]) for s in others),
            )
        console.print(table)


StudyFile = Annotated[Path, typer.Argument(help="Study TOML (see studies/*.toml).")]
StudyOut = Annotated[str | None, Opt(help="Override the study's output folder.")]
StudySet = Annotated[
    list[str] | None,
    Opt(
        "--set",
        help="Override a study-file value, TOML syntax, repeatable: "
        "`--set grpo.learning_rate=1e-4 --set x_values=[0,1]`.",
    ),
]


@app.command("demo")
def demo_command(
    out: Annotated[
        str | None, Opt(help="Where the demo study writes [default: runs/demo].")
    ] = None,
    full: Annotated[
        bool,
        Opt(
            "--full",
            help="Run the paper-sized organism study instead (hours on CPU; meant for a GPU).",
        ),
    ] = False,
    set_: StudySet = None,
) -> None:
    """The offline demo: the parallel-scaling study on the bundled model organism and the
    synthetic benchmark at CPU size (English alone and English + Spanish, all 11 languages
    evaluated), ending with the headline table; --full runs X = 0..7 with the controls."""
    from xling.study import Study, headline, load_study_config, shipped_study

    cfg = load_study_config(shipped_study("full" if full else "demo"), set_ or (), out=out)
    Study(cfg, console).run()
    headline(cfg, console)


@app.command("version")
def version_command() -> None:
    """Print the xling version."""
    console.print(__version__)


study_app = typer.Typer(
    help="The whole parallel-scaling study as one resumable pipeline.", no_args_is_help=True
)
app.add_typer(study_app, name="study")


@study_app.command("run")
def study_run_command(
    study: StudyFile,
    out: StudyOut = None,
    set_: StudySet = None,
    arms: Annotated[
        str | None,
        Opt(
            help="Only these arms (comma-separated) and the steps they need. Several "
            "processes may run one study at once, e.g. one per GPU with its own arms; a "
            "step another process is running is waited for, not repeated."
        ),
    ] = None,
    wait: Annotated[
        bool,
        Opt(
            help="When every pending step runs in another process or waits on one, wait "
            "for them (default), or leave (--no-wait) so that a scheduler can give this "
            "process's place to other work."
        ),
    ] = True,
) -> None:
    """Evaluate the base model, train one model per X, evaluate them, fit the laws, report.

    Every step is cached under the study's folder: rerun after a crash to continue."""
    from xling.study import Study, headline, load_study_config

    cfg = load_study_config(study, set_ or (), out=out)
    chosen = [a.strip() for a in arms.split(",") if a.strip()] if arms else None
    if Study(cfg, console).run(chosen, wait=wait):
        headline(cfg, console, chosen)


@study_app.command("pool")
def study_pool_command(
    studies: Annotated[
        list[Path], typer.Argument(help="Study files, one per organism (same design).")
    ],
    out: Annotated[Path, Opt(help="Folder for runs.csv and verdicts.{csv,md,json}.")],
    n_boot: Annotated[
        int | None, Opt(help="Bootstrap replicates [default: the studies' report n_boot].")
    ] = None,
) -> None:
    """Pool one study run on several independently pretrained organisms: every run in one
    runs.csv, and the findings from one bootstrap that resamples organisms, seeds and
    problems (each study's reports must be done)."""
    from xling.study import Study, load_study_config
    from xling.study.pooled import pool_studies

    loaded = [Study(load_study_config(path), console) for path in studies]
    vs = pool_studies(loaded, out, n_boot=n_boot)
    for row in vs.rows:
        console.print(f"{row.verdict:>13}  {row.finding}: {row.ours()}")
    console.print(f"written: {out}/runs.csv, {out}/verdicts.csv, {out}/verdicts.md")


@study_app.command("status")
def study_status_command(study: StudyFile, out: StudyOut = None, set_: StudySet = None) -> None:
    """Show which steps of a study are done."""
    from rich.table import Table

    from xling.study import Study, load_study_config

    cfg = load_study_config(study, set_ or (), out=out)
    table = Table(title=f"study {cfg.name} → {cfg.out}", title_justify="left")
    for column in ("#", "step", "status", "seconds", "finished"):
        table.add_column(column)
    rows = Study(cfg, console).status()
    for i, (step, marker) in enumerate(rows, start=1):
        done = marker is not None
        table.add_row(
            str(i),
            step.describe,
            "[green]done" if done else "[yellow]pending",
            str(marker["seconds"]) if done else "",
            marker["finished"] if done else "",
        )
    console.print(table)
    n_done = sum(m is not None for _, m in rows)
    console.print(f"{n_done}/{len(rows)} steps done")


def _register_commands() -> None:
    # Each part of the pipeline owns its commands. Their modules import heavy libraries
    # (torch, trl, scipy, matplotlib) only inside command bodies, so startup stays fast.
    from xling.cli.analysis import register as register_analysis
    from xling.cli.benchmarks import register as register_benchmarks
    from xling.cli.interop import register as register_interop
    from xling.cli.organism import register as register_organism
    from xling.cli.parscale import register as register_parscale
    from xling.cli.train import register as register_train

    register_benchmarks(app)
    register_analysis(app)
    register_train(app)
    register_organism(app)
    register_parscale(app)
    register_interop(app)


_register_commands()


def main() -> None:
    try:
        app()
    except XlingError as exc:
        # soft_wrap: one line however long (paths are), so `grep error:` finds all of it.
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted; rerun the same command to continue")
        sys.exit(130)
    except OSError as exc:
        # A full or read-only disk, a missing directory: what was written before stays (every
        # stage appends and renames), so the message is all the user needs.
        where = f" ({exc.filename})" if exc.filename else ""
        message = escape(f"{exc.strerror or exc}{where}")
        err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
