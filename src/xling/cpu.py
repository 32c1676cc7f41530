"""Process settings that a long CPU job (a training, an evaluation) runs much faster with.

Both were found profiling the organism's GRPO step on two cores (docs/perf/grpo-cpu.md):

- **Freed memory stays in the process.** glibc's malloc serves each block above a threshold
  (at most 32 MiB) with its own `mmap` and hands it back to the kernel on free. A training
  step allocates and frees such blocks by the hundred (activations, logit tiles, gradients),
  so each is zero-filled page by page again: a product over a fresh [4096, 4098] tile ran at
  a third of its speed over a reused one. PyTorch's guidance is jemalloc or tcmalloc,
  preloaded before start; `mallopt` gets the same reuse from glibc inside a running process.
- **Denormal floats are flushed to zero.** A trained policy puts most of the vocabulary
  below exp(-87), so its softmax tiles are full of denormal floats, which x86 cores compute
  in microcode: an element-wise product over such a tile took 8x as long. The flush is a
  per-thread CPU flag that threads inherit when created, so it is set on the calling thread
  and, through one parallel region of torch's own OpenMP runtime, on each of its workers.
  Numbers below 1.2e-38 become 0: what GPUs do in their fast modes, and far below anything
  a log-probability or a sampled token can tell apart.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import platform
import threading
from pathlib import Path

import torch

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
# Free memory above this, at the top of the heap, is still given back.
_TRIM_THRESHOLD_BYTES = 1 << 30
_OPENMP_NAMES = ("libgomp", "libomp", "libiomp5")


@functools.cache
def keep_freed_memory() -> bool:
    """Make glibc serve large blocks from its heap and keep up to 1 GiB freed there.
    True when set; False (a no-op) where the C library is not glibc."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    mallopt = ctypes.CDLL(name).mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES))


def _loaded_openmp() -> Path | None:
    """The OpenMP runtime this process has loaded (torch's), read from its memory map."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return None
    for line in maps.read_text().splitlines():
        path = line.split()[-1]
        if path.startswith("/") and Path(path).name.startswith(_OPENMP_NAMES):
            return Path(path)
    return None


def flush_denormals() -> int:
    """Flush denormal floats to zero on this thread and torch's OpenMP workers; returns
    how many threads were set (1 where the OpenMP runtime cannot be reached)."""
    if not torch.set_flush_denormal(True):
        return 0  # the CPU has no such mode
    runtime = _loaded_openmp()
    if runtime is None:
        return 1
    try:
        parallel = ctypes.CDLL(str(runtime)).GOMP_parallel
    except (OSError, AttributeError):
        return 1
    reached: set[int] = set()
    lock = threading.Lock()

    def on_each_thread(_: ctypes.c_void_p) -> None:
        torch.set_flush_denormal(True)
        with lock:
            reached.add(threading.get_native_id())

    callback = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(on_each_thread)
    # GOMP_parallel(fn, data, num_threads, flags): num_threads 0 is the current team size.
    parallel.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    parallel(ctypes.cast(callback, ctypes.c_void_p), None, 0, 0)
    return len(reached)


def tune_for_cpu() -> None:
    """Both settings, for a process that trains or evaluates on the CPU; nothing where a
    GPU does the work (the host's float mode then stays as the user left it)."""
    if torch.cuda.is_available():
        return
    keep_freed_memory()
    flush_denormals()
