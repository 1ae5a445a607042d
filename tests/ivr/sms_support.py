"""Helpers for the SMS survey tests (the provider is `callback.telephony.MockProvider`): callbacks waiting in state
``sms``, and a citizen who texts the inbound webhook through the Flask test client with a valid (or forged) signature."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import Answer, Callback, Contact, Hall
from ivr.signing import sign_request
from tests.factories import make_case, make_hall
from tests.ivr.ivr_support import AUTH, BASE


def sms_callback(
    session: Session,
    *,
    phone: str | None = None,
    hall: Hall | None = None,
    state: str = "sms",
    kind: str = "mobile",
    item_name: str = "个体工商户设立登记",
    next_action_at: datetime | None = None,
) -> Callback:
    """A callback whose calls are used up and whose survey now goes by SMS (as ivr.status.hand_off leaves it)."""
    hall = hall or make_hall(session)
    case = make_case(session, hall, phone=phone, kind=kind, item_name=item_name)
    callback = Callback(
        hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=case.window_id, week="2026-W45",
        state=state, channel="sms" if state == "sms" else "voice", outcome="no_answer", attempts_used=3,
        token=secrets.token_urlsafe(16), next_action_at=next_action_at, flags={},
    )
    session.add(callback)
    session.flush()
    session.commit()
    return callback


def phone_of(session: Session, callback: Callback) -> str:
    return session.get(Contact, callback.contact_id).phone


def answers(session: Session, callback: Callback) -> dict[str, str]:
    rows = session.scalars(select(Answer).where(Answer.callback_id == callback.id))
    return {a.item: a.key for a in rows}


@dataclass
class Reply:
    """What our inbound webhook answered: HTTP status, the TwiML, and the text of its <Message> (or None)."""

    status: int
    xml: str

    @property
    def text(self) -> str | None:
        if self.status != 200 or not self.xml.strip():
            return None
        message = ET.fromstring(self.xml).find("./Message")
        return None if message is None else (message.text or "")

    @property
    def action(self) -> str | None:
        message = ET.fromstring(self.xml).find("./Message")
        return None if message is None else message.get("action")


class Citizen:
    """Texts our webhooks as Twilio would deliver them: signed form posts with Twilio's parameter names."""

    def __init__(self, client: FlaskClient, phone: str, auth: str = AUTH) -> None:
        self.client, self.phone, self.auth = client, phone, auth

    def text(self, body: str, sid: str | None = None, sign: bool = True, **extra: Any) -> Reply:
        sid = sid or f"SM{secrets.token_hex(16)}"
        form = {
            "AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "Body": body, "From": self.phone,
            "To": "+861080000000", "MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "NumMedia": "0",
            "NumSegments": "1", "SmsStatus": "received", **extra,
        }
        return Reply(*post(self.client, f"{BASE}/sms/inbound", form, self.auth if sign else None))


def post(client: FlaskClient, url: str, form: dict[str, str], auth: str | None = AUTH) -> tuple[int, str]:
    headers = {"X-Twilio-Signature": sign_request(url, form, auth)} if auth else {}
    path = url[len(BASE):]
    response = client.post(path, data=form, headers=headers, base_url="http://localhost")
    return response.status_code, response.get_data(as_text=True)


def status(client: FlaskClient, message_id: int | None, sid: str, value: str, auth: str | None = AUTH,
           **extra: str) -> int:
    url = f"{BASE}/sms/status" + (f"?m={message_id}" if message_id is not None else "")
    form = {"AccountSid": "AC" + "0" * 32, "MessageSid": sid, "SmsSid": sid, "MessageStatus": value,
            "SmsStatus": value, "From": "+861080000000", "To": "+8613800000000", **extra}
    return post(client, url, form, auth)[0]
