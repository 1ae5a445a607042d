"""POST /sms/inbound and /sms/status through the Flask app: signed requests as Twilio sends them, replies read
from the messaging TwiML, the database checked after each (docs/architecture.md §SMS replies)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.models import (
    Answer,
    AuditEvent,
    Callback,
    Contact,
    Message,
    Rectification,
    TranscriptEvent,
    WebhookReceipt,
)
from callback.telephony import MockProvider
from ivr.simulator.twiml_spec import check_twiml
from ivr.sms_survey import MAX_SEGMENTS, segments, send_sms_survey
from tests.factories import make_case, make_hall
from tests.ivr.ivr_support import NOW, count, reload
from tests.ivr.sms_support import Citizen, Reply, answers, phone_of, sms_callback, status


@pytest.fixture
def settings(app: Flask) -> Settings:
    return app.config["SETTINGS"]


def texted(db: Session, settings: Settings, **kw) -> tuple[Callback, MockProvider]:  # noqa: ANN003
    """A callback in state sms whose survey SMS has gone out."""
    callback = sms_callback(db, **kw)
    outbox = MockProvider()
    assert send_sms_survey(db, callback.id, outbox, settings, NOW).result == "sent"
    return callback, outbox


def citizen(app: Flask, db: Session, callback: Callback) -> Citizen:
    return Citizen(app.test_client(), phone_of(db, callback))


def valid(reply: Reply) -> Reply:
    assert reply.status == 200, reply.xml
    assert check_twiml(reply.xml, kind="messaging") == [] if reply.text else reply.xml.strip().endswith("/>")
    if reply.text:
        assert segments(reply.text) <= MAX_SEGMENTS, reply.text
    return reply


# --- answers -------------------------------------------------------------------------------------------------


def test_a_full_reply_completes_the_survey(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    reply = valid(citizen(app, db, callback).text("112111"))
    callback = reload(db, callback)
    assert (callback.state, callback.outcome, callback.channel) == ("complete", "complete", "sms")
    assert answers(db, callback) == {"attitude": "1", "efficiency": "1", "by_the_rules": "2", "in_hall": "1",
                                     "integrity": "1", "overall": "1"}
    assert {a.channel for a in db.scalars(select(Answer))} == {"sms"}
    assert "已收到您的评价" in reply.text and "示范政务服务中心" in reply.text
    assert callback.finished_at == NOW and callback.next_action_at is None
    # 基本满意 on 按章办事 opens a rectification case for the window (篇2 五).
    case = db.scalar(select(Rectification).where(Rectification.callback_id == callback.id))
    assert case is not None and case.reasons == ["by_the_rules"] and not case.integrity


def test_two_messages_complete_the_rest_in_order(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    person = citizen(app, db, callback)
    first = valid(person.text("1 1 2"))
    assert reload(db, callback).state == "sms"
    assert answers(db, callback) == {"attitude": "1", "efficiency": "1", "by_the_rules": "2"}
    assert "是否全在大厅办" in first.text and "有无索要财物" in first.text and "总体评价" in first.text
    assert "服务态度" not in first.text  # only the items still missing are asked for
    second = valid(person.text("１，１，１ 窗口态度很好"))
    callback = reload(db, callback)
    assert callback.state == "complete" and len(answers(db, callback)) == 6
    assert answers(db, callback)["overall"] == "1" and callback.suggestion == "窗口态度很好"
    assert "意见建议" in second.text


def test_six_keys_after_a_partial_reply_answer_everything_again(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    person = citizen(app, db, callback)
    valid(person.text("333"))
    valid(person.text("111111"))
    assert reload(db, callback).state == "complete"
    assert set(answers(db, callback).values()) == {"1"}


def test_a_word_answers_the_overall_item_and_asks_for_the_rest(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    person = citizen(app, db, callback)
    reply = valid(person.text("基本滿意"))
    assert answers(db, callback) == {"overall": "2"}
    assert "总体评价" in reply.text and "服务态度" in reply.text and reload(db, callback).state == "sms"
    valid(person.text("11111"))  # the five items still missing, in order
    assert reload(db, callback).state == "complete" and answers(db, callback)["overall"] == "2"


def test_integrity_yes_alerts_supervisors_at_once(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    person = citizen(app, db, callback)
    valid(person.text("11112"))  # 5th item, 廉洁自律: 2 = 有
    callback = reload(db, callback)
    assert callback.state == "sms" and callback.flags["integrity_alert"] is True
    alerts = db.scalars(select(AuditEvent).where(AuditEvent.action == "integrity_alert")).all()
    assert [(a.actor, a.entity_id) for a in alerts] == [("sms", callback.id)]
    valid(person.text("1"))
    case = db.scalar(select(Rectification).where(Rectification.callback_id == callback.id))
    assert case.integrity and "integrity" in case.reasons
    assert count(db, AuditEvent, action="integrity_alert") == 1  # once, not again at completion


def test_a_complaint_in_the_comment_is_flagged_and_an_integrity_word_alerts(
    app: Flask, db: Session, settings: Settings
) -> None:
    callback, _ = texted(db, settings)
    valid(citizen(app, db, callback).text("111111 窗口态度差，还收钱"))
    callback = reload(db, callback)
    assert callback.suggestion == "窗口态度差，还收钱"
    assert callback.flags["complaint"] and callback.flags["integrity_in_suggestion"] and callback.flags["integrity_alert"]
    case = db.scalar(select(Rectification).where(Rectification.callback_id == callback.id))
    assert case.integrity and case.reasons == ["integrity", "complaint"]


def test_a_good_reply_opens_no_case(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    valid(citizen(app, db, callback).text("１１１１１１"))
    assert reload(db, callback).state == "complete"
    assert count(db, Rectification) == 0 and count(db, AuditEvent, action="integrity_alert") == 0


# --- ambiguous -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["7", "好的", "谢谢", "👍", "   ", "1111111", "111311", "等了3天"])
def test_ambiguous_replies_get_one_clarifying_question_and_are_never_scored(
    app: Flask, db: Session, settings: Settings, body: str
) -> None:
    callback, _ = texted(db, settings)
    person = citizen(app, db, callback)
    first = valid(person.text(body))
    assert "没能看懂" in first.text
    second = valid(person.text(body))
    assert second.text is None  # asked once; no ping-pong with an auto-responder
    assert answers(db, callback) == {} and reload(db, callback).state == "sms"
    assert count(db, Message, direction="in") == 2  # both kept for the transcript


def test_a_complaint_in_an_unreadable_reply_is_kept_but_not_scored(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    reply = valid(citizen(app, db, callback).text("等了3天，工作人员还刁难我"))
    callback = reload(db, callback)
    assert "没能看懂" in reply.text and answers(db, callback) == {}
    assert callback.suggestion == "等了3天，工作人员还刁难我" and callback.flags["complaint"]


# --- after completion ----------------------------------------------------------------------------------------


def test_after_completion_a_text_is_a_suggestion_and_digits_change_nothing(
    app: Flask, db: Session, settings: Settings
) -> None:
    callback, _ = texted(db, settings)
    person = citizen(app, db, callback)
    valid(person.text("111111"))
    assert valid(person.text("谢谢")).text is None
    assert "已完成本次评价" in valid(person.text("333333")).text
    assert set(answers(db, callback).values()) == {"1"}
    reply = valid(person.text("窗口工作人员推诿，让我去别的办公室"))
    callback = reload(db, callback)
    assert "意见建议" in reply.text and callback.suggestion == "窗口工作人员推诿，让我去别的办公室"
    case = db.scalar(select(Rectification).where(Rectification.callback_id == callback.id))
    assert case is not None and case.reasons == ["complaint"]


# --- opt-out -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["TD", "ｔｄ", "退订", "退訂", "STOP", "取消", "不要再发了"])
def test_opt_out_words_opt_the_number_out_everywhere(app: Flask, db: Session, settings: Settings, body: str) -> None:
    callback, _ = texted(db, settings)
    phone = phone_of(db, callback)
    other_hall = make_hall(db, code="EAST", name="东区政务服务中心")
    waiting = make_case(db, other_hall, phone=phone)  # the same citizen is in another hall's ledger
    empty_hall = make_hall(db, code="WEST", name="西区政务服务中心")  # a hall that has never seen the number
    db.commit()
    reply = valid(Citizen(app.test_client(), phone).text(body))
    assert "退订" in reply.text or "退訂" in reply.text
    callback = reload(db, callback)
    assert callback.state == callback.outcome == "opted_out" and answers(db, callback) == {}
    rows = db.scalars(select(Contact).where(Contact.phone == phone)).all()
    assert {c.hall_id for c in rows} == {callback.hall_id, other_hall.id, empty_hall.id}
    assert all(c.opted_out_at == NOW and c.opt_out_source == "sms" for c in rows)
    assert db.get(Contact, waiting.contact_id).opted_out_at == NOW
    # One confirmation: saying it again is not answered.
    assert valid(Citizen(app.test_client(), phone).text("TD")).text is None


def test_answers_given_with_the_opt_out_are_kept(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    reply = valid(citizen(app, db, callback).text("112 退订"))
    callback = reload(db, callback)
    assert callback.state == "partial" and answers(db, callback) == {"attitude": "1", "efficiency": "1",
                                                                     "by_the_rules": "2"}
    assert db.get(Contact, callback.contact_id).opted_out_at is not None and "退订" in reply.text


def test_opt_out_ends_waiting_callbacks_of_the_number(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    phone = phone_of(db, callback)
    later = sms_callback(db, phone=phone, state="drawn", next_action_at=NOW)
    valid(Citizen(app.test_client(), phone).text("TD"))
    assert reload(db, later).state == "opted_out"


# --- who is texting ------------------------------------------------------------------------------------------


def _tables(db: Session) -> tuple[int, ...]:
    return (count(db, Message), count(db, Answer), count(db, TranscriptEvent), count(db, Contact),
            count(db, AuditEvent), count(db, Callback))


def test_an_unknown_number_is_answered_politely_and_nothing_is_stored(
    app: Flask, db: Session, settings: Settings
) -> None:
    callback, _ = texted(db, settings)
    before = _tables(db)
    reply = valid(Citizen(app.test_client(), "+8613999999999").text("111111 窗口很好"))
    assert "暂未查到" in reply.text and reply.action is None
    assert _tables(db) == before and reload(db, callback).state == "sms"
    assert count(db, Message, direction="in") == 0


def test_a_number_known_only_from_the_ledger_is_treated_as_unknown(app: Flask, db: Session) -> None:
    callback = sms_callback(db)  # its survey SMS has not gone out yet
    before = _tables(db)
    reply = valid(citizen(app, db, callback).text("111111"))
    assert "暂未查到" in reply.text and _tables(db) == before and answers(db, callback) == {}


def test_a_late_reply_to_a_closed_survey_is_kept_unscored(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    db.execute(Callback.__table__.update().where(Callback.id == callback.id).values(state="unreachable"))
    db.commit()
    person = citizen(app, db, callback)
    assert "回访已结束" in valid(person.text("111111")).text
    assert valid(person.text("111111")).text is None  # said once
    late = db.scalars(select(Message).where(Message.direction == "in")).all()
    assert [m.purpose for m in late] == ["late", "late"] and answers(db, callback) == {}


def test_the_most_recent_open_survey_of_the_number_gets_the_reply(app: Flask, db: Session, settings: Settings) -> None:
    older, _ = texted(db, settings)
    phone = phone_of(db, older)
    newer = sms_callback(db, phone=phone)
    assert send_sms_survey(db, newer.id, MockProvider(), settings, NOW + timedelta(minutes=5)).result == "sent"
    valid(Citizen(app.test_client(), phone).text("111111"))
    assert reload(db, newer).state == "complete" and reload(db, older).state == "sms"


def test_a_domestic_sender_format_matches_the_contact(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    national = phone_of(db, callback).removeprefix("+86")
    valid(Citizen(app.test_client(), national).text("111111"))
    assert reload(db, callback).state == "complete"


# --- webhook guarantees --------------------------------------------------------------------------------------


def test_a_duplicate_message_sid_changes_nothing_twice(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    person = citizen(app, db, callback)
    first = valid(person.text("112", sid="SM" + "d" * 32))
    before = _tables(db)
    again = valid(person.text("112", sid="SM" + "d" * 32))
    assert first.text and again.text is None and _tables(db) == before
    assert count(db, Message, direction="in") == 1


def test_concurrent_duplicates_are_handled_once(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    phone = phone_of(db, callback)
    replies: list[Reply] = []

    def deliver() -> None:
        replies.append(Citizen(app.test_client(), phone).text("111111", sid="SM" + "e" * 32))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in replies) == [200] * 4
    assert sum(r.text is not None for r in replies) == 1
    assert count(db, Message, direction="in") == 1 and len(answers(db, callback)) == 6


def test_a_forged_signature_is_refused_and_nothing_is_stored(app: Flask, db: Session, settings: Settings) -> None:
    callback, outbox = texted(db, settings)
    before = (*_tables(db), count(db, WebhookReceipt))
    client = app.test_client()
    assert Citizen(client, phone_of(db, callback), auth="wrong-token").text("TD").status == 403
    assert Citizen(client, phone_of(db, callback)).text("TD", sign=False).status == 403
    assert status(client, None, outbox_sid(db, callback), "undelivered", auth="wrong-token") == 403
    assert (*_tables(db), count(db, WebhookReceipt)) == before
    assert reload(db, callback).state == "sms" and db.get(Contact, callback.contact_id).opted_out_at is None


def test_an_inbound_without_message_sid_is_refused(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    reply = Citizen(app.test_client(), phone_of(db, callback)).text("111111", sid="", SmsMessageSid="", SmsSid="",
                                                                   MessageSid="")
    assert reply.status == 400 and answers(db, callback) == {}


# --- delivery status -----------------------------------------------------------------------------------------


def outbox_sid(db: Session, callback: Callback) -> str:
    return db.scalar(select(Message.provider_sid).where(Message.callback_id == callback.id,
                                                        Message.purpose == "survey", Message.direction == "out"))


def survey_message(db: Session, callback: Callback) -> Message:
    db.expire_all()
    return db.scalar(select(Message).where(Message.callback_id == callback.id, Message.purpose == "survey",
                                           Message.direction == "out"))


def test_status_callbacks_are_recorded_and_never_move_backwards(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    client, message = app.test_client(), survey_message(db, callback)
    for value in ("sent", "delivered", "sent", "queued"):
        assert status(client, message.id, message.provider_sid, value) == 204
    assert survey_message(db, callback).status == "delivered" and reload(db, callback).state == "sms"
    kinds = db.scalars(select(TranscriptEvent.text).where(TranscriptEvent.callback_id == callback.id,
                                                          TranscriptEvent.kind == "status")).all()
    assert kinds == ["短信已送达"]


@pytest.mark.parametrize("final", ["undelivered", "failed"])
def test_an_undelivered_survey_sms_makes_the_callback_unreachable(
    app: Flask, db: Session, settings: Settings, final: str
) -> None:
    callback, _ = texted(db, settings)
    message = survey_message(db, callback)
    client = app.test_client()
    assert status(client, message.id, message.provider_sid, final, ErrorCode="30003") == 204
    assert status(client, message.id, message.provider_sid, final, ErrorCode="30003") == 204  # a retry
    callback = reload(db, callback)
    assert (callback.state, callback.outcome) == ("unreachable", "unreachable")
    assert callback.flags["sms_end"] == "undelivered" and callback.flags["sms_error"] == "30003"
    assert count(db, TranscriptEvent, callback_id=callback.id, kind="status") == 2  # the failure, the ending


def test_a_status_that_overtakes_the_providers_answer_finds_its_message(
    app: Flask, db: Session, settings: Settings
) -> None:
    callback = sms_callback(db)
    client = app.test_client()
    seen: list[int] = []

    def early_status(request) -> None:  # noqa: ANN001
        message_id = int(request.status_callback.rsplit("m=", 1)[1])
        seen.append(status(client, message_id, "SM" + "f" * 32, "sent"))

    send_sms_survey(db, callback.id, MockProvider(early_status), settings, NOW)
    message = survey_message(db, callback)
    assert seen == [204] and message.status == "sent" and message.provider_sid.startswith("SM")


def test_a_reply_is_an_outbox_row_whose_status_is_recorded(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    reply = valid(citizen(app, db, callback).text("112"))
    message_id = int(reply.action.rsplit("m=", 1)[1])
    row = db.get(Message, message_id)
    assert (row.direction, row.purpose, row.body, row.status) == ("out", "reply", reply.text, "pending")
    assert status(app.test_client(), message_id, "SM" + "a" * 32, "delivered") == 204
    db.expire_all()
    assert db.get(Message, message_id).status == "delivered" and reload(db, callback).state == "sms"


def test_an_undelivered_reply_does_not_end_the_survey(app: Flask, db: Session, settings: Settings) -> None:
    callback, _ = texted(db, settings)
    reply = valid(citizen(app, db, callback).text("112"))
    message_id = int(reply.action.rsplit("m=", 1)[1])
    assert status(app.test_client(), message_id, "SM" + "b" * 32, "undelivered") == 204
    assert reload(db, callback).state == "sms"


def test_an_unknown_status_is_ignored(app: Flask, db: Session) -> None:
    assert status(app.test_client(), None, "SM" + "0" * 32, "delivered") == 204
    assert db.scalar(select(func.count()).select_from(Message)) == 0
