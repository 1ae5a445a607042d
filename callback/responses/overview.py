"""A week's callbacks as plain data for people and scripts: state, attempts, answers and transcript.

Personal data is masked (`survey.privacy`): the phone, and in the suggestion and the transcript every phone, ID card
and bank card number the citizen said or texted, and the applicant's name. The raw suggestion is only to be had
through `callback.responses.privacy.reveal_suggestion`. Reading a transcript is audited (docs/architecture.md
§Privacy and security): every listing that includes transcripts writes one AuditEvent per callback shown.
Transcript times are shown in the hall's zone with their date, kinds by their Chinese labels.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import Answer, Attempt, AuditEvent, Callback, Case, Contact, Window
from callback.responses.onsite import CHANNEL as ONSITE
from callback.responses.states import NOT_SURVEYED, PENDING, STATE_LABELS, CallbackState, flags_of
from callback.responses.transcript import as_dicts, format_line
from survey.privacy import mask_phone, mask_text
from survey.questionnaire import ITEMS, interpret_key

# How the outcome table groups callbacks (answered, partial, unreached, opted out).
GROUPS: dict[str, frozenset[CallbackState]] = {
    "answered": frozenset({CallbackState.COMPLETE}),
    "partial": frozenset({CallbackState.PARTIAL}),
    "not_surveyed": NOT_SURVEYED,
    "unreached": frozenset({CallbackState.SMS, CallbackState.UNREACHABLE}),
    "opted_out": frozenset({CallbackState.OPTED_OUT}),
    "pending": PENDING,
}
GROUP_LABELS = {
    "answered": "完成", "partial": "部分完成", "not_surveyed": "接通未答题（拒访/中途挂断）",
    "unreached": "未接通（转短信/无法联系）", "opted_out": "退订", "pending": "进行中",
}


def week_callbacks(session: Session, week: str | None, hall_id: int | None = None,
                   ids: Iterable[int] | None = None, onsite: bool = False) -> list[Callback]:
    """The week's callbacks (drawn, revisits, staff calls); on-site forms only with ``onsite`` — they are listed
    by `callback onsite list` (callback.responses.onsite.week_forms)."""
    query = select(Callback).order_by(Callback.id)
    if not onsite:
        query = query.where(Callback.channel != ONSITE)
    if week is not None:
        query = query.where(Callback.week == week)
    if hall_id is not None:
        query = query.where(Callback.hall_id == hall_id)
    if ids is not None:
        query = query.where(Callback.id.in_(list(ids)))
    return list(session.scalars(query))


def group_of(callback: Callback) -> str:
    return next((g for g, states in GROUPS.items() if callback.state in states), "pending")


def summary(callbacks: Iterable[Callback]) -> dict[str, int]:
    counts = Counter(group_of(c) for c in callbacks)
    return {group: counts.get(group, 0) for group in GROUPS}


def describe(session: Session, callback: Callback, transcript: bool = True) -> dict[str, Any]:
    """One callback for `callback callbacks --json`: never an unmasked number, never the applicant's name; the
    suggestion masked like the transcript."""
    contact = session.get(Contact, callback.contact_id) if callback.contact_id is not None else None
    case = session.get(Case, callback.case_id) if callback.case_id is not None else None  # None: an on-site form
    window = session.get(Window, callback.window_id)
    data: dict[str, Any] = {
        "id": callback.id, "week": callback.week, "window": window.name if window else None,
        "item_name": case.item_name if case else None, "phone": mask_phone(contact.phone if contact else None),
        "phone_kind": contact.kind if contact else None, "state": callback.state,
        "state_label": STATE_LABELS.get(callback.state, callback.state), "outcome": callback.outcome,
        "channel": callback.channel, "attempts_used": callback.attempts_used,
        "next_action_at": _iso(callback.next_action_at), "finished_at": _iso(callback.finished_at),
        "attempts": [_attempt(a) for a in _attempts(session, callback)],
        "answers": answers_of(session, callback),
        "suggestion": mask_text(callback.suggestion, [case.applicant] if case and case.applicant else []) or None,
        "suggestion_confidence": callback.suggestion_confidence, "recording_url": callback.recording_url,
        "integrity_alert": flags_of(callback).integrity_alert,
    }
    if transcript:
        data["transcript"] = as_dicts(session, callback.id)
    return data


def transcript_lines(row: dict[str, Any]) -> list[str]:
    """The transcript of a `describe` row for people: ``2026-11-24 09:01:00  [按键] 1：满意`` (local time)."""
    return [format_line(datetime.fromisoformat(e["local_at"]), e["kind"], e["text"]) for e in row["transcript"]]


def answers_of(session: Session, callback: Callback) -> dict[str, dict[str, str | None]]:
    rows = {a.item: a for a in session.scalars(select(Answer).where(Answer.callback_id == callback.id))}
    result: dict[str, dict[str, str | None]] = {}
    for item in ITEMS:
        row = rows.get(item.code)
        if row is not None:
            meaning = interpret_key(item, row.key) if row.key else None
            result[item.code] = {"label": item.label, "key": row.key, "value": row.value,
                                 "meaning": meaning.label if meaning else None, "channel": row.channel}
    return result


def answer_keys(session: Session, callback: Callback) -> str:
    """The six answers as keys in questionnaire order, ``-`` where unanswered (e.g. ``112-11``)."""
    answers = answers_of(session, callback)
    return "".join((answers.get(item.code) or {}).get("key") or "-" for item in ITEMS)


def audit_transcript_views(session: Session, callbacks: Iterable[Callback], actor: str, via: str) -> None:
    for callback in callbacks:
        session.add(AuditEvent(hall_id=callback.hall_id, actor=actor, entity="callback", entity_id=callback.id,
                               action="view_transcript", detail={"via": via}))


def _attempts(session: Session, callback: Callback) -> list[Attempt]:
    query = select(Attempt).where(Attempt.callback_id == callback.id).order_by(Attempt.id)
    return list(session.scalars(query))


def _attempt(attempt: Attempt) -> dict[str, Any]:
    return {
        "number": attempt.number, "status": attempt.status, "disposition": attempt.disposition,
        "answered_by": attempt.answered_by, "call_sid": attempt.provider_call_id,
        "placed_at": _iso(attempt.placed_at), "answered_at": _iso(attempt.answered_at),
        "ended_at": _iso(attempt.ended_at), "duration": attempt.duration, "error": attempt.error,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
