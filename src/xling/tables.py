"""CSV tables: the one writer every stage's tables go through, and a reader for the tables
users hand in.

Columns are the union of the rows' keys in first-seen order (or those given), a missing or
None cell is empty, and the file is written to a temporary name and moved into place, so a
reader never meets half a table. The reader turns every way a file can be unreadable (missing,
a folder, not UTF-8, a malformed or overlong row) into one XlingError naming file and line.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from xling.errors import XlingError
from xling.jsonl import read_utf8


def write_csv(
    rows: Iterable[Mapping[str, Any]], path: Path, columns: Sequence[str] | None = None
) -> Path:
    """Write `rows` to `path` (parents created); keys outside `columns` are left out."""
    rows = list(rows)
    if columns is None:
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(row))
        columns = list(seen)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    os.replace(tmp, path)
    return path


def csv_number(raw: str, where: str, column: str) -> float:
    """A CSV cell as a finite number, or one line naming file:line and the column."""
    try:
        value = float(raw)
    except ValueError:
        raise XlingError(f"{where}: {column}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise XlingError(f"{where}: {column}={raw!r} is not finite")
    return value


def read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the (line number, row) pairs of a UTF-8 CSV file (a BOM is allowed).

    Rows that hold nothing but blanks are skipped; a cell missing at the end of a row is "".
    """
    path = Path(path)
    text = read_utf8(path, "utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header or not any(name.strip() for name in header):
            raise XlingError(f"{path}: empty CSV (no header row)")
        rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header):
                raise XlingError(
                    f"{path}:{reader.line_num}: {len(cells)} fields but the header has "
                    f"{len(header)}"
                )
            cells = cells + [""] * (len(header) - len(cells))
            rows.append((reader.line_num, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        raise XlingError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    return header, rows
