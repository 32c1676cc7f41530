"""The synthetic benchmark: records and JSONL files built from rendered problems."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from xling.languages import ALL_CODES, parse_langs
from xling.world.problems import (
    DEFAULT_SCHEME,
    StructuredProblem,
    SyntheticError,
    generate_problems,
)
from xling.world.render import render

BENCHMARK_NAME = "synth"


def _records(
    problems: list[StructuredProblem],
    lang: str,
    native_digits: bool | None,
    arithmetic: str = "shared",
) -> Iterator[dict[str, Any]]:
    for problem in problems:
        question, solution = render(
            problem, lang, native_digits=native_digits, arithmetic=arithmetic
        )
        yield {
            "id": problem.id,
            "lang": lang,
            "question": question,
            "answer": str(problem.answer),
            "solution": solution,
            "type": problem.type,
        }


def iter_records(
    split: str,
    n: int,
    seed: int,
    langs: str | Iterable[str] = ALL_CODES,
    *,
    native_digits: bool | None = None,
    scheme: str = DEFAULT_SCHEME,
    arithmetic: str = "shared",
) -> Iterator[dict[str, Any]]:
    """The benchmark's records (id, lang, question, answer, solution, type), language by
    language; the same problem has the same id in every language."""
    problems = generate_problems(n, seed=seed, split=split, scheme=scheme)
    for lang in parse_langs(langs):
        yield from _records(problems, lang, native_digits, arithmetic)


def build_benchmark(
    out_dir: Path,
    *,
    n_train: int,
    n_test: int,
    seed: int,
    langs: str | Iterable[str] = ALL_CODES,
    native_digits: bool | None = None,
    n_validation: int = 0,
    scheme: str = DEFAULT_SCHEME,
    arithmetic: str = "shared",
) -> None:
    """Write <out_dir>/<split>/synth_<lang>.jsonl for train, test and (with n_validation >
    0, scheme "v3") validation, each file atomically."""
    codes = parse_langs(langs)
    splits = [("train", n_train), ("test", n_test)]
    if n_validation > 0:
        if scheme == "v2":
            # v2's validation sets were test problems of another seed: the same content
            # region as the test set, which is what v3 exists to prevent.
            raise SyntheticError(
                "a validation split needs the v3 split scheme (disjoint from test by content)"
            )
        splits.append(("validation", n_validation))
    for split, n in splits:
        problems = generate_problems(n, seed=seed, split=split, scheme=scheme)
        folder = Path(out_dir) / split
        folder.mkdir(parents=True, exist_ok=True)
        for lang in codes:
            path = folder / f"{BENCHMARK_NAME}_{lang}.jsonl"
            tmp = path.with_suffix(".jsonl.tmp")
            with tmp.open("w", encoding="utf-8") as fh:
                for record in _records(problems, lang, native_digits, arithmetic):
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            os.replace(tmp, path)
