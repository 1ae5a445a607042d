"""The migrations build exactly the schema the models describe, on both backends, and init-db is idempotent."""

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
