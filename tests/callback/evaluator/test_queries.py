"""What the reports read: a hall's presses in [start, end) counted by rating per window and per staff member
(篇2 六; 篇3 (五)1); and the demo's bundled export, which grades every window of week 2026-W48 when combined."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.evaluator.queries import presses_by_staff, presses_by_window
from callback.evaluator.services import import_file, import_records
from callback.halls.services import ensure_hall
from callback.ledger.importer import import_file as import_ledger
from callback.models import Staff, Window
from survey.scale import Rating

S, B, U = Rating.S, Rating.B, Rating.U
SAMPLES = Path(__file__).parents[3] / "callback" / "samples"
WEEK_START = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # Monday 2026-11-23 00:00 Asia/Shanghai (2026-W48)
WEEK_END = WEEK_START + timedelta(days=7)


def record(at: str, window: str, level: str, staff: str = "") -> dict[str, str]:
    return {"pressed_at": at, "window": window, "level": level, "staff": staff}


def ids(session: Session, model: type, hall_id: int) -> dict[str, int]:
    return {name: id_ for name, id_ in session.execute(select(model.name, model.id).where(model.hall_id == hall_id))}


def test_presses_by_window_and_staff_within_the_bounds(session: Session) -> None:
    hall, other = ensure_hall(session, "H1"), ensure_hall(session, "H2")
    rows = [record("2026-11-23 00:00:00", "税务窗口", "满意", "王芳"),  # the first instant of the week counts
            record("2026-11-25 10:00", "税务窗口", "非常满意", "王芳"),
            record("2026-11-25 10:05", "税务窗口", "基本满意", "李娜"),
            record("2026-11-26 15:00", "税务窗口", "不满意"),  # no staff member recorded
            record("2026-11-27 09:00", "市场监管窗口", "不满意", "李娜"),
            record("2026-11-29 23:59:59", "市场监管窗口", "满意", "张伟"),
            record("2026-11-30 00:00:00", "市场监管窗口", "不满意", "张伟"),  # the next week
            record("2026-11-22 23:59:59", "税务窗口", "不满意", "王芳")]  # the week before
    summary = import_records(session, hall, enumerate(rows, 1), source="test")
    import_records(session, other, enumerate(rows[:3], 1), source="test")  # another hall's presses
    assert summary.imported == len(rows)
    windows, staff = ids(session, Window, hall.id), ids(session, Staff, hall.id)
    assert presses_by_window(session, hall.id, WEEK_START, WEEK_END) == {
        windows["税务窗口"]: Counter({S: 2, B: 1, U: 1}),
        windows["市场监管窗口"]: Counter({U: 1, S: 1}),
    }
    assert presses_by_staff(session, hall.id, WEEK_START, WEEK_END) == {
        staff["王芳"]: Counter({S: 2}), staff["李娜"]: Counter({B: 1, U: 1}), staff["张伟"]: Counter({S: 1}),
    }
    assert presses_by_window(session, hall.id, WEEK_END, WEEK_END + timedelta(days=7)) == {
        windows["市场监管窗口"]: Counter({U: 1})}
    assert presses_by_window(session, ensure_hall(session, "H3").id, WEEK_START, WEEK_END) == {}


def test_the_demo_export_grades_every_window_of_the_ledger_in_week_48(session: Session) -> None:
    hall = ensure_hall(session, "DEMO")
    ledger = import_ledger(session, hall, SAMPLES / "sample-ledger-2026-11.csv")
    ledger_windows, ledger_staff = set(ids(session, Window, hall.id)), set(ids(session, Staff, hall.id))
    summary = import_file(session, hall, SAMPLES / "sample-evaluator-2026-11.csv")
    assert ledger.imported == 72 and summary.imported == 77
    assert [r["row"] for r in summary.rejected] == [28, 55, 78]  # a couple of bad rows, named by row number
    # the export names the ledger's windows and staff: it creates none of its own
    assert set(ids(session, Window, hall.id)) == ledger_windows and set(ids(session, Staff, hall.id)) == ledger_staff
    week = presses_by_window(session, hall.id, WEEK_START, WEEK_END)
    assert set(week) == set(ids(session, Window, hall.id).values())
    assert all(sum(counts.values()) >= 5 for counts in week.values())  # enough for a grade (n ≥ 5)
    comprehensive = week[ids(session, Window, hall.id)["综合受理窗口"]]
    assert comprehensive == Counter({S: 8, B: 1, U: 1})  # the worked example: (800 + 60 + 0) / 10 = 86
