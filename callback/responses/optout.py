"""Opting out (key 9 on a call, TD/退订/STOP by SMS, a staff member's entry after their own call): one rule for every
channel —
the number is never contacted again, in every hall, for good (docs/architecture.md §Callback states), and it
is excluded from every future draw."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callback.ledger.values import normalise_phone
from callback.models import AuditEvent, Callback, Contact, Hall
from callback.responses.states import WAITING, CallbackState, end
from callback.responses.transcript import add_event


def normalise_sender(number: str) -> str:
    """Twilio sends E.164 (``+8613812345678``); a domestic gateway may send ``13812345678``: same contact."""
    number = (number or "").strip()
    phone = normalise_phone(number)
    return phone.e164 or number


def contacts_of(session: Session, phone: str) -> list[Contact]:
    """Every hall's contact row of this number."""
    return list(session.scalars(select(Contact).where(Contact.phone == phone).order_by(Contact.id))) if phone else []


def is_opted_out(session: Session, phone: str) -> bool:
    """Has this number opted out in any hall? (An opt-out holds across halls.)"""
    query = select(func.count()).select_from(Contact).where(Contact.phone == phone, Contact.opted_out_at.is_not(None))
    return bool(phone) and bool(session.scalar(query))


def opt_out(session: Session, callback: Callback, now: datetime, source: str) -> None:
    """The citizen of this callback opts out (key 9, TD/退订): the number everywhere, and the callback ends
    ``opted_out`` (final)."""
    contact = session.get(Contact, callback.contact_id)
    if contact is not None:
        opt_out_number(session, contact.phone, now, source)
    end(callback, CallbackState.OPTED_OUT, now)
    session.add(AuditEvent(hall_id=callback.hall_id, at=now, actor=source, entity="callback",
                           entity_id=callback.id, action="opted_out", detail={}))


# How the transcript says a number was opted out, by ``source`` (anything else: a staff member's entry).
HOW = {"sms": "短信回复", "ivr_key9": "电话按键 9"}


def opt_out_number(session: Session, phone: str, now: datetime, source: str = "sms", actor: str | None = None) -> bool:
    """Opt ``phone`` out for good in every hall (no call or SMS ever again, excluded from every future draw).

    Existing contact rows are marked; a hall that has no row for the number gets one, already opted out, which
    a later ledger import reuses. Callbacks of the number still waiting (``drawn``, ``sms``) end ``opted_out``.
    ``source`` is stored on the contacts (sms, ivr_key9, manual); the audit rows name ``actor`` (default: the
    source). Returns True if anything changed (False: the number was already opted out everywhere, or is not a
    number).
    """
    contacts = contacts_of(session, phone)
    kind = contacts[0].kind if contacts else normalise_phone(phone).kind
    if not contacts and kind not in ("mobile", "landline"):
        return False
    who = _Who(source, actor or source)
    changed = _mark_contacts(session, contacts, now, who)
    changed |= _contacts_for_other_halls(session, phone, kind, {c.hall_id for c in contacts}, now, who)
    _close_waiting(session, [c.id for c in contacts_of(session, phone)], now, who)
    return changed


class _Who(NamedTuple):
    source: str
    actor: str


def _mark_contacts(session: Session, contacts: list[Contact], now: datetime, who: _Who) -> bool:
    changed = False
    for contact in contacts:
        if contact.opted_out_at is None:
            contact.opted_out_at, contact.opt_out_source = now, who.source
            session.add(AuditEvent(hall_id=contact.hall_id, at=now, actor=who.actor, entity="contact",
                                   entity_id=contact.id, action="opted_out", detail={"source": who.source}))
            changed = True
    return changed


def _contacts_for_other_halls(
    session: Session, phone: str, kind: str, known: set[int], now: datetime, who: _Who
) -> bool:
    changed = False
    for hall_id in session.scalars(select(Hall.id).order_by(Hall.id)):
        if hall_id in known:
            continue
        try:
            with session.begin_nested():
                session.add(Contact(hall_id=hall_id, phone=phone, kind=kind, opted_out_at=now,
                                    opt_out_source=who.source))
            changed = True
        except IntegrityError:  # a concurrent ledger import created it: mark that one
            row = session.scalar(select(Contact).where(Contact.hall_id == hall_id, Contact.phone == phone))
            changed |= _mark_contacts(session, [row] if row else [], now, who)
    return changed


def _close_waiting(session: Session, contact_ids: list[int], now: datetime, who: _Who) -> None:
    """Callbacks of the number not in a call (``drawn``, ``sms``) end ``opted_out`` (a live call is left to its
    own flow, which ends it when the call does)."""
    if not contact_ids:
        return
    query = select(Callback).where(Callback.contact_id.in_(contact_ids), Callback.state.in_(list(WAITING)))
    for callback in session.scalars(query.with_for_update()):
        end(callback, CallbackState.OPTED_OUT, now)
        add_event(session, hall_id=callback.hall_id, callback_id=callback.id, kind="status", at=now,
                  text=f"已退订（{HOW.get(who.source, '人工登记')}）：今后不再回访",
                  data={"outcome": CallbackState.OPTED_OUT.value})
        session.add(AuditEvent(hall_id=callback.hall_id, at=now, actor=who.actor, entity="callback",
                               entity_id=callback.id, action="opted_out", detail={"source": who.source}))
