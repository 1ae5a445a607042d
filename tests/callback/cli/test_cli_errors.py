"""User errors end in one clear line and exit status 2, never a traceback: a database that was never
initialised (both backends), one that cannot be reached, and a DATABASE_URL that cannot be used."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from callback.cli import main
from callback.db_problems import NOT_INITIALISED, explain, hide_password
from tests.conftest import PG_ADMIN_URL

SAMPLE_LEDGER = Path(__file__).resolve().parents[3] / "callback" / "samples" / "sample-ledger-2026-11.csv"
COMMANDS = [
    ["callbacks"],
    ["draw"],
    ["draw", "--week", "2026-W48", "--json"],
    ["report", "--week", "2026-W48"],
    ["rectifications"],
    ["import-ledger", str(SAMPLE_LEDGER)],
    ["assess", "--month", "2026-11"],
    ["publish", "--week", "2026-W48", "--approved-by", "张主任"],
    ["calendar", "show", "--year", "2026"],
    ["hall", "show"],
]


def _invoke(database_url: str, args: list[str]):  # noqa: ANN202
    return CliRunner().invoke(main, args, env={"DATABASE_URL": database_url, "DEFAULT_HALL": "DEMO"})


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_command_before_init_db_says_so_in_one_line(empty_database_url: str, args: list[str]) -> None:
    result = _invoke(empty_database_url, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == NOT_INITIALISED
    assert "Traceback" not in result.output


def test_init_db_then_the_same_command_works(empty_database_url: str) -> None:
    assert _invoke(empty_database_url, ["init-db"]).exit_code == 0
    result = _invoke(empty_database_url, ["import-ledger", str(SAMPLE_LEDGER), "--json"])
    assert result.exit_code == 0, result.output
    engine = create_engine(empty_database_url)
    assert "halls" in inspect(engine).get_table_names()
    engine.dispose()


def test_the_real_entry_point_prints_no_traceback(tmp_path: Path) -> None:
    """The installed `callback` script, not just click's test runner: stderr is exactly the one line."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}", "DEFAULT_HALL": "DEMO"}
    script = Path(sys.executable).parent / "callback"
    done = subprocess.run([str(script), "report", "--week", "2026-W48"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == NOT_INITIALISED and done.stdout == ""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("args", [["callbacks"], ["draw"], ["init-db"], ["report"]])
def test_an_unreachable_database_names_it_without_the_password(args: list[str]) -> None:
    url = f"postgresql://callback:s3cret-pw@127.0.0.1:{_closed_port()}/callback"
    result = _invoke(url, args)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("无法连接数据库 postgresql://callback:***@127.0.0.1:")
    assert "Connection refused" in line and "s3cret-pw" not in result.output


def test_a_missing_postgresql_database_cannot_be_connected_to() -> None:
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/cb_absent_{uuid.uuid4().hex[:8]}"
    result = _invoke(url, ["report"])
    assert result.exit_code == 2
    assert result.stderr.startswith("无法连接数据库") and "does not exist" in result.stderr


@pytest.mark.parametrize(
    ("url", "start"),
    [
        ("::not a url::", "DATABASE_URL 无法识别"),
        ("mysql://u:topsecret@db.example/x", "不支持的数据库 mysql://u:***@db.example/x"),
        ("sqlite:////proc/no-such-folder/callback.sqlite3", "无法打开数据库 sqlite:////proc/no-such-folder"),
    ],
)
def test_an_unusable_database_url_is_one_line(url: str, start: str) -> None:
    result = _invoke(url, ["rectifications"])
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(start) and "topsecret" not in line


def test_other_errors_keep_their_traceback() -> None:
    """Only database set-up problems are explained away; a bug stays a bug."""
    assert explain(ValueError("boom"), "sqlite:///x.sqlite3") is None
    assert explain(KeyError("halls"), "postgresql://u:p@h/d") is None


def test_explain_looks_through_chained_exceptions() -> None:
    from sqlalchemy.exc import OperationalError

    try:
        try:
            raise OperationalError("SELECT 1", {}, Exception("no such table: halls"))
        except OperationalError as inner:
            raise RuntimeError("import failed") from inner
    except RuntimeError as outer:
        assert explain(outer, "sqlite:///x.sqlite3") == NOT_INITIALISED


def test_hide_password() -> None:
    assert hide_password("postgresql://u:pw@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert "pw" not in hide_password("postgresql://u@h/d?password=pw")
    assert hide_password("sqlite:///instance/callback.sqlite3") == "sqlite:///instance/callback.sqlite3"
