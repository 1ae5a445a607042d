"""`callback users create|list|disable|enable|set-password`: the password comes from standard input (or a hidden
prompt), never from an argument; user errors are one line and exit 2; phones are masked in every listing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.cli import main
from callback.models import AuditEvent, User
from tests.factories import make_hall, make_window

PASSWORD = "a-good-pass-1"


@pytest.fixture
def run(database_url: str, session: Session, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DEFAULT_HALL", "WF01")
    monkeypatch.setenv("CALLBACK_ACTOR", "")
    hall = make_hall(session, "WF01")
    make_window(session, hall, "税务窗口")
    session.commit()

    def invoke(*args: str, stdin: str | None = None):  # noqa: ANN202
        return CliRunner().invoke(main, ["users", *args], input=stdin)

    return invoke


def _user(session: Session, username: str) -> User | None:
    session.expire_all()
    return session.scalar(select(User).where(User.username == username))


def test_create_reads_the_password_from_standard_input(run, session: Session) -> None:  # noqa: ANN001
    result = run("create", "--role", "supervisor", "--username", "zhang", "--name", "张督查",
                 "--phone", "0536-8881234", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "已新建账号 zhang（张督查，督查科，WF01）" in result.output
    user = _user(session, "zhang")
    assert user.password_hash.startswith("scrypt:") and PASSWORD not in user.password_hash
    assert user.desk_phone == "+865368881234"
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "user_created"))
    assert event.actor.startswith("cli:") and event.user_id is None


def test_one_line_of_standard_input_is_enough(run, session: Session) -> None:  # noqa: ANN001
    result = run("create", "--role", "窗口负责人", "--username", "lead", "--window", "税务窗口", stdin=f"{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert _user(session, "lead").role == "window_lead"


def test_there_is_no_password_option(run) -> None:  # noqa: ANN001
    result = run("create", "--role", "admin", "--username", "x1", "--password", PASSWORD)
    assert result.exit_code == 2 and "No such option" in result.output


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["--role", "admin", "--username", "x1"], f"{PASSWORD}\nanother-pass-2\n", "两次输入的密码不一致"),
    (["--role", "admin", "--username", "x1"], "\n", "未从标准输入读到密码"),
    (["--role", "admin", "--username", "x1"], "short\n", "未新建账号：密码须为 10–128 个字符"),
    (["--role", "boss", "--username", "x1"], f"{PASSWORD}\n", "未知角色 'boss'"),
    (["--role", "admin", "--username", "x1", "--hall", "NOPE"], f"{PASSWORD}\n", "未知的中心代码 'NOPE'"),
    (["--role", "window_lead", "--username", "x1"], f"{PASSWORD}\n", "须指定窗口"),
    (["--role", "window_lead", "--username", "x1", "--window", "无此窗口"], f"{PASSWORD}\n", "没有名为「无此窗口」的窗口"),
])
def test_a_user_error_is_one_line_and_exit_2(run, session: Session, args: list[str], stdin: str,  # noqa: ANN001
                                             message: str) -> None:
    result = run("create", *args, stdin=stdin)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert _user(session, "x1") is None


def test_list_masks_phones_and_shows_no_hash(run) -> None:  # noqa: ANN001
    run("create", "--role", "supervisor", "--username", "zhang", "--phone", "13812345678", stdin=f"{PASSWORD}\n")
    text = run("list").output
    assert "zhang" in text and "138****5678" in text and "13812345678" not in text and "scrypt" not in text
    [row] = json.loads(run("list", "--json").output)
    assert (row["username"], row["desk_phone"], row["active"]) == ("zhang", "138****5678", True)
    assert "password_hash" not in row


def test_disable_enable_and_set_password(run, session: Session) -> None:  # noqa: ANN001
    run("create", "--role", "leader", "--username", "boss", stdin=f"{PASSWORD}\n")
    assert "已停用账号 boss" in run("disable", "boss").output
    assert "已是停用状态" in run("disable", "boss").output
    assert not _user(session, "boss").active
    assert "已启用账号 boss" in run("enable", "boss").output
    old = _user(session, "boss").password_hash
    result = run("set-password", "boss", stdin="another-pass-2\nanother-pass-2\n")
    assert result.exit_code == 0 and "已重设账号 boss 的密码" in result.output
    assert _user(session, "boss").password_hash != old
    missing = run("disable", "nobody")
    assert missing.exit_code == 2 and "没有用户名为 nobody 的账号" in missing.output
    actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "user")
                                   .order_by(AuditEvent.id)))
    assert actions == ["user_created", "user_disabled", "user_enabled", "password_set"]
