"""`xling data parallel`, `xling train grpo` and `xling train sft` (registered on the main app).

The train commands' flags are generated from the config dataclasses (xling.train.config,
through xling.cli.flags), so every field is a flag (`--num-generations`,
`--use-vllm/--no-use-vllm`, …), a `--set` key and a TOML key (`--config run.toml`), with the
field's help text. Flags override `--set`, which overrides the TOML file, which overrides the
defaults. `xling train <flags>` without a subcommand means `xling train grpo`.

Nothing heavy is imported here: torch/TRL load only when a command runs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from xling.benchmarks.registry import bench_help
from xling.cli.flags import config_command, option
from xling.cli.output import make_console
from xling.errors import XlingError
from xling.languages import PARALLEL_ORDER, parse_langs

console = make_console()
Opt = typer.Option


class _DefaultCommandGroup(TyperGroup):
    """A group that runs its first command when the first word names no command, so that
    `xling train --model m --data d` is `xling train grpo --model m --data d`."""

    default_command = "grpo"

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


data_app = typer.Typer(
    name="data", help="Build training data.", no_args_is_help=True, rich_markup_mode="rich"
)
train_app = typer.Typer(
    name="train",
    cls=_DefaultCommandGroup,
    help="Post-train a model on parallel multilingual data: GRPO (default) or the SFT baseline.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


# ------------------------------------------------------------------------ data parallel


@data_app.command("parallel")
def parallel_command(
    out: Annotated[Path, Opt(help="Output JSONL (a <name>.meta.json sidecar is written too).")],
    bench: Annotated[str, Opt(help=bench_help())] = "mgsm",
    data: Annotated[
        str,
        Opt(
            help="A preset: a local copy in its --data layout (`xling benchmarks`), else its "
            "default source. A loader kind: MGSM folder, JSONL file or folder, datasets id."
        ),
    ] = "",
    bench_name: Annotated[
        str | None, Opt(help="Benchmark name (and <name>_<lang>.jsonl prefix).")
    ] = None,
    langs: Annotated[
        str | None, Opt(help="Training languages, e.g. en,es,ru (English counts as X = 0).")
    ] = None,
    x: Annotated[
        int | None,
        Opt(
            "--x", help=f"Instead of --langs: English + the first X of {','.join(PARALLEL_ORDER)}."
        ),
    ] = None,
    n: Annotated[
        int, Opt("--n", min=1, help="Problems per language (per-lang) or rows in total (fixed).")
    ] = 1000,
    budget: Annotated[
        str,
        Opt(help="per-lang: n problems in every language | fixed: n rows split over languages."),
    ] = "per-lang",
    shuffle_ids: Annotated[
        bool,
        Opt(
            "--shuffle-ids/--parallel-ids",
            help="Non-parallel control: every language gets different problems.",
        ),
    ] = False,
    seed: Annotated[int, Opt(min=0, help="Seed of the problem selection.")] = 0,
    question_field: Annotated[
        str | None, Opt(help="JSONL/hf: question field [default: the preset's, or question].")
    ] = None,
    answer_field: Annotated[
        str | None, Opt(help="JSONL/hf: answer field [default: the preset's, or answer].")
    ] = None,
    id_field: Annotated[
        str | None, Opt(help="JSONL/hf: problem id field (parallel across languages).")
    ] = None,
    lang_field: Annotated[str | None, Opt(help="JSONL/hf: language field.")] = None,
    solution_field: Annotated[
        str | None, Opt(help="JSONL/hf: worked-solution field, kept for SFT when present.")
    ] = "solution",
    split: Annotated[
        str | None,
        Opt(help="Split(s), comma-separated [default: the preset's training split, or train]."),
    ] = None,
    hf_config: Annotated[
        str | None, Opt(help="hf: dataset config; '{lang}' is replaced per language.")
    ] = None,
    source_lang: Annotated[
        str | None, Opt(help="Language of a single-language source without a lang field.")
    ] = None,
    skip_bad: Annotated[
        bool, Opt("--skip-bad/--no-skip-bad", help="Skip malformed source rows.")
    ] = False,
) -> None:
    """Build a parallel training set: the same problems in English and X other languages."""
    from xling.benchmarks import BenchmarkSource
    from xling.train.data import build_parallel_from_spec, langs_for_x, meta_path, write_parallel

    if (langs is None) == (x is None):
        raise XlingError("give exactly one of --langs (e.g. en,es,ru) or --x (e.g. 2)")
    codes = langs_for_x(x) if x is not None else langs
    assert codes is not None
    source = BenchmarkSource(
        bench=bench,
        data=data or None,
        name=bench_name,
        question_field=question_field,
        answer_field=answer_field,
        id_field=id_field,
        lang_field=lang_field,
        split=split,
        config=hf_config,
        lang=source_lang,
    )
    specs = source.specs(parse_langs(codes), training=True)
    pset = build_parallel_from_spec(
        specs,
        codes,
        n,
        seed=seed,
        budget=budget,
        shuffle_ids=shuffle_ids,
        solution_field=solution_field,
        skip_bad=skip_bad,
    )
    write_parallel(pset, out)
    meta = pset.meta
    per_lang = ", ".join(f"{k} {v}" for k, v in meta["rows_per_lang"].items())
    kind = "shuffled-id control" if shuffle_ids else "parallel"
    console.print(
        f"{meta['n_rows']} rows ({kind}, budget {budget}, X = {meta['num_parallel_langs']}): "
        f"{per_lang}; {sum(meta['solutions_per_lang'].values())} with worked solutions"
    )
    console.print(f"wrote [bold]{out}[/] and {meta_path(out).name}")


# ------------------------------------------------------------------------ train commands


_RESUME_PARAM = option(
    "resume",
    bool,
    False,
    "Continue the run in --out from its newest checkpoint (after a kill, or to train "
    "further with a larger --max-steps).",
    "--resume/--no-resume",
)


_TRL_PARAM = option(
    "trl_settings",
    list[str] | None,
    None,
    "key=value (TOML value), repeatable: any TRL GRPOConfig/SFTConfig field xling has no "
    "option for (report_to=wandb, push_to_hub=true, generation_kwargs={...}); the same as a "
    "[trl] table in --config.",
    "--trl",
    metavar="KEY=VALUE",
)


def resolve_config(
    cls: type,
    toml_path: Path | None,
    sets: Sequence[str],
    flags: dict[str, Any],
    *,
    resume: bool = False,
    trl_settings: Sequence[str] | None = None,
    **_: Any,
) -> Any:
    """defaults < (with --resume: the run's saved config) < TOML file < --set < flags.

    So `xling train grpo --out runs/x --resume` continues a run with its own settings, and
    any flag given (say a larger --max-steps) still wins. `--trl key=value` adds to the
    [trl] table.
    """
    from xling.config import build, layers, merge, parse_sets
    from xling.train.common import TRAIN_CONFIG_JSON

    given = layers(toml_path, sets, flags)
    if trl_settings:
        given = merge(given, {"trl": parse_sets(trl_settings, "--trl")})
    cfg = build(cls, given, str(toml_path or cls.__name__))
    if not resume:
        return cfg
    saved_path = Path(cfg.out) / TRAIN_CONFIG_JSON
    if not saved_path.is_file():
        return cfg
    try:
        saved = json.loads(saved_path.read_text(encoding="utf-8")).get("config", {})
    except (json.JSONDecodeError, AttributeError):
        raise XlingError(
            f"{saved_path}: not a training config; remove it or use a new --out"
        ) from None
    known = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in saved.items() if k in known}
    return build(cls, merge(values, given), str(saved_path))


def _run_grpo(cfg: Any, *, resume: bool, **_: Any) -> None:
    from xling.train.grpo import run_grpo

    run_grpo(cfg, resume=resume, console=console)


def _run_sft(cfg: Any, *, resume: bool, prepare_only: bool, **_: Any) -> None:
    from xling.train.sft import run_sft

    run_sft(cfg, resume=resume, prepare_only=prepare_only, console=console)


def _register_train_commands() -> None:
    from xling.train.config import GRPOTrainConfig, SFTTrainConfig

    prepare_only = option(
        "prepare_only",
        bool,
        False,
        "Only build the SFT targets (rejection sampling), e.g. before a multi-GPU "
        "`accelerate launch`.",
        "--prepare-only",
    )
    train_app.command("grpo")(
        config_command(
            GRPOTrainConfig,
            _run_grpo,
            extra=[_RESUME_PARAM, _TRL_PARAM],
            resolve=resolve_config,
            doc="GRPO (TRL) with the composite reward: 0.8 accuracy + 0.1 format + 0.1 "
            "language consistency by default. Writes checkpoints, metrics.csv/jsonl, "
            "training_curves.png, train.json and final/ (loadable by `xling eval`).",
        )
    )
    train_app.command("sft")(
        config_command(
            SFTTrainConfig,
            _run_sft,
            extra=[_RESUME_PARAM, prepare_only, _TRL_PARAM],
            resolve=resolve_config,
            doc="SFT baseline (TRL) on the same data: worked solutions where the data has "
            "them, else correct rollouts of the base model (rejection sampling).",
        )
    )


_register_train_commands()


def register(app: typer.Typer) -> None:
    """Add the `data` and `train` command groups to the main `xling` app."""
    app.add_typer(data_app, name="data")
    app.add_typer(train_app, name="train")
