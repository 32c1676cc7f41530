"""The study summary: arms side by side, findings next to the paper's numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xling.analysis.paper import PAPER, write_study_summary
from xling.study import Study, StudyConfig
from xling.tables import write_csv

LANGS = ("en", "es", "bn", "sw", "te")


def est(value: float, half: float) -> dict[str, float]:
    return {"value": value, "lo": value - half, "hi": value + half}


def write_arm(
    report: Path,
    name: str,
    mti: dict[int, float],
    low_resource_gain: float,
    fits: dict[str, Any] | None = None,
) -> None:
    folder = report / name
    runs = [
        {
            "run": f"X{x - 1}",
            "X": float(x),
            "accuracy": 0.4 + 0.01 * x,
            "accuracy_lo": 0.35,
            "accuracy_hi": 0.45 + 0.01 * x,
            "mti": value,
            "mti_lo": value - 0.2,
            "mti_hi": value + 0.2,
        }
        for x, value in mti.items()
    ]
    write_csv(runs, folder / "tables" / "runs.csv")
    per_language = [
        {
            "X": float(x),
            "lang": lang,
            "gain": low_resource_gain if lang in ("bn", "sw", "te") else 0.1,
        }
        for x in mti
        for lang in LANGS
    ]
    write_csv(per_language, folder / "tables" / "per_language.csv")
    (folder / "summary.json").write_text(json.dumps(fits or {}))


def test_summary_puts_each_finding_beside_the_paper(tmp_path: Path) -> None:
    cfg = StudyConfig(
        name="t",
        base_model="m",
        out=str(tmp_path),
        arms=(
            {"name": "grpo", "method": "grpo"},
            {"name": "shuf", "method": "grpo", "train_data": {"shuffle_ids": True}},
            {"name": "sft", "method": "sft"},
            {"name": "inst", "method": "grpo", "base_stage": "instruct", "x_values": [0]},
        ),
    )
    report = tmp_path / "report"
    fits = {
        "mti": {
            "alpha": est(1.5, 0.3),
            "beta": est(0.2, 0.1),
            "leap": est(0.9, 0.5),
        },
        "accuracy": {"alpha": est(45.0, 2.0), "beta": est(0.05, 0.02), "gap": est(3.0, 4.0)},
    }
    write_arm(report, "grpo", {1: 1.1, 2: 2.0, 3: 2.2}, low_resource_gain=0.05, fits=fits)
    write_arm(report, "shuf", {1: 1.1, 2: 1.2, 3: 1.3}, low_resource_gain=0.05)
    write_arm(report, "sft", {1: 0.5, 2: 0.6, 3: 0.7}, low_resource_gain=-0.02)
    write_arm(report, "inst", {1: 0.8}, low_resource_gain=0.01)

    summary = write_study_summary(cfg.name, Study(cfg).study_arms(), report)
    rows = {r["finding"].split(":")[0].split(" f(X)")[0]: r for r in summary["paper"]}
    assert rows["Transferability (MTI) law"]["paper"] == "2.00·X^0.29"
    assert "α = 1.50 [1.20, 1.80]" in rows["Transferability (MTI) law"]["ours"]
    assert rows["Transferability (MTI) law"]["verdict"] == "same direction"
    assert rows["First-Parallel Leap"]["ours"].startswith("1.10 [0.90, 1.30] → 2.00")
    assert rows["First-Parallel Leap"]["verdict"] == "same direction"
    gap = rows["Monolingual Generalization Gap"]
    assert "45.0" in gap["ours"] and "41.0" in gap["ours"]  # law at X=1, measured at X=1
    assert gap["verdict"] == "gap's CI includes 0"
    base_vs = rows["Base vs instruct MTI (English-only GRPO)"]
    assert base_vs["paper"] == f"{PAPER['mti_base']:.2f} vs {PAPER['mti_instruct']:.2f}"
    assert base_vs["verdict"].startswith("same direction")  # 1.1 > 0.8
    sft = next(r for r in summary["paper"] if r["finding"].startswith("SFT vs RL"))
    assert sft["ours"] == "SFT -2.0 pp, RL +5.0 pp" and sft["verdict"] == "reproduces"
    shuffled = next(r for r in summary["paper"] if r["finding"].startswith("Parallel vs"))
    assert shuffled["verdict"] == "same direction"  # parallel 1.77 > shuffled 1.20

    assert [a["arm"] for a in summary["arms"]] == ["grpo", "shuf", "sft", "inst"]
    md = (report / "summary.md").read_text()
    assert "| finding | paper | ours | verdict |" in md and "56.98·X^0.02" in md
    assert (report / "summary.csv").read_text().startswith("finding,paper,ours,verdict")
