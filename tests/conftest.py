"""Shared fixtures: real databases (SQLite and PostgreSQL), a real Redis, and small factories.

Tests that touch the database take `database_url`, which runs them once on SQLite and once on PostgreSQL.
PostgreSQL and Redis are the real servers (`make test` starts them); a missing server fails the run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from callback.db import dispose_all, session_factory
from callback.migrate import upgrade_to_head
from callback.models import Base

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_SERVER = os.environ.get("TEST_REDIS_SERVER", "redis://127.0.0.1:6379")
REDIS_CLAIM_SECONDS = 3 * 3600  # a run that died without releasing its databases frees them after this
BACKENDS = [b for b in os.environ.get("TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    upgrade_to_head(f"sqlite:///{path}")
    dispose_all()
    return path


@contextmanager
def created_pg_database(prefix: str) -> Iterator[str]:
    """The URL of a new PostgreSQL database with no schema, dropped (with its sessions) afterwards."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        dispose_all()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    with created_pg_database("cb_test") as url:
        upgrade_to_head(url)
        yield url


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that exists (or can be created) but holds no schema — `init-db` never run, or a database to
    migrate step by step: a SQLite file not yet written, or a new PostgreSQL database."""
    if request.param == "sqlite":
        (tmp_path / "instance").mkdir()
        yield f"sqlite:///{tmp_path / 'instance' / 'callback.sqlite3'}"
        dispose_all()
        return
    with created_pg_database("cb_empty") as url:
        yield url


def _empty_pg(url: str) -> None:
    from callback.db import get_engine

    # DELETE beats TRUNCATE on a handful of tiny tables (TRUNCATE rewrites every file). A worker process a
    # failed test left behind must not hold locks over the next test: end every other session first.
    with get_engine(url).begin() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        conn.execute(text("SET LOCAL lock_timeout = '30s'"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a fresh SQLite file, or the session's PostgreSQL database truncated."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        _empty_pg(url)
    yield url
    if request.param == "sqlite":
        dispose_all()


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    with session_factory(database_url)() as s:
        yield s


@pytest.fixture(scope="session")
def redis_databases() -> Iterator[tuple[str, str]]:
    """Two Redis databases (1–15) of this test run's own, claimed in database 0, so that test runs side by side
    on one machine never flush each other's keys."""
    import redis

    admin = redis.Redis.from_url(f"{REDIS_TEST_SERVER}/0")
    token = f"{os.getpid()}-{uuid.uuid4().hex}"
    claimed = [n for n in range(1, 16) if admin.set(f"callback-tests:db:{n}", token, nx=True, ex=REDIS_CLAIM_SECONDS)]
    mine, spare = claimed[:2], claimed[2:]
    _release(admin, spare, token)
    try:
        if len(mine) < 2:
            pytest.fail("no two free Redis test databases (1–15): other test runs hold them")
        yield f"{REDIS_TEST_SERVER}/{mine[0]}", f"{REDIS_TEST_SERVER}/{mine[1]}"
    finally:
        _release(admin, mine, token)


def _release(admin: Any, numbers: list[int], token: str) -> None:
    for n in numbers:
        key = f"callback-tests:db:{n}"
        if admin.get(key) == token.encode():
            admin.delete(key)


@pytest.fixture
def redis_url(redis_databases: tuple[str, str]) -> Iterator[str]:
    """This run's Redis database, empty."""
    yield from _empty_redis(redis_databases[0])


@pytest.fixture
def other_redis_url(redis_databases: tuple[str, str]) -> Iterator[str]:
    """A second Redis database of this run's, empty: for a test whose processes must not see redis_url's keys."""
    yield from _empty_redis(redis_databases[1])


def _empty_redis(url: str) -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(url)
    client.ping()
    client.flushdb()
    yield url
    client.flushdb()
