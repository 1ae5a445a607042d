"""The monthly template: generated, filled in, imported — bad rows rejected by row number, good rows kept,
re-imports add nothing new."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.assessment.services import monthly_assessment
from callback.assessment.template import (
    CLAUSE_SHEET,
    COLUMNS,
    ENTRY_SHEET,
    STAFF_SHEET,
    TemplateFileError,
    import_entries,
    template_csv,
    template_xlsx,
)
from callback.models.assessment import AssessmentEntry
from survey.assessment_rules import CLAUSES
from tests.callback.assessment.builders import TAX, cases, hall, staff_member

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
GOOD = [
    ["张伟", "2026-11-03", "一1", 2, "两次迟到未打卡", "not_recorded"],  # −4
    ["张伟", "2026-11-12", "一3", None, "离岗", None, 40],  # 空岗 −2
    ["李娜", "2026/11/20", "（三）7", 1, "言语生硬", None, None, 1.5],  # −1.5
    ["李娜", "2026年11月21日", "七4", 3, "锦旗"],  # +1.5
]
BAD = [
    ["王五", "2026-11-03", "一2", 1, "不是本中心的人"],
    ["张伟", "下周一", "一2", 1, ""],
    ["张伟", "2026-11-04", "一1", 1, "缺等次"],
    ["张伟", "2026-11-05", "二1", "两次", ""],
    ["张伟", "2027-01-05", "产假", None, "", "", "", ""],  # a month that has not begun
]


def filled(session: Session, rows: list[list[object]], tmp_path: Path, name: str = "filled.xlsx") -> Path:
    book = load_workbook(io.BytesIO(template_xlsx(session, hall(session), "2026-11")))
    sheet = book[ENTRY_SHEET]
    for row in rows:
        sheet.append(row)
    path = tmp_path / name
    book.save(path)
    return path


@pytest.fixture
def staff(session: Session) -> None:
    for name in ("张伟", "李娜"):
        cases(session, staff_member(session, name, TAX), TAX, 1)


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AssessmentEntry))


def test_the_template_lists_the_columns_the_clauses_and_the_staff(session: Session, staff) -> None:
    book = load_workbook(io.BytesIO(template_xlsx(session, hall(session), "2026-11")))
    assert [c.value for c in book[ENTRY_SHEET][2]] == list(COLUMNS)
    listed = {row[0] for row in book[CLAUSE_SHEET].iter_rows(min_row=2, values_only=True)}
    assert {c.id for c in CLAUSES} <= listed and "产假" in listed
    seed = {row[5] for row in book[CLAUSE_SHEET].iter_rows(min_row=2, values_only=True)}
    assert next(c.text for c in CLAUSES if c.id == "七4") in seed
    assert [row[0] for row in book[STAFF_SHEET].iter_rows(min_row=2, values_only=True)] == ["张伟", "李娜"]
    assert all(cell.data_type != "f" for sheet in book for row in sheet.iter_rows() for cell in row)


def test_template_round_trip_with_bad_rows(session: Session, staff, tmp_path: Path) -> None:
    path = filled(session, GOOD[:2] + BAD + GOOD[2:], tmp_path)
    report = import_entries(session, hall(session), path, NOW, actor="督查科")
    assert len(report.added) == 4 and report.skipped == []
    # rows 3 and 4 are the good ones; 5–9 the bad ones (1: the caption, 2: the header)
    assert [number for number, _ in report.rejected] == [5, 6, 7, 8, 9]
    reasons = dict(report.rejected)
    assert "王五" in reasons[5] and "日期" in reasons[6] and "等次" in reasons[7] and "次数" in reasons[8]
    assert "尚未开始" in reasons[9]
    rows = {r["name"]: r for r in monthly_assessment(session, hall(session), "2026-11", NOW)["staff"]}
    assert rows["张伟"]["total"] == 100 - 2 * 2 - 2
    assert rows["李娜"]["total"] == 100 - 1.5 + 3 * 0.5


def test_importing_again_adds_nothing_and_added_rows_only_once(session: Session, staff, tmp_path: Path) -> None:
    first = import_entries(session, hall(session), filled(session, GOOD, tmp_path), NOW, actor="督查科")
    again = import_entries(session, hall(session), filled(session, GOOD, tmp_path), NOW, actor="督查科")
    assert (len(first.added), len(again.added), again.skipped) == (4, 0, [3, 4, 5, 6])
    more = GOOD + [GOOD[0]]  # the same line twice in a file: two occurrences, two entries
    third = import_entries(session, hall(session), filled(session, more, tmp_path), NOW, actor="督查科")
    assert len(third.added) == 1 and count(session) == 5


def test_with_a_month_rows_of_other_months_are_bad_rows(session: Session, staff, tmp_path: Path) -> None:
    path = filled(session, [*GOOD, ["张伟", "2026-10-30", "一2", 1, "上月的"]], tmp_path)
    report = import_entries(session, hall(session), path, NOW, actor="督查科", month="2026-11")
    assert len(report.added) == 4 and [n for n, _ in report.rejected] == [7]
    assert "不在 2026-11" in report.rejected[0][1]


def test_a_csv_in_gb18030_imports_like_the_workbook(session: Session, staff, tmp_path: Path) -> None:
    header = template_csv().decode("utf-8-sig")
    lines = [header.strip(), "张伟,2026-11-03,一2,2,指纹", "李娜,2026-11-04,二8,1,停车"]
    path = tmp_path / "entries.csv"
    path.write_bytes("\r\n".join(lines).encode("gb18030"))
    report = import_entries(session, hall(session), path, NOW, actor="督查科")
    assert len(report.added) == 2 and report.rejected == []


def test_a_file_without_the_columns_imports_nothing(session: Session, staff, tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("姓名,分数\n张伟,3\n", encoding="utf-8")
    with pytest.raises(TemplateFileError, match="表头"):
        import_entries(session, hall(session), path, NOW, actor="督查科")
    assert count(session) == 0
