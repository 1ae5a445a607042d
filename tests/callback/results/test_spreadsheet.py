"""Exports never carry live formulas (docs/architecture.md §Privacy and security): a name from a ledger that
starts with = + - @ tab or CR is written as text in every XLSX sheet and every CSV cell."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy.orm import Session

from callback.models import Answer, Callback
from callback.rectification.services import open_for_callback
from callback.results.report import weekly_report, write_xlsx
from callback.results.spreadsheet import append_row, csv_cell, csv_row, looks_like_formula
from tests.factories import make_case, make_hall, make_window

WEEK = "2026-W40"
EVIL_WINDOW = '=HYPERLINK("http://x","y")'
EVIL_HALL = "@SUM(1+1)*cmd|' /C calc'!A0"
OPENED = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
ALL_BAD = {"attitude": "U", "efficiency": "U", "by_the_rules": "U", "in_hall": "Y", "integrity": "N", "overall": "U"}


def evil_week(session: Session) -> object:
    """A hall and a window whose names are formulas, with a callback and a rectification case, so the names
    appear in all four sheets and in the caption."""
    hall = make_hall(session, code="EVIL", name=EVIL_HALL)
    window = make_window(session, hall, EVIL_WINDOW)
    case = make_case(session, hall, window)
    callback = Callback(hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=window.id,
                        week=WEEK, state="complete", channel="voice", token=secrets.token_hex(16),
                        suggestion="-1 分，=1+1", flags={})
    session.add(callback)
    session.flush()
    for item, value in ALL_BAD.items():
        session.add(Answer(hall_id=hall.id, callback_id=callback.id, item=item, value=value, channel="voice"))
    session.flush()
    assert open_for_callback(session, callback, OPENED) is not None
    return hall


def test_report_xlsx_has_no_formula_anywhere_and_the_text_is_intact(session: Session, tmp_path: Path) -> None:
    hall = evil_week(session)
    path = write_xlsx(weekly_report(session, hall, WEEK, OPENED), tmp_path / "week.xlsx")
    book = load_workbook(path)
    assert len(book.sheetnames) == 4
    for sheet in book:
        cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
        assert all(c.data_type != "f" for c in cells), [(sheet.title, c.coordinate, c.value) for c in cells
                                                         if c.data_type == "f"]
        assert EVIL_WINDOW in [c.value for c in cells], sheet.title  # the window's name, shown as it is
        assert EVIL_HALL in sheet["A1"].value
    assert all(c.quotePrefix for sheet in book for row in sheet.iter_rows() for c in row if c.value == EVIL_WINDOW)


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", EVIL_WINDOW])
def test_append_row_keeps_risky_text_as_text(tmp_path: Path, text: str) -> None:
    book = Workbook()
    append_row(book.active, [text, 42, -3.5, None, "窗口"])
    book.save(tmp_path / "t.xlsx")
    row = next(load_workbook(tmp_path / "t.xlsx").active.iter_rows())
    # XML reads a carriage return back as a line feed; what matters is the type
    assert [(c.value, c.data_type) for c in row[:3]] == [(text.replace("\r", "\n"), "s"), (42, "n"), (-3.5, "n")]
    assert row[4].value == "窗口"


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_csv_cells_that_look_like_formulas_get_a_quote(text: str) -> None:
    assert looks_like_formula(text) and csv_cell(text) == "'" + text
    out = io.StringIO()
    csv.writer(out).writerow(csv_row([text, -1, "窗口"]))
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["'" + text, "-1", "窗口"]


@pytest.mark.parametrize("value", ["窗口", "1+1", "a=b", "", -1, 3.5, None])
def test_other_values_are_left_alone(value: object) -> None:
    assert not looks_like_formula(value) and csv_cell(value) == value
