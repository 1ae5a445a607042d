"""A throwaway PostgreSQL database for a benchmark run, migrated to head."""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text

from callback.db import dispose_all
from callback.migrate import upgrade_to_head

ADMIN_URL = os.environ.get(
    "BENCH_PG_ADMIN_URL", os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
)


def _admin(*statements: str) -> None:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    admin.dispose()


def unique_name(prefix: str) -> str:
    """A database name of this process's own, so a benchmark and the test that runs it never drop each other's."""
    return f"{prefix}_{os.getpid()}"


def create_database(name: str) -> str:
    """(Re)create database `name`, apply the migrations, and return its URL."""
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade_to_head(url)
    return url


def drop_database(name: str) -> None:
    dispose_all()
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
