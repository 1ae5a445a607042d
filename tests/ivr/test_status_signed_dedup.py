"""Status callbacks without SequenceNumber are de-duplicated on what Twilio signs, never on the unsigned
``I-Twilio-Idempotency-Token`` header alone (docs/architecture.md §Source of truth)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from callback.models import Attempt, TranscriptEvent, WebhookReceipt
from ivr.status import parse_status
from tests.ivr.ivr_support import Caller, count, make_callback, reload


def caller(app: Flask, db: Session, **kw: object) -> Caller:
    callback, attempt = make_callback(db, **kw)
    return Caller(app.test_client(), callback, attempt)


def test_different_signed_bodies_under_one_idempotency_header_are_both_applied(app: Flask, db: Session) -> None:
    call = caller(app, db, attempts_used=1)
    header = {"I-Twilio-Idempotency-Token": "same-token"}
    assert call.status("ringing", headers=header).status_code == 204
    assert call.status("no-answer", headers=header).status_code == 204
    db.expire_all()
    assert db.get(Attempt, call.attempt.id).status == "no-answer"
    callback = reload(db, call.callback)
    assert callback.state == "drawn" and callback.flags["last_disposition"] == "no_answer"


def test_the_same_signed_body_is_applied_once_whatever_the_header_says(app: Flask, db: Session) -> None:
    call = caller(app, db, attempts_used=2)
    call.status("busy", headers={"I-Twilio-Idempotency-Token": "first"})
    events, receipts = count(db, TranscriptEvent), count(db, WebhookReceipt)
    assert call.status("busy", headers={"I-Twilio-Idempotency-Token": "second"}).status_code == 204
    assert call.status("busy").status_code == 204
    callback = reload(db, call.callback)
    assert (count(db, TranscriptEvent), count(db, WebhookReceipt)) == (events, receipts)
    assert callback.attempts_used == 2 and callback.state == "drawn"


def test_the_delivery_key_covers_the_signed_form_and_query_in_any_order() -> None:
    form = MultiDict([("CallSid", "CA1"), ("CallStatus", "busy"), ("Timestamp", "Wed, 04 Nov 2026 02:00:00 +0000")])
    reordered = MultiDict(list(reversed(list(form.items(multi=True)))))
    key = parse_status("t", {"a": "3"}, form, {"I-Twilio-Idempotency-Token": "x"}).delivery_key
    assert key == parse_status("t", {"a": "3"}, reordered, {"I-Twilio-Idempotency-Token": "y"}).delivery_key
    assert key != parse_status("t", {"a": "4"}, form, {}).delivery_key
    later = MultiDict({**form.to_dict(), "Timestamp": "Wed, 04 Nov 2026 02:00:05 +0000"})
    assert key != parse_status("t", {"a": "3"}, later, {}).delivery_key
    assert key.startswith("status:CA1:busy:") and len(key) <= 200
