"""Publishing on time (篇2 六: within a week of the calls): weeks of calls whose publication is due (the week has
ended) or late (7 days after its end with no publication), and `callback deadlines` listing them."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from callback.models import Callback, Hall, PublishedReport
from callback.results.deadlines import publication_deadlines
from tests.factories import make_case, make_hall, make_window

# Wed 2026-11-25 10:00 Shanghai, in 2026-W48.
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def call_in(session: Session, hall: Hall, week: str, *, revisit_of: Callback | None = None) -> Callback:
    case = make_case(session, hall, make_window(session, hall))
    callback = Callback(hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=case.window_id,
                        week=week, state="complete", token=secrets.token_hex(16),
                        revisit_of_id=revisit_of.id if revisit_of else None)
    session.add(callback)
    session.flush()
    return callback


def publish(session: Session, hall: Hall, period: str, kind: str = "week") -> None:
    session.add(PublishedReport(hall_id=hall.id, kind=kind, period=period, version=1, figures={},
                                approved_by="督查科", published_at=NOW - timedelta(days=10)))
    session.flush()


def build(session: Session) -> Hall:
    """W45 published; W46 ended 11-16, not published (late since 11-23); W47 ended 11-23 (due until 11-30); W48
    still running; W44 holds only a 二次回访 (of a W43 call that was published) and another hall's W46 call."""
    hall = make_hall(session)
    for week in ("2026-W45", "2026-W46", "2026-W46", "2026-W47", "2026-W48"):
        call_in(session, hall, week)
    first = call_in(session, hall, "2026-W43")
    call_in(session, hall, "2026-W44", revisit_of=first)
    publish(session, hall, "2026-W43")
    publish(session, hall, "2026-W45")
    publish(session, hall, "2026-11", kind="month")  # a month's publication is not a week's
    call_in(session, make_hall(session, "OTHER", "另一中心"), "2026-W40")
    return hall


def test_due_and_late_weeks(session: Session) -> None:
    found = [d.as_json() for d in publication_deadlines(session, build(session), NOW)]
    assert found == [
        {"week": "2026-W46", "ended_at": "2026-11-16T00:00:00+08:00", "publish_by": "2026-11-23T00:00:00+08:00",
         "status": "late", "status_label": "已逾期未通报", "days_late": 2},
        {"week": "2026-W47", "ended_at": "2026-11-23T00:00:00+08:00", "publish_by": "2026-11-30T00:00:00+08:00",
         "status": "due", "status_label": "待通报", "days_late": 0},
    ]


def test_the_moments_a_week_becomes_due_and_late(session: Session) -> None:
    hall = make_hall(session)
    call_in(session, hall, "2026-W47")
    ends = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # Mon 11-23 00:00 Shanghai
    assert publication_deadlines(session, hall, ends - timedelta(seconds=1)) == []
    assert [d.status for d in publication_deadlines(session, hall, ends)] == ["due"]
    assert [d.status for d in publication_deadlines(session, hall, ends + timedelta(days=7, seconds=-1))] == ["due"]
    assert [d.status for d in publication_deadlines(session, hall, ends + timedelta(days=7))] == ["late"]
    publish(session, hall, "2026-W47")
    assert publication_deadlines(session, hall, ends + timedelta(days=8)) == []


def test_cli_deadlines_lists_them(session: Session, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    import callback.results.cli_deadlines as cli_deadlines
    from callback.cli import main

    build(session)
    session.commit()
    monkeypatch.setattr(cli_deadlines, "now", lambda: NOW)
    env = {"DATABASE_URL": database_url, "DEFAULT_HALL": "DEMO", "TELEPHONY": "simulator"}
    table = CliRunner().invoke(main, ["deadlines"], env=env)
    assert table.exit_code == 0, table.output
    assert "通报（DEMO）：2 周尚未通报" in table.output
    assert "2026-W46  已逾期未通报（应于 2026-11-23 前通报，已逾期 2 天）" in table.output
    assert "2026-W47  待通报（应于 2026-11-30 前通报）" in table.output
    payload = json.loads(CliRunner().invoke(main, ["deadlines", "--json"], env=env).output)
    assert [w["week"] for w in payload["publication"]["weeks"]] == ["2026-W46", "2026-W47"]
    other = json.loads(CliRunner().invoke(main, ["deadlines", "--json", "--hall", "OTHER"], env=env).output)
    assert other["publication"] == {"hall": "OTHER", "weeks": [
        {"week": "2026-W40", "ended_at": "2026-10-05T00:00:00+08:00", "publish_by": "2026-10-12T00:00:00+08:00",
         "status": "late", "status_label": "已逾期未通报", "days_late": 44}]}
    unknown = CliRunner().invoke(main, ["deadlines", "--hall", "NOPE"], env=env)
    assert unknown.exit_code == 2 and "未知的中心代码" in unknown.output
