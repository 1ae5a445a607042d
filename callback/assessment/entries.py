"""What supervisors record for 篇3 that the system cannot know: entries, their corrections, and what counts.

An entry names a registered staff member, the month (the hall's local month; from ``day`` when given), a clause
of ``survey.assessment_rules`` (``一1`` … ``七9``) with its count — or the minutes of an absence (一3, 一6), the grade
when the clause has several, the points per occurrence of a discretionary clause (三7, 六3 …) — a note, who
entered it and when. Two facts that are not clauses use the same table: ``产假`` (the month scores the base,
篇3 二) and ``一7`` leave days (``grade`` personal | sick, ``count`` days; the year's totals bar the award).

Every entry is checked by ``survey.assessment`` itself (the rules are never written again here), and its grade is
stored resolved. Entries are never changed or deleted: ``correct_entry`` adds an entry that supersedes the old one,
with the reason (a count of 0 withdraws it); both are audited. The entries that count are the active ones: those no
other entry supersedes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from callback.models import AuditEvent, Hall, Staff
from callback.models.assessment import AssessmentEntry
from survey.assessment import Entry, clause, entry_for_rating, score_month
from survey.privacy import mask_text
from survey.scale import Rating
from survey.weeks import PeriodError, month_of, parse_month

MATERNITY = "产假"
"""The pseudo-clause of a 产假 month: 篇3 二 "产假人员以基本分作为个人每月考核分数"."""
LEAVE = "一7"
LEAVE_KINDS = {"personal": "因私请假", "sick": "病假"}
"""篇3 一7's leave entries: ``count`` days of 因私 or 病假 leave (one entry per leave taken)."""
RATING_SOURCES = {"evaluator": "服务监督卡、评价器", "district": "区级电话回访", "above_district": "区级以上电话回访"}
"""``--source`` of a rating entry (篇3 五1, 五4), for ``survey.assessment.entry_for_rating``."""
RATING_WORDS = {"S": Rating.S, "B": Rating.B, "U": Rating.U, "满意": Rating.S, "基本满意": Rating.B,
                "不满意": Rating.U}
MAX_COUNT = 1000
MAX_NOTE = 500


class EntryError(ValueError):
    """An entry that cannot be recorded; the message is for people (Chinese)."""


@dataclass(frozen=True)
class EntryInput:
    """One entry as given (CLI, template row, console form). ``grade``: the key or the label of the clause's grade;
    ``source`` and ``rating`` instead of a grade for 五1 / 五4 (e.g. district, B)."""

    staff: str
    clause: str
    month: str | None = None
    day: date | None = None
    count: int = 1
    grade: str | None = None
    minutes: int | None = None
    points: Decimal | str | None = None
    note: str = ""
    source: str | None = None
    rating: str | None = None


# --- checking --------------------------------------------------------------------------------------------------


def find_staff(session: Session, hall: Hall, name: str) -> Staff:
    staff = session.scalar(select(Staff).where(Staff.hall_id == hall.id, Staff.name == name.strip()))
    if staff is None:
        raise EntryError(f"本中心没有登记名为「{name.strip()}」的工作人员（unknown staff member）")
    return staff


def entry_month(month: str | None, day: date | None) -> str:
    """The month an entry belongs to: ``month``, or the month of ``day``; both given must agree."""
    if month is None and day is None:
        raise EntryError("须注明月份或日期（--month 2026-11 或 --date 2026-11-05）")
    try:
        year, number = parse_month(month) if month is not None else (day.year, day.month)  # type: ignore[union-attr]
    except PeriodError as exc:
        raise EntryError(str(exc)) from None
    if day is not None and (day.year, day.month) != (year, number):
        raise EntryError(f"日期 {day.isoformat()} 不在 {year}-{number:02d} 月内")
    return f"{year}-{number:02d}"


def _points(value: Decimal | str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise EntryError(f"分值“{value}”不是数字") from None


def _grade_key(clause_id: str, grade: str | None) -> str | None:
    """A grade given by its key or by its label (as the template's clause sheet prints it)."""
    if grade is None or not grade.strip():
        return None
    grade = grade.strip()
    for candidate in clause(clause_id).grades:
        if grade in (candidate.key, candidate.label):
            return candidate.key
    return grade  # survey.assessment names the choices in its error


def _rating_grade(given: EntryInput) -> str | None:
    """五1 / 五4 by source and rating: the grade `entry_for_rating` gives (满意 deducts nothing)."""
    if given.source is None and given.rating is None:
        return _grade_key(given.clause, given.grade)
    if given.source not in RATING_SOURCES or (given.rating or "").strip() not in RATING_WORDS:
        raise EntryError("评议结果须写明来源（evaluator、district、above_district）和等次（B 基本满意、U 不满意）")
    made = entry_for_rating(given.source, RATING_WORDS[given.rating.strip()])  # type: ignore[arg-type, union-attr]
    if made is None:
        raise EntryError("评议为满意，不扣分，无需录入")
    if made.clause != given.clause:
        raise EntryError(f"{RATING_SOURCES[given.source]}的评议属于条款{made.clause}，不是{given.clause}")
    return made.grade


def _checked_leave(given: EntryInput) -> str:
    if given.grade not in LEAVE_KINDS and given.grade not in LEAVE_KINDS.values():
        raise EntryError("条款一7（请假天数）须注明等次：personal（因私请假）或 sick（病假），次数为天数")
    if given.minutes is not None or _points(given.points) is not None:
        raise EntryError("条款一7只录入请假天数（次数），不录分钟或分值")
    return next(key for key, label in LEAVE_KINDS.items() if given.grade in (key, label))


def resolved_grade(given: EntryInput) -> str | None:
    """Check the entry against 篇3 (``survey.assessment``) and return the grade key it scores under (None for
    产假). Raises `EntryError` with the rule's own message."""
    if not 0 <= given.count <= MAX_COUNT:
        raise EntryError(f"次数须在 0–{MAX_COUNT} 之间（0 只用于更正时撤销一条录入）")
    if given.clause == MATERNITY:
        if given.grade or given.minutes is not None or _points(given.points) is not None or given.count > 1:
            raise EntryError("产假只需注明工作人员和月份")
        return None
    if given.clause == LEAVE:
        return _checked_leave(given)
    try:
        probe = Entry(given.clause, max(given.count, 1), grade=_rating_grade(given), minutes=given.minutes,
                      points=_points(given.points))
        return score_month([probe]).rules[0].grade
    except ValueError as exc:
        raise EntryError(str(exc)) from None


# --- recording -------------------------------------------------------------------------------------------------


def _audit(session: Session, entry: AssessmentEntry, action: str, now: datetime, actor: str, **detail: Any) -> None:
    session.add(AuditEvent(hall_id=entry.hall_id, at=now, actor=actor, entity="assessment_entry", entity_id=entry.id,
                           action=action, detail=detail | {"clause": entry.clause, "month": entry.month}))


def _note(note: str | None) -> str:
    text = " ".join((note or "").split())
    if len(text) > MAX_NOTE:
        raise EntryError(f"说明最多 {MAX_NOTE} 个字")
    return text


def _maternity_taken(session: Session, staff_id: int, month: str) -> bool:
    rows = active_entries(session, None, [month], staff_id=staff_id)
    return any(row.clause == MATERNITY and row.count for row in rows)


def add_entry(session: Session, hall: Hall, given: EntryInput, now: datetime, *, actor: str, origin: str = "cli",
              import_key: str | None = None, supersedes: AssessmentEntry | None = None,
              reason: str | None = None) -> AssessmentEntry:
    """Record one entry (checked first: nothing is written for a bad one) and audit it. The caller commits."""
    staff = find_staff(session, hall, given.staff)
    month = entry_month(given.month, given.day)
    if month > month_of(now, ZoneInfo(hall.timezone or "Asia/Shanghai")):
        raise EntryError(f"{month} 尚未开始，不能录入")
    if supersedes is None and given.count < 1:
        raise EntryError("次数须至少为 1（撤销一条录入请用 callback assess correct --withdraw）")
    grade = resolved_grade(given)
    if given.clause == MATERNITY and supersedes is None and _maternity_taken(session, staff.id, month):
        raise EntryError(f"{staff.name} {month} 已录入产假")
    entry = AssessmentEntry(
        hall_id=hall.id, staff_id=staff.id, month=month, day=given.day, clause=given.clause, grade=grade,
        count=given.count, minutes=given.minutes, points=_points(given.points), note=_note(given.note),
        origin=origin, import_key=import_key, supersedes_id=supersedes.id if supersedes else None, reason=reason,
        entered_by=actor, entered_at=now,
    )
    session.add(entry)
    session.flush()
    action = "assessment_entry_corrected" if supersedes else "assessment_entry_added"
    _audit(session, entry, action, now, actor, count=entry.count, grade=grade, origin=origin,
           **({"supersedes": supersedes.id, "reason": reason} if supersedes else {}))
    return entry


def correct_entry(session: Session, hall: Hall, entry_id: int, changes: dict[str, Any], reason: str,
                  now: datetime, *, actor: str) -> AssessmentEntry:
    """Replace an active entry by a corrected copy (``changes``: EntryInput fields; ``count`` 0 withdraws it),
    with the reason. The old entry stays, superseded. The caller commits."""
    if not (reason or "").strip():
        raise EntryError("更正须说明原因（--reason）")
    old = session.get(AssessmentEntry, entry_id)
    if old is None or old.hall_id != hall.id:
        raise EntryError(f"没有编号为 {entry_id} 的考核录入")
    newer = session.scalar(select(AssessmentEntry.id).where(AssessmentEntry.supersedes_id == old.id))
    if newer is not None:
        raise EntryError(f"录入 {entry_id} 已被 {newer} 更正，请更正最新的一条")
    staff = session.get(Staff, old.staff_id)
    given = _as_input(old, staff.name if staff else "")
    if changes.get("clause", old.clause) != old.clause:  # another clause: the old grade, minutes, points do not apply
        given = replace(given, grade=None, minutes=None, points=None)
    given = replace(given, **changes)
    if "day" in changes and "month" not in changes:
        given = replace(given, month=None if given.day else old.month)
    return add_entry(session, hall, given, now, actor=actor, origin=old.origin, supersedes=old,
                     reason=reason.strip())


def _as_input(row: AssessmentEntry, staff: str) -> EntryInput:
    return EntryInput(staff=staff, clause=row.clause, month=row.month, day=row.day, count=row.count,
                      grade=row.grade, minutes=row.minutes, points=row.points, note=row.note)


# --- reading ---------------------------------------------------------------------------------------------------


def active_entries(session: Session, hall_id: int | None, months: Collection[str], *,
                   staff_id: int | None = None) -> list[AssessmentEntry]:
    """The entries that count in these months: those no other entry supersedes, in the order entered."""
    newer = aliased(AssessmentEntry)
    query = (select(AssessmentEntry)
             .outerjoin(newer, newer.supersedes_id == AssessmentEntry.id)
             .where(newer.id.is_(None), AssessmentEntry.month.in_(list(months))))
    if hall_id is not None:
        query = query.where(AssessmentEntry.hall_id == hall_id)
    if staff_id is not None:
        query = query.where(AssessmentEntry.staff_id == staff_id)
    return list(session.scalars(query.order_by(AssessmentEntry.id)))


def survey_entry(row: AssessmentEntry) -> Entry:
    """The entry as ``survey.assessment`` scores it (产假 and 一7 leave are not scored this way)."""
    return Entry(row.clause, row.count, grade=row.grade, minutes=row.minutes, points=row.points, note=row.note)


def entry_summary(row: AssessmentEntry, staff: str = "") -> dict[str, Any]:
    """An entry for JSON and tables; the note is masked (a supervisor may have typed a number into it)."""
    return {
        "id": row.id, "staff_id": row.staff_id, "staff": staff, "month": row.month,
        "date": row.day.isoformat() if row.day else None, "clause": row.clause, "grade": row.grade,
        "count": row.count, "minutes": row.minutes, "points": None if row.points is None else float(row.points),
        "note": mask_text(row.note), "origin": row.origin, "entered_by": row.entered_by,
        "entered_at": row.entered_at.isoformat(timespec="seconds"), "corrects": row.supersedes_id,
        "reason": mask_text(row.reason) if row.reason else None,
    }


def entry_history(session: Session, hall: Hall, month: str) -> list[dict[str, Any]]:
    """Every entry of the month, superseded ones included, each saying whether it still counts."""
    rows = list(session.scalars(select(AssessmentEntry).where(AssessmentEntry.hall_id == hall.id,
                                                              AssessmentEntry.month == month)
                                .order_by(AssessmentEntry.id)))
    replaced = {row.supersedes_id: row.id for row in rows if row.supersedes_id is not None}
    names = dict(session.execute(select(Staff.id, Staff.name).where(Staff.hall_id == hall.id)).all())
    return [entry_summary(row, names.get(row.staff_id, "")) | {"corrected_by": replaced.get(row.id)} for row in rows]
