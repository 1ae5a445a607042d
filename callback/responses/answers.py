"""Saving a survey's answers and ending it — the rules every channel shares (voice, SMS, a staff call, an on-site
form): each answer is saved the moment it arrives, an integrity "yes" alerts supervisors at once, and the end of a
survey with at least one answer runs the rectification check (篇2 五)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.models import Answer, Attempt, AuditEvent, Callback, utcnow
from callback.rectification.services import open_for_callback
from callback.responses.receipts import dialect_insert
from callback.responses.states import ANSWERED, OUTCOME_LABELS, CallbackState, end, flags_of, set_flags
from callback.responses.transcript import add_event
from survey.complaints import ComplaintFlags, complaint_signals
from survey.questionnaire import ITEMS
from survey.questionnaire import Answer as KeyAnswer


def answer_value(answer: KeyAnswer) -> str:
    """What is stored for an answer: S/B/U for a rating, Y/N for a yes-no item."""
    return (answer.rating or answer.yes_no).value  # type: ignore[union-attr]


def save_answer(session: Session, callback: Callback, answer: KeyAnswer, channel: str,
                now: datetime | None = None) -> None:
    """Store (or overwrite) one item's answer at once, so a later hang-up keeps it: one upsert, no read first.
    ``now`` is the request's clock (a simulated week's), else the wall clock."""
    value = answer_value(answer)
    now = now or utcnow()
    insert = dialect_insert(session)
    if insert is None:
        _save_answer_orm(session, callback, answer.item, value, answer.key, channel, now)
        return
    statement = insert(Answer.__table__).values(
        hall_id=callback.hall_id, callback_id=callback.id, item=answer.item, value=value, key=answer.key,
        channel=channel, created_at=now, updated_at=now,
    )
    session.execute(statement.on_conflict_do_update(
        index_elements=["callback_id", "item"],
        set_={"value": value, "key": answer.key, "channel": channel, "updated_at": now},
    ))


def _save_answer_orm(session: Session, callback: Callback, item: str, value: str, key: str, channel: str,
                     now: datetime) -> None:
    row = session.scalar(select(Answer).where(Answer.callback_id == callback.id, Answer.item == item))
    if row is None:
        row = Answer(hall_id=callback.hall_id, callback_id=callback.id, item=item, channel=channel, created_at=now)
        session.add(row)
    row.value, row.key, row.channel, row.updated_at = value, key, channel, now
    session.flush()


def raise_integrity_alert(session: Session, callback: Callback, now: datetime, source: str) -> None:
    """A "yes" on 廉洁自律 alerts supervisors at once (篇2 二五), not at the end of the call."""
    set_flags(callback, integrity_alert=True)
    session.add(AuditEvent(hall_id=callback.hall_id, at=now, actor=source, entity="callback",
                           entity_id=callback.id, action="integrity_alert", detail={"week": callback.week}))


def take_suggestion(callback: Callback, text: str) -> ComplaintFlags:
    """The citizen's suggestion (篇2 二六), added to what they said before; complaint and integrity words in it
    flag the callback for the rectification check (survey.complaints). The caller raises the alert."""
    callback.suggestion = f"{callback.suggestion}\n{text}" if callback.suggestion else text
    signals = complaint_signals(callback.suggestion)
    set_flags(callback, complaint=signals.complaint, integrity_in_suggestion=signals.integrity)
    return signals


def answered_items(session: Session, callback: Callback) -> int:
    codes = [item.code for item in ITEMS]
    query = select(func.count()).select_from(Answer).where(Answer.callback_id == callback.id, Answer.item.in_(codes))
    return int(session.scalar(query) or 0)


def survey_outcome(answered: int, consented: bool) -> CallbackState:
    """complete (all six items) | partial (≥1) | break_off (consented, none answered) | refused (no consent)."""
    if answered >= len(ITEMS):
        return CallbackState.COMPLETE
    if answered:
        return CallbackState.PARTIAL
    return CallbackState.BREAK_OFF if consented else CallbackState.REFUSED


def finish_survey(
    session: Session, callback: Callback, now: datetime, attempt: Attempt | None = None, reached_end: bool = False
) -> str:
    """End a survey with its outcome; opens a rectification case for complete/partial answers (篇2 五)."""
    outcome = survey_outcome(answered_items(session, callback), flags_of(callback).consent)
    was = callback.state
    end(callback, outcome, now)
    set_flags(callback, finished_by_attempt=attempt.id if attempt else None, reached_end=reached_end)
    if was != outcome:
        add_event(session, hall_id=callback.hall_id, callback_id=callback.id, kind="status", at=now,
                  attempt_id=attempt.id if attempt else None, text=f"回访结束：{OUTCOME_LABELS[outcome]}",
                  data={"outcome": str(outcome)})
    if outcome in ANSWERED:
        open_for_callback(session, callback, now)  # 篇2 五: it decides whether a case is needed
    return outcome
