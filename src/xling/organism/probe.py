"""Looking inside the organism: a fast accuracy check, and what its answers are made of.

`quick_eval` is a tuning aid (greedy, no language identification, no scoring subprocesses);
reported figures come from `xling eval`. `behaviours` reads an `xling eval` run of an
organism and splits every language's answers by strategy (careful = the response writes
arithmetic steps, hasty = it does not), so a change in accuracy can be traced to a change in
how often the model works carefully, in how often a careful answer is right, or in drift.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from xling.jsonl import read_jsonl
from xling.languages import ALL_CODES
from xling.records import key_of
from xling.world import iter_records


def quick_eval(
    model_dir: Path | str,
    *,
    n_per_lang: int = 50,
    langs: Sequence[str] = ALL_CODES,
    bench_seed: int = 0,
    device: str | None = None,
    batch_size: int = 64,
    max_new_tokens: int = 320,
    world: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """Greedy accuracy per language on the first `n_per_lang` synthetic test problems.

    A fast check for tuning and for `organism.json`: the prompts, generation backend, answer
    extraction and equivalence are xling's own, but without language identification (so no
    off-target rate) and without scoring subprocesses. Report figures with `xling eval`.
    """
    from xling.backends.base import GenerationParams
    from xling.backends.hf import HFBackend
    from xling.equivalence import answers_equal
    from xling.extract import extract_answer, normalize_answer
    from xling.prompts import build_request
    from xling.records import Problem

    # `world`: render's style keywords, the organism's own (corpus.world_style), so an
    # organism pretrained on native digits or worded steps is asked in its world's way.
    records = list(iter_records("test", n_per_lang, seed=bench_seed, langs=langs, **(world or {})))
    problems = [Problem("synth", r["id"], r["lang"], r["question"], r["answer"]) for r in records]
    backend = HFBackend(str(model_dir), device=device, batch_size=batch_size)
    try:
        outputs = backend.generate(
            [build_request(p) for p in problems],
            GenerationParams(temperature=0.0, max_new_tokens=max_new_tokens),
        )
    finally:
        backend.close()
    correct: dict[str, list[bool]] = {code: [] for code in langs}
    for problem, outs in zip(problems, outputs, strict=True):
        gold = normalize_answer(problem.answer, problem.lang) or problem.answer
        pred = extract_answer(outs[0].text, problem.lang).answer
        correct[problem.lang].append(answers_equal(pred, gold))
    return {code: sum(v) / len(v) for code, v in correct.items() if v}


def is_careful(output: str) -> bool:
    """Whether an organism response writes its arithmetic: every step line of a careful
    solution holds "a op b = c", and the hasty final-answer line holds no "="."""
    return "=" in output


def behaviours(run_dir: Path | str) -> dict[str, dict[str, Any]]:
    """Per language of an `xling eval` run: samples, accuracy, the share of careful answers,
    accuracy among careful and among hasty answers, and the off-target rate."""
    run = Path(run_dir)
    generations = {key_of(g): g["output"] for g in read_jsonl(run / "generations.jsonl")}
    cells: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in read_jsonl(run / "scores.jsonl"):
        output = generations.get(key_of(s))
        if output is None:
            continue
        cell = cells[s["lang"]]
        careful = is_careful(output)
        cell["correct"].append(float(s["correct"]))
        cell["careful"].append(float(careful))
        cell["correct_careful" if careful else "correct_hasty"].append(float(s["correct"]))
        if s.get("off_target") is not None:
            cell["off_target"].append(float(s["off_target"]))

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    return {
        lang: {
            "n": len(cell["correct"]),
            "accuracy": mean(cell["correct"]),
            "careful_share": mean(cell["careful"]),
            "accuracy_careful": mean(cell["correct_careful"]),
            "accuracy_hasty": mean(cell["correct_hasty"]),
            "off_target": mean(cell["off_target"]),
        }
        for lang, cell in sorted(cells.items(), key=lambda kv: _order(kv[0]))
    }


def _order(lang: str) -> int:
    return ALL_CODES.index(lang) if lang in ALL_CODES else len(ALL_CODES)
