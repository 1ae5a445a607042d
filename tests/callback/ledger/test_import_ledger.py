"""Ledger import end to end: real files into SQLite and PostgreSQL through the CLI."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from callback.cli import main
from callback.db import session_factory
from callback.models import Case, Contact, ImportBatch, Window

HEADER = ["受理编号", "事项名称", "申请人", "联系电话", "受理窗口", "经办人", "受理时间", "办结时间"]
ROWS = [
    ["A001", "个体工商户设立登记", "张三", "138 0013 8000", "市场监管窗口", "王芳", "2026-11-03 09:12", "2026/11/3"],
    ["A002", "不动产转移登记", "李四", "+86 139-1234-5678", "不动产登记窗口", "李娜", "2026年11月4日 14:05", ""],
    ["A003", "发票领用", "王五", "0536-8123456 / 13712345678", "税务窗口", "张伟", "2026/11/5 9:30", ""],
    ["A004", "居民身份证换领", "赵六", "0536-8123456", "公安户政窗口", "刘洋", "2026-11-05 10:00", ""],
    ["A005", "发票领用", "孙七", "12345", "税务窗口", "张伟", "2026-11-06 10:00", ""],
]


def write_csv(path: Path, rows: list[list[str]], *, encoding: str = "utf-8", title: bool = False,
              header: list[str] = HEADER) -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        if title:
            w.writerow(["示范县政务服务中心受理台账（2026年11月）"] + [""] * (len(header) - 1))
        w.writerow(header)
        w.writerows(rows)
    return path


def run(database_url: str, monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.setenv("DATABASE_URL", database_url)
    return CliRunner().invoke(main, list(args))


def import_json(database_url: str, monkeypatch: pytest.MonkeyPatch, path: Path, *extra: str) -> dict:
    result = run(database_url, monkeypatch, "import-ledger", str(path), "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def cases(database_url: str, hall_code: str | None = None) -> dict[str, Case]:
    """{case number: case} of one hall (by code), or of every hall — where numbers repeat across halls, name one."""
    from callback.models import Hall

    query = select(Case)
    if hall_code is not None:
        query = query.join(Hall, Hall.id == Case.hall_id).where(Hall.code == hall_code)
    with session_factory(database_url)() as s:
        found = list(s.scalars(query).unique())
    return {c.case_no: c for c in found}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_every_chinese_excel_encoding_with_a_title_row(database_url, monkeypatch, tmp_path, encoding):
    path = write_csv(tmp_path / "ledger.csv", ROWS, encoding=encoding, title=True)
    summary = import_json(database_url, monkeypatch, path)
    assert summary == {"rows": 5, "imported": 5, "updated": 0, "unchanged": 0, "rejected": []}
    got = cases(database_url)
    assert got["A001"].phone_kind == "mobile"
    assert got["A001"].accepted_at == datetime(2026, 11, 3, 1, 12, tzinfo=UTC)  # 09:12 in Asia/Shanghai
    assert got["A002"].accepted_at == datetime(2026, 11, 4, 6, 5, tzinfo=UTC)
    assert got["A003"].phone_kind == "mobile"  # the first mobile of the cell wins over the landline
    assert got["A004"].phone_kind == "landline"
    assert got["A005"].phone_kind == "invalid" and got["A005"].contact_id is None


def test_phones_normalised_to_one_contact_per_number(database_url, monkeypatch, tmp_path):
    rows = [r[:] for r in ROWS[:2]] + [["A009", "x", "y", "13800138000", "市场监管窗口", "王芳", "2026-11-07", ""]]
    import_json(database_url, monkeypatch, write_csv(tmp_path / "l.csv", rows))
    with session_factory(database_url)() as s:
        phones = sorted(s.scalars(select(Contact.phone)))
    assert phones == ["+8613800138000", "+8613912345678"]


def test_reimport_same_and_overlapping_file_creates_no_duplicates(database_url, monkeypatch, tmp_path):
    import_json(database_url, monkeypatch, write_csv(tmp_path / "a.csv", ROWS))
    again = import_json(database_url, monkeypatch, write_csv(tmp_path / "a.csv", ROWS))
    assert again == {"rows": 5, "imported": 0, "updated": 0, "unchanged": 5, "rejected": []}
    changed = [r[:] for r in ROWS[3:]]
    changed[0][4] = "综合受理窗口"  # A004 moved to another window
    extra = ["A006", "发票领用", "周八", "13700000006", "税务窗口", "张伟", "2026-11-07 10:00", ""]
    overlap = import_json(database_url, monkeypatch, write_csv(tmp_path / "b.csv", changed + [extra]))
    assert overlap == {"rows": 3, "imported": 1, "updated": 1, "unchanged": 1, "rejected": []}
    got = cases(database_url)
    assert len(got) == 6
    assert got["A004"].window.name == "综合受理窗口"


def test_bad_rows_are_rejected_with_row_number_and_good_rows_land(database_url, monkeypatch, tmp_path):
    rows = ROWS[:2] + [
        ["", "x", "y", "13800000000", "税务窗口", "", "2026-11-05", ""],
        ["A010", "x", "y", "13800000001", "税务窗口", "", "下周一", ""],
        ["A011", "x", "y", "13800000002", "", "", "2026-11-05", ""],
    ]
    summary = import_json(database_url, monkeypatch, write_csv(tmp_path / "l.csv", rows, title=True))
    assert summary["imported"] == 2
    assert [r["row"] for r in summary["rejected"]] == [5, 6, 7]  # title row 1, header row 2, data from row 3
    assert "办件编号" in summary["rejected"][0]["reason"]
    assert "受理时间" in summary["rejected"][1]["reason"]
    assert "窗口" in summary["rejected"][2]["reason"]
    assert set(cases(database_url)) == {"A001", "A002"}


def test_missing_required_column_exits_2_names_it_and_imports_nothing(database_url, monkeypatch, tmp_path):
    header = [h for h in HEADER if h != "联系电话"]
    rows = [[v for i, v in enumerate(r) if HEADER[i] != "联系电话"] for r in ROWS]
    result = run(database_url, monkeypatch, "import-ledger", str(write_csv(tmp_path / "l.csv", rows, header=header)))
    assert result.exit_code == 2
    assert "联系电话" in result.output
    with session_factory(database_url)() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
        assert s.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_unreadable_file_exits_2(database_url, monkeypatch, tmp_path):
    junk = tmp_path / "ledger.xlsx"
    junk.write_bytes(bytes(range(256)) * 40)
    result = run(database_url, monkeypatch, "import-ledger", str(junk))
    assert result.exit_code == 2
    assert cases(database_url) == {}


def test_xlsx_with_title_row_excel_datetimes_and_serials(database_url, monkeypatch, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "台账"
    ws.append(["示范县政务服务中心受理台账"])
    ws.append(["辦件編號", "聯繫電話", "窗口名稱", "受理時間", "辦結時間"])  # Traditional headers
    ws.append(["X1", "13800138000", "税务窗口", datetime(2026, 11, 3, 9, 12), 46330.5])
    ws.append(["X2", 13912345678, "税务窗口", 46329.375, None])
    path = tmp_path / "ledger.xlsx"
    wb.save(path)
    summary = import_json(database_url, monkeypatch, path, "--sheet", "台账")
    assert summary["imported"] == 2 and summary["rejected"] == []
    got = cases(database_url)
    assert got["X1"].accepted_at == datetime(2026, 11, 3, 1, 12, tzinfo=UTC)
    assert got["X1"].completed_at == datetime(2026, 11, 4, 4, 0, tzinfo=UTC)  # serial 46330.5 = 2026-11-04 12:00
    assert got["X2"].accepted_at == datetime(2026, 11, 3, 1, 0, tzinfo=UTC)  # 46329.375 = 2026-11-03 09:00
    assert got["X2"].phone_kind == "mobile"


def test_xlsx_unknown_sheet_names_the_sheets(database_url, monkeypatch, tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "台账"
    path = tmp_path / "ledger.xlsx"
    wb.save(path)
    result = run(database_url, monkeypatch, "import-ledger", str(path), "--sheet", "Sheet9")
    assert result.exit_code == 2 and "台账" in result.output


def test_human_summary_masks_nothing_personal(database_url, monkeypatch, tmp_path):
    result = run(database_url, monkeypatch, "import-ledger", str(write_csv(tmp_path / "l.csv", ROWS)))
    assert result.exit_code == 0
    assert "新增 5" in result.output
    assert "13800138000" not in result.output and "张三" not in result.output


def test_windows_created_once_per_hall(database_url, monkeypatch, tmp_path):
    import_json(database_url, monkeypatch, write_csv(tmp_path / "l.csv", ROWS))
    import_json(database_url, monkeypatch, write_csv(tmp_path / "l.csv", ROWS), "--hall", "OTHER")
    with session_factory(database_url)() as s:
        assert s.scalar(select(func.count()).select_from(Window)) == 8


def test_import_records_cases_as_known_at_the_given_time(database_url, tmp_path):
    from callback.halls.services import ensure_hall
    from callback.ledger.importer import import_file

    known = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
    with session_factory(database_url).begin() as s:
        import_file(s, ensure_hall(s, "DEMO"), write_csv(tmp_path / "l.csv", ROWS), now=known)
    assert {c.created_at for c in cases(database_url).values()} == {known}


def test_the_callers_transaction_gets_its_planner_settings_back(database_url, tmp_path):
    from sqlalchemy import text

    from callback.halls.services import ensure_hall
    from callback.ledger.importer import import_file

    with session_factory(database_url).begin() as s:
        hall = ensure_hall(s, "DEMO")
        if s.get_bind().dialect.name != "postgresql":
            summary = import_file(s, hall, write_csv(tmp_path / "l.csv", ROWS))
            assert summary.imported == 5  # SQLite has no planner settings to pin
            return
        before = s.execute(text("SELECT current_setting('enable_nestloop'), current_setting('enable_bitmapscan')")).one()
        import_file(s, hall, write_csv(tmp_path / "l.csv", ROWS))
        after = s.execute(text("SELECT current_setting('enable_nestloop'), current_setting('enable_bitmapscan')")).one()
    assert tuple(after) == tuple(before) == ("on", "on")


class _InThread:
    """Run fn(*args) in a daemon thread; `result(timeout)` returns its value or raises its exception."""

    def __init__(self, fn, *args) -> None:
        import threading

        self.outcome: list = []
        self.thread = threading.Thread(target=self._run, args=(fn, *args), daemon=True)
        self.thread.start()

    def _run(self, fn, *args) -> None:
        try:
            self.outcome.append((True, fn(*args)))
        except BaseException as exc:  # noqa: BLE001 — re-raised by result(), in the test's thread
            self.outcome.append((False, exc))

    def done(self) -> bool:
        return not self.thread.is_alive()

    def result(self, timeout: float):
        self.thread.join(timeout)
        assert self.done(), f"still running after {timeout} s"
        ok, value = self.outcome[0]
        if not ok:
            raise value
        return value


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # the advisory lock is PostgreSQL's
def test_imports_into_one_hall_take_turns(database_url, tmp_path):
    """A second import into a hall waits for the first one's transaction, then sees its cases: without the turn,
    the second would count the first's uncommitted cases as new before its merge waited on them. An import into
    another hall does not wait."""
    import time

    from sqlalchemy import text

    from callback.halls.services import ensure_hall
    from callback.ledger.importer import import_file

    with session_factory(database_url).begin() as s:
        for code in ("DEMO", "OTHER"):
            ensure_hall(s, code)
    first = write_csv(tmp_path / "a.csv", ROWS[:3])
    changed = [r[:] for r in ROWS]
    changed[2][1] = "发票代开"  # A003 changed
    second = write_csv(tmp_path / "b.csv", changed)

    def import_into(hall_code: str, path: Path):
        with session_factory(database_url).begin() as s:
            s.execute(text("SET LOCAL lock_timeout = '60s'"))  # a regression must not hang the run
            summary = import_file(s, ensure_hall(s, hall_code), path)
            return summary.imported, summary.updated, summary.unchanged

    def waiting_for_the_lock() -> int:
        with session_factory(database_url)() as s:
            return s.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))

    holder = session_factory(database_url)()
    waiter = None
    try:
        holder.execute(text("SET LOCAL lock_timeout = '60s'"))
        assert import_file(holder, ensure_hall(holder, "DEMO"), first).imported == 3  # not committed
        waiter = _InThread(import_into, "DEMO", second)
        deadline = time.monotonic() + 30
        while waiting_for_the_lock() == 0 and not waiter.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert not waiter.done(), "the second import into the hall did not wait for the first"
        assert waiting_for_the_lock() == 1, "the second import is not waiting on the hall's advisory lock"
        assert _InThread(import_into, "OTHER", second).result(60) == (5, 0, 0)  # another hall: no turn to wait
        assert not waiter.done()
        holder.commit()
        assert waiter.result(60) == (2, 1, 2)  # A004 and A005 new, A003 changed, A001 and A002 as the first left them
    finally:
        holder.close()  # rolls back (and so lets the waiter go) if the test failed half-way
        if waiter is not None:
            waiter.thread.join(60)
    assert cases(database_url)["A003"].item_name == "发票代开"
    with session_factory(database_url)() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 10  # 5 in each hall


def _ledger_row(case_no: str, version: int = 0) -> list[str]:
    """A case row; each `version` changes its item, window, staff, phone and acceptance day."""
    return [case_no, "营业执照" if version == 0 else f"变更{version}", "张三", f"1390013{int(case_no[1:]) * 10 + version:04d}",
            ("综合窗口", "税务窗口", "不动产登记窗口")[version % 3], ("王芳", "李娜", "张伟")[version % 3],
            f"2026-11-{3 + version:02d} 09:12", ""]


def test_reimport_mixing_new_changed_and_unchanged_rows_in_every_batch(database_url, monkeypatch, tmp_path):
    """Small chunks (5 records): every chunk holds new, changed and unchanged rows, and case numbers come back in
    later chunks (changed again, or not) and within a chunk. Each row counts once; the stored cases are the
    file's last row of each."""
    from callback.ledger import importer
    from callback.models import Staff

    monkeypatch.setattr(importer, "CHUNK_ROWS", 5)
    import_json(database_url, monkeypatch, write_csv(tmp_path / "a.csv", [_ledger_row(f"C{i:02d}") for i in range(12)]))
    merges = _count_merges(monkeypatch)
    rows = [  # (case, version): version 0 is what the first file had
        ("N00", 1), ("C00", 0), ("C01", 1), ("N01", 1), ("C02", 0),  # chunk 1: 2 new, 1 changed, 2 unchanged
        ("C03", 1), ("N00", 2), ("C04", 0), ("N02", 1), ("C01", 1),  # 1 new, 2 changed (N00 again), 2 unchanged
        ("C05", 1), ("C05", 2), ("N03", 1), ("C06", 0), ("C00", 1),  # C05's first row superseded: unchanged
        ("N04", 1), ("C07", 1), ("C08", 0), ("N04", 1), ("C09", 1),  # N04 twice alike: the first is superseded
        ("C10", 0), ("N01", 1), ("C11", 1), ("N05", 1), ("N05", 2),  # 1 new, 1 changed, 3 unchanged
    ]
    summary = import_json(database_url, monkeypatch, write_csv(tmp_path / "b.csv", [_ledger_row(*r) for r in rows]))
    assert summary == {"rows": 25, "imported": 6, "updated": 8, "unchanged": 11, "rejected": []}
    assert merges == [5, 5, 4, 4, 4]  # a merge a chunk, of its distinct case numbers

    last = {case_no: _ledger_row(case_no, version) for case_no, version in rows}
    with session_factory(database_url)() as s:
        stored = s.execute(
            select(Case.case_no, Case.item_name, Window.name.label("window"), Staff.name.label("staff"), Contact.phone,
                   Case.accepted_at)
            .join(Window, Window.id == Case.window_id).join(Staff, Staff.id == Case.staff_id)
            .join(Contact, Contact.id == Case.contact_id)).all()
    assert len(stored) == 18  # 12 C cases, 6 N cases
    assert {r.case_no: (r.item_name, r.window, r.staff, r.phone, r.accepted_at) for r in stored} == {
        case_no: (item, window, staff, "+86" + phone, datetime(2026, 11, int(accepted[8:10]), 1, 12, tzinfo=UTC))
        for case_no, (_, item, _, phone, window, staff, accepted, _) in last.items()}


def test_a_first_import_finds_its_own_earlier_rows_across_batches(database_url, monkeypatch, tmp_path):
    """A case repeated three chunks later in a hall's first import, changed or not, is found (an update, or
    unchanged), never a second insert."""
    from callback.ledger import importer

    monkeypatch.setattr(importer, "CHUNK_ROWS", 3)
    rows = [(f"F{i:02d}", 0) for i in range(12)] + [("F01", 1), ("F02", 0), ("F09", 2), ("F20", 0)]
    summary = import_json(database_url, monkeypatch, write_csv(tmp_path / "f.csv", [_ledger_row(*r) for r in rows]))
    assert summary == {"rows": 16, "imported": 13, "updated": 2, "unchanged": 1, "rejected": []}
    stored = cases(database_url)
    assert len(stored) == 13
    assert (stored["F01"].item_name, stored["F09"].item_name, stored["F02"].item_name) == ("变更1", "变更2", "营业执照")
    with session_factory(database_url)() as s:  # every case has its contact, in its hall
        assert s.scalar(select(func.count()).select_from(Case).join(Contact, Contact.id == Case.contact_id)
                        .where(Contact.hall_id == Case.hall_id)) == 13


def test_cells_holding_copy_control_characters_are_stored_as_written(database_url, monkeypatch, tmp_path):
    """PostgreSQL's COPY text format gives backslashes, tabs and line breaks a meaning ("\\N" is NULL): cells that
    hold them must come back exactly as the file had them."""
    odd = {"E01": "路径C:\\新建\\N", "E02": "含\t制表符", "E03": "两行\n文字", "E04": "回\r车", "E05": "\\N",
           "E06": "普通"}
    rows = [[no, item, "张三", "13800138000", "综合窗口", "王芳", "2026-11-03 09:12", ""] for no, item in odd.items()]
    summary = import_json(database_url, monkeypatch, write_csv(tmp_path / "e.csv", rows))
    assert summary["imported"] == 6
    assert {no: case.item_name for no, case in cases(database_url).items()} == odd
    again = import_json(database_url, monkeypatch, write_csv(tmp_path / "e.csv", rows))
    assert again["unchanged"] == 6  # the stored rows hash as the file's


def _count_merges(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the rows of each merge the importer makes."""
    from callback.ledger import importer

    merges: list[int] = []
    write = importer._Merge.write

    def counted(self, present, staged, summary) -> None:
        merges.append(len(staged) if isinstance(staged, list) else staged.count("\n"))
        write(self, present, staged, summary)

    monkeypatch.setattr(importer._Merge, "write", counted)
    return merges


def _case(i: int, item: str = "营业执照") -> list[str]:
    return [f"B{i:04d}", item, "张三", f"1390013{i:04d}", "综合窗口", "员工1", "2026-11-03 09:12", ""]


def test_counts_hold_across_many_chunks_whatever_rows_come_first(database_url, monkeypatch, tmp_path):
    """New rows first, then unchanged and changed ones, in chunks of 5."""
    from callback.ledger import importer

    monkeypatch.setattr(importer, "CHUNK_ROWS", 5)
    first = import_json(database_url, monkeypatch, write_csv(tmp_path / "a.csv", [_case(i) for i in range(100, 130)]))
    assert (first["imported"], first["updated"], first["unchanged"]) == (30, 0, 0)
    again = [_case(i) for i in range(10)] + [_case(i, "变更" if i % 4 == 0 else "营业执照") for i in range(100, 130)]
    second = import_json(database_url, monkeypatch, write_csv(tmp_path / "b.csv", again))
    assert (second["rows"], second["imported"], second["updated"], second["unchanged"]) == (40, 10, 8, 22)


MULTILINE = "事项\n第二行"
QUOTED = '他说"好"'


def _tricky_rows() -> list[list[str]]:
    """40 data rows below a title and a header (Excel rows 3 to 42): quoted cells holding line breaks and doubled
    quotes all over, a blank row, a repeated header, a case number seen twice, and four rows to reject."""
    rows = [[f"A{i:04d}", MULTILINE if i % 4 == 1 else "营业执照", QUOTED if i % 6 == 4 else "张三",
             f"1380013{i:04d}", "综合窗口", f"员工{i % 3}", f"2026-11-{1 + i % 28:02d} 09:{i % 60:02d}", ""]
            for i in range(40)]
    rows[5][1] = "多行事项\n" * 30
    rows[7][0] = ""  # Excel row 10: no case number → rejected
    rows[9] = [""] * len(HEADER)  # blank row, skipped
    rows[11][1], rows[11][2] = "事项\r\n第二行", '引号""两个'  # CRLF inside a cell
    rows[14] = list(HEADER)  # repeated header row, skipped
    rows[17][6] = "明天"  # Excel row 20: unparseable date → rejected
    rows[20][1] = '"\n"'  # quotes and a line break only
    rows[23][0] = "A00\n23"  # Excel row 26: a case number holding a line break → rejected
    rows[26][2] = '"'
    rows[29][4] = ""  # Excel row 32: no window → rejected
    rows[33][1], rows[33][2] = MULTILINE + "\n" + MULTILINE, '"' + QUOTED + '\n"'
    rows[35][0] = "A0002"  # A0002 again, in a later chunk: its last row wins
    rows[39][1] = "末行\n"  # the last row ends inside a quoted cell's line break
    return rows


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_quoted_cells_with_line_breaks_and_quotes_land_as_written(database_url, monkeypatch, tmp_path, encoding):
    from callback.ledger import importer

    monkeypatch.setattr(importer, "CHUNK_ROWS", 7)  # A0002's rows in different chunks
    path = tmp_path / "l.csv"
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(["2026年11月 受理台账"])
        writer.writerow(HEADER)
        writer.writerows(_tricky_rows())
    summary = import_json(database_url, monkeypatch, path)
    assert [r["row"] for r in summary["rejected"]] == [10, 20, 26, 32]  # Excel rows: title 1, header 2
    assert "case_no holds a line break" in summary["rejected"][2]["reason"]
    assert (summary["rows"], summary["imported"], summary["updated"]) == (38, 33, 1)  # A0002 changed later
    stored = cases(database_url)
    assert (stored["A0001"].item_name, stored["A0004"].applicant) == ("事项\n第二行", QUOTED)
    assert (stored["A0011"].item_name, stored["A0011"].applicant) == ("事项\r\n第二行", '引号""两个')
    assert (stored["A0020"].item_name, stored["A0026"].applicant) == ('"\n"', '"')
    assert stored["A0005"].item_name == "多行事项\n" * 29 + "多行事项"  # trimmed
    assert stored["A0039"].item_name == "末行"
    assert stored["A0002"].accepted_at == datetime(2026, 11, 8, 1, 35, tzinfo=UTC)  # rows[35]: day 1 + 35 % 28


@pytest.mark.parametrize("line_break", ["\n", "\r\n", "\r"])
def test_a_case_number_holding_a_line_break_is_rejected_in_its_row(database_url, tmp_path, monkeypatch, line_break):
    """A quoted case number spanning lines is refused with its Excel row number, and the rows below keep theirs."""
    rows = [_case(i, MULTILINE if i % 2 else "营业执照") for i in range(9)]  # rows[i] on Excel row i + 2
    rows[1][0] = f"B{line_break}0001"
    rows[3][4] = ""  # no window
    rows[4][0] = f"{line_break}B000{line_break}4{line_break}"  # trimmed, the inner break stays
    rows[6][6] = "明天"
    summary = import_json(database_url, monkeypatch, write_csv(tmp_path / "l.csv", rows))
    assert [(r["row"], r["reason"]) for r in summary["rejected"]][:3] == [
        (3, "办件编号含换行 / case_no holds a line break"), (5, "缺少窗口 / missing window"),
        (6, "办件编号含换行 / case_no holds a line break")]
    assert (summary["imported"], [r["row"] for r in summary["rejected"]]) == (5, [3, 5, 6, 8])
    assert sorted(cases(database_url)) == ["B0000", "B0002", "B0005", "B0007", "B0008"]


def test_a_nul_byte_is_a_rejected_row_not_a_database_error(database_url, tmp_path, monkeypatch):
    rows = [_case(i) for i in range(1200)]
    rows[1000][2] = "张\x00三"
    report = import_json(database_url, monkeypatch, write_csv(tmp_path / "l.csv", rows))
    # the row is rejected and the others land, alike on both backends (PostgreSQL refuses a NUL in text)
    assert [r["row"] for r in report["rejected"]] == [1002]  # header 1, rows[i]: i+2
    assert "NUL" in report["rejected"][0]["reason"] and report["imported"] == 1199


@pytest.mark.parametrize("failing", ["merge", "file"])
def test_an_import_that_fails_half_way_leaves_the_ledger_as_it_was(database_url, monkeypatch, tmp_path, failing):
    """A statement that fails in the third chunk, or a file that turns out unreadable after several chunks were
    merged (while the next chunk is read ahead), fails the import as a whole: no case or contact is left, the
    command exits 2 or fails, and the next import goes through."""
    from callback.ledger import importer

    monkeypatch.setattr(importer, "CHUNK_ROWS", 100)
    rows = [_case(i) for i in range(1200)]  # more than the 64 KiB the reader checks the encoding on
    path = write_csv(tmp_path / "h.csv", rows)
    merged: list[int] = []
    if failing == "file":  # a record the reader cannot decode, after the last good chunk
        path.write_bytes(path.read_bytes() + b"H99,\xff\xfe,x,13800138000,w,s,2026-11-03 09:12,\n")
    merge = importer._Merge._merge

    def fail_third(self, present, summary) -> None:
        merged.append(1)
        if failing == "merge" and len(merged) == 3:
            raise RuntimeError("the server went away")
        merge(self, present, summary)

    monkeypatch.setattr(importer._Merge, "_merge", fail_third)
    result = run(database_url, monkeypatch, "import-ledger", str(path), "--json")
    assert result.exit_code != 0
    assert len(merged) == (3 if failing == "merge" else 11)  # the 12th chunk holds the damage
    if failing == "file":
        assert result.exit_code == 2 and "无法读取" in result.output
    assert cases(database_url) == {}
    with session_factory(database_url)() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 0
    monkeypatch.undo()
    assert import_json(database_url, monkeypatch, write_csv(tmp_path / "ok.csv", rows))["imported"] == 1200


# --------------------------------------------------------------------------------------------- the two paths


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # COPY is PostgreSQL's
def test_the_copy_stage_holds_what_the_insert_stage_holds(database_url, monkeypatch, tmp_path):
    """The fast path behind `_stage_rows`: PostgreSQL loads the stage with COPY text rendered in Python. The same
    rows loaded by the plain INSERT give the same stage, value for value, and a whole import through either path
    the same cases."""
    from sqlalchemy import text

    from callback.halls.services import ensure_hall
    from callback.ledger import importer
    from callback.ledger.records import build_case_row

    odd = ["路径C:\\新建\\N", "含\t制表符", "两行\n文字", "回\r车", "\\N", "\\\\t", "", "普通 ", "末尾\\"]
    records = [{"case_no": f"S{i:02d}", "window": f"窗口{text_}", "staff": text_ or None, "phone": phone,
                "accepted_at": "2026-11-03 09:12:07", "completed_at": "" if i % 2 else "2026-11-04",
                "item_name": text_, "applicant": text_[::-1]}
               for i, text_ in enumerate(odd) for phone in ["13800138000" if i % 3 else "0536-8123456 转 8"]]
    rows = [build_case_row(record) for record in records]
    staged = {}
    with session_factory(database_url)() as s:
        importer._STAGE.create(s.connection())
        for copy in (True, False):
            importer._load_stage(s, importer._stage_rows(rows, copy))
            staged[copy] = s.execute(text("SELECT * FROM ledger_stage ORDER BY case_no")).all()
            s.execute(text("TRUNCATE ledger_stage"))
        s.rollback()
    assert len(staged[True]) == len(odd) and staged[True] == staged[False]

    path = tmp_path / "odd.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, ["case_no", "window", "staff", "phone", "accepted_at", "completed_at", "item_name",
                                    "applicant"])
        writer.writeheader()
        writer.writerows(records)
    stored = {}
    for copy in (True, False):
        monkeypatch.setattr(importer, "_stage_rows", lambda rows, _, copy=copy, plain=importer._stage_rows:
                            plain(rows, copy))
        with session_factory(database_url).begin() as s:
            summary = importer.import_file(s, ensure_hall(s, f"HALL{copy}"), path)
            assert (summary.imported, summary.rejected) == (len(odd), [])
        stored[copy] = {no: (c.window.name, c.staff_id is not None, c.contact_id is not None, c.phone_raw,
                             c.phone_kind, c.accepted_at, c.completed_at, c.item_name, c.applicant, c.row_hash)
                        for no, c in cases(database_url, f"HALL{copy}").items()}
    assert stored[True] == stored[False] and len(stored[True]) == len(odd)


def test_read_ahead_gives_the_items_in_order_and_raises_where_they_failed():
    from callback.ledger.importer import read_ahead

    assert list(read_ahead(iter(range(5)))) == [0, 1, 2, 3, 4]
    assert list(read_ahead(iter([]))) == []

    def failing():
        yield 1
        yield 2
        raise ValueError("row 3 unreadable")

    got = []
    with pytest.raises(ValueError, match="row 3"):
        for item in read_ahead(failing()):
            got.append(item)
    assert got == [1, 2]


def test_read_ahead_closes_what_it_reads_when_the_caller_stops():
    import threading

    from callback.ledger.importer import read_ahead

    closed, made_in = [], []

    def source():
        try:
            for i in range(100):
                made_in.append(threading.current_thread().name)
                yield i
        finally:
            closed.append(True)

    ahead = read_ahead(source())
    assert next(ahead) == 0
    ahead.close()  # the caller failed while working with item 0
    assert closed == [True]
    assert 2 <= len(made_in) <= 3 and all(name.startswith("ledger-read-ahead") for name in made_in)


def test_reading_ahead_imports_what_reading_in_turn_imports(database_url, monkeypatch, tmp_path):
    """The read-ahead thread changes when a chunk is validated, not what lands: the same file imported with
    chunks read in turn (read_ahead replaced by iter) gives the same summaries and cases."""
    from callback.halls.services import ensure_hall
    from callback.ledger import importer
    from callback.models import Hall

    monkeypatch.setattr(importer, "CHUNK_ROWS", 4)
    first = write_csv(tmp_path / "a.csv", [_ledger_row(f"R{i:02d}") for i in range(10)])
    second = write_csv(tmp_path / "b.csv", [_ledger_row(f"R{i:02d}", i % 3) for i in range(4, 16)] + [["", *ROWS[0][1:]]])
    outcome = {}
    for mode in ("ahead", "in turn"):
        if mode == "in turn":
            monkeypatch.setattr(importer, "read_ahead", iter)
        summaries = []
        for path in (first, second):
            with session_factory(database_url).begin() as s:
                summaries.append(importer.import_file(s, ensure_hall(s, mode.upper()), path).as_json())
        with session_factory(database_url)() as s:
            stored = s.execute(
                select(Case.case_no, Case.item_name, Window.name, Contact.phone, Case.accepted_at)
                .join(Hall, Hall.id == Case.hall_id).join(Window, Window.id == Case.window_id)
                .join(Contact, Contact.id == Case.contact_id).where(Hall.code == mode.upper())
                .order_by(Case.case_no)).all()
        outcome[mode] = summaries, [tuple(row) for row in stored]
    assert outcome["ahead"] == outcome["in turn"]
    summaries, stored = outcome["ahead"]
    assert [(s["imported"], s["updated"], s["unchanged"], len(s["rejected"])) for s in summaries] == [
        (10, 0, 0, 0), (6, 4, 2, 1)]
    assert len(stored) == 16
