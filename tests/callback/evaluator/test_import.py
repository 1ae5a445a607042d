"""`callback evaluator import`: device and 好差评 exports (CSV in UTF-8, BOM or GBK; XLSX), a title row, Chinese
header synonyms, five or three levels or digits; bad rows rejected by the row number Excel shows, good rows kept,
a re-import adds nothing, a file without the required columns imports nothing (README "Electronic evaluator")."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from callback.cli import main
from callback.db import session_factory
from callback.models import EvaluatorPress, Hall, ImportBatch, Staff, Window

TITLE = ["示范县政务服务中心评价器数据（2026年11月）"]
HEADER = ["评价时间", "窗口名称", "工作人员", "评价结果", "办件编号"]
FIVE = [
    ["2026-11-23 09:12:05", "税务窗口", "王芳", "非常满意", "SF1"],
    ["2026-11-23 09:40:00", "税务窗口", "王芳", "满意", ""],
    ["2026-11-23 10:02:31", "税务窗口", "李娜", "基本满意", ""],
    ["2026-11-24 14:15:00", "市场监管窗口", "张伟", "不满意", ""],
    ["2026/11/24 15:00", "市场监管窗口", "张伟", "非常不满意", "SF2"],
]


def write_csv(path: Path, rows: list[list[str]], *, header: list[str] = HEADER, title: bool = False,
              encoding: str = "utf-8") -> Path:
    lines = ([",".join(TITLE)] if title else []) + [",".join(header)] + [",".join(r) for r in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["evaluator", "import", *args], env={"DATABASE_URL": database_url})


def imported(database_url: str, path: Path, *options: str) -> dict:
    result = run(database_url, str(path), "--json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def presses(database_url: str) -> list[tuple[str, str, str | None, str, str, str | None]]:
    """(local wall time, window, staff, rating, level, case number) of every press, in time order."""
    with session_factory(database_url)() as s:
        rows = s.execute(select(EvaluatorPress, Window.name, Staff.name)
                         .join(Window, Window.id == EvaluatorPress.window_id)
                         .outerjoin(Staff, Staff.id == EvaluatorPress.staff_id)
                         .order_by(EvaluatorPress.pressed_at, EvaluatorPress.id)).all()
        return [(_local(p.pressed_at), window, staff, p.rating, p.level, p.case_no) for p, window, staff in rows]


def _local(at: datetime) -> str:
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")


def count(database_url: str, model: type) -> int:
    with session_factory(database_url)() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_gbk_five_level_export_below_a_title_row(database_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "评价器.csv", FIVE, title=True, encoding="gbk")
    summary = imported(database_url, path)
    assert summary == {"rows": 5, "imported": 5, "updated": 0, "unchanged": 0, "rejected": []}
    assert presses(database_url) == [
        ("2026-11-23 09:12:05", "税务窗口", "王芳", "S", "非常满意", "SF1"),
        ("2026-11-23 09:40:00", "税务窗口", "王芳", "S", "满意", None),
        ("2026-11-23 10:02:31", "税务窗口", "李娜", "B", "基本满意", None),
        ("2026-11-24 14:15:00", "市场监管窗口", "张伟", "U", "不满意", None),
        ("2026-11-24 15:00:00", "市场监管窗口", "张伟", "U", "非常不满意", "SF2"),
    ]
    with session_factory(database_url)() as s:  # stored as UTC: Asia/Shanghai minus eight hours
        first = s.scalar(select(EvaluatorPress.pressed_at).order_by(EvaluatorPress.pressed_at).limit(1))
        assert first == datetime(2026, 11, 23, 1, 12, 5, tzinfo=UTC)
        batch = s.scalars(select(ImportBatch)).one()
        assert batch.source == "evaluator:评价器.csv" and batch.imported == 5
    assert count(database_url, Window) == 2 and count(database_url, Staff) == 3  # created on first use


def test_a_three_level_export_in_utf8_with_bom_and_other_header_names(database_url: str, tmp_path: Path) -> None:
    header = ["时间", "窗口", "受理人", "满意度", "受理编号"]
    rows = [["2026-11-23 09:00", "税务窗口", "王芳", "满意", ""],
            ["2026-11-23 09:05", "税务窗口", "王芳", "基本满意", ""],
            ["2026-11-23 09:10", "税务窗口", "王芳", "不满意", "SF9"]]
    path = write_csv(tmp_path / "three.csv", rows, header=header, encoding="utf-8-sig")
    assert imported(database_url, path, "--levels", "3")["imported"] == 3
    assert [(p[3], p[5]) for p in presses(database_url)] == [("S", None), ("B", None), ("U", "SF9")]


def test_traditional_headers_and_labels(database_url: str, tmp_path: Path) -> None:
    header = ["評價時間", "窗口名稱", "工作人員", "評價等級"]
    rows = [["2026-11-23 09:00", "稅務窗口", "王芳", "非常滿意"], ["2026-11-23 09:05", "稅務窗口", "王芳", "基本滿意"]]
    assert imported(database_url, write_csv(tmp_path / "trad.csv", rows, header=header))["imported"] == 2
    assert [p[3] for p in presses(database_url)] == ["S", "B"]


def test_digits_default_to_good_and_bad_review_stars(database_url: str, tmp_path: Path) -> None:
    header = ["评价时间", "窗口", "工号", "评价等级"]
    rows = [[f"2026-11-23 09:0{i}", "税务窗口", "A01", str(stars)] for i, stars in enumerate((5, 4, 3, 2, 1))]
    assert imported(database_url, write_csv(tmp_path / "stars.csv", rows, header=header))["imported"] == 5
    assert [p[3] for p in presses(database_url)] == ["S", "S", "B", "U", "U"]


def test_digits_as_configured(database_url: str, tmp_path: Path) -> None:
    rows = [[f"2026-11-23 09:0{i}", "税务窗口", "王芳", d, ""] for i, d in enumerate("12345")]
    summary = imported(database_url, write_csv(tmp_path / "keys.csv", rows), "--digits", "1=S,2=S,3=B,4=U")
    assert summary["imported"] == 4
    assert [(r["row"], r["reason"].split(" / ")[0]) for r in summary["rejected"]] == [
        (6, "评价结果“5”不在 1、2、3、4 之中（按 --digits）")]
    assert [p[3] for p in presses(database_url)] == ["S", "S", "B", "U"]


def test_reimporting_with_another_digit_mapping_updates_the_ratings_adds_nothing(database_url: str,
                                                                                  tmp_path: Path) -> None:
    rows = [["2026-11-23 09:00", "税务窗口", "王芳", "2", ""], ["2026-11-23 09:05", "税务窗口", "王芳", "1", ""]]
    path = write_csv(tmp_path / "keys.csv", rows)
    imported(database_url, path, "--levels", "3")
    again = imported(database_url, path, "--digits", "1=S,2=S")
    assert (again["imported"], again["updated"], again["unchanged"]) == (0, 1, 1)
    assert [p[3] for p in presses(database_url)] == ["S", "S"] and count(database_url, EvaluatorPress) == 2


def test_an_xlsx_export_built_in_excel(database_url: str, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["好差评系统评价明细"])  # a title row
    sheet.append(["评价时间", "评价窗口", "被评价人", "评价等级", "办件编号", "评价编号"])
    sheet.append([datetime(2026, 11, 23, 9, 12), "税务窗口", "王芳", 5, 2026110001, "PJ-1"])
    sheet.append([datetime(2026, 11, 23, 9, 30), "税务窗口", "王芳", 3.0, None, "PJ-2"])
    sheet.append(["2026年11月23日 10:00", "税务窗口", None, "不满意", None, "PJ-3"])
    sheet.append([None, None, None, None, None, None])  # blank rows are skipped
    sheet.append([46349.5, "税务窗口", "李娜", True, None, "PJ-4"])  # an Excel date serial; a boolean level
    path = tmp_path / "好差评.xlsx"
    book.save(path)
    summary = imported(database_url, path)
    assert summary["imported"] == 3
    assert [(r["row"], r["reason"].split(" / ")[0]) for r in summary["rejected"]] == [(7, "评价结果须为文字或数字")]
    assert presses(database_url) == [
        ("2026-11-23 09:12:00", "税务窗口", "王芳", "S", "5", "2026110001"),
        ("2026-11-23 09:30:00", "税务窗口", "王芳", "B", "3", None),
        ("2026-11-23 10:00:00", "税务窗口", None, "U", "不满意", None),
    ]
    assert imported(database_url, path)["unchanged"] == 3 and count(database_url, EvaluatorPress) == 3


def test_bad_rows_are_rejected_by_the_row_number_excel_shows_and_good_rows_land(database_url: str,
                                                                                tmp_path: Path) -> None:
    rows = [FIVE[0],
            ["", "税务窗口", "王芳", "满意", ""],
            ["2026-11-23 09:20", "", "王芳", "满意", ""],
            ["2026-11-23 09:30", "税务窗口", "王芳", "", ""],
            ["2026-11-31 09:30", "税务窗口", "王芳", "满意", ""],
            ["2026-11-23 09:40", "税务窗口", "王芳", "好评", ""],
            ["2026-11-23 09:50", "窗" * 201, "王芳", "满意", ""],
            FIVE[1]]
    summary = imported(database_url, write_csv(tmp_path / "bad.csv", rows, title=True, encoding="gbk"))
    assert summary["imported"] == 2 and summary["rows"] == 8
    # a title row and the header come first: the first data row is line 3
    assert [(r["row"], r["reason"].split(" / ")[0]) for r in summary["rejected"]] == [
        (4, "缺少评价时间"),
        (5, "缺少窗口"),
        (6, "缺少评价结果"),
        (7, "评价时间无法识别: 无法识别的日期时间：'2026-11-31 09:30'"),
        (8, "评价结果“好评”无法区分等级（好评包括满意或基本满意），请导出满意度等级"),
        (9, "窗口超过 200 个字符"),
    ]
    result = run(database_url, str(tmp_path / "bad.csv"))  # and in words
    assert "拒绝 6" in result.output and "第 4 行: 缺少评价时间" in result.output


def test_reimport_creates_no_duplicates_and_counts_them_unchanged(database_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "five.csv", FIVE, title=True, encoding="gbk")
    imported(database_url, path)
    again = imported(database_url, path)
    assert again == {"rows": 5, "imported": 0, "updated": 0, "unchanged": 5, "rejected": []}
    more = write_csv(tmp_path / "more.csv", [*FIVE, ["2026-11-25 09:00", "税务窗口", "王芳", "满意", ""]])
    third = imported(database_url, more)  # the month so far, exported again with a new press
    assert (third["imported"], third["unchanged"]) == (1, 5) and count(database_url, EvaluatorPress) == 6


def test_two_genuine_presses_in_the_same_second_both_count_once(database_url: str, tmp_path: Path) -> None:
    same = ["2026-11-23 09:12:05", "税务窗口", "王芳", "满意", ""]
    path = write_csv(tmp_path / "twice.csv", [same, same, FIVE[2]])
    assert imported(database_url, path)["imported"] == 3
    assert imported(database_url, path)["unchanged"] == 3
    # an overlapping export holding the same second three times adds the third press only
    assert imported(database_url, write_csv(tmp_path / "thrice.csv", [same, same, same]))["imported"] == 1
    assert count(database_url, EvaluatorPress) == 4


def test_a_device_record_id_is_the_press_identity(database_url: str, tmp_path: Path) -> None:
    header = ["评价编号", *HEADER]
    rows = [["R1", *FIVE[0]], ["R2", *FIVE[0]], ["R1", *FIVE[0]]]  # R1 exported twice (overlapping pages)
    summary = imported(database_url, write_csv(tmp_path / "ids.csv", rows, header=header))
    assert (summary["imported"], summary["unchanged"]) == (2, 1)
    corrected = [["R1", FIVE[0][0], "税务窗口", "李娜", "基本满意", "SF1"]]  # the device's record, corrected
    again = imported(database_url, write_csv(tmp_path / "fixed.csv", corrected, header=header))
    assert (again["imported"], again["updated"]) == (0, 1)
    assert sorted(p[2:4] for p in presses(database_url)) == [("李娜", "B"), ("王芳", "S")]


def test_a_repeated_header_row_and_a_footer_are_skipped(database_url: str, tmp_path: Path) -> None:
    rows = [FIVE[0], HEADER, FIVE[1], ["制表人：督查科", "", "", "", ""]]
    summary = imported(database_url, write_csv(tmp_path / "pages.csv", rows))
    assert summary["imported"] == 2 and [r["row"] for r in summary["rejected"]] == [5]


def test_staff_by_name_or_staff_number(database_url: str, tmp_path: Path) -> None:
    header = ["评价时间", "窗口", "工作人员", "工号", "评价结果"]
    first = [["2026-11-23 09:00", "税务窗口", "", "A07", "满意"],  # known by 工号 only
             ["2026-11-23 09:01", "税务窗口", "王芳", "", "满意"],  # known by name only
             ["2026-11-23 09:02", "税务窗口", "李娜", "A02", "满意"]]  # both
    imported(database_url, write_csv(tmp_path / "a.csv", first, header=header))
    later = [["2026-11-24 09:00", "税务窗口", "", "A02", "满意"],  # 李娜 by 工号
             ["2026-11-24 09:01", "税务窗口", "王芳", "A01", "满意"],  # 王芳 gets her 工号
             ["2026-11-24 09:02", "税务窗口", "赵敏", "A07", "满意"],  # A07 turns out to be 赵敏
             ["2026-11-24 09:03", "税务窗口", "张伟", "A01", "满意"],  # A01 is 王芳's
             ["2026-11-24 09:04", "税务窗口", "李娜", "A09", "满意"]]  # 李娜 is A02
    summary = imported(database_url, write_csv(tmp_path / "b.csv", later, header=header))
    assert [(r["row"], r["reason"].split(" / ")[0]) for r in summary["rejected"]] == [
        (5, "工号“A01”属于“王芳”，与本行的工作人员“张伟”不符"),
        (6, "工作人员“李娜”的工号是“A02”，与本行的工号“A09”不符")]
    with session_factory(database_url)() as s:
        assert dict(s.execute(select(Staff.name, Staff.staff_no)).all()) == {"王芳": "A01", "李娜": "A02", "赵敏": "A07"}
    assert [p[2] for p in presses(database_url)] == ["赵敏", "王芳", "李娜", "李娜", "王芳", "赵敏"]


def test_a_staff_number_alone_merges_into_the_ledgers_staff_member_of_that_name(database_url: str,
                                                                                  tmp_path: Path) -> None:
    with session_factory(database_url).begin() as s:  # the ledger knows 赵敏 by name
        hall = Hall(code="DEMO", name="示范")
        s.add(hall)
        s.flush()
        s.add(Staff(hall_id=hall.id, name="赵敏"))
    header = ["评价时间", "窗口", "工作人员", "工号", "评价结果"]
    rows = [["2026-11-23 09:00", "税务窗口", "", "A07", "满意"],
            ["2026-11-23 09:01", "税务窗口", "赵敏", "A07", "不满意"],
            ["2026-11-23 09:02", "税务窗口", "", "A07", "基本满意"]]
    path = write_csv(tmp_path / "merge.csv", rows, header=header)
    result = CliRunner().invoke(main, ["evaluator", "import", str(path), "--hall", "DEMO", "--json"],
                                env={"DATABASE_URL": database_url})
    assert json.loads(result.stdout)["imported"] == 3, result.output
    with session_factory(database_url)() as s:
        assert dict(s.execute(select(Staff.name, Staff.staff_no)).all()) == {"赵敏": "A07"}
    assert [p[2] for p in presses(database_url)] == ["赵敏", "赵敏", "赵敏"]


@pytest.mark.parametrize("header", [
    ["评价时间", "工作人员", "评价结果"],  # no window
    ["窗口", "工作人员", "评价结果"],  # no time
    ["评价时间", "窗口", "工作人员"],  # no level
    ["受理编号", "联系电话", "受理窗口", "受理时间"],  # a ledger, not an evaluator export
])
def test_a_file_without_the_required_columns_exits_2_and_imports_nothing(database_url: str, tmp_path: Path,
                                                                         header: list[str]) -> None:
    path = write_csv(tmp_path / "cols.csv", [["2026-11-23 09:00", "税务窗口", "王芳", "满意"][:len(header)]],
                     header=header, title=True)
    result = run(database_url, str(path))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    line = result.stderr.strip()
    assert "\n" not in line and "缺少必需的列" in line and "cols.csv" in line
    for model in (EvaluatorPress, ImportBatch, Window, Staff):
        assert count(database_url, model) == 0


def test_the_missing_column_is_named(database_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "nolevel.csv", [["2026-11-23 09:00", "税务窗口"]], header=["评价时间", "窗口"])
    assert "评价结果（level）" in run(database_url, str(path)).stderr


@pytest.mark.parametrize("make", [lambda tmp: tmp / "nope" / "评价器.csv", lambda tmp: tmp])
def test_a_missing_path_or_a_folder_is_one_line_and_exit_2(database_url: str, tmp_path: Path, make) -> None:
    path = make(tmp_path)
    result = run(database_url, str(path))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0]
    assert count(database_url, Hall) == 0


def test_bad_level_options_are_one_line_and_exit_2(database_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "five.csv", FIVE)
    result = run(database_url, str(path), "--levels", "5", "--digits", "1=S")
    assert result.exit_code == 2 and "--digits 只能与 --levels digits 一起使用" in result.stderr
    assert count(database_url, EvaluatorPress) == 0


def test_the_whole_import_is_one_transaction(database_url: str, tmp_path: Path, monkeypatch) -> None:
    from callback.evaluator import services

    monkeypatch.setattr(services, "CHUNK_ROWS", 2)
    real_store, calls = services._store, []

    def failing_store(*args, **kwargs) -> None:  # noqa: ANN002, ANN003
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the disk is full")
        real_store(*args, **kwargs)

    monkeypatch.setattr(services, "_store", failing_store)
    result = run(database_url, str(write_csv(tmp_path / "five.csv", FIVE)))
    assert isinstance(result.exception, RuntimeError)
    for model in (EvaluatorPress, ImportBatch, Window, Staff):
        assert count(database_url, model) == 0


def test_presses_in_chunks_count_the_same(database_url: str, tmp_path: Path, monkeypatch) -> None:
    from callback.evaluator import services

    monkeypatch.setattr(services, "CHUNK_ROWS", 2)
    same = ["2026-11-23 09:12:05", "税务窗口", "王芳", "满意", ""]
    path = write_csv(tmp_path / "chunks.csv", [same, *FIVE, same, same])
    assert imported(database_url, path)["imported"] == 8
    assert imported(database_url, path)["unchanged"] == 8
    assert Counter(p[3] for p in presses(database_url)) == Counter({"S": 5, "B": 1, "U": 2})
