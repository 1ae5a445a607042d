"""Call status callbacks: the attempt's life, retries and the hand-off to SMS
(docs/architecture.md §Callback states).

- De-duplication is atomic in the database: each delivery inserts a unique WebhookReceipt key
  (CallSid + CallStatus + SequenceNumber, else CallSid + CallStatus + a digest of the signed URL query and form);
  a repeat changes nothing. Never Twilio's ``I-Twilio-Idempotency-Token`` header: it is not signed, so anyone
  replaying a signed delivery could make it count twice, or pass off a new status as a repeat.
- Status never moves backwards: a lower ``SequenceNumber`` or an earlier status than the one stored is ignored,
  and a finished attempt stays finished.
- busy / no-answer / failed / machine → another attempt ≥ CALL_RETRY_MINUTES later inside calling hours, up to
  CALL_ATTEMPTS; then the survey goes by SMS (mobile) or the callback ends ``unreachable`` (landline). The state
  ``sms`` is set only once the last call has ended, so an SMS never overlaps a live call.
- A call that ends during the survey finishes it: complete / partial / break_off / refused (ivr/flow.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.models import Attempt, Callback, Contact
from callback.responses.answers import finish_survey
from callback.responses.receipts import first_delivery
from callback.responses.states import OUTCOME_LABELS, CallbackState, Outcome, end, move_to, set_flags
from callback.responses.transcript import add_event
from ivr.flow import MACHINE_ANSWERS

TERMINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
CLOSED = TERMINAL | {"not_placed"}  # an attempt in one of these never changes again
RANK = {"dialing": 0, "queued": 1, "initiated": 2, "ringing": 3, "in-progress": 4, "answered": 4}
STATUS_LABELS = {
    "queued": "已排队", "initiated": "开始呼叫", "ringing": "振铃中", "in-progress": "已接通", "answered": "已接通",
    "completed": "通话结束", "busy": "忙线", "no-answer": "无人接听", "failed": "呼叫失败", "canceled": "呼叫取消",
}
DISPOSITIONS = {
    "busy": Outcome.BUSY, "no-answer": Outcome.NO_ANSWER, "failed": Outcome.FAILED, "canceled": Outcome.FAILED,
}
RETRYABLE = frozenset({Outcome.BUSY, Outcome.NO_ANSWER, Outcome.FAILED, Outcome.MACHINE})


@dataclass(frozen=True)
class StatusUpdate:
    """One call-status report, from a webhook or from the reconciler asking the provider."""

    token: str
    call_sid: str
    call_status: str
    attempt_id: int | None = None
    sequence: int | None = None
    duration: int | None = None
    answered_by: str = ""
    error_code: str = ""
    source: str = "webhook"
    signed_digest: str = ""  # of what the signature covers: the URL query and the form (parse_status)

    @property
    def delivery_key(self) -> str:
        """What makes two deliveries the same report; built only from what Twilio signs (or from our own
        reconciler's source)."""
        if self.sequence is not None:
            return f"status:{self.call_sid}:{self.call_status}:{self.sequence}"
        if self.signed_digest:
            return f"status:{self.call_sid}:{self.call_status}:{self.signed_digest}"
        return f"status:{self.call_sid}:{self.call_status}:{self.source}"


def parse_status(token: str, args: Mapping, form: Mapping, headers: Mapping) -> StatusUpdate:
    """A StatusUpdate from Twilio's status-callback parameters, named exactly as Twilio names them. ``headers``
    are not read: nothing unsigned may decide whether a report is a repeat."""
    return StatusUpdate(
        token=token, attempt_id=_int(args.get("a")), call_sid=form.get("CallSid", ""),
        call_status=form.get("CallStatus", ""), sequence=_int(form.get("SequenceNumber")),
        duration=_int(form.get("CallDuration")), answered_by=form.get("AnsweredBy", ""),
        error_code=form.get("ErrorCode", ""), signed_digest=signed_digest(args, form),
    )


def signed_digest(args: Mapping, form: Mapping) -> str:
    """A short SHA-256 of the query and form parameters (every value of a repeated name), order-independent."""
    pairs = sorted((part, name, value) for part, params in (("q", args), ("f", form))
                   for name, values in _lists(params) for value in values)
    return hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode()).hexdigest()[:32]


def _lists(params: Mapping) -> list[tuple[str, list[str]]]:
    if hasattr(params, "lists"):  # werkzeug's MultiDict
        return list(params.lists())
    return [(name, [str(value)]) for name, value in params.items()]


def _int(value: object) -> int | None:
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def record_status(session: Session, update: StatusUpdate, settings: Settings, now: datetime) -> str:
    """Apply one status report. Returns unknown | duplicate | stale | updated | closed. Does not commit."""
    callback = session.scalar(select(Callback).where(Callback.token == update.token).with_for_update())
    attempt = _attempt(session, callback, update) if callback is not None else None
    if callback is None or attempt is None or update.call_status not in STATUS_LABELS:
        return "unknown"
    if not first_delivery(session, update.delivery_key):
        return "duplicate"
    if attempt.provider_call_id is None and update.call_sid:
        attempt.provider_call_id = update.call_sid
    if _is_stale(attempt, update):
        return "stale"
    _apply(attempt, update, now)
    _log(session, callback, attempt, now, STATUS_LABELS[update.call_status], status=update.call_status,
         sequence=update.sequence, source=update.source)
    if update.call_status not in TERMINAL:
        return "updated"
    close_attempt(session, callback, attempt, settings, now)
    return "closed"


def _attempt(session: Session, callback: Callback, update: StatusUpdate) -> Attempt | None:
    attempt = session.get(Attempt, update.attempt_id) if update.attempt_id else None
    if attempt is None and update.call_sid:
        attempt = session.scalar(select(Attempt).where(Attempt.provider_call_id == update.call_sid))
    return attempt if attempt is not None and attempt.callback_id == callback.id else None


def _is_stale(attempt: Attempt, update: StatusUpdate) -> bool:
    if attempt.status in CLOSED:
        return True
    if update.sequence is not None and update.sequence <= attempt.last_sequence:
        return True
    return update.call_status not in TERMINAL and RANK[update.call_status] < RANK.get(attempt.status, 0)


def _apply(attempt: Attempt, update: StatusUpdate, now: datetime) -> None:
    attempt.status = update.call_status
    if update.sequence is not None:
        attempt.last_sequence = update.sequence
    if update.answered_by:
        attempt.answered_by = update.answered_by
    if update.call_status in ("in-progress", "answered"):
        attempt.answered_at = attempt.answered_at or now
    if update.call_status in TERMINAL:
        attempt.ended_at = now
        attempt.duration = update.duration if update.duration is not None else attempt.duration
        attempt.error = update.error_code or attempt.error


def attempt_disposition(attempt: Attempt) -> str:
    """machine | busy | no_answer | failed | answered, from the attempt's final status and answering machine."""
    if (attempt.answered_by or "") in MACHINE_ANSWERS:
        return Outcome.MACHINE
    return DISPOSITIONS.get(attempt.status, "answered")


def close_attempt(session: Session, callback: Callback, attempt: Attempt, settings: Settings, now: datetime) -> str:
    """The call has ended: finish the survey it carried, or schedule what comes next. Returns the disposition."""
    disposition = attempt_disposition(attempt)
    attempt.disposition = disposition
    if callback.state == CallbackState.IN_SURVEY:
        finish_survey(session, callback, now, attempt=attempt)
    elif callback.state == CallbackState.CALLING and _is_latest(session, callback, attempt):
        # Answered but the survey never started (the voice webhook failed): a failed attempt, retried.
        failed = Outcome.FAILED if disposition == "answered" else disposition
        retry_or_hand_off(session, callback, failed, settings, now)
    return disposition


def _is_latest(session: Session, callback: Callback, attempt: Attempt) -> bool:
    query = select(Attempt.id).where(Attempt.callback_id == callback.id).order_by(Attempt.id.desc()).limit(1)
    return session.scalar(query) == attempt.id


def retry_or_hand_off(session: Session, callback: Callback, disposition: str, settings: Settings, now: datetime) -> None:
    """Another attempt later (≥ CALL_RETRY_MINUTES, inside calling hours) or, attempts used up, SMS / unreachable."""
    set_flags(callback, last_disposition=disposition)
    if callback.attempts_used < settings.call_attempts:
        at = next_call_moment(session, settings, now + timedelta(minutes=settings.call_retry_minutes))
        move_to(callback, CallbackState.DRAWN)
        callback.next_action_at = at
        local = at.astimezone(ZoneInfo(settings.timezone)).strftime("%m-%d %H:%M")
        _log(session, callback, None, now, f"{OUTCOME_LABELS[disposition]}，{local} 再次呼叫", disposition=disposition)
        return
    hand_off(session, callback, disposition, now)


def hand_off(session: Session, callback: Callback, disposition: str, now: datetime) -> None:
    """Calls used up: a mobile gets the survey by SMS (the SMS service takes it from state ``sms``); a landline
    ends ``unreachable``. ``outcome`` keeps the last call's disposition until the SMS survey settles it."""
    contact = session.get(Contact, callback.contact_id)
    callback.outcome = disposition
    if contact is not None and contact.kind == "mobile":
        move_to(callback, CallbackState.SMS)
        callback.channel, callback.next_action_at = "sms", now
        _log(session, callback, None, now, f"{OUTCOME_LABELS[disposition]}；电话回访次数已用完，改为短信回访")
        return
    end(callback, CallbackState.UNREACHABLE, now, outcome=disposition)
    _log(session, callback, None, now, f"{OUTCOME_LABELS[disposition]}；电话回访次数已用完，无法联系")


def next_call_moment(session: Session, settings: Settings, at: datetime) -> datetime:
    """The first moment ≥ ``at`` inside calling hours on a working day (callback.calendar.policy, official calendar)."""
    from callback.calendar.policy import CallingPolicy
    from callback.calendar.services import load_calendar

    return CallingPolicy.from_settings(settings, load_calendar(session)).next_call_moment(at)


def _log(
    session: Session, callback: Callback, attempt: Attempt | None, now: datetime, text: str, **data: object
) -> None:
    add_event(session, hall_id=callback.hall_id, callback_id=callback.id, kind="status", text=text, at=now,
              attempt_id=attempt.id if attempt else None, data={k: v for k, v in data.items() if v is not None})
