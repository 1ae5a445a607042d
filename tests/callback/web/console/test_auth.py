"""The console's door (issue 14 §1): every page needs a login, the wrong role gets a Chinese 403, a missing object a
Chinese 404, a form without its CSRF token is refused, failed logins are throttled per account and per address,
an idle session ends, logout ends it, and every one of these is in the audit trail."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.accounts.services import set_active, set_password
from callback.models import AuditEvent, User
from callback.web.console import clock
from tests.callback.web.console.helpers import CREATED_AT, PASSWORD, csrf_token, login, make_user, text_of

NOW = CREATED_AT + timedelta(days=1)


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """The console's clock, set to NOW; ``at.move(minutes)`` moves it on."""

    class Clock:
        now = NOW

        def move(self, **delta: float) -> None:
            self.now += timedelta(**delta)

    c = Clock()
    monkeypatch.setattr(clock, "now", lambda: c.now)
    return c


@pytest.fixture
def users(db: Session, site) -> dict[Role, User]:  # noqa: ANN001
    made = {role: make_user(db, site.hall, role, username=role.value,
                            window="市场监管窗口" if role in (Role.WINDOW_LEAD, Role.STAFF) else None)
            for role in Role}
    db.commit()
    return made


def _audits(db: Session, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --- login required -------------------------------------------------------------------------------------------------


def console_rules(app: Flask) -> list[tuple[str, str]]:
    """Every console URL (with 1 for each id) and a method it accepts, except the login page."""
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("console.") and rule.endpoint != "console.login":
            url = re.sub(r"<(?:\w+:)?\w+>", "1", rule.rule)  # any argument: 1 (an id, a week, a name)
            rules.append((url, "GET" if "GET" in rule.methods else "POST"))
    return rules


def test_every_console_page_requires_a_login(console_app: Flask, users) -> None:  # noqa: ANN001
    client = console_app.test_client()
    token = csrf_token(client)
    rules = console_rules(console_app)
    assert ("/console/", "GET") in rules and ("/console/admin/users", "GET") in rules
    for url, method in rules:
        response = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
        assert response.status_code == 302, (url, response.status_code)
        assert response.headers["Location"].startswith("/console/login"), url


def test_login_page_is_chinese_and_redirects_back(console_app: Flask, users) -> None:  # noqa: ANN001
    client = console_app.test_client()
    first = client.get("/console/admin/users")
    assert first.headers["Location"] == "/console/login?next=%2Fconsole%2Fadmin%2Fusers"
    page = text_of(client.get(first.headers["Location"]).get_data(as_text=True))
    assert "登录监督工作台" in page and "请先登录" in page
    token = csrf_token(client)
    response = client.post("/console/login?next=%2Fconsole%2Fadmin%2Fusers",
                           data={"csrf_token": token, "username": "admin", "password": PASSWORD})
    assert response.headers["Location"] == "/console/admin/users"


@pytest.mark.parametrize("target", ["//evil.example/console/", "https://evil.example/console/", "/board",
                                    "/\\evil.example"])
def test_login_never_redirects_off_the_console(console_app: Flask, users, target: str) -> None:  # noqa: ANN001
    client = console_app.test_client()
    token = csrf_token(client)
    response = client.post("/console/login", query_string={"next": target},
                           data={"csrf_token": token, "username": "admin", "password": PASSWORD})
    assert response.headers["Location"] == "/console/"


def test_wrong_password_shows_one_chinese_line_and_unknown_user_the_same(console_app: Flask, users, db) -> None:  # noqa: ANN001
    client = console_app.test_client()
    wrong = login(client, "supervisor", "not-the-password")
    unknown = login(client, "nobody-here", "not-the-password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "用户名或密码错误" in text_of(response.get_data(as_text=True))
    assert client.get("/console/").status_code == 302  # still not logged in


# --- roles and objects ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.WINDOW_LEAD, Role.LEADER, Role.STAFF])
def test_a_role_without_the_permission_gets_a_chinese_403(console_app: Flask, users, role: Role) -> None:  # noqa: ANN001
    client = console_app.test_client()
    assert login(client, role.value).status_code == 302
    response = client.get("/console/admin/users")
    assert response.status_code == 403
    page = text_of(response.get_data(as_text=True))
    assert "无权访问" in page and "没有打开此页面或执行此操作的权限" in page
    token = csrf_token(client, "/console/")
    refused = client.post(f"/console/admin/users/{users[Role.ADMIN].id}/disable", data={"csrf_token": token})
    assert refused.status_code == 403


def test_a_missing_object_and_another_halls_object_get_a_chinese_404(console_app: Flask, users, db, site) -> None:  # noqa: ANN001
    elsewhere = make_user(db, site.other_hall, Role.SUPERVISOR, username="elsewhere")
    db.commit()
    client = console_app.test_client()
    login(client, "admin")
    token = csrf_token(client, "/console/")
    for user_id in (99999, elsewhere.id):
        response = client.post(f"/console/admin/users/{user_id}/disable", data={"csrf_token": token})
        assert response.status_code == 404
        assert "页面或记录不存在" in text_of(response.get_data(as_text=True))
    db.refresh(elsewhere)
    assert elsewhere.active
    assert "页面或记录不存在" in text_of(client.get("/console/no-such-page").get_data(as_text=True))


def test_get_on_a_post_only_url_is_a_chinese_405(console_app: Flask, users) -> None:  # noqa: ANN001
    client = console_app.test_client()
    login(client, "supervisor")
    response = client.get("/console/logout")
    assert response.status_code == 405
    assert "请求方式不正确" in text_of(response.get_data(as_text=True))


# --- CSRF -----------------------------------------------------------------------------------------------------------


def test_a_form_without_its_csrf_token_is_refused(console_app: Flask, users, db) -> None:  # noqa: ANN001
    client = console_app.test_client()
    refused = client.post("/console/login", data={"username": "admin", "password": PASSWORD})
    assert refused.status_code == 400
    assert "页面已过期" in text_of(refused.get_data(as_text=True))
    assert client.get("/console/").status_code == 302
    login(client, "admin")
    forged = client.post("/console/admin/users", data={
        "username": "forged", "display_name": "伪造", "role": "supervisor", "window": "", "language": "zh-Hans",
        "password": "forged-pass-123", "password2": "forged-pass-123", "csrf_token": "not-a-token"})
    assert forged.status_code == 400
    assert db.scalar(select(User).where(User.username == "forged")) is None
    assert client.post("/console/logout").status_code == 400  # logging someone out needs the token too
    assert client.get("/console/").status_code == 200


def test_webhooks_and_the_token_api_need_no_csrf_token(console_app: Flask) -> None:
    client = console_app.test_client()
    api = client.post("/api/v1/cases", json=[])
    assert api.status_code == 401  # the API's own refusal: no bearer token, not a CSRF page
    sms = client.post("/sms/inbound", data={"From": "+8613800138000", "Body": "1"})
    assert sms.status_code == 403  # the webhook's own refusal: no Twilio signature
    assert "页面已过期" not in api.get_data(as_text=True) + sms.get_data(as_text=True)


# --- throttling -----------------------------------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(console_app: Flask, users, db, at) -> None:  # noqa: ANN001
    client = console_app.test_client()
    for _ in range(4):
        assert login(client, "supervisor", "wrong-password").status_code == 401
    locked = login(client, "supervisor", "wrong-password")
    assert locked.status_code == 429
    assert "账号已暂时锁定" in text_of(locked.get_data(as_text=True))
    assert "2026-11-03 09:15" in text_of(locked.get_data(as_text=True))  # NOW + 15 min, Beijing time
    at.move(minutes=14)
    still = login(client, "supervisor", PASSWORD)  # even the right password waits
    assert still.status_code == 429 and client.get("/console/").status_code == 302
    at.move(minutes=1, seconds=1)
    assert login(client, "supervisor", PASSWORD).headers["Location"] == "/console/"
    assert len(_audits(db, "account_locked")) == 1
    refused = _audits(db, "login_refused")
    assert [e.detail["reason"] for e in refused] == ["locked"]
    assert [e.detail["failures"] for e in _audits(db, "login_failed")] == [1, 2, 3, 4, 5]


def test_a_success_resets_the_failure_count(console_app: Flask, users, db, at) -> None:  # noqa: ANN001
    client = console_app.test_client()
    for _ in range(4):
        login(client, "leader", "wrong-password")
    assert login(client, "leader", PASSWORD).status_code == 302
    client = console_app.test_client()
    for _ in range(4):
        assert login(client, "leader", "wrong-password").status_code == 401
    db.expire_all()
    assert db.scalar(select(User.locked_until).where(User.username == "leader")) is None


def test_an_address_with_many_failures_is_refused_for_every_account(console_app: Flask, users, db, at) -> None:  # noqa: ANN001
    client = console_app.test_client()
    office, attacker = {"REMOTE_ADDR": "10.1.1.1"}, {"REMOTE_ADDR": "203.0.113.9"}
    for n in range(20):  # twenty different names, none of them locked
        assert login(client, f"guess{n}", "wrong-password", **attacker).status_code == 401
    refused = login(client, "supervisor", PASSWORD, **attacker)
    assert refused.status_code == 429
    assert "此地址登录失败次数过多" in text_of(refused.get_data(as_text=True))
    assert login(console_app.test_client(), "supervisor", PASSWORD, **office).status_code == 302
    at.move(minutes=16)
    assert login(console_app.test_client(), "supervisor", PASSWORD, **attacker).status_code == 302
    failed = _audits(db, "login_failed")
    assert all(e.ip == "203.0.113.9" and e.user_id is None and "guess" not in str(e.detail) for e in failed)


def test_a_disabled_account_cannot_log_in_and_its_session_ends(console_app: Flask, users, db, at) -> None:  # noqa: ANN001
    client = console_app.test_client()
    login(client, "supervisor")
    assert client.get("/console/").status_code == 200
    set_active(db, users[Role.SUPERVISOR], False, actor="tests", at=NOW)
    db.commit()
    assert client.get("/console/").status_code == 302
    assert login(console_app.test_client(), "supervisor").status_code == 401


def test_a_new_password_ends_the_old_sessions(console_app: Flask, users, db) -> None:  # noqa: ANN001
    client = console_app.test_client()
    login(client, "leader")
    assert client.get("/console/").status_code == 200
    set_password(db, users[Role.LEADER], "a-new-password-7", actor="tests", at=NOW)
    db.commit()
    assert client.get("/console/").status_code == 302
    assert login(console_app.test_client(), "leader", "a-new-password-7").status_code == 302


# --- session timeout and logout -------------------------------------------------------------------------------------


def test_an_idle_session_ends_and_an_active_one_does_not(console_app: Flask, users, db, at) -> None:  # noqa: ANN001
    client = console_app.test_client()
    login(client, "supervisor")
    for _ in range(3):  # 3 × 7 h of activity: each request restarts the 8 h idle clock
        at.move(hours=7)
        assert client.get("/console/").status_code == 200
    at.move(hours=8, seconds=1)
    expired = client.get("/console/")
    assert expired.status_code == 302 and expired.headers["Location"].startswith("/console/login")
    assert "登录已超时" in text_of(client.get(expired.headers["Location"]).get_data(as_text=True))
    assert client.get("/console/").status_code == 302  # and stays ended
    [event] = _audits(db, "session_expired")
    assert event.user_id == users[Role.SUPERVISOR].id


def test_the_session_cookie_expires_with_the_idle_limit(database_url: str, users) -> None:  # noqa: ANN001
    from callback.web.app import create_app

    app = create_app({"database_url": database_url, "session_idle_minutes": 30})
    assert app.permanent_session_lifetime == timedelta(minutes=30)
    client = app.test_client()
    response = login(client, "supervisor")
    cookie = response.headers["Set-Cookie"]
    assert "Expires=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_logout_ends_the_session(console_app: Flask, users, db) -> None:  # noqa: ANN001
    client = console_app.test_client()
    login(client, "window_lead")
    token = csrf_token(client, "/console/")
    response = client.post("/console/logout", data={"csrf_token": token})
    assert response.headers["Location"] == "/console/login"
    assert "您已退出登录" in text_of(client.get("/console/login").get_data(as_text=True))
    assert client.get("/console/").status_code == 302


def test_login_logout_and_failures_are_audited_with_who_and_where(console_app: Flask, users, db) -> None:  # noqa: ANN001
    client = console_app.test_client()
    addr = {"REMOTE_ADDR": "192.0.2.44"}
    login(client, "supervisor", "wrong-password", **addr)
    login(client, "supervisor", PASSWORD, **addr)
    token = csrf_token(client, "/console/")
    client.post("/console/logout", data={"csrf_token": token}, environ_base=addr)
    supervisor = users[Role.SUPERVISOR]
    for action in ("login_failed", "login", "logout"):
        [event] = _audits(db, action)
        assert (event.user_id, event.ip, event.entity, event.entity_id, event.hall_id) == (
            supervisor.id, "192.0.2.44", "user", supervisor.id, supervisor.hall_id), action
        assert event.actor == "supervisor (console:supervisor)"
        assert PASSWORD not in str(event.detail) and "wrong-password" not in str(event.detail)
    assert _audits(db, "login_failed")[0].detail["reason"] == "wrong_password"
