"""Measure 2: the weekly draw at a province's scale.

The data is generated in the server (generate_series) relative to the real clock, so the draw made now sees it as
the current month: 1,000 halls of 5,000 cases each in the draw's ledger window (+20% older cases outside it), ten
windows per hall, contacts at 0.9 per case (2% undialable, 0.5% opted out, 1% contacted 10 days ago), three earlier
weekly draws of 20 with a call each; and one hall of 1,000,000 cases alike. (--quick: 20 halls × 500, one of 20,000.)

- all draws: `worker.tasks.weekly_draw_all` is sent to two Celery worker processes, as the Monday beat does; the
  figure is the time until every hall's draw of the week is committed. Baseline: one `SELECT count(*)` over the
  same cases (the 1,000 halls' cases in the window).
- one hall of 1 M cases: `draw_weekly_sample` in this process, the median of three (each rolled back), first in a
  database of its own, then — after the workers' run — generated again next to the province's 1,000 halls, as a
  deployment holds it (the planner sees other statistics there). Baseline: `SELECT count(*)` over that hall's
  cases in the window. One 5,000-case hall of the province is timed the same way, to show what each of the
  thousand draws costs.
A draw still running after 60 s is cancelled (and the series stopped), so a plan gone wrong shows as "cancelled"
instead of stalling the run; the workers' run is given 300 s.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pgdb
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from callback.config import Settings
from callback.db import session_factory
from callback.draws.services import draw_weekly_sample, ledger_window
from callback.models import Hall
from capacity.figures import Figure, judged
from capacity.processes import redis_database, start_celery_worker, stop_group
from survey.weeks import week_of

DB_NAME = pgdb.unique_name("cb_bench_draw")
TZ = ZoneInfo("Asia/Shanghai")
WINDOWS_PER_HALL = 10
OLDER_SHARE = 0.2  # cases of earlier months, outside the draw's window
ALL_DRAWS_LIMIT_S, BIG_HALL_LIMIT_S = 60.0, 3.0
REPEAT = 3
CAP_S = 60.0  # a single draw still running after this is cancelled and reported as such


@dataclass(frozen=True)
class Block:
    """Halls ``first``..``first + halls - 1`` with ``cases`` cases each in the window; ids laid out contiguously."""

    first: int
    halls: int
    cases: int
    contact_base: int
    window_base: int
    case_base: int

    @property
    def total(self) -> int:  # cases per hall, older ones included
        return self.cases + int(self.cases * OLDER_SHARE)

    @property
    def contacts(self) -> int:  # per hall
        return int(self.cases * 0.9)

    @property
    def last(self) -> int:
        return self.first + self.halls - 1

    def then(self, cases: int) -> Block:
        """One hall of ``cases`` cases laid out after this block's halls, in the same database."""
        return Block(self.last + 1, 1, cases, self.contact_base + self.halls * self.contacts,
                     self.window_base + self.halls * WINDOWS_PER_HALL, self.case_base + self.halls * self.total)


HALLS = """INSERT INTO halls (id, code, name, timezone, created_at)
SELECT h, 'P' || lpad(h::text, 4, '0'), '基准大厅' || h, 'Asia/Shanghai', now() FROM generate_series(CAST(:first AS int), CAST(:last AS int)) h"""
WINDOWS = """INSERT INTO windows (id, hall_id, name, created_at)
SELECT :window_base + (h - :first) * :wph + w, h, '窗口' || w, now()
FROM generate_series(CAST(:first AS int), CAST(:last AS int)) h, generate_series(1, CAST(:wph AS int)) w"""
CONTACTS = """INSERT INTO contacts (id, hall_id, phone, kind, opted_out_at, last_contacted_at, created_at)
SELECT n, h, '+86138' || lpad(n::text, 8, '0'),
       CASE WHEN n % 50 = 0 THEN 'invalid' WHEN n % 97 = 0 THEN 'landline' ELSE 'mobile' END,
       CASE WHEN n % 200 = 7 THEN :now - interval '40 days' END,
       CASE WHEN n % 100 = 3 THEN :now - interval '10 days' WHEN n % 100 = 4 THEN :now - interval '60 days' END,
       now()
FROM (SELECT h, :contact_base + (h - :first) * :contacts + j AS n
      FROM generate_series(CAST(:first AS int), CAST(:last AS int)) h, generate_series(1, CAST(:contacts AS int)) j) g"""
CASES = """INSERT INTO cases (id, hall_id, case_no, window_id, contact_id, item_name, item_kind, applicant,
                              phone_kind, accepted_at, row_hash, created_at, updated_at)
SELECT :case_base + (h - :first) * :total + i, h, 'BJ' || lpad(i::text, 9, '0'),
       :window_base + (h - :first) * :wph + 1 + i % :wph,
       :contact_base + (h - :first) * :contacts + 1 + (i::bigint * 7919) % :contacts,
       '个体工商户设立登记', '即办件', '张三', 'mobile', t, md5(h || '-' || i), t, t
FROM (SELECT h, i, CASE WHEN i <= :cases THEN :since + (:until - :since) * ((i - 0.5) / :cases)
                        ELSE :since - interval '61 days' + interval '59 days' * ((i - :cases - 0.5) / (:total - :cases))
                   END AS t
      FROM generate_series(CAST(:first AS int), CAST(:last AS int)) h, generate_series(1, CAST(:total AS int)) i) g"""
EARLIER_DRAW = """INSERT INTO draws (hall_id, week, drawn_at, seed, fingerprint, size, candidates, excluded, params,
                                     sample_case_ids, created_at)
SELECT h, :week, :at, 'aa', 'bb', 20, 0, '{}', '{}', '[]', :at FROM generate_series(CAST(:first AS int), CAST(:last AS int)) h"""
EARLIER_CALLBACKS = """INSERT INTO callbacks (hall_id, draw_id, case_id, contact_id, window_id, week, state, channel,
                                              attempts_used, token, flags, created_at, updated_at)
SELECT c.hall_id, d.id, c.id, c.contact_id, c.window_id, d.week, 'complete', 'voice', 1, 'old-' || d.id || '-' || c.id,
       '{}', d.drawn_at, d.drawn_at
FROM cases c JOIN draws d ON d.hall_id = c.hall_id AND d.week = :week
WHERE c.hall_id BETWEEN :first AND :last AND (c.id - :case_base - (c.hall_id - :first) * :total) % 300 = :k
  AND (c.id - :case_base - (c.hall_id - :first) * :total) <= 6000"""
EARLIER_ATTEMPTS = """INSERT INTO attempts (hall_id, callback_id, number, status, last_sequence, placed_at, created_at)
SELECT cb.hall_id, cb.id, 1, 'completed', -1, :at + interval '1 hour', :at FROM callbacks cb
WHERE cb.week = :week AND cb.hall_id BETWEEN :first AND :last"""


def _window(now: datetime) -> tuple[str, datetime, datetime]:
    week = week_of(now, TZ)
    since, until = ledger_window(week, now, TZ)
    return week, since, min(until, now) - timedelta(minutes=10)


def _block_params(block: Block, now: datetime) -> dict[str, object]:
    _, since, until = _window(now)
    return {"first": block.first, "last": block.last, "cases": block.cases, "total": block.total,
            "contacts": block.contacts, "contact_base": block.contact_base, "window_base": block.window_base,
            "case_base": block.case_base, "wph": WINDOWS_PER_HALL, "since": since, "until": until, "now": now}


def _earlier_draws(conn, block: Block, now: datetime) -> None:  # noqa: ANN001
    for k in (1, 2, 3):
        at = now - timedelta(days=7 * k)
        params = _block_params(block, now) | {"week": week_of(at, TZ), "at": at, "k": k}
        for statement in (EARLIER_DRAW, EARLIER_CALLBACKS, EARLIER_ATTEMPTS):
            conn.execute(text(statement), params)


def generate(url: str, blocks: list[Block], now: datetime) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        # Generated rows are consistent by construction: skip the foreign-key triggers while writing millions.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for block in blocks:
            for statement in (HALLS, WINDOWS, CONTACTS, CASES):
                conn.execute(text(statement), _block_params(block, now))
            _earlier_draws(conn, block, now)
        for table in ("halls", "windows", "contacts", "cases", "draws", "callbacks", "attempts"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def _median_seconds(action: Callable[[], object], repeat: int = REPEAT) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def count_cases(url: str, first: int, last: int, now: datetime) -> Callable[[], int]:
    _, since, _ = _window(now)
    query = text("SELECT count(*) FROM cases WHERE hall_id BETWEEN :first AND :last "
                 "AND accepted_at >= :since AND accepted_at < :until")
    engine = create_engine(url)

    def run() -> int:
        with engine.connect() as conn:
            return conn.execute(query, {"first": first, "last": last, "since": since, "until": now}).scalar_one()

    return run


@dataclass(frozen=True)
class Timed:
    seconds: float  # median of the runs made
    runs: int
    candidates: int | None  # None when a run was cancelled at the cap
    capped: bool


def _cancel_after(session, seconds: float) -> threading.Timer:  # noqa: ANN001
    """Cancel the session's running statement after ``seconds`` (a plan gone wrong must not stall the run)."""
    raw = session.connection().connection.dbapi_connection
    timer = threading.Timer(seconds, getattr(raw, "cancel_safe", raw.cancel))
    timer.start()
    return timer


def draw_once(url: str, hall_id: int, cap: float) -> tuple[float, int | None]:
    """One draw of the hall's current week in this process, rolled back: (seconds, candidates or None if the
    draw was cancelled after ``cap`` seconds)."""
    with session_factory(url)() as session:
        hall = session.scalar(select(Hall).where(Hall.id == hall_id))
        timer, started = _cancel_after(session, cap), time.perf_counter()
        try:
            now = datetime.now(UTC)
            result = draw_weekly_sample(session, hall, week_of(now, TZ), now=now, settings=Settings(database_url=url))
            return time.perf_counter() - started, result.draw.candidates
        except OperationalError:  # cancelled
            return time.perf_counter() - started, None
        finally:
            timer.cancel()
            session.rollback()


def timed_draws(url: str, hall_id: int, cap: float) -> Timed:
    """The median of REPEAT draws of one hall; a draw cancelled at ``cap`` ends the series."""
    runs, candidates = [], None
    for _ in range(REPEAT):
        seconds, candidates = draw_once(url, hall_id, cap)
        runs.append(seconds)
        if candidates is None:
            return Timed(seconds, len(runs), None, True)
    return Timed(statistics.median(runs), len(runs), candidates, False)


def drawn_halls(url: str, week: str) -> Callable[[], int]:
    engine = create_engine(url)
    query = text("SELECT count(DISTINCT hall_id) FROM draws WHERE week = :week AND superseded_at IS NULL")

    def run() -> int:
        with engine.connect() as conn:
            return conn.execute(query, {"week": week}).scalar_one()

    return run


def wait_ready(app, workers: int, timeout: float = 90) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while len(app.control.ping(timeout=1.0) or []) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {workers} Celery workers did not answer a ping within {timeout:.0f} s")


def draw_all_with_celery(url: str, week: str, halls: int, out_dir: Path, timeout: float) -> tuple[float, int]:
    """Send the Monday beat's task to two worker processes; (seconds until every hall is drawn, halls drawn)."""
    from worker.celery_app import create_celery

    with redis_database() as redis_url:
        env = {"DATABASE_URL": url, "REDIS_URL": redis_url}
        workers = [start_celery_worker(f"draw{n}", env, out_dir / f"draw-worker-{n}.log") for n in (1, 2)]
        try:
            app = create_celery(Settings(database_url=url, redis_url=redis_url))
            wait_ready(app, len(workers))
            count, started = drawn_halls(url, week), time.monotonic()
            app.send_task("worker.tasks.weekly_draw_all")
            while (drawn := count()) < halls and time.monotonic() - started < timeout:
                time.sleep(0.1)
            return time.monotonic() - started, drawn
        finally:
            for process in workers:
                stop_group(process)


def _big(key: str, label: str, timed: Timed, baseline: float, quick: bool) -> Figure:
    note = (f"cancelled after {timed.seconds:.0f} s, the cap" if timed.capped
            else f"median of {timed.runs}; {timed.candidates:,} candidates after exclusions")
    return judged(key, label, timed.seconds, "s", target=f"≤ {BIG_HALL_LIMIT_S:.0f} s",
                  ok=lambda v: v <= BIG_HALL_LIMIT_S and not timed.capped, quick=quick, baseline=baseline,
                  baseline_label="SELECT count(*) over its cases", note=note)


def measure(out_dir: Path, quick: bool) -> list[Figure]:
    """Two databases: the province's halls (drawn by the workers) and the one big hall (drawn here)."""
    province = Block(1, 20, 500, 0, 0, 0) if quick else Block(1, 1000, 5000, 0, 0, 0)
    big = Block(1, 1, 20_000 if quick else 1_000_000, 0, 0, 0)
    names = {"province": f"{DB_NAME}_province", "big": f"{DB_NAME}_big"}
    try:
        started, now = time.perf_counter(), datetime.now(UTC)
        urls = {key: pgdb.create_database(name) for key, name in names.items()}
        generate(urls["province"], [province], now)
        generate(urls["big"], [big], now)
        generated = time.perf_counter() - started
        return _measure(urls, province, big, out_dir, quick, generated)
    finally:
        for name in names.values():
            pgdb.drop_database(name)


def _measure(urls: dict[str, str], province: Block, big: Block, out_dir: Path, quick: bool,
             generated: float) -> list[Figure]:
    now = datetime.now(UTC)
    count_province = _median_seconds(count_cases(urls["province"], province.first, province.last, now))
    count_small = _median_seconds(count_cases(urls["province"], province.first, province.first, now))
    count_big = _median_seconds(count_cases(urls["big"], big.first, big.last, now))
    small = timed_draws(urls["province"], province.first, CAP_S)
    one = timed_draws(urls["big"], big.first, CAP_S)
    all_s, drawn = draw_all_with_celery(urls["province"], week_of(now, TZ), province.halls, out_dir,
                                        timeout=CAP_S * 5)
    among = province.then(big.cases)  # the same hall again, now next to the province's 1,000 (after their run)
    generate(urls["province"], [among], now)
    count_among = _median_seconds(count_cases(urls["province"], among.first, among.first, now))
    shared = timed_draws(urls["province"], among.first, CAP_S)
    total = province.halls * province.cases
    return [
        judged("draw.all.seconds", f"all draws, {province.halls:,} halls × {province.cases:,} cases, 2 workers",
               all_s, "s", target=f"≤ {ALL_DRAWS_LIMIT_S:.0f} s",
               ok=lambda v: v <= ALL_DRAWS_LIMIT_S and drawn == province.halls, quick=quick,
               baseline=count_province, baseline_label=f"SELECT count(*) over the {total:,} cases",
               note=f"{drawn:,} of {province.halls:,} halls drawn; data generated in {generated:.0f} s"),
        _big("draw.big.seconds", f"one hall of {big.cases:,} cases, alone in its database", one, count_big, quick),
        _big("draw.big_among_province.seconds", f"  the same hall among the province's {province.halls:,}", shared,
             count_among, quick),
        Figure("draw.small.seconds", f"  one hall of {province.cases:,} cases, in process (median of {small.runs})",
               small.seconds, "s", baseline=count_small, baseline_label="SELECT count(*) over its cases"),
    ]
