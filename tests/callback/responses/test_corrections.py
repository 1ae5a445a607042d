"""Correcting a misheard answer (callback.responses.corrections): the original kept once, the latest correction's
who/when/why beside it, an audit event and a transcript note for each, an integrity "有" alerting at once, and the
rectification check run again — a case opens when the corrected answers need one, never closes by itself."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import Answer, AuditEvent, Callback, Hall, TranscriptEvent
from callback.models.rectification import Rectification
from callback.responses.corrections import CorrectionRefused, correct_answer
from callback.responses.entry import read_answers, record_entry
from callback.responses.states import CallbackState, flags_of
from callback.results.report import weekly_report
from tests.factories import make_case, make_hall

NOW = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=3)
ACTOR = "张督查 (console:zhang)"


def answered(session: Session, keys: str, state: str = CallbackState.IN_SURVEY) -> Callback:
    """A callback of week 2026-W48 whose survey ran through the answer services with ``keys`` (``112111``)."""
    hall = make_hall(session)
    case = make_case(session, hall)
    callback = Callback(hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=case.window_id,
                        week="2026-W48", state=state, channel="voice", token=secrets.token_hex(16), flags={})
    session.add(callback)
    session.flush()
    if state == CallbackState.IN_SURVEY:
        record_entry(session, callback, read_answers(keys), channel="voice", now=NOW, actor="ivr", heading="语音回访")
    return callback


def answer(session: Session, callback: Callback, item: str) -> Answer:
    return session.scalar(select(Answer).where(Answer.callback_id == callback.id, Answer.item == item))


def case_of(session: Session, callback: Callback) -> Rectification | None:
    return session.scalar(select(Rectification).where(Rectification.callback_id == callback.id))


def test_a_correction_keeps_the_original_and_says_who_when_why(session: Session) -> None:
    callback = answered(session, "111111")
    result = correct_answer(session, callback, "attitude", "B", "录音中市民说的是“基本满意”", actor=ACTOR, now=LATER,
                            user_id=None, ip="192.0.2.9")
    row = answer(session, callback, "attitude")
    assert (row.value, row.key, row.original_value, row.original_key) == ("B", "2", "S", "1")
    assert (row.corrected_by, row.corrected_at, row.correction_reason) == (ACTOR, LATER, "录音中市民说的是“基本满意”")
    assert (result.old_value, result.new_value, result.original_value) == ("S", "B", "S")
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "answer_corrected"))
    assert (event.entity, event.entity_id, event.actor, event.ip) == ("answer", row.id, ACTOR, "192.0.2.9")
    assert event.detail == {"item": "attitude", "old": "S", "old_key": "1", "new": "B", "new_key": "2",
                                 "original": "S", "reason": "录音中市民说的是“基本满意”", "callback_id": callback.id}
    note = session.scalars(select(TranscriptEvent).where(TranscriptEvent.callback_id == callback.id)
                           .order_by(TranscriptEvent.id.desc())).first()
    assert note.kind == "note" and note.text.startswith("督查更正：服务态度 满意 → 基本满意")


def test_a_second_correction_keeps_the_citizens_answer_as_the_original(session: Session) -> None:
    callback = answered(session, "111111")
    correct_answer(session, callback, "efficiency", "U", "听错了", actor=ACTOR, now=NOW)
    result = correct_answer(session, callback, "efficiency", "B", "再听一遍，是基本满意", actor="李督查", now=LATER)
    row = answer(session, callback, "efficiency")
    assert (row.value, row.original_value, row.original_key, row.corrected_by) == ("B", "S", "1", "李督查")
    assert (result.old_value, result.original_value) == ("U", "S")
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "answer_corrected")
                          .order_by(AuditEvent.id.desc())).detail["old"] == "U"


def test_a_correction_to_a_bad_answer_opens_the_rectification_case(session: Session) -> None:
    callback = answered(session, "111111")
    assert case_of(session, callback) is None
    result = correct_answer(session, callback, "overall", "U", "总体评价实为不满意", actor=ACTOR, now=LATER)
    case = case_of(session, callback)
    assert case is not None and case.reasons == ["overall"] and case.opened_at == LATER
    assert (result.case_id, result.case_opened, result.case_reasons_differ) == (case.id, True, False)


def test_a_correction_to_a_good_answer_leaves_the_case_for_a_person_to_close(session: Session) -> None:
    callback = answered(session, "121111")
    case = case_of(session, callback)
    assert case is not None and case.reasons == ["efficiency"]
    result = correct_answer(session, callback, "efficiency", "S", "按键误触", actor=ACTOR, now=LATER)
    assert case_of(session, callback).state == "open"
    assert (result.case_id, result.case_opened, result.case_reasons_differ) == (case.id, False, True)


def test_an_integrity_yes_found_on_correction_alerts_at_once(session: Session) -> None:
    callback = answered(session, "111111")
    result = correct_answer(session, callback, "integrity", "Y", "录音中市民说有人索要好处", actor=ACTOR, now=LATER)
    assert result.integrity_alert and flags_of(callback).integrity_alert
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "integrity_alert")).actor == ACTOR
    case = case_of(session, callback)
    assert case.integrity and "integrity" in case.reasons


def test_the_weekly_report_counts_the_corrected_answer(session: Session) -> None:
    callback = answered(session, "111111")
    hall_id = callback.hall_id
    correct_answer(session, callback, "attitude", "U", "听错", actor=ACTOR, now=LATER)
    report = weekly_report(session, session.get(Hall, hall_id), "2026-W48", LATER)
    assert report["totals"]["items"]["attitude"] == {"S": 0, "B": 0, "U": 1}


@pytest.mark.parametrize(("item", "value", "reason", "message"), [
    ("attitude", "B", "  ", "须填写理由"),
    ("attitude", "S", "一样", "无需更正"),
    ("attitude", "Y", "值不对", "只能更正为：满意、基本满意、不满意"),
    ("in_hall", "S", "值不对", "只能更正为：是、否"),
    ("nonsense", "S", "没有这题", "没有这一题"),
    ("attitude", "B", "长" * 501, "不能超过 500"),
])
def test_refused_corrections_change_nothing(session: Session, item: str, value: str, reason: str,
                                            message: str) -> None:
    callback = answered(session, "111111")
    with pytest.raises(CorrectionRefused, match=message):
        correct_answer(session, callback, item, value, reason, actor=ACTOR, now=LATER)
    assert answer(session, callback, "attitude").original_value is None
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "answer_corrected")).all() == []


def test_an_unanswered_item_or_an_unfinished_survey_cannot_be_corrected(session: Session) -> None:
    partial = answered(session, "11")
    with pytest.raises(CorrectionRefused, match="按章办事没有作答"):
        correct_answer(session, partial, "by_the_rules", "B", "补录", actor=ACTOR, now=LATER)
    waiting = answered(session, "", state=CallbackState.SMS)
    with pytest.raises(CorrectionRefused, match="只能更正已结束回访"):
        correct_answer(session, waiting, "attitude", "B", "听错", actor=ACTOR, now=LATER)


def test_numbers_in_the_reason_are_masked(session: Session) -> None:
    callback = answered(session, "111111")
    correct_answer(session, callback, "attitude", "B", "市民回电 13912345678 说明", actor=ACTOR, now=LATER)
    row = answer(session, callback, "attitude")
    assert row.correction_reason == "市民回电 139****5678 说明"
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "answer_corrected"))
    assert "13912345678" not in str(event.detail)
