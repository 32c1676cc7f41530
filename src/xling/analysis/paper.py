"""A study's arms side by side, and its findings next to the paper's (arXiv 2510.02272).

Reads what each arm's report wrote (through `xling.analysis.results`) and writes
`report/summary.{md,json,csv}`: one row per finding with the paper's number, ours with its
CI, and whether ours agrees in direction. Whether a finding reproduces is a result: nothing
here is tuned toward the paper's values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xling.analysis.bootstrap import Estimate
from xling.analysis.results import ArmResults, read_arm_results
from xling.errors import XlingError
from xling.jsonl import write_json_atomic, write_text_atomic
from xling.tables import write_csv

if TYPE_CHECKING:
    from xling.analysis.verdicts import StudyRun

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
class StudyArm:
    """What the comparison needs to know of an arm, beyond its results."""

    name: str
    method: str
    base_stage: str | None
    shuffled: bool  # the shuffled-id (non-parallel) control


@dataclass(frozen=True)
class ArmResult:
    arm: StudyArm
    results: ArmResults

    @property
    def method(self) -> str:
        return self.arm.method

    @property
    def base_stage(self) -> str | None:
        return self.arm.base_stage

    def run_value(self, x: float, key: str) -> Estimate:
        run = self.results.at(x)
        return getattr(run, key) if run is not None else Estimate(None)

    def fit(self, metric: str, name: str) -> Estimate:
        return self.results.fit(metric, name)


def _text(e: Estimate, digits: int = 2, scale: float = 1.0, sign: bool = False) -> str:
    """A value with its CI, the bounds signed like the value."""
    if e.value is None or math.isnan(e.value):
        return "undefined"
    fmt = f"{{:{'+' if sign else ''}.{digits}f}}"
    out = fmt.format(scale * e.value)
    if e.lo is not None and e.hi is not None:
        out += f" [{fmt.format(scale * e.lo)}, {fmt.format(scale * e.hi)}]"
    return out


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
        a, b = PAPER[key]
        name = "Transferability (MTI) law" if metric == "mti" else "Accuracy law"
        if metric not in main.results.fits:
            row(name, f"{a:.2f}·X^{b:.2f}", "not fitted", "—")
            continue
        alpha, beta = main.fit(metric, "alpha"), main.fit(metric, "beta")
        ours = f"α = {_text(alpha, digits)}, β = {_text(beta, 3)}"
        verdict = _sign_verdict(beta, b, "β")
        row(name + " f(X) = α·X^β", f"{a:.2f}·X^{b:.2f}", ours, verdict)

    mono, first = main.run_value(1.0, "mti"), main.run_value(2.0, "mti")
    leap = main.fit("mti", "leap")
    paper_leap = PAPER["mti_first_parallel"] - PAPER["mti_mono"]
    row(
        "First-Parallel Leap: MTI at X=1 → X=2",
        f"{PAPER['mti_mono']:.2f} → {PAPER['mti_first_parallel']:.2f} (+{paper_leap:.2f})",
        f"{_text(mono)} → {_text(first)} (leap {_text(leap, sign=True)})",
        _sign_verdict(leap, paper_leap, "leap"),
    )

    predicted = main.fit("accuracy", "alpha")
    measured = main.run_value(1.0, "accuracy")
    gap = main.fit("accuracy", "gap")
    paper_gap = PAPER["mono_predicted"] - PAPER["mono_measured"]
    row(
        "Monolingual Generalization Gap: accuracy law at X=1 vs measured",
        f"{PAPER['mono_predicted']:.2f} vs {PAPER['mono_measured']:.2f} (gap +{paper_gap:.2f})",
        f"{_text(predicted, 1)} vs {_text(measured, 1, 100)} (gap {_text(gap, 2, sign=True)} pp)",
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
            f"{_text(base_mti)} vs {_text(inst_mti)}",
            verdict,
        )

    sft = _pick(arms, method="sft", base_stage=None)
    if sft is not None:
        rl_gain = main.results.mean_gain(LOW_RESOURCE)
        sft_gain = sft.results.mean_gain(LOW_RESOURCE)
        if rl_gain is not None and sft_gain is not None:
            agrees = sft_gain < 0 < rl_gain
            row(
                "SFT vs RL on low-resource languages (bn, sw, te; mean gain over X)",
                "SFT hurts, RL helps",
                f"SFT {100 * sft_gain:+.1f} pp, RL {100 * rl_gain:+.1f} pp",
                "reproduces" if agrees else "does not reproduce",
            )
    if shuffled is not None:
        par, shuf = main.results.mean_mti(), shuffled.results.mean_mti()
        if par is not None and shuf is not None:
            row(
                "Parallel vs shuffled-id (non-parallel) data: mean MTI over X",
                "parallel data transfers better",
                f"parallel {par:.2f}, shuffled {shuf:.2f}",
                "same direction" if par > shuf else "opposite direction",
            )
    return rows


def _sign_verdict(ours: Estimate, paper: float, what: str) -> str:
    if ours.value is None:
        return "undefined"
    if ours.lo is not None and ours.hi is not None and ours.lo <= 0 <= ours.hi:
        return f"{what}'s CI includes 0"
    return "same direction" if (ours.value > 0) == (paper > 0) else "opposite direction"


def _overlap(a: Estimate, b: Estimate) -> bool:
    if None in (a.lo, a.hi, b.lo, b.hi):
        return False
    return not (a.hi < b.lo or b.hi < a.lo)  # type: ignore[operator]


def arm_rows(arms: list[ArmResult]) -> list[dict[str, str]]:
    rows = []
    for arm in arms:
        runs = arm.results.by_x()
        xs = sorted(runs)
        mean_acc = [v for x in xs if (v := runs[x].accuracy.value) is not None]
        mti = arm.results.mean_mti()
        fitted = "mti" in arm.results.fits
        rows.append(
            {
                "arm": arm.arm.name,
                "method": arm.method,
                "base": arm.base_stage or "base",
                "X": " ".join(f"{x:g}" for x in xs),
                "mean accuracy %": f"{100 * sum(mean_acc) / len(mean_acc):.1f}" if mean_acc else "",
                "mean MTI": "undefined" if mti is None else f"{mti:.2f}",
                "MTI law α, β": (
                    f"{_text(arm.fit('mti', 'alpha'))}, {_text(arm.fit('mti', 'beta'), 3)}"
                    if fitted
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


def write_study_summary(
    name: str,
    study_arms: Sequence[StudyArm],
    report_dir: Path,
    runs: Sequence[StudyRun] | None = None,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    ci: float = 0.95,
    mti_gain: str = "relative",
    mechanisms: dict[str, str] | None = None,
) -> dict[str, Any]:
    """report/summary.{md,csv,json}: the arms side by side and the paper comparison.

    With the study's run folders (`runs`), also the verdicts v2 (xling.analysis.verdicts):
    report/verdicts.csv, "verdicts" in summary.json and a section in summary.md."""
    loaded = [
        ArmResult(arm, results)
        for arm in study_arms
        if (results := read_arm_results(report_dir / arm.name, arm.name)) is not None
    ]
    shuffled = next((a for a in loaded if a.arm.shuffled), None)
    paper = paper_rows([a for a in loaded if a is not shuffled], shuffled)
    overview = arm_rows(loaded)
    md = (
        f"# {name}: the arms, and the paper\n\n"
        "## Arms\n\n" + _md_table(overview) + "\n"
        "## Findings next to arXiv 2510.02272\n\n"
        "Ours with 95% paired-bootstrap CIs; the verdict compares directions only, since an "
        "organism is not the paper's models.\n\n" + _md_table(paper)
    )
    payload: dict[str, Any] = {"arms": overview, "paper": paper, "paper_numbers": PAPER}
    if runs:
        md += "\n## Verdicts (paired CIs, Holm-adjusted)\n\n" + _verdicts(
            runs,
            study_arms,
            report_dir,
            payload,
            n_boot=n_boot,
            seed=seed,
            ci=ci,
            mti_gain=mti_gain,
            mechanisms=mechanisms,
        )
    write_text_atomic(report_dir / "summary.md", md)
    write_csv(paper, report_dir / "summary.csv")
    write_json_atomic(report_dir / "summary.json", payload)
    return payload


def _verdicts(
    runs: Sequence[StudyRun],
    study_arms: Sequence[StudyArm],
    report_dir: Path,
    payload: dict[str, Any],
    **options: Any,
) -> str:
    """Write verdicts.csv and fill payload["verdicts"]; the markdown section's body.

    A study whose runs cannot be put in one cube (say, evaluated on different problems)
    still gets the rest of its summary: the reason takes the section's place."""
    # Imported here: verdicts reads this module's PAPER, LOW_RESOURCE and StudyArm.
    from xling.analysis.verdicts import compute_verdicts, verdicts_markdown, write_verdicts_csv

    try:
        vs = compute_verdicts(runs, study_arms, **options)
    except XlingError as exc:
        payload["verdicts"] = []
        payload["verdicts_meta"] = {"error": str(exc)}
        return f"_not computed: {exc}_\n"
    write_verdicts_csv(vs, report_dir / "verdicts.csv")
    payload["verdicts"] = vs.table()
    payload["verdicts_meta"] = vs.meta()
    return verdicts_markdown(vs)
