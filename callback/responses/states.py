"""A callback's life as an explicit state machine (docs/architecture.md §Callback states has the diagram).

``state`` is where the callback is; ``outcome`` is how it ended (for an unreached callback: how its last call
ended). Both are stored as their string values, so a row reads the same in SQL as in Python. Every change of
``state`` goes through `move_to` (or `end`, for a final state), which checks it against `TRANSITIONS`; a bulk
``UPDATE … WHERE state = …`` asks `checked_move` for the value it writes.

::

    drawn     → calling → in_survey → complete | partial (hung up after ≥1 item) | break_off | refused
              → superseded (its draw was replaced before anyone called)
    calling   → drawn again (no answer, busy, failed, machine: a later attempt, inside calling hours)
              → sms (attempts used up, a mobile) | unreachable (a landline)
    sms       → complete | partial (a reply) | unreachable (undelivered, or no reply before it expires)
    partial, break_off, refused → complete | partial | break_off (an answer of the same call that arrived
              after its hang-up was reported; the survey's ending is worked out again)
    drawn, in_survey, sms, partial, break_off, refused → opted_out (key 9, TD/退订 — final: the number is never
              contacted again). A live call is left to its own flow; a finished survey keeps its ending.
    drawn, sms, unreachable → complete | partial (a staff member called by hand and recorded the answers, 篇2 四;
              `MANUAL_RESULT`)
    in_survey is also where an on-site form (篇2 三(二)) starts: it is entered, its answers saved and it is
              finished in one transaction (`ONSITE_START`)

The ``flags`` JSON column holds what else the survey session needs to remember; `CallbackFlags` lists every key
it may hold, and `set_flags` refuses any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
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
    SUPERSEDED = "superseded"  # withdrawn before its first call: its draw was replaced by a redraw


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
INITIAL = S.DRAWN  # a new callback (a draw's, a 二次回访, a demo's) starts here
LIVE_CALL = frozenset({S.CALLING, S.IN_SURVEY})  # a call to the number is being placed or is in progress
WAITING = frozenset({S.DRAWN, S.SMS})  # not yet surveyed and not in a call: an opt-out ends these at once
PENDING = frozenset({S.DRAWN}) | LIVE_CALL  # still to be called, or on the phone now
SURVEY_ENDS = frozenset({S.COMPLETE, S.PARTIAL, S.BREAK_OFF, S.REFUSED})  # a voice survey's own endings
ANSWERED = frozenset({S.COMPLETE, S.PARTIAL})  # at least one item answered: the rectification check runs
NOT_SURVEYED = frozenset({S.BREAK_OFF, S.REFUSED})  # reached, nothing answered
LATE_ANSWERS = frozenset({S.PARTIAL, S.BREAK_OFF, S.REFUSED})  # endings a late answer of the same call may change
FINAL = frozenset({*SURVEY_ENDS, S.UNREACHABLE, S.OPTED_OUT, S.SUPERSEDED})
OPEN = frozenset(CallbackState) - FINAL
# A staff member's own call (篇2 四) may be recorded on a callback still waiting for its call or its SMS reply, or
# one the calls and the SMS did not reach; not during a call, nor once the citizen was reached or opted out.
MANUAL_RESULT = frozenset({S.DRAWN, S.SMS, S.UNREACHABLE})
# An on-site form (篇2 三(二)) is born answering — no draw, no call — and is finished at once by finish_survey.
ONSITE_START = S.IN_SURVEY

# from → the states it may move to. A survey's ending moving to itself is the ending worked out again after a
# late answer (finish_survey runs once more and finds the same outcome). drawn/sms/unreachable → complete|partial
# without a call: a staff member's call recorded by hand (MANUAL_RESULT).
TRANSITIONS: Mapping[CallbackState, frozenset[CallbackState]] = {
    S.DRAWN: frozenset({S.CALLING, S.OPTED_OUT, S.SUPERSEDED, S.COMPLETE, S.PARTIAL}),
    S.CALLING: frozenset({S.IN_SURVEY, S.DRAWN, S.SMS, S.UNREACHABLE}),
    S.IN_SURVEY: SURVEY_ENDS | {S.OPTED_OUT},
    S.SMS: frozenset({S.COMPLETE, S.PARTIAL, S.UNREACHABLE, S.OPTED_OUT}),
    S.COMPLETE: frozenset({S.COMPLETE}),
    S.PARTIAL: frozenset({S.COMPLETE, S.PARTIAL, S.OPTED_OUT}),
    S.BREAK_OFF: frozenset({S.COMPLETE, S.PARTIAL, S.BREAK_OFF, S.OPTED_OUT}),
    S.REFUSED: frozenset({S.COMPLETE, S.PARTIAL, S.BREAK_OFF, S.REFUSED, S.OPTED_OUT}),
    S.UNREACHABLE: frozenset({S.COMPLETE, S.PARTIAL}),  # reached after all, by a staff member's call (篇2 四)
    S.OPTED_OUT: frozenset(),
    S.SUPERSEDED: frozenset(),
}

STATE_LABELS: dict[str, str] = {
    S.DRAWN: "待呼叫", S.CALLING: "呼叫中", S.IN_SURVEY: "调查中", S.SMS: "转短信回访",
    S.COMPLETE: "完成", S.PARTIAL: "部分完成", S.BREAK_OFF: "中途挂断（未答题）", S.REFUSED: "未同意参加",
    S.UNREACHABLE: "无法联系", S.OPTED_OUT: "退订", S.SUPERSEDED: "已作废（重新抽样）",
}
OUTCOME_LABELS: dict[str, str] = {
    Outcome.COMPLETE: "完成", Outcome.PARTIAL: "部分完成", Outcome.BREAK_OFF: "中途挂断（未答题）",
    Outcome.REFUSED: "未同意参加", Outcome.OPTED_OUT: "退订", Outcome.NO_ANSWER: "无人接听", Outcome.BUSY: "忙线",
    Outcome.FAILED: "呼叫失败", Outcome.MACHINE: "答录机", Outcome.UNREACHABLE: "无法联系",
}


class InvalidTransition(ValueError):
    """A state change the table does not allow (a bug in the caller, never a citizen's doing)."""


def checked_move(source: str, target: CallbackState) -> CallbackState:
    """``target``, if a callback in ``source`` may move there; else `InvalidTransition`."""
    try:
        allowed = TRANSITIONS[CallbackState(source)]
    except ValueError:
        raise InvalidTransition(f"unknown callback state {source!r}") from None
    if target not in allowed:
        raise InvalidTransition(f"a callback may not move from {source} to {target}")
    return target


def move_to(callback: Callback, state: CallbackState) -> None:
    """Move the callback to ``state``, checked against `TRANSITIONS` (the caller sets ``next_action_at``)."""
    callback.state = checked_move(callback.state, state)


def end(callback: Callback, state: CallbackState, now: datetime, outcome: str | None = None) -> None:
    """The callback reaches a final state: nothing more is due for it."""
    if state not in FINAL:
        raise InvalidTransition(f"{state} is not a final state")
    move_to(callback, state)
    callback.outcome = outcome or state
    callback.finished_at, callback.next_action_at = now, None


# --- flags ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackFlags:
    """Every key the ``flags`` JSON of a callback may hold, typed, with its default for a row that lacks it.

    Times are stored as ISO 8601 strings and read back as aware UTC datetimes. Survey session:

    - ``consent`` — the citizen agreed to the survey: key 1 at the consent step, or any SMS reply (篇2 二).
    - ``complaint`` / ``integrity_in_suggestion`` — complaint or integrity words found in the suggestion
      (survey.complaints), set when the suggestion is taken.
    - ``integrity`` — an integrity problem a person marked (read with ``complaint`` by the rectification check,
      callback.rectification.services.suggestion_flags; no channel sets it).
    - ``integrity_alert`` — supervisors were alerted at once (篇2 二五): 有 on 廉洁自律 or integrity words.
    - ``finished_by_attempt`` — the attempt whose hang-up finished the survey (its late answers may still count).
    - ``reached_end`` — the survey ran to its thanks (no late answer can follow).

    Calls: ``last_disposition`` — how the last unsuccessful call ended (busy, no_answer, failed, machine);
    ``dial_errors`` — provider errors in a row while placing calls (they do not use up an attempt).

    SMS survey (ivr/sms_survey.py): ``sms_sent_at``, ``sms_remind_at``, ``sms_expires_at`` — when the survey
    text went out, when the one reminder is due, when the conversation expires; ``sms_reminded`` — how the
    reminder was settled (the ISO time it went out, ``failed`` or ``skipped``); ``sms_send_errors`` — transient
    send errors in a row; ``sms_clarified`` — clarifying questions asked; ``sms_closed_replied`` — "回访已结束"
    was sent once; ``sms_end`` — why it ended unreachable (not_mobile, not_sent, no_reply, undelivered);
    ``sms_error`` — the carrier's error code of an undelivered survey SMS.

    Origin: ``revisit`` — a 二次回访 (callback.rectification.services.schedule_revisit); ``demo`` — a
    ``callback call-me`` demo callback; ``form_ref`` — an on-site form imported from a file: the file's
    fingerprint and row (callback.responses.onsite), so importing the file again adds nothing.
    """

    consent: bool = False
    complaint: bool = False
    integrity_in_suggestion: bool = False
    integrity: bool = False
    integrity_alert: bool = False
    finished_by_attempt: int | None = None
    reached_end: bool = False
    last_disposition: Outcome | None = None
    dial_errors: int = 0
    sms_sent_at: datetime | None = None
    sms_remind_at: datetime | None = None
    sms_expires_at: datetime | None = None
    sms_reminded: str | None = None
    sms_send_errors: int = 0
    sms_clarified: int = 0
    sms_closed_replied: bool = False
    sms_end: str | None = None
    sms_error: str | None = None
    revisit: bool = False
    demo: bool = False
    form_ref: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> CallbackFlags:
        """Read a stored ``flags`` value: missing or null keys take their defaults (older rows lack most)."""
        data = data or {}
        return cls(**{
            f.name: _READERS[str(f.type)](data[f.name]) for f in fields(cls) if data.get(f.name) is not None
        })


def _read_time(value: str) -> datetime:
    at = datetime.fromisoformat(value)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


_READERS: dict[str, Any] = {
    "bool": bool, "int": int, "int | None": int, "str | None": str, "Outcome | None": Outcome,
    "datetime | None": _read_time,
}
FLAG_NAMES = frozenset(f.name for f in fields(CallbackFlags))


def flags_of(callback: Callback) -> CallbackFlags:
    """The callback's ``flags``, typed."""
    return CallbackFlags.from_json(callback.flags)


def set_flags(callback: Callback, **values: Any) -> None:
    """Merge into the callback's ``flags`` (reassigned: JSON columns do not track in-place edits). Only the keys
    of `CallbackFlags`; a datetime is stored as its ISO string and must be aware."""
    unknown = set(values) - FLAG_NAMES
    if unknown:
        raise TypeError(f"unknown callback flag(s): {', '.join(sorted(unknown))}")
    callback.flags = {**(callback.flags or {}), **{k: _stored(v) for k, v in values.items()}}


def _stored(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a callback flag; attach a timezone first")
        return value.isoformat()
    return value
