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


def cases(database_url: str) -> dict[str, Case]:
    with session_factory(database_url)() as s:
        return {c.case_no: c for c in s.scalars(select(Case)).unique()}


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
    from callback.halls import ensure_hall
    from callback.ledger.importer import import_file

    known = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
    with session_factory(database_url).begin() as s:
        import_file(s, ensure_hall(s, "DEMO"), write_csv(tmp_path / "l.csv", ROWS), now=known)
    assert {c.created_at for c in cases(database_url).values()} == {known}


def test_the_callers_transaction_gets_its_planner_settings_back(database_url, tmp_path):
    from sqlalchemy import text

    from callback.halls import ensure_hall
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
