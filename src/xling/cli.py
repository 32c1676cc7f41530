"""The `xling` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from xling import __version__
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
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)

Opt = typer.Option


@app.command("eval")
def eval_command(
    model: Annotated[
        str | None,
        Opt(help="HF hub id or local path (or the served model name for --backend openai)."),
    ] = None,
    bench: Annotated[str | None, Opt(help="Benchmark loader: mgsm | jsonl | hf.")] = None,
    data: Annotated[
        str | None,
        Opt(
            help="Benchmark location: MGSM folder, JSONL file or "
            "folder, datasets hub id or save_to_disk folder."
        ),
    ] = None,
    bench_name: Annotated[
        str | None, Opt(help="Name recorded for the benchmark [default: the loader kind].")
    ] = None,
    langs: Annotated[str | None, Opt(help="'all' or comma-separated codes, e.g. en,es,bn.")] = None,
    question_field: Annotated[str | None, Opt(help="JSONL/hf: question field.")] = None,
    answer_field: Annotated[str | None, Opt(help="JSONL/hf: answer field.")] = None,
    id_field: Annotated[
        str | None,
        Opt(help="JSONL/hf: problem id field (parallel across languages) [default: row index]."),
    ] = None,
    lang_field: Annotated[
        str | None, Opt(help="JSONL/hf: language field, if one file holds several languages.")
    ] = None,
    split: Annotated[str | None, Opt(help="hf: dataset split [default: test].")] = None,
    hf_config: Annotated[
        str | None, Opt(help="hf: dataset config; '{lang}' is replaced by each language code.")
    ] = None,
    limit: Annotated[int | None, Opt(help="Only the first N problems of each language.")] = None,
    skip_bad: Annotated[
        bool | None,
        Opt(
            "--skip-bad/--no-skip-bad",
            help="Skip malformed rows (counted and reported) instead of failing.",
        ),
    ] = None,
    backend: Annotated[str | None, Opt(help="Generation backend: hf | openai | vllm.")] = None,
    n: Annotated[
        int | None,
        Opt("--n", help="Samples per prompt (accuracy is avg@n; pass@k is reported for k ≤ n)."),
    ] = None,
    temperature: Annotated[float | None, Opt(help="Sampling temperature; 0 = greedy.")] = None,
    top_p: Annotated[float | None, Opt(help="Nucleus sampling p.")] = None,
    max_new_tokens: Annotated[int | None, Opt(help="Generation length limit.")] = None,
    seed: Annotated[int | None, Opt(help="Sampling seed.")] = None,
    batch_size: Annotated[int | None, Opt(help="hf/vllm: prompts per batch.")] = None,
    system_prompt: Annotated[str | None, Opt(help="Optional system message.")] = None,
    base_url: Annotated[
        str | None, Opt(help="openai: server URL, e.g. http://localhost:8000/v1.")
    ] = None,
    concurrency: Annotated[int | None, Opt(help="openai: requests in flight.")] = None,
    dtype: Annotated[str | None, Opt(help="hf: auto | bfloat16 | float16 | float32.")] = None,
    score_workers: Annotated[int | None, Opt(help="Scoring worker processes.")] = None,
    score_timeout: Annotated[
        float | None, Opt(help="Hard per-item scoring timeout (seconds).")
    ] = None,
    out: Annotated[str | None, Opt(help="Run directory [default: runs/eval].")] = None,
    config: Annotated[
        Path | None, Opt(help="TOML file with any of these options; flags override it.")
    ] = None,
) -> None:
    """Evaluate a model on a multilingual math benchmark (resumable: rerun to continue)."""
    overrides = {k: v for k, v in locals().items() if k != "config"}
    from xling.config import EvalConfig, load_config
    from xling.evaluate import run_eval

    cfg = load_config(EvalConfig, config, **overrides)
    if not cfg.model:
        raise XlingError("--model is required (a HF hub id or local path)")
    if cfg.bench != "hf" and not cfg.data:
        raise XlingError("--data is required: where the benchmark files are")
    metrics = run_eval(cfg, console)
    console.print(
        f"results in [bold]{cfg.out}[/] (overall accuracy "
        f"{100 * (metrics['overall']['accuracy'] or 0):.1f}%)"
    )


@app.command("score")
def score_command(
    run: Annotated[Path, typer.Argument(help="A run directory written by `xling eval`.")],
    workers: Annotated[int, Opt(help="Scoring worker processes.")] = 2,
    timeout: Annotated[float, Opt(help="Hard per-item scoring timeout (seconds).")] = 5.0,
) -> None:
    """Re-score a run's existing generations (e.g. after a scorer fix) and rewrite metrics."""
    from xling.evaluate import load_config_json, metrics_stage, print_metrics, score_stage

    model = load_config_json(run).get("model", "")
    n = score_stage(run, workers=workers, timeout_s=timeout, console=console, rescore=True)
    metrics = metrics_stage(run, model=model)
    print_metrics(metrics, console)
    console.print(f"re-scored {n} generation(s) in [bold]{run}[/]")


@app.command("demo")
def demo_command(
    out: Annotated[Path, Opt(help="Where the demo writes its benchmark, model and runs.")] = Path(
        "runs/demo"
    ),
    n_test: Annotated[int, Opt(help="Synthetic test problems per language.")] = 5,
) -> None:
    """Offline demo: evaluate the bundled tiny model on the synthetic parallel benchmark."""
    from xling.demo import run_demo

    run_demo(out, n_test=n_test, console=console)
    console.print(f"demo results in [bold]{out}[/]")


@app.command("version")
def version_command() -> None:
    """Print the xling version."""
    console.print(__version__)


def _register_optional_commands() -> None:
    # Each later part of the pipeline adds its own commands; a missing optional
    # dependency must not break `xling eval`.
    try:
        from xling.analysis.commands import register as register_analysis
    except ImportError:
        return
    register_analysis(app)
    from xling.train.commands import register as register_train
    register_train(app)
    from xling.organism import register as register_organism

    register_organism(app)


_register_optional_commands()


def main() -> None:
    try:
        app()
    except XlingError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted; rerun the same command to continue")
        sys.exit(130)


if __name__ == "__main__":
    main()
