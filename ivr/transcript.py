"""The ordered call transcript that supervision staff read (issue 4 §4).

Events, in the order they happened: each prompt as spoken (its text), each key pressed with its meaning, speech text
with the recogniser's confidence, the recording's reference, and status changes — each with a timestamp. The
transcript never holds a phone number or a name: prompts are built from the centre's and the item's names only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import TranscriptEvent

KINDS = ("prompt", "key", "speech", "recording", "status", "note", "sms_in", "sms_out")


def add_event(
    session: Session,
    *,
    hall_id: int,
    callback_id: int,
    kind: str,
    text: str = "",
    at: datetime,
    attempt_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> TranscriptEvent:
    """Append one event. The caller's transaction decides whether it is kept."""
    if kind not in KINDS:
        raise ValueError(f"unknown transcript event kind {kind!r}")
    event = TranscriptEvent(
        hall_id=hall_id, callback_id=callback_id, attempt_id=attempt_id, kind=kind, text=text, at=at,
        data=dict(data or {}),
    )
    session.add(event)
    return event


def events(session: Session, callback_id: int) -> list[TranscriptEvent]:
    """The callback's events in the order they were recorded (insertion order breaks timestamp ties)."""
    query = select(TranscriptEvent).where(TranscriptEvent.callback_id == callback_id).order_by(TranscriptEvent.id)
    return list(session.scalars(query))


def as_dicts(session: Session, callback_id: int) -> list[dict[str, Any]]:
    """The transcript as plain data, for `--json` output and the console."""
    return [
        {"at": e.at.isoformat(), "attempt_id": e.attempt_id, "kind": e.kind, "text": e.text, **_data(e)}
        for e in events(session, callback_id)
    ]


def _data(event: TranscriptEvent) -> dict[str, Any]:
    return {"data": event.data} if event.data else {}


def render_text(session: Session, callback_id: int, tz: str = "Asia/Shanghai") -> str:
    """A human-readable transcript, one line per event, times in the centre's zone."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    return "\n".join(_line(e, zone) for e in events(session, callback_id))


_LABELS = {
    "prompt": "系统", "key": "按键", "speech": "语音", "recording": "录音", "status": "状态", "note": "备注",
    "sms_in": "短信↓", "sms_out": "短信↑",
}


def _line(event: TranscriptEvent, zone: Any) -> str:
    stamp = event.at.astimezone(zone).strftime("%m-%d %H:%M:%S")
    return f"{stamp}  [{_LABELS.get(event.kind, event.kind)}] {event.text}"
