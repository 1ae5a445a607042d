"""A local Twilio-compatible REST endpoint on a loopback port, for TWILIO_API_URL.

It answers the few resources TwilioProvider uses the way api.twilio.com does (paths, form parameters, JSON bodies,
error bodies with Twilio's codes) and records every request, so a test can assert exactly what was sent:

    with FakeTwilio() as fake:
        provider = TwilioProvider(fake.account_sid, fake.auth_token, api_url=fake.url)
        provider.place_call(...)
        fake.requests[-1].form["StatusCallbackEvent"]  # ['initiated', 'ringing', 'answered', 'completed']

Resources: POST Calls.json, GET Calls/{sid}.json, POST Messages.json, GET Recordings/{sid}[.wav|.mp3],
DELETE Recordings/{sid}.json (204; 404 when there is no such recording).
Injected failures (`fail_next`) answer the next request with a Twilio error body and status.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_ROUTES = [
    ("POST", re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Calls\.json$"), "create_call"),
    ("GET", re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Calls/(CA\w+)\.json$"), "fetch_call"),
    ("POST", re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Messages\.json$"), "create_message"),
    (
        "GET",
        re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Recordings/(RE\w+?)(\.wav|\.mp3)?$"),
        "fetch_recording",
    ),
    ("DELETE", re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Recordings/(RE\w+?)\.json$"), "delete_recording"),
]


@dataclass
class RecordedRequest:
    method: str
    path: str
    form: dict[str, list[str]]
    query: dict[str, list[str]]
    headers: dict[str, str]

    def one(self, name: str) -> str:
        """The single value of a form parameter (fails the test if it is absent or repeated)."""
        values = self.form[name]
        assert len(values) == 1, f"{name} sent {len(values)} times"
        return values[0]

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user, password


@dataclass
class _Failure:
    status: int
    code: int
    message: str


def _now() -> str:
    return format_datetime(datetime.now(UTC))


def _error(status: int, code: int, message: str) -> Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Response(json.dumps(body), status=status, content_type="application/json")


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


def segments(body: str) -> int:
    """SMS segments as Twilio counts them: GSM-7 160/153 per segment, UCS-2 (any Chinese) 70/67."""
    gsm = all(ord(c) < 128 for c in body)
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // multi)


@dataclass
class FakeTwilio:
    account_sid: str = "AC" + "f" * 32
    auth_token: str = "fake-twilio-auth-token"
    requests: list[RecordedRequest] = field(default_factory=list)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    recordings: dict[str, bytes] = field(default_factory=dict)
    _failures: list[_Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> FakeTwilio:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls --------------------------------------------------------------------------------------
    def fail_next(self, status: int, code: int | None = None, message: str = "Injected failure") -> None:
        self._failures.append(_Failure(status, code if code is not None else status, message))

    def set_call(self, sid: str, **fields: Any) -> None:
        self.calls[sid].update(fields)

    def add_recording(self, data: bytes) -> str:
        sid = "RE" + uuid.uuid4().hex
        self.recordings[sid] = data
        return f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}"

    def posted(self, suffix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith(suffix)]

    # -- WSGI -----------------------------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            response = self._handle(request)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                form={k: request.form.getlist(k) for k in request.form},
                query={k: request.args.getlist(k) for k in request.args},
                headers=dict(request.headers),
            )
        )
        if self._failures:
            failure = self._failures.pop(0)
            return _error(failure.status, failure.code, failure.message)
        for method, pattern, handler in _ROUTES:
            match = pattern.match(request.path)
            if match and request.method == method:
                if not self._authorized(request, match.group(1)):
                    return _error(401, 20003, "Authenticate")
                return getattr(self, f"_{handler}")(request, *match.groups()[1:])
        return _error(404, 20404, f"The requested resource {request.path} was not found")

    def _authorized(self, request: Request, account: str) -> bool:
        auth = request.authorization
        return (
            auth is not None
            and account == self.account_sid
            and (auth.username, auth.password) == (self.account_sid, self.auth_token)
        )

    def _check_numbers(self, form: Any) -> Response | None:
        if not form.get("From"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not E164.match(form.get("To", "")):
            return _error(400, 21211, f"Invalid 'To' Phone Number: {form.get('To', '')}")
        return None

    def _create_call(self, request: Request) -> Response:
        form = request.form
        problem = self._check_numbers(form)
        if problem is not None:
            return problem
        if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
            return _error(400, 21205, "Url parameter is required.")
        sid = "CA" + uuid.uuid4().hex
        self.calls[sid] = self._call_resource(sid, form)
        return _json(self.calls[sid], status=201)

    def _call_resource(self, sid: str, form: Any) -> dict[str, Any]:
        now = _now()
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": form["To"],
            "to_formatted": form["To"],
            "from": form["From"],
            "from_formatted": form["From"],
            "status": "queued",
            "direction": "outbound-api",
            "answered_by": None,
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "start_time": None,
            "end_time": None,
            "duration": None,
            "price": None,
            "price_unit": "USD",
            "parent_call_sid": None,
            "phone_number_sid": None,
            "queue_time": "0",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json",
            "subresource_uris": {},
        }

    def _fetch_call(self, request: Request, sid: str) -> Response:
        if sid not in self.calls:
            return _error(404, 20404, f"The requested resource /Calls/{sid}.json was not found")
        return _json(self.calls[sid])

    def _create_message(self, request: Request) -> Response:
        form = request.form
        problem = self._check_numbers(form)
        if problem is not None:
            return problem
        if not form.get("Body") and not form.get("MediaUrl"):
            return _error(400, 21602, "Message body is required.")
        sid = "SM" + uuid.uuid4().hex
        self.messages[sid] = self._message_resource(sid, form)
        return _json(self.messages[sid], status=201)

    def _message_resource(self, sid: str, form: Any) -> dict[str, Any]:
        now = _now()
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": form["To"],
            "from": form["From"],
            "body": form["Body"],
            "status": "queued",
            "num_segments": str(segments(form["Body"])),
            "num_media": "0",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "price": None,
            "error_code": None,
            "error_message": None,
            "messaging_service_sid": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
        }

    def _delete_recording(self, request: Request, sid: str) -> Response:
        if self.recordings.pop(sid, None) is None:
            return _error(404, 20404, f"The requested resource /Recordings/{sid}.json was not found")
        return Response(status=204)

    def _fetch_recording(self, request: Request, sid: str, extension: str | None) -> Response:
        if sid not in self.recordings:
            return _error(404, 20404, f"The requested resource /Recordings/{sid} was not found")
        mimetype = "audio/mpeg" if extension == ".mp3" else "audio/x-wav"
        return Response(self.recordings[sid], mimetype=mimetype)
