"""The synthetic benchmark: records and JSONL files built from rendered problems."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from xling.languages import ALL_CODES, parse_langs
from xling.world.problems import (
    StructuredProblem,
    generate_problems,
)
from xling.world.render import render

BENCHMARK_NAME = "synth"


def _records(
    problems: list[StructuredProblem], lang: str, native_digits: bool | None
) -> Iterator[dict[str, Any]]:
    for problem in problems:
        question, solution = render(problem, lang, native_digits=native_digits)
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
) -> Iterator[dict[str, Any]]:
    """The benchmark's records (id, lang, question, answer, solution, type), language by
    language; the same problem has the same id in every language."""
    problems = generate_problems(n, seed=seed, split=split)
    for lang in parse_langs(langs):
        yield from _records(problems, lang, native_digits)


def build_benchmark(
    out_dir: Path,
    *,
    n_train: int,
    n_test: int,
    seed: int,
    langs: str | Iterable[str] = ALL_CODES,
    native_digits: bool | None = None,
) -> None:
    """Write <out_dir>/<split>/synth_<lang>.jsonl for both splits (each file atomically)."""
    codes = parse_langs(langs)
    for split, n in (("train", n_train), ("test", n_test)):
        problems = generate_problems(n, seed=seed, split=split)
        folder = Path(out_dir) / split
        folder.mkdir(parents=True, exist_ok=True)
        for lang in codes:
            path = folder / f"{BENCHMARK_NAME}_{lang}.jsonl"
            tmp = path.with_suffix(".jsonl.tmp")
            with tmp.open("w", encoding="utf-8") as fh:
                for record in _records(problems, lang, native_digits):
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            os.replace(tmp, path)
