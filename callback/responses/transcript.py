"""The ordered call transcript that supervision staff read (篇2 三(一): 做好记录).

Events, in the order they happened: each prompt as spoken (its text), each key pressed with its meaning, speech text
with the recogniser's confidence, the recording's reference, and status changes — each with a timestamp. Prompts are
built from the centre's and the item's names only; what the citizen says or texts is masked when it is written
(`survey.privacy.mask_text`: phone, ID card and bank card numbers) and masked again, with the applicant's name, when
it is shown — the raw suggestion stays on ``callbacks.suggestion`` alone (see callback/responses/privacy.py).
Times are shown in the hall's zone with their date (``2026-11-24 09:01:00``) and kinds by their Chinese labels.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import Callback, Case, Hall, TranscriptEvent
from survey.privacy import mask_text

KINDS = ("prompt", "key", "speech", "recording", "status", "note", "sms_in", "sms_out")
LABELS = {
    "prompt": "提示", "key": "按键", "speech": "语音", "recording": "录音", "status": "状态", "note": "备注",
    "sms_in": "短信(收)", "sms_out": "短信(发)",
}
DEFAULT_TZ = "Asia/Shanghai"


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
    """Append one event, its text masked (a citizen may say or text a number). The caller's transaction decides
    whether it is kept."""
    if kind not in KINDS:
        raise ValueError(f"unknown transcript event kind {kind!r}")
    event = TranscriptEvent(
        hall_id=hall_id, callback_id=callback_id, attempt_id=attempt_id, kind=kind, text=mask_text(text), at=at,
        data=dict(data or {}),
    )
    session.add(event)
    return event


def events(session: Session, callback_id: int) -> list[TranscriptEvent]:
    """The callback's events in the order they were recorded (insertion order breaks timestamp ties)."""
    query = select(TranscriptEvent).where(TranscriptEvent.callback_id == callback_id).order_by(TranscriptEvent.id)
    return list(session.scalars(query))


def as_dicts(session: Session, callback_id: int, tz: str | None = None) -> list[dict[str, Any]]:
    """The transcript as plain data, for `--json` output and the console: the machine ``kind`` and its Chinese
    ``label``, ``at`` in UTC and ``local_at`` in the hall's zone (ISO 8601 with offset), the text masked."""
    zone, names = _context(session, callback_id, tz)
    return [
        {"at": e.at.isoformat(), "local_at": e.at.astimezone(zone).isoformat(), "attempt_id": e.attempt_id,
         "kind": e.kind, "label": label(e.kind), "text": mask_text(e.text, names), **_data(e)}
        for e in events(session, callback_id)
    ]


def render_text(session: Session, callback_id: int, tz: str | None = None) -> str:
    """A human-readable transcript, one line per event, dated times in the hall's zone, the text masked."""
    zone, names = _context(session, callback_id, tz)
    return "\n".join(format_line(e.at.astimezone(zone), e.kind, mask_text(e.text, names))
                     for e in events(session, callback_id))


def _context(session: Session, callback_id: int, tz: str | None) -> tuple[ZoneInfo, list[str]]:
    """The hall's zone (unless ``tz`` is given) and the applicant's name, which is masked wherever it was said."""
    callback = session.get(Callback, callback_id)
    case = session.get(Case, callback.case_id) if callback is not None and callback.case_id is not None else None
    hall = session.get(Hall, callback.hall_id) if callback is not None else None
    zone = ZoneInfo(tz or (hall.timezone if hall is not None and hall.timezone else None) or DEFAULT_TZ)
    return zone, [case.applicant] if case is not None and case.applicant else []


def _data(event: TranscriptEvent) -> dict[str, Any]:
    return {"data": event.data} if event.data else {}


def label(kind: str) -> str:
    """按键, 语音, 短信(收) … for a kind; an unknown kind as it is."""
    return LABELS.get(kind, kind)


def format_line(local_at: datetime, kind: str, text: str) -> str:
    """One line for people: ``2026-11-24 09:01:00  [按键] 1：满意`` (``local_at`` already in the hall's zone)."""
    return f"{local_at:%Y-%m-%d %H:%M:%S}  [{label(kind)}] {text}"
