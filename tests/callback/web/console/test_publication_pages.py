"""Approve, then publish, from the console (issue 14 §7; 篇2 六): the leader approves, a supervisor publishes,
publishing is refused without an approval or after a change, an unfinished week needs the supervisor's reason,
every form needs its CSRF token, and the preview is exactly the page the board then shows."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.models import AuditEvent, PublishedReport, User
from callback.models.publication import ResultsApproval
from tests.callback.web.console.conftest import Site
from tests.callback.web.console.helpers import csrf_token, login, make_user, text_of
from tests.callback.web.console.results_data import (
    ALL_GOOD,
    MARKET,
    MONTH,
    TAX,
    WEEK,
    add_callback,
    finished_week,
    set_clock,
)

APPROVE, PUBLISH = f"/console/results/week/{WEEK}/approve", f"/console/results/week/{WEEK}/publish"
PAGE = f"/console/results?week={WEEK}"


@pytest.fixture
def people(db: Session, site: Site, monkeypatch: pytest.MonkeyPatch) -> dict[Role, User]:
    set_clock(monkeypatch)
    users = {role: make_user(db, site.hall, role, name=name,
                             window=MARKET if role in (Role.WINDOW_LEAD, Role.STAFF) else None)
             for role, name in ((Role.SUPERVISOR, "张督查"), (Role.LEADER, "王主任"), (Role.WINDOW_LEAD, "李窗口"),
                                (Role.STAFF, "陈静"), (Role.ADMIN, "赵管理"))}
    finished_week(db, site.hall)
    db.commit()
    return users


def signed_in(app: Flask, user: User) -> FlaskClient:
    client = app.test_client()
    assert login(client, user.username, REMOTE_ADDR="10.1.2.3").status_code == 302
    return client


def post(client: FlaskClient, url: str, **data: str):  # noqa: ANN201
    return client.post(url, data={"csrf_token": csrf_token(client, PAGE if "/week/" in url else "/console/")} | data,
                       environ_base={"REMOTE_ADDR": "10.1.2.3"})


def count(db: Session, model: type) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model)) or 0


def flashed(client: FlaskClient, response) -> str:  # noqa: ANN001
    assert response.status_code == 302
    return text_of(client.get(response.headers["Location"]).get_data(as_text=True))


def test_only_the_leader_approves_and_only_a_supervisor_publishes(console_app: Flask, people, db: Session) -> None:  # noqa: ANN001
    supervisor, leader = signed_in(console_app, people[Role.SUPERVISOR]), signed_in(console_app, people[Role.LEADER])
    assert post(supervisor, APPROVE).status_code == 403
    assert post(leader, PUBLISH).status_code == 403
    for role in (Role.WINDOW_LEAD, Role.STAFF, Role.ADMIN):
        client = signed_in(console_app, people[role])
        token = csrf_token(client, "/console/")
        for url in (APPROVE, PUBLISH):
            assert client.post(url, data={"csrf_token": token}).status_code == 403, (role, url)
    assert count(db, ResultsApproval) == 0 and count(db, PublishedReport) == 0
    leader_page = text_of(leader.get(PAGE).get_data(as_text=True))
    assert "审核通过当前结果" in leader_page and "发布到公示板" not in leader_page
    supervisor_page = text_of(supervisor.get(PAGE).get_data(as_text=True))
    assert "审核通过当前结果" not in supervisor_page and "发布前须由中心领导审核当前结果" in supervisor_page


def test_a_form_without_its_csrf_token_is_refused(console_app: Flask, people, db: Session) -> None:  # noqa: ANN001
    leader, supervisor = signed_in(console_app, people[Role.LEADER]), signed_in(console_app, people[Role.SUPERVISOR])
    refused = leader.post(APPROVE)
    assert refused.status_code == 400 and "页面已过期" in text_of(refused.get_data(as_text=True))
    assert leader.post(APPROVE, data={"csrf_token": "forged"}).status_code == 400
    assert count(db, ResultsApproval) == 0
    assert post(leader, APPROVE).status_code == 302
    assert supervisor.post(PUBLISH).status_code == 400
    assert count(db, PublishedReport) == 0


def test_publishing_without_approval_is_refused(console_app: Flask, people, db: Session) -> None:  # noqa: ANN001
    supervisor = signed_in(console_app, people[Role.SUPERVISOR])
    page = flashed(supervisor, post(supervisor, PUBLISH))
    assert f"{WEEK} 的结果尚未经中心领导审核，不能发布" in page
    assert count(db, PublishedReport) == 0


def test_the_leader_approves_the_supervisor_publishes_and_the_board_shows_the_week(console_app: Flask, people,  # noqa: ANN001
                                                                                 db: Session) -> None:
    leader, supervisor = signed_in(console_app, people[Role.LEADER]), signed_in(console_app, people[Role.SUPERVISOR])
    page = flashed(leader, post(leader, APPROVE))
    assert f"已审核 {WEEK} 的结果（审核人：王主任）" in page and "已审核 王主任" in page
    approval = db.scalar(select(ResultsApproval))
    assert (approval.period, approval.approved_by, approval.user_id) == (WEEK, "王主任", people[Role.LEADER].id)
    page = flashed(supervisor, post(supervisor, PUBLISH))
    assert f"已发布 {WEEK} 第 1 版，公示板已更新。" in page and "已发布 第 1 版" in page
    published = db.scalar(select(PublishedReport))
    assert (published.period, published.approved_by) == (WEEK, "王主任")
    events = {e.action: e for e in db.scalars(select(AuditEvent).where(AuditEvent.action.like("results_%")))}
    assert events["results_approved"].user_id == people[Role.LEADER].id and events["results_approved"].ip == "10.1.2.3"
    assert events["results_published"].user_id == people[Role.SUPERVISOR].id
    assert events["results_published"].detail["approved_by"] == "王主任"
    board = text_of(console_app.test_client().get("/board?hall=WF01").get_data(as_text=True))
    assert "2026年第44周（10月26日—11月1日）" in board and f"{MARKET} 15 5 98.7 10 86.0 92.4 良好" in board
    assert "王主任" not in board  # the approver is kept for the record, never shown
    again = flashed(supervisor, post(supervisor, PUBLISH))
    assert "的审核结果已发布（第 1 版）" in again and count(db, PublishedReport) == 1


def test_a_week_that_changed_after_approval_needs_approving_again(console_app: Flask, people, db: Session,  # noqa: ANN001
                                                                   site: Site) -> None:
    leader, supervisor = signed_in(console_app, people[Role.LEADER]), signed_in(console_app, people[Role.SUPERVISOR])
    post(leader, APPROVE)
    add_callback(db, site.hall, TAX, ALL_GOOD | {"overall": "U"})  # a late answer after the approval
    db.commit()
    page = flashed(supervisor, post(supervisor, PUBLISH))
    assert f"{WEEK} 的数据在领导审核后有变动，须重新审核后才能发布" in page
    assert "审核后数据有变动，须重新审核" in page and count(db, PublishedReport) == 0
    assert "审核通过当前结果" in text_of(leader.get(PAGE).get_data(as_text=True))
    post(leader, APPROVE)
    assert "已发布" in flashed(supervisor, post(supervisor, PUBLISH))
    assert count(db, ResultsApproval) == 2 and count(db, PublishedReport) == 1


def test_an_unfinished_week_is_published_only_with_a_reason(console_app: Flask, people, db: Session,  # noqa: ANN001
                                                            site: Site) -> None:
    add_callback(db, site.hall, TAX, state="sms", finished_at=None)  # still waiting for an SMS reply
    db.commit()
    leader, supervisor = signed_in(console_app, people[Role.LEADER]), signed_in(console_app, people[Role.SUPERVISOR])
    post(leader, APPROVE)
    page = text_of(supervisor.get(PAGE).get_data(as_text=True))
    assert "本周尚未完成" in page and "确认仍要发布的原因" in page
    refused = flashed(supervisor, post(supervisor, PUBLISH))
    assert f"{WEEK} 尚未完成：1 个短信回访尚未结束" in refused and count(db, PublishedReport) == 0
    page = flashed(supervisor, post(supervisor, PUBLISH, reason="领导要求周三前公示"))
    assert "已发布" in page and count(db, PublishedReport) == 1
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "results_published"))
    assert event.detail["reason"] == "领导要求周三前公示" and event.detail["incomplete"] == ["1 个短信回访尚未结束"]


def test_the_preview_is_the_page_the_board_then_shows(console_app: Flask, people, db: Session) -> None:  # noqa: ANN001
    supervisor, leader = signed_in(console_app, people[Role.SUPERVISOR]), signed_in(console_app, people[Role.LEADER])
    preview = supervisor.get(f"/console/results/week/{WEEK}/preview")
    assert preview.status_code == 200 and count(db, PublishedReport) == 0  # nothing was stored
    assert "2026年第44周（10月26日—11月1日）" in text_of(preview.get_data(as_text=True))
    assert leader.get(f"/console/results/week/{WEEK}/preview").data == preview.data
    post(leader, APPROVE)
    post(supervisor, PUBLISH)  # the same clock: published at the moment the preview showed
    board = console_app.test_client().get(f"/board/{WEEK}?hall=WF01")
    assert board.status_code == 200
    assert board.get_data(as_text=True) == preview.get_data(as_text=True)
    assert console_app.test_client().get("/board?hall=WF01").data == preview.data


def test_the_month_preview_is_the_month_board(console_app: Flask, people) -> None:  # noqa: ANN001
    supervisor, leader = signed_in(console_app, people[Role.SUPERVISOR]), signed_in(console_app, people[Role.LEADER])
    preview = supervisor.get(f"/console/results/month/{MONTH}/preview")
    assert f"{MARKET}" in text_of(preview.get_data(as_text=True)) and "红旗窗口" in preview.get_data(as_text=True)
    post(leader, f"/console/results/month/{MONTH}/approve")
    assert "已发布" in flashed(supervisor, post(supervisor, f"/console/results/month/{MONTH}/publish"))
    board = console_app.test_client().get(f"/board/month/{MONTH}?hall=WF01")
    assert board.get_data(as_text=True) == preview.get_data(as_text=True)


def test_a_preview_of_an_empty_week_says_why(console_app: Flask, people) -> None:  # noqa: ANN001
    supervisor = signed_in(console_app, people[Role.SUPERVISOR])
    page = flashed(supervisor, supervisor.get("/console/results/week/2026-W30/preview"))
    assert "2026-W30 没有抽取的回访对象，无可发布的结果" in page
