"""A real Celery worker on the real Redis and PostgreSQL, SIGKILLed while it draws
(docs/architecture.md §Source of truth).

The weekly-draw task is sent (twice, as a duplicate delivery would) for several halls; the worker is killed with
SIGKILL as soon as the first draw has committed, so it dies in the middle of the next one; a new worker is
started. The message the dead worker had taken comes back after the visibility timeout (``acks_late``), the
rest were still queued. In the end every hall has exactly one draw for the week, its callbacks are exactly its
sample, no case is drawn twice, and every draw verifies.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import func, select, text

from callback.config import Settings
from callback.db import get_engine, session_factory
from callback.draws.services import verify_draw
from callback.models import Callback, Draw, Hall, utcnow
from survey.weeks import week_of
from tests.worker.celery_process import ROOT, kill_group, start_worker, truncate_all
from worker.celery_app import create_celery

pytestmark = pytest.mark.slow

HALLS = 6
CASES_PER_HALL = 20_000  # enough that one draw takes a noticeable moment, so the kill lands inside one
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """The PostgreSQL test database only (worker processes cannot see a SQLite test's data); emptied after,
    so the 120,000 generated cases do not slow down the next test's clean-up."""
    truncate_all(pg_database, end_other_sessions=True)
    yield pg_database
    truncate_all(pg_database, end_other_sessions=True)


def seed_halls(url: str) -> list[int]:
    """HALLS halls, each with CASES_PER_HALL cases accepted and stored in the hour before now."""
    params = {"halls": HALLS, "n": CASES_PER_HALL, "now": utcnow()}
    statements = [
        "INSERT INTO halls (code, name, timezone, created_at)"
        " SELECT 'KILL' || h, '中心' || h, 'Asia/Shanghai', :now FROM generate_series(1, :halls) h",
        "INSERT INTO windows (hall_id, name, created_at) SELECT id, '综合窗口', :now FROM halls",
        "INSERT INTO contacts (hall_id, phone, kind, created_at)"
        " SELECT h.id, '+86139' || lpad((h.id * 100000 + i)::text, 8, '0'), 'mobile', :now"
        " FROM halls h, generate_series(1, :n) i",
        "INSERT INTO cases (hall_id, case_no, window_id, contact_id, item_name, item_kind, phone_kind,"
        " accepted_at, row_hash, created_at, updated_at)"
        " SELECT c.hall_id, 'K' || c.id, w.id, c.id, '营业执照', '即办件', 'mobile',"
        " :now - interval '1 second' * (1 + c.id % 3000), md5(c.id::text),"
        " :now - interval '1 second' * (1 + c.id % 3000), :now"
        " FROM contacts c JOIN windows w ON w.hall_id = c.hall_id",
        "ANALYZE",
    ]
    with get_engine(url).begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)
        return list(conn.scalars(text("SELECT id FROM halls ORDER BY id")))


def wait_for(condition: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n--- worker log ---\n{tail}")
        time.sleep(0.05)


def drained(broker: redis.Redis, queue: str) -> bool:
    """Nothing of ours left queued or taken-but-unacknowledged (kombu keeps the latter in the "unacked" hash)."""
    if broker.llen(queue):
        return False
    return not any(json.loads(raw)[2] == queue for raw in broker.hvals("unacked"))


def draw_count(url: str) -> int:
    with session_factory(url)() as session:
        return session.scalar(select(func.count()).select_from(Draw))


def test_killed_worker_leaves_exactly_one_draw_per_hall(pg_url: str, redis_url: str, tmp_path: Path) -> None:
    hall_ids = seed_halls(pg_url)
    week = week_of(utcnow(), SH)
    env = {**os.environ, "DATABASE_URL": pg_url, "REDIS_URL": redis_url, "CELERY_VISIBILITY_TIMEOUT": "2",
           "CALL_HOURS": "00:00-24:00", "CALL_DAYS": "all", "PYTHONPATH": str(ROOT)}
    queue = f"kill-test-{uuid.uuid4().hex[:8]}"  # our own queue: other test runs may share this Redis
    producer = create_celery(Settings(database_url=pg_url, redis_url=redis_url))
    for _ in range(2):  # every task twice: a duplicate delivery must not draw twice
        for hall_id in hall_ids:
            producer.send_task("worker.tasks.weekly_draw", args=[hall_id, week], queue=queue)
    log = tmp_path / "worker.log"

    first = start_worker(env, log, "first", queue=queue)
    try:
        wait_for(lambda: draw_count(pg_url) >= 1, 40, "the first draw to commit", log)
    finally:
        kill_group(first)
    drawn_at_kill = draw_count(pg_url)
    assert drawn_at_kill < HALLS, "the worker finished everything before it could be killed"

    second = start_worker(env, log, "second", queue=queue)
    broker = redis.Redis.from_url(redis_url)
    try:
        wait_for(lambda: draw_count(pg_url) >= HALLS, 45, "every hall to be drawn", log)
        wait_for(lambda: drained(broker, queue), 60, "the queue to drain", log)
    finally:
        kill_group(second, signal.SIGTERM)

    with session_factory(pg_url)() as session:
        draws = session.scalars(select(Draw).order_by(Draw.hall_id)).all()
        assert [(d.hall_id, d.week, d.superseded_at) for d in draws] == [(h, week, None) for h in hall_ids]
        for d in draws:
            callbacks = session.scalars(select(Callback.case_id).where(Callback.draw_id == d.id)).all()
            assert sorted(callbacks) == sorted(d.sample_case_ids) and len(callbacks) == 20
            assert verify_draw(session, session.get(Hall, d.hall_id), week).ok
        case_ids = session.scalars(select(Callback.case_id)).all()
        assert len(case_ids) == len(set(case_ids)) == 20 * HALLS
    assert "+86" not in log.read_text(errors="replace")  # no phone number in the worker's log
