"""The CPU process settings (xling.cpu), each checked in a fresh process: they change the
whole process, so the test's own process is left as it was."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

CHECK = """
import torch
from xling.cpu import flush_denormals, keep_freed_memory
torch.set_num_threads(2)
tiny = torch.full((1 << 20,), 1e-39)  # large: split over both threads
before = int((tiny * 1.0 != 0).sum())  # worker threads compute denormals as they are
threads = flush_denormals()
after = int((tiny * 1.0 != 0).sum())
print(before, threads, after, keep_freed_memory())
"""


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 flush modes")
def test_denormals_flush_on_every_thread_and_memory_is_kept() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=True, timeout=120
    )
    before, threads, after, kept = done.stdout.split()
    assert int(before) == 1 << 20
    assert int(threads) >= 1
    # Every element, whichever thread computed it, is flushed.
    assert int(after) == 0
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert kept == str(glibc)
