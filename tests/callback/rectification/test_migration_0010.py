"""Migration 0010 on a database with cases: a first callback whose overall rating (in the case's excerpt) was
基本满意 or 不满意 is marked as owed its 二次回访, so the beat places the revisits old cases are owed; a satisfied
first callback and a revisit's own case are not. Down again drops what 0010 added and keeps the cases."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import text

from callback.db import get_engine
from callback.migrate import alembic_config, upgrade_to_head

NOW = "2026-11-02 01:00:00"
ROWS_AT_0009 = [
    "INSERT INTO halls (id, code, name, timezone, created_at) VALUES (1, 'H', 'h', 'Asia/Shanghai', :now)",
    "INSERT INTO windows (id, hall_id, name, created_at) VALUES (1, 1, 'w', :now)",
    "INSERT INTO contacts (id, hall_id, phone, kind, created_at) VALUES (1, 1, '+8613800138000', 'mobile', :now)",
    "INSERT INTO cases (id, hall_id, case_no, window_id, contact_id, phone_kind, accepted_at, row_hash, created_at, "
    "updated_at) VALUES (1, 1, 'A1', 1, 1, 'mobile', :now, 'x', :now, :now)",
    "INSERT INTO callbacks (id, hall_id, case_id, contact_id, window_id, week, state, channel, attempts_used, token, "
    "flags, revisit_of_id, created_at, updated_at) VALUES "
    "(1, 1, 1, 1, 1, '2026-W45', 'complete', 'voice', 1, 't1', '{}', NULL, :now, :now), "
    "(2, 1, 1, 1, 1, '2026-W45', 'complete', 'voice', 1, 't2', '{}', NULL, :now, :now), "
    "(3, 1, 1, 1, 1, '2026-W45', 'complete', 'voice', 1, 't3', '{}', NULL, :now, :now), "
    "(4, 1, 1, 1, 1, '2026-W46', 'complete', 'voice', 1, 't4', '{}', 1, :now, :now)",
]
# callback 1 overall 不满意, 2 overall 满意 (opened for 体外循环), 3 no overall recorded, 4 a revisit still 不满意
EXCERPTS = {1: {"overall": "U"}, 2: {"overall": "S"}, 3: {"overall": None}, 4: {"overall": "B"}}
CASE = ("INSERT INTO rectifications (id, hall_id, callback_id, window_id, reasons, integrity, excerpt, state, "
        "opened_at, due_at, due_estimated, remind_at, created_at, updated_at) VALUES (:id, 1, :id, 1, '[]', :f, "
        ":excerpt, 'open', :now, :now, :f, :now, :now, :now)")


def test_0010_marks_the_revisits_old_cases_are_owed(empty_database_url: str) -> None:
    command.upgrade(alembic_config(empty_database_url), "0009")
    with get_engine(empty_database_url).begin() as conn:
        for statement in ROWS_AT_0009:
            conn.execute(text(statement), {"now": NOW})
        for case_id, excerpt in EXCERPTS.items():
            conn.execute(text(CASE), {"id": case_id, "excerpt": json.dumps(excerpt), "now": NOW, "f": False})
    upgrade_to_head(empty_database_url)
    with get_engine(empty_database_url).connect() as conn:
        rows = conn.execute(text("SELECT id, revisit_required, closed_without_feedback, close_reason, revisit_skipped "
                                 "FROM rectifications ORDER BY id")).all()
        assert [(r[0], bool(r[1]), bool(r[2]), r[3], r[4]) for r in rows] == [
            (1, True, False, None, None), (2, False, False, None, None), (3, False, False, None, None),
            (4, False, False, None, None)]
        assert conn.execute(text("SELECT count(*) FROM alerts")).scalar() == 0
    command.downgrade(alembic_config(empty_database_url), "0009")
    with get_engine(empty_database_url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rectifications")).scalar() == 4
        columns = conn.execute(text("SELECT * FROM rectifications")).keys()
        assert "revisit_required" not in columns and "close_reason" not in columns
