"""`xling organism …`: pretrain, list presets, build the synthetic benchmark, probe."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from xling.cli.flags import config_command, option
from xling.cli.output import make_console
from xling.organism.config import (
    DEFAULT_PRESET,
    OrganismConfig,
    load_organism_config,
    preset_names,
    preset_path,
)
from xling.organism.probe import behaviours, quick_eval

Opt = typer.Option


_PRESET = option(
    "preset",
    str,
    DEFAULT_PRESET,
    "A preset shipped with xling (`xling organism presets` lists them).",
)
_OUT = option("out", Path, Path("runs/organism"), "Output model directory.")
_RESUME = option("resume", bool, False, "Continue an interrupted run from its checkpoint.")
_EVAL_N = option(
    "eval_n", int, 0, "Then quick-eval this many test problems per language (0 = skip)."
)
# The old spelling of --steps, kept working but out of the help.
_MAX_STEPS = option("max_steps", int | None, None, "", "--max-steps", hidden=True)


def _resolve_pretrain(
    cls: type, path: Path | None, sets: Sequence[str], flags: dict[str, Any], **options: Any
) -> OrganismConfig:
    if flags.get("steps") is None:
        flags = {**flags, "steps": options.get("max_steps")}
    return load_organism_config(options["preset"], path, sets, **flags)


def _run_pretrain(cfg: OrganismConfig, *, out: Path, resume: bool, eval_n: int, **_: Any) -> None:
    from xling.organism.pretrain import pretrain

    pretrain(cfg, out, resume=resume, eval_n=eval_n)


pretrain_command = config_command(
    OrganismConfig,
    _run_pretrain,
    doc="Pretrain the organism (tokenizer + Qwen2 model) from a seed into an HF model dir.\n\n"
    "Options come from the preset, then a --config file, then --set, then the flags, each "
    "overriding the last; the defaults shown are OrganismConfig's own, used where the preset "
    "says nothing. Per-language tables (lang_weights, careful_share, drift_share) have no "
    "flag and are replaced whole: set them in the file or with --set, e.g. "
    "`--set 'careful_share={default = 1.0, bn = 0.5}'`.",
    extra=[_PRESET, _OUT, _RESUME, _EVAL_N, _MAX_STEPS],
    resolve=_resolve_pretrain,
)


def presets_command() -> None:
    """List the organism presets shipped with xling, with the first line of each."""

    from rich.table import Table

    table = Table("preset", "what it is")
    for name in preset_names():
        first = preset_path(name).read_text(encoding="utf-8").splitlines()[0]
        table.add_row(name, first.lstrip("# ").strip())
    make_console().print(table)


def quick_eval_command(
    model: Annotated[str, Opt(help="Model directory, or 'organism' (the bundled one).")],
    n: Annotated[int, Opt("--n", min=1, help="Test problems per language.")] = 50,
    langs: Annotated[str, Opt(help="'all' or comma-separated codes.")] = "all",
    batch_size: Annotated[int, Opt(min=1, help="Prompts per generation batch.")] = 64,
) -> None:
    """Greedy per-language accuracy on synthetic test problems (no off-target rate; use
    `xling eval` for reported figures)."""

    from xling.languages import parse_langs
    from xling.models import resolve_model

    accuracy = quick_eval(
        resolve_model(model), n_per_lang=n, langs=parse_langs(langs), batch_size=batch_size
    )
    make_console().print(json.dumps({k: round(v, 4) for k, v in accuracy.items()}))


def behaviours_command(
    run: Annotated[Path, typer.Argument(help="An `xling eval` run directory of an organism.")],
    as_json: Annotated[bool, Opt("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Split each language's answers by strategy: how often the model works carefully,
    how often careful and hasty answers are right, and the off-target rate."""

    from rich.table import Table

    from xling.errors import XlingError

    if not (run / "scores.jsonl").is_file():
        raise XlingError(f"{run} holds no scores.jsonl; run `xling eval` (and `xling score`)")
    stats = behaviours(run)
    if as_json:
        print(json.dumps(stats, indent=1))
        return

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{100 * value:.1f}"

    columns = ("accuracy", "careful_share", "accuracy_careful", "accuracy_hasty", "off_target")
    table = Table("lang", "n", *(c.replace("_", " ") + " %" for c in columns))
    for lang, row in stats.items():
        table.add_row(lang, str(row["n"]), *(pct(row[c]) for c in columns))
    make_console().print(table)


def build_bench_command(
    out: Annotated[Path, Opt(help="Folder for <split>/synth_<lang>.jsonl.")],
    n_train: Annotated[int, Opt(min=1, help="Train problems per language.")] = 1000,
    n_test: Annotated[int, Opt(min=1, help="Test problems per language.")] = 250,
    seed: Annotated[int, Opt(min=0, help="Benchmark seed.")] = 0,
    langs: Annotated[str, Opt(help="'all' or comma-separated codes.")] = "all",
    splits: Annotated[
        str,
        Opt(
            help="Split scheme: v2 (train/test) | v3 (train/validation/test, disjoint by "
            "problem content; test drawn afresh)."
        ),
    ] = "v2",
    n_validation: Annotated[
        int, Opt(min=0, help="Validation problems per language (needs --splits v3).")
    ] = 0,
    native_digits: Annotated[
        bool, Opt(help="Numbers in each language's native digits where it has them.")
    ] = False,
    arithmetic: Annotated[
        str, Opt(help="shared ('2 × 6 = 12' everywhere) | localized (the language's words).")
    ] = "shared",
) -> None:
    """Write the synthetic parallel benchmark (train/, test/ and, with --n-validation,
    validation/ folders of JSONL)."""

    from xling.world import build_benchmark

    build_benchmark(
        out,
        n_train=n_train,
        n_test=n_test,
        seed=seed,
        langs=langs,
        n_validation=n_validation,
        scheme=splits,
        native_digits=True if native_digits else None,
        arithmetic=arithmetic,
    )
    folders = "train,validation,test" if n_validation else "train,test"
    make_console().print(
        f"wrote [bold]{out}[/]/{{{folders}}}/synth_<lang>.jsonl; evaluate with: xling eval "
        f"--model <dir> --bench jsonl --data {out / 'test'} --bench-name synth --id-field id"
    )


def register(app: typer.Typer) -> None:
    """Add the `organism` command group to the main `xling` app."""
    group = typer.Typer(
        help="The model organism: a tiny LM pretrained English-centric on synthetic math.",
        no_args_is_help=True,
    )
    group.command("pretrain")(pretrain_command)
    group.command("presets")(presets_command)
    group.command("build-bench")(build_bench_command)
    group.command("quick-eval")(quick_eval_command)
    group.command("behaviours")(behaviours_command)
    app.add_typer(group, name="organism")
