"""`weekly_totals` (the console's 12-week trend) reads several weeks at once and must give exactly the ``totals``
row `weekly_report` gives for each week; `presses_by_window_per_period` exactly what `presses_by_window` gives
for each period. Both are compared with the plain path on a varied set of weeks, on both backends."""

from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from callback.evaluator.queries import presses_by_window, presses_by_window_per_period
from callback.models import Answer, Callback, EvaluatorPress, Hall, Window
from callback.rectification.services import give_feedback, open_for_callback, rectify
from callback.results.report import weekly_report, weekly_totals
from tests.factories import make_case, make_hall, make_window

WEEKS = ["2026-W40", "2026-W41", "2026-W42", "2026-W43", "2026-W44"]
FIRST_MONDAY = datetime(2026, 9, 27, 16, 0, tzinfo=UTC)  # Monday 2026-09-28 00:00 Asia/Shanghai (2026-W40)
REPORT_AT = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)
ITEMS = ("attitude", "efficiency", "by_the_rules", "in_hall", "integrity", "overall")
STATES = ("complete", "complete", "complete", "partial", "unreachable", "opted_out", "break_off", "calling", "sms")


def _answers(rng: random.Random, partial: bool) -> dict[str, str]:
    items = ITEMS[:rng.randint(1, 5)] if partial else ITEMS
    values = {"in_hall": "YYYYN", "integrity": "NNNNY"}
    return {item: rng.choice(values.get(item, "SSSBU")) for item in items}


def _callback(session: Session, hall: Hall, window: Window, week: str, rng: random.Random, *,
              channel: str = "voice", revisit_of: Callback | None = None) -> Callback:
    state = "complete" if channel == "onsite" else rng.choice(STATES)
    case = None if channel == "onsite" else make_case(session, hall, window)
    callback = Callback(hall_id=hall.id, case_id=case and case.id, contact_id=case and case.contact_id,
                        window_id=window.id, week=week, state=state, channel=channel, token=secrets.token_hex(16),
                        revisit_of_id=revisit_of and revisit_of.id)
    session.add(callback)
    session.flush()
    if state in ("complete", "partial"):
        for item, value in _answers(rng, state == "partial").items():
            session.add(Answer(hall_id=hall.id, callback_id=callback.id, item=item, value=value, channel=channel))
    return callback


def _press(session: Session, hall: Hall, window: Window, at: datetime, rating: str) -> None:
    session.add(EvaluatorPress(hall_id=hall.id, pressed_at=at, window_id=window.id, rating=rating, level=rating,
                               press_key=secrets.token_hex(16)))


def build_weeks(session: Session) -> Hall:
    """Five weeks of three windows (the last week empty): drawn callbacks in every state, on-site forms, a
    二次回访, rectification cases (fed back in time, late, still open), presses on the weeks' edges; and another
    hall's callbacks and presses, which count for nothing here."""
    rng = random.Random(20261102)
    hall, other = make_hall(session, "H1"), make_hall(session, "H2")
    windows = [make_window(session, hall, name) for name in ("市场监管窗口", "税务窗口", "综合受理窗口")]
    for k, week in enumerate(WEEKS[:-1]):
        made = [_callback(session, hall, rng.choice(windows), week, rng) for _ in range(rng.randint(6, 12))]
        made += [_callback(session, hall, rng.choice(windows), week, rng, channel="onsite") for _ in range(k)]
        _callback(session, hall, windows[0], week, rng, revisit_of=made[0])
        _cases(session, made, FIRST_MONDAY + timedelta(weeks=k, days=2))
        monday = FIRST_MONDAY + timedelta(weeks=k)
        for at in (monday, monday + timedelta(days=3), monday + timedelta(weeks=1) - timedelta(seconds=1)):
            _press(session, hall, rng.choice(windows), at, rng.choice("SSSBU"))
    other_window = make_window(session, other, "市场监管窗口")
    _callback(session, other, other_window, WEEKS[0], rng)
    _press(session, other, other_window, FIRST_MONDAY + timedelta(days=1), "U")
    session.flush()
    return hall


def _cases(session: Session, callbacks: list[Callback], opened: datetime) -> None:
    for i, callback in enumerate(c for c in callbacks if c.state in ("complete", "partial")):
        case = open_for_callback(session, callback, opened)
        if case is None or i % 3 == 2:
            continue  # left open: overdue by the time of the report
        fed = opened + timedelta(days=1 if i % 3 == 0 else 9)  # in time, or late
        rectify(session, case, "已整改", fed, actor="a")
        give_feedback(session, case, "已告知", fed, actor="a", via="phone")


def test_weekly_totals_are_the_weekly_reports_totals(session: Session) -> None:
    hall = build_weeks(session)
    weeks = [WEEKS[2], WEEKS[0], WEEKS[4], WEEKS[1], WEEKS[3]]  # any order, an empty week among them
    totals = weekly_totals(session, hall, weeks, REPORT_AT)
    expected = [weekly_report(session, hall, week, REPORT_AT)["totals"] for week in weeks]
    assert totals == expected
    assert sum(t["drawn"] for t in totals) > 20 and sum(t["onsite"] for t in totals) == 6
    assert sum(t["rectifications"]["opened"] for t in totals) > 0 and totals[2]["n"] == 0


def test_presses_per_period_are_presses_by_window_of_each(session: Session) -> None:
    hall = build_weeks(session)
    periods = [(FIRST_MONDAY + timedelta(weeks=k), FIRST_MONDAY + timedelta(weeks=k + 1)) for k in (3, 0, 1, 2)]
    periods.append((FIRST_MONDAY + timedelta(days=2), FIRST_MONDAY + timedelta(days=3)))  # no press in it
    got = presses_by_window_per_period(session, hall.id, periods)
    assert got == [presses_by_window(session, hall.id, start, end) for start, end in periods]
    assert sum(sum(c.values()) for by_window in got for c in by_window.values()) == 12 and got[-1] == {}
    assert presses_by_window_per_period(session, hall.id, []) == []
