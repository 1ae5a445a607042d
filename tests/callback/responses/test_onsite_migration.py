"""Migration 0009 (on-site forms): a database at 0008 with a drawn callback upgrades with its rows intact and then
takes a callback with no case and no contact; downgrading to 0008 drops the on-site forms (and what hangs off
them) and keeps every other callback."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from callback.db import get_engine
from callback.migrate import alembic_config, upgrade_to_head
from tests.test_schema import NOW, ROWS_AT_0005

ONSITE = [
    "INSERT INTO callbacks (id, hall_id, case_id, contact_id, window_id, week, state, channel, attempts_used, token, "
    "flags, created_at, updated_at) VALUES (2, 1, NULL, NULL, 1, '2026-W45', 'complete', 'onsite', 0, 'u', '{}', "
    ":now, :now)",
    "INSERT INTO answers (hall_id, callback_id, item, value, key, channel, created_at, updated_at) "
    "VALUES (1, 2, 'overall', 'U', '3', 'onsite', :now, :now)",
    "INSERT INTO transcript_events (hall_id, callback_id, at, kind, text, data) VALUES (1, 2, :now, 'note', 'x', '{}')",
]


def _rows(url: str, statements: list[str]) -> None:
    with get_engine(url).begin() as conn:
        for statement in statements:
            conn.execute(text(statement), {"now": NOW})


def _count(url: str, query: str) -> int:
    with get_engine(url).connect() as conn:
        return conn.execute(text(query)).scalar()


def test_0009_up_and_down_with_rows(empty_database_url: str) -> None:
    command.upgrade(alembic_config(empty_database_url), "0008")
    _rows(empty_database_url, ROWS_AT_0005)
    command.upgrade(alembic_config(empty_database_url), "0009")
    _rows(empty_database_url, ONSITE)
    assert _count(empty_database_url, "SELECT count(*) FROM callbacks WHERE case_id IS NULL AND contact_id IS NULL") == 1
    command.downgrade(alembic_config(empty_database_url), "0008")
    with get_engine(empty_database_url).connect() as conn:
        assert conn.execute(text("SELECT id, case_id, contact_id FROM callbacks")).all() == [(1, 1, 1)]
        assert conn.execute(text("SELECT count(*) FROM answers")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM transcript_events")).scalar() == 0
    upgrade_to_head(empty_database_url)
    assert _count(empty_database_url, "SELECT count(*) FROM callbacks") == 1
