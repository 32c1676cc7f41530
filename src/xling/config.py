"""The one configuration system: frozen dataclasses, loaded in layers.

Every configurable thing in xling (an evaluation, a training run, a study, an organism, a
ParScale grid) is a frozen dataclass whose fields carry their help text
(`field(metadata={"help": ...})`). `load` builds one from, in order of precedence:

    defaults  <  a TOML file  <  `--set key=value` settings  <  command-line flags

and `build` turns plain data (a TOML table) into the dataclass, nested dataclasses and
tuples of them included, rejecting an unknown key at any level with one line that names
the closest valid key — so `[train_data] shufle_ids = true` fails instead of silently
dropping the shuffled control. The command line's flags are generated from the same fields
(`xling.cli.flags`), so a TOML key, a `--set` key and a flag are one name.

Every run writes its resolved config next to its results.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from xling.errors import XlingError

C = TypeVar("C")


class ConfigError(XlingError):
    pass


def check_range(
    name: str,
    value: float | None,
    *,
    at_least: float | None = None,
    above: float | None = None,
    at_most: float | None = None,
) -> None:
    """A config number out of its range (or not finite) as one line naming the key and its
    flag; None (a value left unset) passes. Called from configs' `__post_init__`, so a
    TOML file, a `--set` and a flag are checked alike."""
    if value is None:
        return
    bounds = []
    if at_least is not None:
        bounds.append(f">= {at_least:g}")
    if above is not None:
        bounds.append(f"> {above:g}")
    if at_most is not None:
        bounds.append(f"<= {at_most:g}")
    ok = value == value and abs(value) != float("inf")  # NaN and infinities never pass
    ok = ok and (at_least is None or value >= at_least) and (above is None or value > above)
    ok = ok and (at_most is None or value <= at_most)
    if not ok:
        flag = "--" + name.replace("_", "-")
        raise ConfigError(f"{name} ({flag}) must be {' and '.join(bounds)}, got {value!r}")


def field_help(cls: type, name: str) -> str:
    """A config field's help text (its `help` metadata)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return str(f.metadata.get("help", ""))
    raise KeyError(name)


def closest(key: str, known: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    found = difflib.get_close_matches(key, list(known), n=1, cutoff=cutoff)
    return found[0] if found else None


def check_keys(data: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    """Fail on the first key of `data` not in `known`, naming the closest known key."""
    known = list(known)
    for key in data:
        if key not in known:
            hint = closest(key, known)
            suggestion = f"; did you mean {hint!r}?" if hint else f"; known: {', '.join(known)}"
            raise ConfigError(f"{where}: unknown key {key!r}{suggestion}")


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _optional_inner(tp: Any) -> Any:
    """`X | None` -> X; anything else unchanged."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _check_scalar(tp: Any, value: Any, where: str) -> None:
    """A TOML value of the wrong kind for a plain scalar field, said in one line."""
    if value is None:
        return
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str and not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")


def _convert(tp: Any, value: Any, where: str) -> Any:
    inner = _optional_inner(tp)
    if value is None:
        return None
    if _is_dataclass_type(inner):
        if isinstance(value, inner):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return build(inner, value, where)
    if typing.get_origin(inner) is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(inner)
        item_type = args[0] if args else Any
        return tuple(_convert(item_type, v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, float) and inner is float:
        return value
    if inner is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if inner in (bool, int, float, str):
        _check_scalar(inner, value, where)
    return value


def convert_value(tp: Any, value: Any, where: str) -> Any:
    """A plain (TOML) value as a field of type `tp` holds it; one line when it cannot be."""
    return _convert(tp, value, where)


def build(cls: type[C], data: Mapping[str, Any], where: str) -> C:
    """`cls` from a table of plain values: nested dataclass fields from tables, tuple fields
    from lists; an unknown key at any level is an error naming the closest field."""
    check_keys(data, [f.name for f in dataclasses.fields(cls)], where)  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    values = {key: _convert(hints[key], value, f"{where}: {key}") for key, value in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:  # a required field left out
        raise ConfigError(f"{where}: {exc}") from None


def parse_assignment(item: str, option: str) -> tuple[str, Any]:
    """`key=value` with the value in TOML syntax (`true`, `0.5`, `[0, 1]`, `"x"`); a value
    that is not TOML is kept as a plain string, so `--set out=runs/x` needs no quotes."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"{option} {item!r}: expected key=value")
    try:
        return key, tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return key, raw.strip()


def parse_sets(items: Sequence[str], option: str = "--set") -> dict[str, Any]:
    """`key=value` / `table.key=value` settings as a nested table."""
    nested: dict[str, Any] = {}
    for item in items:
        key, value = parse_assignment(item, option)
        *tables, leaf = key.split(".")
        target = nested
        for table in tables:
            target = target.setdefault(table, {})
            if not isinstance(target, dict):
                raise ConfigError(f"{option} {item!r}: {table!r} is not a table")
        target[leaf] = value
    return nested


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """`extra` over `base`, table by table."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_toml(path: Path, what: str = "config file") -> dict[str, Any]:
    """A TOML file's top-level table, with clear errors for a missing or malformed file."""
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None


def layers(
    path: Path | None = None,
    sets: Sequence[str] = (),
    flags: Mapping[str, Any] | None = None,
    *,
    under: Mapping[str, Any] | None = None,
    what: str = "config file",
) -> dict[str, Any]:
    """The merged table: `under` < the TOML file < `--set` settings < flags (None: not
    given)."""
    data = dict(under or {})
    if path is not None:
        data = merge(data, read_toml(Path(path), what))
    data = merge(data, parse_sets(sets))
    return merge(data, {k: v for k, v in (flags or {}).items() if v is not None})


def load(
    cls: type[C],
    path: Path | None = None,
    sets: Sequence[str] = (),
    flags: Mapping[str, Any] | None = None,
    *,
    under: Mapping[str, Any] | None = None,
    what: str = "config file",
) -> C:
    """`cls` from its defaults < `under` < a TOML file < `--set` settings < flags."""
    data = layers(path, sets, flags, under=under, what=what)
    where = str(path) if path is not None else cls.__name__
    return build(cls, data, where)


def flat_toml(values: dict[str, Any]) -> str:
    """A table of plain values as TOML (tables, such as a training config's [trl], as
    inline tables); None (TOML has no null) is left out.

    Written by hand because the standard library reads TOML but cannot write it, and a
    config of plain values needs no writer dependency: JSON's strings, numbers, booleans
    and arrays are valid TOML values.
    """
    lines = [
        f"{_toml_key(key)} = {_toml_value(value, key)}"
        for key, value in values.items()
        if value is not None
    ]
    return "\n".join(lines) + "\n"


def _toml_key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any, where: str) -> str:
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, dict):
        items = (
            f"{_toml_key(k)} = {_toml_value(v, f'{where}.{k}')}"
            for k, v in value.items()
            if v is not None
        )
        return "{ " + ", ".join(items) + " }" if value else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    if not isinstance(value, str | int | float | bool):
        raise ConfigError(f"{where}: {type(value).__name__} has no TOML form here")
    return json.dumps(value, ensure_ascii=False)


def to_json_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
