"""The month's 篇3 figures this system itself knows, per staff member (篇3; docs/architecture.md §Seed rules).

A thin layer over `survey.assessment` (the rules as data): it counts, per 经办人 on the ledger case,

* (四)7 overdue cases (篇3 四7, −5 each): cases of the hall whose promised time (承诺时限) falls in the month
  and that were completed after it, or are still not completed at ``now`` with the promise already past.
  即办件 without a promised time are never overdue;
* (五)2 second callbacks (篇3 五2): first callbacks whose overall rating was not 满意 and whose 二次回访 result
  came in this month — still not 满意 (−2 each) or then 满意 (−1 per 3 counted over the year: the remainder of
  earlier months carries into this one, `survey.assessment.then_satisfied_deductions`). A revisit belongs to the
  month its result came in (`callback.rectification.services.revisit_counted_at`, the one rule every month
  figure uses). The staff member is the one on the ledger case it was about;
* (七)9 the case-volume bonus (综合受理窗口 rates) from the cases each staff member accepted in the month.

Sections (四) and (五) are shown as partial scores (本系统可计部分): the evaluator (评价器) ratings of (五)1,
district callbacks (五4), exposures (五3) and the other sections are entered by supervisors elsewhere, so no
monthly score is computed here; ``inputs_needed`` lists what is missing. The month is the hall's local month
(Asia/Shanghai by default). Nothing about citizens is read or returned: names and numbers stay on the ledger.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from callback.models import Case, Hall, Staff, Window
from callback.rectification.services import THEN_SATISFIED, TWICE_UNSATISFIED, revisit_links, revisit_month
from survey.assessment import (
    RULES,
    RULES_BY_CODE,
    SECTION_POINTS,
    Entry,
    YearCarry,
    rule_points,
    score_month,
    then_satisfied_deductions,
    volume_bonus,
)
from survey.weeks import month_bounds, parse_month

UNREGISTERED = "（未登记经办人）"
PARTIAL = "本系统可计部分"
COMPUTED_RULES = ("overdue", "revisit_still_unsatisfied", "revisit_then_satisfied")
"""The rules whose events this module counts; every other rule of `survey.assessment.RULES` is an input."""
EVENT_LABELS = {
    "overdue": "超时",
    "revisit_still_unsatisfied": "二次回访仍不满意",
    "revisit_then_satisfied": "二次回访改为满意",
}
_OUTCOME_RULE = {TWICE_UNSATISFIED: "revisit_still_unsatisfied", THEN_SATISFIED: "revisit_then_satisfied"}
_CLAUSE_GRADE = {
    "overdue": ("四7", "each"),
    "revisit_still_unsatisfied": ("五2", "still_unsatisfied"),
    "revisit_then_satisfied": ("五2", "then_satisfied"),
}
"""The computed rules as `survey.assessment` clause and grade, to score a month with the year's carry."""

OTHER_INPUTS: tuple[tuple[str, str, str], ...] = (
    ("attendance", "篇3 二(一)", "考勤纪律（15分）：迟到、早退、空岗、请销假等扣分"),
    ("work_discipline", "篇3 二(二)", "工作纪律（20分）：与工作无关行为、评价器未开启等扣分"),
    ("service_conduct", "篇3 二(三)", "服务规范（20分）：群众投诉（三1）、着装、文明服务等扣分"),
    ("case_handling_other", "篇3 二(四)", "事项办理（20分）中除超时（四7）以外的扣分：违规受理、平台录入、告知单等"),
    ("safety", "篇3 二(六)", "安全制度（10分）扣分"),
    ("bonus_other", "篇3 二(七)1-8", "附加分（七）1-8：全勤、表彰、锦旗、活动获奖等加分"),
    ("volume_online_issued", "篇3 二(七)9",
     "岗位业务加分中的网办件（每件0.2分，最高2分）和出件窗口办件量（每10件0.1分）；本系统只按综合受理窗口口径计"),
)
VOLUME_NOTE = (
    "按综合受理窗口口径：非承诺件每10件0.2分，承诺件（台账有承诺时限）每10件1分；"
    "网办件和出件窗口办件量本系统无数据，按0计"
)


@dataclass
class _Tally:
    """What is collected for one staff member (or the unregistered group) before the figures are built."""

    events: Counter[str] = field(default_factory=Counter)
    window_ids: set[int] = field(default_factory=set)
    accepted: int = 0  # cases accepted in the month without a promised time (not 承诺件)
    promised: int = 0  # cases accepted in the month with a promised time (承诺件)
    then_satisfied: Counter[str] = field(default_factory=Counter)  # 五2 then 满意 per month of the year so far

    def then_satisfied_counts(self, month: str) -> list[int]:
        """The year's monthly 五2 then-满意 counts, January up to ``month`` (for the yearly carry)."""
        year, number = parse_month(month)
        return [self.then_satisfied[f"{year}-{m:02d}"] for m in range(1, number + 1)]


def _accepted(session: Session, hall: Hall, start: datetime, end: datetime, tallies: dict[int | None, _Tally]) -> None:
    has_promise = case((Case.promised_at.is_(None), 0), else_=1)
    rows = session.execute(
        select(Case.staff_id, Case.window_id, has_promise, func.count())
        .where(Case.hall_id == hall.id, Case.accepted_at >= start, Case.accepted_at < end)
        .group_by(Case.staff_id, Case.window_id, has_promise)
    )
    for staff_id, window_id, promised, count in rows:
        tally = tallies[staff_id]
        tally.window_ids.add(window_id)
        if promised:
            tally.promised += count
        else:
            tally.accepted += count


def _overdue(
    session: Session, hall: Hall, start: datetime, end: datetime, now: datetime, tallies: dict[int | None, _Tally]
) -> None:
    """篇3 四7: promised in the month, and completed late or still open with the promise past at ``now``."""
    late = or_(
        Case.completed_at > Case.promised_at,
        and_(Case.completed_at.is_(None), Case.promised_at < now),
    )
    rows = session.execute(
        select(Case.staff_id, Case.window_id, func.count())
        .where(Case.hall_id == hall.id, Case.promised_at >= start, Case.promised_at < end, late)
        .group_by(Case.staff_id, Case.window_id)
    )
    for staff_id, window_id, count in rows:
        tallies[staff_id].events["overdue"] += count
        tallies[staff_id].window_ids.add(window_id)


def _revisits(
    session: Session, hall: Hall, month: str, tz: ZoneInfo, tallies: dict[int | None, _Tally]
) -> None:
    """篇3 五2: the 二次回访 results that came in this month (`revisit_month`), and the then-满意 ones of the
    earlier months of the year, which the yearly "累计三次" carries."""
    year, _ = parse_month(month)
    start, end = month_bounds(f"{year}-01", tz)[0], month_bounds(month, tz)[1]
    then_satisfied: defaultdict[int | None, Counter[str]] = defaultdict(Counter)
    for link in revisit_links(session, hall.id, since=start, until=end):
        counted = revisit_month(link.linked_at, tz)
        if link.outcome == THEN_SATISFIED:
            then_satisfied[link.staff_id][counted] += 1
        if counted == month:
            tallies[link.staff_id].events[_OUTCOME_RULE[link.outcome]] += 1
            tallies[link.staff_id].window_ids.add(link.window_id)
    for staff_id, counts in then_satisfied.items():
        if staff_id in tallies:  # every registered member, and the unregistered group when it counts this month
            tallies[staff_id].then_satisfied = counts


def _event_rows(tally: _Tally, month: str) -> list[dict[str, Any]]:
    rows = []
    for code in COMPUTED_RULES:
        count = tally.events[code]
        if count:
            rule = RULES_BY_CODE[code]
            rows.append({
                "code": code, "label": EVENT_LABELS[code], "clause": rule.clause, "description": rule.description,
                "count": count, "points": rule_points(code, count),
            } | (_yearly(tally, month) if code == "revisit_then_satisfied" else {}))
    return rows


def _yearly(tally: _Tally, month: str) -> dict[str, Any]:
    """篇3 五2 "累计三次扣1分" over the year: this month's deduction with the earlier months' remainder carried in."""
    counts = tally.then_satisfied_counts(month)
    deductions, _ = then_satisfied_deductions(counts)
    _, carried_in = then_satisfied_deductions(counts[:-1])
    return {"points": float(deductions[-1]), "carried_in": carried_in, "year_to_date": sum(counts)}


def _section(tally: _Tally, month: str, section: str) -> dict[str, Any]:
    """A section's partial score; (五) with the year's 五2 carry (the then-满意 of earlier months)."""
    entries = [Entry(_CLAUSE_GRADE[code][0], n, grade=_CLAUSE_GRADE[code][1]) for code, n in tally.events.items() if n]
    earlier = sum(tally.then_satisfied_counts(month)[:-1])
    result = score_month(entries, carry=YearCarry(counts={_CLAUSE_GRADE["revisit_then_satisfied"]: earlier}))
    return {
        "label": PARTIAL, "max": SECTION_POINTS[section],
        "score": float(result.sections[section]), "loss": float(result.section_loss(section)),
    }


def _staff_row(staff_id: int | None, name: str, tally: _Tally, windows: dict[int, str], month: str) -> dict[str, Any]:
    return {
        "staff_id": staff_id,
        "name": name,
        "windows": sorted({windows[w] for w in tally.window_ids if w in windows}),
        "events": _event_rows(tally, month),
        "section_four": _section(tally, month, "四"),
        "section_five": _section(tally, month, "五"),
        "volume": {
            "clause": "篇3 七9", "accepted": tally.accepted, "promised": tally.promised, "online": 0, "issued": 0,
            "bonus": volume_bonus(accepted=tally.accepted, promised=tally.promised),
        },
    }


def inputs_needed() -> list[dict[str, str]]:
    """篇3 inputs this system does not have: the other rules of `survey.assessment.RULES`, then the other
    sections; supervisors add them to reach the monthly score (篇3 二)."""
    rules = [
        {"code": r.code, "clause": r.clause, "description": r.description}
        for r in RULES if r.code not in COMPUTED_RULES
    ]
    return rules + [{"code": code, "clause": clause, "description": text} for code, clause, text in OTHER_INPUTS]


def monthly_assessment(session: Session, hall: Hall, month: str, now: datetime) -> dict[str, Any]:
    """The month's 篇3 figures per staff member of ``hall`` (every registered staff member, plus the
    unregistered group when a case without staff counts). ``now`` decides which open cases are overdue."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = ZoneInfo(hall.timezone or "Asia/Shanghai")
    start, end = month_bounds(month, tz)
    year, number = parse_month(month)
    tallies: dict[int | None, _Tally] = defaultdict(_Tally)
    # sorted here, not by the database: collations order Chinese names differently per backend
    staff = sorted(session.scalars(select(Staff).where(Staff.hall_id == hall.id)), key=lambda m: (m.name, m.id))
    for member in staff:
        tally = tallies[member.id]
        if member.window_id is not None:
            tally.window_ids.add(member.window_id)
    _accepted(session, hall, start, end, tallies)
    _overdue(session, hall, start, end, now, tallies)
    _revisits(session, hall, f"{year}-{number:02d}", tz, tallies)
    named = session.execute(select(Window.id, Window.name).where(Window.hall_id == hall.id))
    windows = {window_id: name for window_id, name in named}
    label = f"{year}-{number:02d}"
    rows = [_staff_row(m.id, m.name, tallies[m.id], windows, label) for m in staff]
    if None in tallies:
        rows.append(_staff_row(None, UNREGISTERED, tallies[None], windows, label))
    totals: Counter[str] = Counter()
    for tally in tallies.values():
        totals.update(tally.events)
    return {
        "month": f"{year}-{number:02d}",
        "hall": hall.code,
        "hall_name": hall.name,
        "timezone": str(tz),
        "period": {"start": start.astimezone(tz).isoformat(), "end": end.astimezone(tz).isoformat()},
        "generated_at": now.astimezone(tz).isoformat(timespec="seconds"),
        "scope": f"{PARTIAL}：篇3 四7 超时、五2 二次回访、七9 办件量；不是月度考核总分",
        "volume_note": VOLUME_NOTE,
        "staff": rows,
        "summary": {
            "staff": len(staff),
            "unregistered_group": None in tallies,
            "events": {code: totals[code] for code in COMPUTED_RULES},
        },
        "inputs_needed": inputs_needed(),
    }
