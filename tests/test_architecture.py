"""The layer contract (pyproject.toml, [tool.importlinter]; docs/architecture.md) holds, and
it would catch an import that runs upward or closes a cycle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
    "lint-imports"
)
needs_linter = pytest.mark.skipif(LINT is None, reason="import-linter is not installed (.[dev])")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the `xling` package under `tree`/src, with the project's contract."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(
        [str(LINT), "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@needs_linter
def test_the_layer_contract_holds() -> None:
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


@needs_linter
def test_an_upward_import_and_a_cycle_break_the_contract(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "src" / "xling", tmp_path / "src" / "xling")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    # The engine (low) reaching into the study (high): upward, and a cycle through it.
    engine = tmp_path / "src" / "xling" / "engine" / "cache.py"
    engine.write_text(engine.read_text() + "\nfrom xling.study import pipeline  # planted\n")
    done = lint(tmp_path)
    assert done.returncode != 0
    assert "xling.engine is not allowed to import xling.study" in done.stdout
