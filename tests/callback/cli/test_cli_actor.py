"""The audit actor of a CLI action: the person named by --actor or CALLBACK_ACTOR, and the OS account that ran
the command (docs/architecture.md §Privacy and security) — one rule, callback.clitools.resolve_actor, for
every command that writes an audit row."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.cli import main
from callback.clitools import MAX_ACTOR_NAME, os_account, resolve_actor
from callback.db import session_factory
from callback.models import AuditEvent, utcnow
from callback.models.rectification import Rectification, RectificationEvent
from tests.callback.rectification.test_rectification import OPENED, _cli, _opened
from tests.factories import make_case, make_hall

ACCOUNT = f"cli:{os_account()}"


# --- resolve_actor -------------------------------------------------------------------------------------------------


def test_nobody_named_is_the_account_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CALLBACK_ACTOR", raising=False)
    assert resolve_actor() == resolve_actor(None) == resolve_actor("  ") == ACCOUNT
    assert ACCOUNT != "cli:"


def test_a_name_is_recorded_with_the_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLBACK_ACTOR", "王五")
    assert resolve_actor() == f"王五 ({ACCOUNT})"
    assert resolve_actor(" 张三 ") == f"张三 ({ACCOUNT})"  # --actor wins over the environment


@pytest.mark.parametrize("name", ["张" * (MAX_ACTOR_NAME + 1), "张三\n李四", "a\x1b[31m", "tab\there"])
def test_a_name_that_is_too_long_or_not_one_line_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="操作人"):
        resolve_actor(name)


def test_the_longest_name_fits_the_audit_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "u" * 200)
    assert len(resolve_actor("张" * MAX_ACTOR_NAME)) <= 100  # AuditEvent.actor, RectificationEvent.actor


def test_an_account_that_cannot_be_told(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_user() -> str:
        raise OSError("no user")

    monkeypatch.setattr("getpass.getuser", no_user)
    assert resolve_actor("张三") == "张三 (cli:unknown)"


def test_the_telephony_commands_use_the_same_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    from callback.cli.calls import _actor

    monkeypatch.setenv("CALLBACK_ACTOR", "赵六")
    assert _actor() == f"赵六 ({ACCOUNT})"


# --- rectification commands ----------------------------------------------------------------------------------------


def _events(session: Session, case: Rectification) -> dict[str, str]:
    session.expire_all()
    rows = session.scalars(select(RectificationEvent).where(RectificationEvent.rectification_id == case.id))
    return {e.action: e.actor for e in rows}


def test_rectification_commands_record_the_named_actor_and_the_account(session: Session, database_url: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    case = _opened(session)
    session.commit()
    later = OPENED + timedelta(days=1)
    ok = _cli(database_url, monkeypatch, later, "rectify", str(case.id), "--action", "已整改", "--actor", "张三")
    assert ok.exit_code == 0, ok.output
    monkeypatch.setenv("CALLBACK_ACTOR", "李四")
    ok = _cli(database_url, monkeypatch, later, "feedback", str(case.id), "--text", "已电话告知", "--via", "phone")
    assert ok.exit_code == 0, ok.output
    assert _cli(database_url, monkeypatch, later, "close", str(case.id)).exit_code == 0
    actors = _events(session, case)
    assert actors["rectified"] == f"张三 ({ACCOUNT})"
    assert actors["feedback_given"] == actors["closed"] == f"李四 ({ACCOUNT})"
    assert session.get(Rectification, case.id).closed_by == f"李四 ({ACCOUNT})"


def test_deadlines_run_by_hand_are_recorded_as_who_ran_them(session: Session, database_url: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    case = _opened(session)
    session.commit()
    late = OPENED + timedelta(days=30)
    ran = _cli(database_url, monkeypatch, late, "deadlines", "--json", "--actor", "督查科王五")
    assert json.loads(ran.output)["escalated"] == [case.id]
    assert _events(session, case)["escalated"] == f"督查科王五 ({ACCOUNT})"


def test_a_bad_actor_name_is_one_line_and_exit_2(session: Session, database_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    case = _opened(session)
    session.commit()
    result = _cli(database_url, monkeypatch, OPENED, "rectify", str(case.id), "--action", "x", "--actor", "张" * 41)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "操作人" in result.stderr
    assert session.get(Rectification, case.id).state == "open"


# --- the draw and the transcript views -----------------------------------------------------------------------------


def test_the_draw_and_the_transcript_views_record_the_actor(database_url: str) -> None:
    now = utcnow()
    with session_factory(database_url)() as session:
        hall = make_hall(session, "DEMO")
        for i in range(5):
            case = make_case(session, hall, accepted_at=now - timedelta(minutes=30 - i))
            case.created_at = now - timedelta(minutes=30 - i)
        session.commit()
    env = {"DATABASE_URL": database_url, "CALL_HOURS": "00:00-24:00", "CALL_DAYS": "all"}
    runner = CliRunner()
    drawn = runner.invoke(main, ["draw", "--json", "--size", "3", "--actor", "张三"], env=env)
    assert drawn.exit_code == 0, drawn.output
    week = json.loads(drawn.stdout)["week"]
    redrawn = runner.invoke(main, ["draw", "--redraw", "--reason", "测试", "--json"], env={**env, "CALLBACK_ACTOR": "李四"})
    assert redrawn.exit_code == 0, redrawn.output
    viewed = runner.invoke(main, ["callbacks", "--week", week, "--json"], env={**env, "CALLBACK_ACTOR": "王五"})
    assert viewed.exit_code == 0, viewed.output
    with session_factory(database_url)() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    by_action = {e.action: e.actor for e in events}
    assert by_action["draw"] == f"张三 ({ACCOUNT})"
    assert by_action["redraw"] == f"李四 ({ACCOUNT})"
    assert by_action["view_transcript"] == f"王五 ({ACCOUNT})"
