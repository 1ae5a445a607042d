"""Benchmark: the weekly draw on PostgreSQL with 1,000,000 cases in the month.

Times `callback.draws.services.draw_weekly_sample` — the few excluded contacts and drawn cases fetched first, then one
pass over the month's cases that sets the excluded aside with hashed ``= ANY(array)`` checks, sorts by case id
and returns the SHA-256 fingerprint (computed by the server) and the candidate ids packed as integers; counts
by reason and the seeded sample in Python; 20 callback rows written — next to the naive
``ORDER BY random() LIMIT 20`` query with the same exclusions and one case per number (DISTINCT ON),
interleaved in the same run, and prints both and their ratio. Target: draw ≤ 1 s and no slower than naive.
The naive query is also timed with the draw's session settings (work_mem, jit off), for fairness.

    .venv/bin/python benchmarks/bench_draw.py [--cases 1000000] [--repeat 5] [--keep]

It creates (and afterwards drops) its own database next to the test one (BENCH_PG_ADMIN_URL or
TEST_PG_ADMIN_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres). Data is generated in the
server with generate_series: 1,000,000 cases in November 2026 plus 200,000 in October, 40 windows,
~900,000 contacts (2% undialable, 0.5% opted out, 1% contacted 10 days ago), three earlier weekly draws with
call attempts, and a five-number deny list.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pgdb  # noqa: E402  (benchmarks/ is on sys.path when a script runs)

from callback.config import Settings  # noqa: E402
from callback.db import session_factory  # noqa: E402
from callback.draws.services import (  # noqa: E402
    DrawParams,
    _tune_for_one_big_query,
    derive_candidates,
    draw_weekly_sample,
)
from callback.models import Hall  # noqa: E402

DB_NAME = "cb_bench_draw"
SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEK = "2026-W49"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)  # Monday 09:00, the scheduled time
MONTH_START = datetime(2026, 11, 1, tzinfo=SHANGHAI).astimezone(UTC)
PREVIOUS_MONTH = datetime(2026, 10, 1, tzinfo=SHANGHAI).astimezone(UTC)
WINDOWS = 40
DENY = ",".join(f"+86138{n:08d}" for n in (11, 22, 33, 44, 55))


def create_database() -> str:
    return pgdb.create_database(DB_NAME)


def drop_database() -> None:
    pgdb.drop_database(DB_NAME)


GENERATE = [
    "INSERT INTO halls (id, code, name, timezone, created_at) VALUES (1, 'BENCH', '基准测试中心', 'Asia/Shanghai', now())",
    f"INSERT INTO windows (id, hall_id, name, created_at) SELECT i, 1, '窗口' || i, now() FROM generate_series(1, {WINDOWS}) i",
    """INSERT INTO contacts (id, hall_id, phone, kind, opted_out_at, last_contacted_at, created_at)
       SELECT i, 1, '+86138' || lpad(i::text, 8, '0'),
              CASE WHEN i % 50 = 0 THEN 'invalid' WHEN i % 97 = 0 THEN 'landline' ELSE 'mobile' END,
              CASE WHEN i % 200 = 7 THEN :now - interval '40 days' END,
              CASE WHEN i % 100 = 3 THEN :now - interval '10 days'
                   WHEN i % 100 = 4 THEN :now - interval '60 days' END,
              now()
       FROM generate_series(1, :contacts) i""",
    """INSERT INTO cases (id, hall_id, case_no, window_id, contact_id, item_name, item_kind, applicant, phone_raw,
                          phone_kind, accepted_at, row_hash, created_at, updated_at)
       SELECT i, 1, 'BJ' || lpad(i::text, 9, '0'), 1 + i % :windows, 1 + (i::bigint * 7919) % :contacts,
              '个体工商户设立登记', '即办件', '张三', NULL, 'mobile', t, md5(i::text), t, t
       FROM (SELECT i, CASE WHEN i <= :cases
                            THEN :month + (:now - :month) * ((i - 0.5) / :cases)
                            ELSE :prev + (:month - :prev) * ((i - :cases - 0.5) / :older) END AS t
             FROM generate_series(1, :cases + :older) i) g""",
]


def earlier_draws(conn) -> None:  # noqa: ANN001
    """Three earlier weekly draws of 20 with one call attempt each, as a live system would have."""
    for k, week in enumerate(("2026-W46", "2026-W47", "2026-W48")):
        drawn_at = NOW - timedelta(days=7 * (3 - k))
        draw_id = conn.execute(text(
            "INSERT INTO draws (hall_id, week, drawn_at, seed, fingerprint, size, candidates, excluded, params,"
            " sample_case_ids, created_at) VALUES (1, :w, :t, 'aa', 'bb', 20, 0, '{}', '{}', '[]', :t) RETURNING id"
        ), {"w": week, "t": drawn_at}).scalar_one()
        conn.execute(text(
            "INSERT INTO callbacks (hall_id, draw_id, case_id, contact_id, window_id, week, state, channel,"
            " attempts_used, next_action_at, token, flags, created_at, updated_at)"
            " SELECT 1, :d, c.id, c.contact_id, c.window_id, :w, 'complete', 'voice', 1, NULL,"
            " 'tok-' || :d || '-' || c.id, '{}', :t, :t FROM cases c WHERE c.id % 50000 = :k * 7 + 1"
        ), {"d": draw_id, "w": week, "t": drawn_at, "k": k})
        conn.execute(text(
            "INSERT INTO attempts (hall_id, callback_id, number, status, last_sequence, placed_at, created_at)"
            " SELECT 1, cb.id, 1, 'completed', -1, :t + interval '1 hour', :t FROM callbacks cb WHERE cb.draw_id = :d"
        ), {"d": draw_id, "t": drawn_at})


def generate(url: str, cases: int) -> None:
    params = {"now": NOW, "month": MONTH_START, "prev": PREVIOUS_MONTH, "cases": cases, "older": cases // 5,
              "contacts": int(cases * 0.9), "windows": WINDOWS}
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # generated rows: skip FK triggers
        for statement in GENERATE:
            conn.execute(text(statement), params)
        earlier_draws(conn)
        for table in ("halls", "windows", "contacts", "cases", "draws", "callbacks", "attempts"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


NAIVE = """
SELECT id FROM (
  SELECT DISTINCT ON (c.contact_id) c.id
  FROM cases c JOIN contacts ct ON ct.id = c.contact_id
  WHERE c.hall_id = :hall AND c.accepted_at >= :since AND c.accepted_at < :until AND c.created_at <= :as_of
    AND ct.kind IN ('mobile', 'landline')
    AND (ct.opted_out_at IS NULL OR ct.opted_out_at > :as_of)
    AND ct.phone <> ALL(:deny)
    AND NOT EXISTS (SELECT 1 FROM callbacks cb LEFT JOIN draws d ON d.id = cb.draw_id
                    WHERE cb.case_id = c.id AND cb.hall_id = :hall
                      AND ((cb.draw_id IS NULL AND cb.created_at < :as_of)
                           OR (d.drawn_at < :as_of AND (d.superseded_at IS NULL OR d.superseded_at > :as_of))))
    AND NOT coalesce(ct.last_contacted_at >= :cool AND ct.last_contacted_at < :as_of, false)
    AND NOT EXISTS (SELECT 1 FROM callbacks cb JOIN draws d ON d.id = cb.draw_id
                    WHERE cb.contact_id = ct.id AND d.drawn_at >= :cool AND d.drawn_at < :as_of
                      AND (d.superseded_at IS NULL OR d.superseded_at > :as_of))
    AND NOT EXISTS (SELECT 1 FROM callbacks cb WHERE cb.contact_id = ct.id AND cb.draw_id IS NULL
                      AND cb.created_at >= :cool AND cb.created_at < :as_of)
    AND NOT EXISTS (SELECT 1 FROM attempts a JOIN callbacks cb ON cb.id = a.callback_id
                    WHERE cb.contact_id = ct.id AND coalesce(a.placed_at, a.created_at) >= :cool
                      AND coalesce(a.placed_at, a.created_at) < :as_of)
    AND NOT EXISTS (SELECT 1 FROM messages m JOIN callbacks cb ON cb.id = m.callback_id
                    WHERE cb.contact_id = ct.id AND m.direction = 'out'
                      AND m.created_at >= :cool AND m.created_at < :as_of)
  ORDER BY c.contact_id, c.accepted_at DESC, c.id DESC
) eligible
ORDER BY random() LIMIT 20
"""


def time_draw(url: str, settings: Settings) -> tuple[float, int]:
    with session_factory(url)() as session:
        hall = session.scalar(select(Hall).where(Hall.code == "BENCH"))
        started = time.perf_counter()
        result = draw_weekly_sample(session, hall, WEEK, now=NOW, settings=settings)
        elapsed = time.perf_counter() - started
        assert result.created and len(result.sample) == 20
        session.rollback()  # leave the week undrawn for the next repetition
        return elapsed, result.draw.candidates


def time_naive(url: str, settings: Settings, tuned: bool = False) -> float:
    """The naive query; ``tuned`` gives it the draw's session settings (work_mem, no JIT) for a fair look."""
    p = DrawParams.build(WEEK, NOW, SHANGHAI, settings)
    args = {"hall": 1, "since": p.since, "until": p.until, "as_of": p.as_of,
            "cool": p.as_of - timedelta(days=p.cooldown_days), "deny": list(p.deny_list)}
    with session_factory(url)() as session:
        if tuned:
            _tune_for_one_big_query(session)
        started = time.perf_counter()
        ids = session.execute(text(NAIVE), args).scalars().all()
        elapsed = time.perf_counter() - started
        assert len(ids) == 20
        return elapsed


def time_derivation(url: str, settings: Settings) -> float:
    p = DrawParams.build(WEEK, NOW, SHANGHAI, settings)
    with session_factory(url)() as session:
        started = time.perf_counter()
        derive_candidates(session, 1, p)
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args()
    url = create_database()
    try:
        started = time.perf_counter()
        generate(url, args.cases)
        print(f"generated {args.cases:,} cases in the month (+{args.cases // 5:,} in the previous month) "
              f"in {time.perf_counter() - started:.1f} s")
        settings = Settings(database_url=url, deny_list=DENY)
        time_draw(url, settings), time_naive(url, settings)  # warm caches and connection pools
        runs: dict[str, list[float]] = {"draw": [], "derive": [], "naive": [], "naive_tuned": []}
        candidates = 0
        for _ in range(args.repeat):  # interleaved, so a burst of load elsewhere hits both alike
            elapsed, candidates = time_draw(url, settings)
            runs["draw"].append(elapsed)
            runs["naive"].append(time_naive(url, settings))
            runs["derive"].append(time_derivation(url, settings))
            runs["naive_tuned"].append(time_naive(url, settings, tuned=True))
        report(runs, candidates)
        draw, naive = statistics.median(runs["draw"]), statistics.median(runs["naive"])
        ok = draw <= 1.0 and draw <= naive
        print("target met: draw ≤ 1 s and no slower than naive" if ok else "TARGET MISSED")
        return 0 if ok else 1
    finally:
        if not args.keep:
            drop_database()


def report(runs: dict[str, list[float]], candidates: int) -> None:
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (1 min)")
    print(f"candidates after exclusions: {candidates:,}")
    labels = {
        "draw": "draw (draw_weekly_sample, incl. 20 callbacks)",
        "derive": "  of which candidate derivation + fingerprint",
        "naive": "naive ORDER BY random() LIMIT 20",
        "naive_tuned": "naive, with the draw's work_mem / jit=off",
    }
    for key, label in labels.items():
        values = runs[key]
        print(f"{label:<48} median {med[key] * 1000:8.1f} ms  (min {min(values) * 1000:.1f}, "
              f"max {max(values) * 1000:.1f}, n={len(values)})")
    print(f"ratio draw / naive:       {med['draw'] / med['naive']:.2f}")
    print(f"ratio draw / naive tuned: {med['draw'] / med['naive_tuned']:.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
