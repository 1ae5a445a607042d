"""A staff member's own call recorded by hand (篇2 四; callback.responses.manual): the same services as a call or
an SMS reply — answers saved with channel ``manual``, an integrity "yes" alerting at once, a complaint opening a
case (篇2 五), an opt-out that holds in every hall and keeps the number out of the next draw — on a callback
still waiting or never reached, never on one that ended or is on the phone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.draws.services import draw_weekly_sample
from callback.models import Answer, AuditEvent, Callback, Contact, Hall, TranscriptEvent
from callback.models.rectification import Rectification
from callback.responses.entry import EntryError, read_answers
from callback.responses.manual import record_manual
from callback.responses.optout import is_opted_out
from callback.responses.states import CallbackState, end, flags_of, move_to
from tests.factories import make_case, make_hall, make_window

SH = ZoneInfo("Asia/Shanghai")
WEEK = "2026-W48"
DRAWN_AT = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
CALLED_AT = datetime(2026, 11, 24, 10, 30, tzinfo=SH)
ACCEPTED = datetime(2026, 11, 10, 10, 0, tzinfo=SH)
SETTINGS = Settings()
PHONE = "+8613812345678"
ACTOR = "督查科王五 (cli:test)"
S = CallbackState


def drawn(session: Session, hall: Hall | None = None, phone: str = PHONE, week: str = WEEK,
          at: datetime = DRAWN_AT) -> Callback:
    """The one callback of a real draw of a hall with one case of ``phone``."""
    hall = hall or make_hall(session)
    add_case(session, hall, phone, at - timedelta(days=5))
    result = draw_weekly_sample(session, hall, week, now=at, settings=SETTINGS)
    assert len(result.sample) == 1
    return session.get(Callback, result.sample[0].callback_id)


def add_case(session: Session, hall: Hall, phone: str, accepted: datetime) -> None:
    """A ledger case of ``phone``, imported when it was accepted (so a draw after it sees it)."""
    case = make_case(session, hall, make_window(session, hall), phone=phone, accepted_at=accepted)
    case.created_at = accepted
    session.flush()


def record(session: Session, callback: Callback, answers: str | None, suggestion: str | None = None, **kw):  # noqa: ANN201
    entry = read_answers(answers, suggestion) if answers is not None else None
    return record_manual(session, callback.id, entry, CALLED_AT, actor=ACTOR, **kw)


def answers_of(session: Session, callback: Callback) -> dict[str, tuple[str, str]]:
    rows = session.scalars(select(Answer).where(Answer.callback_id == callback.id))
    return {a.item: (a.value, a.channel) for a in rows}


def case_of(session: Session, callback: Callback) -> Rectification | None:
    return session.scalar(select(Rectification).where(Rectification.callback_id == callback.id))


def notes(session: Session, callback: Callback) -> list[str]:
    rows = session.scalars(select(TranscriptEvent).where(TranscriptEvent.callback_id == callback.id,
                                                         TranscriptEvent.kind == "note"))
    return [e.text for e in rows]


def test_all_good_answers_complete_the_callback_with_no_case(session: Session) -> None:
    callback = drawn(session)
    result = record(session, callback, "111111")
    assert (callback.state, callback.outcome, callback.channel) == ("complete", "complete", "manual")
    assert callback.finished_at == CALLED_AT and callback.next_action_at is None
    assert set(answers_of(session, callback).values()) == {("S", "manual"), ("Y", "manual"), ("N", "manual")}
    assert (result.outcome, result.keys, result.rectification_id, result.integrity_alert) == (
        "complete", "111111", None, False)
    assert notes(session, callback) == ["人工回访录入：服务态度：满意；办事效率：满意；按章办事：满意；体外循环：是；"
                                        "廉洁自律：没有；总体评价：满意"]
    audit = session.scalar(select(AuditEvent).where(AuditEvent.action == "manual_result"))
    assert (audit.actor, audit.entity_id, audit.detail["keys"]) == (ACTOR, callback.id, "111111")


def test_an_integrity_yes_alerts_at_once_and_opens_an_integrity_only_case(session: Session) -> None:
    callback = drawn(session)
    result = record(session, callback, "111121")
    assert flags_of(callback).integrity_alert and result.integrity_alert
    alert = session.scalar(select(AuditEvent).where(AuditEvent.action == "integrity_alert"))
    assert (alert.actor, alert.entity_id) == (ACTOR, callback.id)
    case = case_of(session, callback)
    assert case is not None and result.rectification_id == case.id
    assert case.reasons == ["integrity"] and case.integrity is True
    assert "已即时提醒督查科（廉洁自律）" in notes(session, callback)[0]


def test_a_complaint_in_the_suggestion_opens_a_case_even_after_all_good_answers(session: Session) -> None:
    callback = drawn(session)
    result = record(session, callback, "111111", suggestion="窗口工作人员态度差，让我跑了三趟，电话13812345678")
    case = case_of(session, callback)
    assert case is not None and case.reasons == ["complaint"] and not case.integrity
    assert result.rectification_id == case.id and flags_of(callback).complaint
    assert callback.suggestion.endswith("13812345678")  # the raw words stay on the callback only
    line = notes(session, callback)[0]
    assert "态度差" in line and "13812345678" not in line and "138****5678" in line
    assert "13812345678" not in str(case.excerpt)


def test_integrity_words_in_the_suggestion_alert_too(session: Session) -> None:
    callback = drawn(session)
    record(session, callback, "111111", suggestion="办事员暗示要给红包")
    assert flags_of(callback).integrity_alert
    assert case_of(session, callback).integrity is True


def test_a_partial_answer_ends_partial_and_a_bad_rating_opens_its_case(session: Session) -> None:
    callback = drawn(session)
    result = record(session, callback, "13")
    assert (callback.state, result.keys) == ("partial", "13----")
    assert case_of(session, callback).reasons == ["efficiency"]


@pytest.mark.parametrize("waiting", ["sms", "unreachable"])
def test_a_callback_the_calls_did_not_reach_takes_the_staff_call(session: Session, waiting: str) -> None:
    callback = drawn(session)
    move_to(callback, S.CALLING)
    if waiting == "sms":
        move_to(callback, S.SMS)
    else:
        end(callback, S.UNREACHABLE, CALLED_AT - timedelta(hours=3), outcome="no_answer")
    record(session, callback, "211111")
    assert (callback.state, callback.channel, callback.finished_at) == ("complete", "manual", CALLED_AT)


def test_an_sms_answer_given_before_is_overwritten_by_the_staff_call(session: Session) -> None:
    callback = drawn(session)
    move_to(callback, S.CALLING)
    move_to(callback, S.SMS)
    session.add(Answer(hall_id=callback.hall_id, callback_id=callback.id, item="attitude", value="U", key="3",
                       channel="sms"))
    session.flush()
    record(session, callback, "111111")
    assert answers_of(session, callback)["attitude"] == ("S", "manual")


@pytest.mark.parametrize(("state", "why"), [
    (S.CALLING, "正在通话中"), (S.IN_SURVEY, "正在通话中"), (S.COMPLETE, "已结束"), (S.PARTIAL, "已结束"),
    (S.BREAK_OFF, "已结束"), (S.REFUSED, "已结束"), (S.OPTED_OUT, "已结束"), (S.SUPERSEDED, "已结束"),
])
def test_a_live_call_or_an_ended_callback_is_refused_and_nothing_changes(session: Session, state: S, why: str) -> None:
    callback = drawn(session)
    callback.state = state.value  # staged directly: the table has no path to some of these from drawn
    session.flush()
    with pytest.raises(EntryError, match=why):
        record(session, callback, "332213", opt_out=True)
    assert callback.state == state and answers_of(session, callback) == {}
    assert not is_opted_out(session, PHONE) and case_of(session, callback) is None


def test_an_unknown_callback_and_an_empty_entry_are_refused(session: Session) -> None:
    callback = drawn(session)
    with pytest.raises(EntryError, match="找不到回访#999999"):
        record_manual(session, 999999, read_answers("111111"), CALLED_AT, actor=ACTOR)
    with pytest.raises(EntryError, match="--answers"):
        record_manual(session, callback.id, None, CALLED_AT, actor=ACTOR)
    assert callback.state == "drawn"


def test_a_number_that_opted_out_is_never_recorded_as_called(session: Session) -> None:
    callback = drawn(session)
    session.get(Contact, callback.contact_id).opted_out_at = CALLED_AT - timedelta(hours=1)
    with pytest.raises(EntryError, match="已退订"):
        record(session, callback, "111111")
    assert callback.state == "drawn"


# --- opt-out -----------------------------------------------------------------------------------------------------


def test_opt_out_with_answers_keeps_them_and_opts_the_number_out_in_every_hall(session: Session) -> None:
    here = make_hall(session, "DEMO")
    there = make_hall(session, "EAST", "东区政务服务中心")
    elsewhere = drawn(session, there)  # the same number, drawn in another hall
    callback = drawn(session, here)
    result = record(session, callback, "111111", opt_out=True)
    assert result.opted_out and result.phone == "138****5678"
    assert callback.state == "complete"  # its answers stand; the opt-out is for the future
    assert elsewhere.state == "opted_out"  # the other hall's waiting callback ends at once
    contacts = session.scalars(select(Contact).where(Contact.phone == PHONE)).all()
    assert len(contacts) == 2 and all(c.opted_out_at == CALLED_AT for c in contacts)
    assert {c.opt_out_source for c in contacts} == {"manual"}
    audits = session.scalars(select(AuditEvent).where(AuditEvent.action == "opted_out")).all()
    assert audits and {a.actor for a in audits} == {ACTOR}
    assert notes(session, callback)[0].endswith("申请人要求今后不再回访（已退订，所有中心）")


def test_opt_out_alone_ends_a_waiting_callback_and_leaves_an_unreachable_one(session: Session) -> None:
    callback = drawn(session)
    result = record(session, callback, None, opt_out=True)
    assert (callback.state, result.outcome, result.keys) == ("opted_out", None, "")
    assert is_opted_out(session, PHONE)
    other = drawn(session, make_hall(session, "WEST", "西区"), phone="+8613900001111")
    move_to(other, S.CALLING)
    end(other, S.UNREACHABLE, CALLED_AT, outcome="busy")
    record(session, other, None, opt_out=True)
    assert other.state == "unreachable" and is_opted_out(session, "+8613900001111")
    assert notes(session, other) == ["人工回访录入：申请人要求今后不再回访（已退订，所有中心）"]


def test_the_next_draw_in_any_hall_excludes_a_number_opted_out_on_a_staff_call(session: Session) -> None:
    hall, east = make_hall(session, "DEMO"), make_hall(session, "EAST", "东区")
    callback = drawn(session, hall)
    record(session, callback, "111111", opt_out=True)
    later = DRAWN_AT + timedelta(days=7)
    for h, cases in ((hall, 2), (east, 1)):  # DEMO: last week's case and a new one; EAST: a new one
        add_case(session, h, PHONE, later - timedelta(days=2))
        result = draw_weekly_sample(session, h, "2026-W49", now=later, settings=SETTINGS)
        assert result.sample == [] and result.draw.excluded["opted_out"] == cases, h.code
