"""The callback state machine (docs/architecture.md §Callback states) and the typed ``flags`` of a callback."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from itertools import product
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callback.models import Callback
from callback.responses.states import (
    ANSWERED,
    FINAL,
    FLAG_NAMES,
    INITIAL,
    LATE_ANSWERS,
    LIVE_CALL,
    MANUAL_RESULT,
    ONSITE_START,
    OPEN,
    PENDING,
    STATE_LABELS,
    SURVEY_ENDS,
    TRANSITIONS,
    WAITING,
    CallbackFlags,
    CallbackState,
    InvalidTransition,
    Outcome,
    checked_move,
    end,
    flags_of,
    move_to,
    set_flags,
)
from survey.questionnaire import COMPLAINT, INTEGRITY

S = CallbackState
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]

# The moves docs/architecture.md §Callback states draws, written out independently of the table they check.
DESIGNED = {
    (S.DRAWN, S.CALLING), (S.DRAWN, S.SUPERSEDED),
    (S.CALLING, S.IN_SURVEY), (S.CALLING, S.DRAWN), (S.CALLING, S.SMS), (S.CALLING, S.UNREACHABLE),
    (S.IN_SURVEY, S.COMPLETE), (S.IN_SURVEY, S.PARTIAL), (S.IN_SURVEY, S.BREAK_OFF), (S.IN_SURVEY, S.REFUSED),
    (S.SMS, S.COMPLETE), (S.SMS, S.PARTIAL), (S.SMS, S.UNREACHABLE),
    # late answers of the same call, after its hang-up was reported: the ending is worked out again
    (S.COMPLETE, S.COMPLETE), (S.PARTIAL, S.PARTIAL), (S.PARTIAL, S.COMPLETE),
    (S.BREAK_OFF, S.BREAK_OFF), (S.BREAK_OFF, S.PARTIAL), (S.BREAK_OFF, S.COMPLETE),
    (S.REFUSED, S.REFUSED), (S.REFUSED, S.BREAK_OFF), (S.REFUSED, S.PARTIAL), (S.REFUSED, S.COMPLETE),
    # key 9 / TD: every state not in a live call and not finished, and the endings still open to late keys
    (S.DRAWN, S.OPTED_OUT), (S.IN_SURVEY, S.OPTED_OUT), (S.SMS, S.OPTED_OUT),
    (S.PARTIAL, S.OPTED_OUT), (S.BREAK_OFF, S.OPTED_OUT), (S.REFUSED, S.OPTED_OUT),
    # a staff member's own call recorded by hand (篇2 四): waiting for its call or SMS reply, or never reached
    (S.DRAWN, S.COMPLETE), (S.DRAWN, S.PARTIAL), (S.UNREACHABLE, S.COMPLETE), (S.UNREACHABLE, S.PARTIAL),
}
ALLOWED = sorted((a, b) for a, targets in TRANSITIONS.items() for b in targets)
REFUSED_MOVES = sorted(set(product(CallbackState, CallbackState)) - set(ALLOWED))


def callback_in(state: CallbackState | str) -> Callback:
    return Callback(state=state, flags={}, next_action_at=NOW)


def test_the_table_is_the_designed_machine() -> None:
    assert set(ALLOWED) == DESIGNED
    assert set(TRANSITIONS) == set(CallbackState)


@pytest.mark.parametrize(("source", "target"), ALLOWED)
def test_every_allowed_move_works(source: CallbackState, target: CallbackState) -> None:
    callback = callback_in(source.value)  # as read from the database: a plain string
    move_to(callback, target)
    assert callback.state == target


@pytest.mark.parametrize(("source", "target"), REFUSED_MOVES)
def test_every_other_move_raises_and_changes_nothing(source: CallbackState, target: CallbackState) -> None:
    callback = callback_in(source.value)
    with pytest.raises(InvalidTransition):
        move_to(callback, target)
    assert callback.state == source
    with pytest.raises(InvalidTransition):
        checked_move(source, target)


def test_final_states_lead_only_to_final_states() -> None:
    for state in FINAL:
        assert TRANSITIONS[state] <= FINAL, state
    for state in (S.OPTED_OUT, S.SUPERSEDED):
        assert TRANSITIONS[state] == frozenset()
    assert TRANSITIONS[S.UNREACHABLE] == {S.COMPLETE, S.PARTIAL}  # only a staff call recorded by hand
    assert TRANSITIONS[S.COMPLETE] == {S.COMPLETE}  # a complete survey only ever stays complete


def test_every_state_is_reachable_and_every_open_state_can_end() -> None:
    reached, frontier = {INITIAL}, [INITIAL]
    while frontier:
        for target in TRANSITIONS[frontier.pop()] - reached:
            reached.add(target)
            frontier.append(target)
    assert reached == set(CallbackState)
    for state in OPEN:
        assert _ends_from(state), state


def _ends_from(state: CallbackState, seen: frozenset[CallbackState] = frozenset()) -> bool:
    return any(t in FINAL or (t not in seen and _ends_from(t, seen | {state})) for t in TRANSITIONS[state])


def test_a_staff_call_may_be_recorded_only_where_the_table_lets_it_finish() -> None:
    """MANUAL_RESULT: the states a staff call's answers may end (complete, partial) — never a live call nor an
    ending; an on-site form starts where finish_survey may end it."""
    assert MANUAL_RESULT == {S.DRAWN, S.SMS, S.UNREACHABLE}
    for state in CallbackState:
        may_finish = {S.COMPLETE, S.PARTIAL} <= TRANSITIONS[state]
        assert (state in MANUAL_RESULT) <= may_finish, state
    assert not MANUAL_RESULT & LIVE_CALL and not MANUAL_RESULT & (SURVEY_ENDS | {S.OPTED_OUT, S.SUPERSEDED})
    assert {S.COMPLETE, S.PARTIAL} <= TRANSITIONS[ONSITE_START]


def test_the_named_sets() -> None:
    assert OPEN | FINAL == set(CallbackState) and not OPEN & FINAL
    assert OPEN == PENDING | {S.SMS} and WAITING == {S.DRAWN, S.SMS} and LIVE_CALL == {S.CALLING, S.IN_SURVEY}
    assert ANSWERED < SURVEY_ENDS < FINAL and LATE_ANSWERS == SURVEY_ENDS - {S.COMPLETE}
    assert set(STATE_LABELS) == set(CallbackState)
    assert {s.value for s in SURVEY_ENDS | {S.UNREACHABLE, S.OPTED_OUT}} <= {o.value for o in Outcome}


def test_unknown_stored_state_is_refused() -> None:
    with pytest.raises(InvalidTransition, match="unknown"):
        move_to(callback_in("ringing"), S.IN_SURVEY)


def test_end_reaches_a_final_state_with_its_outcome() -> None:
    callback = callback_in(S.CALLING)
    end(callback, S.UNREACHABLE, NOW, outcome=Outcome.BUSY)
    assert (callback.state, callback.outcome, callback.finished_at, callback.next_action_at) == (
        "unreachable", "busy", NOW, None)
    survey = callback_in(S.IN_SURVEY)
    end(survey, S.PARTIAL, NOW)
    assert survey.outcome == "partial"


def test_end_refuses_an_open_state_and_a_move_the_table_forbids() -> None:
    with pytest.raises(InvalidTransition, match="not a final state"):
        end(callback_in(S.CALLING), S.DRAWN, NOW)
    callback = callback_in(S.COMPLETE)
    with pytest.raises(InvalidTransition):
        end(callback, S.OPTED_OUT, NOW)
    assert (callback.state, callback.finished_at) == (S.COMPLETE, None)


@given(st.lists(st.sampled_from(list(CallbackState)), max_size=12))
def test_any_sequence_of_moves_follows_the_table(targets: list[CallbackState]) -> None:
    callback = callback_in(INITIAL)
    for target in targets:
        before = CallbackState(callback.state)
        try:
            move_to(callback, target)
        except InvalidTransition:
            assert target not in TRANSITIONS[before] and callback.state == before
        else:
            assert target in TRANSITIONS[before] and callback.state == target
        if before in FINAL:
            assert callback.state in FINAL  # once ended, a callback never opens again


def test_every_state_change_in_the_code_goes_through_the_table() -> None:
    """No ``x.state = …`` outside states.py (a rectification case's ``case.state`` and a staff call's
    ``call.state``, responses/staff_calls.py, are machines of their own)."""
    assignment = re.compile(r"(?<!case)(?<!call)\.state\s*(?:,\s*[\w.]+\s*)*=[^=]")
    found = []
    for package in ("callback", "ivr", "worker"):
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if relative != "callback/responses/states.py":
                found += [f"{relative}:{n}" for n, line in enumerate(path.read_text().splitlines(), 1)
                          if assignment.search(line)]
    assert found == []


# --- flags -------------------------------------------------------------------------------------------------------


def test_an_unknown_flag_is_refused() -> None:
    callback = callback_in(S.SMS)
    set_flags(callback, consent=True)
    with pytest.raises(TypeError, match="sms_expiry"):
        set_flags(callback, sms_expiry=NOW, consent=False)
    assert callback.flags == {"consent": True}


def test_an_old_row_reads_as_the_defaults() -> None:
    assert flags_of(Callback(flags=None)) == flags_of(Callback(flags={})) == CallbackFlags()
    old = flags_of(Callback(flags={"consent": True, "dial_errors": 2, "retired_key": "x"}))
    assert (old.consent, old.dial_errors, old.sms_send_errors, old.sms_expires_at, old.finished_by_attempt) == (
        True, 2, 0, None, None)
    assert (old.integrity_alert, old.sms_reminded, old.last_disposition) == (False, None, None)


def test_times_are_stored_as_iso_strings_and_read_back_aware() -> None:
    shanghai = timezone(timedelta(hours=8))
    callback = callback_in(S.SMS)
    set_flags(callback, sms_sent_at=NOW.astimezone(shanghai), sms_expires_at=NOW + timedelta(hours=48))
    assert callback.flags["sms_sent_at"] == "2026-11-24T09:00:00+08:00"
    flags = flags_of(callback)
    assert flags.sms_sent_at == NOW and flags.sms_sent_at.tzinfo is UTC
    assert flags.sms_expires_at == NOW + timedelta(hours=48)
    naive_old_row = flags_of(Callback(flags={"sms_remind_at": "2026-11-24T01:00:00"}))
    assert naive_old_row.sms_remind_at == NOW  # read as UTC, like the database's own timestamps
    with pytest.raises(ValueError, match="naive"):
        set_flags(callback, sms_remind_at=datetime(2026, 11, 24, 1, 0))


def test_flags_read_with_their_types() -> None:
    callback = callback_in(S.DRAWN)
    set_flags(callback, last_disposition=Outcome.NO_ANSWER, finished_by_attempt=7, sms_reminded="skipped")
    flags = flags_of(callback)
    assert flags.last_disposition is Outcome.NO_ANSWER and flags.finished_by_attempt == 7
    assert flags.sms_reminded == "skipped" and callback.flags["last_disposition"] == "no_answer"


def test_keys_written_or_read_outside_set_flags_are_documented_flags() -> None:
    """callback.rectification cannot import responses (responses already imports it): the keys it reads (the
    suggestion's complaint/integrity marks) and writes (a 二次回访) must still be CallbackFlags keys."""
    assert {COMPLAINT, INTEGRITY, "revisit"} <= FLAG_NAMES
    for name in FLAG_NAMES:
        assert f"``{name}``" in (CallbackFlags.__doc__ or ""), name
