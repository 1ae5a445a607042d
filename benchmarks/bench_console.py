"""The console benchmark (issue 14 Tests; README "Benchmarks"): the supervision console's two busiest pages with a
year of one hall's data, on PostgreSQL, each figure next to a baseline from the same run.

The year: 52 weeks × 20 drawn callbacks (answers, attempts, transcripts, suggestions with recordings, the
rectification cases their answers open, a few integrity reports and complaints), 5 on-site forms a week, a
1,000,000-case ledger (800,000 numbers), 50,000 evaluator presses, the weekly draws and publications. The rows are
made with set-based SQL (``INSERT … SELECT`` over ``generate_series``), in a database of the benchmark's own that
it creates and drops, then ``VACUUM ANALYZE``d as autovacuum would have.

Then, through the Flask test client (the whole app: login session, CSRF, templates, the ORM), logged in as a
督查科 supervisor, each page is rendered ``--repeat`` times after a warm-up:

| page | what |
| ``/console/week`` | this week (the dashboard): progress, alerts, overdue cases, the 12-week trend (13 weekly reports) |
| ``/console/week?week=…`` | a past week |
| ``/console/callbacks`` | this week's callbacks, and with filters over all 52 weeks (window and state; a rating,
|                        | integrity or complaint, which the page reads from the answers; with a suggestion, page 3) |

Target: p95 < 200 ms for every page. Baseline, same run: the login page (a console template with its session and
CSRF token, no data), itself next to ``GET /healthz`` (the app's floor). The number of SQL statements each page ran is
printed beside it (counted on the engine).

    flock /tmp/cb-bench.lock .venv/bin/python benchmarks/bench_console.py [--quick] [--repeat N] [--json FILE]

--quick: 3 weeks, 20,000 cases, 1,000 presses, 5 renders a page; the target is printed but not judged.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import secrets
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from capacity.figures import Figure, judged, line, load_now, machine  # noqa: E402  (after the path set-up above)
from pgdb import create_database, drop_database, unique_name  # noqa: E402
from sqlalchemy import Engine, event, text  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
TARGET_MS = 200.0
WINDOWS = ("综合受理窗口", "出件窗口", "不动产登记窗口", "市场监管窗口", "税务窗口", "社保医保窗口", "公安户政窗口",
           "公积金窗口", "民政窗口", "人社窗口", "住建窗口", "交通运输窗口", "卫健窗口", "教育窗口", "自然资源窗口",
           "生态环境窗口", "水利窗口", "农业农村窗口", "文旅窗口", "应急管理窗口")
STAFF_PER_WINDOW = 5
PER_WEEK = 20
ONSITE_PER_WEEK = 5
SUPERVISOR = "bench-supervisor"


@dataclass(frozen=True)
class Sizes:
    weeks: int
    cases: int
    contacts: int
    presses: int
    repeat: int

    @classmethod
    def of(cls, quick: bool, repeat: int | None) -> Sizes:
        if quick:
            return cls(weeks=3, cases=20_000, contacts=16_000, presses=1_000, repeat=repeat or 5)
        return cls(weeks=52, cases=1_000_000, contacts=800_000, presses=50_000, repeat=repeat or 60)


# --- the year's data, set-based ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Year:
    """What the pages are asked for: the hall, its weeks (oldest first; the last is the current week), a window."""

    hall_id: int
    weeks: list[str]
    window_id: int
    counts: dict[str, int]


def _week(moment: datetime) -> str:
    year, number, _ = moment.astimezone(TZ).isocalendar()
    return f"{year}-W{number:02d}"


def _mondays(now: datetime, weeks: int) -> list[datetime]:
    """Monday 00:00 (Beijing time) of each of the ``weeks`` weeks ending with the current one, as UTC."""
    local = now.astimezone(TZ)
    this_monday = datetime.combine(local.date() - timedelta(days=local.weekday()), datetime.min.time(), TZ)
    return [(this_monday - timedelta(weeks=weeks - 1 - k)).astimezone(UTC) for k in range(weeks)]


def generate(url: str, sizes: Sizes, now: datetime) -> Year:
    """Fill the fresh database at ``url`` with one hall's year; returns what the pages need and the row counts."""
    from sqlalchemy import create_engine

    mondays = _mondays(now, sizes.weeks)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(0.48)"))
        hall_id, window_ids, staff_ids = _hall(conn, now)
        steps = [("contacts and cases", lambda: _ledger(conn, hall_id, window_ids, staff_ids, sizes, mondays[0], now)),
                 ("draws", lambda: _draws(conn, hall_id, mondays, now)),
                 ("callbacks", lambda: _callbacks(conn, hall_id, window_ids, sizes, mondays, now)),
                 ("answers", lambda: _answers(conn, hall_id)),
                 ("suggestions and flags", lambda: _flags(conn, hall_id)),
                 ("attempts and transcripts", lambda: _attempts_and_transcripts(conn, hall_id)),
                 ("rectification cases", lambda: _rectifications(conn, hall_id, mondays, now)),
                 ("evaluator presses", lambda: _presses(conn, hall_id, window_ids, staff_ids, sizes, mondays[0], now)),
                 ("publications", lambda: _publications(conn, hall_id, mondays, now))]
        for name, step in steps:
            started = time.monotonic()
            step()
            print(f"  generated {name} in {time.monotonic() - started:.1f} s", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        started = time.monotonic()
        conn.execute(text("VACUUM ANALYZE"))
        print(f"  VACUUM ANALYZE in {time.monotonic() - started:.1f} s", flush=True)
        counts = {table: conn.scalar(text(f"SELECT count(*) FROM {table}")) for table in COUNTED}
    engine.dispose()
    _supervisor(url, now)
    return Year(hall_id, [_week(m) for m in mondays], window_ids[2], counts)


COUNTED = ("cases", "contacts", "callbacks", "answers", "attempts", "transcript_events", "rectifications",
           "evaluator_presses", "published_reports")


def _hall(conn: Any, now: datetime) -> tuple[int, list[int], list[int]]:
    hall_id = conn.scalar(text("INSERT INTO halls (code, name, timezone, created_at) "
                               "VALUES ('BENCH', '基准测试政务服务中心', 'Asia/Shanghai', :now) RETURNING id"), {"now": now})
    conn.execute(text("INSERT INTO windows (hall_id, name, role, created_at) "
                      "SELECT :hall, name, CASE WHEN n = 1 THEN 'comprehensive' WHEN n = 2 THEN 'issuing' "
                      "ELSE 'other' END, :now FROM unnest(CAST(:names AS text[])) WITH ORDINALITY AS w(name, n)"),
                 {"hall": hall_id, "names": list(WINDOWS), "now": now})
    window_ids = list(conn.scalars(text("SELECT id FROM windows WHERE hall_id = :hall ORDER BY id"), {"hall": hall_id}))
    conn.execute(text("INSERT INTO staff (hall_id, name, staff_no, window_id, created_at) "
                      "SELECT :hall, '工作人员' || lpad(n::text, 3, '0'), 'G' || lpad(n::text, 4, '0'), "
                      "(CAST(:windows AS int[]))[1 + (n - 1) / :per], :now FROM generate_series(1, :count) n"),
                 {"hall": hall_id, "windows": window_ids, "per": STAFF_PER_WINDOW,
                  "count": len(window_ids) * STAFF_PER_WINDOW, "now": now})
    staff_ids = list(conn.scalars(text("SELECT id FROM staff WHERE hall_id = :hall ORDER BY id"), {"hall": hall_id}))
    return hall_id, window_ids, staff_ids


def _ledger(conn: Any, hall_id: int, window_ids: list[int], staff_ids: list[int], sizes: Sizes,
            start: datetime, now: datetime) -> None:
    """The ledger: ``contacts`` numbers, and ``cases`` cases accepted evenly from the first Monday until now, case
    i at window i mod 20 with one of its five staff, its number one of the contacts (some applicants return)."""
    conn.execute(text("INSERT INTO contacts (hall_id, phone, kind, created_at) "
                      "SELECT :hall, '+86138' || lpad(n::text, 8, '0'), 'mobile', :now "
                      "FROM generate_series(1, :contacts) n"),
                 {"hall": hall_id, "contacts": sizes.contacts, "now": now})
    first = conn.scalar(text("SELECT min(id) FROM contacts WHERE hall_id = :hall"), {"hall": hall_id})
    conn.execute(text("""
        INSERT INTO cases (hall_id, case_no, window_id, staff_id, contact_id, item_name, item_kind, applicant,
                           phone_raw, phone_kind, accepted_at, promised_at, completed_at, row_hash, created_at,
                           updated_at)
        SELECT :hall, 'BC' || lpad(i::text, 8, '0'), (CAST(:windows AS int[]))[1 + i % :nw],
               (CAST(:staff AS int[]))[1 + (i % :nw) * :per + (i / :nw) % :per], :first + c.n - 1,
               '事项' || (i % 300), CASE WHEN i % 3 = 0 THEN '即办件' ELSE '承诺件' END, '申请人' || (i % 5000),
               '138' || lpad(c.n::text, 8, '0'), 'mobile', a.at, a.at + interval '5 days', a.at + interval '2 days',
               md5(i::text), :now, :now
        FROM generate_series(1, :cases) i
        CROSS JOIN LATERAL (SELECT 1 + (i::bigint * 7919) % :contacts AS n) c
        CROSS JOIN LATERAL (SELECT :start + (i - 1) * (:span / :cases) * interval '1 second' AS at) a
    """), {"hall": hall_id, "windows": window_ids, "staff": staff_ids, "nw": len(window_ids),
           "per": STAFF_PER_WINDOW, "first": first, "cases": sizes.cases, "contacts": sizes.contacts,
           "start": start, "span": (now - start).total_seconds(), "now": now})


def _draws(conn: Any, hall_id: int, mondays: list[datetime], now: datetime) -> None:
    conn.execute(text("""
        INSERT INTO draws (hall_id, week, drawn_at, seed, fingerprint, size, candidates, excluded, params,
                           sample_case_ids, created_at)
        SELECT :hall, w.week, w.monday + interval '9 hours', md5('seed' || w.k), md5('fp' || w.k), 20, 18000,
               '{}'::jsonb, jsonb_build_object('k', w.k - 1), '[]'::jsonb, :now
        FROM unnest(CAST(:weeks AS text[]), CAST(:mondays AS timestamptz[])) WITH ORDINALITY AS w(week, monday, k)
    """), {"hall": hall_id, "weeks": [_week(m) for m in mondays], "mondays": mondays, "now": now})


def _callbacks(conn: Any, hall_id: int, window_ids: list[int], sizes: Sizes, mondays: list[datetime],
               now: datetime) -> None:
    """20 drawn callbacks a week, from the week's cases: 14 complete (2 by SMS), 2 partial, 2 unreached, a
    hang-up before the first item and an opt-out; in the current week two are still going (SMS, a retry). Then
    five on-site forms a week (no case, no number)."""
    last = len(mondays) - 1
    conn.execute(text("""
        INSERT INTO callbacks (hall_id, draw_id, case_id, contact_id, window_id, week, state, outcome, channel,
                               attempts_used, next_action_at, token, flags, finished_at, created_at, updated_at)
        SELECT d.hall_id, d.id, c.id, c.contact_id, c.window_id, d.week, s.state,
               CASE s.state WHEN 'unreachable' THEN 'no_answer' WHEN 'drawn' THEN NULL WHEN 'sms' THEN NULL
                    ELSE s.state END,
               CASE WHEN j IN (12, 13) OR s.state = 'sms' THEN 'sms' ELSE 'voice' END,
               CASE WHEN s.state = 'unreachable' THEN 3 WHEN j < 10 THEN 1 ELSE 2 END,
               CASE WHEN s.state = 'drawn' THEN d.drawn_at + interval '2 days' END,
               md5('cb' || d.id || '-' || j), '{}'::jsonb,
               CASE WHEN s.state NOT IN ('drawn', 'sms') THEN d.drawn_at + (j + 1) * interval '1 hour' END,
               d.drawn_at, d.drawn_at
        FROM draws d
        CROSS JOIN generate_series(0, :per_week - 1) j
        CROSS JOIN LATERAL (SELECT CASE WHEN j < 14 THEN 'complete' WHEN j < 16 THEN 'partial'
                                        WHEN j = 16 AND (d.params->>'k')::int = :last THEN 'sms'
                                        WHEN j = 17 AND (d.params->>'k')::int = :last THEN 'drawn'
                                        WHEN j < 18 THEN 'unreachable' WHEN j = 18 THEN 'break_off'
                                        ELSE 'opted_out' END AS state) s
        JOIN cases c ON c.hall_id = d.hall_id
                    AND c.case_no = 'BC' || lpad((1 + (d.params->>'k')::int * :per_case_week
                                                  + j * (:per_case_week / :per_week))::text, 8, '0')
        WHERE d.hall_id = :hall
    """), {"hall": hall_id, "per_week": PER_WEEK, "last": last, "per_case_week": sizes.cases // len(mondays)})
    conn.execute(text("""
        INSERT INTO callbacks (hall_id, window_id, week, state, outcome, channel, attempts_used, token, flags,
                               finished_at, created_at, updated_at)
        SELECT d.hall_id, (CAST(:windows AS int[]))[1 + (f + (d.params->>'k')::int) % :nw], d.week, 'complete',
               'complete', 'onsite', 0, md5('form' || d.id || '-' || f), '{}'::jsonb,
               d.drawn_at + interval '2 days 3 hours', d.drawn_at + interval '2 days 5 hours',
               d.drawn_at + interval '2 days 5 hours'
        FROM draws d CROSS JOIN generate_series(0, :forms - 1) f
        WHERE d.hall_id = :hall AND d.drawn_at + interval '2 days 3 hours' <= :now
    """), {"hall": hall_id, "windows": window_ids, "nw": len(window_ids), "forms": ONSITE_PER_WEEK, "now": now})


ITEMS = "('attitude', 1), ('efficiency', 2), ('by_the_rules', 3), ('in_hall', 4), ('integrity', 5), ('overall', 6)"


def _answers(conn: Any, hall_id: int) -> None:
    """Six items for a finished response, the first three for a partial one: ratings 85 % 满意, 10 % 基本满意,
    5 % 不满意; 3 % not all done in the hall; 0.5 % report someone asking for something."""
    conn.execute(text(f"""
        INSERT INTO answers (hall_id, callback_id, item, value, key, channel, created_at, updated_at)
        SELECT hall_id, id, item, value,
               CASE WHEN value = 'S' THEN '1' WHEN value = 'B' THEN '2' WHEN value = 'U' THEN '3'
                    WHEN item = 'in_hall' THEN CASE value WHEN 'Y' THEN '1' ELSE '2' END
                    ELSE CASE value WHEN 'N' THEN '1' ELSE '2' END END,
               channel, finished_at, finished_at
        FROM (
            SELECT hall_id, id, channel, finished_at, item,
                   CASE WHEN item = 'in_hall' THEN CASE WHEN r < 0.97 THEN 'Y' ELSE 'N' END
                        WHEN item = 'integrity' THEN CASE WHEN r < 0.995 THEN 'N' ELSE 'Y' END
                        WHEN r < 0.85 THEN 'S' WHEN r < 0.95 THEN 'B' ELSE 'U' END AS value
            FROM (SELECT c.hall_id, c.id, c.channel, c.finished_at, it.item, random() AS r
                  FROM callbacks c CROSS JOIN (VALUES {ITEMS}) AS it(item, n)
                  WHERE c.hall_id = :hall AND (c.state = 'complete' OR (c.state = 'partial' AND it.n <= 3))) r
        ) a
    """), {"hall": hall_id})


def _flags(conn: Any, hall_id: int) -> None:
    """A third of the responses leave a suggestion (a voice one with its recording), one in ten of those a
    complaint; an integrity "yes" raised the alert."""
    conn.execute(text("""
        UPDATE callbacks SET
            suggestion = CASE WHEN r < 0.03 THEN '态度不好，让我跑了三趟' ELSE '希望增加自助打印机，材料清单再写细一点' END,
            suggestion_confidence = CASE WHEN channel = 'voice' THEN 0.82 END,
            recording_url = CASE WHEN channel = 'voice' THEN
                'http://recordings.simulator.invalid/2010-04-01/Accounts/AC0/Recordings/RE' || md5(id::text) END,
            recording_duration = CASE WHEN channel = 'voice' THEN 9 END,
            flags = flags || jsonb_build_object('complaint', r < 0.03, 'consent', true, 'reached_end', true)
        FROM (SELECT id AS cid, random() AS r FROM callbacks WHERE hall_id = :hall) x
        WHERE id = x.cid AND state IN ('complete', 'partial') AND (x.r < 0.33)
    """), {"hall": hall_id})
    conn.execute(text("""
        UPDATE callbacks c SET flags = c.flags || '{"integrity": true, "integrity_alert": true}'::jsonb
        FROM answers a WHERE a.callback_id = c.id AND a.item = 'integrity' AND a.value = 'Y' AND c.hall_id = :hall
    """), {"hall": hall_id})


def _attempts_and_transcripts(conn: Any, hall_id: int) -> None:
    """Each voice call's attempts (the last answered when the citizen was reached), and the transcript: the
    call's status, each question and the key pressed, the end."""
    conn.execute(text("""
        INSERT INTO attempts (hall_id, callback_id, number, provider_call_id, status, answered_by, last_sequence,
                              disposition, placed_at, answered_at, ended_at, duration, created_at)
        SELECT c.hall_id, c.id, n, 'CA' || md5(c.id || '-' || n), 'completed', NULL, 4,
               CASE WHEN n = c.attempts_used AND c.state NOT IN ('unreachable', 'drawn') THEN 'answered'
                    ELSE 'no_answer' END,
               c.created_at + (n - 1) * interval '2 hours', NULL, c.created_at + (n - 1) * interval '2 hours 2 minutes',
               95, c.created_at
        FROM callbacks c CROSS JOIN LATERAL generate_series(1, c.attempts_used) n
        WHERE c.hall_id = :hall AND c.channel = 'voice'
    """), {"hall": hall_id})
    conn.execute(text("""
        INSERT INTO transcript_events (hall_id, callback_id, at, kind, text, data)
        SELECT a.hall_id, a.callback_id, a.created_at + s.n * interval '5 seconds', s.kind,
               CASE s.kind WHEN 'prompt' THEN '请问您对' || a.item || '是否满意？' ELSE a.key END, '{}'::jsonb
        FROM answers a CROSS JOIN (VALUES (0, 'prompt'), (1, 'key')) AS s(n, kind)
        WHERE a.hall_id = :hall
        UNION ALL
        SELECT c.hall_id, c.id, c.created_at + s.n * interval '10 minutes', 'status', s.text, '{}'::jsonb
        FROM callbacks c CROSS JOIN (VALUES (0, '开始回访'), (1, '回访结束')) AS s(n, text)
        WHERE c.hall_id = :hall AND c.channel <> 'onsite'
    """), {"hall": hall_id})


def _rectifications(conn: Any, hall_id: int, mondays: list[datetime], now: datetime) -> None:
    """A case for every response with a 基本满意 or 不满意, a "no" on 体外循环, an integrity "yes" or a complaint;
    due three days later. Cases of the last two weeks are still open or fed back; of older ones, one in twenty
    was left open (overdue), the rest closed after feedback."""
    recent = mondays[-2] if len(mondays) > 1 else mondays[-1]
    conn.execute(text("""
        INSERT INTO rectifications (hall_id, callback_id, window_id, reasons, integrity, excerpt, state, opened_at,
                                    due_at, due_estimated, remind_at, action, rectified_at, feedback, feedback_via,
                                    feedback_at, closed_at, revisit_required, closed_without_feedback, created_at,
                                    updated_at)
        SELECT c.hall_id, c.id, c.window_id, to_jsonb(b.reasons), b.integrity, '{}'::jsonb, s.state,
               c.finished_at, c.finished_at + interval '3 days', false, c.finished_at + interval '2 days',
               CASE WHEN s.state <> 'open' THEN '已约谈窗口人员并加强业务培训' END,
               CASE WHEN s.state <> 'open' THEN c.finished_at + interval '1 day' END,
               CASE WHEN s.state <> 'open' THEN '您反映的问题已整改，感谢您的监督。' END,
               CASE WHEN s.state <> 'open' THEN 'phone' END,
               CASE WHEN s.state <> 'open' THEN c.finished_at + interval '2 days' END,
               CASE WHEN s.state = 'closed' THEN c.finished_at + interval '4 days' END,
               b.unsatisfied, false, c.finished_at, c.finished_at
        FROM callbacks c
        JOIN LATERAL (
            SELECT array_remove(ARRAY[
                       CASE WHEN bool_or(a.item = 'attitude' AND a.value IN ('B', 'U')) THEN '服务态度' END,
                       CASE WHEN bool_or(a.item = 'efficiency' AND a.value IN ('B', 'U')) THEN '办事效率' END,
                       CASE WHEN bool_or(a.item = 'by_the_rules' AND a.value IN ('B', 'U')) THEN '按章办事' END,
                       CASE WHEN bool_or(a.item = 'in_hall' AND a.value = 'N') THEN '体外循环' END,
                       CASE WHEN bool_or(a.item = 'integrity' AND a.value = 'Y') THEN '廉洁自律' END,
                       CASE WHEN (c.flags->>'complaint')::boolean THEN '意见投诉' END], NULL) AS reasons,
                   coalesce(bool_or(a.item = 'integrity' AND a.value = 'Y'), false) AS integrity,
                   coalesce(bool_or(a.item = 'overall' AND a.value IN ('B', 'U')), false) AS unsatisfied
            FROM answers a WHERE a.callback_id = c.id
        ) b ON cardinality(b.reasons) > 0
        CROSS JOIN LATERAL (SELECT CASE WHEN c.finished_at >= :recent THEN
                                            CASE WHEN c.id % 2 = 0 THEN 'open' ELSE 'feedback_given' END
                                        WHEN c.id % 20 = 0 THEN 'open' ELSE 'closed' END AS state) s
        WHERE c.hall_id = :hall AND c.finished_at IS NOT NULL
    """), {"hall": hall_id, "recent": recent})


def _presses(conn: Any, hall_id: int, window_ids: list[int], staff_ids: list[int], sizes: Sizes,
             start: datetime, now: datetime) -> None:
    """Evaluator presses through the year at every window: 85 % 满意 (of them a third 非常满意), 10 % 基本满意,
    5 % 不满意."""
    conn.execute(text("""
        INSERT INTO evaluator_presses (hall_id, pressed_at, window_id, staff_id, rating, level, case_no, press_key,
                                       created_at)
        SELECT :hall, :start + random() * (:now - :start), (CAST(:windows AS int[]))[1 + i % :nw],
               (CAST(:staff AS int[]))[1 + (i % :nw) * :per + (i / :nw) % :per], p.rating,
               CASE p.rating WHEN 'S' THEN CASE WHEN i % 3 = 0 THEN '非常满意' ELSE '满意' END
                             WHEN 'B' THEN '基本满意' ELSE '不满意' END,
               NULL, md5('press' || i), :now
        FROM generate_series(1, :presses) i
        CROSS JOIN LATERAL (SELECT CASE WHEN r < 0.85 THEN 'S' WHEN r < 0.95 THEN 'B' ELSE 'U' END AS rating
                            FROM (SELECT random() + 0 * i AS r) x) p
    """), {"hall": hall_id, "start": start, "now": now, "windows": window_ids, "staff": staff_ids,
           "nw": len(window_ids), "per": STAFF_PER_WINDOW, "presses": sizes.presses})


def _publications(conn: Any, hall_id: int, mondays: list[datetime], now: datetime) -> None:
    """Every week published within the week after it, but the last two (one due, the current one open)."""
    conn.execute(text("""
        INSERT INTO published_reports (hall_id, kind, period, version, figures, approved_by, published_at)
        SELECT hall_id, 'week', week, 1, '{"windows": [], "totals": {}}'::jsonb, '王主任',
               drawn_at + interval '8 days'
        FROM draws WHERE hall_id = :hall AND (params->>'k')::int < :published
    """), {"hall": hall_id, "published": max(len(mondays) - 2, 0)})


def _supervisor(url: str, now: datetime) -> None:
    """The 督查科 account the pages are rendered for, through callback.accounts (scrypt hash)."""
    from callback.accounts.roles import Role
    from callback.accounts.services import NewUser, create_user
    from callback.db import session_factory
    from callback.halls.services import get_hall

    with session_factory(url).begin() as session:
        create_user(session, get_hall(session, "BENCH"), NewUser(SUPERVISOR, PASSWORD, Role.SUPERVISOR,
                                                                   display_name="张督查"), actor="bench", at=now)


PASSWORD = secrets.token_urlsafe(12)


# --- rendering the pages ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    key: str
    label: str
    path: str


def pages(year: Year) -> list[Page]:
    past = year.weeks[len(year.weeks) // 2]
    return [
        Page("week", "/console/week (this week)", "/console/week"),
        Page("week_past", f"/console/week?week={past}", f"/console/week?week={past}"),
        Page("callbacks", "/console/callbacks (this week)", "/console/callbacks"),
        Page("callbacks_all", "/console/callbacks?week=all", "/console/callbacks?week=all"),
        Page("callbacks_window", "callbacks, all weeks, a window, answered",
             f"/console/callbacks?week=all&window={year.window_id}&state=answered"),
        Page("callbacks_rating", "callbacks, all weeks, rating 不满意", "/console/callbacks?week=all&rating=U"),
        Page("callbacks_integrity", "callbacks, all weeks, integrity", "/console/callbacks?week=all&integrity=1"),
        Page("callbacks_complaint", "callbacks, all weeks, complaint", "/console/callbacks?week=all&complaint=1"),
        Page("callbacks_suggestion", "callbacks, all weeks, suggestion, page 3",
             "/console/callbacks?week=all&suggestion=1&page=3"),
    ]


_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def log_in(client: Any) -> None:
    token = _TOKEN.search(client.get("/console/login").get_data(as_text=True))
    assert token, "no CSRF token on the login page"
    response = client.post("/console/login", data={"csrf_token": token[1], "username": SUPERVISOR,
                                                    "password": PASSWORD})
    assert response.status_code == 302, f"login refused ({response.status_code})"


@contextmanager
def counting(engine: Engine) -> Iterator[list[int]]:
    """Counts the SQL statements run on ``engine`` while inside."""
    count = [0]

    def tick(*_args: Any) -> None:
        count[0] += 1

    event.listen(engine, "before_cursor_execute", tick)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", tick)


@dataclass(frozen=True)
class Timing:
    p50: float
    p95: float
    statements: float
    size: int
    shows: str  # what the last render showed, so a page that came back empty is seen as such


def timed(client: Any, path: str, repeat: int, engine: Engine, warm: int = 3) -> Timing:
    """Render ``path`` ``warm`` times, then ``repeat`` times measured (milliseconds of wall time a request)."""
    for _ in range(warm):
        _get(client, path)
    samples, page = [], ""
    with counting(engine) as statements:
        for _ in range(repeat):
            started = time.perf_counter()
            page = _get(client, path)
            samples.append((time.perf_counter() - started) * 1000)
    return Timing(statistics.median(samples), percentile(samples, 95), statements[0] / repeat,
                  len(page.encode("utf-8")), shows(page))


def _get(client: Any, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, f"{path}: {response.status_code}"
    return response.get_data(as_text=True)


_LISTED = re.compile(r"共 (\d+) 条，第 (\d+) / (\d+) 页")
_OVERDUE = re.compile(r"逾期未反馈的整改 (\d+) 件")
_TREND = re.compile(r"(\d{4}-W\d\d) (\d+\.\d)")


def shows(page: str) -> str:
    """A few words on what a rendered page holds: the list's count and page, or the dashboard's overdue cases and
    scored trend weeks."""
    if listed := _LISTED.search(page):
        return f"{int(listed[1]):,} callbacks listed, page {listed[2]} of {listed[3]}"
    if 'class="cb-filters' in page:
        return "no callback listed (the empty state)"
    overdue = _OVERDUE.search(page)
    return f"{overdue[1] if overdue else 0} overdue cases, {len(set(_TREND.findall(page)))} scored weeks in the trend"


def percentile(samples: list[float], pct: float) -> float:
    """The nearest-rank percentile (p95 of 60 samples is the 57th smallest)."""
    ordered = sorted(samples)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]


def measure(url: str, year: Year, sizes: Sizes, quick: bool) -> list[Figure]:
    from callback.db import get_engine
    from callback.web.app import create_app

    app = create_app({"database_url": url, "secret_key": secrets.token_hex(32)})
    engine = get_engine(url)
    anonymous, client = app.test_client(), app.test_client()
    log_in(client)
    health = timed(anonymous, "/healthz", sizes.repeat, engine)
    login = timed(anonymous, "/console/login", sizes.repeat, engine)
    figures = [Figure("console.login.p50_ms", "GET /console/login p50", login.p50, "ms", baseline=health.p50,
                      baseline_label="GET /healthz p50, the app's floor",
                      note=f"a console template, no data; {login.statements:.0f} SQL statements"),
               Figure("console.login.p95_ms", "GET /console/login p95", login.p95, "ms", baseline=health.p95,
                      baseline_label="GET /healthz p95")]
    for page in pages(year):
        t = timed(client, page.path, sizes.repeat, engine)
        note = f"{t.shows}; {t.statements:.0f} SQL statements, {t.size / 1024:.0f} KiB"
        figures += [Figure(f"console.{page.key}.p50_ms", f"{page.label} p50", t.p50, "ms", baseline=login.p50,
                           baseline_label="login page p50", note=note),
                    judged(f"console.{page.key}.p95_ms", f"{page.label} p95", t.p95, "ms", target=f"< {TARGET_MS:.0f} ms",
                           ok=lambda v: v < TARGET_MS, quick=quick, baseline=login.p95,
                           baseline_label="login page p95")]
    return figures


# --- the run ------------------------------------------------------------------------------------------------------


def run(sizes: Sizes, quick: bool) -> dict[str, Any]:
    name = unique_name("bench_console")
    url = create_database(name)
    try:
        now = datetime.now(UTC)
        started = time.monotonic()
        year = generate(url, sizes, now)
        print(f"  data: {describe(year)} ({time.monotonic() - started:.0f} s)", flush=True)
        load_before, started = load_now(), time.monotonic()
        figures = measure(url, year, sizes, quick)
        for figure in figures:
            print(line(figure), flush=True)
        print(f"  ({sizes.repeat} renders a page; {time.monotonic() - started:.0f} s; load average "
              f"{load_before:.2f} before, {load_now():.2f} after)", flush=True)
        return {"measure": "console", "load_before": load_before, "load_after": load_now(), "data": year.counts,
                "weeks": len(year.weeks), "figures": [f.as_json() for f in figures]}
    finally:
        drop_database(name)


def describe(year: Year) -> str:
    c = year.counts
    return (f"{len(year.weeks)} weeks, {c['callbacks']:,} callbacks, {c['answers']:,} answers, "
            f"{c['transcript_events']:,} transcript events, {c['rectifications']:,} rectification cases, "
            f"{c['cases']:,} cases, {c['contacts']:,} numbers, {c['evaluator_presses']:,} evaluator presses")


def summary(figures: list[dict[str, Any]]) -> None:
    judged_ = [f for f in figures if f["met"] is not None]
    if judged_:
        missed = [f["label"] for f in judged_ if not f["met"]]
        print(f"\ntargets met: {len(judged_) - len(missed)} of {len(judged_)}"
              + (f"; NOT met: {'; '.join(missed)}" if missed else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, the target not judged")
    parser.add_argument("--repeat", type=int, help="renders a page (default 60; 5 with --quick)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    sizes = Sizes.of(args.quick, args.repeat)
    print(f"machine: {machine()}", flush=True)
    print(f"\n== console: the dashboard and the callbacks list, one hall's year{' (--quick sizes)' if args.quick else ''}",
          flush=True)
    section = run(sizes, args.quick)
    summary(section["figures"])
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "quick": args.quick, "measures": [section]},
                                        ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
