"""Requests to our webhooks made the way Twilio makes them: form-encoded POST (or GET with the parameters in the
query string), `X-Twilio-Signature` computed by ivr/signing.py over the full URL, an `I-Twilio-Idempotency-Token`,
no redirects followed."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from ivr.signing import SIGNATURE_HEADER, sign_request

log = logging.getLogger("ivr.simulator")
USER_AGENT = "TwilioProxy/1.1"


@dataclass(frozen=True)
class Reply:
    status: int
    text: str
    content_type: str


def with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class Webhooks:
    def __init__(self, auth_token: str, timeout: float = 10.0) -> None:
        self.auth_token = auth_token
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # loopback webhooks must not go through a proxy

    def send(self, url: str, params: dict[str, str], method: str = "POST") -> Reply | None:
        """Make the request; None when the server cannot be reached (Twilio would log error 11200)."""
        method = method.upper()
        if method == "GET":
            url, params = with_query(url, params), {}
        headers = {
            SIGNATURE_HEADER: sign_request(url, params, self.auth_token),
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
            "User-Agent": USER_AGENT,
        }
        body = None
        if method != "GET":
            # Bytes, not a str: http.client then sends headers and body in one segment, avoiding the 40 ms
            # Nagle/delayed-ACK stall a separate body write costs on every loopback request.
            body = urlencode(params).encode("utf-8")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            response = self.session.request(
                method, url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException:
            # Usual when no server runs (e.g. `callback feedback` from the shell): one quiet line, never on the
            # user's terminal unless logging is set to DEBUG.
            log.debug("模拟器：回调 %s 未送达（服务未运行或无响应）", urlsplit(url).path)
            return None
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return Reply(response.status_code, response.text, content_type)

    def close(self) -> None:
        self.session.close()
