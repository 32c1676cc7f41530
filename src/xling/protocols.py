"""Evaluation protocols: how a benchmark is asked and summarized.

`paper` (the default): arXiv 2510.02272's protocol, the language registry's instruction and
the metrics of `xling.metrics`.

`polymath`: PolyMath's own protocol (Wang et al. 2025, "PolyMath: Evaluating Mathematical
Reasoning in Multilingual Contexts", arXiv 2504.18428; github.com/QwenLM/PolyMath, read at
its commit fbf4e41): its per-language instruction, its difficulty-weighted accuracy
(DW-ACC) over the four levels, and the language consistency of the thinking and of the
answer. The metrics are added to metrics.json under "polymath" (docs/run-format.md); the
answers are judged by the run's own scorer, not PolyMath's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from xling.errors import XlingError
from xling.languages import ALL_CODES, get_language

PROTOCOLS = ("paper", "polymath")
DEFAULT_PROTOCOL = "paper"

# PolyMath's instruction, given per language in that language: `query_dic` in the
# repository's instruction.py (which its README names as "all prompts used in the inference
# process"). The text is what Python makes of that file: "\{" is no escape there, so the
# box reads `$\boxed\{\}$`, backslashes included; evalscope's PolyMath adapter (ModelScope)
# copies the same dictionary and sends it so. Kept as written, to ask what PolyMath asked.
POLYMATH_INSTRUCTIONS: dict[str, str] = {
    "en": r"Note: Please put the final answer in the $\boxed\{\}$.",
    "es": r"Nota: Por favor, coloque la respuesta final en el $\boxed\{\}$.",
    "ru": r"Примечание: Пожалуйста, поместите окончательный ответ в $\boxed\{\}$.",
    "de": r"Hinweis: Bitte setzen Sie die endgültige Antwort in $\boxed\{\}$.",
    "fr": r"Remarque : Veuillez mettre la réponse finale dans le $\boxed\{\}$.",
    "bn": r"বিঃদ্রঃ: অনুগ্রহ করে চূড়ান্ত উত্তরটি $\boxed\{\}$ এর মধ্যে রাখুন।",
    "th": r"หมายเหตุ: กรุณาใส่คำตอบสุดท้ายใน $\boxed\{\}$.",
    "zh": r"注意：请将最终答案放在 $\boxed\{\}$ 中。",
    "sw": r"Kumbuka: Tafadhali weka jibu la mwisho katika $\boxed\{\}$.",
    "te": r"గమనిక: దయచేసి తుది జవాబును $\boxed\{\}$ లో ఉంచండి.",
    "ja": r"注意：最終的な答えを $\boxed\{\}$ に入れてください。",
}

# DW-ACC, from eval/run_eval.py: the i-th level (0-based, easiest first) weighs 2**i and a
# language's benchmark score is sum(2**i * acc_i) / 15, written only once all four levels
# have an accuracy (a missing one leaves it None). That script calls the second level
# "middle"; the dataset's split, and so xling's benchmark, is "medium".
POLYMATH_WEIGHTS: dict[str, int] = {"low": 1, "medium": 2, "high": 4, "top": 8}


def check_protocol(name: str) -> str:
    if name not in PROTOCOLS:
        raise XlingError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    return name


def instruction(lang: str, protocol: str = DEFAULT_PROTOCOL) -> str:
    """The instruction appended to each question in `lang`."""
    check_protocol(protocol)
    language = get_language(lang)
    if protocol == "polymath":
        if language.code not in POLYMATH_INSTRUCTIONS:
            raise XlingError(f"PolyMath gives no instruction in {language.name} ({lang})")
        return POLYMATH_INSTRUCTIONS[language.code]
    return language.instruction


def protocol_metrics(scores: Iterable[dict[str, Any]], protocol: str) -> dict[str, Any]:
    """Metrics a protocol adds to metrics.json (none for the paper's)."""
    check_protocol(protocol)
    if protocol == "polymath":
        return {"polymath": polymath_metrics(scores)}
    return {}


def polymath_level(benchmark: str) -> str | None:
    """The PolyMath level a benchmark holds: a preset read in parts names each part
    `<name>-<split>` (`polymath-top`, or `pm-top` under --bench-name pm); None otherwise."""
    base, _, level = benchmark.rpartition("-")
    return level if base and level in POLYMATH_WEIGHTS else None


def dw_acc(level_accuracy: Mapping[str, float | None]) -> float | None:
    """PolyMath's difficulty-weighted accuracy: sum(w * acc) / sum(w) over the four levels;
    None unless every level has an accuracy (a partial sum would read as a low score)."""
    total = 0.0
    for level, weight in POLYMATH_WEIGHTS.items():
        accuracy = level_accuracy.get(level)
        if accuracy is None:
            return None
        total += weight * accuracy
    return total / sum(POLYMATH_WEIGHTS.values())


def polymath_metrics(scores: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """metrics.json's "polymath" section from score rows (see docs/run-format.md)."""
    by_lang: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in scores:
        by_lang[row["lang"]].append(row)
    order = {code: i for i, code in enumerate(ALL_CODES)}
    langs = sorted(by_lang, key=lambda code: (order.get(code, len(order)), code))

    levels_held = {polymath_level(r["benchmark"]) for rows in by_lang.values() for r in rows}
    dw: dict[str, float | None] = {}
    dw_strict: dict[str, float | None] = {}
    consistency: dict[str, dict[str, Any]] = {}
    for lang in langs:
        by_level: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for row in by_lang[lang]:
            level = polymath_level(row["benchmark"])
            if level is not None:
                by_level[level].append(row)
        # A level's accuracy is avg@n over its samples, as the benchmark's own `accuracy`.
        dw[lang] = dw_acc({lv: _accuracy(rs) for lv, rs in by_level.items()})
        dw_strict[lang] = dw_acc({lv: _strict_accuracy(rs) for lv, rs in by_level.items()})
        consistency[lang] = _consistency(by_lang[lang], lang)
    dw["macro"] = _mean([v for v in dw.values() if v is not None])
    dw_strict["macro"] = _mean([v for v in dw_strict.values() if v is not None])
    consistency["macro"] = {
        key: _mean([c[key] for c in consistency.values() if c[key] is not None])
        for key in ("thinking", "answer", "both")
    }
    return {
        "levels": [level for level in POLYMATH_WEIGHTS if level in levels_held],
        "weights": dict(POLYMATH_WEIGHTS),
        "dw_acc": dw,
        "dw_acc_strict": dw_strict,
        "language_consistency": consistency,
    }


def _mean(values: list[bool] | list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _accuracy(rows: list[Mapping[str, Any]]) -> float | None:
    return _mean([bool(r["correct"]) for r in rows])


def _strict_accuracy(rows: list[Mapping[str, Any]]) -> float | None:
    # Scores written before strict scoring have no strict verdict: no strict DW-ACC then.
    verdicts = [r.get("correct_strict") for r in rows]
    if any(v is None for v in verdicts):
        return None
    return _mean([bool(v) for v in verdicts])


def _consistency(rows: list[Mapping[str, Any]], lang: str) -> dict[str, Any]:
    """How often the thinking, the answer, and both are in the prompt's language, over the
    outputs with a "</think>" whose part has letters to identify (Score.think_lang and
    answer_lang; rows scored before those fields existed have neither)."""
    thinking = [r["think_lang"] for r in rows if r.get("think_lang") is not None]
    answer = [r["answer_lang"] for r in rows if r.get("answer_lang") is not None]
    both = [
        (r["think_lang"], r["answer_lang"])
        for r in rows
        if r.get("think_lang") is not None and r.get("answer_lang") is not None
    ]
    return {
        "thinking": _mean([code == lang for code in thinking]),
        "answer": _mean([code == lang for code in answer]),
        "both": _mean([t == lang and a == lang for t, a in both]),
        "n_thinking": len(thinking),
        "n_answer": len(answer),
        "n_both": len(both),
    }


def describe(metrics: Mapping[str, Any]) -> list[str]:
    """Lines that show a protocol's own metrics (metrics.json's protocol section) under the
    accuracy tables; none for the paper's protocol."""
    section = metrics.get("polymath")
    if not isinstance(section, Mapping):
        return []
    levels = section.get("levels") or []
    weights = ", ".join(f"{level} {w}" for level, w in POLYMATH_WEIGHTS.items())
    lines = [f"PolyMath (arXiv 2504.18428): DW-ACC = sum(w·acc) / sum(w), w = {weights}"]
    if len(levels) < len(POLYMATH_WEIGHTS):
        held = ", ".join(levels) or "none"
        lines.append(f"  DW-ACC needs all four levels; this run holds: {held}")
    consistency = section.get("language_consistency") or {}
    if not any(c.get("n_thinking") or c.get("n_answer") for c in consistency.values()):
        lines.append("  language consistency: no output has a </think> block to split")
    header = ("language", "DW-ACC %", "strict %", "think %", "answer %", "both %", "n")
    widths = (10, 9, 9, 8, 9, 7, 6)
    lines.append("  " + _row(header, widths))
    dw, dw_strict = section.get("dw_acc") or {}, section.get("dw_acc_strict") or {}
    for lang in dw:
        cell = consistency.get(lang) or {}
        count = "" if lang == "macro" else str(cell.get("n_thinking", 0))
        values = (
            lang,
            _pct(dw.get(lang)),
            _pct(dw_strict.get(lang)),
            _pct(cell.get("thinking")),
            _pct(cell.get("answer")),
            _pct(cell.get("both")),
            count,
        )
        lines.append("  " + _row(values, widths))
    lines.append("  think/answer/both %: thinking (before </think>), answer (after it), both")
    lines.append("  in the prompt's language; n: outputs whose thinking was identified")
    return lines


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _row(values: tuple[str, ...], widths: tuple[int, ...]) -> str:
    first, *rest = values
    return first.ljust(widths[0]) + "".join(
        v.rjust(w) for v, w in zip(rest, widths[1:], strict=True)
    )
