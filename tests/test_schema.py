"""The migrations build exactly the schema the models describe, on both backends, and init-db is idempotent."""


import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from callback.cli import main
from callback.db import get_engine
from callback.migrate import alembic_config, upgrade_to_head
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


NOW = "2026-11-02 01:00:00"
# A hall with a window, a staff member, two contacts and two cases (one with staff and contact, one with neither),
# a drawn callback of the first, and a second hall: rows that point at every table 0006 rebuilds or re-keys.
ROWS_AT_0005 = [
    "INSERT INTO halls (id, code, name, timezone, created_at) VALUES (1, 'H', 'h', 'UTC', :now), (2, 'G', 'g', 'UTC', :now)",
    "INSERT INTO windows (id, hall_id, name, created_at) VALUES (1, 1, 'w', :now), (2, 2, 'w', :now)",
    "INSERT INTO staff (id, hall_id, name, window_id, created_at) VALUES (1, 1, 's', 1, :now)",
    "INSERT INTO contacts (id, hall_id, phone, kind, created_at) VALUES (1, 1, '+8613800138000', 'mobile', :now), "
    "(2, 2, '+8613800138000', 'mobile', :now)",
    "INSERT INTO cases (id, hall_id, case_no, window_id, staff_id, contact_id, phone_kind, accepted_at, row_hash, "
    "created_at, updated_at) VALUES (1, 1, 'A1', 1, 1, 1, 'mobile', :now, 'x', :now, :now), "
    "(2, 1, 'A2', 1, NULL, NULL, 'missing', :now, 'y', :now, :now)",
    "INSERT INTO callbacks (id, hall_id, case_id, contact_id, window_id, week, state, channel, attempts_used, token, "
    "flags, created_at, updated_at) VALUES (1, 1, 1, 1, 1, '2026-W45', 'drawn', 'voice', 0, 't', '{}', :now, :now)",
]
BAD_CASE = ("INSERT INTO cases (id, hall_id, case_no, window_id, contact_id, phone_kind, accepted_at, row_hash, "
            "created_at, updated_at) VALUES (3, 1, 'A9', 1, 2, 'mobile', :now, 'z', :now, :now)")  # hall 2's contact
FOREIGN_KEY = "(?i)foreign key"  # PostgreSQL: "violates foreign key constraint"; SQLite: "FOREIGN KEY constraint failed"


def _at_0005_with_rows(url: str) -> None:
    command.upgrade(alembic_config(url), "0005")
    with get_engine(url).begin() as conn:
        for statement in ROWS_AT_0005:
            conn.execute(text(statement), {"now": NOW})


def _revision(url: str) -> str:
    with get_engine(url).connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def test_a_database_at_0005_with_rows_upgrades_to_foreign_keys(empty_database_url: str) -> None:
    """0006 drops 0003's triggers and restores the keys; the rows stay, the keys are enforced and the schema is
    the models' (SQLite rebuilds cases and contacts, which callbacks point at, with its keys off meanwhile)."""
    _at_0005_with_rows(empty_database_url)
    upgrade_to_head(empty_database_url)
    engine = get_engine(empty_database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, case_no, staff_id, contact_id FROM cases ORDER BY id")).all() == [
            (1, "A1", 1, 1), (2, "A2", None, None)]
        assert conn.execute(text("SELECT case_id, contact_id FROM callbacks")).all() == [(1, 1)]
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        triggers = ("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'" if engine.dialect.name == "sqlite"
                    else "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal")
        assert conn.execute(text(triggers)).scalar() == 0
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # enforced again after the upgrade
        with pytest.raises(IntegrityError, match=FOREIGN_KEY):
            conn.execute(text(BAD_CASE), {"now": NOW})
        conn.rollback()
        with pytest.raises(IntegrityError, match=FOREIGN_KEY):
            conn.execute(text("DELETE FROM contacts WHERE id = 1"))


def test_an_upgrade_that_finds_a_dangling_reference_changes_nothing(empty_database_url: str) -> None:
    """A case whose contact is another hall's (0003's checks bypassed: PostgreSQL's replica role skips triggers,
    on SQLite the trigger is dropped and put back): the upgrade fails and the database stays at 0005."""
    _at_0005_with_rows(empty_database_url)
    engine = get_engine(empty_database_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(BAD_CASE), {"now": NOW})
        else:
            trigger = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'cases_contact_insert'")).scalar()
            conn.execute(text("DROP TRIGGER cases_contact_insert"))
            conn.execute(text(BAD_CASE), {"now": NOW})
            conn.execute(text(trigger))
    with pytest.raises((IntegrityError, RuntimeError), match=f"{FOREIGN_KEY}|broken references"):
        upgrade_to_head(empty_database_url)
    assert _revision(empty_database_url) == "0005"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cases")).scalar() == 3
