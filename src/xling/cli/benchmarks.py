"""`xling benchmarks`: the named benchmark presets, their languages and where they come from."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from xling.cli.output import make_console
from xling.errors import XlingError

console = make_console()


def _languages(codes: tuple[str, ...]) -> str:
    return ", ".join(codes) if codes else "as the files hold"


def benchmarks_command(
    name: Annotated[
        str | None, typer.Argument(help="Show one preset in full (citation included).")
    ] = None,
) -> None:
    """List the benchmark presets that `--bench NAME` takes (in `xling eval`, `xling data
    parallel` and a study's [eval] / [train_data]): languages, default source, what
    `--data` must hold, licence.

    Sources: mgsm = hub juletxara/mgsm or a folder of mgsm_<lang>.tsv; polymath = hub
    Qwen/PolyMath (four levels, one benchmark each); math500 = hub HuggingFaceH4/MATH-500;
    aime24 = hub HuggingFaceH4/aime_2024; aime25 = hub math-ai/aime25; gpqa-diamond = hub
    Idavidrein/gpqa (gated); the last four hold English, and their translations come from
    per-language JSONL folders you supply with --data; synth = the organism's synthetic
    benchmark, generated in memory."""
    from xling.benchmarks.registry import get_preset, presets

    if name is not None:
        preset = get_preset(name)
        if preset is None:
            raise XlingError(f"no benchmark preset {name!r}; presets: {', '.join(presets())}")
        console.print(f"[bold]{preset.name}[/] — {preset.title}")
        console.print(preset.description)
        console.print(f"answer type: {preset.answer_type}")
        if preset.source is not None:
            console.print(f"default source: {preset.source.where()}")
            console.print(f"  languages: {_languages(preset.source.languages)}")
            console.print(f"  layout: {preset.source.layout}")
        if preset.local is not None:
            console.print(f"--data PATH: {preset.local.layout}")
        if preset.generation:
            settings = ", ".join(f"{k}={v}" for k, v in preset.generation.items())
            console.print(f"generation defaults: {settings}")
        if preset.train_split:
            console.print(f"training split (xling data parallel): {preset.train_split}")
        console.print(f"url: {preset.url or '—'}")
        console.print(f"licence: {preset.licence or '—'}")
        console.print(f"preset file: {preset.file}")
        console.print("citation:", style="bold")
        console.print(preset.citation, markup=False, highlight=False)
        return

    table = Table(title="benchmark presets (--bench NAME)", title_justify="left")
    # Names never wrap: a preset name split over two lines is one that grep cannot find.
    table.add_column("name", no_wrap=True)
    for column in ("answer", "languages", "default source", "--data PATH", "licence"):
        table.add_column(column, overflow="fold")
    for preset in presets().values():
        source = preset.source
        table.add_row(
            preset.name,
            preset.answer_type,
            _languages(source.languages) if source else "—",
            source.where() if source else "— (needs --data)",
            preset.local.layout if preset.local else "—",
            preset.licence,
        )
    console.print(table)
    console.print("`xling benchmarks NAME` shows one in full, with its citation.")


def register(app: typer.Typer) -> None:
    app.command("benchmarks")(benchmarks_command)
