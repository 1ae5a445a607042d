"""Migration 0011 (console accounts) goes up and down with rows in place on both backends: an audit row that
names an account keeps its history when the account is deleted (user_id SET NULL)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from callback.db import get_engine
from callback.migrate import alembic_config

NOW = "2026-11-02 01:00:00"


def test_0011_up_and_down_with_rows(empty_database_url: str) -> None:
    config = alembic_config(empty_database_url)
    command.upgrade(config, "0011")
    with get_engine(empty_database_url).begin() as conn:
        conn.execute(text("INSERT INTO halls (id, code, name, timezone, created_at) VALUES (1, 'H', 'h', 'UTC', :now)"),
                     {"now": NOW})
        conn.execute(text("INSERT INTO users (id, hall_id, username, password_hash, display_name, role, created_at, "
                          "updated_at) VALUES (1, 1, 'zhang', 'scrypt:x', '张', 'supervisor', :now, :now)"), {"now": NOW})
        conn.execute(text("INSERT INTO audit_events (hall_id, at, actor, entity, entity_id, action, detail, user_id, "
                          "ip) VALUES (1, :now, 'a', 'user', 1, 'login', '{}', 1, '192.0.2.1')"), {"now": NOW})
        row = conn.execute(text("SELECT language, active, failed_logins FROM users")).one()
        assert (row.language, bool(row.active), row.failed_logins) == ("zh-Hans", True, 0)  # server defaults
        conn.execute(text("DELETE FROM users"))
        assert conn.execute(text("SELECT user_id, ip FROM audit_events")).one() == (None, "192.0.2.1")
    command.downgrade(config, "0010")
    engine = get_engine(empty_database_url)
    engine.dispose()
    assert "users" not in inspect(engine).get_table_names()
    assert {"user_id", "ip"}.isdisjoint(c["name"] for c in inspect(engine).get_columns("audit_events"))
    command.upgrade(config, "0011")
    engine.dispose()
    assert "users" in inspect(engine).get_table_names()
