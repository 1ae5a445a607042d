"""The evaluator figures the reports read: presses counted by rating, per window or per staff member.

篇2 六 combines the evaluator with the callbacks per window (the weekly and monthly reports); 篇3 (五)1 deducts
per staff member for each 基本满意 and 不满意 press of the month. Both count presses with ``start <= pressed_at <
end`` (aware datetimes; the caller turns its week or month in Asia/Shanghai into these bounds, as for callbacks).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from callback.models import EvaluatorPress
from survey.scale import Rating


def presses_by_window(session: Session, hall_id: int, start: datetime, end: datetime) -> dict[int, Counter[Rating]]:
    """{window id: Counter({Rating.S: n, Rating.B: n, Rating.U: n})} of the hall's presses in [start, end).
    Windows without presses are absent; a Counter has no entry for a rating nobody pressed."""
    return _counted(session, EvaluatorPress.window_id, hall_id, start, end)


def presses_by_window_per_period(session: Session, hall_id: int,
                                 periods: Sequence[tuple[datetime, datetime]]) -> list[dict[int, Counter[Rating]]]:
    """`presses_by_window` for each of ``periods`` (``[start, end)`` pairs that do not overlap, e.g. the weeks of
    the console's trend), in their order, with one statement for all of them."""
    if not periods:
        return []
    period = case(*((and_(EvaluatorPress.pressed_at >= start, EvaluatorPress.pressed_at < end), i)
                    for i, (start, end) in enumerate(periods)), else_=None)
    pressed = (select(period.label("period"), EvaluatorPress.window_id, EvaluatorPress.rating)
               .where(EvaluatorPress.hall_id == hall_id, EvaluatorPress.pressed_at >= min(s for s, _ in periods),
                      EvaluatorPress.pressed_at < max(e for _, e in periods))
               .subquery())
    rows = session.execute(select(pressed.c.period, pressed.c.window_id, pressed.c.rating, func.count())
                           .where(pressed.c.period.is_not(None))
                           .group_by(pressed.c.period, pressed.c.window_id, pressed.c.rating))
    counts: list[dict[int, Counter[Rating]]] = [{} for _ in periods]
    for index, window_id, rating, n in rows:
        counts[index].setdefault(window_id, Counter())[Rating(rating)] = n
    return counts


def presses_by_staff(session: Session, hall_id: int, start: datetime, end: datetime) -> dict[int, Counter[Rating]]:
    """{staff id: Counter of ratings} of the hall's presses in [start, end) that name a staff member (篇3 (五)1).
    Presses the device recorded without a staff member count for their window only."""
    return _counted(session, EvaluatorPress.staff_id, hall_id, start, end, EvaluatorPress.staff_id.is_not(None))


def _counted(session: Session, key: Any, hall_id: int, start: datetime, end: datetime,
             *where: Any) -> dict[int, Counter[Rating]]:
    rows = session.execute(
        select(key, EvaluatorPress.rating, func.count())
        .where(EvaluatorPress.hall_id == hall_id, EvaluatorPress.pressed_at >= start, EvaluatorPress.pressed_at < end,
               *where)
        .group_by(key, EvaluatorPress.rating)
    )
    counts: dict[int, Counter[Rating]] = {}
    for owner, rating, n in rows:
        counts.setdefault(owner, Counter())[Rating(rating)] = n
    return counts
