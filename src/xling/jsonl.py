"""Append-only JSONL files that survive SIGKILL.

Each stage of the pipeline appends one JSON object per line and flushes+fsyncs after
every batch. A process killed mid-write can leave at most one partial last line; on
the next open that tail is cut off (and reported), never parsed, so a rerun resumes
from the last complete record and nothing already written is lost.

Several processes may append to one log (the ranks of a data-parallel evaluation): each
append holds an exclusive `flock` on the file (see `AppendLog`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer per log there
    fcntl = None  # type: ignore[assignment]

from xling.errors import XlingError
from xling.records import Key, key_of


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield complete records; a truncated final line (crash while writing) is skipped.

    A malformed line anywhere else is real corruption and raises with file:line.
    """
    if not path.exists():
        return
    with path.open("rb") as fh:
        lines = fh.read().split(b"\n")
    # The text after the last newline is either empty or a partial write.
    complete, tail = lines[:-1], lines[-1]
    for lineno, raw in enumerate(complete, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise XlingError(f"{path}:{lineno}: corrupt JSON line ({exc.msg})") from None
        except UnicodeDecodeError as exc:
            raise XlingError(
                f"{path}:{lineno}: not UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1})"
            ) from None
        if not isinstance(record, dict):
            raise XlingError(
                f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}"
            )
        yield record
    del tail


def read_utf8(path: Path, encoding: str = "utf-8") -> str:
    """A text file's content, or one line saying why not (missing, unreadable, not UTF-8
    with the line of the first bad byte)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise XlingError(f"{path}: no such file") from None
    except OSError as exc:
        raise XlingError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise XlingError(f"{path}:{line}: not UTF-8 text (byte {exc.start})") from None


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file holding one object (a run's config.json, metrics.json), or one line saying
    why not: missing, not UTF-8, not JSON, not an object."""
    try:
        data = json.loads(read_utf8(path))
    except json.JSONDecodeError as exc:
        raise XlingError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise XlingError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def repair_tail(path: Path) -> int:
    """Cut a partial last line left by a killed writer. Returns the bytes removed."""
    if not path.exists():
        return 0
    with path.open("rb+") as fh, _exclusive(fh):
        return _cut_partial_line(fh)


@contextlib.contextmanager
def _exclusive(fh: IO[bytes]) -> Iterator[None]:
    """Hold `fh`'s file against the other processes that lock it (released on close too,
    so a writer that is killed never leaves it locked)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _cut_partial_line(fh: IO[bytes]) -> int:
    """Truncate an open, readable file after its last newline. Returns the bytes removed."""
    size = fh.seek(0, os.SEEK_END)
    if size == 0:
        return 0
    fh.seek(size - 1)
    if fh.read(1) == b"\n":
        return 0
    # Scan backwards in blocks for the last newline; files can be large.
    block = 1 << 16
    pos = size - 1
    keep = 0
    while pos > 0:
        start = max(0, pos - block)
        fh.seek(start)
        idx = fh.read(pos - start).rfind(b"\n")
        if idx >= 0:
            keep = start + idx + 1
            break
        pos = start
    fh.truncate(keep)
    fh.flush()
    os.fsync(fh.fileno())
    return size - keep


class AppendLog:
    """A JSONL file keyed by (benchmark, lang, id, sample) that is only ever appended to.

    Several processes may append to one log, each with keys of its own (the ranks of a
    data-parallel evaluation share the run's generations.jsonl), so every append and repair
    holds an exclusive `flock` on the file. One shared file rather than one per process keeps
    the run format and resume as they are: any number of processes resumes any run, with
    nothing to merge. A lock rather than O_APPEND alone, because a large batch may take
    several write calls, and because a process opening the log must not cut another's line
    in progress as if a crash had left it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired_bytes = repair_tail(path)
        # Read without the lock: a line being appended meanwhile is an unfinished last line,
        # which `read_jsonl` leaves out, and other writers' keys are never this one's.
        self._keys: set[Key] = {key_of(r) for r in read_jsonl(path)}

    def __contains__(self, key: Key) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def records(self) -> Iterator[dict[str, Any]]:
        return read_jsonl(self.path)

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        """Append records whose key is new; one fsync per call keeps a batch atomic enough."""
        fresh = []
        for rec in records:
            key = key_of(rec)
            if key in self._keys:
                continue
            self._keys.add(key)
            fresh.append(rec)
        if not fresh:
            return 0
        payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in fresh)
        with self.path.open("ab+") as fh, _exclusive(fh):
            # A writer killed while it held the lock can have left half a line, which this
            # batch would turn into a corrupt line in the middle of the log.
            self.repaired_bytes += _cut_partial_line(fh)
            fh.write(payload.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        return len(fresh)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace a whole file so readers never see half of it (write aside, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write a whole JSON document so readers never see half of it."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
