"""Named benchmarks as data: one TOML file per benchmark in `presets/` (a task is data, not
code, as in lm-evaluation-harness).

A preset names the benchmark, its answer type (number | latex | choice), default generation
settings, citation and licence, and two ways to read it:

* ``[source]`` -- what `--bench NAME` reads without `--data` (a hub id with its config and
  split pattern, or the synthetic generator), with the languages it holds;
* ``[local]`` -- what `--data PATH` must hold (a folder layout); keys it leaves out come
  from ``[source]``.

Both are turned into `BenchmarkSpec`s for the loaders of `xling.benchmarks.loaders` (mgsm
folder / jsonl / hf / synthetic), which stay usable directly as `--bench mgsm|jsonl|hf`
with the field-mapping flags. A source with several splits (PolyMath's four difficulty
levels) gives one benchmark per split, named `<name>-<split>`.

Adding a benchmark is one TOML file; `xling benchmarks` lists them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from xling.benchmarks.loaders import (
    LOADERS,
    BenchmarkSpec,
    FieldMap,
    LoadReport,
    load_problems,
)
from xling.config import read_toml
from xling.errors import XlingError
from xling.languages import ALL_CODES, parse_langs
from xling.records import ANSWER_TYPES, Problem

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
GENERATION_KEYS = ("n", "temperature", "top_p", "max_new_tokens")
_PRESET_KEYS = {
    "name",
    "title",
    "description",
    "answer_type",
    "url",
    "licence",
    "citation",
    "train_split",
    "generation",
    "source",
    "local",
}
_SOURCE_KEYS = {
    "kind",
    "path",
    "config",
    "split",
    "languages",
    "layout",
    "fields",
    "id_without_lang",
    "size",
    "seed",
}
_FIELD_KEYS = {"question", "answer", "id", "lang", "choices"}


@dataclass(frozen=True)
class Source:
    """One way to read a benchmark: a loader kind and its arguments."""

    kind: str
    path: str = ""
    config: str | None = None
    splits: tuple[str, ...] = ("test",)
    fields: FieldMap = field(default_factory=FieldMap)
    languages: tuple[str, ...] = ()  # empty: whatever the files hold
    id_without_lang: bool = False
    size: int | None = None  # synthetic
    seed: int = 0  # synthetic
    layout: str = ""  # what it looks like, in words

    def where(self) -> str:
        """ "juletxara/mgsm (config {lang}, split test)"."""
        if self.kind == "synthetic":
            return f"generated (xling.world, {self.size} problems, seed {self.seed})"
        extra = [f"config {self.config}"] if self.config else []
        if self.kind == "hf":
            extra.append(f"split{'s' if len(self.splits) > 1 else ''} {', '.join(self.splits)}")
        return self.path + (f" ({'; '.join(extra)})" if extra else "")


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    description: str
    answer_type: str
    source: Source | None  # None: only --data
    local: Source | None  # None: no --data layout
    generation: Mapping[str, Any] = field(default_factory=dict)
    url: str = ""
    licence: str = ""
    citation: str = ""
    train_split: str | None = None  # the split `xling data parallel` takes by default
    file: Path | None = None


# ---------------------------------------------------------------------------- reading


def _check_keys(data: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise XlingError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )


def _source(raw: Mapping[str, Any], base: Source | None, where: str) -> Source:
    _check_keys(raw, _SOURCE_KEYS, where)
    if base is None and "kind" not in raw:
        raise XlingError(f"{where}: needs a loader kind (kind = {' | '.join(LOADERS)})")
    values: dict[str, Any] = {}
    if base is not None:
        # [local] inherits [source]; the path always comes from --data.
        values = {
            k: getattr(base, k) for k in ("kind", "config", "splits", "fields", "id_without_lang")
        }
        values |= {"size": base.size, "seed": base.seed}
    fields = dict(raw.get("fields", {}))
    _check_keys(fields, _FIELD_KEYS, f"{where}.fields")
    if "choices" in fields:
        fields["choices"] = tuple(fields["choices"])
    if fields:
        values["fields"] = FieldMap(**fields)
    split = raw.get("split")
    if split is not None:
        values["splits"] = (split,) if isinstance(split, str) else tuple(split)
    for key in ("kind", "path", "config", "layout", "id_without_lang", "size", "seed"):
        if key in raw:
            values[key] = raw[key]
    if "languages" in raw:
        values["languages"] = parse_langs(list(raw["languages"]))
    source = Source(**values)
    if source.kind not in LOADERS:
        raise XlingError(
            f"{where}: unknown loader kind {source.kind!r}; known: {', '.join(LOADERS)}"
        )
    return source


def load_preset(path: Path) -> Preset:
    """Read and check one preset file."""
    data = read_toml(path, "benchmark preset")
    _check_keys(data, _PRESET_KEYS, str(path))
    name = data.get("name")
    if name != path.stem:
        raise XlingError(f"{path}: name = {name!r} must match the file name ({path.stem!r})")
    answer_type = data.get("answer_type", "number")
    if answer_type not in ANSWER_TYPES:
        raise XlingError(f"{path}: answer_type must be one of {', '.join(ANSWER_TYPES)}")
    generation = dict(data.get("generation", {}))
    _check_keys(generation, set(GENERATION_KEYS), f"{path} [generation]")
    source = _source(data["source"], None, f"{path} [source]") if "source" in data else None
    local = _source(data["local"], source, f"{path} [local]") if "local" in data else None
    if source is None and local is None:
        raise XlingError(f"{path}: a preset needs a [source], a [local] layout, or both")
    for src in (source, local):
        if src is not None and (answer_type == "choice") != bool(src.fields.choices):
            raise XlingError(f"{path}: answer_type 'choice' and fields.choices go together")
    return Preset(
        name=name,
        title=data.get("title", name),
        description=data.get("description", ""),
        answer_type=answer_type,
        source=source,
        local=local,
        generation=generation,
        url=data.get("url", ""),
        licence=data.get("licence", ""),
        citation=data.get("citation", ""),
        train_split=data.get("train_split"),
        file=path,
    )


@lru_cache(maxsize=1)
def presets() -> dict[str, Preset]:
    """Every shipped preset by name."""
    return {p.stem: load_preset(p) for p in sorted(PRESETS_DIR.glob("*.toml"))}


def get_preset(name: str) -> Preset | None:
    return presets().get(name)


def bench_help() -> str:
    """What `--bench` accepts, for command-line help."""
    return (
        f"Benchmark: a preset ({', '.join(presets())}; `xling benchmarks` shows where each "
        f"comes from) or a loader kind ({' | '.join(k for k in LOADERS if k != 'synthetic')})."
    )


# ---------------------------------------------------------------------------- resolving


def benchmark_specs(
    bench: str,
    *,
    data: str | None = None,
    name: str | None = None,
    fields: Mapping[str, Any] | None = None,
    split: str | None = None,
    config: str | None = None,
    lang: str | None = None,
    answer_type: str | None = None,
    langs: Iterable[str] | None = None,
    training: bool = False,
) -> list[BenchmarkSpec]:
    """What to load for `--bench` (a preset or a loader kind) and the other flags.

    For a preset, `data` selects its [local] layout, and every other argument that is given
    overrides the preset (`fields` keys: question, answer, id, lang, choices). `split` may
    list several splits ("low,top"). `training` makes a preset's `train_split` (or, for a
    loader kind, "train") the default split. With `langs`, a source that does not hold them
    is refused with a message saying what `--data` should hold instead.
    """
    overrides = {k: v for k, v in (fields or {}).items() if v not in (None, "", ())}
    if "choices" in overrides:
        overrides["choices"] = tuple(overrides["choices"])
    splits = tuple(s.strip() for s in split.split(",") if s.strip()) if split else ()
    preset = get_preset(bench)
    if preset is None:
        if bench not in LOADERS:
            raise XlingError(
                f"unknown benchmark {bench!r}; presets: {', '.join(presets())} "
                f"(see `xling benchmarks`); loader kinds: {', '.join(LOADERS)}"
            )
        if bench == "synthetic":
            raise XlingError("the synthetic benchmark is the preset synth: --bench synth")
        if bench in ("mgsm", "jsonl") and not data:
            raise XlingError("--data is required: where the benchmark files are")
        kind_fields = FieldMap(**overrides)
        return [
            BenchmarkSpec(
                kind=bench,
                path=data or "",
                name=name,
                fields=kind_fields,
                split=s,
                config=config,
                lang=lang,
                answer_type=answer_type or ("choice" if kind_fields.choices else "number"),
            )
            for s in splits or (("train",) if training else ("test",))
        ]

    source = preset.local if data else preset.source
    if source is None:
        layout = preset.local.layout if preset.local else ""
        raise XlingError(f"--bench {preset.name} needs --data: {layout}")
    if langs is not None and source.languages and not data:
        missing = [code for code in parse_langs(list(langs)) if code not in source.languages]
        if missing:
            hint = f"; for them pass --data with {preset.local.layout}" if preset.local else ""
            raise XlingError(
                f"{preset.name} from {source.where()} holds {', '.join(source.languages)}, "
                f"not {', '.join(missing)}{hint}"
            )
    if not splits:
        splits = (preset.train_split,) if training and preset.train_split else source.splits
    base_name = name or preset.name
    # A preset read in parts (PolyMath's levels) names each part, even when one is chosen.
    per_split = len(source.splits) > 1 or len(splits) > 1
    return [
        BenchmarkSpec(
            kind=source.kind,
            path=data or source.path,
            name=f"{base_name}-{s}" if per_split else base_name,
            fields=replace(source.fields, **overrides),
            split=s,
            config=config or source.config,
            lang=lang,
            answer_type=answer_type or preset.answer_type,
            id_without_lang=source.id_without_lang,
            size=source.size,
            seed=source.seed,
        )
        for s in splits
    ]


@dataclass(frozen=True)
class BenchmarkSource:
    """Which benchmark to read and how: what `xling eval`, `xling data parallel` and a
    study's `[train_data]` all name (a preset or a loader kind, a local copy, field names,
    splits). Not to be confused with a preset's own `Source` (where its files are)."""

    bench: str = "mgsm"
    data: str | None = None
    name: str | None = None
    question_field: str | None = None
    answer_field: str | None = None
    id_field: str | None = None
    lang_field: str | None = None
    choice_fields: tuple[str, ...] = ()
    split: str | None = None
    config: str | None = None
    lang: str | None = None  # the language of a single-language source with no lang field
    answer_type: str | None = None

    def specs(
        self, langs: Iterable[str] | None = None, *, training: bool = False
    ) -> list[BenchmarkSpec]:
        return benchmark_specs(
            self.bench,
            data=self.data or None,
            name=self.name,
            fields={
                "question": self.question_field,
                "answer": self.answer_field,
                "id": self.id_field,
                "lang": self.lang_field,
                "choices": self.choice_fields,
            },
            split=self.split,
            config=self.config,
            lang=self.lang,
            answer_type=self.answer_type,
            langs=langs,
            training=training,
        )


def eval_defaults(bench: str, data: str | None = None) -> dict[str, Any]:
    """A preset's evaluation defaults (samples, sampling, max tokens, and the languages its
    source holds), which a config file and flags override; {} for a loader kind."""
    preset = get_preset(bench)
    if preset is None:
        return {}
    defaults = dict(preset.generation)
    source = preset.local if data else preset.source
    if source is not None and not data and set(ALL_CODES) - set(source.languages or ALL_CODES):
        defaults["langs"] = ",".join(code for code in ALL_CODES if code in source.languages)
    return defaults


def load_benchmark(
    specs: Sequence[BenchmarkSpec],
    langs: str | Iterable[str],
    *,
    skip_bad: bool = False,
    limit: int | None = None,
    report: LoadReport | None = None,
) -> list[Problem]:
    """`load_problems` for every spec (every split of a preset), concatenated."""
    codes = parse_langs(langs)
    problems: list[Problem] = []
    for spec in specs:
        problems += load_problems(spec, codes, skip_bad=skip_bad, limit=limit, report=report)
    return problems
