"""Webhook signatures are checked against PUBLIC_BASE_URL only, never the URL as received
(docs/architecture.md §Privacy and security): the host of that URL is whatever ``Host`` header the sender
chose, so accepting it would accept any host's signature."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from callback.models import Contact, Message, TranscriptEvent, WebhookReceipt
from ivr.signing import sign_request
from tests.ivr.ivr_support import AUTH, BASE, count, make_callback, reload
from tests.ivr.sms_support import phone_of, sms_callback

EVIL = "http://evil.example"


def stored(db: Session) -> tuple[int, ...]:
    db.expire_all()
    return tuple(count(db, model) for model in (WebhookReceipt, TranscriptEvent, Message))


def post_signed_for(app: Flask, host_url: str, path: str, form: dict[str, str]) -> int:
    """POST ``path`` with ``Host`` set to ``host_url``'s host, signed for ``host_url + path``."""
    signature = sign_request(host_url + path, form, AUTH)
    response = app.test_client().post(path, data=form, base_url=host_url, headers={"X-Twilio-Signature": signature})
    return response.status_code


def test_an_sms_signed_for_the_host_header_it_names_is_refused(app: Flask, db: Session) -> None:
    callback = sms_callback(db)
    form = {"From": phone_of(db, callback), "To": "+861080000000", "Body": "TD", "MessageSid": "SM" + "e" * 32}
    before = stored(db)
    assert post_signed_for(app, EVIL, "/sms/inbound", form) == 403
    assert stored(db) == before
    assert db.get(Contact, callback.contact_id).opted_out_at is None and reload(db, callback).state == "sms"
    assert post_signed_for(app, BASE, "/sms/inbound", form) == 200  # the same text, signed for PUBLIC_BASE_URL


def test_a_voice_webhook_signed_for_the_host_header_it_names_is_refused(app: Flask, db: Session) -> None:
    callback, attempt = make_callback(db)
    path = f"/ivr/{callback.token}/status?a={attempt.id}"
    form = {"CallSid": attempt.provider_call_id, "CallStatus": "busy", "SequenceNumber": "3"}
    before = stored(db)
    assert post_signed_for(app, EVIL, path, form) == 403
    assert stored(db) == before and reload(db, callback).state == "calling"
