"""Callbacks for the console's page tests (dashboard, callbacks, audit log), made through the real services: a case
of the ledger, a callback of the week, its answers saved and the survey finished by the answer services (so the
rectification check and the integrity alert run as they do for a call), the transcript written as the IVR writes
it."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from callback.models import Attempt, Callback, Hall, Window
from callback.responses.entry import read_answers, record_entry
from callback.responses.states import CallbackState, end
from callback.responses.transcript import add_event
from tests.factories import make_case

WEEK = "2026-W48"  # Monday 2026-11-23 … Sunday 2026-11-29
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # Wednesday 11:00 in Beijing
PHONE = "+8613912345678"
SAID = "窗口态度不好，请回电13812345678"
RECORDING_URL = "https://api.twilio.example/2010-04-01/Accounts/AC1/Recordings/RE0123456789abcdef"


def answered(session: Session, hall: Hall, window: Window, keys: str = "111111", *, week: str = WEEK,
             phone: str | None = None, suggestion: str | None = None, channel: str = "voice",
             recording: str | None = None, at: datetime = NOW) -> Callback:
    """A callback of ``week`` surveyed by phone: one attempt answered, the prompts and keys in the transcript, the
    answers ``keys`` (``112111``), the suggestion as said, the recording's URL at the provider."""
    case = make_case(session, hall, window, phone=phone)
    callback = Callback(hall_id=hall.id, draw_id=None, case_id=case.id, contact_id=case.contact_id,
                        window_id=window.id, week=week, state=CallbackState.IN_SURVEY, channel=channel,
                        token=secrets.token_hex(16), flags={}, attempts_used=1)
    session.add(callback)
    session.flush()
    attempt = Attempt(hall_id=hall.id, callback_id=callback.id, number=1, provider_call_id=f"CA{secrets.token_hex(16)}",
                      status="completed", disposition="answered", placed_at=at - timedelta(minutes=3),
                      answered_at=at - timedelta(minutes=2, seconds=40), ended_at=at, duration=160)
    session.add(attempt)
    session.flush()
    add_event(session, hall_id=hall.id, callback_id=callback.id, attempt_id=attempt.id, kind="prompt",
              at=at - timedelta(minutes=2, seconds=30), text="您好，这里是政务服务中心回访。请问您对工作人员的服务态度是否满意？")
    add_event(session, hall_id=hall.id, callback_id=callback.id, attempt_id=attempt.id, kind="key",
              at=at - timedelta(minutes=2), text=f"{keys[:1]}")
    if suggestion:
        add_event(session, hall_id=hall.id, callback_id=callback.id, attempt_id=attempt.id, kind="speech",
                  at=at - timedelta(minutes=1), text=suggestion, data={"confidence": 0.87})
    record_entry(session, callback, read_answers(keys, suggestion), channel=channel, now=at, actor="ivr",
                 heading="语音回访")
    callback.suggestion_confidence = 0.87 if suggestion else None
    callback.recording_url, callback.recording_duration = (recording, 3) if recording else (None, None)
    session.flush()
    return callback


def waiting(session: Session, hall: Hall, window: Window, state: CallbackState = CallbackState.DRAWN, *,
            week: str = WEEK, phone: str | None = None, at: datetime = NOW) -> Callback:
    """A callback of ``week`` not surveyed: still to call (drawn), waiting for its SMS reply, unreachable or opted
    out."""
    case = make_case(session, hall, window, phone=phone)
    callback = Callback(hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=window.id, week=week,
                        state=CallbackState.DRAWN, channel="voice", token=secrets.token_hex(16), flags={})
    session.add(callback)
    session.flush()
    if state is CallbackState.SMS:
        callback.state = CallbackState.SMS
        callback.channel = "sms"
    elif state in (CallbackState.UNREACHABLE, CallbackState.OPTED_OUT):
        if state is CallbackState.UNREACHABLE:
            callback.state = CallbackState.SMS
        end(callback, state, at, outcome="no_answer" if state is CallbackState.UNREACHABLE else None)
    session.flush()
    return callback
