"""Rows for the assessment tests: staff, ledger cases, evaluator presses, first callbacks with their 二次回访."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from callback.models import Case, EvaluatorPress, Hall, Staff, Window
from callback.models.rectification import Rectification
from callback.rectification.services import give_feedback, open_for_callback, rectify
from tests.callback.rectification.test_rectification import ALL_GOOD, _answer_revisit, make_callback
from tests.factories import make_case, make_hall, make_window

COMPREHENSIVE, ISSUING, TAX = "综合受理窗口", "出件窗口", "税务窗口"
_press = itertools.count(1)


def shanghai(*args: int) -> datetime:
    """A wall-clock time in Asia/Shanghai (UTC+8, no DST) as an aware UTC datetime."""
    return datetime(*args, tzinfo=UTC) - timedelta(hours=8)


def window(session: Session, name: str, role: str = "other") -> Window:
    found = make_window(session, make_hall(session), name)
    found.role = role
    session.flush()
    return found


def staff_member(session: Session, name: str, at: str = COMPREHENSIVE, role: str = "other") -> Staff:
    hall = make_hall(session)
    member = Staff(hall_id=hall.id, name=name, window_id=window(session, at, role).id)
    session.add(member)
    session.flush()
    return member


def cases(session: Session, staff: Staff, at: str, n: int, *, kind: str = "即办件",
          accepted: datetime | None = None) -> list[Case]:
    hall = make_hall(session)
    made = []
    for _ in range(n):
        case = make_case(session, hall, make_window(session, hall, at), accepted_at=accepted or shanghai(2026, 11, 10, 10))
        case.staff_id, case.item_kind = staff.id, kind
        made.append(case)
    session.flush()
    return made


def presses(session: Session, staff: Staff, at: str, ratings: str, when: datetime) -> list[EvaluatorPress]:
    """One press per letter of ``ratings`` (S/B/U), naming ``staff``."""
    hall = make_hall(session)
    win = make_window(session, hall, at)
    made = []
    for rating in ratings:
        n = next(_press)
        press = EvaluatorPress(hall_id=hall.id, pressed_at=when, window_id=win.id, staff_id=staff.id, rating=rating,
                               level=rating, press_key=f"k{n}")
        session.add(press)
        made.append(press)
    session.flush()
    return made


def revisited(session: Session, staff: Staff, first: str, second: str, result_at: datetime) -> Rectification:
    """A first callback rated ``first`` overall about ``staff``'s case, fed back (the 二次回访 is placed then), and
    the revisit's answers ``second`` coming in at ``result_at`` (the month it counts in)."""
    opened = result_at - timedelta(days=3)
    callback = make_callback(session, ALL_GOOD | {"overall": first}, window=TAX)
    session.get(Case, callback.case_id).staff_id = staff.id
    case = open_for_callback(session, callback, opened)
    assert case is not None
    rectify(session, case, "已整改", opened, actor="窗口")
    give_feedback(session, case, "已电话告知", opened, actor="窗口", via="phone")
    _answer_revisit(session, case.revisit_callback, ALL_GOOD | {"overall": second})
    open_for_callback(session, case.revisit_callback, result_at)
    return case


def hall(session: Session) -> Hall:
    return make_hall(session)
