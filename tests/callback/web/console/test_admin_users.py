"""The administrator's users page: the hall's accounts (phones masked), a new account, disabling and enabling,
each change audited with the administrator and their address; nobody else's hall, nobody but an admin."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.models import AuditEvent, User
from tests.callback.web.console.helpers import PASSWORD, csrf_token, login, make_user, text_of

PAGE = "/console/admin/users"
ADDR = {"REMOTE_ADDR": "192.0.2.7"}


@pytest.fixture
def admin(db: Session, site) -> User:  # noqa: ANN001
    user = make_user(db, site.hall, Role.ADMIN, username="admin", name="王管理")
    make_user(db, site.hall, Role.WINDOW_LEAD, username="lead", name="李窗口", window="税务窗口",
              phone="13812345678")
    make_user(db, site.other_hall, Role.SUPERVISOR, username="elsewhere", name="外中心")
    db.commit()
    return user


@pytest.fixture
def client(console_app: Flask, admin: User) -> FlaskClient:
    client = console_app.test_client()
    assert login(client, "admin").status_code == 302
    return client


def _form(client: FlaskClient, **values: str) -> dict[str, str]:
    form = {"csrf_token": csrf_token(client, PAGE), "username": "zhao", "display_name": "赵督查",
            "role": "supervisor", "window": "", "desk_phone": "0536-8881234", "language": "zh-Hans",
            "password": "a-good-pass-1", "password2": "a-good-pass-1"}
    return form | values


def test_lists_the_halls_accounts_with_phones_masked(client: FlaskClient) -> None:
    page = client.get(PAGE).get_data(as_text=True)
    text = text_of(page)
    assert "admin" in text and "李窗口" in text and "窗口负责人" in text and "税务窗口" in text
    assert "138****5678" in text and "13812345678" not in page and "+8613812345678" not in page
    assert "elsewhere" not in text  # another hall's account
    assert "scrypt" not in page


def test_an_admin_creates_an_account_that_can_log_in(console_app: Flask, client: FlaskClient, db: Session,
                                                       admin: User) -> None:
    response = client.post(PAGE, data=_form(client), environ_base=ADDR)
    assert response.status_code == 302
    assert "已新建账号 zhao" in text_of(client.get(PAGE).get_data(as_text=True))
    user = db.scalar(select(User).where(User.username == "zhao"))
    assert (user.role, user.display_name, user.desk_phone, user.hall_id) == (
        "supervisor", "赵督查", "+865368881234", admin.hall_id)
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "user_created",
                                                  AuditEvent.entity_id == user.id))
    assert (event.user_id, event.ip, event.actor) == (admin.id, "192.0.2.7", "王管理 (console:admin)")
    assert login(console_app.test_client(), "zhao", "a-good-pass-1").status_code == 302


def test_a_window_lead_gets_a_window_of_this_hall(client: FlaskClient, db: Session, site) -> None:  # noqa: ANN001
    assert client.post(PAGE, data=_form(client, username="wang", role="window_lead", window="市场监管窗口",
                                        desk_phone="")).status_code == 302
    user = db.scalar(select(User).where(User.username == "wang"))
    assert user.window_id == site.market.id and user.desk_phone is None


@pytest.mark.parametrize(("values", "message"), [
    ({"username": "lead"}, "用户名 lead 已被使用"),
    ({"username": "ELSEWHERE"}, "用户名 ELSEWHERE 已被使用"),  # usernames are unique in every hall, any case
    ({"role": "window_lead"}, "窗口负责人和窗口人员须指定窗口"),
    ({"window": "市场监管窗口"}, "只有窗口负责人和窗口人员关联窗口"),
    ({"desk_phone": "12345"}, "座机/手机号码无效"),
    ({"password2": "another-pass-2"}, "两次输入的密码不一致"),
    ({"password": "short", "password2": "short"}, "密码须为 10–128 个字符"),
    ({"password": "aaaaaaaaaaaa", "password2": "aaaaaaaaaaaa"}, "密码过于简单"),
    ({"role": "root"}, "请选择角色"),
    ({"username": "a b"}, "用户名须为 2–40 个字母"),
])
def test_a_bad_account_is_refused_with_a_chinese_line_and_nothing_stored(client: FlaskClient, db: Session,
                                                                         values: dict, message: str) -> None:
    before = db.scalar(select(User.id).order_by(User.id.desc()))
    response = client.post(PAGE, data=_form(client, **values))
    assert response.status_code == 400
    assert message in text_of(response.get_data(as_text=True))
    assert db.scalar(select(User.id).order_by(User.id.desc())) == before


def test_disable_and_enable_an_account(console_app: Flask, client: FlaskClient, db: Session, admin: User) -> None:
    lead = db.scalar(select(User).where(User.username == "lead"))
    lead_client = console_app.test_client()
    login(lead_client, "lead")
    token = csrf_token(client, PAGE)
    assert client.post(f"{PAGE}/{lead.id}/disable", data={"csrf_token": token}).status_code == 302
    assert "已停用账号 lead" in text_of(client.get(PAGE).get_data(as_text=True))
    assert lead_client.get("/console/").status_code == 302  # the open session ended
    assert login(console_app.test_client(), "lead").status_code == 401
    assert client.post(f"{PAGE}/{lead.id}/enable", data={"csrf_token": token}).status_code == 302
    assert login(console_app.test_client(), "lead").status_code == 302
    actions = list(db.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == lead.id,
                                                              AuditEvent.user_id == admin.id)))
    assert actions == ["user_disabled", "user_enabled"]


def test_an_admin_cannot_disable_their_own_account(client: FlaskClient, db: Session, admin: User) -> None:
    token = csrf_token(client, PAGE)
    response = client.post(f"{PAGE}/{admin.id}/disable", data={"csrf_token": token})
    assert response.status_code == 302
    assert "不能停用自己正在使用的账号" in text_of(client.get(PAGE).get_data(as_text=True))
    db.refresh(admin)
    assert admin.active


def test_the_password_is_never_stored_or_shown_in_clear(client: FlaskClient, db: Session) -> None:
    client.post(PAGE, data=_form(client))
    user = db.scalar(select(User).where(User.username == "zhao"))
    assert user.password_hash.startswith("scrypt:") and "a-good-pass-1" not in user.password_hash
    page = client.get(PAGE).get_data(as_text=True)
    assert "a-good-pass-1" not in page and PASSWORD not in page
    assert all("a-good-pass-1" not in str(e.detail) for e in db.scalars(select(AuditEvent)))
