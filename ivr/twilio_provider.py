"""The Twilio implementation of the telephony seam (ivr/provider.py), on the twilio library's REST client.

`TWILIO_API_URL` (e.g. `http://127.0.0.1:9999`), when set, sends every REST request there instead of Twilio's
hosts: only scheme and host change, the path (`/2010-04-01/Accounts/AC…/Calls.json`) is kept, so the adapter can
be tested against a local Twilio-compatible endpoint (tests/ivr/fake_twilio.py). Unset, nothing changes.

Errors become `ProviderError`: a connection failure, a timeout, HTTP 429 or 5xx are transient (try again later);
401/403 are transient too — they are our credentials, not the citizen's number, and a fixed token makes the retry
work; any other 4xx (an invalid number, 21211) is permanent. Nothing here retries: Twilio sends are not idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from callback.telephony import (
    CallRequest,
    CallStatus,
    PlacedCall,
    ProviderError,
    Recording,
    SentSms,
    SmsRequest,
)
from survey.privacy import mask_text

if TYPE_CHECKING:
    from callback.config import Settings

STATUS_CALLBACK_EVENTS = ["initiated", "ringing", "answered", "completed"]
_T = TypeVar("_T")


def rebase_url(url: str, api_url: str) -> str:
    """`url` with its scheme and host replaced by `api_url`'s; path and query unchanged."""
    base = urlsplit(api_url)
    parts = urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))


def _check_api_url(api_url: str) -> str:
    base = urlsplit(api_url)
    if base.scheme not in ("http", "https") or not base.netloc or base.path not in ("", "/"):
        raise ValueError(f"TWILIO_API_URL must be scheme://host[:port] with no path, got {api_url!r}")
    return api_url


class RebasingHttpClient(TwilioHttpClient):
    """The twilio library's own HTTP client, with every request's scheme and host replaced by `api_url`."""

    def __init__(self, api_url: str, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        self.api_url = _check_api_url(api_url)

    def request(self, method: str, url: str, *args: object, **kwargs: object) -> Response:  # type: ignore[override]
        return super().request(method, rebase_url(url, self.api_url), *args, **kwargs)  # type: ignore[arg-type]


def _status_code(exc: TwilioException) -> int | None:
    status = getattr(exc, "status", None)
    return int(status) if isinstance(status, int | str) and str(status).isdigit() else None


def provider_error(exc: Exception) -> ProviderError:
    """Map a twilio or requests exception to ProviderError, its message scrubbed of phone numbers."""
    if isinstance(exc, requests.RequestException):
        return ProviderError(f"Twilio unreachable: {type(exc).__name__}", transient=True, code="connection")
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        status = _status_code(exc)
        message = getattr(exc, "msg", None) or getattr(exc, "title", None) or "Twilio error"
        transient = status is None or status >= 500 or status in (401, 403, 429)
        code = str(exc.code) if exc.code is not None else None
        return ProviderError(f"HTTP {status}: {mask_text(str(message))}", transient=transient, code=code)
    return ProviderError(f"Twilio client error: {mask_text(str(exc))}", transient=True)


def _mapped(fn: Callable[[], _T]) -> _T:
    try:
        return fn()
    except (TwilioException, requests.RequestException) as exc:
        raise provider_error(exc) from exc


class TwilioProvider:
    """Calls and SMS through Twilio's REST API (api.twilio.com, or `api_url` when given)."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_url: str = "",
        http_timeout: float = 15.0,
    ) -> None:
        self.account_sid = account_sid
        self._auth = (account_sid, auth_token)
        self.api_url = _check_api_url(api_url) if api_url else ""
        self.http_timeout = http_timeout
        http = (
            RebasingHttpClient(api_url, timeout=http_timeout)
            if api_url
            else TwilioHttpClient(timeout=http_timeout)
        )
        # Built here, never at import time, so configuration is read once and tests can point it anywhere.
        self.client = Client(account_sid, auth_token, http_client=http)

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioProvider:
        return cls(settings.twilio_account_sid, settings.twilio_auth_token, api_url=settings.twilio_api_url)

    def place_call(self, request: CallRequest) -> PlacedCall:
        """Create the outbound call; Twilio fetches `request.url` for TwiML once answered (AnsweredBy included
        when machine detection is on) and posts initiated/ringing/answered/completed to `status_callback`."""
        options: dict[str, object] = {"machine_detection": "Enable"} if request.machine_detection else {}
        if request.status_callback:  # an empty StatusCallback is an invalid URL to Twilio (error 21609)
            options |= {
                "status_callback": request.status_callback,
                "status_callback_event": STATUS_CALLBACK_EVENTS,
                "status_callback_method": "POST",
            }
        call = _mapped(
            lambda: self.client.calls.create(
                to=request.to,
                from_=request.from_,
                url=request.url,
                method="POST",
                timeout=request.timeout_seconds,
                **options,
            )
        )
        return PlacedCall(sid=str(call.sid), status=str(call.status or "queued"))

    def send_sms(self, request: SmsRequest) -> SentSms:
        message = _mapped(
            lambda: self.client.messages.create(
                to=request.to,
                from_=request.from_,
                body=request.body,
                status_callback=request.status_callback or values.unset,
            )
        )
        segments = int(message.num_segments or 0) or 1
        return SentSms(sid=str(message.sid), status=str(message.status or "queued"), segments=segments)

    def fetch_call(self, sid: str) -> CallStatus:
        call = _mapped(lambda: self.client.calls(sid).fetch())
        duration = int(call.duration) if call.duration not in (None, "") else None
        return CallStatus(
            sid=str(call.sid), status=str(call.status), duration=duration, answered_by=call.answered_by
        )

    def fetch_recording(self, url: str) -> Recording:
        """Download a recording with HTTP basic auth. Credentials go only to a Twilio host (or `api_url`)."""
        target = self._recording_target(url)
        response = _mapped(
            lambda: requests.get(target, auth=self._auth, timeout=self.http_timeout, allow_redirects=True)
        )
        if response.status_code >= 400:
            transient = response.status_code >= 500 or response.status_code in (401, 403, 429)
            raise ProviderError(
                f"recording fetch failed: HTTP {response.status_code}",
                transient=transient,
                code=str(response.status_code),
            )
        content_type = response.headers.get("Content-Type", "audio/x-wav").split(";")[0].strip()
        return Recording(url=url, content_type=content_type, data=response.content)

    def delete_recording(self, url: str) -> None:
        """``DELETE …/Recordings/RE….json`` with HTTP basic auth (Twilio answers 204); a 404 means it is gone
        already, which is what was asked. Credentials go only to a Twilio host (or `api_url`)."""
        folder, _, name = self._recording_target(url).partition("?")[0].rpartition("/")
        resource = f"{folder}/{name.split('.')[0]}.json"  # …/Recordings/RE… (.wav / .mp3 are media, not the resource)
        response = _mapped(lambda: requests.delete(resource, auth=self._auth, timeout=self.http_timeout))
        if response.status_code >= 400 and response.status_code != 404:
            transient = response.status_code >= 500 or response.status_code in (401, 403, 429)
            raise ProviderError(f"recording delete failed: HTTP {response.status_code}", transient=transient,
                                code=str(response.status_code))

    def _recording_target(self, url: str) -> str:
        host = (urlsplit(url).hostname or "").lower()
        if host != "twilio.com" and not host.endswith(".twilio.com"):
            if not (self.api_url and urlsplit(url).netloc == urlsplit(self.api_url).netloc):
                raise ProviderError("not a Twilio recording URL; credentials not sent", transient=False)
        return rebase_url(url, self.api_url) if self.api_url else url
