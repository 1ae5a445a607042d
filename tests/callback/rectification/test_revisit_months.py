"""篇3 (五)2 month by month: a 二次回访 counts in the month its result came in (one rule: `revisit_counted_at`,
`revisit_month`), and "首次回访未达到满意，二次回访改为满意的，累计三次扣1分" counts across the year — the remainder
of one month carries into the next, and is dropped at the year's end. Figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from callback.assessment.services import monthly_assessment
from callback.models import Case, Hall, Staff
from callback.models.rectification import Rectification
from callback.rectification.services import (
    give_feedback,
    open_for_callback,
    rectify,
    revisit_counted_at,
    revisit_links,
    revisit_month,
)
from tests.callback.rectification.test_rectification import ALL_GOOD, _answer_revisit, make_callback
from tests.factories import make_hall, make_window

SH = ZoneInfo("Asia/Shanghai")
TAX = "税务窗口"


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC) - timedelta(hours=8)


def staff_member(session: Session, name: str = "李强") -> tuple[Hall, Staff]:
    hall = make_hall(session)
    staff = Staff(hall_id=hall.id, name=name, window_id=make_window(session, hall, TAX).id)
    session.add(staff)
    session.flush()
    return hall, staff


def revisited(session: Session, staff: Staff, first: str, second: str, result_at: datetime,
              opened: datetime | None = None) -> Rectification:
    """A first callback rated ``first`` overall about ``staff``'s case, fed back (the 二次回访 is placed then), and
    the revisit's answers ``second`` coming in at ``result_at``."""
    opened = opened or result_at - timedelta(days=3)
    callback = make_callback(session, ALL_GOOD | {"overall": first}, window=TAX)
    session.get(Case, callback.case_id).staff_id = staff.id
    case = open_for_callback(session, callback, opened)
    assert case is not None
    rectify(session, case, "已整改", opened, actor="窗口")
    give_feedback(session, case, "已电话告知", opened, actor="窗口", via="phone")
    revisit = case.revisit_callback
    _answer_revisit(session, revisit, ALL_GOOD | {"overall": second})
    open_for_callback(session, revisit, result_at)
    return case


def then_satisfied(report: dict, name: str = "李强") -> dict | None:
    [row] = [r for r in report["staff"] if r["name"] == name]
    found = [e for e in row["events"] if e["code"] == "revisit_then_satisfied"]
    return found[0] | {"five": row["sections"]["五"]} if found else None


def test_the_yearly_carry_crosses_a_month_boundary(session: Session) -> None:
    """Then 满意 twice in November (running total 2: no deduction yet), once in December (3: −1 in December)."""
    hall, li = staff_member(session)
    revisited(session, li, "B", "S", shanghai(2026, 11, 10, 10))
    revisited(session, li, "U", "S", shanghai(2026, 11, 30, 23, 30))  # still November in Shanghai
    revisited(session, li, "B", "S", shanghai(2026, 12, 1, 0, 30))  # November 30 in UTC, December in Shanghai
    at = shanghai(2026, 12, 20, 12)
    november = then_satisfied(monthly_assessment(session, hall, "2026-11", at))
    december = then_satisfied(monthly_assessment(session, hall, "2026-12", at))
    assert november == {**november, "count": 2, "points": 0.0, "carried_in": 0, "year_to_date": 2, "five": 15.0}
    assert december == {**december, "count": 1, "points": -1.0, "carried_in": 2, "year_to_date": 3, "five": 14.0}


def test_three_in_a_month_after_a_carry_of_two(session: Session) -> None:
    """Running totals 2 (Oct), 5 (Nov): November passes 3 once → −1, and carries 2 out of it."""
    hall, li = staff_member(session)
    for day in (5, 6):
        revisited(session, li, "B", "S", shanghai(2026, 10, day, 10))
    for day in (3, 4, 5):
        revisited(session, li, "B", "S", shanghai(2026, 11, day, 10))
    at = shanghai(2026, 12, 1, 12)
    assert then_satisfied(monthly_assessment(session, hall, "2026-10", at))["points"] == 0.0
    november = then_satisfied(monthly_assessment(session, hall, "2026-11", at))
    assert (november["count"], november["points"], november["carried_in"], november["five"]) == (3, -1.0, 2, 14.0)


def test_the_remainder_is_dropped_at_the_year_end(session: Session) -> None:
    hall, li = staff_member(session)
    revisited(session, li, "B", "S", shanghai(2026, 12, 10, 10))
    revisited(session, li, "B", "S", shanghai(2026, 12, 11, 10))
    revisited(session, li, "B", "S", shanghai(2027, 1, 12, 10))
    january = then_satisfied(monthly_assessment(session, hall, "2027-01", shanghai(2027, 2, 1, 9)))
    assert (january["count"], january["points"], january["carried_in"], january["five"]) == (1, 0.0, 0, 15.0)


def test_a_revisit_counts_in_the_month_its_result_came_in(session: Session) -> None:
    """The first callback's case opened in November; the 二次回访 answered in December: a December event, in every
    function that places a revisit in a month."""
    hall, li = staff_member(session)
    case = revisited(session, li, "U", "U", shanghai(2026, 12, 2, 10), opened=shanghai(2026, 11, 27, 10))
    at = shanghai(2026, 12, 20, 12)
    rows = {m: monthly_assessment(session, hall, m, at)["summary"]["events"]["revisit_still_unsatisfied"]
            for m in ("2026-11", "2026-12")}
    assert rows == {"2026-11": 0, "2026-12": 1}
    assert revisit_month(revisit_counted_at(case), SH) == "2026-12"
    start, end = shanghai(2026, 12, 1), shanghai(2027, 1, 1)
    assert [link.rectification_id for link in revisit_links(session, hall.id, start, end)] == [case.id]
    assert revisit_links(session, hall.id, shanghai(2026, 11, 1), start) == []


def test_a_corrected_revisit_answer_keeps_its_month(session: Session) -> None:
    hall, li = staff_member(session)
    case = revisited(session, li, "B", "U", shanghai(2026, 11, 30, 16))
    counted = revisit_counted_at(case)
    for answer in case.revisit_callback.answers:  # a supervisor corrects a misheard answer in December
        if answer.item == "overall":
            answer.value = "S"
    session.flush()
    open_for_callback(session, case.revisit_callback, shanghai(2026, 12, 3, 9))
    assert case.revisit_rating == "S" and revisit_counted_at(case) == counted
    at = shanghai(2026, 12, 20, 12)
    assert then_satisfied(monthly_assessment(session, hall, "2026-11", at))["count"] == 1
    assert then_satisfied(monthly_assessment(session, hall, "2026-12", at)) is None
