"""The SMS side of the simulator: outbound messages, delivery status callbacks, and citizens' replies posted to our
inbound webhook with Twilio's parameters; a TwiML `<Message>` in the webhook's answer is delivered back to the
citizen (and may prompt the citizen's next scripted turn).

Delivery: `queued` → `sent` → `delivered` (or `undelivered`, ErrorCode 30003; or `failed` straight from `queued`,
ErrorCode 30006) per the citizen's `sms_status`, each a signed POST to the message's status callback with
`MessageSid`, `MessageStatus`, `SmsSid`, `SmsStatus`, `AccountSid`, `From`, `To`, `ApiVersion`.
"""

from __future__ import annotations

import logging
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from ivr.simulator.citizens import CitizenRegistry
from ivr.simulator.state import StateStore
from ivr.simulator.twiml_spec import check_twiml
from ivr.simulator.webhooks import Webhooks
from survey.privacy import mask_phone

log = logging.getLogger("ivr.simulator")
API_VERSION = "2010-04-01"
ERROR_CODES = {"undelivered": "30003", "failed": "30006"}


def segments(body: str) -> int:
    """Segments as Twilio counts them: GSM-7 160/153 characters, UCS-2 (any Chinese) 70/67."""
    gsm = all(ord(c) < 128 for c in body)
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // multi)


@dataclass(frozen=True)
class SmsMessage:
    sid: str
    direction: str  # "outbound" (to the citizen) | "inbound" (from the citizen)
    to: str
    from_: str
    body: str
    status: str
    segments: int = 1
    source: str = "api"  # api | twiml | citizen
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def __repr__(self) -> str:
        return f"<SmsMessage {self.sid} {self.direction} to={mask_phone(self.to)} status={self.status}>"


def _statuses(final: str) -> list[str]:
    return ["queued", "failed"] if final == "failed" else ["queued", "sent", final]


class SmsNetwork:
    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        inbound_url: str,
        store: StateStore,
        registry: CitizenRegistry,
        spawn: Callable[[Callable[[], None]], None],
        http_timeout: float = 10.0,
    ) -> None:
        self.account_sid, self.auth_token, self.inbound_url = account_sid, auth_token, inbound_url
        self.store, self.registry, self.spawn = store, registry, spawn
        self.http_timeout = http_timeout
        self.messages: list[SmsMessage] = []
        self._lock = threading.Lock()

    # -- records --------------------------------------------------------------------------------------------
    def _record(self, message: SmsMessage) -> SmsMessage:
        with self._lock:
            self.messages.append(message)
        entry = asdict(message)
        self.store.append("outbox.jsonl" if message.direction == "outbound" else "inbox.jsonl", entry)
        return message

    def _set_status(self, message: SmsMessage, status: str) -> SmsMessage:
        updated = replace(message, status=status)
        with self._lock:
            self.messages = [updated if m.sid == message.sid else m for m in self.messages]
        self.store.append("outbox.jsonl", {"sid": message.sid, "status": status})
        return updated

    def read_all(self) -> list[SmsMessage]:
        """Every message on disk (all processes), outbound statuses merged, in order."""
        merged: dict[str, dict[str, Any]] = {}
        for name in ("outbox.jsonl", "inbox.jsonl"):
            for entry in self.store.read_lines(name):
                if "body" in entry:
                    merged[entry["sid"]] = entry
                elif entry["sid"] in merged:
                    merged[entry["sid"]]["status"] = entry["status"]
        return sorted((SmsMessage(**e) for e in merged.values()), key=lambda m: m.at)

    # -- outbound -------------------------------------------------------------------------------------------
    def accept(self, to: str, from_: str, body: str, status_callback: str, source: str = "api") -> SmsMessage:
        message = self._record(
            SmsMessage("SM" + uuid.uuid4().hex, "outbound", to, from_, body, "queued", segments(body), source)
        )
        self.spawn(lambda: self._deliver(message, status_callback))
        return message

    def _deliver(self, message: SmsMessage, status_callback: str) -> None:
        final = self.registry.get(message.to).sms_status
        webhooks = Webhooks(self.auth_token, self.http_timeout)
        try:
            for status in _statuses(final):
                if status != "queued":
                    message = self._set_status(message, status)
                self._status_callback(webhooks, message, status_callback)
            if final == "delivered":
                self._reply_turn(webhooks, message)
        finally:
            webhooks.close()

    def _status_callback(self, webhooks: Webhooks, message: SmsMessage, url: str) -> None:
        if not url:
            return
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "From": message.from_,
            "MessageSid": message.sid,
            "MessageStatus": message.status,
            "SmsSid": message.sid,
            "SmsStatus": message.status,
            "To": message.to,
        }
        if message.status in ERROR_CODES:
            params["ErrorCode"] = ERROR_CODES[message.status]
        reply = webhooks.send(url, params)
        if reply is not None and reply.status >= 400:  # an unreachable server was logged by `send`
            log.info("模拟器：短信状态回调被拒绝（HTTP %s）", reply.status)

    # -- the citizen's replies ------------------------------------------------------------------------------
    def _reply_turn(self, webhooks: Webhooks, received: SmsMessage) -> None:
        turn = self.store.bump("sms_received", received.to) - 1
        replies = self.registry.get(received.to).sms_replies
        if turn >= len(replies):
            return
        texts = [replies[turn]] if isinstance(replies[turn], str) else list(replies[turn])
        for text in texts:
            self.citizen_sends(received.to, text, received.from_, webhooks)

    def citizen_sends(
        self, phone: str, body: str, to: str, webhooks: Webhooks | None = None
    ) -> list[SmsMessage]:
        """The citizen at `phone` texts `body` to our number `to`: posted to the inbound webhook as Twilio
        would; returns the messages our TwiML answered with (already delivered to the citizen)."""
        own = webhooks is None
        webhooks = webhooks or Webhooks(self.auth_token, self.http_timeout)
        try:
            message = self._record(
                SmsMessage(
                    "SM" + uuid.uuid4().hex, "inbound", to, phone, body, "received", segments(body), "citizen"
                )
            )
            reply = webhooks.send(self.inbound_url, self._inbound_params(message))
            if reply is None or not 200 <= reply.status < 300:
                if reply is not None:
                    log.info("模拟器：短信上行回调被拒绝（HTTP %s）", reply.status)
                return []
            return self._answer_twiml(webhooks, reply.text, phone, to)
        finally:
            if own:
                webhooks.close()

    def _inbound_params(self, message: SmsMessage) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "Body": message.body,
            "From": message.from_,
            "FromCity": "",
            "FromCountry": "CN",
            "FromState": "",
            "FromZip": "",
            "MessageSid": message.sid,
            "NumMedia": "0",
            "NumSegments": str(message.segments),
            "SmsMessageSid": message.sid,
            "SmsSid": message.sid,
            "SmsStatus": "received",
            "To": message.to,
            "ToCity": "",
            "ToCountry": "CN",
            "ToState": "",
            "ToZip": "",
        }

    def _answer_twiml(self, webhooks: Webhooks, text: str, phone: str, ours: str) -> list[SmsMessage]:
        if not text.strip():
            return []
        try:
            root = ET.fromstring(text.encode("utf-8"))
        except ET.ParseError:
            log.info("模拟器：短信上行回调的应答不是 TwiML")
            return []
        problems = check_twiml(text, kind="messaging")
        if problems:
            log.info("模拟器：短信上行回调的 TwiML 有问题：%s", "; ".join(problems))
            return []
        sent = []
        for element in root.iter("Message"):
            body_el = element.find("Body")
            body = ("".join(body_el.itertext()) if body_el is not None else element.text or "").strip()
            to, from_ = element.get("to") or phone, element.get("from") or ours
            message = self._record(
                SmsMessage(
                    "SM" + uuid.uuid4().hex, "outbound", to, from_, body, "queued", segments(body), "twiml"
                )
            )
            callback = element.get("action") or element.get("statusCallback") or ""
            callback = urljoin(self.inbound_url, callback) if callback else ""
            self._deliver_inline(webhooks, message, callback)
            sent.append(message)
        return sent

    def _deliver_inline(self, webhooks: Webhooks, message: SmsMessage, callback: str) -> None:
        final = self.registry.get(message.to).sms_status
        for status in _statuses(final)[1:]:
            message = self._set_status(message, status)
            self._status_callback(webhooks, message, callback)
        if final == "delivered":
            self._reply_turn(webhooks, message)
