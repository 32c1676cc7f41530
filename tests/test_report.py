"""`xling report`: files, self-containment, and rendering in headless Chromium."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from xling.analysis.document import chromium_binary, screenshot_html
from xling.analysis.report import build_report
from xling.analysis.synthetic import make_study
from xling.cli import app
from xling.errors import XlingError

SMALL_BASE = {"en": 0.62, "es": 0.5, "ru": 0.47, "bn": 0.28, "sw": 0.16, "ja": 0.4}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Fixture study built programmatically: base/ + X1..X4 with train.json."""
    return make_study(
        tmp_path_factory.mktemp("st") / "study",
        xs=(1, 2, 3, 4),
        n_problems=120,
        seed=3,
        base=SMALL_BASE,
    )


@pytest.fixture(scope="module")
def study_report(study, tmp_path_factory):
    return build_report(study, tmp_path_factory.mktemp("rep") / "report", n_boot=200, seed=0)


def test_study_report_files(study_report):
    r = study_report
    assert r.html.exists() and r.md.exists()
    for name in (
        "accuracy_by_language",
        "off_target_by_language",
        "mti_by_language",
        "mti_vs_x",
        "accuracy_vs_x",
        "mti_heatmap",
    ):
        assert r.figures[name]["png"].stat().st_size > 10_000, name
        assert r.figures[name]["svg"].read_text().lstrip().startswith("<?xml")
    for name in ("per_language", "runs", "fits", "fit_points"):
        assert r.tables[name].exists(), name
    rows = list(csv.DictReader(r.tables["per_language"].open()))
    assert {row["trained_run"] for row in rows} == {"X1", "X2", "X3", "X4"}
    assert {"lang", "gain", "gain_lo", "gain_hi", "mti", "off_change"} <= set(rows[0])
    runs = list(csv.DictReader(r.tables["runs"].open()))
    assert [float(row["X"]) for row in runs] == [1, 2, 3, 4]
    fits = {(row["fit"], row["quantity"]) for row in csv.DictReader(r.tables["fits"].open())}
    assert {("mti", "alpha"), ("accuracy", "gap"), ("accuracy", "leap")} <= fits


def test_html_is_self_contained(study_report):
    text = study_report.html.read_text()
    assert text.count("data:image/png;base64,") >= 6
    # no external resources: no http(s) src/href, no relative image paths
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:|//|figures/)""", text)
    assert "Swahili" in text and "First-Parallel Leap" in text
    assert "Monolingual Generalization Gap" in text and "MTI = mean" in text
    assert "nan" not in re.sub(r"<[^>]+>", " ", text).lower().split()
    md = study_report.md.read_text()
    assert "![" in md and "figures/mti_vs_x.png" in md and "| language |" in md


def test_compare_and_single_run_reports(study, tmp_path):
    r = build_report(study / "X2", tmp_path / "cmp", base=study / "base", n_boot=100)
    assert "mti_by_language" in r.figures and "mti_vs_x" not in r.figures
    assert "MTI" in r.html.read_text()
    r = build_report(
        study / "base", tmp_path / "single", n_boot=100, see_also=("the GPU run: docs/gpu",)
    )
    assert "See also: the GPU run: docs/gpu" in r.md.read_text()
    assert set(r.figures) == {"accuracy_by_language", "off_target_by_language"}
    with pytest.raises(XlingError, match="neither a study folder"):
        build_report(tmp_path, tmp_path / "x")


def test_report_cli(study, tmp_path):
    runner = CliRunner(env={"COLUMNS": "200"})
    res = runner.invoke(
        app,
        [
            "report",
            str(study / "X3"),
            "--base",
            str(study / "base"),
            "--out",
            str(tmp_path / "r"),
            "--n-boot",
            "50",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "report.html").exists() and "report.html" in res.output


@pytest.mark.skipif(
    chromium_binary() is None,
    reason="headless Chromium not on PATH (Debian: apt-get install -y chromium)",
)
def test_html_renders_in_headless_chromium(study_report, tmp_path):
    from PIL import Image

    png = screenshot_html(study_report.html, tmp_path / "shot.png", width=1280, height=2000)
    img = Image.open(png).convert("RGB")
    assert img.size == (1280, 2000)
    arr = np.asarray(img)
    # Rendered content, not a blank page: many distinct colours, and figure colours present
    # (Okabe-Ito blue #0072B2 from the plots).
    colours = np.unique(arr.reshape(-1, 3)[::7], axis=0)
    assert len(colours) > 500
    blue = np.all(np.abs(arr.astype(int) - [0x00, 0x72, 0xB2]) < 12, axis=-1)
    assert blue.sum() > 500


def test_report_shows_strict_beside_flexible(study_report):
    rows = list(csv.DictReader(study_report.tables["scoring"].open()))
    assert [row["run"] for row in rows] == ["base", "X1", "X2", "X3", "X4"]
    for row in rows:  # the fixture's answers are all boxed: strict equals flexible
        assert float(row["accuracy_strict"]) == pytest.approx(float(row["accuracy_flexible"]))
    md = study_report.md.read_text()
    assert "Strict and flexible answers" in md and "flexible − strict pp" in md


def test_single_run_report_scores_strict_per_language(tmp_path):
    import json

    from xling.analysis.synthetic import run_records, write_run

    records = list(run_records({"en": 0.6, "sw": 0.3}, n_problems=40))
    for i, rec in enumerate(records):  # a third of the answers found only by the fallbacks
        if i % 3 == 0:
            rec["pred_strict"], rec["correct_strict"] = None, False
    run = write_run(tmp_path / "run", records)
    metrics = json.loads((run / "metrics.json").read_text())
    cell = metrics["benchmarks"]["synth"]["langs"]["en"]
    assert cell["accuracy_strict"] < cell["accuracy_flexible"] == cell["accuracy"]
    result = build_report(run, tmp_path / "rep", n_boot=50)
    rows = {r["language"]: r for r in csv.DictReader(result.tables["scoring"].open())}
    en = rows["English (en)"]
    assert float(en["accuracy_flexible"]) == pytest.approx(cell["accuracy_flexible"])
    assert float(en["accuracy_strict"]) == pytest.approx(cell["accuracy_strict"])
    assert float(en["flexible_minus_strict"]) > 0
