"""The migrations build exactly the schema the models describe, on both backends, and init-db is idempotent."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner

from callback.cli import main
from callback.db import get_engine
from callback.models import Base


def test_migrations_match_models(database_url: str) -> None:
    with get_engine(database_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_init_db_twice_changes_nothing(database_url: str, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(main, ["init-db"])
        assert result.exit_code == 0, result.output
    with get_engine(database_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_sqlite_upgrade_keeps_rows_that_reference_rebuilt_tables(tmp_path) -> None:
    """SQLite rebuilds a table to drop a key; with keys enforced, the cases that point at contacts refused it."""
    from alembic import command
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from callback.migrate import alembic_config, upgrade_to_head

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    command.upgrade(alembic_config(url), "0002")
    now = "2026-11-02 01:00:00"
    with get_engine(url).begin() as conn:
        conn.execute(text(f"INSERT INTO halls (id, code, name, timezone, created_at) VALUES (1, 'H', 'h', 'UTC', '{now}')"))
        conn.execute(text(f"INSERT INTO windows (id, hall_id, name, created_at) VALUES (1, 1, 'w', '{now}')"))
        conn.execute(text(f"INSERT INTO contacts (id, hall_id, phone, kind, created_at) "
                          f"VALUES (1, 1, '+8613800138000', 'mobile', '{now}')"))
        conn.execute(text(f"INSERT INTO cases (id, hall_id, case_no, window_id, contact_id, phone_kind, accepted_at, "
                          f"row_hash, created_at, updated_at) VALUES (1, 1, 'A1', 1, 1, 'mobile', '{now}', 'x', "
                          f"'{now}', '{now}')"))
    upgrade_to_head(url)
    with get_engine(url).connect() as conn:
        assert conn.execute(text("SELECT case_no, contact_id FROM cases")).all() == [("A1", 1)]
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # enforced again after the upgrade
        with pytest.raises(IntegrityError):  # and the hall checks of 0003 are in place
            conn.execute(text(f"INSERT INTO cases (hall_id, case_no, window_id, phone_kind, accepted_at, row_hash, "
                              f"created_at, updated_at) VALUES (1, 'A2', 99, 'missing', '{now}', 'x', '{now}', '{now}')"))
