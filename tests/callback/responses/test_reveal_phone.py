"""The audited reveal of a citizen's whole number (callback.responses.privacy.reveal_phone): a supervisor who must
act on it gets it after giving a reason; every reveal is an audit event (who, from where, why); an on-site form has
no number and a purged number is gone."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import AuditEvent, Callback, Contact
from callback.responses.privacy import RevealRefused, reveal_phone
from callback.retention.services import phone_hash
from tests.factories import make_case, make_hall, make_window

PHONE = "+8613912345678"


def callback_of(session: Session, phone: str | None = PHONE) -> Callback:
    hall = make_hall(session)
    case = make_case(session, hall, phone=phone) if phone else None
    callback = Callback(hall_id=hall.id, case_id=case.id if case else None, contact_id=case.contact_id if case else None,
                        window_id=case.window_id if case else make_window(session, hall).id, week="2026-W48",
                        state="complete", channel="voice" if case else "onsite", token=secrets.token_hex(16), flags={})
    session.add(callback)
    session.flush()
    return callback


def reveals(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "reveal")))


def test_reveal_phone_returns_the_number_and_audits_who_where_why(session: Session) -> None:
    callback = callback_of(session)
    assert reveal_phone(session, callback.id, "张督查 (console:zhang)", "市民投诉，需人工回电 13800001111",
                        user_id=None, ip="192.0.2.5") == PHONE
    [event] = reveals(session)
    assert (event.entity, event.entity_id, event.actor, event.ip) == ("callback", callback.id,
                                                                     "张督查 (console:zhang)", "192.0.2.5")
    assert event.detail == {"field": "phone", "reason": "市民投诉，需人工回电 138****1111"}


@pytest.mark.parametrize("reason", ["", "   "])
def test_no_reason_no_number(session: Session, reason: str) -> None:
    callback = callback_of(session)
    with pytest.raises(RevealRefused, match="须填写理由"):
        reveal_phone(session, callback.id, "张督查", reason)
    assert reveals(session) == []


def test_an_onsite_form_has_no_number(session: Session) -> None:
    callback = callback_of(session, phone=None)
    with pytest.raises(RevealRefused, match="没有号码"):
        reveal_phone(session, callback.id, "张督查", "回电")
    assert reveals(session) == []


def test_a_purged_number_cannot_be_revealed(session: Session) -> None:
    callback = callback_of(session)
    contact = session.get(Contact, callback.contact_id)
    contact.phone = phone_hash(b"k" * 32, contact.phone)
    session.flush()
    with pytest.raises(RevealRefused, match="已清除"):
        reveal_phone(session, callback.id, "张督查", "回电")
    assert reveals(session) == []


def test_an_unknown_callback_is_refused(session: Session) -> None:
    with pytest.raises(RevealRefused, match="找不到回访#424242"):
        reveal_phone(session, 424242, "张督查", "回电")
