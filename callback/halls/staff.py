"""A hall's window staff (经办人) as its administration keeps them: name, 工号 and the window they sit at.

Staff rows are made by ledger and evaluator imports (a ledger names a staff member, an evaluator export may give
their 工号: callback.evaluator.services.Directory). The administrator corrects them here: a name as the ledger
writes it (imports find staff by name, so a renamed member's later cases under the old name make a new row), a
工号 unique in the hall (evaluator rows are matched by it), and the window the staff row records (篇3 七9 counts a
member's cases by the window's role). Every change is an audit event with the old and new values. The caller
commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import AuditEvent, Hall, Staff, Window

NAME_MAX = 200  # staff.name
STAFF_NO_MAX = 64  # staff.staff_no


class StaffError(ValueError):
    """A staff change that cannot be made; the message is for people (Simplified Chinese)."""


@dataclass(frozen=True)
class StaffChange:
    """What a staff member is to become: ``window_id`` None leaves them without a window."""

    name: str
    staff_no: str | None
    window_id: int | None


def list_staff(session: Session, hall: Hall) -> list[Staff]:
    """The hall's staff, by name (sorted in Python: the same order on both backends)."""
    return sorted(session.scalars(select(Staff).where(Staff.hall_id == hall.id)), key=lambda m: (m.name, m.id))


def add_staff(session: Session, hall: Hall, change: StaffChange, now: datetime, *, actor: str) -> Staff:
    """A new staff member of the hall (before any import names them), audited. Raises StaffError."""
    clean = _checked(session, hall, change, None)
    member = Staff(hall_id=hall.id, name=clean.name, staff_no=clean.staff_no, window_id=clean.window_id,
                   created_at=now)
    session.add(member)
    session.flush()
    _audit(session, hall, member, "staff_added", actor, now, {"to": _values(member)})
    return member


def update_staff(session: Session, hall: Hall, staff_id: int, change: StaffChange, now: datetime, *,
                 actor: str) -> tuple[Staff, bool]:
    """Set a staff member's name, 工号 and window; audited with the old and new values. Returns (member, changed).
    Raises StaffError (an unknown member, a name or 工号 another member of the hall has, another hall's window)."""
    member = session.get(Staff, staff_id)
    if member is None or member.hall_id != hall.id:
        raise StaffError("本中心没有这名经办人")
    clean = _checked(session, hall, change, member.id)
    before = _values(member)
    member.name, member.staff_no, member.window_id = clean.name, clean.staff_no, clean.window_id
    after = _values(member)
    if after == before:
        return member, False
    session.flush()
    _audit(session, hall, member, "staff_updated", actor, now, {"from": before, "to": after})
    return member, True


def _checked(session: Session, hall: Hall, change: StaffChange, own_id: int | None) -> StaffChange:
    name = " ".join((change.name or "").split())
    staff_no = (change.staff_no or "").strip() or None
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise StaffError(f"姓名不能为空，须为一行、不超过 {NAME_MAX} 个字符")
    if staff_no is not None and (len(staff_no) > STAFF_NO_MAX or not staff_no.isprintable()):
        raise StaffError(f"工号须为一行、不超过 {STAFF_NO_MAX} 个字符")
    _unique(session, hall, Staff.name, name, own_id, f"本中心已有名为「{name}」的经办人")
    if staff_no is not None:
        _unique(session, hall, Staff.staff_no, staff_no, own_id, f"工号 {staff_no} 已属于本中心另一名经办人")
    if change.window_id is not None:
        window = session.get(Window, change.window_id)
        if window is None or window.hall_id != hall.id:
            raise StaffError("请选择本中心的窗口")
    return StaffChange(name, staff_no, change.window_id)


def _unique(session: Session, hall: Hall, column: Any, value: str, own_id: int | None, message: str) -> None:
    other = session.scalar(select(Staff.id).where(Staff.hall_id == hall.id, column == value))
    if other is not None and other != own_id:
        raise StaffError(message)


def _values(member: Staff) -> dict[str, Any]:
    return {"name": member.name, "staff_no": member.staff_no, "window_id": member.window_id}


def _audit(session: Session, hall: Hall, member: Staff, action: str, actor: str, now: datetime,
           detail: dict[str, Any]) -> None:
    session.add(AuditEvent(hall_id=hall.id, at=now, actor=actor, entity="staff", entity_id=member.id, action=action,
                           detail=detail))
