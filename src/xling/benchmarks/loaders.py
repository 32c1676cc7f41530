"""Benchmark loaders: every source becomes a list of typed `Problem` records.

The same problem has the same `id` in every language, so parallel sets can be built
from any benchmark. These are the mechanisms behind the named presets of
`xling.benchmarks.registry`; four kinds of source are known (see `LOADERS`):

* ``mgsm`` -- a folder of ``mgsm_<lang>.tsv`` files (no header; question, TAB, answer;
  split on the last tab). Line i is the same problem in every language; id = "i" (0-based).
* ``jsonl`` -- JSON Lines with a `FieldMap`. Either one file (languages from a lang field,
  or a single language: `BenchmarkSpec.lang`, default "en"), or a folder of translated
  variants ``<name>_<lang>.jsonl``. Without an id field, id = 0-based record index (blank
  lines are not records), counted per language when a lang field is used.
* ``hf`` -- Hugging Face `datasets`: a hub id, a local dataset folder, a ``save_to_disk``
  folder, or a local .json/.jsonl/.parquet/.csv file, with the same `FieldMap`, optional
  `config` and `split`. Per-language sources put ``{lang}`` into `config` (or `path`);
  otherwise languages come from a lang column or `BenchmarkSpec.lang`.
* ``synthetic`` -- the organism's synthetic benchmark (`xling.world`), generated in
  memory: `size` problems of `split` from `seed`, in every requested language.

Multiple-choice sources map the correct choice to `FieldMap.answer` and the other choices
to `FieldMap.choices` (GPQA's "Correct Answer" / "Incorrect Answer 1..3"); the problem's
`choices` then hold the correct one first, and `xling.choice` shuffles them per problem.
Sources whose ids name the language ("high-ja-0") set `id_without_lang`, which drops that
part so the id is the same in every language.

Adding a loader is one function `(spec, langs) -> Iterable[RawRow]` and one `LOADERS`
entry; the shared code validates rows, rejects duplicates, applies `skip_bad` and `limit`.
Validation includes the gold answer itself (`xling.extract.gold_problem`): a "number"
gold that is no number ("two", "NaN", "inf") or a "latex" gold with unbalanced braces
would score every response wrong without a sign, so such a row is malformed.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xling.errors import BadRowError, XlingError
from xling.extract import gold_problem
from xling.languages import get_language, parse_langs
from xling.records import ANSWER_TYPES, Problem
from xling.text import sanitize

log = logging.getLogger(__name__)

DEFAULT_LANG = "en"


@dataclass(frozen=True)
class FieldMap:
    """Which source field holds what. `id`/`lang` are optional (None = not in the source)."""

    question: str = "question"
    answer: str = "answer"  # multiple choice: the correct choice's text
    id: str | None = None
    lang: str | None = None
    choices: tuple[str, ...] = ()  # multiple choice: the fields of the other choices


@dataclass(frozen=True)
class BenchmarkSpec:
    kind: str  # a key of LOADERS: "mgsm" | "jsonl" | "hf"
    path: str  # folder, file, hub id or save_to_disk folder, depending on kind
    name: str | None = None  # benchmark name in records, and the <name>_<lang>.jsonl prefix
    fields: FieldMap = field(default_factory=FieldMap)
    split: str = "test"  # hf only
    config: str | None = None  # hf only; may contain "{lang}" for per-language configs
    lang: str | None = None  # language of a single-language source without a lang field
    answer_type: str = "number"  # number | latex | choice (see xling.records.ANSWER_TYPES)
    id_without_lang: bool = False  # ids name the language ("high-ja-0"): drop that part
    size: int | None = None  # synthetic only: problems to generate
    seed: int = 0  # synthetic only

    @property
    def benchmark(self) -> str:
        """The benchmark name used in records: `name`, else derived from kind / path."""
        if self.name:
            return self.name
        if self.kind == "mgsm":
            return "mgsm"
        stem = Path(self.path.replace("{lang}", "").rstrip("/\\")).stem.strip("_-. ")
        return stem or self.kind

    @property
    def source_lang(self) -> str:
        return get_language(self.lang).code if self.lang else DEFAULT_LANG


@dataclass
class LoadReport:
    skipped: list[str] = field(default_factory=list)  # "file:line: reason" per skipped row

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)


@dataclass(frozen=True)
class RawRow:
    """One source row as a loader saw it, before validation.

    `error` is set when the row could not be read at all (bad JSON, no tab, missing field);
    `lang` may then be None when the row's language is unknowable.
    """

    where: str  # "file:line", or "dataset row i"
    lang: str | None
    id: Any = None
    question: Any = None
    answer: Any = None
    error: str | None = None
    choices: tuple[Any, ...] = ()  # multiple choice: the other choices' values


Loader = Callable[[BenchmarkSpec, tuple[str, ...]], Iterable[RawRow]]


# ---------------------------------------------------------------------------- helpers


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise XlingError(f"{path}: not UTF-8 text ({exc})") from None


def _require_dir(path: Path, what: str) -> Path:
    if not path.exists():
        raise XlingError(f"{what} folder not found: {path}")
    if not path.is_dir():
        raise XlingError(f"{what} path must be a folder, got a file: {path}")
    return path


def _per_lang_files(
    folder: Path, prefix: str, suffix: str, langs: tuple[str, ...]
) -> dict[str, Path]:
    """`<folder>/<prefix>_<lang><suffix>` for each lang; all missing ones named in one error."""
    files = {lang: folder / f"{prefix}_{lang}{suffix}" for lang in langs}
    missing = [p.name for p in files.values() if not p.is_file()]
    if missing:
        present = sorted(
            p.name[len(prefix) + 1 : -len(suffix)] for p in folder.glob(f"{prefix}_*{suffix}")
        )
        raise XlingError(
            f"{folder}: missing {', '.join(missing)}; languages present: "
            f"{', '.join(present) or f'none (no {prefix}_<lang>{suffix} files)'}"
        )
    return files


def _single_lang_check(label: str, spec: BenchmarkSpec, langs: tuple[str, ...]) -> str:
    src = spec.source_lang
    others = [lang for lang in langs if lang != src]
    if others:
        raise XlingError(
            f"{label} holds a single language ({src}) and has no lang field mapped; cannot "
            f"load {', '.join(others)}. Map the lang field (FieldMap.lang), use per-language "
            f"files/configs, or set lang= to the source's language."
        )
    return src


def _mapped_rows(
    records: Iterable[tuple[str, Mapping[str, Any] | str]],
    fields: FieldMap,
    langs: tuple[str, ...],
    fixed_lang: str | None,
    label: str,
) -> Iterator[RawRow]:
    """Apply a FieldMap to (where, record-or-error) pairs; keep only the requested langs.

    fixed_lang=None means each record's language comes from `fields.lang`. Without an id
    field the id is the record's 0-based position within its language.
    """
    position: Counter[str] = Counter()
    for where, rec in records:
        if isinstance(rec, str):  # unreadable record
            if fixed_lang is not None:
                position[fixed_lang] += 1
            yield RawRow(where, fixed_lang, error=rec)
            continue
        lang = fixed_lang
        if lang is None:
            assert fields.lang is not None
            raw = rec.get(fields.lang)
            if not isinstance(raw, str) or not raw.strip():
                what = "missing" if fields.lang not in rec else f"not a language code: {raw!r}"
                yield RawRow(where, None, error=f"lang field {fields.lang!r} {what}")
                continue
            lang = raw.strip().lower()
        pos = position[lang]
        position[lang] += 1
        if lang not in langs:
            continue
        wanted = [fields.question, fields.answer, *fields.choices]
        wanted += [fields.id] if fields.id else []
        absent = [name for name in wanted if name not in rec]
        if absent:
            names = ", ".join(repr(n) for n in absent)
            yield RawRow(where, lang, error=f"missing field {names}")
            continue
        yield RawRow(
            where,
            lang,
            id=rec[fields.id] if fields.id else str(pos),
            question=rec[fields.question],
            answer=rec[fields.answer],
            choices=tuple(rec[name] for name in fields.choices),
        )
    if fixed_lang is None:
        absent_langs = [lang for lang in langs if position[lang] == 0]
        if absent_langs:
            raise XlingError(
                f"{label}: no rows with {fields.lang}={'/'.join(absent_langs)}; "
                f"languages present: {', '.join(sorted(position)) or 'none'}"
            )


def _as_text(value: Any, what: str) -> str:
    """A non-empty string from str (stripped) or a JSON number; anything else is an error."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} is {json.dumps(value)}, expected text or a number")
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"{what} is a {type(value).__name__}, expected text or a number")
    text = sanitize(value).strip()  # every benchmark text enters here (xling.text)
    if not text:
        raise ValueError(f"{what} is empty")
    return text


# ---------------------------------------------------------------------------- loaders


def _load_mgsm(spec: BenchmarkSpec, langs: tuple[str, ...]) -> Iterator[RawRow]:
    folder = _require_dir(Path(spec.path).expanduser(), "mgsm")
    files = _per_lang_files(folder, "mgsm", ".tsv", langs)
    for lang, path in files.items():
        lines = _read_text(path).split("\n")
        while lines and not lines[-1].strip():  # trailing newline(s) at end of file
            lines.pop()
        for index, line in enumerate(lines):
            where = f"{path}:{index + 1}"
            line = line.rstrip("\r")
            if "\t" not in line:
                reason = "empty line" if not line.strip() else "no tab"
                yield RawRow(where, lang, error=f"{reason} (expected question<TAB>answer)")
                continue
            question, _, answer = line.rpartition("\t")
            yield RawRow(where, lang, id=str(index), question=question, answer=answer)


# Longer JSON integers stay digit strings: json.loads would raise on one over Python's
# int-conversion limit (4,300 digits), and the text is what a gold answer needs anyway.
_MAX_JSON_INT_DIGITS = 600


def _json_int(digits: str) -> int | str:
    return int(digits) if len(digits) <= _MAX_JSON_INT_DIGITS else digits


def _jsonl_records(path: Path) -> Iterator[tuple[str, Mapping[str, Any] | str]]:
    for lineno, line in enumerate(_read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line, parse_int=_json_int)
        except json.JSONDecodeError as exc:
            yield where, f"invalid JSON ({exc.msg} at column {exc.colno})"
            continue
        if not isinstance(obj, dict):
            yield where, f"expected a JSON object, got {type(obj).__name__}"
            continue
        yield where, obj


def _load_jsonl(spec: BenchmarkSpec, langs: tuple[str, ...]) -> Iterator[RawRow]:
    path = Path(spec.path).expanduser()
    if not path.exists():
        raise XlingError(f"jsonl file or folder not found: {path}")
    if path.is_dir():  # translated variants <name>_<lang>.jsonl
        files = _per_lang_files(path, spec.benchmark, ".jsonl", langs)
        for lang, file in files.items():
            yield from _mapped_rows(_jsonl_records(file), spec.fields, (lang,), lang, str(file))
        return
    fixed = None if spec.fields.lang else _single_lang_check(str(path), spec, langs)
    yield from _mapped_rows(_jsonl_records(path), spec.fields, langs, fixed, str(path))


_HF_FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv"}


def _open_hf(path_str: str, config: str | None, split: str) -> tuple[Any, str]:
    """Open one dataset split through the real `datasets` loading path; (dataset, label)."""
    import datasets  # slow import; only the hf loader needs it

    path = Path(path_str).expanduser()
    label = path_str + (f":{config}" if config else "") + f"[{split}]"
    try:
        if path.is_dir() and any((path / n).exists() for n in ("dataset_dict.json", "state.json")):
            label = f"{path}[{split}]"
            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                if split not in loaded:
                    raise XlingError(f"{path}: no split {split!r}; splits: {', '.join(loaded)}")
                loaded = loaded[split]
            return loaded, label
        if path.is_file():
            builder = _HF_FILE_BUILDERS.get(path.suffix.lower())
            if builder is None:
                raise XlingError(
                    f"{path}: cannot load a {path.suffix or 'suffix-less'} file with datasets; "
                    f"use one of {', '.join(_HF_FILE_BUILDERS)} or a save_to_disk folder"
                )
            if config:
                raise XlingError(f"{path}: config={config!r} does not apply to a data file")
            data_files = {split: str(path)}
            return datasets.load_dataset(builder, data_files=data_files, split=split), label
        if not path.exists() and (
            path_str.startswith(("/", ".", "~")) or path.suffix.lower() in _HF_FILE_BUILDERS
        ):
            raise XlingError(f"hf dataset path not found: {path}")
        # A local dataset folder or a hub id.
        return datasets.load_dataset(path_str, name=config, split=split), label
    except XlingError:
        raise
    except Exception as exc:  # datasets raises many types; the message is what users need
        raise XlingError(f"could not load hf dataset {label}: {exc}") from exc


def _load_hf(spec: BenchmarkSpec, langs: tuple[str, ...]) -> Iterator[RawRow]:
    fields = spec.fields
    per_lang = "{lang}" in spec.path or "{lang}" in (spec.config or "")
    if per_lang:
        sources = [
            (
                (
                    spec.path.replace("{lang}", lang),
                    spec.config.replace("{lang}", lang) if spec.config else None,
                ),
                (lang,),
                lang,
            )
            for lang in langs
        ]
    else:
        fixed = None if fields.lang else _single_lang_check(spec.path, spec, langs)
        sources = [((spec.path, spec.config), langs, fixed)]
    for (path, config), source_langs, fixed_lang in sources:
        ds, label = _open_hf(path, config, spec.split)
        needed = [fields.question, fields.answer, fields.id, *fields.choices]
        if fixed_lang is None:
            needed.append(fields.lang)
        columns = list(ds.column_names)
        absent = [c for c in needed if c is not None and c not in columns]
        if absent:
            raise XlingError(
                f"{label}: no column {', '.join(repr(c) for c in absent)}; "
                f"columns: {', '.join(columns)}"
            )
        records = ((f"{label} row {i}", row) for i, row in enumerate(ds))
        yield from _mapped_rows(records, fields, source_langs, fixed_lang, label)


def _load_synthetic(spec: BenchmarkSpec, langs: tuple[str, ...]) -> Iterator[RawRow]:
    from xling.world import iter_records  # the generator is only needed here

    if spec.size is None or spec.size < 1:
        raise XlingError("synthetic benchmark: size must be a positive number of problems")
    for index, rec in enumerate(iter_records(spec.split, spec.size, spec.seed, langs)):
        where = f"synthetic {spec.split} seed {spec.seed} #{index}"
        yield RawRow(
            where, rec["lang"], id=rec["id"], question=rec["question"], answer=rec["answer"]
        )


LOADERS: dict[str, Loader] = {
    "mgsm": _load_mgsm,
    "jsonl": _load_jsonl,
    "hf": _load_hf,
    "synthetic": _load_synthetic,
}


def _id_without_lang(pid: str, lang: str) -> str:
    """The language part of a per-language id dropped: "high-ja-0" -> "high-0"."""
    parts = re.split(r"([-_.:/])", pid)
    for i in range(0, len(parts), 2):
        if parts[i].lower() == lang:
            joiner = i + 1 if i + 1 < len(parts) else i - 1
            kept = "".join(part for j, part in enumerate(parts) if j not in (i, joiner))
            return kept or pid
    return pid


# ---------------------------------------------------------------------------- entry point


def load_problems(
    spec: BenchmarkSpec,
    langs: str | Iterable[str],
    *,
    skip_bad: bool = False,
    limit: int | None = None,
    report: LoadReport | None = None,
) -> list[Problem]:
    """Load `spec` in each of `langs` ("all", "en,es" or codes), grouped by language.

    Malformed rows raise BadRowError (file:line + reason) unless skip_bad, which skips them
    and appends each message to `report.skipped`. `limit` keeps the first N problem ids
    of the first language, and the same ids in every language, so the set stays parallel.
    """
    loader = LOADERS.get(spec.kind)
    if loader is None:
        raise XlingError(f"unknown benchmark kind {spec.kind!r}; known kinds: {', '.join(LOADERS)}")
    if spec.answer_type not in ANSWER_TYPES:
        raise XlingError(
            f"unknown answer type {spec.answer_type!r}; known: {', '.join(ANSWER_TYPES)}"
        )
    if (spec.answer_type == "choice") != bool(spec.fields.choices):
        raise XlingError(
            f"{spec.benchmark}: multiple choice (answer type 'choice') needs the other "
            "choices' fields (FieldMap.choices), and only multiple choice has them"
        )
    codes = parse_langs(langs)
    if limit is not None and limit < 0:
        raise XlingError(f"limit must be >= 0, got {limit}")
    if report is None:
        report = LoadReport()
    n_skipped_before = report.n_skipped

    by_lang: dict[str, list[Problem]] = {code: [] for code in codes}
    first_seen: dict[tuple[str, str], str] = {}
    for row in loader(spec, codes):
        try:
            if row.error is not None:
                raise ValueError(row.error)
            assert row.lang is not None
            pid = _as_text(row.id, "id")
            if spec.id_without_lang:
                pid = _id_without_lang(pid, row.lang)
            question = _as_text(row.question, "question")
            answer = _as_text(row.answer, "answer")
            if spec.answer_type != "choice" and (problem := gold_problem(answer, spec.answer_type)):
                raise ValueError(problem)
            choices = tuple(_as_text(c, "choice") for c in row.choices)
            if choices:
                choices = (answer, *choices)
            key = (row.lang, pid)
            if key in first_seen:
                raise ValueError(
                    f"duplicate id {pid!r} for lang {row.lang} (first at {first_seen[key]})"
                )
        except ValueError as exc:
            message = f"{row.where}: {exc}"
            if not skip_bad:
                raise BadRowError(message) from None
            report.skipped.append(message)
            continue
        first_seen[key] = row.where
        by_lang[row.lang].append(
            Problem(spec.benchmark, pid, row.lang, question, answer, spec.answer_type, choices)
        )

    skipped = report.n_skipped - n_skipped_before
    if skipped:
        log.warning("%s: skipped %d malformed row(s)", spec.benchmark, skipped)
    empty = [code for code, problems in by_lang.items() if not problems]
    if empty:
        why = " (every row was malformed)" if skipped else ""
        raise XlingError(f"{spec.benchmark} ({spec.path}): no problems for {', '.join(empty)}{why}")

    if limit is not None:
        keep = {p.id for p in by_lang[codes[0]][:limit]}
        by_lang = {code: [p for p in ps if p.id in keep] for code, ps in by_lang.items()}
    return [p for code in codes for p in by_lang[code]]
