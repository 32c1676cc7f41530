"""Running the `xling` command line from tests, as a user would, and checking its errors."""

from __future__ import annotations

import os
import subprocess
import sys


def run_xling(*args: object, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`xling ARGS` in a fresh interpreter (wide columns, so no message wraps)."""
    return subprocess.run(
        [sys.executable, "-m", "xling.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """rc 2, no traceback, one `error:` line holding every needle; that line."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]
