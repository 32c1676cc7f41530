"""A study's arms side by side, and its findings next to the paper's (arXiv 2510.02272).

Reads what each arm's report wrote (`report/<arm>/summary.json`, `tables/runs.csv`,
`tables/per_language.csv`) and writes `report/summary.{md,json,csv}`: one row per finding
with the paper's number, ours with its CI, and whether ours agrees in direction. Whether a
finding reproduces is a result: nothing here is tuned toward the paper's values.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xling.analysis.transfer import write_csv
from xling.jsonl import write_json_atomic, write_text_atomic

if TYPE_CHECKING:
    from xling.study import Arm, Study

# The paper's reported numbers (facts quoted in ../shared/papers and docs/study-format.md).
PAPER = {
    "mti_law": (2.00, 0.29),  # transferability f(X) = 2.00 · X^0.29
    "accuracy_law": (56.98, 0.02),  # accuracy f(X) = 56.98 · X^0.02
    "mti_mono": 1.16,  # English-only training
    "mti_first_parallel": 2.50,  # English + one parallel language
    "mono_predicted": 56.98,  # the accuracy law at the monolingual point
    "mono_measured": 54.24,
    "mti_base": 1.95,  # base vs instruct starting models
    "mti_instruct": 1.23,
}
LOW_RESOURCE = ("bn", "sw", "te")  # the languages where the paper finds SFT hurts


@dataclass(frozen=True)
class Value:
    value: float | None
    lo: float | None = None
    hi: float | None = None

    def text(self, digits: int = 2, scale: float = 1.0, sign: bool = False) -> str:
        if self.value is None or math.isnan(self.value):
            return "undefined"
        fmt = f"{{:{'+' if sign else ''}.{digits}f}}"
        out = fmt.format(scale * self.value)
        if self.lo is not None and self.hi is not None:
            out += f" [{fmt.format(scale * self.lo)}, {fmt.format(scale * self.hi)}]"
        return out

    def to_dict(self) -> dict[str, float | None]:
        return {"value": self.value, "lo": self.lo, "hi": self.hi}


def _num(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "None", "nan") else None
    except ValueError:
        return None


def _est(entry: dict[str, Any] | None) -> Value:
    if not entry:
        return Value(None)
    return Value(entry.get("value"), entry.get("lo"), entry.get("hi"))


@dataclass
class ArmResult:
    """What one arm's report says: its fits and its runs, by X (training languages)."""

    name: str
    method: str
    base_stage: str | None
    fits: dict[str, dict[str, Any]]
    runs: dict[float, dict[str, str]]  # X -> the runs.csv row
    per_language: list[dict[str, str]]

    def run_value(self, x: float, key: str) -> Value:
        row = self.runs.get(x)
        if row is None:
            return Value(None)
        return Value(_num(row.get(key)), _num(row.get(f"{key}_lo")), _num(row.get(f"{key}_hi")))

    def mean_gain(self, langs: tuple[str, ...]) -> float | None:
        gains = [
            float(r["gain"])
            for r in self.per_language
            if r["lang"] in langs and _num(r["gain"]) is not None
        ]
        return sum(gains) / len(gains) if gains else None

    def mean_mti(self) -> float | None:
        values = [v for row in self.runs.values() if (v := _num(row.get("mti"))) is not None]
        return sum(values) / len(values) if values else None


def load_arm(report_dir: Path, arm: Arm) -> ArmResult | None:
    folder = report_dir / arm.name
    if not (folder / "tables" / "runs.csv").is_file():
        return None
    summary = folder / "summary.json"
    fits = json.loads(summary.read_text(encoding="utf-8")) if summary.is_file() else {}
    with (folder / "tables" / "runs.csv").open(encoding="utf-8") as fh:
        runs = {float(r["X"]): r for r in csv.DictReader(fh) if _num(r.get("X")) is not None}
    per_lang_path = folder / "tables" / "per_language.csv"
    per_language = []
    if per_lang_path.is_file():
        with per_lang_path.open(encoding="utf-8") as fh:
            per_language = list(csv.DictReader(fh))
    return ArmResult(arm.name, arm.method, arm.base_stage, fits, runs, per_language)


def _pick(arms: list[ArmResult], **want: Any) -> ArmResult | None:
    """The first arm whose attributes match `want` (the study's main GRPO arm comes first)."""
    return next((a for a in arms if all(getattr(a, k) == v for k, v in want.items())), None)


def paper_rows(arms: list[ArmResult], shuffled: ArmResult | None) -> list[dict[str, str]]:
    """One row per finding: the paper's number, ours (95% CI), and a plain verdict."""
    main = _pick(arms, method="grpo", base_stage=None)
    rows: list[dict[str, str]] = []

    def row(finding: str, paper: str, ours: str, verdict: str) -> None:
        rows.append({"finding": finding, "paper": paper, "ours": ours, "verdict": verdict})

    if main is None:
        return rows
    for metric, key, digits in (("mti", "mti_law", 2), ("accuracy", "accuracy_law", 2)):
        fit = main.fits.get(metric)
        a, b = PAPER[key]
        name = "Transferability (MTI) law" if metric == "mti" else "Accuracy law"
        if not fit:
            row(name, f"{a:.2f}·X^{b:.2f}", "not fitted", "—")
            continue
        alpha, beta = _est(fit["alpha"]), _est(fit["beta"])
        ours = f"α = {alpha.text(digits)}, β = {beta.text(3)}"
        verdict = _sign_verdict(beta, b, "β")
        row(name + " f(X) = α·X^β", f"{a:.2f}·X^{b:.2f}", ours, verdict)

    mono, first = main.run_value(1.0, "mti"), main.run_value(2.0, "mti")
    leap = _est(main.fits.get("mti", {}).get("leap"))
    paper_leap = PAPER["mti_first_parallel"] - PAPER["mti_mono"]
    row(
        "First-Parallel Leap: MTI at X=1 → X=2",
        f"{PAPER['mti_mono']:.2f} → {PAPER['mti_first_parallel']:.2f} (+{paper_leap:.2f})",
        f"{mono.text()} → {first.text()} (leap {leap.text(sign=True)})",
        _sign_verdict(leap, paper_leap, "leap"),
    )

    acc_fit = main.fits.get("accuracy", {})
    predicted = _est(acc_fit.get("alpha"))
    measured = main.run_value(1.0, "accuracy")
    gap = _est(acc_fit.get("gap"))
    paper_gap = PAPER["mono_predicted"] - PAPER["mono_measured"]
    row(
        "Monolingual Generalization Gap: accuracy law at X=1 vs measured",
        f"{PAPER['mono_predicted']:.2f} vs {PAPER['mono_measured']:.2f} (gap +{paper_gap:.2f})",
        f"{predicted.text(1)} vs {measured.text(1, 100)} (gap {gap.text(2, sign=True)} pp)",
        _sign_verdict(gap, paper_gap, "gap"),
    )

    instruct = next((a for a in arms if a.method == "grpo" and a.base_stage), None)
    if instruct is not None:
        base_mti, inst_mti = main.run_value(1.0, "mti"), instruct.run_value(1.0, "mti")
        verdict = "—"
        if base_mti.value is not None and inst_mti.value is not None:
            same = base_mti.value > inst_mti.value
            verdict = "same direction" if same else "opposite direction"
            if _overlap(base_mti, inst_mti):
                verdict += " (CIs overlap)"
        row(
            f"Base vs {instruct.base_stage} MTI (English-only GRPO)",
            f"{PAPER['mti_base']:.2f} vs {PAPER['mti_instruct']:.2f}",
            f"{base_mti.text()} vs {inst_mti.text()}",
            verdict,
        )

    sft = _pick(arms, method="sft", base_stage=None)
    if sft is not None:
        rl_gain, sft_gain = main.mean_gain(LOW_RESOURCE), sft.mean_gain(LOW_RESOURCE)
        if rl_gain is not None and sft_gain is not None:
            agrees = sft_gain < 0 < rl_gain
            row(
                "SFT vs RL on low-resource languages (bn, sw, te; mean gain over X)",
                "SFT hurts, RL helps",
                f"SFT {100 * sft_gain:+.1f} pp, RL {100 * rl_gain:+.1f} pp",
                "reproduces" if agrees else "does not reproduce",
            )
    if shuffled is not None:
        par, shuf = main.mean_mti(), shuffled.mean_mti()
        if par is not None and shuf is not None:
            row(
                "Parallel vs shuffled-id (non-parallel) data: mean MTI over X",
                "parallel data transfers better",
                f"parallel {par:.2f}, shuffled {shuf:.2f}",
                "same direction" if par > shuf else "opposite direction",
            )
    return rows


def _sign_verdict(ours: Value, paper: float, what: str) -> str:
    if ours.value is None:
        return "undefined"
    if ours.lo is not None and ours.hi is not None and ours.lo <= 0 <= ours.hi:
        return f"{what}'s CI includes 0"
    return "same direction" if (ours.value > 0) == (paper > 0) else "opposite direction"


def _overlap(a: Value, b: Value) -> bool:
    if None in (a.lo, a.hi, b.lo, b.hi):
        return False
    return not (a.hi < b.lo or b.hi < a.lo)  # type: ignore[operator]


def arm_rows(arms: list[ArmResult]) -> list[dict[str, str]]:
    rows = []
    for arm in arms:
        xs = sorted(arm.runs)
        mean_acc = [v for x in xs if (v := arm.run_value(x, "accuracy").value) is not None]
        mti = arm.mean_mti()
        fit = arm.fits.get("mti", {})
        rows.append(
            {
                "arm": arm.name,
                "method": arm.method,
                "base": arm.base_stage or "base",
                "X": " ".join(f"{x:g}" for x in xs),
                "mean accuracy %": f"{100 * sum(mean_acc) / len(mean_acc):.1f}" if mean_acc else "",
                "mean MTI": "undefined" if mti is None else f"{mti:.2f}",
                "MTI law α, β": (
                    f"{_est(fit.get('alpha')).text()}, {_est(fit.get('beta')).text(3)}"
                    if fit
                    else "not fitted"
                ),
            }
        )
    return rows


def _md_table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "_nothing to show_\n"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_study_summary(study: Study, report_dir: Path) -> dict[str, Any]:
    """report/summary.{md,csv,json}: the arms side by side and the paper comparison."""
    loaded = [(arm, load_arm(report_dir, arm)) for arm in study.arms]
    arms = [a for _, a in loaded if a is not None]
    shuffled = next(
        (
            result
            for arm, result in loaded
            if result is not None and study.train_data(arm).get("shuffle_ids")
        ),
        None,
    )
    paper = paper_rows([a for a in arms if a is not shuffled], shuffled)
    overview = arm_rows(arms)
    md = (
        f"# {study.cfg.name}: the arms, and the paper\n\n"
        "## Arms\n\n" + _md_table(overview) + "\n"
        "## Findings next to arXiv 2510.02272\n\n"
        "Ours with 95% paired-bootstrap CIs; the verdict compares directions only, since an "
        "organism is not the paper's models.\n\n" + _md_table(paper)
    )
    write_text_atomic(report_dir / "summary.md", md)
    write_csv(paper, report_dir / "summary.csv")
    payload = {"arms": overview, "paper": paper, "paper_numbers": PAPER}
    write_json_atomic(report_dir / "summary.json", payload)
    return payload
