"""Helpers for the voice-flow, status and dialer tests: real rows, signed webhook requests, TwiML read with XPath."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.db import session_factory
from callback.models import Attempt, Callback, TranscriptEvent, WebhookReceipt
from callback.web.app import create_app
from ivr.signing import sign_request
from tests.factories import make_case, make_hall

AUTH = "test-auth-token"
SECRET = "test-secret-key"  # an https PUBLIC_BASE_URL is production: the app refuses the default SECRET_KEY
BASE = "https://hall.example.cn"
# Wednesday 2026-11-04 10:00 in Shanghai: a working day, inside calling hours.
NOW = datetime(2026, 11, 4, 2, 0, tzinfo=UTC)


def make_app(database_url: str, **extra: Any) -> Flask:
    config = {"database_url": database_url, "public_base_url": BASE, "twilio_auth_token": AUTH,
              "secret_key": SECRET, **extra}
    app = create_app(config)
    app.config["CLOCK"] = lambda: NOW
    return app


def make_callback(
    session: Session,
    *,
    state: str = "calling",
    kind: str = "mobile",
    phone: str | None = None,
    item_name: str = "个体工商户设立登记",
    attempt: bool = True,
    sid: str | None = None,
    attempts_used: int | None = None,
    next_action_at: datetime | None = None,
) -> tuple[Callback, Attempt | None]:
    hall = make_hall(session)
    case = make_case(session, hall, phone=phone, kind=kind, item_name=item_name)
    used = attempts_used if attempts_used is not None else (1 if attempt else 0)
    callback = Callback(
        hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=case.window_id, week="2026-W45",
        state=state, token=secrets.token_urlsafe(16), attempts_used=used, next_action_at=next_action_at, flags={},
    )
    session.add(callback)
    session.flush()
    row = None
    if attempt:
        row = Attempt(hall_id=hall.id, callback_id=callback.id, number=used or 1, status="queued",
                      provider_call_id=sid or f"CA{secrets.token_hex(16)}", placed_at=NOW)
        session.add(row)
        session.flush()
    session.commit()
    return callback, row


@dataclass
class Twiml:
    """A TwiML response read with ElementTree's XPath subset."""

    xml: str
    root: ET.Element = field(init=False)

    def __post_init__(self) -> None:
        self.root = ET.fromstring(self.xml)

    def find(self, path: str) -> ET.Element | None:
        return self.root.find(path)

    @property
    def gather(self) -> ET.Element | None:
        return self.root.find("./Gather")

    @property
    def says(self) -> list[str]:
        return [e.text or "" for e in self.root.iter("Say")]

    @property
    def spoken(self) -> str:
        return " ".join(self.says)

    @property
    def hangs_up(self) -> bool:
        return self.root.find("./Hangup") is not None

    @property
    def next_url(self) -> str:
        """Where Twilio goes next: the Gather's or Record's action, else the Redirect."""
        for path in ("./Gather", "./Record"):
            node = self.root.find(path)
            if node is not None:
                return node.get("action", "")
        redirect = self.root.find("./Redirect")
        return redirect.text if redirect is not None else ""


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class Caller:
    """Plays Twilio's part against the Flask test client: signed POSTs to the URLs our TwiML names."""

    def __init__(self, client: FlaskClient, callback: Callback, attempt: Attempt | None, auth: str = AUTH) -> None:
        self.client, self.callback, self.attempt, self.auth = client, callback, attempt, auth
        self.sid = attempt.provider_call_id if attempt else ""
        self.responses: list[Twiml] = []

    def answer_url(self) -> str:
        return f"{BASE}/ivr/{self.callback.token}/answer?a={self.attempt.id}"

    def status_url(self) -> str:
        return f"{BASE}/ivr/{self.callback.token}/status?a={self.attempt.id}"

    def post(self, url: str, headers: dict[str, str] | None = None, sign: bool = True, **params: Any) -> Any:
        form = {"CallSid": self.sid, "AccountSid": "AC" + "0" * 32, **{k: str(v) for k, v in params.items()}}
        all_headers = {"X-Twilio-Signature": sign_request(url, form, self.auth)} if sign else {}
        all_headers.update(headers or {})
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        # The app sees plain http on localhost, as behind a TLS-terminating proxy; PUBLIC_BASE_URL says the rest.
        return self.client.post(path, data=form, headers=all_headers, base_url="http://localhost")

    def turn(self, url: str, **params: Any) -> Twiml:
        response = self.post(url, **params)
        assert response.status_code == 200, response.data
        assert response.mimetype == "text/xml"
        twiml = Twiml(response.get_data(as_text=True))
        self.responses.append(twiml)
        return twiml

    def answer(self, **params: Any) -> Twiml:
        return self.turn(self.answer_url(), AnsweredBy=params.pop("AnsweredBy", "human"), **params)

    def press(self, twiml: Twiml, digits: str) -> Twiml:
        params = {"Digits": digits} if digits else {}
        return self.turn(twiml.next_url, **params)

    def status(self, status: str, seq: int | None = None, headers: dict[str, str] | None = None, **params: Any):  # noqa: ANN201
        form = {"CallStatus": status, **params}
        if seq is not None:
            form["SequenceNumber"] = seq
        return self.post(self.status_url(), headers=headers, **form)


def count(session: Session, model: type, **where: Any) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return int(session.scalar(query) or 0)


def transcript_kinds(session: Session, callback_id: int) -> list[str]:
    rows = session.scalars(select(TranscriptEvent.kind).where(TranscriptEvent.callback_id == callback_id)
                           .order_by(TranscriptEvent.id))
    return list(rows)


def receipts(session: Session) -> int:
    return count(session, WebhookReceipt)


@contextmanager
def served_world(database_url: str, tmp_path: Path) -> Iterator[tuple[Session, Any, Any, Any, list[str]]]:
    """The app on a loopback port with a jumpable clock, a simulator signing against it, and every TwiML document
    it served (checked against Twilio's documented verbs at the end): (session, server, provider, clock, served)."""
    from flask import Response

    from ivr.localserver import LocalServer, SimClock
    from ivr.simulator import SimulatorProvider
    from ivr.simulator.twiml_spec import check_twiml

    app = make_app(database_url)
    clock = SimClock(NOW)
    app.config["CLOCK"] = clock
    served: list[str] = []

    @app.after_request
    def keep_twiml(response: Response) -> Response:
        if response.mimetype == "text/xml":
            served.append(response.get_data(as_text=True))
        return response

    with LocalServer(app) as server, session_factory(database_url)() as session:
        provider = SimulatorProvider(auth_token=AUTH, public_base_url=server.url, state_dir=tmp_path / "sim",
                                     start_delay=0.05)
        yield session, server, provider, clock, served
        provider.wait_idle(30)
    for xml in served:
        assert check_twiml(xml) == [], xml


@dataclass
class SimWorld:
    """What an end-to-end test holds: the database session, the served app, the simulator and the clock."""

    session: Session
    server: Any
    provider: Any
    clock: Any
    twiml: list[str] = field(default_factory=list)

    @property
    def settings(self) -> Any:
        return self.server.settings

    def reload(self, callback: Callback) -> Callback:
        self.session.expire_all()
        return self.session.get(Callback, callback.id)

    def phone(self, callback: Callback) -> str:
        from callback.models import Contact

        return self.session.get(Contact, callback.contact_id).phone


def reload(session: Session, callback: Callback) -> Callback:
    """The callback as the database has it now (after a webhook or a task changed it in another session)."""
    session.expire_all()
    return session.get(Callback, callback.id)
