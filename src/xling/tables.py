"""CSV tables: the one writer every stage's tables go through.

Columns are the union of the rows' keys in first-seen order (or those given), a missing or
None cell is empty, and the file is written to a temporary name and moved into place, so a
reader never meets half a table.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any


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
