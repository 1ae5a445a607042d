"""Backup and restore, the procedure README "Backup and restore" documents: ``pg_dump
--format=custom`` of a database holding a finished week, ``pg_restore`` into a fresh database, and the restored
one gives the same report, the same ``verify-draw`` answer and the same rows — and carries on (its id sequences
continue, its schema is at head)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session

from callback.cli import main
from callback.db import session_factory
from callback.migrate import upgrade_to_head
from callback.models import AuditEvent, Hall
from callback.results import cli_report
from tests.callback.retention.week_support import REPORT_AT, WEEK, every_row, report, run_finished_week
from tests.conftest import _empty_pg, created_pg_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def libpq(url: str) -> str:
    """The URL pg_dump and pg_restore take (no SQLAlchemy driver name)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def source(pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    _empty_pg(pg_database)
    for name, value in {"DATABASE_URL": pg_database, "SIMULATOR_CITIZENS": str(tmp_path / "sim" / "citizens.json"),
                        "TWILIO_AUTH_TOKEN": "backup-test-token", "TELEPHONY": "simulator"}.items():
        monkeypatch.setenv(name, value)
    return pg_database


@pytest.fixture
def fresh_database() -> Iterator[str]:
    with created_pg_database("cb_restore") as url:
        yield url


def cli_json(url: str, *args: str) -> tuple[int, object]:
    result = CliRunner().invoke(main, [*args, "--json"], env={"DATABASE_URL": url})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def test_a_dump_of_a_finished_week_restores_to_the_same_report_and_draw(
    source: str, fresh_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_factory(source)() as db:
        hall = run_finished_week(db, {"SIMULATOR_CITIZENS": str(tmp_path / "sim" / "citizens.json")})
        before = every_row(db), report(db, hall)
    monkeypatch.setattr(cli_report, "now", lambda: REPORT_AT)
    verified = cli_json(source, "verify-draw", "--week", WEEK)
    reported = cli_json(source, "report", "--week", WEEK)
    dump = tmp_path / "callback.dump"

    subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", libpq(source)], check=True)
    subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq(fresh_database)}", str(dump)],
                   check=True)

    assert cli_json(fresh_database, "verify-draw", "--week", WEEK) == verified
    assert cli_json(fresh_database, "report", "--week", WEEK) == reported
    with session_factory(fresh_database)() as restored:
        assert (every_row(restored), report(restored, restored.get(Hall, hall.id))) == before
        carries_on(restored, fresh_database)


def carries_on(restored: Session, url: str) -> None:
    """The schema is at head (nothing to migrate) and new rows get new ids (the sequences were restored too)."""
    newest = restored.scalar(text("SELECT max(id) FROM audit_events"))
    upgrade_to_head(url)
    row = AuditEvent(actor="test", entity="backup", action="restored", detail={})
    restored.add(row)
    restored.commit()
    assert row.id > newest
