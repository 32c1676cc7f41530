import json
from pathlib import Path

import pytest

from xling.errors import XlingError
from xling.jsonl import AppendLog, read_jsonl, repair_tail


def rec(i: int, **extra: object) -> dict:
    return {"benchmark": "b", "lang": "en", "id": str(i), "sample": 0, **extra}


def test_append_dedupes_by_key_and_persists(tmp_path: Path) -> None:
    log = AppendLog(tmp_path / "x.jsonl")
    assert log.append([rec(0), rec(1)]) == 2
    assert log.append([rec(1, v=2), rec(2)]) == 1
    again = AppendLog(tmp_path / "x.jsonl")
    assert len(again) == 3 and ("b", "en", "1", 0) in again
    assert [r["id"] for r in again.records()] == ["0", "1", "2"]


def test_partial_last_line_is_cut_on_open(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    good = json.dumps(rec(0)) + "\n"
    path.write_text(good + '{"benchmark": "b", "lang": "en", "id": "1", "sam', encoding="utf-8")
    assert [r["id"] for r in read_jsonl(path)] == ["0"]
    log = AppendLog(path)
    assert log.repaired_bytes > 0
    log.append([rec(1)])
    assert path.read_text(encoding="utf-8") == good + json.dumps(rec(1)) + "\n"


def test_repair_tail_without_any_newline(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"half', encoding="utf-8")
    assert repair_tail(path) == 6
    assert path.read_text() == ""


def test_corruption_in_the_middle_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(rec(0)) + "\nnot json\n" + json.dumps(rec(1)) + "\n")
    with pytest.raises(XlingError, match=r"x\.jsonl:2: corrupt JSON"):
        list(read_jsonl(path))
