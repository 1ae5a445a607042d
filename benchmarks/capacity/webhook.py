"""Measure 4: the IVR answer webhook under gunicorn at a constant offered rate of 200 requests/s for 60 s
(--quick: 4 s), about 20× a province's peak.

The request is the one a call makes most: a key press answering a survey item, POST
/ivr/<token>/item/<item>?a=…&n=0&r=0 with Digits=1, signed as Twilio signs it. Every request is distinct (one per
callback and item), so every one really saves an answer. The calls are set up the way the product sets them up:
a ledger imported, the week drawn, each callback dialed (through `MockProvider`), then — unmeasured, as warm-up —
each call answered and its consent given through the same webhooks. Both servers run the production gunicorn
settings (callback/web/gunicorn_conf.py) on the same loopback port, one after the other, under the same load
(capacity/paced.py, open loop, latency from each request's due time).

Baseline: the floor (capacity/floor_app.py) — bare Flask + RequestValidator + VoiceResponse + one single-row INSERT.
CPU per request is the CPU time of the gunicorn processes and of the database's PostgreSQL backends over the run,
divided by the requests: unlike latency, it hardly depends on what else the machine is doing.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pgdb
from sqlalchemy import create_engine, func, select, text

from callback.config import Settings
from callback.db import session_factory
from callback.models import Answer, Attempt, Callback
from callback.telephony import MockProvider
from capacity import floor_app
from capacity.figures import Figure, judged
from capacity.paced import LoadResult, Request, offer
from capacity.processes import CpuSampler, busy_seconds, free_port, start_gunicorn, stop_group
from capacity.seeding import OPEN_ALL_DAY, drawn_callbacks
from ivr.dialer import dial_due
from ivr.ratelimit import NoLimit
from ivr.signing import sign_request
from survey.questionnaire import ITEMS

DB_NAME = pgdb.unique_name("cb_bench_webhook")
AUTH = "bench-webhook-auth-token"
RATE = 200.0
P99_LIMIT_MS = 50.0
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Call:
    token: str
    attempt_id: int
    sid: str


@dataclass(frozen=True)
class Served:
    load: LoadResult
    app_cpu_ms: float  # per request
    db_cpu_ms: float
    machine_busy: float = 0.0  # share of all cores busy during the run, every process counted
    ours_busy: float = 0.0  # share of all cores taken by the app, its database backends and the load generator


def calls_in_progress(url: str, base: str, count: int, out_dir: Path) -> list[Call]:
    """``count`` callbacks drawn and dialed: each has an attempt the provider accepted, as when a call rings."""
    drawn_callbacks(url, "HOOK", count, out_dir)
    settings = Settings(database_url=url, public_base_url=base, twilio_auth_token=AUTH, **OPEN_ALL_DAY)
    with session_factory(url)() as session:
        dial_due(session, MockProvider(), settings, datetime.now(UTC), limiter=NoLimit())
        rows = session.execute(select(Callback.token, Attempt.id, Attempt.provider_call_id)
                               .join(Attempt, Attempt.callback_id == Callback.id).order_by(Callback.id)).all()
    return [Call(*row) for row in rows]


def _signed(base: str, path: str, form: dict[str, str]) -> Request:
    return Request(path, urlencode(form), sign_request(base + path, form, AUTH))


def turns(calls: list[Call], base: str, step: str, digits: str = "1") -> list[Request]:
    """One signed request per call for ``step`` (answer, consent, or an item code)."""
    out = []
    for call in calls:
        form = {"AccountSid": "AC" + "0" * 32, "CallSid": call.sid, "CallStatus": "in-progress"}
        if step == "answer":
            path, form = f"/ivr/{call.token}/answer?a={call.attempt_id}", form | {"AnsweredBy": "human"}
        else:
            where = "consent" if step == "consent" else f"item/{step}"
            path, form = f"/ivr/{call.token}/{where}?a={call.attempt_id}&n=0&r=0", form | {"Digits": digits}
        out.append(_signed(base, path, form))
    return out


def answers(calls: list[Call], base: str, total: int) -> list[Request]:
    """The first ``total`` item answers, item by item across the calls, so no two requests are alike."""
    return [r for item in ITEMS for r in turns(calls, base, item.code)][:total]


def serve(app: str, env: dict[str, str], port: int, log: Path, warmup: list[Request], load: list[Request],
          database: str) -> Served:
    process = start_gunicorn(app, port, env, log, pythonpath=str(HERE))
    try:
        warm = offer(port, warmup, RATE)
        if warm.errors:
            raise RuntimeError(f"{warm.errors} of {warm.requests} warm-up requests failed; see {log}")
        machine, generator, started = busy_seconds(), time.process_time(), time.monotonic()
        with CpuSampler({"app": process.pid}, database) as cpu:
            result = offer(port, load, RATE)
        capacity = (time.monotonic() - started) * (os.cpu_count() or 1)
        ours = cpu.spent("app") + cpu.spent("db") + time.process_time() - generator
        machine = (busy_seconds() - machine) / capacity
    finally:
        stop_group(process)
    per_request = 1000 / max(result.requests, 1)
    return Served(result, cpu.spent("app") * per_request, cpu.spent("db") * per_request, machine, ours / capacity)


def count_rows(url: str, table: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return found


def measure(out_dir: Path, quick: bool) -> list[Figure]:
    seconds = 4 if quick else 60
    total = int(RATE * seconds)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    url = pgdb.create_database(DB_NAME)
    try:
        calls = calls_in_progress(url, base, -(-total // len(ITEMS)), out_dir)
        env = {"DATABASE_URL": url, "TWILIO_AUTH_TOKEN": AUTH, "PUBLIC_BASE_URL": base, "TELEPHONY": "simulator"}
        load = answers(calls, base, total)
        with create_engine(url).begin() as conn:
            conn.execute(text(floor_app.TABLE))
        floor_warmup = turns(calls[: int(RATE * 5)], base, "consent")
        floor = serve("floor_app:create_app()", env, port, out_dir / "webhook-floor.log", floor_warmup, load,
                      DB_NAME)
        warmup = turns(calls, base, "answer") + turns(calls, base, "consent")
        webhook = serve("callback.web.app:create_app()", env, port, out_dir / "webhook-app.log", warmup, load,
                        DB_NAME)
        with session_factory(url)() as session:
            saved = session.scalar(select(func.count()).select_from(Answer)) or 0
        floor_rows = count_rows(url, "floor_answers") - len(floor_warmup)
    finally:
        pgdb.drop_database(DB_NAME)
    return _figures(webhook, floor, saved, floor_rows, total, quick)


def _figures(webhook: Served, floor: Served, saved: int, floor_rows: int, total: int, quick: bool) -> list[Figure]:
    w, f = webhook.load, floor.load
    floor_label = "floor: Flask + RequestValidator + VoiceResponse + 1 INSERT"
    return [
        judged("webhook.p99_ms", f"answer webhook p99 latency at {RATE:.0f} req/s offered", w.percentile_ms(99), "ms",
               target=f"≤ {P99_LIMIT_MS:.0f} ms", ok=lambda v: v <= P99_LIMIT_MS, quick=quick,
               baseline=f.percentile_ms(99), baseline_label=floor_label,
               note=f"{w.requests:,} requests in {w.seconds:.1f} s; {saved:,} answers saved; retried on a "
                    f"recycled connection {w.retried}; sent late {w.late_sends}; the cores were "
                    f"{webhook.machine_busy:.0%} busy, {webhook.ours_busy:.0%} by the app, its database and the "
                    f"load generator (floor run: {floor.machine_busy:.0%}, {floor.ours_busy:.0%})"),
        Figure("webhook.p50_ms", "  p50 latency", w.percentile_ms(50), "ms", baseline=f.percentile_ms(50),
               baseline_label="floor"),
        Figure("webhook.max_ms", "  max latency", w.percentile_ms(100), "ms", baseline=f.percentile_ms(100),
               baseline_label="floor"),
        judged("webhook.errors", "  errors", w.errors, "errors", target="0", ok=lambda v: v == 0, quick=quick,
               baseline=f.errors, baseline_label="floor", note=f"the floor wrote {floor_rows:,} rows of {total:,}"),
        Figure("webhook.app_cpu_ms", "  app CPU per request (gunicorn processes)", webhook.app_cpu_ms, "ms",
               baseline=floor.app_cpu_ms, baseline_label="floor"),
        Figure("webhook.db_cpu_ms", "  database CPU per request (PostgreSQL backends)", webhook.db_cpu_ms, "ms",
               baseline=floor.db_cpu_ms, baseline_label="floor"),
    ]
