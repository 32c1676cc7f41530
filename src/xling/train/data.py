"""Parallel training sets: the same problems in English plus X other languages.

`build_parallel` picks problems from any benchmark loaded through `xling.benchmarks` (the same
id means the same problem in every language) and writes one JSONL row per (problem, language):

    {"benchmark", "id", "lang", "question", "answer", "solution", "budget", "shuffle_ids"}

`solution` is the source's worked solution when it has one (SFT uses it), else null. A sidecar
`<name>.meta.json` records how the set was built (languages, n, budget policy, shuffled
control, seed, source), and every row repeats the two policy fields, so the file describes
itself even without the sidecar.

Budget policies (studies differ on which one makes the comparison fair):

* ``per-lang`` (default): n problems, each present in every language; X parallel languages
  multiply the rows by X + 1.
* ``fixed``: n rows in total, split as evenly as possible across the languages (the first
  n mod (X + 1) languages get one problem more); the ids stay aligned: every language takes
  a prefix of the same shuffled id order.

`shuffle_ids` is the non-parallel control: every language gets *different* problems (disjoint
slices of the shuffled id order), same row counts as the parallel set, so only the alignment
changes. English gets the same problems as in the parallel set.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from xling.benchmarks import BenchmarkSpec, load_problems
from xling.errors import BadRowError, XlingError
from xling.jsonl import write_json_atomic, write_text_atomic
from xling.languages import PARALLEL_ORDER, get_language, parse_langs
from xling.records import Problem

# The paper's parallel languages in the order its scaling study adds them: X = k trains on
# English plus the first k of these.
PIVOT_LANG = "en"  # the language every study trains on; X counts the others
BUDGETS = ("per-lang", "fixed")
FORMAT = "xling-parallel/1"
# Loader kinds whose FieldMap decides which source field is read; only these can supply
# a worked-solution field (MGSM files hold question and answer only).
_FIELD_MAPPED_KINDS = ("jsonl", "hf")


class ParallelDataError(XlingError):
    pass


@dataclass(frozen=True)
class TrainRow:
    benchmark: str
    id: str
    lang: str
    question: str
    answer: str
    solution: str | None = None

    def problem(self) -> Problem:
        return Problem(self.benchmark, self.id, self.lang, self.question, self.answer)


@dataclass(frozen=True)
class ParallelSet:
    rows: tuple[TrainRow, ...]
    meta: dict[str, Any] = field(default_factory=dict)


def langs_for_x(x: int) -> tuple[str, ...]:
    """English plus the first `x` languages of the paper's parallel order."""
    if not 0 <= x <= len(PARALLEL_ORDER):
        raise ParallelDataError(
            f"--x must be between 0 and {len(PARALLEL_ORDER)} "
            f"(parallel order: {', '.join(PARALLEL_ORDER)}), got {x}"
        )
    return (PIVOT_LANG, *PARALLEL_ORDER[:x])


def num_parallel_langs(langs: Sequence[str]) -> int:
    """X: the number of training languages other than English."""
    return sum(1 for code in langs if code != PIVOT_LANG)


def per_lang_counts(n: int, n_langs: int, budget: str) -> list[int]:
    """Problems per language under `budget` (see the module docstring)."""
    if budget not in BUDGETS:
        raise ParallelDataError(f"unknown budget {budget!r}; use one of {', '.join(BUDGETS)}")
    if n < 1:
        raise ParallelDataError(f"n must be at least 1, got {n}")
    if budget == "per-lang":
        return [n] * n_langs
    base, extra = divmod(n, n_langs)
    if base == 0:
        raise ParallelDataError(
            f"--budget fixed splits n={n} rows over {n_langs} languages: fewer than one problem "
            "per language; raise --n"
        )
    return [base + (1 if i < extra else 0) for i in range(n_langs)]


def build_parallel(
    problems: Iterable[Problem],
    langs: str | Iterable[str],
    n: int,
    *,
    seed: int = 0,
    budget: str = "per-lang",
    shuffle_ids: bool = False,
    solutions: Mapping[tuple[str, str], str] | None = None,
    source: Mapping[str, Any] | None = None,
) -> ParallelSet:
    """Pick the training rows from already-loaded `problems` (see the module docstring).

    Only ids present in every requested language are used, so a parallel row always has its
    counterparts. `solutions` maps (lang, id) to a worked solution.
    """
    codes = parse_langs(langs)
    by_lang: dict[str, dict[str, Problem]] = {code: {} for code in codes}
    first_order: list[str] = []
    seen: set[str] = set()
    source_langs: set[str] = set()
    for p in problems:
        source_langs.add(p.lang)
        if p.lang in by_lang:
            by_lang[p.lang].setdefault(p.id, p)
            if p.id not in seen:
                seen.add(p.id)
                first_order.append(p.id)
    absent = [code for code, found in by_lang.items() if not found]
    if absent:
        raise ParallelDataError(
            f"the source has no problems in {', '.join(absent)}; languages found: "
            f"{', '.join(sorted(source_langs)) or 'none'}"
        )
    pool = [pid for pid in first_order if all(pid in by_lang[code] for code in codes)]
    if not pool:
        raise ParallelDataError(
            f"no problem id is present in every language of {', '.join(codes)}: the source is "
            "not parallel (check the id field)"
        )
    counts = per_lang_counts(n, len(codes), budget)
    needed = sum(counts) if shuffle_ids else max(counts)
    if needed > len(pool):
        what = "distinct problems for the shuffled control" if shuffle_ids else "problems"
        raise ParallelDataError(
            f"need {needed} {what} but the source has {len(pool)} present in every language "
            f"of {', '.join(codes)}; lower --n"
            + (" or use --budget fixed" if shuffle_ids and budget == "per-lang" else "")
        )
    # The order is a seeded shuffle of the source order, so every n is a prefix of a larger n
    # with the same seed (nested training sets), and the source's own order never matters.
    order = list(pool)
    random.Random(f"xling-parallel:{seed}").shuffle(order)

    solutions = solutions or {}
    rows: list[TrainRow] = []
    offset = 0
    for code, count in zip(codes, counts, strict=True):
        start = offset if shuffle_ids else 0
        for pid in order[start : start + count]:
            p = by_lang[code][pid]
            rows.append(
                TrainRow(p.benchmark, p.id, code, p.question, p.answer, solutions.get((code, pid)))
            )
        offset += count
    x = num_parallel_langs(codes)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "langs": list(codes),
        "train_langs": list(codes),
        "num_parallel_langs": x,
        "n": n,
        "budget": budget,
        "shuffle_ids": shuffle_ids,
        "seed": seed,
        "n_rows": len(rows),
        "n_problems": len({r.id for r in rows}),
        "rows_per_lang": dict(Counter(r.lang for r in rows)),
        "solutions_per_lang": dict(Counter(r.lang for r in rows if r.solution)),
        "source": dict(source or {}),
    }
    return ParallelSet(tuple(rows), meta)


def load_solutions(spec: BenchmarkSpec, langs: Sequence[str], field_name: str) -> dict:
    """(lang, id) -> worked solution from `field_name` of a FieldMap-driven source.

    The loader reads the solution field in the question's place, which keeps ids identical to
    the problem load (including positional ids). Rows without the field are simply skipped;
    a source without it at all gives an empty mapping.
    """
    if spec.kind not in _FIELD_MAPPED_KINDS:
        return {}
    sol_spec = replace(spec, fields=replace(spec.fields, question=field_name))
    quiet = logging.getLogger("xling.benchmarks")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # missing solutions are expected, not malformed rows
    try:
        loaded = load_problems(sol_spec, langs, skip_bad=True)
    except XlingError:
        return {}
    finally:
        quiet.setLevel(level)
    return {(p.lang, p.id): p.question for p in loaded}


def build_parallel_from_spec(
    spec: BenchmarkSpec | Sequence[BenchmarkSpec],
    langs: str | Iterable[str],
    n: int,
    *,
    seed: int = 0,
    budget: str = "per-lang",
    shuffle_ids: bool = False,
    solution_field: str | None = "solution",
    skip_bad: bool = False,
) -> ParallelSet:
    """Load `spec` (or every split of a preset: several specs) in `langs` and build the
    parallel set (worked solutions included when the source has a `solution_field`)."""
    codes = parse_langs(langs)
    specs = [spec] if isinstance(spec, BenchmarkSpec) else list(spec)
    problems = [p for s in specs for p in load_problems(s, codes, skip_bad=skip_bad)]
    solutions: dict = {}
    for s in specs if solution_field else ():
        solutions |= load_solutions(s, codes, solution_field)
    spec = specs[0]
    source = {
        "kind": spec.kind,
        "path": spec.path,
        "benchmark": ",".join(s.benchmark for s in specs),
        "fields": asdict(spec.fields),
        "split": ",".join(s.split for s in specs),
        "config": spec.config,
        "solution_field": solution_field,
    }
    return build_parallel(
        problems,
        codes,
        n,
        seed=seed,
        budget=budget,
        shuffle_ids=shuffle_ids,
        solutions=solutions,
        source=source,
    )


# ------------------------------------------------------------------------------ files


def meta_path(path: Path) -> Path:
    """`train.jsonl` -> `train.meta.json`."""
    return path.with_name(path.name.removesuffix(".jsonl") + ".meta.json")


def write_parallel(pset: ParallelSet, path: Path) -> None:
    """Write the rows (JSONL) and the sidecar metadata, each atomically."""
    policy = {"budget": pset.meta.get("budget"), "shuffle_ids": pset.meta.get("shuffle_ids")}
    lines = [json.dumps({**asdict(r), **policy}, ensure_ascii=False) for r in pset.rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "\n".join(lines) + "\n")
    write_json_atomic(meta_path(path), pset.meta)


def read_train_rows(path: Path) -> list[TrainRow]:
    """Rows of a training file (as written by `write_parallel`; any JSONL with benchmark?, id,
    lang, question, answer and optional solution works). Bad rows raise with file:line."""
    if not path.is_file():
        raise XlingError(f"training data not found: {path} (build it with `xling data parallel`)")
    rows: list[TrainRow] = []
    seen: set[tuple[str, str]] = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadRowError(f"{where}: invalid JSON ({exc.msg})") from None
        if not isinstance(rec, dict):
            raise BadRowError(f"{where}: expected a JSON object")
        missing = [k for k in ("id", "lang", "question", "answer") if rec.get(k) in (None, "")]
        if missing:
            raise BadRowError(f"{where}: missing {', '.join(missing)}")
        try:
            lang = get_language(str(rec["lang"])).code
        except XlingError as exc:
            raise BadRowError(f"{where}: {exc}") from None
        key = (lang, str(rec["id"]))
        if key in seen:
            raise BadRowError(f"{where}: duplicate id {key[1]!r} for lang {lang}")
        seen.add(key)
        solution = rec.get("solution")
        rows.append(
            TrainRow(
                benchmark=str(rec.get("benchmark") or path.stem),
                id=str(rec["id"]),
                lang=lang,
                question=str(rec["question"]),
                answer=str(rec["answer"]),
                solution=str(solution) if solution else None,
            )
        )
    if not rows:
        raise XlingError(f"{path}: no training rows")
    return rows


def read_train_meta(path: Path, rows: Sequence[TrainRow] | None = None) -> dict[str, Any]:
    """The sidecar metadata; without one, what the rows themselves say."""
    side = meta_path(path)
    if side.is_file():
        try:
            meta = json.loads(side.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise XlingError(f"{side}: invalid JSON ({exc.msg})") from None
        if isinstance(meta, dict) and meta.get("langs"):
            return meta
    rows = rows if rows is not None else read_train_rows(path)
    langs = list(dict.fromkeys(r.lang for r in rows))
    # Rows written by `write_parallel` carry the policy even when the sidecar got lost.
    first = json.loads(next(ln for ln in path.read_text(encoding="utf-8").splitlines() if ln))
    return {
        "langs": langs,
        "train_langs": langs,
        "num_parallel_langs": num_parallel_langs(langs),
        "budget": first.get("budget"),
        "shuffle_ids": first.get("shuffle_ids"),
        "n_rows": len(rows),
        "n_problems": len({r.id for r in rows}),
    }


def train_langs_of(meta: Mapping[str, Any]) -> list[str]:
    """Training languages with English first, as the study format expects."""
    langs = list(meta.get("train_langs") or meta.get("langs") or [])
    return sorted(langs, key=lambda code: code != PIVOT_LANG)
