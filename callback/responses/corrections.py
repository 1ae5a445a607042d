"""Correcting a misheard answer (DESIGN §1: 督查科 "correct a misheard answer (with audit trail)"; issue 14 §3).

A supervisor who listened to the recording or read the transcript may find that an answer was stored wrong (a key
pressed twice, a word the SMS parser read another way, a slip on a paper form). `correct_answer` is the one rule:

* only a finished survey's answers (complete or partial: nothing is still being asked), only an item that was
  answered, only to another of the item's own choices, and only with a reason;
* the answer as the citizen first gave it stays on the row (``original_value`` / ``original_key``, set at the
  first correction, never again), the latest correction's who, when and why beside it, and every correction is an
  ``answer_corrected`` audit event with the old and new values;
* the consequences are the ones an answer has when it arrives: an integrity "有" alerts supervisors at once
  (篇2 二五), and the rectification check runs again (篇2 五: a case opens if the corrected answers need one; a
  二次回访's rating on its case is updated, 篇3 (五)2). A case already open is never closed by a correction — a
  person closes it, with a reason, on the rectification page; the result says when its reasons no longer match.

Numbers in the reason are masked when written (survey.privacy): the reason is shown on the page and in the audit
log. The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import Answer, AuditEvent, Callback
from callback.rectification.services import callback_reasons, get_for_callback, open_for_callback
from callback.responses.answers import raise_integrity_alert
from callback.responses.states import ANSWERED, flags_of
from callback.responses.transcript import add_event
from survey.privacy import mask_text
from survey.questionnaire import GOOD_KEY, ITEMS_BY_CODE, Choice, Item

ACTION = "answer_corrected"
MAX_REASON = 500


class CorrectionRefused(ValueError):
    """The correction cannot be made; the message is the one line the supervisor sees (Chinese first)."""


@dataclass(frozen=True)
class Correction:
    """What a correction did: the item, the value before and after, the value first given; the rectification case
    the callback has now (``case_opened`` if this correction opened it) and whether its reasons still match."""

    answer_id: int
    item: str
    old_value: str
    new_value: str
    original_value: str
    case_id: int | None
    case_opened: bool
    case_reasons_differ: bool
    integrity_alert: bool


def correct_answer(session: Session, callback: Callback, item: str, new_value: str, reason: str, *, actor: str,
                   now: datetime, user_id: int | None = None, ip: str | None = None) -> Correction:
    """Correct ``callback``'s answer to ``item`` to ``new_value`` (S/B/U on a rated item, Y/N on a yes/no item)
    because of ``reason``; `CorrectionRefused` (nothing changed) when the rules above say no. Does not commit."""
    question, choice = _choice(item, new_value)
    reason = _reason(reason)
    answer = _answer(session, callback, question)
    if answer.value == str(choice.value):
        raise CorrectionRefused(f"{question.label}的答案已是“{choice.label}”，无需更正 (unchanged)")
    old, old_key = answer.value, answer.key
    _apply(answer, choice, actor, now, reason)
    _trail(session, callback, answer, question, old, old_key, choice, actor, now, reason, user_id, ip)
    alerted = _alert_if_needed(session, callback, question, choice, now, actor)
    had_case = _case_id(session, callback)
    case = open_for_callback(session, callback, now, actor=actor)  # 篇2 五: the check runs again
    differ = case is not None and sorted(case.reasons) != sorted(callback_reasons(session, callback))
    return Correction(answer.id, question.code, old, answer.value, answer.original_value or old,
                      case.id if case else None, case is not None and had_case is None, differ, alerted)


def _choice(item: str, value: str) -> tuple[Item, Choice]:
    question = ITEMS_BY_CODE.get(item)
    if question is None:
        raise CorrectionRefused(f"没有这一题：{item!r} (unknown item)")
    choice = next((c for c in question.choices if str(c.value) == value), None)
    if choice is None:
        labels = "、".join(c.label for c in question.choices)
        raise CorrectionRefused(f"{question.label}只能更正为：{labels} (invalid value)")
    return question, choice


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise CorrectionRefused("更正答案须填写理由 (reason required)")
    if len(text) > MAX_REASON:
        raise CorrectionRefused(f"理由不能超过 {MAX_REASON} 个字 (reason too long)")
    return mask_text(text)


def _answer(session: Session, callback: Callback, question: Item) -> Answer:
    if callback.state not in ANSWERED:
        raise CorrectionRefused("只能更正已结束回访（完成或部分完成）的答案 (the survey has not ended with answers)")
    answer = session.scalar(select(Answer).where(Answer.callback_id == callback.id, Answer.item == question.code))
    if answer is None:
        raise CorrectionRefused(f"{question.label}没有作答，无法更正 (no answer to correct)")
    return answer


def _apply(answer: Answer, choice: Choice, actor: str, now: datetime, reason: str) -> None:
    if answer.original_value is None:  # the citizen's own answer is kept once, whatever follows
        answer.original_value, answer.original_key = answer.value, answer.key
    answer.value, answer.key = str(choice.value), choice.key
    answer.corrected_at, answer.corrected_by, answer.correction_reason = now, actor[:100], reason
    answer.updated_at = now


def _trail(session: Session, callback: Callback, answer: Answer, question: Item, old: str, old_key: str | None,
           choice: Choice, actor: str, now: datetime, reason: str, user_id: int | None, ip: str | None) -> None:
    """The audit event (who, from where, old → new, why) and a transcript note, so the timeline shows it too."""
    detail: dict[str, Any] = {"item": question.code, "old": old, "old_key": old_key, "new": str(choice.value),
                              "new_key": choice.key, "original": answer.original_value, "reason": reason}
    session.add(AuditEvent(hall_id=callback.hall_id, at=now, actor=actor[:100], entity="answer", entity_id=answer.id,
                           action=ACTION, detail=detail | {"callback_id": callback.id}, user_id=user_id,
                           ip=(ip or None) and ip[:45]))
    add_event(session, hall_id=callback.hall_id, callback_id=callback.id, kind="note", at=now,
              text=f"督查更正：{question.label} {_label(question, old)} → {choice.label}（理由：{reason}）",
              data={"correction": question.code, "old": old, "new": str(choice.value)})


def _label(question: Item, value: str) -> str:
    return next((c.label for c in question.choices if str(c.value) == value), value)


def _alert_if_needed(session: Session, callback: Callback, question: Item, choice: Choice, now: datetime,
                     actor: str) -> bool:
    """An integrity "有" found on correction alerts supervisors at once, as when the citizen pressed it (篇2 二五)."""
    bad = question.alert_on_bad and choice.key != GOOD_KEY
    if bad and not flags_of(callback).integrity_alert:
        raise_integrity_alert(session, callback, now, source=actor)
        return True
    return False


def _case_id(session: Session, callback: Callback) -> int | None:
    case = get_for_callback(session, callback.id)
    return case.id if case else None
