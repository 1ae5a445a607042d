"""The Celery app, the beat schedule and the tasks in eager mode (no REDIS_URL), on SQLite and PostgreSQL,
plus the Redis lock and SKIP LOCKED claiming against the real servers
(docs/architecture.md §Source of truth)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import worker.tasks  # noqa: F401  (registers the shared tasks)
from callback.config import Settings
from callback.db import session_factory
from callback.models import Callback, Case, Draw, Hall, utcnow
from survey.weeks import week_of
from tests.factories import make_case, make_hall
from worker.celery_app import SETTINGS_KEY, create_celery
from worker.dispatch import callback_lock, claim_due, reclaim_stale, weeks_to_draw

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def eager(database_url: str):
    app = create_celery(Settings(database_url=database_url, call_hours="00:00-24:00", call_days="all"))
    app.set_current()
    return app


def add_ledger(session: Session, code: str, n: int = 25) -> Hall:
    """A hall with ``n`` cases accepted and stored in the minutes before now (the real clock)."""
    hall = make_hall(session, code)
    now = utcnow()
    for i in range(n):
        case = make_case(session, hall, accepted_at=now - timedelta(minutes=n - i))
        case.created_at = case.accepted_at
    session.flush()
    return hall


def add_callback(session: Session, *, state: str = "drawn", due: datetime | None = None,
                 claimed: datetime | None = None, opted_out: bool = False) -> Callback:
    hall = make_hall(session)
    case = make_case(session, hall)
    if opted_out:
        case.contact.opted_out_at = utcnow() - timedelta(days=1)
    callback = Callback(hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=case.window_id,
                        week="2026-W48", state=state, next_action_at=due, claimed_at=claimed,
                        token=f"t{case.id}")
    session.add(callback)
    session.flush()
    return callback


def test_without_redis_tasks_run_inline_and_with_redis_they_go_to_the_broker() -> None:
    embedded = create_celery(Settings(redis_url=""))
    assert embedded.conf.task_always_eager
    production = create_celery(Settings(redis_url="redis://127.0.0.1:6379/15"))
    assert not production.conf.task_always_eager
    assert production.conf.broker_url == "redis://127.0.0.1:6379/15"
    assert production.conf[SETTINGS_KEY].redis_url == "redis://127.0.0.1:6379/15"


def test_beat_schedule_weekly_draw_monday_nine_shanghai_tick_and_reconciler() -> None:
    app = create_celery(Settings())
    schedule = app.conf.beat_schedule
    assert app.conf.timezone == "Asia/Shanghai"
    weekly = schedule["weekly-draw"]["schedule"]
    assert (weekly.hour, weekly.minute, weekly.day_of_week) == ({9}, {0}, {1})
    assert schedule["tick"]["schedule"] == 30.0 and schedule["reconcile"]["schedule"] == 300.0
    assert schedule["rectification-deadlines"]["schedule"] == 900.0
    app.loader.import_default_modules()  # what a worker does at start: the app's `include`
    assert {entry["task"] for entry in schedule.values()} <= set(app.tasks)


def test_weekly_draw_for_every_hall_once(eager, database_url: str) -> None:
    with session_factory(database_url)() as session:
        add_ledger(session, "EAST")
        add_ledger(session, "WEST", n=8)
        session.commit()

    for _ in range(2):  # beat firing twice (or a redelivery) draws nothing new
        assert eager.tasks["worker.tasks.weekly_draw_all"].delay().get() == 2

    with session_factory(database_url)() as session:
        draws = session.execute(select(Hall.code, Draw.week, Draw.candidates).join(Hall)).all()
        week = week_of(utcnow(), SH)
        assert sorted(draws) == [("EAST", week, 25), ("WEST", week, 8)]
        assert session.scalar(select(func.count()).select_from(Callback)) == 20 + 8


def test_claiming_takes_each_due_callback_once(session: Session) -> None:
    now = utcnow()
    due = add_callback(session, due=now - timedelta(minutes=1))
    never_set = add_callback(session, due=None)
    add_callback(session, due=now + timedelta(hours=1))  # not yet
    add_callback(session, due=now - timedelta(minutes=1), claimed=now - timedelta(minutes=1))  # already handed out
    add_callback(session, state="calling", due=now - timedelta(minutes=1))
    sms = add_callback(session, state="sms", due=now - timedelta(minutes=1))

    assert sorted(claim_due(session, "drawn", now)) == sorted([due.id, never_set.id])
    assert claim_due(session, "drawn", now) == []
    assert claim_due(session, "sms", now) == [sms.id]
    session.expire_all()
    assert session.get(Callback, due.id).claimed_at == now


def test_stale_claims_are_reclaimed_after_the_lease(session: Session) -> None:
    now = utcnow()
    lost = add_callback(session, due=now - timedelta(hours=1), claimed=now - timedelta(minutes=30))
    add_callback(session, due=now - timedelta(minutes=2), claimed=now - timedelta(minutes=2))  # still working
    assert reclaim_stale(session, "drawn", now) == [lost.id]
    assert reclaim_stale(session, "drawn", now) == []  # the claim was renewed


def test_tick_hands_due_callbacks_to_the_dialer(eager, database_url: str) -> None:
    """End to end without placing a call: the number opted out after the draw, so the dialer closes it."""
    with session_factory(database_url)() as session:
        callback_id = add_callback(session, due=utcnow() - timedelta(minutes=1), opted_out=True).id
        session.commit()

    assert eager.tasks["worker.tasks.tick"].delay().get() == {"drawn": 1, "sms": 0}

    with session_factory(database_url)() as session:
        callback = session.get(Callback, callback_id)
        assert (callback.state, callback.claimed_at) == ("opted_out", None)


def test_reconcile_re_enqueues_lost_work(eager, database_url: str) -> None:
    with session_factory(database_url)() as session:
        lost = add_callback(session, due=utcnow() - timedelta(hours=1), claimed=utcnow() - timedelta(hours=1),
                            opted_out=True).id
        session.commit()

    counts = eager.tasks["worker.tasks.reconcile"].delay().get()

    assert counts["drawn"] == 1
    with session_factory(database_url)() as session:
        assert session.get(Callback, lost).state == "opted_out"


def test_missing_weekly_draw_is_found_only_after_draw_time(session: Session) -> None:
    hall = make_hall(session, "LATE")
    make_case(session, hall)
    make_hall(session, "EMPTY")  # no ledger yet: nothing to draw
    settings = Settings()
    monday_0859 = datetime(2026, 11, 23, 8, 59, tzinfo=SH)
    assert weeks_to_draw(session, settings, monday_0859) == []
    assert weeks_to_draw(session, settings, monday_0859 + timedelta(minutes=2)) == [(hall.id, "2026-W48")]
    session.add(Draw(hall_id=hall.id, week="2026-W48", drawn_at=monday_0859, seed="1", fingerprint="0", size=20,
                     candidates=0, excluded={}, params={}, sample_case_ids=[]))
    session.flush()
    assert weeks_to_draw(session, settings, datetime(2026, 11, 25, 10, tzinfo=SH)) == []


def test_redis_lock_lets_one_worker_act_on_a_callback(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url)
    with callback_lock(settings, 7) as first:
        with callback_lock(settings, 7) as second, callback_lock(settings, 8) as other:
            assert (first, second, other) == (True, False, True)
    with callback_lock(settings, 7) as again:
        assert again


def test_embedded_mode_lock_is_always_granted() -> None:
    with callback_lock(Settings(redis_url=""), 7) as held:
        assert held


def test_concurrent_ticks_split_the_work_with_skip_locked(pg_url: str) -> None:
    now = datetime.now(UTC)
    with session_factory(pg_url)() as session:
        ids = [add_callback(session, due=now - timedelta(minutes=i + 1)).id for i in range(6)]
        session.commit()
    first, second = session_factory(pg_url)(), session_factory(pg_url)()
    try:
        a = claim_due(first, "drawn", now, limit=4)  # holds its rows locked until commit
        b = claim_due(second, "drawn", now)  # does not wait for them, takes the rest
        assert len(a) == 4 and sorted(a + b) == sorted(ids) and not set(a) & set(b)
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    with session_factory(pg_url)() as session:
        assert session.scalar(select(func.count()).where(Callback.claimed_at.is_(None))) == 0
        assert session.scalar(select(func.count()).select_from(Case)) == 6



def test_the_daily_purge_task_pseudonymises_what_is_past_retention(eager, database_url: str) -> None:
    with session_factory(database_url)() as session:
        hall = make_hall(session, "OLD")
        old = make_case(session, hall, accepted_at=utcnow() - timedelta(days=400))
        old.contact.created_at = old.accepted_at
        recent = make_case(session, hall, accepted_at=utcnow() - timedelta(days=3))
        session.commit()

    counts = eager.tasks["worker.tasks.purge"].delay().get()

    assert (counts["cases"], counts["contacts"], counts["recordings"]) == (1, 1, 0)
    with session_factory(database_url)() as session:
        assert session.get(Case, old.id).applicant.startswith("hmac")
        assert session.get(Case, recent.id).applicant == "张三"
    assert eager.conf.beat_schedule["retention-purge"]["task"] == "worker.tasks.purge"
