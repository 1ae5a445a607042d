"""Rows for the results and publication page tests, in the console fixtures' hall (WF01): answered callbacks of a
past week, an unfinished one, evaluator presses, and the clock the pages read."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from callback.models import Answer, Callback, EvaluatorPress, Hall
from callback.web.console import clock
from tests.factories import make_case, make_window

WEEK = "2026-W44"  # Monday 10-26 … Sunday 11-01
MONTH = "2026-10"
NOW = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # Tuesday 11-03 10:00 Shanghai: W44 is the week that ended last
IN_WEEK = datetime(2026, 10, 28, 2, 0, tzinfo=UTC)  # Wednesday 10-28 10:00 Shanghai
ALL_GOOD = {"attitude": "S", "efficiency": "S", "by_the_rules": "S", "in_hall": "Y", "integrity": "N", "overall": "S"}
MARKET, TAX = "市场监管窗口", "税务窗口"
FORMULA_WINDOW = "=HYPERLINK(\"http://x\")窗口"  # a window name a spreadsheet would take for a formula


def set_clock(monkeypatch: pytest.MonkeyPatch, when: datetime = NOW) -> None:
    monkeypatch.setattr(clock, "now", lambda: when)


def add_callback(session: Session, hall: Hall, window: str, answers: dict[str, str] | None = None, *,
                 state: str = "complete", channel: str = "voice", week: str = WEEK,
                 finished_at: datetime | None = IN_WEEK) -> Callback:
    win = make_window(session, hall, window)
    case = make_case(session, hall, win)
    callback = Callback(hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=win.id, week=week,
                        state=state, channel=channel, token=secrets.token_hex(16), finished_at=finished_at)
    session.add(callback)
    session.flush()
    for item, value in (answers or {}).items():
        session.add(Answer(hall_id=hall.id, callback_id=callback.id, item=item, value=value, channel=channel))
    session.flush()
    return callback


def add_presses(session: Session, hall: Hall, window: str, ratings: str, when: datetime = IN_WEEK) -> None:
    win = make_window(session, hall, window)
    for rating in ratings:
        session.add(EvaluatorPress(hall_id=hall.id, pressed_at=when, window_id=win.id, rating=rating, level=rating,
                                   press_key=secrets.token_hex(8)))
    session.flush()


def finished_week(session: Session, hall: Hall) -> None:
    """市场监管窗口: 4 answers all 满意 and one 基本满意 on 服务态度 (100 × 4 + 93.3 → 98.7), 10 presses 8 S, 1 B,
    1 U (86.0) → (98.7 + 86.0) / 2 = 92.35 → 92.4 良好 (n 15); 税务窗口: 2 answers → 样本不足; a window whose name
    looks like a formula: 1 answer. Nothing open: the week is finished."""
    for _ in range(4):
        add_callback(session, hall, MARKET, ALL_GOOD)
    add_callback(session, hall, MARKET, ALL_GOOD | {"attitude": "B"})
    add_presses(session, hall, MARKET, "SSSSSSSSBU")
    for _ in range(2):
        add_callback(session, hall, TAX, ALL_GOOD)
    add_callback(session, hall, FORMULA_WINDOW, ALL_GOOD)
