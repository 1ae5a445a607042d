"""The telephony seam. A small Protocol, as httpx's transport: Twilio implements it, the simulator implements it,
and a domestic carrier or an on-premises PBX can be a third implementation without touching the survey flow.

Every method is synchronous and talks to the provider once; retries are the caller's decision (Twilio sends are not
idempotent, so nothing here retries a send on its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from callback.config import Settings


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


def wait_until_idle(provider: object, timeout: float) -> None:
    """Let a provider that works in this process's background threads (the simulator: its calls, deliveries and
    citizens' replies) finish before a command exits or moves its clock; a real provider returns at once."""
    wait_idle = getattr(provider, "wait_idle", None)
    if callable(wait_idle):
        wait_idle(timeout)


def get_provider(settings: Settings) -> Provider:
    """The provider chosen by TELEPHONY (simulator by default)."""
    if settings.telephony == "twilio":
        from ivr.twilio_provider import TwilioProvider

        return TwilioProvider.from_settings(settings)
    if settings.telephony == "simulator":
        from ivr.simulator import SimulatorProvider

        return SimulatorProvider.from_settings(settings)
    raise ValueError(f"unknown TELEPHONY={settings.telephony!r}; use 'simulator' or 'twilio'")
