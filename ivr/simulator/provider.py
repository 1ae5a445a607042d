"""SimulatorProvider: the default provider (TELEPHONY=simulator). It plays Twilio's part over real HTTP against
our webhooks — status callbacks, TwiML fetched and interpreted, Gather/Record actions, SMS status callbacks and
citizens' SMS replies — every request signed with X-Twilio-Signature from the auth token.

    provider = SimulatorProvider(auth_token=..., public_base_url="http://127.0.0.1:5000", state_dir=tmp)
    provider.script("+8613800000001", citizens.hangs_up_after(4))
    placed = provider.place_call(CallRequest(...))     # returns at once: PlacedCall(sid="CA…", status="queued")
    provider.wait_idle(30)                              # every call and SMS run to its end
    provider.call(placed.sid).heard()                   # what the citizen heard (each <Say>), .pressed(), .log

Calls run in background threads of the process that placed them. Their records live in `state_dir`, so another
process (a Celery worker, the reconciler) sharing the directory can `fetch_call` them; a call whose owning process
died is reported closed (`completed` if it had been answered, else `failed`), as a dropped line would be.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from callback.telephony import (
    CallRequest,
    CallStatus,
    PlacedCall,
    ProviderError,
    Recording,
    SentSms,
    SmsRequest,
)
from ivr.simulator.agents import Agent, ScriptedAgent
from ivr.simulator.citizens import Citizen, CitizenRegistry, as_citizen
from ivr.simulator.sms import SmsMessage, SmsNetwork
from ivr.simulator.state import StateStore
from ivr.simulator.voice import CallRun, DialLeg, DialRequest, LogEntry, SimCall, play_leg
from ivr.simulator.webhooks import Webhooks

if TYPE_CHECKING:
    from callback.config import Settings

RECORDING_HOST = "simulator.invalid"  # reserved TLD: a recording URL that can never leave the machine
_STATUS_AT_CREATION = "queued"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def is_e164(number: str) -> bool:
    """The shape Twilio accepts for `To` (error 21211 otherwise)."""
    return bool(_E164.match(number or ""))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _outcome(citizen: Citizen, attempt: int) -> str:
    """How the network answers this attempt: busy | failed | no-answer | machine | human | refused."""
    behaviour, times = citizen.behaviour, citizen.times
    if behaviour == "provider_error":
        return "refused" if attempt <= (times or 1) else "human"
    if behaviour in ("no_answer", "busy"):
        return behaviour.replace("_", "-") if times is None or attempt <= times else "human"
    if behaviour == "replies_by_sms":
        return "no-answer"
    return {"failed": "failed", "voicemail": "machine"}.get(behaviour, "human")


class SimulatorProvider:
    name = "simulator"

    def __init__(
        self,
        *,
        auth_token: str,
        account_sid: str = "AC" + "0" * 32,
        public_base_url: str = "http://127.0.0.1:5000",
        from_number: str = "+861080000000",
        state_dir: Path | str | None = None,
        citizens_file: Path | str | None = None,
        sms_inbound_path: str = "/sms/inbound",
        time_scale: float = 0.0,
        start_delay: float = 0.2,
        http_timeout: float = 10.0,
        max_requests: int = 200,
        strict_twiml: bool = True,
    ) -> None:
        """`state_dir` holds the network's records (a fresh temporary directory when None); `citizens_file` the
        script registry (default `state_dir/citizens.json`). `start_delay`: real seconds between `place_call`
        returning and the first status callback, as on Twilio, so the caller can commit the attempt first.
        `strict_twiml`: a TwiML document that `check_twiml` faults ends the call as an application error."""
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.public_base_url = public_base_url.rstrip("/")
        self.from_number = from_number
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="ivr-simulator-"))
        self.store = StateStore(self.state_dir)
        self.registry = CitizenRegistry(
            Path(citizens_file) if citizens_file else self.state_dir / "citizens.json"
        )
        self.time_scale, self.start_delay = time_scale, start_delay
        self.http_timeout, self.max_requests, self.strict_twiml = http_timeout, max_requests, strict_twiml
        self._calls: dict[str, SimCall] = {}
        self._agents: dict[str, Callable[[], Agent]] = {}
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self.sms = SmsNetwork(
            account_sid=account_sid,
            auth_token=auth_token,
            inbound_url=self.public_base_url + sms_inbound_path,
            store=self.store,
            registry=self.registry,
            spawn=self._spawn,
            http_timeout=http_timeout,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SimulatorProvider:
        """Registry from `SIMULATOR_CITIZENS` (default `<instance>/simulator/citizens.json`), records next to it
        (or in `SIMULATOR_STATE_DIR`); `SIMULATOR_TIME_SCALE` (default 0) plays that fraction of each call's
        virtual time in real time, so calls stay live for a while (the chaos run)."""
        from callback.config import DEFAULT_INSTANCE

        citizens = Path(
            os.environ.get("SIMULATOR_CITIZENS") or DEFAULT_INSTANCE / "simulator" / "citizens.json"
        )
        state = Path(os.environ.get("SIMULATOR_STATE_DIR") or citizens.parent)
        options: dict[str, Any] = {
            "auth_token": settings.twilio_auth_token,
            "account_sid": settings.twilio_account_sid,
            "public_base_url": settings.public_base_url,
            "from_number": settings.twilio_from,
            "state_dir": state,
            "citizens_file": citizens,
            "time_scale": float(os.environ.get("SIMULATOR_TIME_SCALE") or 0),
        }
        return cls(**(options | overrides))

    # -- scripts ------------------------------------------------------------------------------------------------
    def script(self, phone: str, behaviour: Citizen | dict[str, Any] | str) -> Citizen:
        """Script the citizen at `phone` (a Citizen, a registry spec, or a behaviour name); seen by every
        process sharing the registry file."""
        citizen = as_citizen(behaviour)
        self.registry.set(phone, citizen)
        return citizen

    def citizen(self, phone: str) -> Citizen:
        """The script for `phone`, or its deterministic default."""
        return self.registry.get(phone)

    def attach_agent(self, phone: str, factory: Callable[[], Agent] | None) -> None:
        """In this process only, let `factory()` play the citizen at `phone` (e.g. a person at a terminal);
        the call is always answered by a human. None detaches."""
        with self._lock:
            if factory is None:
                self._agents.pop(phone, None)
            else:
                self._agents[phone] = factory

    # -- Provider -----------------------------------------------------------------------------------------------
    def place_call(self, request: CallRequest) -> PlacedCall:
        if not is_e164(request.to):
            raise ProviderError("Invalid 'To' Phone Number", transient=False, code="21211")
        attempt = self.store.bump("calls", request.to)
        citizen = self.registry.get(request.to)
        outcome = "human" if request.to in self._agents else _outcome(citizen, attempt)
        if outcome == "refused":
            raise ProviderError("simulated carrier outage", transient=True, code="20503")
        call = self._new_call(request)
        agent = self._agents[request.to]() if request.to in self._agents else ScriptedAgent(citizen)
        self._spawn(lambda: self._run_call(call, outcome, agent))
        return PlacedCall(sid=call.sid, status=_STATUS_AT_CREATION)

    def _new_call(self, request: CallRequest) -> SimCall:
        call = SimCall(
            sid="CA" + uuid.uuid4().hex,
            account_sid=self.account_sid,
            to=request.to,
            from_=request.from_,
            url=request.url,
            status_callback=request.status_callback,
            timeout_seconds=request.timeout_seconds,
            machine_detection=request.machine_detection,
            owner_pid=os.getpid(),
            owner_host=socket.gethostname(),
        )
        with self._lock:
            self._calls[call.sid] = call
        self.store.save_call(call.sid, call.to_json())
        return call

    def _run_call(self, call: SimCall, outcome: str, agent: Agent) -> None:
        time.sleep(self.start_delay)
        webhooks = Webhooks(self.auth_token, self.http_timeout)
        try:
            CallRun(
                call,
                outcome,
                agent,
                webhooks,
                self.store,
                recording_url=self.recording_url,
                time_scale=self.time_scale,
                max_requests=self.max_requests,
                strict=self.strict_twiml,
                dialer=self._dial_leg,
            ).run()
        finally:
            webhooks.close()

    def _dial_leg(self, parent: SimCall, request: DialRequest) -> DialLeg:
        """The second leg a `<Dial>` places (a staff call bridged to a citizen): a call of its own to the number,
        answered or not as that number's script says, talking for its ``talk_seconds``; on record in `state_dir`
        with its parent's sid, like any call (`calls(phone)` lists it)."""
        attempt = self.store.bump("calls", request.number)
        citizen = self.registry.get(request.number)
        outcome = "human" if request.number in self._agents else _outcome(citizen, attempt)
        leg = SimCall(sid="CA" + uuid.uuid4().hex, account_sid=self.account_sid, to=request.number,
                      from_=request.caller_id, url="", status_callback="", timeout_seconds=request.timeout,
                      machine_detection=False, owner_pid=os.getpid(), owner_host=socket.gethostname(),
                      parent_sid=parent.sid)
        result = play_leg(leg, outcome, citizen.talk_seconds, request)
        with self._lock:
            self._calls[leg.sid] = leg
        self.store.save_call(leg.sid, leg.to_json())
        return result

    def send_sms(self, request: SmsRequest) -> SentSms:
        if not is_e164(request.to):
            raise ProviderError("Invalid 'To' Phone Number", transient=False, code="21211")
        if not request.body:
            raise ProviderError("Message body is required", transient=False, code="21602")
        message = self.sms.accept(request.to, request.from_, request.body, request.status_callback)
        return SentSms(sid=message.sid, status=message.status, segments=message.segments)

    def fetch_call(self, sid: str) -> CallStatus:
        call = self.call(sid)
        status = call.status
        if not call.final and self._orphaned(call):
            status = "completed" if call.status == "in-progress" else "failed"
        return CallStatus(sid=call.sid, status=status, duration=call.duration, answered_by=call.answered_by)

    def _orphaned(self, call: SimCall) -> bool:
        if call.owner_host != socket.gethostname():
            return False
        # In this process a thread is still playing the call (or it ended and its record says so).
        return call.owner_pid != os.getpid() and not _pid_alive(call.owner_pid)

    def fetch_recording(self, url: str) -> Recording:
        parts = urlsplit(url)
        sid = parts.path.rstrip("/").rsplit("/", 1)[-1].split(".")[0]
        data = self.store.load_recording(sid) if parts.hostname == RECORDING_HOST else None
        if data is None:
            raise ProviderError("recording not found", transient=False, code="20404")
        return Recording(url=url, content_type="audio/x-wav", data=data)

    def delete_recording(self, url: str) -> None:
        """Delete a recording, as Twilio's ``DELETE …/Recordings/RE….json`` does; one that is already gone is not
        an error. Every deletion is recorded in ``deletions.jsonl`` (`deleted_recordings`)."""
        parts = urlsplit(url)
        sid = parts.path.rstrip("/").rsplit("/", 1)[-1].split(".")[0]
        if parts.hostname != RECORDING_HOST or not sid.startswith("RE"):
            raise ProviderError("not a recording of this simulator", transient=False, code="20404")
        existed = self.store.delete_recording(sid)
        self.store.append("deletions.jsonl", {"sid": sid, "url": url, "existed": existed,
                                              "at": datetime.now(UTC).isoformat()})

    def deleted_recordings(self) -> list[dict[str, Any]]:
        """Every recording deleted through `delete_recording`, oldest first (all processes)."""
        return self.store.read_lines("deletions.jsonl")

    def recording_url(self, sid: str) -> str:
        return f"http://{RECORDING_HOST}/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}"

    # -- observing ------------------------------------------------------------------------------------------
    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every call and SMS this provider started has run to its end; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                alive = [t for t in self._threads if t.is_alive()]
                self._threads = set(alive)
            if not alive:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            alive[0].join(min(remaining, 0.5))

    def call(self, sid: str) -> SimCall:
        """A simulated call (placed here, or by another process sharing `state_dir`)."""
        with self._lock:
            local = self._calls.get(sid)
        if local is not None:
            return local
        record = self.store.load_call(sid)
        if record is None:
            raise ProviderError(f"no such call {sid}", transient=False, code="20404")
        return SimCall.from_json(record)

    def call_log(self, sid: str) -> list[LogEntry]:
        return list(self.call(sid).log)

    def calls(self, phone: str | None = None) -> list[SimCall]:
        """Every call on record in `state_dir` (all processes), oldest first, optionally to one number."""
        found = [self.call(sid) for sid in self.store.call_sids()]
        found = [c for c in found if phone is None or c.to == phone]
        return sorted(found, key=lambda c: c.placed_at)

    def messages(self, phone: str | None = None) -> list[SmsMessage]:
        """Every SMS on record (outbound and the citizens' replies), oldest first, optionally for one number."""
        found = self.sms.read_all()
        return [m for m in found if phone is None or phone in (m.to, m.from_)]

    @property
    def outbox(self) -> list[SmsMessage]:
        """Messages sent to citizens by this provider object (in memory), with their latest status."""
        return [m for m in self.sms.messages if m.direction == "outbound"]

    def citizen_texts(self, phone: str, body: str, to: str | None = None) -> list[SmsMessage]:
        """The citizen at `phone` sends `body` now (synchronously); returns the TwiML replies delivered to them."""
        return self.sms.citizen_sends(phone, body, to or self._our_number(phone))

    def _our_number(self, phone: str) -> str:
        sent = [m for m in self.messages(phone) if m.direction == "outbound"]
        return sent[-1].from_ if sent else self.from_number

    def _spawn(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, daemon=True, name="ivr-simulator")
        with self._lock:
            self._threads.add(thread)
        thread.start()
