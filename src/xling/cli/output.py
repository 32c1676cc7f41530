"""Consoles for the CLI's output: styled in a terminal, plain text in a pipe or a file.

A terminal gets Rich's usual console (colour, the terminal's width). Anywhere else (`xling
benchmarks | grep gpqa`, `> log.txt`, a CI log) the console is plain: no colour or other
styling, and so wide that a table row stays on one line instead of wrapping at Rich's
default of 80 columns, which splits names across lines where grep cannot find them.
"""

from __future__ import annotations

import sys
from typing import IO

from rich.console import Console

# Wide enough for the widest table xling prints (the benchmark presets, ~1400 columns).
PIPE_WIDTH = 10_000


def is_tty(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def make_console(stderr: bool = False, file: IO[str] | None = None) -> Console:
    """A console for stdout (stderr with `stderr`, or `file`), plain unless it is a TTY.

    The choice is made here, once: module-level consoles are created at import, when the
    process's streams are the ones it will write to.
    """
    stream = file if file is not None else (sys.stderr if stderr else sys.stdout)
    if is_tty(stream):
        return Console(stderr=stderr, file=file)
    return Console(
        stderr=stderr,
        file=file,
        width=PIPE_WIDTH,
        color_system=None,
        force_terminal=False,
        highlight=False,
        emoji=False,
    )
