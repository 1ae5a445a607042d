"""Which work is due, and who holds it — database side of the beat tick and the reconciler
(docs/architecture.md §Source of truth).

The database is the source of truth: a callback is due when its state waits for an action and its
``next_action_at`` has passed. The tick *claims* due rows (``claimed_at``) with ``SELECT … FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so concurrent ticks split the work instead of doubling it, and hands the ids to
tasks. A claim older than `CLAIM_LEASE` means its task was lost (a worker died, Redis was flushed): the
reconciler renews the claim and enqueues the id again. Every task re-checks state itself, so a duplicate
delivery changes nothing. Functions take the session and the clock and do not commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.models import Callback, Case, Draw, Hall
from callback.responses.states import WAITING, CallbackState
from survey.weeks import week_bounds, week_of

CLAIM_LEASE = timedelta(minutes=10)
CLAIM_BATCH = 500
LOCK_SECONDS = 300  # a dial or SMS step takes seconds; the lock outlives a stuck one by far
WAITING_STATES = tuple(sorted(WAITING))  # drawn: a call is due; sms: the SMS survey has a step due
DRAW_TIME = time(9, 0)  # the weekly draw, Monday 09:00 local (beat schedule in worker/celery_app.py)


def claim_due(session: Session, state: CallbackState, now: datetime, limit: int = CLAIM_BATCH) -> list[int]:
    """Claim up to ``limit`` unclaimed callbacks in ``state`` whose time has come, oldest first."""
    due = or_(Callback.next_action_at.is_(None), Callback.next_action_at <= now)
    query = (
        select(Callback.id)
        .where(Callback.state == state, due, Callback.claimed_at.is_(None))
        .order_by(Callback.next_action_at, Callback.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return _mark_claimed(session, list(session.scalars(query)), now)


def reclaim_stale(
    session: Session, state: CallbackState, now: datetime, lease: timedelta = CLAIM_LEASE
) -> list[int]:
    """Callbacks in ``state`` claimed longer than ``lease`` ago and still waiting: their task was lost."""
    query = (
        select(Callback.id)
        .where(Callback.state == state, Callback.claimed_at < now - lease)
        .order_by(Callback.claimed_at, Callback.id)
        .limit(CLAIM_BATCH)
        .with_for_update(skip_locked=True)
    )
    return _mark_claimed(session, list(session.scalars(query)), now)


def release_claim(session: Session, callback_id: int) -> None:
    """The task is done with the callback; the next tick may claim it again when it is next due."""
    session.execute(
        update(Callback).where(Callback.id == callback_id).values(claimed_at=None)
        .execution_options(synchronize_session=False)
    )


def _mark_claimed(session: Session, ids: list[int], now: datetime) -> list[int]:
    if ids:
        session.execute(
            update(Callback).where(Callback.id.in_(ids)).values(claimed_at=now)
            .execution_options(synchronize_session=False)
        )
    return ids


def weeks_to_draw(session: Session, settings: Settings, now: datetime) -> list[tuple[int, str]]:
    """(hall id, week) for every hall whose current week has no draw although its draw time has passed and
    its ledger has cases — the weekly draw task was lost. A redraw or a week drawn by hand counts as drawn."""
    missing = []
    for hall in session.scalars(select(Hall).order_by(Hall.id)):
        tz = ZoneInfo(hall.timezone or settings.timezone)
        week = week_of(now, tz)
        monday = week_bounds(week, tz)[0].astimezone(tz)
        if now < datetime.combine(monday.date(), DRAW_TIME, tz):
            continue
        drawn = session.scalar(select(exists().where(Draw.hall_id == hall.id, Draw.week == week)))
        has_cases = session.scalar(select(exists().where(Case.hall_id == hall.id)))
        if has_cases and not drawn:
            missing.append((hall.id, week))
    return missing


def current_weeks(session: Session, settings: Settings, now: datetime) -> list[tuple[int, str]]:
    """(hall id, current ISO week in the hall's time zone) for every hall."""
    return [(h.id, week_of(now, ZoneInfo(h.timezone or settings.timezone)))
            for h in session.scalars(select(Hall).order_by(Hall.id))]


@contextmanager
def callback_lock(settings: Settings, callback_id: int, timeout: int = LOCK_SECONDS) -> Iterator[bool]:
    """Yields True when this worker may act on the callback now: a Redis lock shared by every worker, so two
    never work on one callback at once (the services' conditional updates are the second line). Without
    Redis (embedded mode) tasks run inline, one at a time, and the lock is always granted."""
    if not settings.redis_url:
        yield True
        return
    lock = _redis(settings.redis_url).lock(f"callback:lock:callback:{callback_id}", timeout=timeout,
                                           blocking=False)
    if not lock.acquire():
        yield False
        return
    try:
        yield True
    finally:
        _release(lock)


def _release(lock) -> None:  # noqa: ANN001
    from redis.exceptions import LockError

    try:
        lock.release()
    except LockError:
        pass  # it expired meanwhile: nothing left to release


@lru_cache(maxsize=4)
def _redis(url: str):  # noqa: ANN202
    import redis

    return redis.Redis.from_url(url)
