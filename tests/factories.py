"""Small factories that build real rows. Each returns the flushed object; the caller commits."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import Case, Contact, Hall, Window

_seq = itertools.count(1)


def make_hall(session: Session, code: str = "DEMO", name: str = "示范政务服务中心") -> Hall:
    hall = session.scalar(select(Hall).where(Hall.code == code))
    if hall is None:
        hall = Hall(code=code, name=name)
        session.add(hall)
        session.flush()
    return hall


def make_window(session: Session, hall: Hall, name: str = "市场监管窗口") -> Window:
    window = session.scalar(select(Window).where(Window.hall_id == hall.id, Window.name == name))
    if window is None:
        window = Window(hall_id=hall.id, name=name)
        session.add(window)
        session.flush()
    return window


def make_contact(session: Session, hall: Hall, phone: str | None = None, kind: str = "mobile") -> Contact:
    phone = phone or f"+86138{next(_seq):08d}"
    contact = session.scalar(select(Contact).where(Contact.hall_id == hall.id, Contact.phone == phone))
    if contact is None:
        contact = Contact(hall_id=hall.id, phone=phone, kind=kind)
        session.add(contact)
        session.flush()
    return contact


def make_case(
    session: Session,
    hall: Hall,
    window: Window | None = None,
    *,
    case_no: str | None = None,
    phone: str | None = None,
    kind: str = "mobile",
    accepted_at: datetime | None = None,
    item_name: str = "个体工商户设立登记",
) -> Case:
    window = window or make_window(session, hall)
    contact = make_contact(session, hall, phone, kind)
    case_no = case_no or f"BJ{next(_seq):08d}"
    case = Case(
        hall_id=hall.id,
        case_no=case_no,
        window_id=window.id,
        contact_id=contact.id,
        item_name=item_name,
        item_kind="即办件",
        applicant="张三",
        phone_raw=contact.phone,
        accepted_at=accepted_at or datetime(2026, 11, 2, 2, 0, tzinfo=UTC),
        row_hash=hashlib.sha256(case_no.encode()).hexdigest(),
    )
    session.add(case)
    session.flush()
    return case
