"""A real Celery worker and a real beat dialing a week of callbacks through the simulator; the worker is SIGKILLed
while it holds a call in progress, and nobody helps afterwards (docs/architecture.md §Source of truth).

The simulator plays its calls in background threads of the process that placed them, at a fraction of real time
(SIMULATOR_TIME_SCALE), so a call stays live for a few seconds; its records are on disk. The test waits until the
worker's process tree owns a call that is in progress, SIGKILLs the whole group, and asserts the kill landed
mid-call: after the process died, that call's record still says "in progress" — the line dropped with it. Then a
new worker is started, and that is all: no Redis lock is deleted and no reconciler is called by the test. Beat's
``tick`` and ``reconcile`` (short intervals from the environment, worker/recovery.py) and the expiry of the dead
worker's locks and claims must find everything again on their own, within the stated bound.

Checked at the end:
- no callback is lost: every one ends in a final state, within T_recover of the kill;
- the dead worker's call was closed by the reconciler (it asked the simulator, which reports the orphaned call
  ended), not by the test;
- every attempt was dialed exactly once: no attempt id appears in two simulated calls, and every attempt the
  provider accepted has exactly one simulated call, carrying that attempt's id; ``attempts_used`` counts exactly
  the accepted attempts;
- the worker's log holds no phone number.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.db import session_factory
from callback.models import Attempt, Callback, Contact, TranscriptEvent, utcnow
from callback.web.app import create_app
from ivr.localserver import LocalServer
from ivr.simulator import SimCall, SimulatorProvider, citizens
from ivr.simulator.citizens import CitizenRegistry
from tests.chaos.ledger import attempt_of
from tests.ivr.ivr_support import make_callback
from tests.worker.celery_process import ROOT, kill_group, start_worker
from worker.recovery import RecoverySettings

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
RECOVERY = RecoverySettings(tick_seconds=0.5, reconcile_seconds=1, claim_lease_seconds=4, lock_seconds=2,
                            stale_call_seconds=5, give_up_call_seconds=120, celery_visibility_timeout=2,
                            restart_seconds=10, slack_seconds=10)


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


def start_beat(env: dict[str, str], log: Path, schedule: Path):  # noqa: ANN201
    import subprocess
    import sys

    command = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat", "--loglevel=INFO",
               f"--schedule={schedule}"]
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def wait_for(condition: Callable[[], bool], timeout: float, what: str, log: Path, url: str = "",
             step: float = 0.2) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; {describe(url)}\n"
                                 f"--- worker log ---\n{tail}")
        time.sleep(step)
    return time.monotonic() - start


def describe(url: str) -> str:
    if not url:
        return ""
    with session_factory(url)() as session:
        rows = session.execute(select(Callback.id, Callback.state, Callback.claimed_at, Callback.next_action_at)
                               .where(Callback.state.not_in(FINAL))).all()
        return "unsettled: " + "; ".join(f"#{i} {s} claimed={c} next={n}" for i, s, c, n in rows)


def settled(url: str) -> bool:
    """Every callback final and every call closed (a call's last status callback comes just after its survey
    ended)."""
    closed = {"completed", "busy", "no-answer", "failed", "canceled", "not_placed"}
    with session_factory(url)() as session:
        return (set(session.scalars(select(Callback.state))) <= FINAL
                and set(session.scalars(select(Attempt.status))) <= closed)


def calls_held_by(provider: SimulatorProvider, pids: set[int]) -> list[SimCall]:
    """The simulated calls in progress whose playing process is one of ``pids``."""
    return [call for call in provider.calls() if call.status == "in-progress" and call.owner_pid in pids]


def process_tree(pid: int) -> set[int]:
    import psutil

    parent = psutil.Process(pid)
    return {pid, *(child.pid for child in parent.children(recursive=True))}


def test_a_worker_killed_mid_call_is_recovered_by_beat_and_lock_expiry_alone(
    pg_url: str, other_redis_url: str, web: LocalServer, tmp_path: Path
) -> None:
    redis_url = other_redis_url  # a database of its own: the draw's kill test may use redis_url meanwhile
    sim_dir = tmp_path / "simulator"
    registry = CitizenRegistry(sim_dir / "citizens.json")
    ids = seed(pg_url, registry)
    env = {**os.environ, "DATABASE_URL": pg_url, "REDIS_URL": redis_url, "PUBLIC_BASE_URL": web.url,
           "TWILIO_AUTH_TOKEN": AUTH, "TELEPHONY": "simulator", "SIMULATOR_CITIZENS": str(registry.path),
           "SIMULATOR_STATE_DIR": str(sim_dir), "SIMULATOR_TIME_SCALE": "0.05", "CALL_HOURS": "00:00-24:00",
           "CALL_DAYS": "all", "CALL_RETRY_MINUTES": "0", "CALLS_PER_SECOND": "3", "PYTHONPATH": str(ROOT),
           **{f.name.upper(): str(getattr(RECOVERY, f.name)) for f in fields(RECOVERY)}}
    provider = SimulatorProvider(auth_token=AUTH, public_base_url=web.url, state_dir=sim_dir,
                                 citizens_file=registry.path)
    log = tmp_path / "worker.log"
    beat = start_beat(env, tmp_path / "beat.log", tmp_path / "beat-schedule")
    first = start_worker(env, log, "first", concurrency=2)
    try:
        held: list[SimCall] = []
        wait_for(lambda: bool(held.extend(calls_held_by(provider, process_tree(first.pid))) or held), 90,
                 "the worker to hold a call in progress", log, step=0.05)
        kill_group(first)
        killed_at = time.monotonic()
        dropped = [provider.call(call.sid) for call in held]
        assert any(call.status == "in-progress" for call in dropped), "the kill did not land mid-call"
        dropped = [call for call in dropped if call.status == "in-progress"]

        second = start_worker(env, log, "second", concurrency=2)
        try:
            wait_for(lambda: settled(pg_url), 120, "every callback to settle", log, pg_url)
            took = time.monotonic() - killed_at
        finally:
            kill_group(second, signal.SIGTERM)
    finally:
        kill_group(beat)

    assert took <= RECOVERY.worst_case_recovery(), (took, RECOVERY.formula())
    print(f"killed mid-call: {len(dropped)} call(s) dropped; every callback final {took:.1f} s after the kill "
          f"(bound {RECOVERY.formula()})")
    with session_factory(pg_url)() as session:
        check_dropped_calls_closed_by_the_reconciler(session, dropped)
        check_exactly_once(session, provider, ids)
    assert "+86" not in log.read_text(errors="replace")


def check_dropped_calls_closed_by_the_reconciler(session: Session, dropped: list[SimCall]) -> None:
    for call in dropped:
        attempt = session.scalars(select(Attempt).where(Attempt.provider_call_id == call.sid)).one()
        assert attempt.status == "completed" and attempt.ended_at is not None
        sources = session.scalars(select(TranscriptEvent.data).where(TranscriptEvent.attempt_id == attempt.id,
                                                                     TranscriptEvent.kind == "status")).all()
        assert any(data.get("source") == "reconciler" for data in sources), sources
        assert session.get(Callback, attempt.callback_id).state in FINAL


def check_exactly_once(session: Session, provider: SimulatorProvider, ids: list[int]) -> None:
    calls = provider.calls()
    dialed = Counter(attempt_of(c) for c in calls)
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
