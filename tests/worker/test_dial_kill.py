"""A real Celery worker dialing a week of callbacks through the simulator, SIGKILLed mid-run and restarted
(docs/architecture.md §Source of truth).

The test plays the beat: it sends ``worker.tasks.tick`` every half second. The worker claims the due callbacks
and dials them through the simulator, whose calls reach the real webhooks of the app, served on a loopback port in
this process. Once several calls are live, the worker's whole process group is SIGKILLed. Its calls die with it,
like a dropped line, and the message it held comes back (``acks_late``). Then the two reconcilers run with their
limits set to zero, as they would once those limits had passed: ``ivr.dialer.reconcile_stale_calls`` closes the
dead calls or gives back attempts the provider never accepted, and ``worker.dispatch.reclaim_stale`` re-enqueues
callbacks the dead tick had claimed. A new worker finishes the week.

Checked at the end:
- no callback is lost: every one ends in a final state;
- every attempt was dialed exactly once: no attempt id appears in two simulated calls, and every attempt the
  provider accepted has exactly one simulated call, carrying that attempt's id;
- ``attempts_used`` counts exactly the accepted attempts;
- the worker's log holds no phone number.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.db import session_factory
from callback.models import Attempt, Callback, Contact, utcnow
from callback.web.app import create_app
from ivr.dialer import reconcile_stale_calls
from ivr.localserver import LocalServer
from ivr.simulator import SimulatorProvider, citizens
from ivr.simulator.citizens import CitizenRegistry
from tests.ivr.ivr_support import make_callback
from tests.worker.celery_process import ROOT, kill_group, start_worker
from worker.celery_app import create_celery
from worker.dispatch import reclaim_stale

pytestmark = pytest.mark.slow

AUTH = "kill-test-auth-token"
FINAL = {"complete", "partial", "break_off", "refused", "opted_out", "sms", "unreachable"}
BEHAVIOURS = [
    citizens.answers_all("1111111"), citizens.answers_all("1121211"), citizens.hangs_up_after(4),
    citizens.no_answer(times=1), citizens.busy(times=2), citizens.voicemail(), citizens.provider_error(times=1),
    citizens.wrong_keys_then_valid(), citizens.no_answer(), citizens.opt_out(),
]
CALLBACKS = 20
# Calls at any hour, retries at once: the week runs in a minute. Web app and worker share these settings.
FAST = {"call_hours": "00:00-24:00", "call_days": "all", "call_retry_minutes": 0}


@pytest.fixture
def web(pg_url: str) -> Iterator[LocalServer]:
    app = create_app({"database_url": pg_url, "twilio_auth_token": AUTH, **FAST})
    with LocalServer(app) as server:
        yield server


def seed(url: str, registry: CitizenRegistry) -> list[int]:
    """A week of drawn callbacks due now, each citizen scripted."""
    with session_factory(url)() as session:
        ids = []
        for n in range(CALLBACKS):
            callback, _ = make_callback(session, state="drawn", attempt=False, phone=f"+8613500{n:06d}",
                                        next_action_at=utcnow())
            registry.set(session.get(Contact, callback.contact_id).phone, BEHAVIOURS[n % len(BEHAVIOURS)])
            ids.append(callback.id)
        return ids


def beat_until(producer, condition: Callable[[], bool], timeout: float, what: str, log: Path,  # noqa: ANN001
               url: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; {describe(url)}\n"
                                 f"--- worker log ---\n{tail}")
        producer.send_task("worker.tasks.tick")
        time.sleep(0.5)


def describe(url: str) -> str:
    if not url:
        return ""
    with session_factory(url)() as session:
        rows = session.execute(select(Callback.id, Callback.state, Callback.claimed_at, Callback.next_action_at)
                               .where(Callback.state.not_in(FINAL))).all()
        attempts = session.execute(select(Attempt.callback_id, Attempt.id, Attempt.status, Attempt.provider_call_id,
                                          Attempt.created_at)
                                   .where(Attempt.callback_id.in_([r[0] for r in rows]))).all()
        return ("unsettled: " + "; ".join(f"#{i} {s} claimed={c} next={n}" for i, s, c, n in rows)
                + " attempts: " + "; ".join(map(str, attempts)))


def states(url: str) -> Counter:
    with session_factory(url)() as session:
        return Counter(session.scalars(select(Callback.state)))


def accepted_attempts(url: str) -> int:
    with session_factory(url)() as session:
        query = select(func.count()).select_from(Attempt).where(Attempt.provider_call_id.is_not(None))
        return int(session.scalar(query) or 0)


def settled(url: str) -> bool:
    return set(states(url)) <= FINAL


def test_killed_dialing_worker_dials_every_attempt_exactly_once(
    pg_url: str, other_redis_url: str, web: LocalServer, tmp_path: Path
) -> None:
    redis_url = other_redis_url  # a database of its own: the draw's kill test may use redis_url meanwhile
    sim_dir = tmp_path / "simulator"
    registry = CitizenRegistry(sim_dir / "citizens.json")
    ids = seed(pg_url, registry)
    env = {**os.environ, "DATABASE_URL": pg_url, "REDIS_URL": redis_url, "CELERY_VISIBILITY_TIMEOUT": "2",
           "PUBLIC_BASE_URL": web.url, "TWILIO_AUTH_TOKEN": AUTH, "TELEPHONY": "simulator",
           "SIMULATOR_CITIZENS": str(registry.path), "SIMULATOR_STATE_DIR": str(sim_dir),
           "CALL_HOURS": "00:00-24:00", "CALL_DAYS": "all", "CALL_RETRY_MINUTES": "0", "CALLS_PER_SECOND": "3",
           "PYTHONPATH": str(ROOT)}
    settings = Settings(database_url=pg_url, redis_url=redis_url, twilio_auth_token=AUTH, public_base_url=web.url,
                        **FAST)
    producer = create_celery(settings)
    log = tmp_path / "worker.log"

    first = start_worker(env, log, "first", concurrency=2)
    try:
        beat_until(producer, lambda: accepted_attempts(pg_url) >= 6, 90, "six calls to be placed", log)
    finally:
        kill_group(first)
    at_kill = states(pg_url)
    assert not set(at_kill) <= FINAL, f"the worker finished before it could be killed: {at_kill}"

    # Time passes, as far as the dead worker's leftovers are concerned: its per-callback Redis locks expire (after
    # LOCK_SECONDS), and the two reconcilers run once their limits have passed: the dead calls are closed or their
    # attempts given back, and callbacks its tick had claimed but never handed on are enqueued again.
    broker = redis.Redis.from_url(redis_url)
    for key in broker.scan_iter("callback:lock:callback:*"):
        broker.delete(key)
    provider = SimulatorProvider(auth_token=AUTH, public_base_url=web.url, state_dir=sim_dir,
                                 citizens_file=registry.path)
    with session_factory(pg_url)() as session:
        closed = reconcile_stale_calls(session, provider, settings, utcnow(), stale_after=timedelta(0),
                                       give_up_after=timedelta(0))
        lost = reclaim_stale(session, "drawn", utcnow(), lease=timedelta(0))
        session.commit()
    for callback_id in lost:
        producer.send_task("worker.tasks.dial", args=[callback_id])
    print(f"at the kill: {dict(at_kill)}; calls closed or given back: {[(r.action, r.status) for r in closed]}; "
          f"claims re-enqueued: {len(lost)}")

    second = start_worker(env, log, "second", concurrency=2)
    try:
        beat_until(producer, lambda: settled(pg_url), 120, "every callback to settle", log, pg_url)
        beat_until(producer, lambda: broker.llen("celery") == 0 and broker.hlen("unacked") == 0, 30,
                   "the queue to drain", log)
    finally:
        kill_group(second, signal.SIGTERM)

    with session_factory(pg_url)() as session:
        check_exactly_once(session, provider, ids)
    assert "+86" not in log.read_text(errors="replace")


def check_exactly_once(session: Session, provider: SimulatorProvider, ids: list[int]) -> None:
    calls = provider.calls()
    dialed = Counter(int(parse_qs(urlsplit(c.url).query)["a"][0]) for c in calls)
    assert dialed and max(dialed.values()) == 1, "an attempt was dialed twice"
    by_sid = {c.sid: c for c in calls}
    callbacks = session.scalars(select(Callback).where(Callback.id.in_(ids))).all()
    assert len(callbacks) == CALLBACKS and all(c.state in FINAL for c in callbacks)
    for callback in callbacks:
        attempts = session.scalars(select(Attempt).where(Attempt.callback_id == callback.id)).all()
        accepted = [a for a in attempts if a.provider_call_id is not None]
        assert callback.attempts_used == len(accepted) <= 3, (callback.id, callback.attempts_used, len(accepted))
        for attempt in accepted:
            call = by_sid[attempt.provider_call_id]
            assert dialed[attempt.id] == 1 and f"a={attempt.id}" in call.url
        assert all(a.status in {"completed", "busy", "no-answer", "failed", "canceled", "not_placed"}
                   for a in attempts), [(a.id, a.status) for a in attempts]

