"""The telephony port: what the application asks of a voice/SMS provider, as a small Protocol (httpx's transport
is the model). The application defines it; the adapters in ``ivr/`` implement it — Twilio, the local simulator, and
a domestic carrier or an on-premises PBX as a third implementation without touching the survey. ``MockProvider``
is the test double shipped with the seam (httpx's ``MockTransport``): every request goes to a handler function.

Every method is synchronous and talks to the provider once; retries are the caller's decision (Twilio sends are
not idempotent, so nothing here retries a send on its own).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class ProviderError(Exception):
    """The provider refused or could not be reached. `transient` says whether trying again later may work."""

    def __init__(self, message: str, *, transient: bool = True, code: str | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.code = code


@dataclass(frozen=True)
class CallRequest:
    to: str  # E.164
    from_: str
    url: str  # our voice webhook (absolute, under PUBLIC_BASE_URL)
    status_callback: str  # our call-status webhook
    timeout_seconds: int = 30  # ring timeout
    machine_detection: bool = True


@dataclass(frozen=True)
class PlacedCall:
    sid: str
    status: str  # as the provider reports it at creation, usually "queued"


@dataclass(frozen=True)
class SmsRequest:
    to: str
    from_: str
    body: str
    status_callback: str


@dataclass(frozen=True)
class SentSms:
    sid: str
    status: str
    segments: int = 1


@dataclass(frozen=True)
class CallStatus:
    sid: str
    status: str  # queued | ringing | in-progress | completed | busy | no-answer | failed | canceled
    duration: int | None = None
    answered_by: str | None = None


@dataclass(frozen=True)
class Recording:
    url: str
    content_type: str
    data: bytes = field(repr=False)


@runtime_checkable
class Provider(Protocol):
    name: str

    def place_call(self, request: CallRequest) -> PlacedCall: ...

    def send_sms(self, request: SmsRequest) -> SentSms: ...

    def fetch_call(self, sid: str) -> CallStatus: ...

    def fetch_recording(self, url: str) -> Recording: ...

    def delete_recording(self, url: str) -> None:
        """Delete the recording at the provider for good (retention, 个人信息保护法). A recording that is already
        gone is not an error, so a purge interrupted half-way can simply run again."""
        ...


@dataclass(frozen=True)
class FetchCall:
    """What `MockProvider`'s handler receives for ``fetch_call``."""

    sid: str


@dataclass(frozen=True)
class FetchRecording:
    """What `MockProvider`'s handler receives for ``fetch_recording``."""

    url: str


@dataclass(frozen=True)
class DeleteRecording:
    """What `MockProvider`'s handler receives for ``delete_recording`` (it answers None)."""

    url: str


ProviderRequest = CallRequest | SmsRequest | FetchCall | FetchRecording | DeleteRecording
Handler = Callable[[ProviderRequest], object]

_sids = itertools.count(1)  # shared: two providers in one test database never repeat a sid


class MockProvider:
    """A `Provider` whose every request goes to ``handler`` (httpx's ``MockTransport``). Use it outside the adapters'
    own tests instead of a hand-written provider.

    The handler returns the answer (`PlacedCall`, `SentSms`, `CallStatus`, `Recording`), raises `ProviderError`, or
    returns ``None`` to let the default answer stand — so a handler may only watch (look at the database while the
    provider "is on the line", or raise to play a worker dying there). The default accepts everything: calls are
    placed and texts sent ``queued``, each with a sid no other MockProvider in the process gives (``CA`` or ``SM`` and
    32 digits, as unique as Twilio's), and a fetched call has ``completed``.

    ``fail_next(*errors)`` plays a provider that is down: the next sends (calls and texts; fetches are not sends)
    raise those errors in order without reaching the handler. ``requests`` keeps every request in order, refused ones
    too; ``calls()`` and ``texts()`` hold only what the provider accepted — what reached a citizen.
    """

    name = "mock"

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler = handler
        self.requests: list[ProviderRequest] = []
        self._accepted: list[ProviderRequest] = []
        self._failures: list[ProviderError] = []
        self._lock = threading.Lock()  # the dialer's tests share one provider between worker threads

    def fail_next(self, *errors: ProviderError) -> MockProvider:
        """Refuse the next ``len(errors)`` sends with these errors, in order. Returns the provider."""
        with self._lock:
            self._failures.extend(errors)
        return self

    def place_call(self, request: CallRequest) -> PlacedCall:
        return self._handle(request, PlacedCall)  # type: ignore[return-value]

    def send_sms(self, request: SmsRequest) -> SentSms:
        return self._handle(request, SentSms)  # type: ignore[return-value]

    def fetch_call(self, sid: str) -> CallStatus:
        return self._handle(FetchCall(sid), CallStatus)  # type: ignore[return-value]

    def fetch_recording(self, url: str) -> Recording:
        return self._handle(FetchRecording(url), Recording)  # type: ignore[return-value]

    def delete_recording(self, url: str) -> None:
        self._handle(DeleteRecording(url), type(None))

    def calls(self) -> list[CallRequest]:
        """The calls the provider placed, in order (not the refused ones)."""
        return [r for r in self._accepted if isinstance(r, CallRequest)]

    def texts(self) -> list[SmsRequest]:
        """The texts the provider sent, in order (not the refused ones)."""
        return [r for r in self._accepted if isinstance(r, SmsRequest)]

    def deleted_recordings(self) -> list[str]:
        """The recording URLs deleted, in order."""
        return [r.url for r in self._accepted if isinstance(r, DeleteRecording)]

    def _handle(self, request: ProviderRequest, answer_type: type) -> object:
        self._refuse_if_scripted(request)
        answer = self.handler(request) if self.handler is not None else None
        if answer is None:
            answer = self._default_answer(request)
        if not isinstance(answer, answer_type):
            raise TypeError(f"MockProvider handler returned {answer!r} for {type(request).__name__}")
        with self._lock:
            self._accepted.append(request)
        return answer

    def _refuse_if_scripted(self, request: ProviderRequest) -> None:
        with self._lock:
            self.requests.append(request)
            if self._failures and isinstance(request, CallRequest | SmsRequest):
                raise self._failures.pop(0)

    def _default_answer(self, request: ProviderRequest) -> object:
        if isinstance(request, CallRequest):
            return PlacedCall(sid=f"CA{next(_sids):032d}", status="queued")
        if isinstance(request, SmsRequest):
            return SentSms(sid=f"SM{next(_sids):032d}", status="queued")
        if isinstance(request, FetchCall):
            return CallStatus(sid=request.sid, status="completed", duration=0)
        if isinstance(request, DeleteRecording):
            return None  # deleted
        return Recording(url=request.url, content_type="audio/wav", data=b"")
