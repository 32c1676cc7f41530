"""One process per study step: a lock file holding the pid of the process running it.

Several processes may run one study at once (say one per GPU, each with its own arms). A
step's lock is created exclusively; a process that finds it held by a live process waits
for the step's marker instead of running the step twice, and a lock left by a process
that died (a kill) is taken over.
"""

from __future__ import annotations

import os
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


def take(lock: Path) -> bool:
    """Take `lock`; False while another live process holds it."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = int(lock.read_text(encoding="utf-8").strip() or 0)
            except (OSError, ValueError):
                holder = 0
            if holder and holder != os.getpid() and _alive(holder):
                return False
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        return True
    return False


def release(lock: Path) -> None:
    lock.unlink(missing_ok=True)
