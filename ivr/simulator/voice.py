"""One simulated outbound call, played the way Twilio plays it.

Progress: status callbacks `initiated` → `ringing` → `in-progress` (answered) → `completed`, each with
`SequenceNumber` and `Timestamp`; an unanswered call ends with one final callback whose CallStatus is `no-answer`,
`busy` or `failed` (Twilio's `completed` event carries the final status). Once answered, the voice `url` is
fetched and its TwiML interpreted:

- `<Say>` (text heard, `loop`), `<Play>` (url, or `digits`), `<Pause length>`;
- `<Gather>` with `input` dtmf/speech, `numDigits`, `finishOnKey`, `timeout`, nested `<Say>/<Play>/<Pause>`
  (the citizen may press during the prompt unless `bargeIn="false"`), `action`/`method` (default: the current
  document, POST) posting `Digits` + `FinishedOnKey` or `SpeechResult` + `Confidence`; with no input,
  `actionOnEmptyResult="true"` posts to the action without them, otherwise the next verb runs, as Twilio does;
- `<Record>`: posts `RecordingUrl`, `RecordingSid`, `RecordingDuration` to the action (an empty recording skips
  the action and continues, as Twilio does); `recordingStatusCallback` gets `RecordingStatus=completed`;
- `<Dial>` with one `<Number>` (or the number as its text), `callerId`, `timeout`, `timeLimit`, `action`/`method`:
  a second leg to that number (`dialer`, given by the provider: its own `SimCall` with `parent_sid`, answered or not
  as that number's script says); the call waits while they talk, then posts `DialCallStatus`, `DialCallSid` and
  `DialCallDuration` to the action, or runs the next verb when there is none, as Twilio does;
- `<Redirect method>`, `<Hangup/>`, `<Reject/>`; the end of the document hangs up.
Anything else, an unparseable body or a non-2xx answer is an application error: the call hangs up, as on Twilio.
With `strict` (the default) so is any document `ivr.simulator.twiml_spec.check_twiml` faults — an undocumented attribute,
a value out of range — each problem logged as an `error` entry, so end-to-end tests catch bad TwiML.

Time is virtual (speech at ~4 Chinese characters a second, ring and gather timeouts as given) so durations and
timestamps are realistic; `time_scale` > 0 also sleeps that fraction of it in real time.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from ivr.simulator.agents import Agent, GatherContext, Input, RecordContext
from ivr.simulator.state import StateStore, tone_wav
from ivr.simulator.twiml_spec import check_twiml
from ivr.simulator.webhooks import Webhooks
from survey.privacy import mask_phone

log = logging.getLogger("ivr.simulator")
API_VERSION = "2010-04-01"
FINAL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")
SECONDS_PER_CHAR = 0.25
MAX_CALL_SECONDS = 4 * 3600


@dataclass(frozen=True)
class LogEntry:
    """One thing that happened on the call. `at`: virtual seconds since the call was placed.

    kinds: status, request (text = url path), heard (a <Say>), played (a <Play> url), pause, pressed (digits),
    said (speech, data.confidence), silence, recorded (text = what was said, data.url/.duration), dial (the number
    masked; data.leg = the second leg's sid), dialed (how that leg ended, data.duration), talked (on a second leg:
    seconds), hangup (text = who: citizen | twiml | end-of-document | application-error | loop-guard), error."""

    at: float
    kind: str
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class SimCall:
    sid: str
    account_sid: str
    to: str
    from_: str
    url: str
    status_callback: str
    timeout_seconds: int
    machine_detection: bool
    status: str = "queued"
    answered_by: str | None = None
    duration: int | None = None
    placed_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    owner_pid: int = 0
    owner_host: str = ""
    log: list[LogEntry] = field(default_factory=list)
    parent_sid: str | None = None  # a second leg placed by the <Dial> of this call

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def heard(self) -> list[str]:
        return [e.text for e in self.log if e.kind == "heard"]

    def pressed(self) -> list[str]:
        return [e.text for e in self.log if e.kind == "pressed"]

    def said(self) -> list[str]:
        return [e.text for e in self.log if e.kind == "said"]

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["log"] = [asdict(e) for e in self.log]
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> SimCall:
        values = dict(record)
        values["log"] = [LogEntry(**e) for e in record.get("log", [])]
        return cls(**values)

    def __repr__(self) -> str:
        return f"<SimCall {self.sid} to={mask_phone(self.to)} status={self.status}>"


@dataclass(frozen=True)
class DialRequest:
    """What a `<Dial>` asks the network for: a second leg to ``number``."""

    number: str
    caller_id: str
    timeout: int  # ring seconds
    time_limit: int  # longest conversation, seconds


@dataclass(frozen=True)
class DialLeg:
    """How the second leg ended: Twilio's DialCallStatus, its sid, the talk time (None unless answered), and the
    virtual seconds the parent waited (ringing and talking)."""

    sid: str
    status: str  # completed | busy | no-answer | failed
    duration: int | None
    elapsed: float


Dialer = Callable[[SimCall, DialRequest], DialLeg]


def play_leg(leg: SimCall, outcome: str, talk_seconds: int, request: DialRequest) -> DialLeg:
    """Play a second leg to its end in virtual time: ``outcome`` as `_outcome` gives it for the number (busy,
    failed, no-answer, or answered by a human or a machine, who then talks for ``talk_seconds``, at most the
    Dial's ``timeLimit``). Fills the leg's status, duration and log."""
    at, talk, answered = 1.0, 0, outcome not in ("busy", "failed", "refused", "no-answer")
    leg.log.append(LogEntry(0.0, "status", "initiated"))
    if outcome in ("busy", "failed", "refused"):
        status = "failed" if outcome == "refused" else outcome
    else:
        leg.log.append(LogEntry(at, "status", "ringing"))
        at += request.timeout if outcome == "no-answer" else 4
        status = "no-answer" if outcome == "no-answer" else "completed"
    if answered:
        leg.answered_by = "machine_start" if outcome == "machine" else "human"
        leg.log.append(LogEntry(at, "status", "in-progress"))
        talk = max(1, min(talk_seconds, request.time_limit))
        at += talk
        leg.log.append(LogEntry(at, "talked", str(talk)))
    leg.status, leg.duration = status, talk
    leg.log.append(LogEntry(at, "status", status))
    return DialLeg(leg.sid, status, talk if answered else None, at)


class _Navigate(Exception):
    """Leave the current document for another one (Redirect, or a Gather/Record action)."""

    def __init__(self, url: str, method: str, params: dict[str, str]) -> None:
        self.url, self.method, self.params = url, method, params


class _Hangup(Exception):
    def __init__(self, who: str) -> None:
        self.who = who


class CallRun:
    """Plays one call to its end in the calling thread (the provider runs it in a background thread)."""

    def __init__(
        self,
        call: SimCall,
        outcome: str,
        agent: Agent,
        webhooks: Webhooks,
        store: StateStore,
        *,
        recording_url: Callable[[str], str],
        time_scale: float = 0.0,
        max_requests: int = 200,
        strict: bool = True,
        lock: threading.Lock | None = None,
        dialer: Dialer | None = None,
    ) -> None:
        self.call, self.outcome, self.agent = call, outcome, agent
        self.dialer = dialer
        self.webhooks, self.store = webhooks, store
        self.recording_url = recording_url
        self.time_scale, self.max_requests = time_scale, max_requests
        self.strict = strict
        self.lock = lock or threading.Lock()
        self.started = datetime.now(UTC)
        self.elapsed = 0.0
        self.answered_at: float | None = None
        self.sequence = 0
        self.requests = 0
        self.gathers = 0

    # -- bookkeeping ----------------------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        self.elapsed += max(0.0, seconds)
        if self.time_scale > 0:
            time.sleep(seconds * self.time_scale)

    def note(self, kind: str, text: str = "", **data: Any) -> None:
        with self.lock:
            self.call.log.append(LogEntry(round(self.elapsed, 2), kind, text, data))
        if kind in ("status", "hangup", "error", "pressed", "said", "recorded", "request"):
            # on disk at once: another process's fetch_call reads it, and what the citizen pressed or said is on
            # record even if the process playing the call dies (a worker killed mid-call)
            self._persist()

    def _persist(self) -> None:
        with self.lock:
            record = self.call.to_json()
        self.store.save_call(self.call.sid, record)

    def timestamp(self) -> str:
        return format_datetime(self.started + timedelta(seconds=self.elapsed))

    def base_params(self, status: str) -> dict[str, str]:
        params = {
            "AccountSid": self.call.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.call.sid,
            "CallStatus": status,
            "Called": self.call.to,
            "Caller": self.call.from_,
            "Direction": "outbound-api",
            "From": self.call.from_,
            "To": self.call.to,
        }
        if self.call.answered_by:
            params["AnsweredBy"] = self.call.answered_by
        return params

    # -- progress and status callbacks ---------------------------------------------------------------------
    def set_status(self, status: str, callback_status: str | None = None) -> None:
        """Move the call to `status` and send the status callback (CallStatus `callback_status` or `status`)."""
        with self.lock:
            self.call.status = status
        self.note("status", callback_status or status)
        if not self.call.status_callback:
            return
        params = self.base_params(callback_status or status)
        params.update(
            CallbackSource="call-progress-events",
            SequenceNumber=str(self.sequence),
            Timestamp=self.timestamp(),
        )
        if status in FINAL_STATUSES:
            params.update(
                CallDuration=str(self.call.duration or 0),
                Duration=str(math.ceil((self.call.duration or 0) / 60)),
            )
        self.sequence += 1
        reply = self.webhooks.send(self.call.status_callback, params)
        if reply is None or reply.status >= 400:
            self.note("error", "status callback failed", status=getattr(reply, "status", None))

    def run(self) -> None:
        try:
            self._progress()
        except Exception as exc:  # a bug here must not leave the call "in progress" for ever
            log.exception("模拟器：模拟通话 %s 出错（程序缺陷，请报告）", self.call.sid)
            self.note("error", f"simulator error: {type(exc).__name__}")
            if not self.call.final:
                self._finish("failed" if self.answered_at is None else "completed")

    def _progress(self) -> None:
        self.set_status("queued", "initiated")
        self.advance(1)
        if self.outcome in ("busy", "failed"):
            self._finish(self.outcome)
            return
        self.set_status("ringing")
        if self.outcome == "no-answer":
            self.advance(self.call.timeout_seconds)
            self._finish("no-answer")
            return
        self.advance(4)
        self._answer()

    def _answer(self) -> None:
        if self.call.machine_detection:
            with self.lock:
                self.call.answered_by = "machine_start" if self.outcome == "machine" else "human"
        self.answered_at = self.elapsed
        self.set_status("in-progress")
        who = self._interpret()
        self.note("hangup", who)
        self._finish("completed")

    def _finish(self, status: str) -> None:
        talked = 0 if self.answered_at is None else math.ceil(self.elapsed - self.answered_at)
        with self.lock:
            self.call.duration = talked
        self.set_status(status)

    # -- TwiML ----------------------------------------------------------------------------------------------
    def _interpret(self) -> str:
        url, method, extra = self.call.url, "POST", {}
        while True:
            try:
                root = self._fetch(url, method, extra)
                if root is None:
                    self.note("heard", "(application error)")
                    return "application-error"
                self._execute(root, url)
                return "end-of-document"
            except _Navigate as nav:
                url, method, extra = nav.url, nav.method, nav.params
            except _Hangup as hangup:
                return hangup.who

    def _fetch(self, url: str, method: str, extra: dict[str, str]) -> ET.Element | None:
        self.requests += 1
        if self.requests > self.max_requests or self.elapsed > MAX_CALL_SECONDS:
            self.note("error", "loop guard: too many TwiML requests")
            raise _Hangup("loop-guard")
        params = self.base_params("in-progress") | extra
        reply = self.webhooks.send(url, params, method)
        self.note("request", _path(url), method=method, status=getattr(reply, "status", None), params=extra)
        if reply is None or not 200 <= reply.status < 300:
            self.note("error", f"webhook answered {getattr(reply, 'status', 'nothing')}")
            return None
        try:
            root = ET.fromstring(reply.text.encode("utf-8"))
        except ET.ParseError as exc:
            self.note("error", f"TwiML does not parse: {exc}")
            return None
        if root.tag != "Response":
            self.note("error", f"TwiML root is <{root.tag}>, not <Response>")
            return None
        problems = check_twiml(reply.text, kind="voice") if self.strict else []
        for problem in problems:
            self.note("error", f"TwiML problem: {problem}")
        return None if problems else root

    def _execute(self, root: ET.Element, url: str) -> None:
        for verb in root:
            handler = getattr(self, f"_verb_{verb.tag.lower()}", None)
            if handler is None:
                self.note("error", f"unsupported verb <{verb.tag}>")
                self.note("heard", "(application error)")
                raise _Hangup("application-error")
            handler(verb, url)

    def _verb_say(self, verb: ET.Element, url: str) -> None:
        text = "".join(verb.itertext()).strip()
        loops = int(verb.get("loop", "1") or 1) or 1
        for _ in range(loops):
            self.note("heard", text, voice=verb.get("voice"), language=verb.get("language"))
            self.agent.heard(text)
            self.advance(len(text) * SECONDS_PER_CHAR)

    def _verb_play(self, verb: ET.Element, url: str) -> None:
        if verb.get("digits"):
            self.note("played", f"digits:{verb.get('digits')}")
        else:
            self.note("played", urljoin(url, (verb.text or "").strip()))
        self.advance(3)

    def _verb_pause(self, verb: ET.Element, url: str) -> None:
        length = int(verb.get("length", "1") or 1)
        self.note("pause", str(length))
        self.advance(length)

    def _verb_hangup(self, verb: ET.Element, url: str) -> None:
        raise _Hangup("twiml")

    _verb_reject = _verb_hangup

    def _verb_redirect(self, verb: ET.Element, url: str) -> None:
        target = urljoin(url, (verb.text or "").strip())
        self.note("redirect", _path(target))
        raise _Navigate(target, verb.get("method", "POST"), {})

    def _verb_gather(self, verb: ET.Element, url: str) -> None:
        context = _gather_context(verb, self.gathers)
        self.gathers += 1
        answer = self.agent.gather(context)
        self._play_prompts(verb, url, answer)
        if answer.kind == "hangup":
            raise _Hangup("citizen")
        params = self._gather_params(answer, context)
        if params is None:
            self.advance(context.timeout)
            self.note("silence", f"{context.timeout}s")
            if verb.get("actionOnEmptyResult", "false").lower() != "true":
                return
            params = {}
        raise _Navigate(urljoin(url, verb.get("action", "") or url), verb.get("method", "POST"), params)

    def _play_prompts(self, verb: ET.Element, url: str, answer: Input) -> None:
        barge = answer.during_prompt and answer.kind != "silence" and verb.get("bargeIn", "true") != "false"
        for played, child in enumerate(verb):
            if barge and played >= 1:
                break
            if child.tag in ("Say", "Play", "Pause"):
                getattr(self, f"_verb_{child.tag.lower()}")(child, url)

    def _gather_params(self, answer: Input, context: GatherContext) -> dict[str, str] | None:
        if answer.kind == "dtmf" and "dtmf" in context.inputs and answer.digits:
            return self._digits(answer.digits, context)
        if answer.kind == "speech" and "speech" in context.inputs and answer.speech:
            self.advance(len(answer.speech) * SECONDS_PER_CHAR)
            self.note("said", answer.speech, confidence=answer.confidence)
            return {"SpeechResult": answer.speech, "Confidence": str(round(answer.confidence, 8))}
        return None

    def _digits(self, pressed: str, context: GatherContext) -> dict[str, str] | None:
        finished = ""
        if context.num_digits:
            digits = pressed[: context.num_digits]
        else:
            cut = min((pressed.find(k) for k in context.finish_on_key if k in pressed), default=-1)
            digits, finished = (pressed[:cut], pressed[cut]) if cut >= 0 else (pressed, "")
        self.advance(1)
        self.note("pressed", digits)
        return {"Digits": digits, "FinishedOnKey": finished} if digits else None

    def _verb_dial(self, verb: ET.Element, url: str) -> None:
        numbers = [c for c in verb if c.tag == "Number"]
        number = "".join(numbers[0].itertext()).strip() if numbers else (verb.text or "").strip()
        if self.dialer is None or not number:
            self.note("error", "<Dial> without a number, or no network to place a second leg")
            raise _Hangup("application-error")
        request = DialRequest(number, verb.get("callerId") or self.call.from_, int(verb.get("timeout", "30") or 30),
                              int(verb.get("timeLimit", "14400") or 14400))
        self.note("dial", mask_phone(number), timeout=request.timeout)
        leg = self.dialer(self.call, request)
        self.advance(leg.elapsed)
        self.note("dialed", leg.status, leg=leg.sid, duration=leg.duration)
        if not verb.get("action"):
            return  # Twilio runs the next verb
        params = {"DialCallStatus": leg.status, "DialCallSid": leg.sid}
        if leg.duration is not None:
            params["DialCallDuration"] = str(leg.duration)
        raise _Navigate(urljoin(url, verb.get("action", "")), verb.get("method", "POST"), params)

    def _verb_record(self, verb: ET.Element, url: str) -> None:
        context = RecordContext(
            max_length=int(verb.get("maxLength", "3600") or 3600),
            timeout=int(verb.get("timeout", "5") or 5),
            finish_on_key=verb.get("finishOnKey", "1234567890*#"),
        )
        if verb.get("playBeep", "true") != "false":
            self.note("played", "beep")
        answer = self.agent.record(context)
        if answer.kind == "hangup":
            raise _Hangup("citizen")
        if answer.kind != "speech" or answer.seconds <= 0:
            self.advance(context.timeout)
            self.note("silence", "empty recording")
            return  # Twilio skips the action on an empty recording and runs the next verb
        params = self._store_recording(answer, context, verb, url)
        raise _Navigate(urljoin(url, verb.get("action", "") or url), verb.get("method", "POST"), params)

    def _store_recording(
        self, answer: Input, context: RecordContext, verb: ET.Element, url: str
    ) -> dict[str, str]:
        sid = "RE" + uuid.uuid4().hex
        seconds = min(answer.seconds, context.max_length)
        self.store.save_recording(sid, tone_wav(seconds, seed=len(answer.speech)))
        recording_url = self.recording_url(sid)
        self.advance(seconds + context.timeout)
        self.note("recorded", answer.speech, url=recording_url, duration=seconds)
        params = {"RecordingUrl": recording_url, "RecordingSid": sid, "RecordingDuration": str(seconds)}
        if verb.get("recordingStatusCallback"):
            self._recording_status(urljoin(url, verb.get("recordingStatusCallback", "")), verb, params)
        return params

    def _recording_status(self, target: str, verb: ET.Element, recording: dict[str, str]) -> None:
        params = {
            "AccountSid": self.call.account_sid,
            "CallSid": self.call.sid,
            "RecordingSid": recording["RecordingSid"],
            "RecordingUrl": recording["RecordingUrl"],
            "RecordingStatus": "completed",
            "RecordingDuration": recording["RecordingDuration"],
            "RecordingChannels": "1",
            "RecordingSource": "RecordVerb",
            "RecordingStartTime": self.timestamp(),
        }
        self.webhooks.send(target, params, verb.get("recordingStatusCallbackMethod", "POST"))


def _gather_context(verb: ET.Element, index: int) -> GatherContext:
    return GatherContext(
        index=index,
        inputs=tuple((verb.get("input") or "dtmf").split()),
        num_digits=int(verb.get("numDigits")) if verb.get("numDigits") else None,
        finish_on_key=verb.get("finishOnKey", "#"),
        timeout=int(verb.get("timeout", "5") or 5),
        language=verb.get("language", "en-US"),
        prompts=tuple("".join(c.itertext()).strip() for c in verb if c.tag == "Say"),
    )


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
