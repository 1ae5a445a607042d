"""The audit log page (issue 14 §9): who did what, when (Beijing time) and from where, in the hall only; filterable
by who, what, on what and a date range; 50 a page; details without personal data; supervisors and leaders only."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.models import AuditEvent
from callback.web.console import clock
from callback.web.console.audit_log import shown_detail
from tests.callback.web.console.callback_data import NOW, answered
from tests.callback.web.console.helpers import csrf_token, login, make_user, text_of

PAGE = "/console/audit"
ADDR = {"REMOTE_ADDR": "198.51.100.23"}


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def as_user(console_app: Flask, db: Session, site) -> Callable[[str], FlaskClient]:  # noqa: ANN001
    make_user(db, site.hall, Role.SUPERVISOR, username="zhang", name="张督查")
    make_user(db, site.hall, Role.LEADER, username="wang", name="王主任")
    make_user(db, site.hall, Role.WINDOW_LEAD, username="li", name="李窗口", window="市场监管窗口")
    make_user(db, site.hall, Role.ADMIN, username="admin", name="赵管理")
    make_user(db, site.other_hall, Role.SUPERVISOR, username="far", name="外中心督查")
    db.commit()

    def client_for(username: str) -> FlaskClient:
        client = console_app.test_client()
        assert login(client, username, **ADDR).status_code == 302
        return client

    return client_for


def event(db: Session, hall_id: int, action: str, at: datetime, actor: str = "李四 (cli:li)", entity: str = "callback",
          entity_id: int | None = 1, **detail: object) -> AuditEvent:
    row = AuditEvent(hall_id=hall_id, at=at, actor=actor, entity=entity, entity_id=entity_id, action=action,
                     detail=dict(detail))
    db.add(row)
    return row


def rows(html: str) -> int:
    body = html[html.index("<tbody>"):html.index("</tbody>")] if "<tbody>" in html else ""
    return body.count("<tr>")


@pytest.mark.parametrize("username", ["li", "admin"])
def test_only_supervisors_and_leaders(as_user, username: str) -> None:  # noqa: ANN001
    assert as_user(username).get(PAGE).status_code == 403


def test_who_what_when_where(as_user, db: Session, site) -> None:  # noqa: ANN001
    client = as_user("wang")
    text = text_of(client.get(PAGE).get_data(as_text=True))
    assert "王主任 (console:wang)" in text and "登录" in text and "198.51.100.23" in text
    assert "外中心督查" not in text  # another hall's events
    assert "新建账号" in text and "命令行或系统" in text  # the accounts made by the tests' own command


def test_a_supervisors_work_in_the_console_is_in_the_log(as_user, db: Session, site) -> None:  # noqa: ANN001
    callback = answered(db, site.hall, site.market, "121111", phone="+8613912345678")
    db.commit()
    client = as_user("zhang")
    client.get(f"/console/callbacks/{callback.id}", environ_base=ADDR)
    token = csrf_token(client, f"/console/callbacks/{callback.id}")
    client.post(f"/console/callbacks/{callback.id}/reveal", environ_base=ADDR,
                data={"csrf_token": token, "field": "phone", "phone-reason": "市民要求回电 13812345678"})
    client.post(f"/console/callbacks/{callback.id}/answers/efficiency/correct", environ_base=ADDR,
                data={"csrf_token": token, "efficiency-value": "S", "efficiency-reason": "听录音确认"})
    html = as_user("wang").get(PAGE).get_data(as_text=True)
    text = text_of(html)
    assert "查看回访记录" in text and "查看个人信息原文" in text and "更正答案" in text
    assert "市民要求回电 138****5678" in text and "13812345678" not in html and "13912345678" not in html
    assert f'href="/console/callbacks/{callback.id}"' in html  # the callback and the corrected answer link to it


@pytest.fixture
def log(db: Session, site) -> None:  # noqa: ANN001
    beijing_25 = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # 2026-11-25 01:00 in Beijing
    event(db, site.hall.id, "reveal", beijing_25, actor="张督查 (console:zhang)", field="phone", reason="回电")
    event(db, site.hall.id, "draw", datetime(2026, 11, 23, 1, 0, tzinfo=UTC), actor="system", entity="draw")
    event(db, site.hall.id, "opted_out", datetime(2026, 11, 20, 1, 0, tzinfo=UTC), actor="sms", entity="contact")
    event(db, site.other_hall.id, "reveal", beijing_25, actor="张督查 (console:zhang)")
    db.commit()


@pytest.mark.parametrize(("query", "expected"), [
    ("actor=ZHANG", {"查看个人信息原文"}),
    ("action=draw", {"抽样"}),
    ("entity=contact", {"退订"}),
    ("from=2026-11-25", {"查看个人信息原文", "登录"}),
    ("from=2026-11-21&to=2026-11-24", {"抽样"}),
    ("from=2026-11-19&to=2026-11-20", {"退订"}),
    ("actor=%25", set()),  # a literal %, not a wildcard
])
def test_filters(as_user, log, query: str, expected: set[str]) -> None:  # noqa: ANN001
    html = as_user("wang").get(f"{PAGE}?{query}").get_data(as_text=True)
    body = html[html.index("<tbody>"):html.index("</tbody>")] if "<tbody>" in html else ""
    found = set(re.findall(r"<td data-label=\"操作\">([^<]+)</td>", body))
    assert found == expected


def test_filter_choices_are_the_halls_own(as_user, log) -> None:  # noqa: ANN001
    html = as_user("wang").get(PAGE).get_data(as_text=True)
    assert '<option value="reveal">查看个人信息原文</option>' in html and '<option value="draw">抽样</option>' in html
    assert '<option value="contact">号码</option>' in html


def test_pages_of_50(as_user, db: Session, site) -> None:  # noqa: ANN001
    for i in range(70):
        event(db, site.hall.id, "view_transcript", NOW - timedelta(minutes=i), entity_id=i + 1)
    db.commit()
    client = as_user("wang")
    first = client.get(f"{PAGE}?action=view_transcript").get_data(as_text=True)
    second = client.get(f"{PAGE}?action=view_transcript&page=2").get_data(as_text=True)
    assert rows(first) == 50 and rows(second) == 20
    assert "共 70 条，第 1 / 2 页" in text_of(first)
    assert 'href="/console/audit?action=view_transcript&amp;page=2"' in first
    assert first.index("回访 #1<") < first.index("回访 #2<")  # newest first


def test_nothing_found_says_so(as_user) -> None:  # noqa: ANN001
    text = text_of(as_user("wang").get(f"{PAGE}?action=nothing-like-it").get_data(as_text=True))
    assert "没有符合条件的记录" in text


def test_details_are_masked_and_cut_short(console_app: Flask) -> None:
    with console_app.test_request_context():
        shown = dict(shown_detail({"reason": "回电 13912345678", "ids": [1, 2], "long": "长" * 300, "field": "phone"}))
    assert shown["理由"] == "回电 139****5678" and shown["ids"] == "[1, 2]" and shown["内容"] == "号码"
    assert len(shown["long"]) == 120 and shown["long"].endswith("…")
