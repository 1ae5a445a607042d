"""Measuring recovery: what was in flight when a fault struck, and when each piece of it was back in its normal
course — found again by beat and lease expiry alone, never by the test.

At the fault (and again once the broken part is back) the run takes a snapshot of the work in flight:

* each call attempt not yet closed — back once it is closed (its final status came, or the reconciler asked the
  provider, or gave the attempt back);
* each claimed callback — back once its task is waiting in the broker's queue again, or the claim is released or
  replaced by a newer one, or the callback ended (a claim whose message was lost — flushed, or held by a dead
  worker — is back only when a redelivery or the reconciler enqueues it again);
* each callback due and unclaimed — back once the tick claimed it, or a step ran (its state, next action time
  or attempts changed), or it ended;

Work merely waiting its turn behind the calls-per-second limiter is in hand, not lost: it does not count.
* for beat, that it is ticking again.

A fault's time to settle is the time from the fault to the last of its pieces coming back.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from callback.db import session_factory
from callback.models import Attempt, Callback, utcnow
from tests.chaos.ledger import CLOSED, FINAL

Key = tuple[Any, ...]
STEP_TASKS = {"worker.tasks.dial", "worker.tasks.advance_sms"}


@dataclass
class Fault:
    name: str
    at: float  # time.monotonic() of the injection
    wall: datetime
    live_calls: int
    detail: str = ""
    items: dict[Key, Any] = field(default_factory=dict)  # what was in flight → its state at the snapshot
    recovered: dict[Key, float] = field(default_factory=dict)
    probes: dict[Key, Callable[[], bool]] = field(default_factory=dict)  # extra pieces, e.g. beat ticking

    @property
    def pending(self) -> list[Key]:
        return [k for k in [*self.items, *self.probes] if k not in self.recovered]

    @property
    def settle(self) -> float | None:
        """Seconds from the fault until the last piece was back; None while something is still out."""
        if self.pending:
            return None
        return max(self.recovered.values(), default=self.at) - self.at


def snapshot(url: str) -> dict[Key, Any]:
    """The work in flight now (module docstring)."""
    now = utcnow()
    with session_factory(url)() as session:
        items: dict[Key, Any] = {("attempt", a): None for a in session.scalars(
            select(Attempt.id).where(Attempt.status.not_in(CLOSED)))}
        rows = session.execute(select(Callback.id, Callback.state, Callback.claimed_at, Callback.next_action_at,
                                      Callback.attempts_used)).all()
    for cid, state, claimed, due_at, used in rows:
        if claimed is not None:
            items[("claim", cid)] = claimed
        elif state in ("drawn", "sms") and (due_at is None or due_at <= now):
            items[("due", cid)] = (state, due_at, used)
    return items


class Tracker:
    """Polls the database (and the probes) in a thread and notes when each fault's pieces come back."""

    def __init__(self, url: str, broker_url: str, interval: float = 0.2) -> None:
        self.url, self.broker_url, self.interval = url, broker_url, interval
        self.faults: list[Fault] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="chaos-tracker", daemon=True)

    def start(self) -> Tracker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def all_settled(self) -> bool:
        with self._lock:
            return all(f.settle is not None for f in self.faults)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except DBAPIError:
                continue  # the database's connections were just terminated: the next poll reconnects

    def poll(self) -> None:
        with self._lock:
            open_faults = [f for f in self.faults if f.pending]
        if not open_faults:
            return
        attempts, callbacks = self._state()
        queued = self._queued()
        now = time.monotonic()
        for fault in open_faults:
            for key in fault.pending:
                if self._back(fault, key, attempts, callbacks, queued):
                    fault.recovered[key] = now

    def _queued(self) -> set[int]:
        """The callbacks whose step task is waiting in the broker's queue (not yet taken by a worker)."""
        try:
            messages = redis.Redis.from_url(self.broker_url, socket_timeout=1).lrange("celery", 0, -1)
        except redis.RedisError:
            return set()  # Redis is down this instant: nothing is in hand through it
        ids = set()
        for raw in messages:
            headers = json.loads(raw).get("headers", {})
            found = re.fullmatch(r"\((\d+),?\)", headers.get("argsrepr", ""))
            if headers.get("task") in STEP_TASKS and found:
                ids.add(int(found.group(1)))
        return ids

    def _state(self) -> tuple[dict[int, str], dict[int, tuple[Any, ...]]]:
        with session_factory(self.url)() as session:
            attempts = dict(session.execute(select(Attempt.id, Attempt.status)).all())
            rows = session.execute(select(Callback.id, Callback.state, Callback.claimed_at, Callback.next_action_at,
                                          Callback.attempts_used)).all()
        return attempts, {cid: rest for cid, *rest in rows}

    @staticmethod
    def _back(fault: Fault, key: Key, attempts: dict[int, str], callbacks: dict[int, tuple[Any, ...]],
              queued: set[int]) -> bool:
        if key in fault.probes:
            return fault.probes[key]()
        kind, ident = key
        if kind == "attempt":
            return attempts.get(ident) in CLOSED
        state, claimed, due_at, used = callbacks[ident]
        if state in FINAL:
            return True
        if kind == "claim":
            return claimed != fault.items[key] or ident in queued
        return claimed is not None or (state, due_at, used) != fault.items[key]
