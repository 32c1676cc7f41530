"""Command-line flags generated from config dataclasses (`xling.config`).

A command built by `config_command(Config, run, ...)` has one flag per field of `Config`
(`--num-generations`, `--use-vllm/--no-use-vllm`, …) with the field's help text, plus
`--config FILE` (a TOML file with any of them) and `--set key=value` (repeatable, TOML
values). Flags override `--set`, which overrides the file, which overrides the defaults, so
a TOML key, a `--set` key and a flag are one name and never drift apart. Only flags given
on the command line count: every generated default is None.

Fields whose values are tables (dicts) have no flag; the file and `--set` set them.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from xling.config import load

# resolve(cls, config file, --set settings, given flags, **extra options) -> config
Resolver = Callable[..., Any]


def option(
    name: str, kind: Any, default: Any, help: str, *decls: str, **kw: Any
) -> inspect.Parameter:
    """A command's own flag beside its config's: `name` is the keyword the command's
    function receives, `decls` the flag's spellings (default: from `name`)."""
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[kind, typer.Option(*decls, help=help, **kw)],
    )


CONFIG_PARAM = option(
    "config", Path | None, None, "TOML file with any of these options; flags override it."
)
SET_PARAM = option(
    "set_",
    list[str] | None,
    None,
    "key=value (TOML value), repeatable: any option, over --config and under the flags.",
    "--set",
    metavar="KEY=VALUE",
)


def _flag_type(hint: Any) -> Any | None:
    """The type typer parses a field's flag as, or None for a field that has no flag (a
    table, a list, a nested config: the file and --set give those)."""
    base = hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        base = args[0] if len(args) == 1 else hint
    if typing.get_origin(base) in (dict, tuple, list) or base in (dict, tuple, list):
        return None
    if isinstance(base, type) and dataclasses.is_dataclass(base):
        return None
    return base


def field_params(cls: type, *, skip: Sequence[str] = ()) -> list[inspect.Parameter]:
    """One keyword parameter per config field, typed and documented for typer."""
    hints = typing.get_type_hints(cls)
    params = []
    for f in dataclasses.fields(cls):
        base = _flag_type(hints[f.name])
        if f.name in skip or base is None:
            continue
        flag = "--" + f.name.replace("_", "-")
        decl = f"{flag}/--no-{flag[2:]}" if base is bool else flag
        default = f.default
        # Every flag defaults to None (given or not); the field's own default is shown.
        shown: bool | str = False
        if default not in ("", dataclasses.MISSING):  # model/data: no default worth showing
            shown = "none" if default is None else str(default)
        help_text = str(f.metadata.get("help", ""))
        option = typer.Option(decl, help=help_text, show_default=shown)
        params.append(
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[base | None, option],  # type: ignore[valid-type]
            )
        )
    return params


def default_resolve(
    cls: type, path: Path | None, sets: Sequence[str], flags: Mapping[str, Any], **_: Any
) -> Any:
    return load(cls, path, sets, flags)


def config_command(
    cls: type,
    run: Callable[..., Any],
    *,
    doc: str,
    extra: Sequence[inspect.Parameter] = (),
    resolve: Resolver = default_resolve,
    skip: Sequence[str] = (),
) -> Callable[..., None]:
    """A typer command whose flags are `cls`'s fields (less `skip`) and `extra`; it builds
    the config with `resolve` and calls `run(cfg, **extra options)`."""
    extra_names = [p.name for p in extra]

    def command(**kwargs: Any) -> None:
        path = kwargs.pop("config", None)
        sets = kwargs.pop("set_", None) or ()
        options = {name: kwargs.pop(name) for name in extra_names}
        cfg = resolve(cls, path, sets, kwargs, **options)
        run(cfg, **options)

    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [CONFIG_PARAM, SET_PARAM, *extra, *field_params(cls, skip=skip)]
    )
    command.__doc__ = doc
    command.__name__ = f"{cls.__name__}_command"
    return command
