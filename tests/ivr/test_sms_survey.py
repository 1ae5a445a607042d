"""The SMS survey services: the text, sending inside SMS hours and never over a live call, the outbox row before the
send, idempotency, provider errors, the reminder and the expiry (docs/architecture.md §Callback states)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.db import session_factory
from callback.models import (
    Answer,
    Attempt,
    Callback,
    Contact,
    Message,
    Rectification,
    TranscriptEvent,
    utcnow,
)
from callback.telephony import MockProvider, ProviderError
from ivr.prompts import load_catalog
from ivr.simulator.sms import segments as simulator_segments
from ivr.sms_survey import (
    MAX_SEGMENTS,
    MAX_SEND_ERRORS,
    advance_sms,
    due_sms_ids,
    expire_sms_surveys,
    more_text,
    receive_sms,
    remind_sms_survey,
    run_sms_due,
    segments,
    send_sms_survey,
    sms_phase,
    survey_text,
)
from survey.questionnaire import ITEMS
from tests.factories import make_case, make_hall
from tests.ivr.ivr_support import NOW, count, reload
from tests.ivr.sms_support import answers, phone_of, sms_callback

SHANGHAI = ZoneInfo("Asia/Shanghai")
CATALOG = load_catalog("zh-CN")


def local(at: datetime) -> datetime:
    return at.astimezone(SHANGHAI)


def messages(db: Session, callback: Callback, purpose: str = "survey") -> list[Message]:
    db.expire_all()
    query = select(Message).where(Message.callback_id == callback.id, Message.purpose == purpose,
                                  Message.direction == "out").order_by(Message.id)
    return list(db.scalars(query))


# --- the text ------------------------------------------------------------------------------------------------


def test_the_survey_text_says_who_asks_which_item_how_to_answer_and_how_to_opt_out() -> None:
    body = survey_text(CATALOG, "示范政务服务中心", "个体工商户设立登记")
    assert body.startswith("【示范政务服务中心】") and "个体工商户设立登记" in body
    assert "112111" in body and "回复TD退订" in body and segments(body) <= MAX_SEGMENTS


def test_a_long_item_name_is_shortened_and_a_huge_one_left_out() -> None:
    item = "建设工程规划许可证核发（建筑类，含装修改造及附属设施）"
    body = survey_text(CATALOG, "某某县政务服务中心", item)
    assert segments(body) <= MAX_SEGMENTS and "…" in body and item[:6] in body
    body = survey_text(CATALOG, "某某自治州某某县行政审批服务局政务服务中心", item * 3)
    assert segments(body) <= MAX_SEGMENTS and "“建设工程规划许可…”" in body  # cut, not dropped
    centre = "某" * 30  # no room left for even four characters of the item
    body = survey_text(CATALOG, centre, item)
    assert segments(body) <= MAX_SEGMENTS and item[:4] not in body and "112111" in body and centre in body


@hsettings(max_examples=200, deadline=None)
@given(centre=st.text(min_size=1, max_size=16), item=st.text(max_size=80))
def test_survey_and_reminder_texts_always_fit_two_segments(centre: str, item: str) -> None:
    for key in ("sms.survey", "sms.reminder"):
        body = survey_text(CATALOG, centre, item, key=key)
        assert segments(body) <= MAX_SEGMENTS and "TD" in body and centre in body


@pytest.mark.parametrize("language", ["zh-CN", "zh-TW", "en"])
def test_every_reply_text_fits_two_segments(language: str) -> None:
    catalog = load_catalog(language)
    centre = "Demo County Service Centre" if language == "en" else "某某县政务服务中心"
    for size in range(1, len(ITEMS)):
        for after_word in (False, True):
            assert segments(more_text(catalog, centre, ITEMS[-size:], after_word)) <= MAX_SEGMENTS
    keys = [k for k in catalog.entries if k.startswith("sms.") and not k.startswith(("sms.item.", "sms.sep"))]
    for key in keys:
        item = "business licence" if language == "en" else "个体工商户设立登记"
        assert segments(catalog.prompt(key, centre=centre, item=item).text) <= MAX_SEGMENTS, key


@given(st.text(max_size=300))
def test_segments_are_counted_as_the_simulator_and_carriers_count_them(body: str) -> None:
    assert segments(body) == simulator_segments(body)


# --- sending -------------------------------------------------------------------------------------------------


def test_sending_writes_the_outbox_row_first_then_schedules_the_conversation(
    db: Session, settings: Settings, database_url: str
) -> None:
    callback = sms_callback(db)
    seen: list[tuple[str, str]] = []

    def outbox_row_is_committed(request) -> None:  # noqa: ANN001
        with session_factory(database_url)() as other:  # another connection sees the committed row
            row = other.get(Message, int(request.status_callback.rsplit("m=", 1)[1]))
            seen.append((row.status, row.body))

    outbox = MockProvider(outbox_row_is_committed)
    result = send_sms_survey(db, callback.id, outbox, settings, NOW)
    (request,) = outbox.texts()
    (message,) = messages(db, callback)
    assert result.result == "sent" and result.sid == message.provider_sid and result.message_id == message.id
    assert seen == [("pending", request.body)] and message.status == "queued"
    assert request.to == phone_of(db, callback) and request.from_ == settings.twilio_from
    assert request.status_callback == f"https://hall.example.cn/sms/status?m={message.id}"
    callback = reload(db, callback)
    flags = callback.flags
    assert datetime.fromisoformat(flags["sms_expires_at"]) == NOW + timedelta(hours=48)
    assert callback.next_action_at == datetime.fromisoformat(flags["sms_remind_at"]) == NOW + timedelta(hours=24)
    assert callback.state == "sms" and db.get(Contact, callback.contact_id).last_contacted_at == NOW
    assert count(db, TranscriptEvent, callback_id=callback.id, kind="sms_out") == 1


def test_sending_twice_texts_once(db: Session, settings: Settings) -> None:
    callback = sms_callback(db)
    outbox = MockProvider()
    results = [send_sms_survey(db, callback.id, outbox, settings, NOW + timedelta(minutes=i)).result for i in range(3)]
    assert results == ["sent", "skipped", "skipped"] and len(outbox.texts()) == 1


def test_only_a_callback_in_state_sms_is_texted(db: Session, settings: Settings) -> None:
    outbox = MockProvider()
    for state in ("drawn", "calling", "in_survey", "complete", "unreachable", "opted_out"):
        callback = sms_callback(db, state=state)
        assert send_sms_survey(db, callback.id, outbox, settings, NOW).result == "skipped"
    assert outbox.texts() == []


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2026, 11, 4, 12, 30, tzinfo=UTC), datetime(2026, 11, 5, 0, 0, tzinfo=UTC)),  # 20:30 → 08:00
        (datetime(2026, 11, 4, 23, 59, tzinfo=UTC), datetime(2026, 11, 5, 0, 0, tzinfo=UTC)),  # 07:59 → 08:00
        (datetime(2026, 10, 3, 4, 0, tzinfo=UTC), datetime(2026, 10, 3, 4, 0, tzinfo=UTC)),  # National Day, 12:00
    ],
)
def test_only_inside_sms_hours_on_any_day(db: Session, settings: Settings, at: datetime, expected: datetime) -> None:
    callback = sms_callback(db)
    outbox = MockProvider()
    result = send_sms_survey(db, callback.id, outbox, settings, at)
    if expected == at:
        assert result.result == "sent"
        return
    assert result.result == "deferred" and outbox.texts() == [] and messages(db, callback) == []
    assert reload(db, callback).next_action_at == expected
    assert send_sms_survey(db, callback.id, outbox, settings, expected - timedelta(seconds=1)).result == "skipped"
    assert send_sms_survey(db, callback.id, outbox, settings, expected).result == "sent"
    assert 8 <= local(messages(db, callback)[0].created_at).hour < 20


def test_never_while_a_call_to_the_number_is_live(db: Session, settings: Settings) -> None:
    callback = sms_callback(db)
    other_hall = make_hall(db, code="EAST", name="东区政务服务中心")
    calling = sms_callback(db, phone=phone_of(db, callback), hall=other_hall, state="calling")
    db.add(Attempt(hall_id=other_hall.id, callback_id=calling.id, number=1, status="in-progress",
                   provider_call_id="CA" + "1" * 32))
    db.commit()
    outbox = MockProvider()
    result = send_sms_survey(db, callback.id, outbox, settings, NOW)
    assert result.result == "deferred" and outbox.texts() == []
    assert reload(db, callback).next_action_at == NOW + timedelta(minutes=10)
    db.execute(Attempt.__table__.update().values(status="completed"))
    db.execute(Callback.__table__.update().where(Callback.id == calling.id).values(state="complete"))
    db.commit()
    assert send_sms_survey(db, callback.id, outbox, settings, NOW + timedelta(minutes=10)).result == "sent"


def test_a_number_opted_out_in_any_hall_is_never_texted(db: Session, settings: Settings) -> None:
    callback = sms_callback(db)
    other_hall = make_hall(db, code="EAST", name="东区政务服务中心")
    other = make_case(db, other_hall, phone=phone_of(db, callback))
    db.get(Contact, other.contact_id).opted_out_at = NOW - timedelta(days=100)
    db.commit()
    outbox = MockProvider()
    assert send_sms_survey(db, callback.id, outbox, settings, NOW).result == "opted_out"
    callback = reload(db, callback)
    assert outbox.texts() == [] and callback.state == callback.outcome == "opted_out" and callback.finished_at == NOW


def test_a_landline_in_state_sms_ends_unreachable(db: Session, settings: Settings) -> None:
    callback = sms_callback(db, kind="landline", phone="+867711234567")
    outbox = MockProvider()
    assert send_sms_survey(db, callback.id, outbox, settings, NOW).result == "unreachable"
    assert outbox.texts() == [] and reload(db, callback).state == "unreachable"


def test_transient_provider_errors_retry_later_then_give_up(db: Session, settings: Settings) -> None:
    callback = sms_callback(db)
    outbox = MockProvider().fail_next(*[ProviderError("carrier busy", code="20429")] * MAX_SEND_ERRORS)
    at = NOW
    for attempt in range(1, MAX_SEND_ERRORS + 1):
        assert send_sms_survey(db, callback.id, outbox, settings, at).result == "error"
        callback = reload(db, callback)
        if attempt < MAX_SEND_ERRORS:
            assert callback.state == "sms" and callback.next_action_at == at + timedelta(minutes=10 * 2 ** (attempt - 1))
            at = callback.next_action_at
    assert callback.state == "unreachable" and callback.flags["sms_end"] == "not_sent"
    assert [m.status for m in db.scalars(select(Message).order_by(Message.id))] == ["not_sent"] * MAX_SEND_ERRORS


def test_one_transient_error_then_the_text_goes_out(db: Session, settings: Settings) -> None:
    callback = sms_callback(db)
    outbox = MockProvider().fail_next(ProviderError("carrier busy", code="20429"))
    assert send_sms_survey(db, callback.id, outbox, settings, NOW).result == "error"
    retry = reload(db, callback).next_action_at
    assert send_sms_survey(db, callback.id, outbox, settings, retry).result == "sent"
    assert [m.status for m in messages(db, callback)] == ["not_sent", "queued"] and len(outbox.texts()) == 1


def test_a_permanent_provider_error_ends_unreachable_at_once(db: Session, settings: Settings) -> None:
    callback = sms_callback(db)
    outbox = MockProvider().fail_next(ProviderError("Invalid 'To' Phone Number", transient=False, code="21211"))
    assert send_sms_survey(db, callback.id, outbox, settings, NOW).result == "error"
    assert reload(db, callback).state == "unreachable"


# --- reminder and expiry -------------------------------------------------------------------------------------


def sent(db: Session, settings: Settings, at: datetime = NOW) -> tuple[Callback, MockProvider]:
    callback = sms_callback(db)
    outbox = MockProvider()
    assert send_sms_survey(db, callback.id, outbox, settings, at).result == "sent"
    return reload(db, callback), outbox


def test_one_reminder_at_half_time_when_nothing_came_back(db: Session, settings: Settings) -> None:
    callback, outbox = sent(db, settings)
    half = NOW + timedelta(hours=24)
    assert sms_phase(db, callback, half - timedelta(minutes=1)) == "wait"
    assert due_sms_ids(db, half - timedelta(minutes=1)) == [] and due_sms_ids(db, half) == [callback.id]
    assert remind_sms_survey(db, callback.id, outbox, settings, half).result == "sent"
    assert remind_sms_survey(db, callback.id, outbox, settings, half + timedelta(hours=1)).result == "skipped"
    (reminder,) = messages(db, callback, "reminder")
    assert "提醒" in reminder.body and "TD" in reminder.body and len(outbox.texts()) == 2
    assert reload(db, callback).next_action_at == NOW + timedelta(hours=48)


def test_the_reminder_waits_for_sms_hours(db: Session, settings: Settings) -> None:
    evening = datetime(2026, 11, 4, 11, 30, tzinfo=UTC)  # 19:30 Shanghai; half time is 19:30 the next day
    callback, outbox = sent(db, settings, evening)
    late = evening + timedelta(hours=24, minutes=45)  # 20:15, SMS hours over
    assert remind_sms_survey(db, callback.id, outbox, settings, late).result == "deferred"
    next_morning = datetime(2026, 11, 6, 0, 0, tzinfo=UTC)
    assert reload(db, callback).next_action_at == next_morning
    assert remind_sms_survey(db, callback.id, outbox, settings, next_morning).result == "sent"


def test_no_reminder_once_the_citizen_has_replied(db: Session, settings: Settings) -> None:
    callback, outbox = sent(db, settings)
    receive_sms(db, phone_of(db, callback), "+861080000000", "112", "SM" + "1" * 32, NOW + timedelta(hours=1))
    db.commit()
    assert remind_sms_survey(db, callback.id, outbox, settings, NOW + timedelta(hours=24)).result == "skipped"
    assert messages(db, callback, "reminder") == [] and len(outbox.texts()) == 1
    assert reload(db, callback).next_action_at == NOW + timedelta(hours=48)


def test_no_reply_by_expiry_ends_unreachable(db: Session, settings: Settings) -> None:
    callback, _ = sent(db, settings)
    assert expire_sms_surveys(db, NOW + timedelta(hours=47, minutes=59)) == []
    (done,) = expire_sms_surveys(db, NOW + timedelta(hours=48))
    db.commit()
    callback = reload(db, callback)
    assert done.result == "unreachable" and (callback.state, callback.outcome) == ("unreachable", "unreachable")
    assert callback.flags["sms_end"] == "no_reply" and callback.finished_at == NOW + timedelta(hours=48)


def test_a_partial_reply_is_kept_at_expiry_and_checked_for_rectification(db: Session, settings: Settings) -> None:
    callback, _ = sent(db, settings)
    receive_sms(db, phone_of(db, callback), "+861080000000", "13", "SM" + "2" * 32, NOW + timedelta(hours=2))
    db.commit()
    (done,) = expire_sms_surveys(db, NOW + timedelta(hours=48))
    db.commit()
    callback = reload(db, callback)
    assert done.result == "partial" and callback.state == callback.outcome == "partial"
    assert answers(db, callback) == {"attitude": "1", "efficiency": "3"}
    case = db.scalar(select(Rectification).where(Rectification.callback_id == callback.id))
    assert case is not None and case.reasons == ["efficiency"]


def test_expiry_leaves_other_states_alone(db: Session, settings: Settings) -> None:
    callback, _ = sent(db, settings)
    receive_sms(db, phone_of(db, callback), "+861080000000", "111111", "SM" + "3" * 32, NOW)
    db.commit()
    assert expire_sms_surveys(db, NOW + timedelta(days=5)) == []
    assert reload(db, callback).state == "complete"


def test_advance_sms_runs_the_whole_conversation_clock(db: Session, settings: Settings) -> None:
    callback = sms_callback(db, next_action_at=NOW)
    outbox = MockProvider()
    steps = []
    at = NOW
    for _ in range(4):
        steps += [r.result for r in run_sms_due(db, outbox, settings, at)]
        nxt = reload(db, callback).next_action_at
        if nxt is None:
            break
        at = nxt
    assert steps == ["sent", "sent", "unreachable"]
    assert [m.purpose for m in db.scalars(select(Message).order_by(Message.id))] == ["survey", "reminder"]
    assert advance_sms(db, callback.id, outbox, settings, at).result == "skipped"
    assert count(db, Answer) == 0


def test_a_sender_that_died_mid_send_is_timed_from_its_outbox_row_and_never_resends(
    db: Session, settings: Settings
) -> None:
    callback = sms_callback(db)

    def dies(request) -> None:  # noqa: ANN001
        raise RuntimeError("worker killed while the provider was on the line")

    with pytest.raises(RuntimeError):
        send_sms_survey(db, callback.id, MockProvider(dies), settings, NOW)
    db.rollback()
    callback = reload(db, callback)
    assert sms_phase(db, callback, NOW + timedelta(minutes=5)) == "wait"
    outbox = MockProvider()
    assert advance_sms(db, callback.id, outbox, settings, NOW + timedelta(minutes=11)).result == "repaired"
    callback = reload(db, callback)
    assert outbox.texts() == [] and [m.status for m in messages(db, callback)] == ["pending"]
    assert datetime.fromisoformat(callback.flags["sms_expires_at"]) == NOW + timedelta(hours=48)
    assert callback.next_action_at == NOW + timedelta(hours=24)


# --- worker tasks --------------------------------------------------------------------------------------------


@pytest.fixture
def eager(database_url: str, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    import worker.sms_tasks
    import worker.tasks
    from worker.celery_app import create_celery

    app = create_celery(Settings(database_url=database_url, sms_hours="00:00-24:00",
                                 public_base_url="https://hall.example.cn"))
    app.set_current()
    outbox = MockProvider()
    monkeypatch.setattr(worker.sms_tasks, "_provider", lambda settings: outbox)
    monkeypatch.setattr(worker.tasks, "_provider", lambda settings: outbox)
    return app, outbox


def test_the_send_task_texts_once(eager, db: Session) -> None:  # noqa: ANN001
    app, outbox = eager
    callback = sms_callback(db)
    task = app.tasks["worker.sms_tasks.send_sms_survey"]
    assert [task.delay(callback.id).get() for _ in range(2)] == ["sent", "skipped"]
    assert len(outbox.texts()) == 1 and reload(db, callback).claimed_at is None


def test_the_expiry_task_ends_expired_surveys(eager, db: Session, settings: Settings) -> None:  # noqa: ANN001
    app, _ = eager
    all_day = replace(settings, sms_hours="00:00-24:00")
    old, fresh = sms_callback(db), sms_callback(db)
    assert send_sms_survey(db, old.id, MockProvider(), all_day, utcnow() - timedelta(hours=49)).result == "sent"
    assert send_sms_survey(db, fresh.id, MockProvider(), all_day, utcnow()).result == "sent"
    assert app.tasks["worker.sms_tasks.expire_sms_surveys"].delay().get() == 1
    assert (reload(db, old).state, reload(db, fresh).state) == ("unreachable", "sms")


def test_the_beat_tick_sends_due_sms_surveys(eager, db: Session) -> None:  # noqa: ANN001
    app, outbox = eager
    callback = sms_callback(db, next_action_at=utcnow() - timedelta(minutes=1))
    assert app.tasks["worker.tasks.tick"].delay().get()["sms"] == 1
    assert len(outbox.texts()) == 1 and outbox.texts()[0].to == phone_of(db, callback)
    assert reload(db, callback).claimed_at is None
