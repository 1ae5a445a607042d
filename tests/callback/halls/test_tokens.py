"""API tokens can be listed, revoked and expire (docs/architecture.md §Privacy and security); the list never
shows a token or its hash."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text, update

from callback.cli import main
from callback.db import get_engine, session_factory
from callback.halls.services import ensure_hall
from callback.halls.tokens import DEFAULT_EXPIRY_DAYS, create_token, hall_for_token, list_tokens, revoke_token
from callback.models import ApiToken, AuditEvent
from callback.web.app import create_app

RECORD = {"case_no": "TOK-1", "phone": "13800138000", "window": "税务窗口", "accepted_at": "2026-11-03 09:12"}
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


@pytest.fixture
def cli(database_url: str):  # noqa: ANN201
    with session_factory(database_url).begin() as s:
        ensure_hall(s, "H1")
        ensure_hall(s, "H2")
    runner = CliRunner()
    return lambda *args, **env: runner.invoke(main, list(args), env={"DATABASE_URL": database_url, **env})


def created(cli, *args: str) -> tuple[int, str]:  # noqa: ANN001
    result = cli("tokens", "create", *args)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    listed = json.loads(cli("tokens", "list", "--json").stdout)
    return listed[-1]["id"], token


def post(database_url: str, token: str) -> int:
    client = create_app({"database_url": database_url}).test_client()
    return client.post("/api/v1/cases", json=[RECORD], headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_new_token_expires_after_the_default_365_days(cli, database_url: str) -> None:
    before = datetime.now(UTC)
    token_id, _ = created(cli, "--hall", "H1")
    with session_factory(database_url)() as s:
        row = s.get(ApiToken, token_id)
        assert row.expires_at - row.created_at == timedelta(days=DEFAULT_EXPIRY_DAYS)
        assert row.created_at >= before - timedelta(seconds=1)


def test_expires_days_is_kept_and_bounded(cli, database_url: str) -> None:
    token_id, _ = created(cli, "--hall", "H1", "--expires-days", "30")
    with session_factory(database_url)() as s:
        row = s.get(ApiToken, token_id)
        assert row.expires_at - row.created_at == timedelta(days=30)
    for bad in ("0", "-1", "100000", "abc"):
        assert cli("tokens", "create", "--hall", "H1", "--expires-days", bad).exit_code == 2


def test_list_shows_everything_but_the_token(cli, database_url: str) -> None:
    first, token = created(cli, "--hall", "H1", "--label", "政务服务平台")
    second, _ = created(cli, "--hall", "H2")
    assert post(database_url, token) == 200
    result = cli("tokens", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["id"], r["hall"], r["state"]) for r in rows] == [(first, "H1", "active"), (second, "H2", "active")]
    assert set(rows[0]) >= {"id", "hall", "label", "created_at", "last_used_at", "expires_at", "revoked_at", "state"}
    assert rows[0]["label"] == "政务服务平台" and rows[0]["last_used_at"] is not None
    assert rows[1]["last_used_at"] is None and rows[0]["created_at"].endswith("+08:00")
    table = cli("tokens", "list")
    digest = hashlib.sha256(token.encode()).hexdigest()
    for output in (result.output, table.output):
        assert token not in output and token[4:20] not in output and digest not in output and digest[:16] not in output
    assert "H1" in table.output and "有效" in table.output and "从未" in table.output
    only_h2 = json.loads(cli("tokens", "list", "--hall", "H2", "--json").stdout)
    assert [r["id"] for r in only_h2] == [second]


def test_a_revoked_token_is_refused(cli, database_url: str) -> None:
    token_id, token = created(cli, "--hall", "H1")
    assert post(database_url, token) == 200
    result = cli("tokens", "revoke", str(token_id), "--actor", "张三")
    assert result.exit_code == 0 and "已吊销" in result.output
    assert post(database_url, token) == 401
    again = cli("tokens", "revoke", str(token_id))
    assert again.exit_code == 0 and "早已" in again.output
    rows = json.loads(cli("tokens", "list", "--json").stdout)
    assert rows[0]["state"] == "revoked" and rows[0]["revoked_at"] is not None


def test_an_expired_token_is_refused(cli, database_url: str) -> None:
    token_id, token = created(cli, "--hall", "H1", "--expires-days", "1")
    assert post(database_url, token) == 200
    with session_factory(database_url).begin() as s:
        s.execute(update(ApiToken).where(ApiToken.id == token_id)
                  .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert post(database_url, token) == 401
    assert json.loads(cli("tokens", "list", "--json").stdout)[0]["state"] == "expired"


def test_revoking_an_unknown_token_is_one_line_and_exit_2(cli) -> None:
    for token_id in ("999", "99999999999999999999"):
        result = cli("tokens", "revoke", token_id)
        assert result.exit_code == 2
        assert "Traceback" not in result.output
    unknown = cli("tokens", "revoke", "999")
    assert unknown.stderr.strip().count("\n") == 0 and "999" in unknown.stderr


def test_create_and_revoke_are_audited_with_the_actor(cli, database_url: str) -> None:
    token_id, _ = created(cli, "--hall", "H1", "--actor", "李四")
    assert cli("tokens", "revoke", str(token_id), CALLBACK_ACTOR="王五").exit_code == 0
    with session_factory(database_url)() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.entity == "api_token").order_by(AuditEvent.id)).all()
    assert [(e.action, e.entity_id) for e in events] == [("create", token_id), ("revoke", token_id)]
    assert events[0].actor.startswith("李四 (cli:") and events[1].actor.startswith("王五 (cli:")


# --- the service ---------------------------------------------------------------------------------------------------


def test_the_last_use_is_written_at_most_once_a_minute(session) -> None:
    hall = ensure_hall(session, "H1")
    row, token = create_token(session, hall, now=NOW)
    assert hall_for_token(session, token, NOW) is hall
    session.flush()
    for later, expected in ((NOW + timedelta(seconds=59), NOW), (NOW + timedelta(seconds=60), NOW + timedelta(seconds=60)),
                            (NOW + timedelta(seconds=90), NOW + timedelta(seconds=60))):
        assert hall_for_token(session, token, later) is hall
        session.expire_all()
        assert session.get(ApiToken, row.id).last_used_at == expected


def test_expiry_is_exclusive_of_the_expiry_moment(session) -> None:
    hall = ensure_hall(session, "H1")
    row, token = create_token(session, hall, expires_days=1, now=NOW)
    assert hall_for_token(session, token, row.expires_at - timedelta(microseconds=1)) is hall
    assert hall_for_token(session, token, row.expires_at) is None
    assert hall_for_token(session, "cbt_" + "x" * 43, NOW) is None and hall_for_token(session, "", NOW) is None


def test_a_refused_token_records_no_use(session) -> None:
    hall = ensure_hall(session, "H1")
    row, token = create_token(session, hall, now=NOW)
    revoke_token(session, row.id, NOW)
    assert hall_for_token(session, token, NOW + timedelta(minutes=5)) is None
    session.expire_all()
    assert session.get(ApiToken, row.id).last_used_at is None
    assert list_tokens(session)[0].state(NOW) == "revoked"


# --- migration 0005 ------------------------------------------------------------------------------------------------


def test_migration_gives_existing_tokens_a_year_from_their_creation(empty_database_url: str) -> None:
    from alembic import command

    from callback.migrate import alembic_config, upgrade_to_head

    command.upgrade(alembic_config(empty_database_url), "0004")
    created = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    engine = get_engine(empty_database_url)
    stored = created.replace(tzinfo=None) if engine.dialect.name == "sqlite" else created  # as UTCDateTime stores it
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO halls (id, code, name, timezone, created_at) "
                          "VALUES (1, 'H', 'h', 'Asia/Shanghai', :at)"), {"at": stored})
        conn.execute(text("INSERT INTO api_tokens (hall_id, token_hash, created_at) VALUES (1, :digest, :at)"),
                     {"digest": "a" * 64, "at": stored})
    upgrade_to_head(empty_database_url)
    with session_factory(empty_database_url)() as s:
        row = s.scalar(select(ApiToken))
        assert row.expires_at == created + timedelta(days=365) == datetime(2027, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
        assert row.last_used_at is None and row.revoked_at is None
