"""Benchmark files, records and pretraining text built from rendered problems."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from xling.languages import ALL_CODES, get_language, parse_langs
from xling.synthetic.problems import (
    StructuredProblem,
    SyntheticError,
    generate_problems,
    iter_problems,
)
from xling.synthetic.render import render

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


def _text(problem: StructuredProblem, lang: str, native_digits: bool | None) -> str:
    question, solution = render(problem, lang, native_digits=native_digits)
    return question + "\n" + solution


def pretraining_texts(
    n: int,
    seed: int,
    lang_weights: Mapping[str, float],
    *,
    split: str = "train",
    native_digits: bool | None = None,
) -> Iterator[str]:
    """`n` texts "question\\nsolution" of `split` problems (repeats allowed), each in a
    language drawn with probability proportional to `lang_weights`."""
    codes = [get_language(code).code for code in lang_weights]
    weights = [float(w) for w in lang_weights.values()]
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise SyntheticError(f"lang_weights must be >= 0 with a positive sum: {lang_weights}")
    rng = random.Random(f"xling-synth-pretrain:{seed}")
    stream = iter_problems(seed=seed, split=split, dedupe=False)
    for _ in range(n):
        yield _text(next(stream), rng.choices(codes, weights)[0], native_digits)


class TranslationPair(NamedTuple):
    id: str
    src_lang: str
    tgt_lang: str
    src_text: str  # "question\nsolution" in src_lang
    tgt_text: str  # the same problem in tgt_lang


def translation_pairs(
    n: int,
    seed: int,
    langs: str | Iterable[str] | None = None,
    *,
    src: str = "en",
    split: str = "train",
    native_digits: bool | None = None,
) -> Iterator[TranslationPair]:
    """`n` pairs of one `split` problem rendered in `src` and in another language; target
    languages (default: every registry language but `src`) take turns."""
    (src,) = parse_langs([src])
    targets = [c for c in parse_langs(langs if langs is not None else ALL_CODES) if c != src]
    if not targets:
        raise SyntheticError("translation_pairs needs a target language other than src")
    stream = iter_problems(seed=seed, split=split, dedupe=False)
    for i in range(n):
        problem, tgt = next(stream), targets[i % len(targets)]
        yield TranslationPair(
            problem.id,
            src,
            tgt,
            _text(problem, src, native_digits),
            _text(problem, tgt, native_digits),
        )
