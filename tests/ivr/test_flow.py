"""The voice survey flow through the Flask test client: TwiML read with XPath, rows checked in the database."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import Answer, AuditEvent, Callback, Contact, TranscriptEvent
from callback.rectification.services import get_for_callback
from ivr.prompts import check_catalog, load_catalog
from ivr.simulator.twiml_spec import check_twiml
from tests.factories import make_case, make_hall
from tests.ivr.ivr_support import (
    BASE,
    NOW,
    Caller,
    Twiml,
    count,
    make_callback,
    query,
    receipts,
    transcript_kinds,
)

ITEM_ORDER = ["attitude", "efficiency", "by_the_rules", "in_hall", "integrity", "overall"]


@pytest.fixture
def call(app, db: Session) -> Caller:  # noqa: ANN001
    callback, attempt = make_callback(db)
    return Caller(app.test_client(), callback, attempt)


def fresh(db: Session, callback: Callback) -> Callback:
    db.expire_all()
    return db.get(Callback, callback.id)


def answers(db: Session, callback: Callback) -> dict[str, tuple[str, str]]:
    rows = db.scalars(select(Answer).where(Answer.callback_id == callback.id))
    return {a.item: (a.key, a.value) for a in rows}


def run_items(call: Caller, twiml: Twiml, keys: str) -> Twiml:
    for key in keys:
        twiml = call.press(twiml, key)
    return twiml


# --- the consent step -------------------------------------------------------------------------------------------


def test_answer_identifies_centre_and_item_inside_a_one_digit_gather(call: Caller, db: Session) -> None:
    twiml = call.answer()
    gather = twiml.gather
    assert gather is not None and gather.get("numDigits") == "1" and gather.get("actionOnEmptyResult") == "true"
    say = gather.find("./Say")
    assert say is not None and "示范政务服务中心" in say.text and "个体工商户设立登记" in say.text
    assert say.get("language") == "cmn-CN" and say.get("voice") == "Polly.Zhiyu"
    assert twiml.find("./Redirect").text == gather.get("action")  # a missed key never ends the call
    assert "张三" not in twiml.xml and call.callback.contact_id and "138" not in twiml.xml
    action = gather.get("action")
    assert action.startswith(f"{BASE}/ivr/{call.callback.token}/consent?")
    assert fresh(db, call.callback).state == "in_survey"


def test_key_9_opts_out_for_good(call: Caller, db: Session) -> None:
    twiml = call.press(call.answer(), "9")
    assert twiml.hangs_up and "不再给您拨打" in twiml.spoken
    callback = fresh(db, call.callback)
    assert callback.state == "opted_out" and callback.outcome == "opted_out"
    contact = db.get(Contact, callback.contact_id)
    assert contact.opted_out_at is not None and contact.opt_out_source == "ivr_key9"


def test_key_9_opts_the_number_out_in_every_hall(call: Caller, db: Session) -> None:
    phone = db.get(Contact, call.callback.contact_id).phone
    other = make_hall(db, "OTHER", "另一个中心")
    elsewhere = make_case(db, other, phone=phone)
    db.commit()
    call.press(call.answer(), "9")
    db.expire_all()
    assert db.get(Contact, elsewhere.contact_id).opted_out_at is not None


def test_no_consent_after_two_reprompts_ends_politely_as_refused(call: Caller, db: Session) -> None:
    twiml = call.answer()
    for expected_try in ("1", "2"):
        twiml = call.press(twiml, "")
        assert query(twiml.next_url)["n"] == expected_try and "没有收到您的按键" in twiml.spoken
    twiml = call.press(twiml, "")
    assert twiml.hangs_up
    assert fresh(db, call.callback).outcome == "refused"


# --- the six items ----------------------------------------------------------------------------------------------


def test_full_survey_saves_every_answer_speech_and_recording(call: Caller, db: Session) -> None:
    twiml = call.press(call.answer(), "1")
    asked = []
    for key in "123121":
        asked.append(twiml.gather.get("action").split("/item/")[1].split("?")[0])
        twiml = call.press(twiml, key)
    assert asked == ITEM_ORDER
    gather = twiml.gather
    assert gather.get("input") == "speech" and gather.get("language") == "cmn-Hans-CN"
    twiml = call.turn(twiml.next_url, SpeechResult="窗口人员态度不好，让我跑了三趟", Confidence="0.87")
    record = twiml.find("./Record")
    assert record is not None and int(record.get("maxLength")) <= 120 and record.get("transcribe") is None
    twiml = call.turn(twiml.next_url, RecordingUrl="https://api.twilio.com/rec/RE1", RecordingDuration="6",
                      RecordingSid="RE1")
    assert twiml.hangs_up and "感谢您的配合" in twiml.spoken

    callback = fresh(db, call.callback)
    assert answers(db, callback) == {
        "attitude": ("1", "S"), "efficiency": ("2", "B"), "by_the_rules": ("3", "U"),
        "in_hall": ("1", "Y"), "integrity": ("2", "Y"), "overall": ("1", "S"),
    }
    assert callback.state == callback.outcome == "complete"
    assert callback.suggestion == "窗口人员态度不好，让我跑了三趟" and callback.suggestion_confidence == 0.87
    assert callback.recording_url == "https://api.twilio.com/rec/RE1" and callback.recording_duration == 6
    assert callback.flags["integrity_alert"] is True
    assert count(db, AuditEvent, action="integrity_alert", entity_id=callback.id) == 1
    case = get_for_callback(db, callback.id)  # 篇2 五: bad answers and an integrity report open a case
    assert case is not None and case.integrity and {"efficiency", "by_the_rules", "integrity"} <= set(case.reasons)


def test_all_good_answers_open_no_rectification(call: Caller, db: Session) -> None:
    twiml = run_items(call, call.press(call.answer(), "1"), "111111")
    call.turn(twiml.next_url)
    callback = fresh(db, call.callback)
    assert callback.outcome == "complete" and get_for_callback(db, callback.id) is None
    assert "integrity_alert" not in callback.flags


def test_transcript_keeps_prompts_keys_meanings_speech_and_recording_in_order(call: Caller, db: Session) -> None:
    twiml = run_items(call, call.press(call.answer(), "1"), "111111")
    twiml = call.turn(twiml.next_url, SpeechResult="很好", Confidence="0.9")
    call.turn(twiml.next_url, RecordingUrl="https://api.twilio.com/rec/RE2", RecordingDuration="3")
    events = db.scalars(select(TranscriptEvent).where(TranscriptEvent.callback_id == call.callback.id)
                        .order_by(TranscriptEvent.id)).all()
    kinds = [e.kind for e in events]
    assert kinds[:3] == ["status", "prompt", "key"] and kinds.count("key") == 7
    first_item_key = [e for e in events if e.kind == "key"][1]
    assert first_item_key.data == {"key": "1", "meaning": "满意", "item": "attitude"}
    speech = next(e for e in events if e.kind == "speech")
    assert speech.text == "很好" and speech.data["confidence"] == 0.9
    assert next(e for e in events if e.kind == "recording").data["url"] == "https://api.twilio.com/rec/RE2"
    assert events[-1].kind == "prompt" and "感谢" in events[-1].text
    assert any(e.kind == "status" and "完成" in e.text for e in events)


def test_star_repeats_the_same_item_without_using_a_try(call: Caller, db: Session) -> None:
    item1 = call.press(call.answer(), "1")
    again = call.press(item1, "*")
    assert again.gather.get("action").split("?")[0] == item1.gather.get("action").split("?")[0]
    assert query(again.next_url)["n"] == "0" and query(again.next_url)["r"] == "1"
    assert again.says == item1.says
    assert "/item/efficiency" in call.press(again, "2").next_url
    assert answers(db, call.callback) == {"attitude": ("2", "B")}


def test_invalid_key_reprompts_then_valid_key_is_kept(call: Caller, db: Session) -> None:
    item1 = call.press(call.answer(), "1")
    retry = call.press(item1, "7")
    assert "按键无效" in retry.says[0] and "服务态度" in retry.says[1] and query(retry.next_url)["n"] == "1"
    nxt = call.press(retry, "3")
    assert "/item/efficiency" in nxt.next_url
    assert answers(db, call.callback) == {"attitude": ("3", "U")}


def test_silence_twice_reprompts_then_moves_on_leaving_item_unanswered(call: Caller, db: Session) -> None:
    twiml = call.press(call.answer(), "1")
    twiml = call.press(twiml, "")
    twiml = call.press(twiml, "")
    assert "没有收到您的按键" in twiml.spoken and query(twiml.next_url)["n"] == "2"
    twiml = call.press(twiml, "")
    assert not twiml.hangs_up and "/item/efficiency" in twiml.next_url and "跳过" in twiml.says[0]
    assert answers(db, call.callback) == {}
    twiml = run_items(call, twiml, "11111")
    twiml = call.turn(twiml.next_url)  # says nothing for the suggestion
    assert twiml.hangs_up
    assert fresh(db, call.callback).outcome == "partial"  # five of six items


def test_hang_up_after_item_3_keeps_items_1_to_3_as_partial(call: Caller, db: Session) -> None:
    run_items(call, call.press(call.answer(), "1"), "112")
    assert call.status("completed", seq=3, CallDuration="48").status_code == 204
    callback = fresh(db, call.callback)
    assert callback.state == callback.outcome == "partial"
    assert set(answers(db, callback)) == {"attitude", "efficiency", "by_the_rules"}


def test_hang_up_before_any_item_after_consent_is_a_break_off(call: Caller, db: Session) -> None:
    call.press(call.answer(), "1")
    call.status("completed", seq=3)
    assert fresh(db, call.callback).outcome == "break_off"


def test_answer_arriving_after_the_hang_up_status_is_still_kept(call: Caller, db: Session) -> None:
    twiml = run_items(call, call.press(call.answer(), "1"), "11")
    call.status("completed", seq=3)
    assert fresh(db, call.callback).outcome == "partial"
    call.press(twiml, "2")  # Twilio's action request overtaken by its own status callback
    callback = fresh(db, call.callback)
    assert answers(db, callback)["by_the_rules"] == ("2", "B") and callback.outcome == "partial"


def test_a_late_last_answer_completes_the_survey(call: Caller, db: Session) -> None:
    twiml = run_items(call, call.press(call.answer(), "1"), "11111")
    call.status("completed", seq=3)
    assert fresh(db, call.callback).outcome == "partial"
    call.press(twiml, "1")
    assert fresh(db, call.callback).outcome == "complete" and len(answers(db, call.callback)) == 6


def test_answering_machine_is_hung_up_on(call: Caller, db: Session) -> None:
    twiml = call.answer(AnsweredBy="machine_end_beep")
    assert twiml.hangs_up and twiml.gather is None
    call.status("completed", seq=3, AnsweredBy="machine_end_beep")
    callback = fresh(db, call.callback)
    assert callback.state == "drawn" and callback.flags["last_disposition"] == "machine"


# --- security and idempotency -----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["forged", "missing", "other-token", "tampered-url"])
def test_bad_signature_is_403_and_stores_nothing(app, db: Session, how: str) -> None:  # noqa: ANN001
    callback, attempt = make_callback(db)
    call = Caller(app.test_client(), callback, attempt, auth="wrong-token" if how == "other-token" else "test-auth-token")
    before = (receipts(db), count(db, TranscriptEvent))
    if how == "forged":
        response = call.post(call.answer_url(), sign=False, headers={"X-Twilio-Signature": "Zm9yZ2Vk"})
    elif how == "missing":
        response = call.post(call.answer_url(), sign=False)
    elif how == "tampered-url":
        from ivr.signing import sign_request

        signature = sign_request(call.answer_url(), {"CallSid": call.sid}, "test-auth-token")
        response = call.client.post(f"/ivr/{callback.token}/consent?a={attempt.id}", data={"CallSid": call.sid},
                                    headers={"X-Twilio-Signature": signature})
    else:
        response = call.post(call.answer_url())
    assert response.status_code == 403
    status = call.post(call.status_url(), sign=False, CallStatus="completed")
    assert status.status_code == 403
    db.expire_all()
    assert (receipts(db), count(db, TranscriptEvent)) == before
    assert fresh(db, callback).state == "calling"


def test_public_base_url_is_what_the_signature_covers(app, db: Session) -> None:  # noqa: ANN001
    """Behind a TLS proxy the app sees http://localhost/...; Twilio signed https://hall.example.cn/... ."""
    from ivr.signing import sign_request

    callback, attempt = make_callback(db)
    call = Caller(app.test_client(), callback, attempt)
    path = f"/ivr/{callback.token}/answer?a={attempt.id}"
    form = {"CallSid": call.sid, "AnsweredBy": "human"}

    def post(signed_url: str) -> int:
        signature = sign_request(signed_url, form, "test-auth-token")
        return call.client.post(path, data=form, headers={"X-Twilio-Signature": signature},
                                base_url="http://localhost").status_code

    assert post(f"{BASE}{path}") == 200  # the public URL, as Twilio signs it
    # The URL as received is never accepted: its host is the request's own Host header
    # (docs/architecture.md §Privacy and security).
    assert post(f"http://localhost{path}") == 403
    assert post(f"{BASE}/ivr/{callback.token}/answer?a={attempt.id + 1}") == 403
    assert post(f"https://evil.example.com{path}") == 403


def test_repeated_delivery_gets_the_same_twiml_and_changes_nothing(call: Caller, db: Session) -> None:
    item1 = call.press(call.answer(), "1")
    first = call.press(item1, "2")
    events = count(db, TranscriptEvent)
    again = call.press(item1, "2")
    assert again.xml == first.xml
    db.expire_all()
    assert count(db, TranscriptEvent) == events and answers(db, call.callback) == {"attitude": ("2", "B")}


def test_a_repeated_last_silence_after_a_refusal_changes_nothing(app, call: Caller, db: Session) -> None:  # noqa: ANN001
    twiml = call.answer()
    for _ in range(2):
        twiml = call.press(twiml, "")
    last = twiml
    call.press(last, "")  # the third silence: refused
    ended = fresh(db, call.callback)
    before = (ended.state, ended.outcome, ended.finished_at, count(db, TranscriptEvent), count(db, AuditEvent))

    app.config["CLOCK"] = lambda: NOW + timedelta(seconds=30)
    again = call.press(last, "")  # Twilio delivers the same request again (the chaos run's flood does)

    assert again.hangs_up
    later = fresh(db, call.callback)
    assert (later.state, later.outcome, later.finished_at, count(db, TranscriptEvent), count(db, AuditEvent)) == before


def test_unknown_token_hangs_up_and_stores_nothing(app, db: Session) -> None:  # noqa: ANN001
    callback, attempt = make_callback(db)
    call = Caller(app.test_client(), callback, attempt)
    response = call.post(f"{BASE}/ivr/not-a-token/answer?a=1", AnsweredBy="human")
    assert response.status_code == 200 and Twiml(response.get_data(as_text=True)).hangs_up
    assert transcript_kinds(db, callback.id) == []


def test_every_twiml_response_passes_the_twiml_check(call: Caller) -> None:
    twiml = call.press(call.answer(), "*")
    twiml = call.press(call.press(twiml, ""), "1")
    twiml = run_items(call, call.press(twiml, "8"), "1211*1")
    twiml = call.turn(twiml.next_url, SpeechResult="没有意见", Confidence="0.5")
    call.turn(twiml.next_url)
    assert len(call.responses) >= 12
    for response in call.responses:
        assert check_twiml(response.xml) == [], response.xml


def test_webhook_urls_carry_no_personal_data(call: Caller, db: Session) -> None:
    twiml = run_items(call, call.press(call.answer(), "1"), "111")
    contact = db.get(Contact, call.callback.contact_id)
    for response in call.responses:
        for node in response.root.iter():
            for url in [node.get("action") or "", node.text or ""] if node.tag in ("Gather", "Redirect") else []:
                assert contact.phone not in url and contact.phone[3:] not in url and "BJ" not in url
    assert twiml.gather is not None


# --- the prompt catalog -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh-CN", "zh-TW", "en"])
def test_builtin_catalogs_are_complete(language: str) -> None:
    assert check_catalog(load_catalog(language)) == []


def test_catalog_edit_without_code_audio_and_language(tmp_path: Path, monkeypatch, app, db: Session) -> None:  # noqa: ANN001
    (tmp_path / "zh-CN.json").write_text(json.dumps({
        "intro": {"text": "您好，{centre}回访。", "audio": "https://cdn.example.cn/intro.mp3"},
        "item.attitude": "服务态度满意吗？按1满意。",
    }, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("PROMPTS_DIR", str(tmp_path))
    callback, attempt = make_callback(db)
    call = Caller(app.test_client(), callback, attempt)
    twiml = call.answer()
    assert twiml.gather.find("./Play").text == "https://cdn.example.cn/intro.mp3" and twiml.says == []
    assert call.press(twiml, "1").says == ["服务态度满意吗？按1满意。"]
    intro = db.scalars(select(TranscriptEvent).where(TranscriptEvent.kind == "prompt")).first()
    assert intro.text == "您好，示范政务服务中心回访。"  # the transcript keeps the words even when audio is played
    monkeypatch.setenv("PROMPTS_LANGUAGE", "en")
    monkeypatch.delenv("PROMPTS_DIR")
    english = Caller(app.test_client(), *make_callback(db)).answer()
    say = english.gather.find("./Say")
    assert say.text.startswith("Hello, this is") and say.get("language") == "en-US"


def test_times_are_the_injected_clock(call: Caller, db: Session) -> None:
    call.answer()
    event = db.scalars(select(TranscriptEvent).where(TranscriptEvent.callback_id == call.callback.id)).first()
    assert event.at == NOW
