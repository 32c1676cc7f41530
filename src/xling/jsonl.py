"""Append-only JSONL files that survive SIGKILL.

Each stage of the pipeline appends one JSON object per line and flushes+fsyncs after
every batch. A process killed mid-write can leave at most one partial last line; on
the next open that tail is cut off (and reported), never parsed, so a rerun resumes
from the last complete record and nothing already written is lost.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

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
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb+") as fh:
        # Scan backwards in blocks for the last newline; files can be large.
        block = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                keep = start + idx + 1
                break
            pos = start
        else:
            keep = 0
        if keep < size:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
        return size - keep


class AppendLog:
    """A JSONL file keyed by (benchmark, lang, id, sample) that is only ever appended to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired_bytes = repair_tail(path)
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
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(payload)
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
