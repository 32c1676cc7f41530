"""`xling import` and `xling export` (registered on the main Typer app): other evaluation
tools' results in and out of xling's run format (docs/interop.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xling.cli.output import make_console
from xling.errors import XlingError

console = make_console()
Opt = typer.Option
Arg = typer.Argument


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def import_command(
    tool: Annotated[
        str, Arg(help="The tool that wrote the files: lm-eval | lighteval | polymath.")
    ],
    files: Annotated[
        list[Path],
        Arg(
            help="Its output files, or folders to search: lm-eval "
            "`samples_<task>_<datetime>.jsonl` (+ `results_<datetime>.json`); lighteval "
            "`details_<task>_<datetime>.parquet`; PolyMath `<model>/<level>/<lang>.jsonl` "
            "(+ `<model>/score.json`).",
            show_default=False,
        ),
    ],
    out: Annotated[Path, Opt(help="The run directory to write (must not hold a run).")],
    lang_from_task: Annotated[
        str | None,
        Opt(
            help="lm-eval/lighteval: where the language is in a task name: a template "
            "(`{bench}_{lang}`, `mgsm_native_cot_{lang}`) or a regex with groups lang "
            "[, bench] [default: the last part that is a language code]."
        ),
    ] = None,
    bench: Annotated[
        str | None,
        Opt(
            help="lm-eval/lighteval: the benchmark name to record (e.g. mgsm, to pair with "
            "`xling eval --bench mgsm` runs) [default: from the task name]."
        ),
    ] = None,
    question_field: Annotated[
        str | None,
        Opt(
            help="lm-eval: the doc field holding the question [default: question, else the "
            "prompt]; lighteval: a key of doc.specific or doc [default: the query]."
        ),
    ] = None,
    answer_field: Annotated[
        str | None,
        Opt(
            help="lm-eval: the doc field holding the gold answer [default: `answer_number` if "
            "present, else the sample's target]."
        ),
    ] = None,
    id_field: Annotated[
        str | None,
        Opt(
            help="lm-eval: the doc field holding the problem id [default: doc_id, the "
            "document's index, which is the line number xling gives MGSM problems]."
        ),
    ] = None,
    source_filter: Annotated[
        str | None,
        Opt(
            help="lm-eval: the filter whose score is the tool's verdict [default: "
            "flexible-extract, else none, else strict-match, else the first]."
        ),
    ] = None,
    source_metric: Annotated[
        str | None,
        Opt(
            help="lighteval: the per-sample metric that is the tool's verdict [default: the "
            "first one recorded]."
        ),
    ] = None,
    answer_type: Annotated[
        str, Opt(help="lm-eval/lighteval: number | latex | choice (PolyMath: latex).")
    ] = "number",
    model: Annotated[
        str | None, Opt(help="The model name to record [default: what the tool recorded].")
    ] = None,
    train_langs: Annotated[
        str | None,
        Opt(
            help="The model was trained on these languages (e.g. en,es): writes `train.json`, so "
            "the run counts as a trained run for compare, fit and report."
        ),
    ] = None,
    train_json: Annotated[
        Path | None,
        Opt(
            help="Instead of --train-langs: copy a training run's `train.json` "
            "(docs/study-format.md)."
        ),
    ] = None,
    workers: Annotated[int, Opt(help="Scoring worker processes (>= 1).")] = 2,
    timeout: Annotated[float, Opt(help="Hard per-item scoring timeout (seconds, > 0).")] = 5.0,
) -> None:
    """Turn another tool's per-sample outputs into an xling run directory, re-scored by xling
    beside the tool's own verdicts (kept in `source_scores.jsonl`), and report how far the two
    agree. The run then works with compare, fit and report like any `xling eval` run."""
    from xling.interop import ImportOptions, import_run, train_metadata
    from xling.scoring import check_pool_settings

    check_pool_settings(workers, timeout)
    options = ImportOptions(
        lang_from_task=lang_from_task,
        bench=bench,
        question_field=question_field,
        answer_field=answer_field,
        id_field=id_field,
        source_filter=source_filter,
        source_metric=source_metric,
        answer_type=answer_type,
        model=model,
    )
    train = train_metadata(train_langs, train_json)
    summary = import_run(
        tool, files, out, options, train=train, workers=workers, timeout_s=timeout,
        console=console,
    )  # fmt: skip
    table = Table(
        title=f"{summary.tool} → {summary.out} ({summary.model})",
        title_justify="left",
        header_style="bold",
    )
    for column in ("benchmark", "language", "responses", "xling acc %", f"{tool} acc %",
                   f"{tool} reported %", "agree", "xling only", f"{tool} only"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("benchmark", "language") else "right")
    for c in summary.cells:
        compared = c.compared > 0
        table.add_row(
            c.benchmark,
            c.lang,
            str(c.n),
            _pct(c.xling_accuracy),
            _pct(c.source_accuracy),
            _pct(c.reported),
            f"{c.agree}/{c.compared}" if compared else "—",
            str(c.xling_only) if compared else "—",
            str(c.source_only) if compared else "—",
        )
    console.print(table)
    if summary.compared:
        console.print(
            f"xling and {tool} agree on {summary.agree} of {summary.compared} responses "
            f"({sum(c.xling_only for c in summary.cells)} right only for xling, "
            f"{sum(c.source_only for c in summary.cells)} right only for {tool})"
        )
    else:
        console.print(
            f"{tool} kept no per-response verdicts: compare the accuracies per cell above"
        )
    for note in summary.notes:
        console.print(f"[yellow]note:[/] {note}")
    trained = (
        f", trained on {', '.join(train['train_langs'])}"
        if train and "train_langs" in train
        else ""
    )
    console.print(f"imported {summary.n_samples} response(s) into [bold]{summary.out}[/]{trained}")


def export_command(
    run: Annotated[Path, Arg(help="A run directory (xling eval, or xling import).")],
    out: Annotated[Path, Opt(help="Output folder (lm-eval's --output_path).")],
    format_: Annotated[str, Opt("--format", help="Output format: lm-eval.")] = "lm-eval",
    task_name: Annotated[
        str, Opt(help="Task name of each benchmark × language, from {bench} and {lang}.")
    ] = "{bench}_{lang}",
) -> None:
    """Write a run as another tool's results: lm-eval's `results_<datetime>.json` (acc with
    acc_stderr per benchmark × language, strict and flexible exact_match) and one
    `samples_<task>_<datetime>.jsonl` per task."""
    from xling.interop import FORMATS, export_lm_eval

    if format_ not in FORMATS:
        raise XlingError(f"--format must be one of {', '.join(FORMATS)}, got {format_!r}")
    written = export_lm_eval(run, out, task_name=task_name)
    console.print(f"wrote {len(written)} file(s) to [bold]{written[0].parent}[/]:")
    for path in written:
        console.print(f"  {path.name}")


def register(app: typer.Typer) -> None:
    """Add `import` and `export` to the main `xling` app."""
    app.command("import")(import_command)
    app.command("export")(export_command)
