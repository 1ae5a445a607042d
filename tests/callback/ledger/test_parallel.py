"""The parallel validation path (worker processes) gives exactly what the in-process path gives."""

from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

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


def test_unreadable_bytes_in_the_first_64_kib_are_refused_before_the_pool(tmp_path, monkeypatch):
    """The main process decodes the file's first stretch while it looks for the header, so bad bytes there stop
    the import before any block is cut (bad bytes further on reach the workers:
    test_bad_bytes_in_a_later_block_name_their_physical_line)."""
    path = _write(tmp_path / "l.csv", _rows())
    with path.open("ab") as f:
        f.write(b"A9999,\xff\xfe\xfa,x,13800138000,w,s,2026-11-01 09:00,\n")
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RAW_CHUNK_ROWS", 7)
    blocks = _spy_blocks(monkeypatch)
    with pytest.raises(UnreadableFile, match="无法读取（编码 utf-8-sig）"):
        _collect(path, workers=2)
    assert blocks == []


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


# ------------------------------------------------------------------------------------ CSV blocks (the byte path)

MULTILINE = "事项\n第二行"
QUOTED = '他说"好"'


def _tricky_rows() -> list[list[str]]:
    """40 data rows below a title and a header (Excel rows 3 to 42): quoted cells holding line breaks and doubled
    quotes all over, a blank row, a repeated header, a case number seen twice, and four rows to reject."""
    rows = [[f"A{i:04d}", MULTILINE if i % 4 == 1 else "营业执照", QUOTED if i % 6 == 4 else "张三",
             f"1380013{i:04d}", "综合窗口", f"员工{i % 3}", f"2026-11-{1 + i % 28:02d} 09:{i % 60:02d}", ""]
            for i in range(40)]
    rows[5][1] = "多行事项\n" * 30  # a cell longer than a block, 30 line breaks in it
    rows[7][0] = ""  # Excel row 10: no case number → rejected
    rows[9] = [""] * len(HEADER)  # blank row, skipped
    rows[11][1], rows[11][2] = "事项\r\n第二行", '引号""两个'  # CRLF inside a cell; four quotes in the file
    rows[14] = list(HEADER)  # repeated header row, skipped
    rows[17][6] = "明天"  # Excel row 20: unparseable date → rejected
    rows[20][1] = '"\n"'  # quotes and a line break only: `"""\n"""` in the file
    rows[23][0] = "A00\n23"  # Excel row 26: a case number holding a line break → rejected
    rows[26][2] = '"'  # `""""` in the file
    rows[29][4] = ""  # Excel row 32: no window → rejected
    rows[33][1], rows[33][2] = MULTILINE + "\n" + MULTILINE, '"' + QUOTED + '\n"'
    rows[35][0] = "A0002"  # A0002 again, in a later block: its last row wins
    rows[39][1] = "末行\n"  # the last row ends inside a quoted cell's line break
    return rows


TRICKY_REJECTED = [10, 20, 26, 32]  # Excel rows: title 1, header 2, rows[i] on row i + 3
TRICKY_COUNT = 38  # 40 rows less the blank row and the repeated header


def _write_csv(path: Path, rows: list[list[str]], encoding: str, *, title: bool = True,
               lineterminator: str = "\r\n") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        # the csv module quotes only the line ends it writes itself; "\n" in a cell needs quotes whatever they are
        quoting = csv.QUOTE_MINIMAL if "\n" in lineterminator else csv.QUOTE_ALL
        writer = csv.writer(f, lineterminator=lineterminator, quoting=quoting)
        if title:
            writer.writerow(["2026年11月 受理台账"])
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def _spy_blocks(monkeypatch: pytest.MonkeyPatch) -> list:
    """Record the blocks the main process cuts (and so prove the byte path ran)."""
    blocks: list = []
    cut = parallel._csv_blocks

    def spy(*args):
        for block in cut(*args):
            blocks.append(block)
            yield block

    monkeypatch.setattr(parallel, "_csv_blocks", spy)
    return blocks


def _only_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold the feeder until a worker process is up, so that every block is parsed in a worker (a small file is
    otherwise validated by the main process before the spawned workers have started) and results and errors
    cross the process boundary."""
    feed = parallel._feed

    def after_start(pool, ready, tasks, queued, stop) -> None:
        try:
            ready.result(timeout=120)
        except BaseException as exc:  # noqa: BLE001 — handed to the consumer, which would wait forever otherwise
            queued.put(exc)
            queued.put(None)
            return
        feed(pool, ready, tasks, queued, stop)

    monkeypatch.setattr(parallel, "_feed", after_start)


def _within(seconds: float, fn, *args):
    """fn(*args) in a thread, failing the test instead of hanging if it takes longer than `seconds`."""
    outcome: list = []

    def target() -> None:
        try:
            outcome.append((True, fn(*args)))
        except BaseException as exc:  # noqa: BLE001 — re-raised below, in the test's thread
            outcome.append((False, exc))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{getattr(fn, '__name__', fn)} did not finish within {seconds} s"
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _data_offset(data: bytes, lines: int) -> int:
    """The byte offset past the first `lines` physical lines."""
    offset = 0
    for _ in range(lines):
        offset = data.index(b"\n", offset) + 1
    return offset


def _cut_inside_a_quote(data: bytes, offset: int, block_bytes: int) -> bool:
    """Whether some read of `block_bytes` ends after a line feed that lies inside a quoted cell (the last line feed
    read has an odd number of quotes before it): the case where cutting at the last line feed would split a cell."""
    for end in range(offset + block_bytes, len(data), block_bytes):
        last = data.rfind(b"\n", offset, end)
        if last >= 0 and data.count(b'"', offset, last) % 2:
            return True
    return False


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
@pytest.mark.parametrize("block_bytes", [64, 150])
def test_blocks_give_what_the_serial_path_gives(tmp_path, monkeypatch, encoding, block_bytes):
    path = _write_csv(tmp_path / "l.csv", _tricky_rows(), encoding)
    serial = _collect(path, workers=1)
    count, rejected, lines, superseded = serial
    assert count == TRICKY_COUNT and [row for row, _ in rejected] == TRICKY_REJECTED
    assert "case_no holds a line break" in rejected[2][1]
    assert len(lines) == 33 and superseded == 1  # 34 valid rows, A0002 twice
    assert "2026-11-08" in lines["A0002"][3]  # accepted_at of the later row (rows[35]: day 1 + 35 % 28)
    cells = {case_no: line[3].split("\t") for case_no, line in lines.items()}  # COPY_TAIL_COLUMNS
    assert (cells["A0001"][6], cells["A0004"][8]) == ("事项\\n第二行", QUOTED)
    assert (cells["A0011"][6], cells["A0011"][8]) == ("事项\\r\\n第二行", '引号""两个')
    assert (cells["A0020"][6], cells["A0026"][8]) == ('"\\n"', '"')
    assert cells["A0005"][6] == "多行事项\\n" * 29 + "多行事项"  # trimmed
    assert cells["A0039"][6] == "末行"

    data = path.read_bytes()
    assert _cut_inside_a_quote(data, _data_offset(data, 2), block_bytes)  # the file does test the quote counting
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "BLOCK_BYTES", block_bytes)
    blocks = _spy_blocks(monkeypatch)
    assert _within(120, _collect, path, 2) == serial
    assert len(blocks) > 10 and b"".join(block.data for block in blocks) == data[_data_offset(data, 2):]


def test_blocks_parsed_in_the_workers_give_what_the_serial_path_gives(tmp_path, monkeypatch):
    path = _write_csv(tmp_path / "l.csv", _tricky_rows(), "utf-8-sig")
    serial = _collect(path, workers=1)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 100)
    _only_workers(monkeypatch)
    monkeypatch.setattr(parallel, "_worker", None)
    blocks = _spy_blocks(monkeypatch)
    assert _within(120, _collect, path, 2) == serial
    assert len(blocks) > 10
    assert parallel._worker is None  # this process parsed no block itself


def _blocks(path: Path, lines_above: int, encoding: str = "utf-8-sig") -> tuple[bytes, int, list]:
    data = path.read_bytes()
    offset = _data_offset(data, lines_above)
    settings = parallel._Settings(None, True, True, encoding, ",")  # type: ignore[arg-type]  # no header needed
    return data, offset, list(parallel._csv_blocks(path, offset, lines_above + 1, settings))


@pytest.mark.parametrize("block_bytes", [1, 7, 64, 150, 1000, 1 << 20])
def test_csv_blocks_end_on_a_record_boundary(tmp_path, monkeypatch, block_bytes):
    monkeypatch.setattr(parallel, "BLOCK_BYTES", block_bytes)
    path = _write_csv(tmp_path / "l.csv", _tricky_rows(), "utf-8-sig")
    data, offset, blocks = _blocks(path, 2)
    assert b"".join(block.data for block in blocks) == data[offset:]
    start = offset
    for block in blocks:
        assert block.data.endswith(b"\n") and block.data.count(b'"') % 2 == 0  # a line feed outside quotes
        assert block.first_line == data.count(b"\n", 0, start) + 1  # the physical line the block starts on
        start += len(block.data)
    whole = list(csv.reader(io.StringIO(data[offset:].decode("utf-8"), newline="")))
    pieces = [row for block in blocks for row in csv.reader(io.StringIO(block.data.decode("utf-8"), newline=""))]
    assert pieces == whole and len(whole) == 40  # no cell is cut: the blocks parse to the file's records
    multiline = sum('\n' in cell for row in whole for cell in row)
    assert multiline == 14  # item of rows[i] with i % 4 == 1 (9 of them: rows[9] is blank), 11, 20, 39; rows[23]'s
    # case number; both cells of rows[33]
    if block_bytes <= 64:
        assert len(blocks) > 20


def test_csv_blocks_yield_a_last_line_without_line_feed(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 16)
    path = tmp_path / "l.csv"
    path.write_bytes(b"h1,h2\r\na,\"b\nc\"\r\nd,e")
    data, offset, blocks = _blocks(path, 1)
    assert [(block.data, block.first_line) for block in blocks] == [(b'a,"b\nc"\r\n', 2), (b"d,e", 4)]


def _unclosed_quote(path: Path, rows: int) -> Path:
    """rows[10] (Excel row 13) opens a quote that never closes."""
    rows_ = [[f"A{i:05d}", "营业执照", "张三", f"1380013{i % 10000:04d}", "综合窗口", "员工1", "2026-11-01 09:00", ""]
             for i in range(rows)]
    _write_csv(path, rows_, "utf-8")
    text = path.read_text(encoding="utf-8").replace("A00010,营业执照", 'A00010,"营业执照', 1)
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_an_unclosed_quote_is_cut_at_max_block_bytes(tmp_path, monkeypatch):
    """A quote that never closes: the block stops growing at MAX_BLOCK_BYTES, cut at a line feed, so the blocks
    after it start on a line again; nothing hangs."""
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 64)
    monkeypatch.setattr(parallel, "MAX_BLOCK_BYTES", 1000)
    path = _unclosed_quote(tmp_path / "l.csv", 60)
    data, offset, blocks = _within(30, _blocks, path, 2)
    assert b"".join(block.data for block in blocks) == data[offset:]
    odd = [block for block in blocks if block.data.count(b'"') % 2]
    # the read that takes the carry to 1000 bytes or more ends it, at its last line feed (rows are < 100 bytes)
    assert len(odd) == 1 and 900 < len(odd[0].data) < 1000 + 64 and odd[0].data.endswith(b"\n")
    assert odd[0].data.startswith(b"A00010,")  # the block holding the quote starts on its record
    after = blocks[blocks.index(odd[0]) + 1 :]
    assert after and all(block.data.count(b'"') == 0 and block.data.startswith(b"A") for block in after)

    # Below the csv module's field size limit (only with MAX_BLOCK_BYTES patched this small), the cell is cut
    # with the block, and the records after the cut are read again, as a plain csv reader would not.
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    count, rejected, lines, _ = _within(120, _collect, path, 2)
    first_after = int(after[0].data[1:6])
    assert rejected == [(13, "缺少窗口 / missing window")]  # A00010 and the rest of its block: two cells
    assert set(lines) == {f"A{i:05d}" for i in [*range(10), *range(first_after, 60)]}
    assert count == 11 + 60 - first_after


def test_an_unclosed_quote_makes_the_file_unreadable(tmp_path, monkeypatch):
    """With the cut far above the csv module's field size limit (128 Ki characters) as in production, the cell
    the quote opens outgrows the limit first: the main process stops growing the block there (its own parse
    fails), and the worker's parse of it stops the import with UnreadableFile, as the serial path does."""
    path = _unclosed_quote(tmp_path / "l.csv", 20_000)
    assert path.stat().st_size > 1_200_000
    with pytest.raises(UnreadableFile, match="field larger than field limit"):
        _collect(path, workers=1)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(parallel, "MAX_BLOCK_BYTES", 1_000_000)
    blocks = _spy_blocks(monkeypatch)
    with pytest.raises(UnreadableFile, match="field larger than field limit"):
        _within(120, _collect, path, 2)
    assert any(128 * 1024 < len(block.data) < 1_000_000 for block in blocks)


def _long_file(path: Path, rows: int, encoding: str, damage: tuple[int, bytes, bytes]) -> Path:
    """A title, a header, then `rows` rows of which rows[1] holds a line break in a quoted cell: physical line 1 is
    the title, 2 the header, 3 rows[0], 4-5 rows[1], and rows[i] for i >= 2 is on line i + 4. The file is larger
    than the 64 KiB the encoding is detected from, and `damage` (row index, old bytes, new bytes) is applied to the
    encoded file past that."""
    rows_ = [[f"A{i:04d}", MULTILINE if i == 1 else "个体工商户设立登记", "张三", f"1380013{i:04d}", "综合窗口",
              "员工1", "2026-11-01 09:00", ""] for i in range(rows)]
    _write_csv(path, rows_, encoding)
    data = path.read_bytes()
    index, old, new = damage
    at = data.index(f"A{index:04d},".encode())
    assert at > 64 * 1024 and data.count(old, at, at + 200) >= 1
    path.write_bytes(data[:at] + data[at:].replace(old, new, 1))
    return path


@pytest.mark.parametrize(("encoding", "old", "new"), [
    ("utf-8", "张".encode(), b"\xe5\xbc"),  # a character cut short: invalid UTF-8
    ("utf-8-sig", "张".encode(), b"\xff"),
    ("gbk", "张".encode("gbk"), b"\x81\x20"),  # a lead byte followed by a space: invalid GB18030
])
def test_bad_bytes_in_a_later_block_name_their_physical_line(tmp_path, monkeypatch, encoding, old, new):
    path = _long_file(tmp_path / "l.csv", 1200, encoding, (1000, old, new))  # rows[1000] is on line 1004
    with pytest.raises(UnreadableFile):
        _collect(path, workers=1)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 4096)
    _only_workers(monkeypatch)
    blocks = _spy_blocks(monkeypatch)
    with pytest.raises(UnreadableFile) as caught:
        _within(120, _collect, path, 2)
    assert "第 1004 行附近无法读取" in caught.value.zh and "near line 1004" in caught.value.en
    assert len(blocks) > 20  # the damage lies in a later block


def test_a_csv_error_in_a_later_block_names_its_physical_line(tmp_path, monkeypatch):
    """The csv module refuses a cell over its field size limit (128 Ki characters); both paths name its line."""
    path = _long_file(tmp_path / "l.csv", 1200, "utf-8", (1000, "张三".encode(), b'"' + b"x" * 140_000 + b'"'))
    with pytest.raises(UnreadableFile, match="field larger than field limit") as caught:
        _collect(path, workers=1)
    assert "第 1004 行附近无法读取" in caught.value.zh, caught.value.zh  # rows[1000] is on physical line 1004
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 4096)
    _only_workers(monkeypatch)
    with pytest.raises(UnreadableFile, match="field larger than field limit") as caught:
        _within(120, _collect, path, 2)
    assert "第 1004 行附近无法读取（编码 utf-8-sig）" in caught.value.zh  # raised in a worker, rebuilt here


@pytest.mark.parametrize(("encoding", "lineterminator"), [("utf-16", "\r\n"), ("utf-8", "\r"), ("gbk", "\r")])
def test_files_that_cannot_be_cut_at_line_feeds_take_the_row_path(tmp_path, monkeypatch, encoding, lineterminator):
    """UTF-16 (a line feed byte may be half a character) and old-Mac files (lines end with a bare CR): the main
    process reads rows and the workers validate them, with the same outcome as the serial path."""
    expected = _collect(_write_csv(tmp_path / "utf8.csv", _tricky_rows(), "utf-8-sig"), workers=1)
    path = _write_csv(tmp_path / "l.csv", _tricky_rows(), encoding, lineterminator=lineterminator)
    assert _collect(path, workers=1) == expected
    assert [row for row, _ in expected[1]] == TRICKY_REJECTED
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RAW_CHUNK_ROWS", 7)
    _only_workers(monkeypatch)
    blocks = _spy_blocks(monkeypatch)
    pools: list = []
    run_pool = parallel._run_pool
    monkeypatch.setattr(parallel, "_run_pool", lambda *args, **kw: pools.append(args[0]) or run_pool(*args, **kw))
    assert _within(120, _collect, path, 2) == expected
    assert blocks == [] and len(pools) == 1 and pools[0].encoding == ""  # the pool ran on rows, not blocks


@pytest.mark.parametrize("line_break", ["\n", "\r\n", "\r"])
def test_a_case_number_holding_a_line_break_is_rejected_in_its_row(database_url, tmp_path, monkeypatch, line_break):
    """A quoted case number spanning lines is refused with its Excel row number, and the rows below keep theirs,
    in blocks as in the serial path (a bare CR past the first block does not keep a file off the byte path: inside
    quotes it is just a character), and nothing of it reaches the database."""
    from click.testing import CliRunner

    from callback.cli import main

    rows = [_case(i, MULTILINE if i % 2 else "营业执照") for i in range(9)]  # rows[i] on Excel row i + 2
    rows[1][0] = f"B{line_break}0001"
    rows[3][4] = ""  # no window
    rows[4][0] = f"{line_break}B000{line_break}4{line_break}"  # trimmed, the inner break stays
    rows[6][6] = "明天"
    path = _ledger(tmp_path / "l.csv", rows)
    expected = [(3, "办件编号含换行 / case_no holds a line break"), (5, "缺少窗口 / missing window"),
                (6, "办件编号含换行 / case_no holds a line break")]
    serial = _collect_rows(path, workers=1)
    assert serial[0] == 9 and serial[1][:3] == expected and [row for row, _ in serial[1]] == [3, 5, 6, 8]
    assert sorted(serial[2]) == ["B0000", "B0002", "B0005", "B0007", "B0008"]
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 32)
    monkeypatch.setattr(parallel, "RAW_CHUNK_ROWS", 2)
    blocks = _spy_blocks(monkeypatch)
    assert _within(120, _collect_rows, path, 2) == serial
    assert len(blocks) > 3

    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["import-ledger", str(path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["imported"], [r["row"] for r in summary["rejected"]]) == (5, [3, 5, 6, 8])


def _collect_rows(path: Path, workers: int) -> tuple[int, list, dict[str, str]]:
    """Rows seen, rejections, and the COPY tail of each case number (for ledgers of _case rows)."""
    count, rejected, tails = 0, [], {}
    for chunk in parallel.validated_chunks(path, workers=workers, for_copy=True):
        count += chunk.count
        rejected += chunk.rejected
        for part in chunk.parts:
            tails.update(zip(part.case_nos, part.tails, strict=True))
    return count, rejected, tails


@pytest.mark.parametrize("block_bytes", [64, 150, 1000])
def test_a_stray_quote_in_an_unquoted_cell_does_not_split_a_later_quoted_cell(tmp_path, monkeypatch, block_bytes):
    rows = [[f"A{i:04d}", MULTILINE if i % 4 == 1 else "营业执照", "张三", f"1380013{i:04d}", "综合窗口", "员工1",
             "2026-11-01 09:00", ""] for i in range(40)]
    path = _write_csv(tmp_path / "l.csv", rows, "utf-8")
    # a quote inside an unquoted cell: the csv module reads it as a literal character (A0004's applicant is 张"三)
    text = path.read_text(encoding="utf-8").replace("A0004,营业执照,张三", 'A0004,营业执照,张"三', 1)
    path.write_text(text, encoding="utf-8", newline="")
    serial = _collect(path, workers=1)
    assert serial[0] == 40 and serial[1] == [] and serial[2]["A0004"][3].split("\t")[8] == '张"三'
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "BLOCK_BYTES", block_bytes)
    _spy_blocks(monkeypatch)
    assert _within(120, _collect, path, 2) == serial, "a block was cut inside a quoted cell after the stray quote"


def test_a_nul_byte_past_the_first_64_kib_is_not_a_database_error(database_url, tmp_path, monkeypatch):
    from callback.cli import main

    path = _long_file(tmp_path / "l.csv", 1200, "utf-8", (1000, "张三".encode(), b"\x00"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["import-ledger", str(path), "--json"])
    # the row is rejected and the others land, alike on both backends (PostgreSQL's COPY would refuse the NUL)
    assert result.exit_code == 0, repr(result.exception)
    report = json.loads(result.stdout)
    assert [r["row"] for r in report["rejected"]] == [1003]  # title 1, header 2, rows[i]: i+3
    assert "NUL" in report["rejected"][0]["reason"] and report["imported"] == 1199
