"""Deadlines follow the calendar (docs/architecture.md §Working days): a case opened while its year was only
estimated gets the official deadline once the schedule is loaded (`callback calendar load`), audited as a case
event; a reminder or escalation made for the old date is made again for the new one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.calendar.services import WorkingCalendar, load_schedule_file
from callback.models.rectification import Rectification, RectificationEvent
from callback.rectification.services import (
    give_feedback,
    open_for_callback,
    recompute_deadlines,
    rectify,
    run_deadlines,
)
from tests.callback.rectification.test_rectification import ALL_GOOD, make_callback

EXAMPLE_2027 = Path(__file__).parents[3] / "callback" / "data" / "calendar-2027.example.csv"
# Thu 2027-01-28 10:00 Shanghai. 2027 is not covered by the package: the estimate has no 调休, so the case is due
# at the end of Tue 02-02 (Fri 29, Mon 01, Tue 02). The schedule makes Sun 01-31 a 调休 workday: due end of Mon 02-01.
OPENED = datetime(2027, 1, 28, 2, 0, tzinfo=UTC)
ESTIMATED_DUE = datetime(2027, 2, 2, 15, 59, 59, tzinfo=UTC)
OFFICIAL_DUE = datetime(2027, 2, 1, 15, 59, 59, tzinfo=UTC)


def opened(session: Session) -> Rectification:
    case = open_for_callback(session, make_callback(session, ALL_GOOD | {"overall": "B"}), OPENED,
                             calendar=WorkingCalendar())
    assert case is not None
    return case


def recompute_events(session: Session, case: Rectification) -> list[dict]:
    rows = session.scalars(select(RectificationEvent).where(RectificationEvent.rectification_id == case.id,
                                                            RectificationEvent.action == "deadline_recomputed"))
    return [e.detail for e in rows]


def test_a_case_opened_on_an_estimate_gets_the_official_deadline_once_loaded(session: Session) -> None:
    case = opened(session)
    assert (case.due_at, case.due_estimated) == (ESTIMATED_DUE, True)
    assert recompute_deadlines(session, OPENED) == []  # nothing loaded yet: the estimate stands
    load_schedule_file(session, EXAMPLE_2027)
    assert recompute_deadlines(session, OPENED + timedelta(hours=1), actor="管理员") == [case.id]
    assert (case.due_at, case.due_estimated) == (OFFICIAL_DUE, False)
    assert case.remind_at == datetime(2027, 1, 30, 16, 0, tzinfo=UTC)  # start of Sun 01-31, the working day before
    assert recompute_events(session, case) == [{
        "previous_due_at": ESTIMATED_DUE.isoformat(), "due_at": OFFICIAL_DUE.isoformat(),
        "previous_estimated": True, "estimated": False,
    }]
    assert recompute_deadlines(session, OPENED + timedelta(hours=2)) == []  # once


def test_settled_cases_keep_their_deadline(session: Session) -> None:
    case = opened(session)
    rectify(session, case, "已整改", OPENED, actor="窗口")
    give_feedback(session, case, "已告知", OPENED, actor="窗口", via="phone")
    load_schedule_file(session, EXAMPLE_2027)
    assert recompute_deadlines(session, OPENED) == []
    assert case.due_at == ESTIMATED_DUE


def test_a_reminder_and_an_escalation_for_the_old_date_are_made_again(session: Session) -> None:
    """Reminded and escalated on the official dates; then the schedule is withdrawn (a corrected notice), the
    case is due a day later again: no longer overdue, and its reminder comes again for the new date."""
    case = opened(session)
    load_schedule_file(session, EXAMPLE_2027)
    recompute_deadlines(session, OPENED)
    assert run_deadlines(session, case.remind_at + timedelta(hours=9)).reminded == [case.id]
    overdue = OFFICIAL_DUE + timedelta(hours=1)
    assert run_deadlines(session, overdue).escalated == [case.id]
    from callback.models.calendar import CalendarDay

    for day in session.scalars(select(CalendarDay).where(CalendarDay.year == 2027)):
        session.delete(day)
    session.flush()
    assert recompute_deadlines(session, overdue) == [case.id]
    assert case.due_at == ESTIMATED_DUE and case.escalated_at is None  # not overdue any more
    assert case.reminded_at is None  # the reminder went out before the new reminder time: it goes again
    again = run_deadlines(session, ESTIMATED_DUE + timedelta(seconds=1))
    assert again.escalated == [case.id]


def _calendar_cli(database_url: str, monkeypatch: pytest.MonkeyPatch, *args: str):  # noqa: ANN202
    from click.testing import CliRunner

    import callback.calendar.cli as calendar_cli
    from callback.cli import main

    monkeypatch.setattr(calendar_cli, "now", lambda: OPENED + timedelta(hours=3))
    return CliRunner().invoke(main, ["calendar", "load", *args], env={"DATABASE_URL": database_url})


def test_calendar_load_recomputes_open_cases(session: Session, database_url: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    case = opened(session)
    session.commit()
    result = _calendar_cli(database_url, monkeypatch, str(EXAMPLE_2027), "--actor", "管理员")
    assert result.exit_code == 0, result.output
    assert f"已按新日历重算 1 件尚未反馈整改的期限：#{case.id}" in result.output
    session.expire_all()
    stored = session.get(Rectification, case.id)
    assert (stored.due_at, stored.due_estimated) == (OFFICIAL_DUE, False)
    [event] = session.scalars(select(RectificationEvent).where(RectificationEvent.action == "deadline_recomputed"))
    assert event.actor.startswith("管理员 (cli:") and event.at == OPENED + timedelta(hours=3)
    # Loading the same schedule again changes nothing and recomputes nothing.
    again = _calendar_cli(database_url, monkeypatch, str(EXAMPLE_2027), "--json")
    assert json.loads(again.output)["changed"] is False and json.loads(again.output)["recomputed"] == []
