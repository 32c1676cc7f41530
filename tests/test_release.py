"""Release files agree with pyproject.toml: LICENSE, CITATION.cff, CHANGELOG.md and
`xling.__version__` (docs/releasing.md)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import xling

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# The two papers xling implements (shared/papers/).
ARXIV_IDS = ("2510.02272", "2505.10475")


def test_license_is_the_apache_license() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith("Apache License")
    assert "Version 2.0, January 2004" in text
    assert "Copyright 2026 the xling authors" in text
    assert PROJECT["license"] == "Apache-2.0"
    assert "LICENSE" in PROJECT["license-files"]


def _strings(node: object) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [str(node)]


def test_citation_matches_the_project() -> None:
    yaml = pytest.importorskip(
        "yaml", reason="PyYAML is not installed (it comes with transformers); CITATION.cff unread"
    )
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "software"
    # YAML would read an unquoted 1.10 as a float; the version must stay the string.
    assert cff["version"] == PROJECT["version"]
    assert cff["license"] == PROJECT["license"]
    assert cff["authors"] == [{"name": "the xling authors"}]
    refs = " ".join(_strings(cff["references"]))
    for arxiv_id in ARXIV_IDS:
        assert arxiv_id in refs, f"CITATION.cff cites no arXiv {arxiv_id}"


def test_changelog_has_the_version_and_an_unreleased_section() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(r"^## \[Unreleased\]", text, re.M)
    assert re.search(rf"^## \[{re.escape(PROJECT['version'])}\]", text, re.M), (
        f"CHANGELOG.md has no section for {PROJECT['version']}"
    )


def test_runtime_version_is_pyproject_version() -> None:
    assert xling.__version__ == PROJECT["version"]
