"""X-Twilio-Signature on both sides of a webhook, with the twilio library's `RequestValidator` — never a home-made
HMAC, so what the simulator signs is exactly what Twilio signs and what our webhooks accept is exactly what
Twilio's own validator accepts.

The signature covers the full URL Twilio requested (scheme, host, path and query string) and, for a POST, every
form parameter. For a GET, Twilio puts the parameters in the query string and signs the URL alone, so sign the
final URL with no parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"


class MultiValued(Protocol):
    """A form that can hold a name several times (werkzeug's MultiDict, Django's QueryDict)."""

    def getlist(self, key: str) -> list[str]: ...

    def __iter__(self) -> Iterator[str]: ...


Params = Mapping[str, str] | Mapping[str, list[str]] | MultiValued


class _Repeated:
    """Adapts `{"name": ["a", "b"]}` to the `getlist` interface RequestValidator understands."""

    def __init__(self, params: Mapping[str, str | list[str]]) -> None:
        self._params = params

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def getlist(self, key: str) -> list[str]:
        value = self._params[key]
        return list(value) if isinstance(value, list | tuple) else [value]


def _adapt(params: Params | None) -> object:
    if params is None:
        return {}
    if hasattr(params, "getlist"):
        return params
    return _Repeated(params)  # type: ignore[arg-type]


def sign_request(url: str, params: Params | None, auth_token: str) -> str:
    """The X-Twilio-Signature value Twilio would send for a request to `url` with these form parameters."""
    return RequestValidator(auth_token).compute_signature(url, _adapt(params))


def is_valid_request(url: str, params: Params | None, signature: str | None, auth_token: str) -> bool:
    """True when `signature` is what Twilio would send for `url` and `params` (port present or absent, as
    RequestValidator allows). A missing or empty signature is never valid."""
    if not signature:
        return False
    return RequestValidator(auth_token).validate(url, _adapt(params), signature)
