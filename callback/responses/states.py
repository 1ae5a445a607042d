"""A callback's life as an explicit state machine (docs/architecture.md §Callback states has the diagram).

``state`` is where the callback is; ``outcome`` is how it ended (for an unreached callback: how its last call
ended). Both are stored as their string values, so a row reads the same in SQL as in Python.

::

    drawn     → calling → in_survey → complete | partial (hung up after ≥1 item) | break_off | refused
    calling   → drawn again (no answer, busy, failed, machine: a later attempt, inside calling hours)
              → sms (attempts used up, a mobile) | unreachable (a landline)
    sms       → complete | partial (a reply) | unreachable (undelivered, or no reply before it expires)
    any state → opted_out (key 9, TD/退订 — final: the number is never contacted again)
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from callback.models import Callback


class CallbackState(StrEnum):
    DRAWN = "drawn"  # waiting for its next call (next_action_at)
    CALLING = "calling"  # a call is being placed or rings
    IN_SURVEY = "in_survey"  # the citizen answered; the voice survey runs
    SMS = "sms"  # the survey goes (or went) out by SMS; the conversation is open
    COMPLETE = "complete"
    PARTIAL = "partial"
    BREAK_OFF = "break_off"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    OPTED_OUT = "opted_out"


class Outcome(StrEnum):
    """How a callback ended (AAPOR-style disposition); an unreached one keeps how its last call ended."""

    COMPLETE = "complete"
    PARTIAL = "partial"
    BREAK_OFF = "break_off"
    REFUSED = "refused"
    OPTED_OUT = "opted_out"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    MACHINE = "machine"
    UNREACHABLE = "unreachable"


S = CallbackState
LIVE_CALL = frozenset({S.CALLING, S.IN_SURVEY})  # a call to the number is being placed or is in progress
WAITING = frozenset({S.DRAWN, S.SMS})  # not yet surveyed and not in a call: an opt-out ends these at once
SURVEY_ENDS = frozenset({S.COMPLETE, S.PARTIAL, S.BREAK_OFF, S.REFUSED})  # a voice survey's own endings
ANSWERED = frozenset({S.COMPLETE, S.PARTIAL})  # at least one item answered: the rectification check runs
FINAL = frozenset({S.COMPLETE, S.PARTIAL, S.BREAK_OFF, S.REFUSED, S.UNREACHABLE, S.OPTED_OUT})

STATE_LABELS: dict[str, str] = {
    S.DRAWN: "待呼叫", S.CALLING: "呼叫中", S.IN_SURVEY: "调查中", S.SMS: "转短信回访",
    S.COMPLETE: "完成", S.PARTIAL: "部分完成", S.BREAK_OFF: "中途挂断（未答题）", S.REFUSED: "未同意参加",
    S.UNREACHABLE: "无法联系", S.OPTED_OUT: "退订",
}
OUTCOME_LABELS: dict[str, str] = {
    Outcome.COMPLETE: "完成", Outcome.PARTIAL: "部分完成", Outcome.BREAK_OFF: "中途挂断（未答题）",
    Outcome.REFUSED: "未同意参加", Outcome.OPTED_OUT: "退订", Outcome.NO_ANSWER: "无人接听", Outcome.BUSY: "忙线",
    Outcome.FAILED: "呼叫失败", Outcome.MACHINE: "答录机", Outcome.UNREACHABLE: "无法联系",
}


def set_flags(callback: Callback, **values: Any) -> None:
    """Merge into the callback's ``flags`` (reassigned: JSON columns do not track in-place edits)."""
    callback.flags = {**(callback.flags or {}), **values}


def end(callback: Callback, state: CallbackState, now: datetime, outcome: str | None = None) -> None:
    """The callback reaches a final state: nothing more is due for it."""
    callback.state = state
    callback.outcome = outcome or state
    callback.finished_at, callback.next_action_at = now, None
