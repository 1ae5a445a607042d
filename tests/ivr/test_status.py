"""Call-status webhooks: retries inside calling hours, hand-off, de-duplication and ordering
(docs/architecture.md §Callback states)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.db import session_factory
from callback.models import Attempt, TranscriptEvent, WebhookReceipt
from ivr.status import StatusUpdate, record_status
from tests.ivr.ivr_support import NOW, Caller, count, make_app, make_callback, reload

SHANGHAI = ZoneInfo("Asia/Shanghai")


def caller(app, db: Session, **kw) -> Caller:  # noqa: ANN001
    callback, attempt = make_callback(db, **kw)
    return Caller(app.test_client(), callback, attempt)


def local(moment: datetime) -> datetime:
    return moment.astimezone(SHANGHAI).replace(tzinfo=None)


def test_no_answer_retries_at_least_retry_minutes_later_inside_calling_hours(app, db: Session) -> None:  # noqa: ANN001
    call = caller(app, db)
    for seq, status in enumerate(["initiated", "ringing", "no-answer"]):
        assert call.status(status, seq=seq).status_code == 204
    callback = reload(db, call.callback)
    # 10:00 + 120 min = 12:00, inside the lunch break: the next window opens at 14:00
    # (docs/architecture.md §Calling hours).
    assert callback.state == "drawn" and local(callback.next_action_at) == datetime(2026, 11, 4, 14, 0)
    assert callback.next_action_at - NOW >= timedelta(minutes=120)
    assert callback.attempts_used == 1 and callback.flags["last_disposition"] == "no_answer"
    attempt = db.get(Attempt, call.attempt.id)
    assert attempt.status == "no-answer" and attempt.disposition == "no_answer" and attempt.ended_at == NOW


def test_busy_late_in_the_afternoon_retries_next_working_morning(database_url: str, db: Session) -> None:
    app = make_app(database_url)
    app.config["CLOCK"] = lambda: datetime(2026, 11, 6, 16, 50, tzinfo=SHANGHAI)  # a Friday
    call = caller(app, db)
    call.status("busy", seq=2)
    assert local(reload(db, call.callback).next_action_at) == datetime(2026, 11, 9, 9, 0)  # Monday


@pytest.mark.parametrize(("status", "extra", "disposition"), [
    ("failed", {"ErrorCode": "31005"}, "failed"),
    ("completed", {"AnsweredBy": "machine_start"}, "machine"),
    ("canceled", {}, "failed"),
])
def test_failed_and_machine_are_retried(app, db: Session, status: str, extra: dict, disposition: str) -> None:  # noqa: ANN001
    call = caller(app, db)
    call.status(status, seq=3, **extra)
    callback = reload(db, call.callback)
    assert callback.state == "drawn" and callback.flags["last_disposition"] == disposition


@pytest.mark.parametrize(("kind", "state", "channel"), [("mobile", "sms", "sms"), ("landline", "unreachable", "voice")])
def test_attempts_used_up_hand_off_to_sms_or_unreachable(app, db: Session, kind: str, state: str, channel: str) -> None:  # noqa: ANN001
    phone = "+8613900000001" if kind == "mobile" else "+865368888888"
    call = caller(app, db, kind=kind, phone=phone, attempts_used=3)
    call.status("no-answer", seq=2)
    callback = reload(db, call.callback)
    assert (callback.state, callback.channel, callback.outcome) == (state, channel, "no_answer")
    texts = [e.text for e in db.query(TranscriptEvent).filter_by(callback_id=callback.id).order_by(TranscriptEvent.id)]
    assert "次数已用完" in texts[-1]


def test_same_status_twice_changes_nothing(app, db: Session) -> None:  # noqa: ANN001
    call = caller(app, db)
    call.status("no-answer", seq=2)
    first = reload(db, call.callback)
    snapshot = (first.state, first.next_action_at, first.attempts_used, first.flags)
    events, receipts = count(db, TranscriptEvent), count(db, WebhookReceipt)
    app.config["CLOCK"] = lambda: NOW + timedelta(hours=1)  # a later retry of the same webhook
    assert call.status("no-answer", seq=2).status_code == 204
    again = reload(db, call.callback)
    assert (again.state, again.next_action_at, again.attempts_used, again.flags) == snapshot
    assert (count(db, TranscriptEvent), count(db, WebhookReceipt)) == (events, receipts)


def test_idempotency_token_dedupes_a_retried_webhook_without_sequence(app, db: Session) -> None:  # noqa: ANN001
    call = caller(app, db, attempts_used=2)
    headers = {"I-Twilio-Idempotency-Token": "a1b2c3"}
    call.status("busy", headers=headers)
    events = count(db, TranscriptEvent)
    call.status("busy", headers=headers)
    callback = reload(db, call.callback)
    assert count(db, TranscriptEvent) == events and callback.attempts_used == 2 and callback.state == "drawn"


def test_out_of_order_statuses_never_move_backwards(app, db: Session) -> None:  # noqa: ANN001
    call = caller(app, db)
    call.status("in-progress", seq=2)
    call.status("ringing", seq=1)  # arrives late
    db.expire_all()
    assert db.get(Attempt, call.attempt.id).status == "in-progress"
    call.status("no-answer", seq=3)
    call.status("in-progress", seq=2)  # a duplicate of an older one, after the end
    call.status("initiated", seq=0)
    db.expire_all()
    attempt = db.get(Attempt, call.attempt.id)
    assert attempt.status == "no-answer" and attempt.last_sequence == 3
    assert reload(db, call.callback).state == "drawn"


def test_without_sequence_an_earlier_status_is_still_ignored(app, db: Session) -> None:  # noqa: ANN001
    call = caller(app, db)
    call.status("ringing")
    call.status("queued")
    db.expire_all()
    assert db.get(Attempt, call.attempt.id).status == "ringing"


def test_a_late_status_of_an_old_attempt_leaves_the_new_call_alone(app, db: Session) -> None:  # noqa: ANN001
    call = caller(app, db)
    newer = Attempt(hall_id=call.callback.hall_id, callback_id=call.callback.id, number=2, status="ringing",
                    provider_call_id="CAnewer")
    db.add(newer)
    db.commit()
    call.status("no-answer", seq=2)  # the first attempt's final status, very late
    callback = reload(db, call.callback)
    assert callback.state == "calling" and db.get(Attempt, newer.id).status == "ringing"


def test_unknown_call_is_ignored_and_stores_nothing(app, db: Session) -> None:  # noqa: ANN001
    call = caller(app, db)
    call.sid = "CAunknown"
    response = call.post(f"https://hall.example.cn/ivr/{call.callback.token}/status", CallStatus="completed")
    assert response.status_code == 204 and count(db, WebhookReceipt) == 0


def test_concurrent_duplicate_deliveries_apply_exactly_once(database_url: str, db: Session) -> None:
    callback, attempt = make_callback(db)
    update = StatusUpdate(token=callback.token, call_sid=attempt.provider_call_id, call_status="no-answer",
                          attempt_id=attempt.id, sequence=2)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        with session_factory(database_url)() as s:
            barrier.wait()
            results.append(record_status(s, update, Settings(database_url=database_url), NOW))
            s.commit()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["closed", "duplicate", "duplicate", "duplicate"]
    assert count(db, WebhookReceipt) == 1
    assert reload(db, callback).attempts_used == 1
    retries = [e for e in db.query(TranscriptEvent).filter_by(callback_id=callback.id) if "再次呼叫" in e.text]
    assert len(retries) == 1


def test_settings_decide_attempts_and_spacing(database_url: str, db: Session) -> None:
    callback, attempt = make_callback(db, attempts_used=3)
    settings = Settings(database_url=database_url, call_attempts=5, call_retry_minutes=30)
    update = StatusUpdate(token=callback.token, call_sid=attempt.provider_call_id, call_status="busy",
                          attempt_id=attempt.id, sequence=2)
    at = datetime(2026, 11, 4, 9, 10, tzinfo=SHANGHAI)
    assert record_status(db, update, settings, at.astimezone(UTC)) == "closed"
    db.commit()
    assert local(reload(db, callback).next_action_at) == datetime(2026, 11, 4, 9, 40)
