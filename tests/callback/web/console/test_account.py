"""One's own account page: every role may change its language (the next page speaks it) and its password (the
current one first; other sessions end, this one goes on); both audited."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.models import AuditEvent, User
from tests.callback.web.console.helpers import PASSWORD, csrf_token, login, make_user, text_of


@pytest.fixture
def lead(db: Session, site) -> User:  # noqa: ANN001
    user = make_user(db, site.hall, Role.WINDOW_LEAD, username="lead", name="李窗口", window="税务窗口")
    db.commit()
    return user


def test_every_role_opens_its_account_page(console_app: Flask, db: Session, site) -> None:  # noqa: ANN001
    for role in Role:
        window = "税务窗口" if role in (Role.WINDOW_LEAD, Role.STAFF) else None
        make_user(db, site.hall, role, username=f"acct-{role.value}", window=window)
    db.commit()
    for role in Role:
        client = console_app.test_client()
        login(client, f"acct-{role.value}")
        page = text_of(client.get("/console/account").get_data(as_text=True))
        assert "我的账号" in page and f"acct-{role.value}" in page


def test_a_user_switches_the_console_to_english(console_app: Flask, db: Session, lead: User) -> None:
    client = console_app.test_client()
    login(client, "lead")
    token = csrf_token(client, "/console/account")
    response = client.post("/console/account/language", data={"csrf_token": token, "language": "en"})
    assert response.headers["Location"] == "/console/account"
    page = text_of(client.get("/console/account").get_data(as_text=True))
    assert "Language changed" in page and "My account" in page and "Window lead" in page
    db.refresh(lead)
    assert lead.language == "en"
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "language_set"))
    assert (event.user_id, event.detail["old"], event.detail["new"]) == (lead.id, "zh-Hans", "en")
    refused = client.post("/console/account/language", data={"csrf_token": token, "language": "fr"})
    assert refused.status_code == 400


def test_a_new_password_needs_the_current_one_and_keeps_this_session(console_app: Flask, db: Session,
                                                                     lead: User) -> None:
    client, elsewhere = console_app.test_client(), console_app.test_client()
    login(client, "lead")
    login(elsewhere, "lead")
    token = csrf_token(client, "/console/account")
    form = {"csrf_token": token, "pw-current": "wrong-password", "pw-password": "brand-new-pass-1",
            "pw-password2": "brand-new-pass-1"}
    wrong = client.post("/console/account/password", data=form)
    assert wrong.status_code == 400 and "当前密码不正确" in text_of(wrong.get_data(as_text=True))
    mismatch = client.post("/console/account/password", data=form | {"pw-current": PASSWORD,
                                                                     "pw-password2": "something-else-2"})
    assert mismatch.status_code == 400 and "两次输入的密码不一致" in text_of(mismatch.get_data(as_text=True))
    done = client.post("/console/account/password", data=form | {"pw-current": PASSWORD})
    assert done.headers["Location"] == "/console/account"
    assert "密码已修改" in text_of(client.get("/console/account").get_data(as_text=True))
    assert elsewhere.get("/console/").status_code == 302  # the other session ended
    assert login(console_app.test_client(), "lead", "brand-new-pass-1").status_code == 302
    actions = list(db.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == lead.id,
                                                              AuditEvent.user_id == lead.id)
                              .order_by(AuditEvent.id)))
    assert "password_change_refused" in actions and "password_set" in actions
