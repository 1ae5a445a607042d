"""What a user should read when the database is not ready: not initialised, unreachable, or misnamed.

`explain` turns such an exception into one line (Chinese first, English in brackets); the CLI's group prints it
and exits 2. Anything else is a bug and keeps its traceback. A URL is only ever shown with its password hidden.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from callback.db import normalise_url

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
NOT_INITIALISED = "数据库尚未初始化，请先运行 callback init-db (database not initialised: run callback init-db)"
UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE for UndefinedTable


def explain(exc: BaseException, url: str) -> str | None:
    """The one line for ``exc`` (or an exception it was raised from or during), or None when it is not a database
    set-up problem: no schema yet (SQLite ``no such table``, PostgreSQL UndefinedTable), a database that cannot be
    reached or opened, a DATABASE_URL that cannot be read or names an unsupported backend."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        message = _explain_one(current, url)
        if message is not None:
            return message
        current = current.__cause__ or current.__context__
    return None


def _explain_one(exc: BaseException, url: str) -> str | None:
    shown = hide_password(url)
    if isinstance(exc, DBAPIError):
        return _dbapi_problem(exc, shown)
    if isinstance(exc, ArgumentError) and _bad_url(exc):
        return f"DATABASE_URL 无法识别：{shown} (invalid database URL; e.g. sqlite:///路径 or postgresql://…)"
    backend = _parsed(url)
    if isinstance(exc, ImportError) and backend is not None and backend.get_backend_name() not in SUPPORTED_BACKENDS:
        return f"不支持的数据库 {shown}：只支持 sqlite 和 postgresql (unsupported database)"
    if isinstance(exc, OSError) and backend is not None and _about_sqlite_file(exc, backend):
        return f"无法打开数据库 {shown}：{exc.strerror} (cannot open the database)"
    return None


def _dbapi_problem(exc: DBAPIError, shown: str) -> str | None:
    text = str(exc.orig).strip()
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    if sqlstate == UNDEFINED_TABLE or text.startswith("no such table"):
        return NOT_INITIALISED
    # A failure while connecting carries no statement; 08xxx is PostgreSQL's connection-exception class.
    if isinstance(exc, OperationalError) and (exc.statement is None or sqlstate.startswith("08")):
        first_line = text.splitlines()[0] if text else type(exc.orig).__name__
        reason = first_line.rsplit("failed: ", 1)[-1]
        return f"无法连接数据库 {shown}：{reason} (cannot connect to the database)"
    return None


def _bad_url(exc: ArgumentError) -> bool:
    text = str(exc)
    return text.startswith(("Could not parse SQLAlchemy URL", "Can't load plugin: sqlalchemy.dialects"))


def _parsed(url: str) -> URL | None:
    try:
        return make_url(normalise_url(url))
    except ArgumentError:
        return None


def _about_sqlite_file(exc: OSError, url: URL) -> bool:
    """Whether ``exc`` is about the SQLite file or one of its folders (e.g. a folder that cannot be created)."""
    if url.get_backend_name() != "sqlite" or not exc.filename:
        return False
    database, name = url.database or "", str(exc.filename).rstrip("/")
    return database == name or database.startswith(name + "/")


def hide_password(url: str) -> str:
    """The database URL as it may be shown: the password (also a ``?password=`` parameter) replaced by ***."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "（无法解析的地址）"
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True)
