"""Engine and session factory. The caller owns the transaction (docs/architecture.md §Layers).

Every engine is built with ``hide_parameters=True``: a database error's message then never quotes the values of
the statement (a citizen's phone number or name), wherever it is logged or printed (docs/architecture.md
§Privacy and security).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

_engines: dict[str, Engine] = {}


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def normalise_url(url: str) -> str:
    """Accept postgres:// and postgresql:// as given by most hosts; use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def get_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url not in _engines:
        _engines[url] = _build_engine(url)
    return _engines[url]


def _build_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, **pool_limits())


def pool_limits() -> dict[str, int]:
    """Connections kept per process (``DB_POOL_SIZE``, default 10) and how many more may open under a burst.

    Keep the pool at least as large as a process's concurrent requests (gunicorn ``--threads``): a connection
    beyond the pool size is closed when it is returned, so an undersized pool opens and closes a PostgreSQL
    connection (a backend process) on nearly every request under load.
    """
    size = int(os.environ.get("DB_POOL_SIZE") or 10)
    return {"pool_size": size, "max_overflow": 2 * size}


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def transaction(url: str) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error."""
    with session_factory(url).begin() as session:
        yield session


def dispose_all() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


# --- the web request's session (flaskr's db.py shape) -------------------------------------------------------------


def init_app(app: Flask, database_url: str) -> None:
    """Give the app its session factory and close each request's session when the request ends."""
    app.extensions["sessionmaker"] = session_factory(database_url)
    app.teardown_appcontext(_close_session)


def db_session() -> Session:
    """The request's session; one transaction per request, committed by the view."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["sessionmaker"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
