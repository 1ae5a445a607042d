"""The chaos run (docs/architecture.md §Source of truth): a week of several halls on PostgreSQL, dialled by
real Celery workers and beat over a Redis of its own, the simulator playing the citizens over HTTP against the
web app under gunicorn — while a fault schedule strikes during live calls:

1. SIGKILL a worker while it holds a call in progress (asserted: the dead process's call is still "in progress"
   in the simulator's records after it died), and start it again;
2. SIGKILL beat and start it again;
3. restart Redis (SIGKILL, start empty);
4. terminate every PostgreSQL backend of the run's database (the server is shared: it is not restarted);
5. flood the webhooks with duplicate and out-of-order status callbacks (and duplicate answers of finished calls);
6. FLUSHALL Redis.

Nobody helps afterwards: no lock is deleted, no reconciler called. The run waits (within a bound) for every
callback to end and every fault's in-flight work to come back (tests/chaos/recovery.py), then checks the
invariants against the simulator's ledger (tests/chaos/ledger.py) and prints a table of the faults, the time each
took to settle against the bound worker/recovery.py states, and the invariants.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import create_engine, select, text

from callback.config import Settings
from callback.db import dispose_all, session_factory
from callback.ledger.importer import import_records
from callback.migrate import upgrade_to_head
from callback.models import Answer, Attempt, Callback, Hall, utcnow
from ivr.simulator import SimCall, SimulatorProvider
from ivr.simulator import citizens as c
from ivr.simulator.citizens import CitizenRegistry
from ivr.simulator.webhooks import Webhooks
from survey.privacy import mask_phone
from survey.weeks import week_of
from tests.chaos import ledger
from tests.chaos.processes import (
    Process,
    celery_beat,
    celery_worker,
    free_port,
    gunicorn,
    redis_server,
    wait_until,
)
from tests.chaos.recovery import Fault, Tracker, snapshot
from worker.celery_app import create_celery
from worker.recovery import RecoverySettings

AUTH = "chaos-run-auth-token"
TZ = ZoneInfo("Asia/Shanghai")
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# Seconds, not minutes: the week settles in a minute or two. LOCK + CLAIM_LEASE = 9 s > STALE_CALL = 8 s, so
# T_recover = 9 + RECONCILE 2 + TICK 1 + RESTART 10 + SLACK 10 = 32 s. GIVE_UP_CALL (the stuck-call limit) stays
# above the longest real call, so a live call is never closed under the citizen.
CHAOS_RECOVERY = RecoverySettings(tick_seconds=1, reconcile_seconds=2, claim_lease_seconds=6, lock_seconds=3,
                                  stale_call_seconds=8, give_up_call_seconds=120, celery_visibility_timeout=10,
                                  restart_seconds=10, slack_seconds=10)


def citizen_mix() -> list[Any]:
    """Twenty citizens per hall, cycled: every way a call or a text can go. Whoever ends up texted replies (or
    the text is undelivered), so every SMS survey ends within the run rather than at its 48-hour expiry."""
    return [
        c.answers_all("1111111"), c.answers_all("1121111"), c.hangs_up_after(4), c.no_answer(times=1),
        c.busy(sms_replies=["111111"]), c.voicemail(sms_replies=["121111 排队有点久"]), c.opt_out(),
        c.speaks("窗口服务很好", keys="1111111"), c.wrong_keys_then_valid("1111111"), c.silent(),
        c.provider_error(times=1), c.replies_by_sms("111111"), c.answers_all("1111131"),
        c.busy(sms_status="undelivered"), c.busy(times=2), "landline", c.answers_all("1211111"),
        c.hangs_up_after(2), c.no_answer(sms_replies=["TD"]), c.answers_all("1111111"),
    ]


@dataclass(frozen=True)
class ChaosConfig:
    halls: int
    per_hall: int
    calls_per_second: float
    time_scale: float  # the fraction of a call's virtual time played in real time (calls stay live for seconds)
    fault_spacing: float  # seconds between faults
    settle_timeout: float  # the whole week must be over within this after the last fault
    closed_gap: bool  # calling hours close for a minute during the run (checked: no call inside the gap)
    workers: int = 2
    concurrency: int = 2
    recovery: RecoverySettings = CHAOS_RECOVERY

    @classmethod
    def short(cls) -> ChaosConfig:
        """`make test`'s version: three halls, 24 callbacks, every fault once."""
        return cls(halls=3, per_hall=8, calls_per_second=1.5, time_scale=0.05, fault_spacing=3.5,
                   settle_timeout=150, closed_gap=False)

    @classmethod
    def full(cls) -> ChaosConfig:
        """`make chaos`: five halls of twenty, calling hours that close for a minute on the way."""
        return cls(halls=5, per_hall=20, calls_per_second=1.5, time_scale=0.06, fault_spacing=10.0,
                   settle_timeout=420, closed_gap=True)


@dataclass
class ChaosResult:
    faults: list[Fault]
    checks: list[ledger.Check]
    bound: float
    formula: str
    wall_seconds: float
    callbacks: int
    calls: int
    notes: list[str] = field(default_factory=list)
    load: tuple[float, float, float] = field(default_factory=os.getloadavg)

    @property
    def held(self) -> bool:
        return all(check.held for check in self.checks)

    def table(self) -> str:
        lines = ["", "故障 / fault injected                              live calls  settled in   bound   pieces",
                 "-" * 96]
        for f in self.faults:
            settle = "NOT SETTLED" if f.settle is None else f"{f.settle:7.1f} s"
            lines.append(f"{f.name:<50} {f.live_calls:>6}  {settle:>11}  {self.bound:5.0f} s  {len(f.items) + len(f.probes):>6}")
            if f.detail:
                lines.append(f"    {f.detail}")
        lines += ["", f"bound T_recover = {self.formula}", "",
                  "不变量 / invariant                                                  held", "-" * 96]
        for check in self.checks:
            lines.append(f"{check.name:<66} {'yes' if check.held else 'NO'}")
            lines.append(f"    {check.detail}")
        load = ", ".join(f"{v:.2f}" for v in self.load)
        lines += ["", f"{self.callbacks} callbacks, {self.calls} calls, the whole run {self.wall_seconds:.0f} s, "
                      f"load average {load} (1, 5, 15 min)", *self.notes]
        return "\n".join(lines)


class ChaosRun:
    def __init__(self, config: ChaosConfig, folder: Path) -> None:
        self.config, self.folder = config, folder
        self.sim_dir = folder / "simulator"
        self.logs = folder / "logs"
        self.db_name = f"cb_chaos_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{self.db_name}"
        self.redis_port, self.web_port = free_port(), free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.call_hours = self._hours()
        self.settings = Settings(database_url=self.url, redis_url=self.redis_url, twilio_auth_token=AUTH,
                                 public_base_url=self.web_url, call_hours=self.call_hours, call_days="all",
                                 sms_hours=self.call_hours, call_retry_minutes=0,
                                 calls_per_second=config.calls_per_second)
        self.tracker = Tracker(self.url, self.redis_url)
        self.processes: dict[str, Process] = {}
        self.flood_before: dict[int, Any] = {}
        self.notes: list[str] = []
        self.killed_pids: set[int] = set()  # the worker processes SIGKILLed mid-call

    # --- set-up ------------------------------------------------------------------------------------------------
    def _hours(self) -> str:
        """Calling (and SMS) hours around the run; in the full run they close for one minute two minutes in."""
        start = datetime.now(TZ).replace(second=0, microsecond=0) - timedelta(minutes=1)
        if not self.config.closed_gap:
            return _windows([(start, start + timedelta(minutes=40))])
        gap = start + timedelta(minutes=3)
        return _windows([(start, gap), (gap + timedelta(minutes=1), start + timedelta(minutes=40))])

    def env(self) -> dict[str, str]:
        values = {
            "DATABASE_URL": self.url, "REDIS_URL": self.redis_url, "TELEPHONY": "simulator", "TWILIO_AUTH_TOKEN": AUTH,
            "PUBLIC_BASE_URL": self.web_url, "SIMULATOR_CITIZENS": str(self.sim_dir / "citizens.json"),
            "SIMULATOR_STATE_DIR": str(self.sim_dir), "SIMULATOR_TIME_SCALE": str(self.config.time_scale),
            "CALL_HOURS": self.call_hours, "SMS_HOURS": self.call_hours, "CALL_DAYS": "all",
            "CALL_RETRY_MINUTES": "0", "CALLS_PER_SECOND": str(self.config.calls_per_second), "DB_POOL_SIZE": "4",
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        }
        recovery = self.config.recovery
        values |= {f.name.upper(): str(getattr(recovery, f.name)) for f in fields(recovery)}
        return {**os.environ, **values}

    def setup(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.sim_dir.mkdir(parents=True, exist_ok=True)
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.db_name}"'))
        admin.dispose()
        upgrade_to_head(self.url)
        self._seed()
        env = self.env()
        self.processes["redis"] = redis_server(self.redis_port, self.folder, self.logs / "redis.log").start()
        wait_until(self._redis_up, 20, "Redis to answer")
        self.processes["web"] = gunicorn(self.web_port, env, self.logs / "web.log").start()
        wait_until(self._web_up, 40, "the web app to answer")
        for n in range(1, self.config.workers + 1):
            self._start_worker(f"worker{n}")
        self.processes["beat"] = celery_beat(env, self.logs / "beat.log", self.folder / "beat-schedule").start()
        for n in range(1, self.config.workers + 1):
            wait_until(lambda n=n: "ready." in (self.logs / f"worker{n}.log").read_text(errors="replace"), 60,
                       f"worker{n} to be ready")
        self.tracker.start()

    def _start_worker(self, name: str) -> None:
        self.processes[name] = celery_worker(name, self.env(), self.logs / f"{name}.log",
                                             self.config.concurrency).start()

    def _seed(self) -> None:
        """The halls' ledgers through the real importer; each citizen scripted in the simulator's registry."""
        registry = CitizenRegistry(self.sim_dir / "citizens.json")
        mix = citizen_mix()
        accepted = datetime.now(TZ) - timedelta(minutes=2)
        scripts = {}
        with session_factory(self.url)() as session:
            for h in range(1, self.config.halls + 1):
                hall = Hall(code=f"CHAOS{h}", name=f"混沌测试中心{h}")
                session.add(hall)
                session.flush()
                rows = []
                for i in range(self.config.per_hall):
                    behaviour = mix[(i + (h - 1) * self.config.per_hall) % len(mix)]  # short runs see the whole mix
                    phone = f"+86536{h:02d}{i:05d}" if behaviour == "landline" else f"+86137{h:02d}{i:06d}"
                    scripts[phone] = c.busy() if behaviour == "landline" else behaviour
                    rows.append((i + 2, {"case_no": f"CH{h}-{i:04d}", "window": f"窗口{i % 3 + 1}",
                                         "phone": phone, "accepted_at": accepted.strftime("%Y-%m-%d %H:%M:%S"),
                                         "item_name": "营业执照", "item_kind": "即办件", "applicant": "测试市民"}))
                summary = import_records(session, hall, rows, source="chaos")
                assert summary.imported == self.config.per_hall, summary.as_json()
            session.commit()
        registry.update(scripts)

    def _redis_up(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.redis_url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def _web_up(self) -> bool:
        import requests

        try:
            return requests.get(self.web_url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    # --- the run -----------------------------------------------------------------------------------------------
    def run(self) -> ChaosResult:
        started = time.monotonic()
        self.setup()
        try:
            create_celery(self.settings, self.config.recovery).send_task("worker.tasks.weekly_draw_all")
            wait_until(lambda: self._count(Callback) == self.config.halls * self.config.per_hall, 60,
                       "the weekly draws")
            for inject in (self.kill_worker_mid_call, self.kill_beat, self.restart_redis,
                           self.terminate_database_backends, self.flood_webhooks, self.flush_redis):
                self._wait_for_live_calls()
                inject()
                time.sleep(self.config.fault_spacing)
            self._wait_settled()
            return self._result(started)
        finally:
            self.teardown()

    def _wait_for_live_calls(self, timeout: float = 60) -> int:
        wait_until(lambda: self._live_calls() > 0, timeout, "calls to be live")
        return self._live_calls()

    def _live_calls(self) -> int:
        return sum(1 for call in self._sim_calls() if call.status == "in-progress")

    def _sim_calls(self) -> list[SimCall]:
        calls = []
        for path in (self.sim_dir / "calls").glob("CA*.json"):
            try:
                calls.append(SimCall.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (ValueError, FileNotFoundError):
                continue  # being replaced this instant
        return calls

    def _fault(self, name: str, detail: str = "") -> Fault:
        fault = Fault(name, time.monotonic(), utcnow(), self._live_calls(), detail, items=snapshot(self.url))
        return fault

    def _also(self, fault: Fault) -> None:
        """What went in flight while the broken part was down counts too."""
        for key, value in snapshot(self.url).items():
            fault.items.setdefault(key, value)

    # --- the faults --------------------------------------------------------------------------------------------
    def kill_worker_mid_call(self) -> None:
        held: list[SimCall] = []

        def a_worker_holds_a_call() -> bool:
            for name in self._worker_names():
                pids = self.processes[name].pids()
                calls = [call for call in self._sim_calls() if call.status == "in-progress" and call.owner_pid in pids]
                if calls:
                    held[:] = [name, *calls]  # type: ignore[list-item]
                    return True
            return False

        wait_until(a_worker_holds_a_call, 60, "a worker to hold a call in progress", step=0.05)
        name, calls = held[0], held[1:]
        fault = self._fault(f"SIGKILL {name} mid-call, restart it")
        self.killed_pids |= set(self.processes[name].pids())
        self.processes[name].kill()
        after = {call.sid: call for call in self._sim_calls()}
        still_live = [sid for sid in (call.sid for call in calls) if after[sid].status == "in-progress"]
        assert still_live, "the kill did not land mid-call: every call the worker held had ended"
        self._start_worker(name)
        fault.detail = (f"the killed process held {len(still_live)} call(s) in progress "
                        f"({', '.join(mask_phone(after[s].to) for s in still_live)}); their records stayed "
                        f"in progress after it died")
        self.notes.append(f"worker kill: calls left in progress by the dead process: {len(still_live)}")
        self.tracker.add(fault)

    def _worker_names(self) -> list[str]:
        return [f"worker{n}" for n in range(1, self.config.workers + 1)]

    def kill_beat(self) -> None:
        fault = self._fault("SIGKILL beat, restart it")
        beat = self.processes["beat"]
        beat.kill()
        sent_before = _sends(self.logs / "beat.log")
        beat.start()
        fault.probes[("beat ticking",)] = lambda: _sends(self.logs / "beat.log") > sent_before
        self.tracker.add(fault)

    def restart_redis(self) -> None:
        fault = self._fault("restart Redis (SIGKILL, start empty)")
        server = self.processes["redis"]
        server.kill()
        server.start()
        wait_until(self._redis_up, 20, "Redis to come back")
        self._also(fault)
        self.tracker.add(fault)

    def flush_redis(self) -> None:
        fault = self._fault("FLUSHALL Redis")
        keys = redis.Redis.from_url(self.redis_url).dbsize()
        redis.Redis.from_url(self.redis_url).flushall()
        fault.detail = f"{keys} keys flushed (queue, unacknowledged messages, locks, rate limiter)"
        self.tracker.add(fault)

    def terminate_database_backends(self) -> None:
        fault = self._fault("terminate every PostgreSQL backend")
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            ended = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                      "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": self.db_name}).scalar()
        admin.dispose()
        fault.detail = f"{ended} backends of the run's database terminated (web app, workers, this test)"
        self._also(fault)
        self.tracker.add(fault)

    def flood_webhooks(self) -> None:
        fault = self._fault("flood webhooks: duplicates, out-of-order statuses")
        self.flood_before = self._final_callbacks()
        requests_ = [r for call in self._sim_calls() for r in _replays(call, self.web_url)]
        webhooks = Webhooks(AUTH)
        with ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(lambda r: webhooks.send(*r), requests_))
        codes = Counter(getattr(reply, "status", "none") for reply in replies)
        fault.detail = (f"{len(requests_)} signed replays (every status twice, newest first; finished calls' "
                        f"answers again): HTTP {dict(sorted(codes.items(), key=str))}")
        self.tracker.add(fault)

    def _final_callbacks(self) -> dict[int, Any]:
        with session_factory(self.url)() as session:
            rows = session.scalars(select(Callback).where(Callback.state.in_(ledger.FINAL))).all()
            answers: dict[int, list[tuple[str, str | None]]] = {}
            for cid, item, key in session.execute(select(Answer.callback_id, Answer.item, Answer.key)
                                                  .order_by(Answer.item)):
                answers.setdefault(cid, []).append((item, key))
            return {cb.id: (cb.state, cb.outcome, cb.attempts_used, cb.finished_at.isoformat(timespec="seconds"),
                            answers.get(cb.id, [])) for cb in rows}

    # --- settling and checking ----------------------------------------------------------------------------------
    def _wait_settled(self) -> None:
        def settled() -> bool:
            with session_factory(self.url)() as session:
                states = set(session.scalars(select(Callback.state)))
                calls = set(session.scalars(select(Attempt.status)))
            return states <= ledger.FINAL and calls <= ledger.CLOSED and self.tracker.all_settled()

        try:
            wait_until(settled, self.config.settle_timeout, "the week to settle", step=0.5)
        except AssertionError:
            self.notes.append("THE WEEK DID NOT SETTLE within the timeout: " + self._unsettled())

    def _unsettled(self) -> str:
        with session_factory(self.url)() as session:
            rows = session.execute(select(Callback.id, Callback.state, Callback.claimed_at, Callback.next_action_at)
                                   .where(Callback.state.not_in(ledger.FINAL))).all()
        pending = [(f.name, f.pending[:5]) for f in self.tracker.faults if f.pending]
        return f"open callbacks {rows}; faults with pieces still out {pending}"

    def _result(self, started: float) -> ChaosResult:
        self.tracker.stop()
        provider = SimulatorProvider(auth_token=AUTH, state_dir=self.sim_dir,
                                     citizens_file=self.sim_dir / "citizens.json")
        calls, messages = provider.calls(), provider.messages()
        facts = ledger.gather_facts(calls, messages)
        bound = self.config.recovery.worst_case_recovery()
        with session_factory(self.url)() as session:
            checks = [
                ledger.every_callback_final(session),
                ledger.dialled_once(session, calls, self.killed_pids),
                ledger.sms_once(session, messages),
                ledger.within_hours(session, self.settings, calls, messages),
                ledger.answers_kept(session, facts),
                ledger.report_matches(session, facts, week_of(utcnow(), TZ), utcnow()),
                self._flood_changed_nothing(),
                self._settled_within_bound(bound),
                self._no_number_in_logs(),
            ]
            total = session.query(Callback).count()
        return ChaosResult(self.tracker.faults, checks, bound, self.config.recovery.formula(),
                           time.monotonic() - started, total, len(calls), self.notes)

    def _flood_changed_nothing(self) -> ledger.Check:
        after = self._final_callbacks()
        changed = [(cid, before, after.get(cid)) for cid, before in self.flood_before.items()
                   if after.get(cid) != before]
        return ledger.Check("duplicate and out-of-order webhooks changed nothing", bool(self.flood_before) and not changed,
                            f"{len(self.flood_before)} callbacks finished before the flood; changed since "
                            f"(before, after): {changed}")

    def _settled_within_bound(self, bound: float) -> ledger.Check:
        late = [(f.name, f.settle) for f in self.tracker.faults if f.settle is None or f.settle > bound]
        worst = max((f.settle or 0 for f in self.tracker.faults), default=0)
        return ledger.Check("every fault settled within the stated bound", not late and len(self.tracker.faults) == 6,
                            f"slowest {worst:.1f} s of {bound:.0f} s; over the bound or unsettled: {late}")

    def _no_number_in_logs(self) -> ledger.Check:
        leaks = [p.name for p in self.logs.glob("*.log") if re.search(r"\+86\d{6,}", p.read_text(errors="replace"))]
        return ledger.Check("no phone number in any process's log", not leaks,
                            f"{len(list(self.logs.glob('*.log')))} logs read; with a number: {leaks}")

    def _count(self, model: Any) -> int:
        with session_factory(self.url)() as session:
            return session.query(model).count()

    def teardown(self) -> None:
        self.tracker.stop()
        for name in ("beat", *self._worker_names(), "web", "redis"):
            if name in self.processes:
                self.processes[name].kill()
        dispose_all()
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        admin.dispose()


# --- helpers ---------------------------------------------------------------------------------------------------


def _windows(spans: list[tuple[datetime, datetime]]) -> str:
    """``HH:MM-HH:MM`` windows for these local spans, split at midnight (a window cannot cross it)."""
    parts = []
    for start, end in spans:
        while start < end:
            midnight = (start + timedelta(days=1)).replace(hour=0, minute=0)
            stop = min(end, midnight)
            parts.append(f"{start:%H:%M}-{'24:00' if stop == midnight else f'{stop:%H:%M}'}")
            start = stop
    return ",".join(parts)


def _sends(log: Path) -> int:
    """How many times beat has sent a task (its log says so at INFO)."""
    try:
        return log.read_text(errors="replace").count("Sending due task")
    except FileNotFoundError:
        return 0


def _replays(call: SimCall, web_url: str) -> list[tuple[str, dict[str, str], str]]:
    """Signed requests Twilio could send again for this call: every status callback so far twice, newest first
    (out of order), and — for a finished call — every answer the web app accepted, once more."""
    statuses = [e.text for e in call.log if e.kind == "status"]
    out = []
    for sequence in reversed(range(len(statuses))):
        params = _status_params(call, statuses[sequence], sequence)
        out += [(call.status_callback, params, "POST")] * 2
    if call.final:
        base = "{0.scheme}://{0.netloc}".format(urlsplit(web_url))
        for entry in call.log:
            if entry.kind == "request" and entry.data.get("status") == 200 and entry.data.get("method") == "POST":
                params = _call_params(call, "in-progress") | (entry.data.get("params") or {})
                out.append((base + entry.text, params, "POST"))
    return out


def _call_params(call: SimCall, status: str) -> dict[str, str]:
    params = {"AccountSid": call.account_sid, "ApiVersion": "2010-04-01", "CallSid": call.sid, "CallStatus": status,
              "Called": call.to, "Caller": call.from_, "Direction": "outbound-api", "From": call.from_, "To": call.to}
    if call.answered_by:
        params["AnsweredBy"] = call.answered_by
    return params


def _status_params(call: SimCall, status: str, sequence: int) -> dict[str, str]:
    params = _call_params(call, status) | {"CallbackSource": "call-progress-events", "SequenceNumber": str(sequence),
                                           "Timestamp": format_datetime(datetime.now(TZ))}
    if status in ("completed", "busy", "no-answer", "failed", "canceled"):
        params |= {"CallDuration": str(call.duration or 0), "Duration": str(-(-(call.duration or 0) // 60))}
    return params


def run_chaos(config: ChaosConfig, folder: Path, echo: Callable[[str], None] = print) -> ChaosResult:
    result = ChaosRun(config, folder).run()
    echo(result.table())
    return result
