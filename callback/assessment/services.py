"""Each staff member's 篇3 month and year: the supervisors' entries plus the figures the system itself knows.

From our own data (each figure keeps the ids it came from, for the console to link):

* (五)1 — the evaluator presses attributed to the staff member (`callback.evaluator.queries.presses_by_staff`):
  基本满意 −0.5, 不满意 −1 each (`survey.assessment.entry_for_rating`); the press ids.
* (五)2 — the 二次回访 results that came in this month (`callback.rectification.services.revisit_links`, the month
  of `revisit_counted_at`): still not 满意 −2 each; then 满意 −1 per 3 counted over the year (the carry of the
  earlier months, ``survey.assessment.score_year``); the rectification case ids.
* (四)7 — ledger cases whose promised time falls in the month, completed after it or still open with the promise
  past at ``now`` (−5 each); the case ids. 即办件 without a promised time are never overdue.
* (七)9 — the cases the staff member accepted in the month, by 办件类型 (承诺件 by ``is_promised``, never by a
  promised time), at the rate of the case's window: 综合受理 or 出件 (`Window.role`, `callback hall window-role`),
  nothing for other windows (`survey.assessment.volume_entries`); counts per window and 办件类型.

Everything else is an entry (callback.assessment.entries). A staff member is *assessed* in a month when the month
has anything for them: a case they accepted, a press naming them, a revisit or overdue case of theirs, or an entry
(产假 included). The annual score is the mean of the months assessed (篇3 三(一)); a month without anything is
listed but not scored. Months are the hall's local months. Nothing about citizens is read or returned.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from callback.assessment.entries import LEAVE, MATERNITY, active_entries, entry_summary, survey_entry
from callback.evaluator.queries import presses_by_staff
from callback.models import Case, EvaluatorPress, Hall, Staff, Window
from callback.models.assessment import AssessmentEntry
from callback.rectification.services import THEN_SATISFIED, TWICE_UNSATISFIED, revisit_links
from survey.assessment import (
    Entry,
    LeaveDays,
    MonthResult,
    StaffMonth,
    WindowRole,
    YearResult,
    entry_for_rating,
    score_year,
    volume_entries,
)
from survey.assessment_rules import CLAUSES_BY_ID
from survey.scale import Rating
from survey.weeks import PeriodError, month_bounds, month_of, parse_month

ROLES = {"comprehensive": WindowRole.COMPREHENSIVE, "issuing": WindowRole.ISSUING}
"""`Window.role` keys → the windows 篇3 七9 rewards; any other role earns no volume bonus."""
REVISIT_GRADES = {TWICE_UNSATISFIED: "still_unsatisfied", THEN_SATISFIED: "then_satisfied"}
SOURCE_LABELS = {"entry": "督查科录入", "evaluator": "评价器", "revisit": "二次回访", "ledger": "受理台账"}
LEGACY_EVENTS = {("四7", "each"): ("overdue", "超时"),
                 ("五2", "still_unsatisfied"): ("revisit_still_unsatisfied", "二次回访仍不满意"),
                 ("五2", "then_satisfied"): ("revisit_then_satisfied", "二次回访改为满意")}
"""The rule codes `callback assess --json` has always carried in ``events`` (kept for scripts)."""


@dataclass(frozen=True)
class Figure:
    """An automatic figure: ``count`` occurrences of (clause, grade) from ``source``, with the ids of the rows
    (presses, rectification cases, ledger cases) they came from, and any detail (七9: cases per window)."""

    clause: str
    grade: str
    source: str
    count: int
    ids: tuple[int, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)

    def entry(self) -> Entry:
        return Entry(self.clause, self.count, grade=self.grade)

    def to_json(self) -> dict[str, Any]:
        return {"clause": self.clause, "grade": self.grade, "source": self.source, "count": self.count,
                "ids": list(self.ids), **self.detail}


@dataclass
class StaffMonthData:
    """Everything one staff member's month holds before it is scored."""

    figures: list[Figure] = field(default_factory=list)
    entries: list[AssessmentEntry] = field(default_factory=list)
    window_ids: set[int] = field(default_factory=set)
    presses: int = 0  # every press naming them, 满意 included: the month has something for them
    cases: int = 0  # cases they accepted in the month

    @property
    def assessed(self) -> bool:
        return bool(self.figures or self.presses or self.cases or any(e.count for e in self.entries))

    @property
    def maternity(self) -> bool:
        return any(e.clause == MATERNITY and e.count for e in self.entries)

    def scored_entries(self) -> tuple[Entry, ...]:
        own = [survey_entry(e) for e in self.entries if e.clause not in (MATERNITY, LEAVE) and e.count]
        return (*own, *(f.entry() for f in self.figures if f.count))


Month = dict[int | None, StaffMonthData]
"""A month's data by staff id; ``None`` gathers what the ledger names no staff member for (never scored)."""


# --- collecting a month ----------------------------------------------------------------------------------------


def hall_tz(hall: Hall) -> ZoneInfo:
    return ZoneInfo(hall.timezone or "Asia/Shanghai")


def _entries(session: Session, hall: Hall, month: str, data: Month) -> None:
    for row in active_entries(session, hall.id, [month]):
        data[row.staff_id].entries.append(row)


def _presses(session: Session, hall: Hall, start: datetime, end: datetime, data: Month) -> None:
    """篇3 五1 from the evaluator: every B and U press naming the staff member, with its id."""
    ids: defaultdict[tuple[int, str], list[int]] = defaultdict(list)
    rows = session.execute(
        select(EvaluatorPress.staff_id, EvaluatorPress.rating, EvaluatorPress.id)
        .where(EvaluatorPress.hall_id == hall.id, EvaluatorPress.pressed_at >= start, EvaluatorPress.pressed_at < end,
               EvaluatorPress.staff_id.is_not(None), EvaluatorPress.rating.in_(("B", "U")))
        .order_by(EvaluatorPress.id))
    for staff_id, rating, press_id in rows:
        ids[(staff_id, rating)].append(press_id)
    for staff_id, counts in presses_by_staff(session, hall.id, start, end).items():
        data[staff_id].presses += sum(counts.values())
        for rating in (Rating.B, Rating.U):
            made = entry_for_rating("evaluator", rating, counts[rating])
            if made is not None and made.count:
                data[staff_id].figures.append(Figure(made.clause, made.grade or "", "evaluator", made.count,
                                                     tuple(ids[(staff_id, rating.value)])))


def _revisits(session: Session, hall: Hall, start: datetime, end: datetime, data: Month) -> None:
    """篇3 五2: the 二次回访 results counted in the month (`revisit_counted_at`), per staff member of the case."""
    found: defaultdict[tuple[int | None, str], list[int]] = defaultdict(list)
    for link in revisit_links(session, hall.id, since=start, until=end):
        found[(link.staff_id, REVISIT_GRADES[link.outcome])].append(link.rectification_id)
        data[link.staff_id].window_ids.add(link.window_id)
    for (staff_id, grade), ids in found.items():
        data[staff_id].figures.append(Figure("五2", grade, "revisit", len(ids), tuple(ids)))


def _overdue(session: Session, hall: Hall, start: datetime, end: datetime, now: datetime, data: Month) -> None:
    """篇3 四7: promised in the month, and completed late or still open with the promise past at ``now``."""
    late = or_(Case.completed_at > Case.promised_at, and_(Case.completed_at.is_(None), Case.promised_at < now))
    found: defaultdict[int | None, list[int]] = defaultdict(list)
    rows = session.execute(
        select(Case.staff_id, Case.window_id, Case.id)
        .where(Case.hall_id == hall.id, Case.promised_at >= start, Case.promised_at < end, late)
        .order_by(Case.id))
    for staff_id, window_id, case_id in rows:
        found[staff_id].append(case_id)
        data[staff_id].window_ids.add(window_id)
    for staff_id, ids in found.items():
        data[staff_id].figures.append(Figure("四7", "each", "ledger", len(ids), tuple(ids)))


def _volume(session: Session, hall: Hall, start: datetime, end: datetime, windows: dict[int, Window],
            data: Month) -> None:
    """篇3 七9: the month's accepted cases by staff member, window and 办件类型, at the window's rate."""
    counted: defaultdict[int | None, defaultdict[int, Counter[str | None]]] = defaultdict(lambda: defaultdict(Counter))
    rows = session.execute(
        select(Case.staff_id, Case.window_id, Case.item_kind, func.count())
        .where(Case.hall_id == hall.id, Case.accepted_at >= start, Case.accepted_at < end)
        .group_by(Case.staff_id, Case.window_id, Case.item_kind))
    for staff_id, window_id, kind, count in rows:
        counted[staff_id][window_id][kind] += count
        data[staff_id].window_ids.add(window_id)
        data[staff_id].cases += count
    for staff_id, by_window in counted.items():
        data[staff_id].figures += _volume_figures(by_window, windows)


def _volume_figures(by_window: dict[int, Counter[str | None]], windows: dict[int, Window]) -> list[Figure]:
    """One figure per 七9 grade, summed over the staff member's windows (the per-10 rule applies to the month's
    total), with the cases per window and 办件类型 it came from."""
    counts: Counter[str] = Counter()
    detail: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for window_id, kinds in sorted(by_window.items()):
        window = windows[window_id]
        for made in volume_entries(ROLES.get(window.role), kinds):
            counts[made.grade or ""] += made.count
            if made.count:
                detail[made.grade or ""].append({"window": window.name, "role": window.role, "cases": made.count})
    return [Figure("七9", grade, "ledger", count, (), {"windows": detail[grade]})
            for grade, count in counts.items() if count]


def collect_month(session: Session, hall: Hall, month: str, now: datetime,
                  windows: dict[int, Window] | None = None) -> Month:
    """Every staff member's data for the month (entries and automatic figures)."""
    start, end = month_bounds(month, hall_tz(hall))
    windows = windows if windows is not None else _windows(session, hall)
    data: Month = defaultdict(StaffMonthData)
    _entries(session, hall, month, data)
    _presses(session, hall, start, end, data)
    _revisits(session, hall, start, end, data)
    _overdue(session, hall, start, end, now, data)
    _volume(session, hall, start, end, windows, data)
    return data


def _windows(session: Session, hall: Hall) -> dict[int, Window]:
    return {w.id: w for w in session.scalars(select(Window).where(Window.hall_id == hall.id))}


# --- the year --------------------------------------------------------------------------------------------------


@dataclass
class HallYear:
    """A hall's assessment year through month ``through``: every month's data, and each staff member's year
    scored over the months they were assessed."""

    hall: Hall
    year: int
    through: int
    now: datetime
    staff: list[Staff]
    windows: dict[int, Window]
    months: dict[str, Month]
    years: dict[int, YearResult]
    assessed: dict[int, list[str]]  # staff id → the months scored, in order

    @property
    def labels(self) -> list[str]:
        return list(self.months)

    def month_result(self, staff_id: int, month: str) -> MonthResult | None:
        months = self.assessed.get(staff_id, [])
        return self.years[staff_id].months[months.index(month)] if month in months else None

    def previous_result(self, staff_id: int, month: str) -> MonthResult | None:
        earlier = [m for m in self.assessed.get(staff_id, []) if m < month]
        return self.month_result(staff_id, earlier[-1]) if earlier else None


def leave_days(rows: Iterable[AssessmentEntry]) -> LeaveDays | None:
    """篇3 一7: the year's 因私 and 病假 days from the leave entries (None when there are none)."""
    leave = [r for r in rows if r.clause == LEAVE and r.count]
    if not leave:
        return None
    personal = [r.count for r in leave if r.grade == "personal"]
    sick = [r.count for r in leave if r.grade == "sick"]
    return LeaveDays(Decimal(sum(personal)), Decimal(sum(sick)), Decimal(max(personal, default=0)))


def assess_year(session: Session, hall: Hall, year: int, through: int, now: datetime) -> HallYear:
    """The hall's year, January to month ``through`` (篇3 三(一)): each staff member's months in order, with the
    carries 篇3 counts over the year (五2 "累计三次", 七5's cap) and the year's award bars."""
    if not 1 <= through <= 12:
        raise PeriodError(f"月份 {through} 不存在")
    windows = _windows(session, hall)
    labels = [f"{year}-{m:02d}" for m in range(1, through + 1)]
    months = {label: collect_month(session, hall, label, now, windows) for label in labels}
    staff = sorted(session.scalars(select(Staff).where(Staff.hall_id == hall.id)), key=lambda s: (s.name, s.id))
    years, assessed = {}, {}
    for member in staff:
        taken = [m for m in labels if months[m].get(member.id, StaffMonthData()).assessed]
        plan = [StaffMonth(months[m][member.id].scored_entries(), months[m][member.id].maternity, m) for m in taken]
        entries = [e for m in labels for e in months[m].get(member.id, StaffMonthData()).entries]
        years[member.id] = score_year(plan, leave=leave_days(entries))
        assessed[member.id] = taken
    return HallYear(hall, year, through, now, staff, windows, months, years, assessed)


def month_in_reach(month: str, hall: Hall, now: datetime) -> tuple[int, int]:
    """(year, month number) of a month that has begun by ``now`` in the hall's time; PeriodError otherwise."""
    year, number = parse_month(month)
    if f"{year}-{number:02d}" > month_of(now, hall_tz(hall)):
        raise PeriodError(f"{year}-{number:02d} 尚未开始，不能考核")
    return year, number


def last_month(year: int, hall: Hall, now: datetime) -> int:
    """The last month of ``year`` that has begun by ``now`` (12 for a past year); PeriodError for a future year."""
    current = month_of(now, hall_tz(hall))
    if f"{year}-01" > current:
        raise PeriodError(f"{year} 年尚未开始，不能考核")
    return 12 if f"{year}-12" <= current else int(current[5:])


# --- the month as JSON -----------------------------------------------------------------------------------------


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _rule_sources(rule: dict[str, Any], data: StaffMonthData) -> list[dict[str, Any]]:
    """Where an applied rule's count came from: the entries (their ids) and the automatic figures (their ids)."""
    key = (rule["clause"], rule["grade"])
    entries = [e for e in data.entries if (e.clause, e.grade) == key and e.count]
    sources = [{"source": "entry", "count": sum(e.count for e in entries), "entries": [e.id for e in entries]}]
    sources += [{"source": f.source, "count": f.count, "ids": list(f.ids)} for f in data.figures
                if (f.clause, f.grade) == key and f.count]
    return [s for s in sources if s["count"]]


def _events(result: MonthResult, previous: MonthResult | None) -> list[dict[str, Any]]:
    """The computed rules as `callback assess --json` always listed them; 五2 then 满意 with the year's carry."""
    rows = []
    for rule in result.rules:
        if (rule.clause, rule.grade) not in LEGACY_EVENTS:
            continue
        code, label = LEGACY_EVENTS[(rule.clause, rule.grade)]
        grade = CLAUSES_BY_ID[rule.clause].grade(rule.grade)
        row = {"code": code, "label": label, "clause": f"篇3 {rule.clause}", "description": grade.label,
               "count": rule.count, "points": float(rule.points)}
        if grade.per_year:
            before = previous.carry.counts.get((rule.clause, rule.grade), 0) if previous else 0
            row |= {"carried_in": before % grade.per, "year_to_date": result.carry.counts[(rule.clause, rule.grade)]}
        rows.append(row)
    return rows


def _volume_summary(data: StaffMonthData, result: MonthResult | None) -> dict[str, Any]:
    counts = {f.grade: f.count for f in data.figures if f.clause == "七9"}
    bonus = next((item.points for item in result.bonus_items if item.clause == "七9"), Decimal(0)) if result else 0
    return {"clause": "篇3 七9", "accepted": counts.get("accepted", 0), "promised": counts.get("promised", 0),
            "online": counts.get("online", 0), "issued": counts.get("issued", 0), "bonus": float(bonus),
            "windows": [w for f in data.figures if f.clause == "七9" for w in f.detail.get("windows", [])]}


def staff_month(hy: HallYear, member: Staff, month: str) -> dict[str, Any]:
    """One staff member's month: ``sections`` {"一": 15.0, …}, ``bonus``, ``total``, the applied rules with their
    clause ids, counts and sources, the bonus items and caps, the automatic figures, the entries, the year so far."""
    data = hy.months[month].get(member.id, StaffMonthData())
    result = hy.month_result(member.id, month)
    row: dict[str, Any] = {
        "staff_id": member.id, "name": member.name,
        "windows": sorted({hy.windows[w].name for w in data.window_ids | _own_window(member) if w in hy.windows}),
        "assessed": result is not None, "maternity": data.maternity,
        "figures": [f.to_json() for f in data.figures], "entries": [entry_summary(e, member.name) for e in data.entries],
        "volume": _volume_summary(data, result), "year_to_date": _year_to_date(hy, member.id, month),
    }
    if result is None:
        return row | {"sections": None, "bonus": None, "bonus_uncapped": None, "total": None, "rules": [],
                      "bonus_items": [], "award_bars": [], "events": [], "ignored_entries": 0}
    scored = result.to_json()
    scored["rules"] = [rule | {"sources": _rule_sources(rule, data)} for rule in scored["rules"]]
    scored.pop("month", None)
    return row | scored | {"events": _events(result, hy.previous_result(member.id, month))}


def _own_window(member: Staff) -> set[int]:
    return {member.window_id} if member.window_id is not None else set()


def _year_to_date(hy: HallYear, staff_id: int, month: str) -> dict[str, Any]:
    """篇3 三(一) so far: the mean of the months assessed up to and including ``month``."""
    from survey.assessment import annual_mean

    months = [m for m in hy.assessed.get(staff_id, []) if m <= month]
    mean = annual_mean(hy.month_result(staff_id, m).total for m in months)  # type: ignore[union-attr]
    return {"months": len(months), "score": _num(mean)}


def _unattributed(data: Month) -> dict[str, Any]:
    """What the ledger or the evaluator named no staff member for: counted, never scored."""
    loose = data.get(None)
    if loose is None:
        return {"figures": [], "cases": 0}
    return {"figures": [f.to_json() for f in loose.figures], "cases": loose.cases}


def month_payload(hy: HallYear, month: str) -> dict[str, Any]:
    """The month's assessment (`callback assess --month M --json`)."""
    tz = hall_tz(hy.hall)
    start, end = month_bounds(month, tz)
    rows = [staff_month(hy, member, month) for member in hy.staff]
    return {
        "month": month, "hall": hy.hall.code, "hall_name": hy.hall.name, "timezone": str(tz),
        "period": {"start": start.astimezone(tz).isoformat(), "end": end.astimezone(tz).isoformat()},
        "generated_at": hy.now.astimezone(tz).isoformat(timespec="seconds"),
        "staff": rows,
        "not_assessed": [r["name"] for r in rows if not r["assessed"]],
        "unattributed": _unattributed(hy.months[month]),
        "summary": {"staff": len(rows), "assessed": sum(r["assessed"] for r in rows),
                    "events": _event_totals(rows)},
    }


def _event_totals(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    totals = {code: 0 for code, _ in LEGACY_EVENTS.values()}
    for row in rows:
        for event in row["events"]:
            totals[event["code"]] += event["count"]
    return totals


def monthly_assessment(session: Session, hall: Hall, month: str, now: datetime) -> dict[str, Any]:
    """The month's assessment of every staff member of ``hall``, scored with the year's earlier months."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    year, number = parse_month(month)
    return month_payload(assess_year(session, hall, year, number, now), f"{year}-{number:02d}")
