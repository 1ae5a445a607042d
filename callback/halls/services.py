"""Halls: lookup shared by the CLI, the API and the worker; naming a hall and listing its windows and staff.

A hall's name is what citizens hear and read: the IVR greets callers with it (「您好，这里是{centre}」), the SMS
survey signs with it (【…】) and the public board shows it. They all read `Hall.name`, so renaming a hall
(`set_hall_name`) changes them from the next call, text or page on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, literal, select
from sqlalchemy.orm import Session

from callback.models import AuditEvent, Case, Contact, Hall, Staff, Window

CODE_MAX = 64  # halls.code is String(64)
NAME_MAX = 100  # halls.name holds 200; a name spoken and signed in every SMS is kept far shorter


class UnknownHall(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"未知的中心代码 {code!r} / unknown hall code {code!r}")
        self.code = code


def get_hall(session: Session, code: str) -> Hall:
    hall = session.scalar(select(Hall).where(Hall.code == code))
    if hall is None:
        raise UnknownHall(code)
    return hall


def ensure_hall(session: Session, code: str, name: str | None = None) -> Hall:
    """The hall with this code, created on first use (a ledger import may introduce a new hall)."""
    hall = session.scalar(select(Hall).where(Hall.code == code))
    if hall is None:
        hall = Hall(code=code, name=name or f"{code} 政务服务中心")
        session.add(hall)
        session.flush()
        carry_opt_outs(session, hall)
    return hall


def carry_opt_outs(session: Session, hall: Hall) -> int:
    """A new hall starts with every number opted out in another hall already opted out (an opted-out contact row,
    which its first ledger import reuses): an opt-out (key 9, TD/退订) holds in every hall, for good — also in
    halls that did not exist yet (callback.responses.optout.opt_out_number marks the halls that do). Returns the count."""
    earlier = (
        select(literal(hall.id), Contact.phone, func.min(Contact.kind), func.min(Contact.opted_out_at),
               literal("other_hall"))
        .where(Contact.opted_out_at.is_not(None), Contact.hall_id != hall.id)
        .group_by(Contact.phone)
    )
    columns = ["hall_id", "phone", "kind", "opted_out_at", "opt_out_source"]
    result = session.execute(insert(Contact).from_select(columns, earlier))
    return result.rowcount or 0


class HallNameError(ValueError):
    """A hall code or name that cannot be used; the message is for people (Chinese, English in brackets)."""


@dataclass(frozen=True)
class HallNamed:
    """What `set_hall_name` did: ``previous`` is None when the hall was created, equal to the name when unchanged."""

    hall: Hall
    previous: str | None

    @property
    def created(self) -> bool:
        return self.previous is None

    @property
    def changed(self) -> bool:
        return self.previous != self.hall.name


def clean_name(name: str | None) -> str:
    """A hall name as it will be spoken and printed: one line of 1–NAME_MAX printable characters, trimmed."""
    text = " ".join((name or "").split())
    if not text:
        raise HallNameError("中心名称不能为空 (the hall name is empty)")
    if len(text) > NAME_MAX:
        raise HallNameError(f"中心名称过长：最多 {NAME_MAX} 个字符 (at most {NAME_MAX} characters)")
    if not text.isprintable():
        raise HallNameError("中心名称含有控制字符 (the hall name holds control characters)")
    return text


def _clean_code(code: str | None) -> str:
    text = (code or "").strip()
    if not text or len(text) > CODE_MAX or not text.isprintable() or any(c.isspace() for c in text):
        raise HallNameError(f"中心代码应为 1–{CODE_MAX} 个字符、不含空格，例如 WF01 (a hall code like WF01)")
    return text


def set_hall_name(session: Session, code: str, name: str, now: datetime, *, actor: str) -> HallNamed:
    """Name the hall ``code`` (creating it, like a first ledger import would, if it does not exist yet) and record
    the change in the audit trail. Raises `HallNameError` for an empty, overlong or multi-line name or a bad code.
    The caller commits."""
    new_name, code = clean_name(name), _clean_code(code)
    hall = session.scalar(select(Hall).where(Hall.code == code))
    previous = None if hall is None else hall.name
    if hall is None:
        hall = ensure_hall(session, code, new_name)
    elif previous != new_name:
        hall.name = new_name
    if previous != new_name:
        session.add(AuditEvent(hall_id=hall.id, at=now, actor=actor, entity="hall", entity_id=hall.id,
                               action="hall_created" if previous is None else "hall_renamed",
                               detail={"from": previous, "to": new_name}))
    session.flush()
    return HallNamed(hall, previous)


def list_halls(session: Session) -> list[Hall]:
    """Every hall, by code."""
    return list(session.scalars(select(Hall).order_by(Hall.code)))


def hall_overview(session: Session, hall: Hall) -> dict[str, Any]:
    """The hall, its windows and, per window, the staff who work there — as the ledger shows them: the window a
    staff member's cases were accepted at (or the one recorded on the staff row). Staff are staff, not citizens:
    their names may be shown. Staff with no window are listed under ``unassigned_staff``. Sorted in Python, so
    both backends give the same order whatever their collation."""
    windows = sorted(session.scalars(select(Window).where(Window.hall_id == hall.id)), key=lambda w: w.name)
    staff = {m.id: m for m in session.scalars(select(Staff).where(Staff.hall_id == hall.id))}
    placed = _staff_windows(session, hall, staff.values())
    by_window: dict[int, list[str]] = {}
    for staff_id, window_id in placed:
        by_window.setdefault(window_id, []).append(staff[staff_id].name)
    seated = {staff_id for staff_id, _ in placed}
    return {
        "code": hall.code,
        "name": hall.name,
        "timezone": hall.timezone,
        "created_at": hall.created_at.isoformat(timespec="seconds") if hall.created_at else None,
        "staff_count": len(staff),
        "windows": [{"id": w.id, "name": w.name, "staff": sorted(by_window.get(w.id, []))} for w in windows],
        "unassigned_staff": sorted(m.name for m in staff.values() if m.id not in seated),
    }


def _staff_windows(session: Session, hall: Hall, staff: Iterable[Staff]) -> set[tuple[int, int]]:
    """(staff id, window id) pairs: from the hall's cases (one grouped pass) and from the staff rows."""
    rows = session.execute(
        select(Case.staff_id, Case.window_id)
        .where(Case.hall_id == hall.id, Case.staff_id.is_not(None))
        .group_by(Case.staff_id, Case.window_id)
    )
    pairs = {(staff_id, window_id) for staff_id, window_id in rows}
    return pairs | {(m.id, m.window_id) for m in staff if m.window_id is not None}
