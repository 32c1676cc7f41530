"""Lock files holding the pid of the process that owns something: a study step, a run.

A lock is created exclusively (O_EXCL), so two processes can never both take it; one left
by a process that died (a kill, a crash) names a pid that no longer runs and is taken over,
so nothing stays locked after a crash. Several processes may run one study at once (one
per GPU, each with its own arms): a step's lock makes the second wait for the step's
marker instead of running it twice. A run directory's lock (`run_lock`) keeps a second
`xling eval`, `xling score` or `xling train` off a directory one is writing, which would
otherwise append every row twice.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from xling.errors import XlingError

RUN_LOCK = "xling.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


def holder(lock: Path) -> tuple[int, str]:
    """(pid, what it runs) written in `lock`; (0, "") when unreadable."""
    try:
        pid, _, what = lock.read_text(encoding="utf-8").partition("\n")
        return int(pid.strip() or 0), what.strip()
    except (OSError, ValueError, UnicodeDecodeError):
        return 0, ""


def is_held(lock: Path) -> bool:
    """Whether a live process holds `lock`."""
    pid, _ = holder(lock)
    return bool(pid) and _alive(pid)


def take(lock: Path, what: str = "") -> bool:
    """Take `lock`; False while another live process holds it."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pid, _ = holder(lock)
            if pid and pid != os.getpid() and _alive(pid):
                return False
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{os.getpid()}\n{what}")
        return True
    return False


def release(lock: Path) -> None:
    lock.unlink(missing_ok=True)


def _command_line() -> str:
    """What the holder runs, for the message another process sees ("xling eval")."""
    return " ".join(["xling", *sys.argv[1:2]])


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold `run_dir` for this process while the block runs; refuse, in one line, a directory
    another live process holds. Re-entered by the process that holds it, it is a no-op
    (an evaluation inside a study step, a re-score inside an evaluation)."""
    lock = Path(run_dir) / RUN_LOCK
    pid, _ = holder(lock)
    if pid == os.getpid():
        yield
        return
    created = not Path(run_dir).exists()
    if not take(lock, _command_line()):
        pid, what = holder(lock)
        raise XlingError(
            f"{run_dir} is in use by another process (pid {pid}"
            + (f": {what}" if what else "")
            + "); wait for it to finish, or use another output directory"
        )
    try:
        yield
    finally:
        release(lock)
        if created:  # a command refused before writing anything leaves no empty folder
            with contextlib.suppress(OSError):
                Path(run_dir).rmdir()
