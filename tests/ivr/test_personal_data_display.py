"""Personal data a citizen says or texts is masked wherever it is shown
(docs/architecture.md §Privacy and security), and transcripts are shown in local time with Chinese labels:
`callback callbacks` (table and JSON), the transcript, the rectification excerpt, the XLSX report, inbound SMS
rows. The raw words stay on ``callbacks.suggestion``."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.cli import main
from callback.config import Settings
from callback.models import Answer, Callback, Hall, Message, TranscriptEvent
from callback.rectification.services import open_for_callback
from callback.responses.transcript import add_event, as_dicts, render_text
from callback.results.report import weekly_report, write_xlsx
from callback.telephony import MockProvider
from ivr.sms_survey import send_sms_survey
from tests.factories import make_case, make_hall
from tests.ivr.ivr_support import NOW
from tests.ivr.sms_support import Citizen, phone_of, sms_callback

SAID = "我的电话是13912345678，身份证110101199003071234"
RAW_PARTS = ("13912345678", "110101199003071234", "1234 5678", "张三")
MASKED_PARTS = ("139****5678", "110101********1234")
WEEK = "2026-W48"
SPOKEN_AT = datetime(2026, 11, 24, 1, 1, tzinfo=UTC)  # 09:01 in Asia/Shanghai
ALL_BAD = {"attitude": "U", "efficiency": "U", "by_the_rules": "U", "in_hall": "Y", "integrity": "N", "overall": "U"}


def assert_masked(text: str) -> None:
    for raw in RAW_PARTS:
        assert raw not in text, (raw, text)


def said_a_number(db: Session) -> Callback:
    """A finished voice callback whose citizen gave a phone and an ID number in the suggestion, with the words in
    the transcript twice: written by the IVR (masked on the way in) and as an older row written raw."""
    hall = make_hall(db)
    case = make_case(db, hall)  # applicant 张三
    callback = Callback(hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=case.window_id,
                        week=WEEK, state="complete", outcome="complete", channel="voice", suggestion=SAID,
                        token=secrets.token_hex(16), flags={})
    db.add(callback)
    db.flush()
    for item, value in ALL_BAD.items():
        db.add(Answer(hall_id=hall.id, callback_id=callback.id, item=item, value=value, channel="voice"))
    add_event(db, hall_id=hall.id, callback_id=callback.id, kind="speech", text=SAID, at=SPOKEN_AT)
    db.add(TranscriptEvent(hall_id=hall.id, callback_id=callback.id, kind="sms_in", at=SPOKEN_AT,
                           text="张三补充：卡号 6222 0212 3456 7890，电话 139-1234-5678"))
    db.flush()
    open_for_callback(db, callback, SPOKEN_AT)
    db.commit()
    return callback


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TELEPHONY", "simulator")


def test_the_ivr_writes_the_transcript_masked_and_keeps_the_raw_suggestion(db: Session) -> None:
    callback = said_a_number(db)
    spoken = db.scalar(select(TranscriptEvent).where(TranscriptEvent.callback_id == callback.id,
                                                     TranscriptEvent.kind == "speech"))
    assert spoken.text == "我的电话是139****5678，身份证110101********1234"
    assert db.get(Callback, callback.id).suggestion == SAID  # where a supervisor must act on it


def test_transcript_is_masked_dated_and_labelled_in_chinese(db: Session) -> None:
    callback = said_a_number(db)
    text = render_text(db, callback.id)
    assert_masked(text)
    assert "2026-11-24 09:01:00  [语音] 我的电话是139****5678，身份证110101********1234" in text
    assert "2026-11-24 09:01:00  [短信(收)] 张*补充：卡号 6222********7890，电话 139****5678" in text
    events = as_dicts(db, callback.id)
    assert_masked(json.dumps(events, ensure_ascii=False))
    assert events[0]["kind"] == "speech" and events[0]["label"] == "语音"
    assert events[0]["at"] == "2026-11-24T01:01:00+00:00" and events[0]["local_at"] == "2026-11-24T09:01:00+08:00"


def test_transcript_times_follow_the_halls_zone(db: Session) -> None:
    callback = said_a_number(db)
    db.get(Hall, callback.hall_id).timezone = "Asia/Urumqi"  # UTC+6
    db.flush()
    assert as_dicts(db, callback.id)[0]["local_at"] == "2026-11-24T07:01:00+06:00"
    assert render_text(db, callback.id).startswith("2026-11-24 07:01:00  [语音]")


def test_rectification_excerpt_is_masked(db: Session) -> None:
    from callback.rectification.services import get_for_callback

    callback = said_a_number(db)
    case = get_for_callback(db, callback.id)
    assert case is not None
    assert_masked(json.dumps(case.excerpt, ensure_ascii=False))
    assert all(part in case.excerpt["suggestion"] for part in MASKED_PARTS)


def test_callbacks_json_is_masked_with_local_times(db: Session, cli_env: None) -> None:
    said_a_number(db)
    result = CliRunner().invoke(main, ["callbacks", "--week", WEEK, "--hall", "DEMO", "--json"])
    assert result.exit_code == 0, result.output
    assert_masked(result.output)
    row = json.loads(result.output)["callbacks"][0]
    assert row["suggestion"] == "我的电话是139****5678，身份证110101********1234"
    assert [(e["kind"], e["label"], e["local_at"]) for e in row["transcript"]] == [
        ("speech", "语音", "2026-11-24T09:01:00+08:00"), ("sms_in", "短信(收)", "2026-11-24T09:01:00+08:00")]


def test_callbacks_table_is_masked_with_local_dates_and_chinese_labels(db: Session, cli_env: None) -> None:
    said_a_number(db)
    result = CliRunner().invoke(main, ["callbacks", "--week", WEEK, "--hall", "DEMO"])
    assert result.exit_code == 0, result.output
    assert_masked(result.output)
    assert "2026-11-24 09:01:00  [语音] 我的电话是139****5678，身份证110101********1234" in result.output
    assert "[短信(收)]" in result.output
    assert "[speech]" not in result.output and "[sms_in]" not in result.output


def test_the_xlsx_report_carries_the_masked_words(db: Session, tmp_path: Path) -> None:
    callback = said_a_number(db)
    hall = db.get(Hall, callback.hall_id)
    book = load_workbook(write_xlsx(weekly_report(db, hall, WEEK, SPOKEN_AT), tmp_path / "week.xlsx"))
    cells = [str(c) for sheet in book for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert_masked("\n".join(cells))
    assert "我的电话是139****5678，身份证110101********1234" in cells


def test_a_texted_number_is_masked_in_the_stored_sms_and_the_transcript(app: Flask, db: Session) -> None:
    settings: Settings = app.config["SETTINGS"]
    callback = sms_callback(db)
    assert send_sms_survey(db, callback.id, MockProvider(), settings, NOW).result == "sent"
    reply = Citizen(app.test_client(), phone_of(db, callback)).text("111111 " + SAID)
    assert reply.status == 200, reply.xml
    db.expire_all()
    inbound = db.scalars(select(Message).where(Message.callback_id == callback.id, Message.direction == "in")).all()
    assert inbound and all("139****5678" in m.body for m in inbound)
    assert_masked(" ".join(m.body for m in inbound))
    texts = db.scalars(select(TranscriptEvent.text).where(TranscriptEvent.callback_id == callback.id)).all()
    assert_masked(" ".join(texts))
    assert "13912345678" in db.get(Callback, callback.id).suggestion  # the raw words, for the supervisor
