"""The parallel validation path (worker processes) gives exactly what the in-process path gives."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from callback.ledger import parallel
from callback.ledger.reader import UnreadableFile

HEADER = ["受理编号", "事项名称", "申请人", "联系电话", "受理窗口", "经办人", "受理时间", "办结时间"]


def _rows() -> list[list[str]]:
    rows: list[list[str]] = []
    for i in range(60):
        rows.append([f"A{i:04d}", "事项\t含制表符" if i == 5 else "营业执照", "张三", f"1380013{i:04d}",
                     "综合窗口", f"员工{i % 3}", f"2026-11-{1 + i % 28:02d} 09:{i % 60:02d}", ""])
    rows[10][0] = ""  # no case number → rejected
    rows[20][6] = "明天"  # unparseable date → rejected
    rows[30] = [""] * len(HEADER)  # blank row, skipped
    rows[40] = list(HEADER)  # repeated header row, skipped
    rows[50][3] = "+86 139 0013 8000 / 0771-1234567"
    rows[55][0] = "A0054"  # the same case twice in a file
    return rows


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["2026年11月 受理台账"])
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def _collect(path: Path, workers: int) -> tuple[int, list, dict[str, str], int]:
    """What a COPY writer receives: the rows seen, the rejections, and (window, staff, phone, COPY tail) of the last
    row of each case number (applying the chunks in order, as the importer does), and the rows superseded within a
    chunk."""
    count, rejected, lines, superseded = 0, [], {}, 0
    for chunk in parallel.validated_chunks(path, workers=workers, for_copy=True):
        assert chunk.rows is None
        count += chunk.count
        rejected += chunk.rejected
        superseded += chunk.superseded
        for part in chunk.parts:
            assert len(part.tails) == len(part.case_nos) == len(set(part.case_nos))
            assert part.window_names == {"综合窗口"} and part.staff_names <= {"员工0", "员工1", "员工2"}
            assert set(part.phones) - {None} == set(part.kinds)
            rows = zip(part.case_nos, part.windows, part.staff, part.phones, part.tails, strict=True)
            for case_no, window, staff, phone, tail in rows:
                assert tail.startswith(case_no.replace("\t", "\\t") + "\t") and tail.endswith("\n")
                superseded += case_no in lines
                lines[case_no] = (window, staff, phone, tail)
    return count, rejected, lines, superseded


def test_workers_match_the_in_process_path(tmp_path, monkeypatch):
    path = _write(tmp_path / "l.csv", _rows())
    serial = _collect(path, workers=1)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RAW_CHUNK_ROWS", 7)  # several chunks, in flight at once
    assert _collect(path, workers=2) == serial
    count, rejected, lines, superseded = serial
    assert count == 58  # 60 rows less the blank row and the repeated header
    assert [row for row, _ in rejected] == [13, 23]  # row numbers as Excel shows them (title + header above)
    assert len(lines) == 55 and superseded == 1  # 56 valid rows, A0054 twice: its last row wins
    assert "2026-11-28" in lines["A0054"][3]  # the date of the later row (row 55), not of row 54
    assert "事项\\t含制表符" in lines["A0005"][3]  # COPY escaping of a tab inside a cell
    assert lines["A0050"][2] == "+8613900138000"  # the first mobile of a cell holding two numbers
    assert lines["A0001"][:2] == ("综合窗口", "员工1")


def test_copy_parts_keep_the_last_row_of_a_case_and_only_its_names():
    def record(case_no: str, window: str, staff: str, day: int, **extra: str) -> dict[str, str]:
        return {"case_no": case_no, "window": window, "staff": staff, "phone": "13800138000",
                "accepted_at": f"2026-11-{day:02d} 09:00", **extra}

    chunk = parallel.validate_records(enumerate([
        record("A1", "旧窗口", "旧员工", 1), record("A2", "税务窗口", "王芳", 2), record("A1", "新窗口", "李娜", 3),
    ], 2), for_copy=True)
    assert (chunk.count, chunk.superseded) == (3, 1)
    [part] = chunk.parts
    assert part.case_nos == ["A1", "A2"]
    assert part.window_names == {"新窗口", "税务窗口"} and part.staff_names == {"李娜", "王芳"}  # not the superseded's
    assert (part.windows, part.staff) == (["新窗口", "税务窗口"], ["李娜", "王芳"])
    assert part.tails[0].split("\t")[3].startswith("2026-11-03")  # accepted_at of A1's last row


def test_copy_parts_group_rows_by_the_fields_they_carry():
    records = [{"case_no": "B1", "window": "w", "phone": "", "accepted_at": "2026-11-01"},
               {"case_no": "B2", "window": "w", "phone": "", "accepted_at": "2026-11-01", "item_name": "x"},
               {"case_no": "B1", "window": "v", "phone": "", "accepted_at": "2026-11-01", "item_name": "y"},
               {"case_no": "B3", "window": "u", "phone": "", "accepted_at": "2026-11-01"}]
    chunk = parallel.validate_records(enumerate(records, 1), for_copy=True)
    assert chunk.superseded == 1  # B1's first row, though it carried other fields than its last
    assert [(sorted(part.present), part.case_nos, part.window_names) for part in chunk.parts] == [
        (["accepted_at", "case_no", "item_name", "phone", "window"], ["B1", "B2"], {"v", "w"}),
        (["accepted_at", "case_no", "phone", "window"], ["B3"], {"u"})]


def test_rows_kept_for_writers_without_copy(tmp_path):
    path = _write(tmp_path / "l.csv", _rows())
    chunks = list(parallel.validated_chunks(path, workers=1))
    rows = [row for chunk in chunks for row in chunk.rows]
    assert len(rows) == 56 and all(chunk.parts == [] for chunk in chunks)
    by_no = {row.case_no: row for row in rows}
    assert by_no["A0050"].phone.e164 == "+8613900138000"  # the first mobile of a cell holding two numbers


def test_unreadable_bytes_half_way_raise_through_the_pool(tmp_path, monkeypatch):
    path = _write(tmp_path / "l.csv", _rows())
    with path.open("ab") as f:
        f.write(b"A9999,\xff\xfe\xfa,x,13800138000,w,s,2026-11-01 09:00,\n")
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RAW_CHUNK_ROWS", 7)
    with pytest.raises(UnreadableFile):
        _collect(path, workers=2)


def _ledger(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def _case(i: int, item: str = "营业执照") -> list[str]:
    return [f"B{i:04d}", item, "张三", f"1390013{i:04d}", "综合窗口", "员工1", "2026-11-03 09:12", ""]


def test_counts_hold_across_many_chunks_whatever_rows_come_first(database_url, monkeypatch, tmp_path):
    """New rows first, then unchanged and changed ones, in chunks of 5: the PostgreSQL writer stops taking
    unchanged rows out up front after chunks without any, and the counts must not notice."""
    from click.testing import CliRunner

    from callback.cli import main

    monkeypatch.setattr(parallel, "RAW_CHUNK_ROWS", 5)
    monkeypatch.setenv("DATABASE_URL", database_url)

    def run(path: Path) -> dict:
        result = CliRunner().invoke(main, ["import-ledger", str(path), "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    first = run(_ledger(tmp_path / "a.csv", [_case(i) for i in range(100, 130)]))
    assert (first["imported"], first["updated"], first["unchanged"]) == (30, 0, 0)
    again = [_case(i) for i in range(10)] + [_case(i, "变更" if i % 4 == 0 else "营业执照") for i in range(100, 130)]
    second = run(_ledger(tmp_path / "b.csv", again))
    assert (second["rows"], second["imported"], second["updated"], second["unchanged"]) == (40, 10, 8, 22)
