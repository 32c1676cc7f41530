"""The `xling` command line."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from xling import __version__
from xling.benchmarks.registry import bench_help
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
console = Console()
err_console = Console(stderr=True)

Opt = typer.Option


@app.command("eval")
def eval_command(
    model: Annotated[
        str | None,
        Opt(help="HF hub id or local path (or the served model name for --backend openai)."),
    ] = None,
    bench: Annotated[str | None, Opt(help=bench_help() + " [default: mgsm]")] = None,
    data: Annotated[
        str | None,
        Opt(
            help="A preset: a local copy in the layout `xling benchmarks` names (without it, "
            "the preset's default source). A loader kind: MGSM folder, JSONL file or folder, "
            "datasets hub id or save_to_disk folder."
        ),
    ] = None,
    bench_name: Annotated[
        str | None,
        Opt(help="Name recorded for the benchmark [default: the preset or loader kind]."),
    ] = None,
    langs: Annotated[str | None, Opt(help="'all' or comma-separated codes, e.g. en,es,bn.")] = None,
    question_field: Annotated[
        str | None, Opt(help="JSONL/hf: question field (overrides a preset's).")
    ] = None,
    answer_field: Annotated[
        str | None, Opt(help="JSONL/hf: answer field (overrides a preset's).")
    ] = None,
    id_field: Annotated[
        str | None,
        Opt(help="JSONL/hf: problem id field (parallel across languages) [default: row index]."),
    ] = None,
    lang_field: Annotated[
        str | None, Opt(help="JSONL/hf: language field, if one file holds several languages.")
    ] = None,
    choice_fields: Annotated[
        str | None,
        Opt(help="JSONL/hf multiple choice: the wrong choices' fields, comma-separated."),
    ] = None,
    answer_type: Annotated[
        str | None, Opt(help="number | latex | choice [default: the preset's, or number].")
    ] = None,
    split: Annotated[
        str | None,
        Opt(help="Split(s), comma-separated [default: the preset's, or test for hf]."),
    ] = None,
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
    dtype: Annotated[str | None, Opt(help="hf/vllm: auto | bfloat16 | float16 | float32.")] = None,
    engine: Annotated[
        str | None,
        Opt(
            help="hf: xling's fast engine: auto (on CUDA for Qwen2/Qwen3/Llama/Mistral, else "
            "transformers generate) | on | off."
        ),
    ] = None,
    tensor_parallel_size: Annotated[
        int | None, Opt(help="vllm: GPUs to shard the model over [default: 1].")
    ] = None,
    gpu_memory_utilization: Annotated[
        float | None,
        Opt(
            help="vllm: share of GPU memory (on a CPU: of host memory) vLLM may take "
            "[default: 0.9 on GPUs, 0.3 on CPUs]."
        ),
    ] = None,
    max_model_len: Annotated[
        int | None, Opt(help="vllm: context length, prompt + output [default: the model's].")
    ] = None,
    vllm_option: Annotated[
        list[str] | None,
        Opt(
            "--vllm-option",
            help="vllm: any other `vllm.LLM` argument as key=value (TOML value), repeatable: "
            "`--vllm-option enforce_eager=true`.",
        ),
    ] = None,
    score_workers: Annotated[int | None, Opt(help="Scoring worker processes.")] = None,
    score_timeout: Annotated[
        float | None, Opt(help="Hard per-item scoring timeout (seconds).")
    ] = None,
    out: Annotated[str | None, Opt(help="Run directory [default: runs/eval].")] = None,
    config: Annotated[
        Path | None, Opt(help="TOML file with any of these options; flags override it.")
    ] = None,
) -> None:
    """Evaluate a model on a multilingual benchmark (resumable: rerun to continue).

    `--bench polymath`, `--bench gpqa-diamond`, … name a preset (`xling benchmarks` lists
    them with their sources); its sampling and length defaults apply unless a config file
    or a flag says otherwise. Scores are strict (an explicit final answer) and flexible."""
    overrides = {k: v for k, v in locals().items() if k not in ("config", "vllm_option")}
    from xling.config import parse_key_values
    from xling.evaluate import eval_config, run_eval

    cfg = eval_config(config, **overrides)
    if vllm_option:  # added to (not replacing) the config file's vllm_options
        extra = parse_key_values(vllm_option, "--vllm-option")
        cfg = dataclasses.replace(cfg, vllm_options={**cfg.vllm_options, **extra})
    if not cfg.model:
        raise XlingError("--model is required (a HF hub id or local path)")
    metrics = run_eval(cfg, console)
    strict = metrics["overall"].get("accuracy_strict")
    console.print(
        f"results in [bold]{cfg.out}[/] (overall accuracy "
        f"{100 * (metrics['overall']['accuracy'] or 0):.1f}%"
        + (f", strict {100 * strict:.1f}%" if strict is not None else "")
        + ")"
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
) -> None:
    """Evaluate the base model, train one model per X, evaluate them, fit the laws, report.

    Every step is cached under the study's folder: rerun after a crash to continue."""
    from xling.study import Study, headline, load_study_config

    cfg = load_study_config(study, set_ or (), out=out)
    chosen = [a.strip() for a in arms.split(",") if a.strip()] if arms else None
    Study(cfg, console).run(chosen)
    headline(cfg, console, chosen)


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
    from xling.analysis.commands import register as register_analysis
    from xling.benchmarks.commands import register as register_benchmarks
    from xling.organism.commands import register as register_organism
    from xling.parscale.commands import register as register_parscale
    from xling.train.commands import register as register_train

    register_benchmarks(app)
    register_analysis(app)
    register_train(app)
    register_organism(app)
    register_parscale(app)


_register_commands()


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
