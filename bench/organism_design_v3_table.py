"""The organism v3 design table from a bench/organism_design_v3.sh folder, and the design
rule of docs/gpu/organism-v3/PLAN.md applied to it.

    python bench/organism_design_v3_table.py OUT     # writes OUT/design.csv and OUT/design.md

Per row: the base model on the validation split (accuracy, format and off-target rates)
and what X = 0 GRPO did to it (English and unseen gains, MTI three ways, with CIs).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

# The rows in the plan's order, with what each one changes over v2 `full`.
ROWS = {
    "full": "v2 full (reference)",
    "worded": "+ steps in the language's words",
    "digits": "+ native digits",
    "coverage": "+ type coverage 0.6 (bn, sw, te)",
    "v3": "all organism knobs (preset v3)",
    "full-instruct": "full + instruct stage",
    "v3-instruct": "v3 + instruct stage",
}
LOW_RESOURCE = ("bn", "sw", "te")
# The design rule, fixed in PLAN.md before any v3 run: a base is unusable when English
# validation accuracy is below 20% or any language's format rate is below 50%.
MIN_EN_ACCURACY = 0.20
MIN_FORMAT_RATE = 0.50
# If the all-knobs organism is unusable, knobs are dropped in this order.
DROP_ORDER = ("instruct stage", "native digits", "coverage", "worded steps")


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _estimate(e: dict[str, Any] | None, scale: float = 1.0) -> tuple[Any, Any, Any]:
    if not e or e.get("value") is None:
        return None, None, None
    lo, hi = e.get("lo"), e.get("hi")
    return (
        e["value"] * scale,
        None if lo is None else lo * scale,
        None if hi is None else hi * scale,
    )


def row_figures(out: Path, row: str) -> dict[str, Any] | None:
    metrics = _load(out / f"eval-{row}-base" / "metrics.json")
    if metrics is None:
        return None
    langs = metrics["benchmarks"]["synth"]["langs"]
    acc = {lang: m["accuracy"] for lang, m in langs.items()}
    fmt = {lang: m["format_rate"] for lang, m in langs.items()}
    off = [m["off_target_rate"] for lang, m in langs.items() if lang != "en"]
    off = [v for v in off if v is not None]
    worst_format = min(fmt, key=lambda lang: fmt[lang])
    figures: dict[str, Any] = {
        "row": row,
        "change": ROWS[row],
        "en_acc": 100 * acc.get("en", float("nan")),
        "mean_acc": 100 * sum(acc.values()) / len(acc),
        "low_resource_acc": 100
        * sum(acc[lang] for lang in LOW_RESOURCE if lang in acc)
        / max(1, sum(lang in acc for lang in LOW_RESOURCE)),
        "min_format": 100 * fmt[worst_format],
        "min_format_lang": worst_format,
        "mean_off_target": 100 * sum(off) / len(off) if off else None,
    }
    figures["usable"] = (
        acc.get("en", 0.0) >= MIN_EN_ACCURACY and fmt[worst_format] >= MIN_FORMAT_RATE
    )
    compare = _load(out / f"compare-{row}.json")
    if compare is not None:
        groups = compare["groups"]
        en = next((r for r in compare["languages"] if r["lang"] == "en"), None)
        for key, est, scale in (
            ("en_gain", en and en["gain"], 100),
            ("unseen_gain", groups.get("unseen", {}).get("gain"), 100),
            ("mti", compare["mti"], 1),
            ("mti_abs", compare["mti_abs"], 1),
        ):
            figures[key], figures[f"{key}_lo"], figures[f"{key}_hi"] = _estimate(est, scale)
        figures["unseen_drift_share"] = _estimate(groups.get("unseen", {}).get("drift_share"))[0]
        check = compare.get("mti_checks", {}).get("mti", {})
        figures["mti_den_le0_share"] = check.get("denominator_le0_share")
    return figures


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ci(fig: dict[str, Any], key: str, digits: int = 1) -> str:
    value = fig.get(key)
    if value is None:
        return "–"
    lo, hi = fig.get(f"{key}_lo"), fig.get(f"{key}_hi")
    if lo is None or hi is None:
        return _fmt(value, digits)
    return f"{value:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def markdown(figures: list[dict[str, Any]]) -> str:
    head = (
        "| row | change | en acc | mean acc | bn/sw/te acc | min format (lang) | off-target | "
        "usable | X=0 en gain | X=0 unseen gain | MTI | MTI abs | drift share |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for f in figures:
        lines.append(
            f"| {f['row']} | {f['change']} | {_fmt(f['en_acc'])} | {_fmt(f['mean_acc'])} | "
            f"{_fmt(f['low_resource_acc'])} | {_fmt(f['min_format'])} ({f['min_format_lang']}) "
            f"| {_fmt(f['mean_off_target'])} | {_fmt(f['usable'])} | {_ci(f, 'en_gain')} | "
            f"{_ci(f, 'unseen_gain')} | {_ci(f, 'mti', 2)} | {_ci(f, 'mti_abs', 2)} | "
            f"{_fmt(f.get('unseen_drift_share'), 2)} |"
        )
    return head + "\n".join(lines) + "\n"


def decision(by_row: dict[str, dict[str, Any]]) -> str:
    """The design rule's outcome, in words."""
    v3, instruct = by_row.get("v3"), by_row.get("v3-instruct")
    if v3 is None:
        return "The all-knobs organism (v3) has no base evaluation yet: no decision."
    if not v3["usable"]:
        return (
            "v3 is unusable as a base (English accuracy or a format rate below the bar): "
            f"drop knobs in the order {', '.join(DROP_ORDER[1:])} and evaluate again."
        )
    if instruct is None:
        return "v3 is usable; the instruct stage over v3 is not evaluated yet."
    if not instruct["usable"]:
        return (
            "v3 is usable, its instruct stage is not: the study uses v3 with the instruct "
            "stage dropped (the first knob in the drop order)."
        )
    return "v3 with every knob, instruct stage included, is usable: the study uses it as is."


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    out = Path(argv[1])
    figures = [f for row in ROWS if (f := row_figures(out, row)) is not None]
    if not figures:
        print(f"no base evaluations under {out}", file=sys.stderr)
        return 1
    keys = sorted({k for f in figures for k in f}, key=lambda k: (k != "row", k))
    with (out / "design.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(figures)
    text = markdown(figures) + "\n" + decision({f["row"]: f for f in figures}) + "\n"
    (out / "design.md").write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
