"""The monthly entry template (XLSX or CSV) and its import (issue 15 §2).

Columns: 工作人员 · 日期 · 条款 · 次数 · 说明, then the optional 等次 · 分钟 · 分值 for the clauses that need them.
The XLSX has a second sheet listing every clause with its grades, points and seed text (篇3), and a third with
the hall's staff; the 工作人员 and 条款 cells offer those lists (data validation, never a formula cell).

`import_entries` reads a filled-in file with callback.ledger.reader (CSV in any encoding the ledger accepts, or
XLSX): a bad row is rejected with its row number (as Excel shows it) and the reason, the good rows are kept.
A row is recognised by its content and its occurrence among identical rows of the file (``import_key``), so
importing the same file again — or the same file with rows added — adds only what is new. A changed row is a
new entry; to change what was imported, correct the entry (`callback assess correct`).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.assessment.entries import LEAVE, LEAVE_KINDS, MATERNITY, EntryError, EntryInput, add_entry
from callback.ledger.headers import normalise_header
from callback.ledger.reader import HeaderRowNotFound, UnreadableFile, named_records
from callback.ledger.values import cell_text, parse_datetime
from callback.models import Hall, Staff, Window
from callback.models.assessment import AssessmentEntry
from callback.results.spreadsheet import append_row, csv_row
from survey.assessment_rules import CLAUSES, SECTIONS_BY_ID
from survey.weeks import parse_month

COLUMNS = ("工作人员", "日期", "条款", "次数", "说明", "等次", "分钟", "分值")
_FIELDS = {"工作人员": "staff", "姓名": "staff", "日期": "day", "条款": "clause", "条款编号": "clause",
           "次数": "count", "说明": "note", "备注": "note", "等次": "grade", "分钟": "minutes", "分值": "points"}
_LOOKUP = {normalise_header(header): name for header, name in _FIELDS.items()}
REQUIRED = ("staff", "day", "clause")
_CLAUSE_NOISE = str.maketrans("", "", "()（） \u3000")  # "(一)1" and "（一）1" are 一1
ENTRY_SHEET, CLAUSE_SHEET, STAFF_SHEET = "考核录入", "条款", "工作人员"
TEMPLATE_ROWS = 500  # rows that offer the staff and clause lists


class TemplateFileError(ValueError):
    """A file that cannot be imported at all (unreadable, no header row); nothing was written."""


@dataclass
class ImportReport:
    added: list[int] = field(default_factory=list)  # entry ids
    skipped: list[int] = field(default_factory=list)  # row numbers imported before
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "skipped": self.skipped,
                "rejected": [{"row": row, "reason": reason} for row, reason in self.rejected]}


# --- the template ----------------------------------------------------------------------------------------------


def clause_rows() -> list[list[Any]]:
    """One row per clause grade (or per clause without grades): 条款 · 部分 · 等次 · 等次说明 · 每次分值 · 条款原文."""
    rows: list[list[Any]] = [[MATERNITY, "二", "", "产假：当月以基本分100分计（篇3 二）", "", "次数填1或留空"]]
    for rule in CLAUSES:
        section = f"（{rule.section}）{SECTIONS_BY_ID[rule.section].title}"
        if rule.id == LEAVE:
            rows += [[LEAVE, section, key, f"{label}天数（次数填天数）", "不计分", rule.text]
                     for key, label in LEAVE_KINDS.items()]
            continue
        for grade in rule.grades:
            points = (f"{grade.range[0]}–{grade.range[1]}（分值列填写）" if grade.range
                      else f"{grade.points:+}" + (f"/每{grade.per}次" if grade.per > 1 else ""))
            rows.append([rule.id, section, grade.key, grade.label, points, rule.text])
    return rows


def _staff_names(session: Session, hall: Hall) -> list[tuple[str, str]]:
    rows = session.execute(select(Staff.name, Window.name).outerjoin(Window, Window.id == Staff.window_id)
                           .where(Staff.hall_id == hall.id))
    return sorted((name, window or "") for name, window in rows)


def template_xlsx(session: Session, hall: Hall, month: str) -> bytes:
    """The month's entry workbook: 考核录入 (to fill in), 条款 (the clauses), 工作人员 (the hall's staff)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    year, number = parse_month(month)
    book = Workbook()
    sheet = book.active
    sheet.title = ENTRY_SHEET
    append_row(sheet, [f"{hall.name} {year}年{number}月 前台工作人员考核录入（篇3）：每行一项，日期须在本月；"
                       "条款见“条款”表，等次、分钟、分值仅在该条款需要时填写"])
    sheet["A1"].font = Font(bold=True)
    append_row(sheet, COLUMNS)
    clauses = book.create_sheet(CLAUSE_SHEET)
    append_row(clauses, ["条款", "部分", "等次", "等次说明", "每次分值", "条款原文（篇3）"])
    for row in clause_rows():
        append_row(clauses, row)
    staff = book.create_sheet(STAFF_SHEET)
    append_row(staff, ["工作人员", "窗口"])
    for row in _staff_names(session, hall):
        append_row(staff, row)
    _offer(sheet, DataValidation, "A", f"{STAFF_SHEET}!$A$2:$A${max(staff.max_row, 2)}")
    _offer(sheet, DataValidation, "C", f"{CLAUSE_SHEET}!$A$2:$A${clauses.max_row}")
    for column, width in zip("ABCDEFGH", (12, 12, 8, 6, 40, 16, 6, 6), strict=True):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _offer(sheet: Any, validation: Any, column: str, source: str) -> None:
    """A drop-down list in a column (data validation: the cells stay plain values)."""
    rule = validation(type="list", formula1=source, allow_blank=True, showErrorMessage=False)
    sheet.add_data_validation(rule)
    rule.add(f"{column}3:{column}{TEMPLATE_ROWS + 2}")


def template_csv() -> bytes:
    """The header row alone, UTF-8 with a BOM (Excel opens it with the Chinese intact)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(csv_row(COLUMNS))
    return buffer.getvalue().encode("utf-8-sig")


# --- the import ------------------------------------------------------------------------------------------------


def import_entries(session: Session, hall: Hall, path: str | Path, now: Any, *, actor: str,
                   month: str | None = None) -> ImportReport:
    """Add every good row of a filled-in template as an entry (origin ``import``); bad rows are reported with
    their row number and reason, rows imported before are skipped; with ``month``, a row dated in another month
    is a bad row. `TemplateFileError` before anything is written for a file that cannot be read. The caller
    commits."""
    known = set(session.scalars(select(AssessmentEntry.import_key).where(
        AssessmentEntry.hall_id == hall.id, AssessmentEntry.import_key.is_not(None))))
    seen: Counter[str] = Counter()
    report = ImportReport()
    for number, record in _records(Path(path)):
        content = _content_key(record)
        seen[content] += 1
        key = hashlib.sha256(f"{content}#{seen[content]}".encode()).hexdigest()
        if key in known:
            report.skipped.append(number)
            continue
        try:
            given = _input(record)
            if month is not None and given.day is not None and given.day.strftime("%Y-%m") != month:
                raise EntryError(f"日期 {given.day.isoformat()} 不在 {month} 月内")
            with session.begin_nested():
                report.added.append(add_entry(session, hall, given, now, actor=actor, origin="import",
                                              import_key=key).id)
            known.add(key)
        except EntryError as exc:
            report.rejected.append((number, str(exc)))
    return report


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, {field: cell}) below the header row, blank rows skipped."""
    try:
        yield from named_records(path, _LOOKUP, lambda columns: all(name in columns for name in REQUIRED))
    except HeaderRowNotFound:
        raise TemplateFileError("未找到表头行：须有“工作人员”“日期”“条款”三列（可用 callback assess template 生成模板）"
                                " (no header row with 工作人员, 日期, 条款)") from None
    except UnreadableFile as exc:
        raise TemplateFileError(f"{exc.zh} ({exc.en})") from None


def _content_key(record: dict[str, Any]) -> str:
    return "\x1f".join(cell_text(record.get(name)) for name in sorted(set(_FIELDS.values())))


def _day(value: Any) -> date:
    try:
        moment = parse_datetime(value.strip() if isinstance(value, str) else value)
    except ValueError:
        moment = None
    if moment is None:
        raise EntryError(f"日期“{cell_text(value)[:20]}”无法识别，请写成 2026-11-05")
    return moment.date()


def _whole(value: Any, what: str, default: int | None) -> int | None:
    text = cell_text(value)
    if not text:
        return default
    try:
        number = float(text)
    except ValueError:
        number = -1.5
    if number < 0 or not number.is_integer():
        raise EntryError(f"{what}“{text[:20]}”应为非负整数")
    return int(number)


def _input(record: dict[str, Any]) -> EntryInput:
    staff, clause_id = cell_text(record.get("staff")), cell_text(record.get("clause"))
    if not staff or not clause_id:
        raise EntryError("缺少工作人员或条款")
    return EntryInput(
        staff=staff, clause=clause_id.translate(_CLAUSE_NOISE), day=_day(record.get("day")),
        count=_whole(record.get("count"), "次数", 1) or 0, grade=cell_text(record.get("grade")) or None,
        minutes=_whole(record.get("minutes"), "分钟", None), points=cell_text(record.get("points")) or None,
        note=cell_text(record.get("note")),
    )
