"""What every Twilio webhook view shares: signature check, the request clock, TwiML responses
(docs/architecture.md §Privacy and security).

Register ``require_twilio_signature`` with ``bp.before_request`` on any blueprint that receives Twilio webhooks: a
missing or wrong ``X-Twilio-Signature`` ends the request with 403 before a view runs, so nothing is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Response, abort, current_app, request

from callback.config import current_settings
from ivr.signing import SIGNATURE_HEADER, is_valid_request


def public_url() -> str:
    """The URL Twilio requested: PUBLIC_BASE_URL (the address Twilio sees behind a proxy) + path + query."""
    query = request.query_string.decode("latin-1")
    return current_settings().public_base_url.rstrip("/") + request.path + (f"?{query}" if query else "")


def signature_is_valid() -> bool:
    """Checked against PUBLIC_BASE_URL only, never the URL as received: its host comes from the request's own
    ``Host`` header, so a request signed for any host the sender names would pass."""
    signature = request.headers.get(SIGNATURE_HEADER, "")
    return is_valid_request(public_url(), request.form, signature, current_settings().twilio_auth_token)


def require_twilio_signature() -> None:
    """before_request hook: 403 unless Twilio (or the simulator, with the same auth token) signed this request."""
    if not signature_is_valid():
        current_app.logger.warning("rejected webhook with a missing or invalid signature: %s", request.path)
        abort(403)


def request_now() -> datetime:
    """The clock for this request: ``app.config["CLOCK"]`` when a test or a simulated week injects one."""
    clock: Callable[[], datetime] | None = current_app.config.get("CLOCK")
    return clock() if clock else datetime.now(UTC)


def twiml(response: object) -> Response:
    return Response(str(response), mimetype="text/xml")
