"""The HTML + Markdown document writer (xling.analysis.document)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from xling.analysis import document
from xling.analysis.document import Doc, screenshot_html, write_documents
from xling.errors import XlingError


def test_table_aligns_escapes_and_marks_undefined_cells(tmp_path: Path) -> None:
    doc = Doc(out=tmp_path)
    doc.table(
        ["run", "note", "value"],
        [["a|b", "<x>", "undefined (no base)"], ["c", "d", "1.0"]],
        caption="Runs & values",
        align_left=2,
    )
    md = doc.md_parts[0].splitlines()
    assert md[0] == "*Runs & values*"
    assert md[2] == "| run | note | value |"
    assert md[3] == "|:---|:---|---:|"
    assert md[4] == "| a\\|b | <x> | undefined (no base) |"
    html = doc.html_parts[0]
    assert "<caption>Runs &amp; values</caption>" in html
    assert '<td class="l">&lt;x&gt;</td>' in html
    assert '<td class="r"><span class="undef">undefined (no base)</span></td>' in html
    assert '<td class="r">1.0</td>' in html


def test_cards_turn_a_caret_into_a_superscript(tmp_path: Path) -> None:
    doc = Doc(out=tmp_path)
    doc.cards([("Law", "2.00·X^0.29", "R² 0.99")])
    assert "2.00·X<sup>0.29</sup>" in doc.html_parts[0]
    assert doc.md_parts[0] == "- **Law:** 2.00·X^0.29 — R² 0.99\n"


def test_figure_is_embedded_in_html_and_linked_from_markdown(tmp_path: Path) -> None:
    figdir = tmp_path / "figures"
    figdir.mkdir()
    png, svg = figdir / "f.png", figdir / "f.svg"
    png.write_bytes(b"\x89PNG not really")
    svg.write_text("<svg/>")
    doc = Doc(out=tmp_path)
    doc.figure({"png": png, "svg": svg}, "A & B", wide=False)
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    assert f'src="data:image/png;base64,{data}"' in doc.html_parts[0]
    assert '<figure class="fig">' in doc.html_parts[0] and "A &amp; B" in doc.html_parts[0]
    assert doc.md_parts[0] == "![A & B](figures/f.png)\n\n*A & B* ([SVG](figures/f.svg))\n"


def test_write_documents_writes_both_forms(tmp_path: Path) -> None:
    doc = Doc(out=tmp_path)
    doc.h(1, "Title <1>", anchor="top")
    doc.p("plain", md="**bold**", cls="sub")
    doc.bullets([])  # an empty list writes nothing
    doc.bullets(["one"])
    html_path, md_path = write_documents(doc, "T & t")
    html = html_path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<title>T &amp; t</title>" in html
    assert document.CSS in html
    body = '<h1 id="top">Title &lt;1&gt;</h1>\n<p class="sub">plain</p>\n<ul><li>one</li></ul>'
    assert f"<main>{body}</main>" in html
    assert md_path.read_text(encoding="utf-8") == "# Title <1>\n\n**bold**\n\n- one\n"


def test_screenshot_without_chromium_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(document.shutil, "which", lambda name: None)
    assert document.chromium_binary() is None
    with pytest.raises(XlingError, match="no Chromium found"):
        screenshot_html(tmp_path / "report.html", tmp_path / "shot.png")
