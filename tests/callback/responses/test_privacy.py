"""The audited reveal of a citizen's raw suggestion (docs/architecture.md §Privacy and security): the only
door to the unmasked words."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import AuditEvent, Callback
from callback.responses.privacy import RevealRefused, reveal_suggestion
from tests.factories import make_case, make_hall

SAID = "我的电话是13912345678，身份证110101199003071234"


def callback_with(session: Session, suggestion: str | None) -> Callback:
    hall = make_hall(session)
    case = make_case(session, hall)
    callback = Callback(hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=case.window_id,
                        week="2026-W48", state="complete", channel="voice", suggestion=suggestion,
                        token=secrets.token_hex(16), flags={})
    session.add(callback)
    session.flush()
    return callback


def reveals(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "reveal")))


def test_reveal_returns_the_raw_words_and_audits_who_and_why(session: Session) -> None:
    callback = callback_with(session, SAID)
    assert reveal_suggestion(session, callback.id, "督查科 李四", "市民要求回电，需要号码") == SAID
    [event] = reveals(session)
    assert (event.hall_id, event.entity, event.entity_id, event.actor) == (
        callback.hall_id, "callback", callback.id, "督查科 李四")
    assert event.detail == {"field": "suggestion", "reason": "市民要求回电，需要号码"}


def test_every_reveal_is_recorded(session: Session) -> None:
    callback = callback_with(session, SAID)
    reveal_suggestion(session, callback.id, "李四", "回电")
    reveal_suggestion(session, callback.id, "王五", "核实投诉")
    assert [(e.actor, e.detail["reason"]) for e in reveals(session)] == [("李四", "回电"), ("王五", "核实投诉")]


def test_no_suggestion_reveals_an_empty_text_but_is_still_audited(session: Session) -> None:
    callback = callback_with(session, None)
    assert reveal_suggestion(session, callback.id, "李四", "核实") == ""
    assert len(reveals(session)) == 1


@pytest.mark.parametrize(("actor", "reason"), [("李四", ""), ("李四", "   "), ("", "回电"), (" ", "回电")])
def test_a_reveal_without_reason_or_actor_is_refused_and_shows_nothing(session: Session, actor: str,
                                                                       reason: str) -> None:
    callback = callback_with(session, SAID)
    with pytest.raises(RevealRefused):
        reveal_suggestion(session, callback.id, actor, reason)
    assert reveals(session) == []


def test_an_unknown_callback_is_refused(session: Session) -> None:
    with pytest.raises(RevealRefused, match="找不到回访#999999"):
        reveal_suggestion(session, 999999, "李四", "回电")
