"""The draw page: the week's draw with its seed, fingerprint, candidates and exclusions in words and the sample
with numbers masked; a supervisor runs this week's draw (the service's draw: callback rows, audit attributed to the
account), a redraw needs a reason, and anyone who may see the draw verifies it — passing, and failing in words
once the ledger behind it changed. Leaders see but cannot draw; administrators and window leads see nothing."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.models import AuditEvent, Callback, Case, Contact, Draw, User, utcnow
from survey.weeks import week_of
from tests.callback.web.console.helpers import csrf_token, login, make_user, text_of
from tests.factories import make_case

PAGE = "/console/draw"
ADDR = {"REMOTE_ADDR": "192.0.2.11"}
PHONES = [f"+86138001380{n:02d}" for n in range(6)]


@pytest.fixture
def ledger(db: Session, site) -> list[Case]:  # noqa: ANN001
    """Six cases accepted an hour ago (this month), the last one's number opted out."""
    accepted = utcnow() - timedelta(hours=1)
    cases = [make_case(db, site.hall, site.market if i % 2 else site.tax, phone=phone, accepted_at=accepted,
                       case_no=f"SF2026{i:04d}") for i, phone in enumerate(PHONES)]
    db.scalar(select(Contact).where(Contact.phone == PHONES[-1])).opted_out_at = accepted
    for role in (Role.SUPERVISOR, Role.LEADER, Role.ADMIN, Role.WINDOW_LEAD):
        make_user(db, site.hall, role, username=role.value, window="税务窗口" if role is Role.WINDOW_LEAD else None,
                  name="张督查" if role is Role.SUPERVISOR else None)
    db.commit()
    return cases


def _client(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


@pytest.fixture
def supervisor(console_app: Flask, ledger: list[Case]) -> FlaskClient:
    return _client(console_app, "supervisor")


def _run(client: FlaskClient, **fields: str):  # noqa: ANN202
    data = {"csrf_token": csrf_token(client, PAGE), "size": "3", "per_window": "", "reason": "", **fields}
    return client.post(f"{PAGE}/run", data=data, environ_base=ADDR)


def this_week() -> str:
    return week_of(utcnow(), ZoneInfo("Asia/Shanghai"))


def test_before_the_draw_the_page_says_so_and_offers_the_run(supervisor: FlaskClient) -> None:
    text = text_of(supervisor.get(PAGE).get_data(as_text=True))
    assert f"{this_week()} 还没有抽样" in text and "立即抽取" in text


def test_a_supervisor_runs_the_weeks_draw(supervisor: FlaskClient, db: Session, site) -> None:  # noqa: ANN001
    response = _run(supervisor)
    assert response.status_code == 302
    page = supervisor.get(response.headers["Location"]).get_data(as_text=True)
    text = text_of(page)
    draw = db.scalar(select(Draw).where(Draw.hall_id == site.hall.id))
    assert f"已抽取 {this_week()}：候选 5 件，抽中 3 件" in text
    assert draw.seed in text and draw.fingerprint in text
    assert "已退订： 1 件" in text and "没有可拨打的号码： 0 件" in text and "以前已被抽中： 0 件" in text
    called = db.scalars(select(Callback).where(Callback.draw_id == draw.id)).all()
    assert len(called) == 3
    for case_no in db.scalars(select(Case.case_no).where(Case.id.in_([c.case_id for c in called]))):
        assert case_no in text
    assert sum(f"138****80{n:02d}" in text for n in range(6)) == 3
    assert not any(phone in page or phone[3:] in page for phone in PHONES)
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.entity == "draw", AuditEvent.action == "draw"))
    assert (event.entity_id, event.user_id, event.ip, event.actor) == (
        draw.id, db.scalar(select(User.id).where(User.username == "supervisor")), "192.0.2.11",
        "张督查 (console:supervisor)")


def test_verify_passes_then_fails_in_words_when_the_ledger_changed(supervisor: FlaskClient, db: Session,
                                                                   ledger: list[Case]) -> None:
    _run(supervisor)
    week = this_week()
    token = csrf_token(supervisor, PAGE)
    response = supervisor.post(f"{PAGE}/verify?week={week}", data={"csrf_token": token})
    assert response.status_code == 302
    assert "抽样核验通过" in text_of(supervisor.get(response.headers["Location"]).get_data(as_text=True))
    ledger[0].case_no = "SF-CORRECTED"  # a ledger row corrected after its draw
    db.commit()
    response = supervisor.post(f"{PAGE}/verify?week={week}", data={"csrf_token": token})
    text = text_of(supervisor.get(response.headers["Location"]).get_data(as_text=True))
    assert "抽样核验未通过" in text and "候选集与存档指纹不一致" in text
    verdicts = db.scalars(select(AuditEvent.detail).where(AuditEvent.action == "draw_verified")
                          .order_by(AuditEvent.id)).all()
    assert [(v["ok"], v["reason"]) for v in verdicts] == [(True, None), (False, "candidate_set_changed")]


def test_a_week_without_a_draw_fails_verification_and_a_bad_week_is_404(supervisor: FlaskClient) -> None:
    token = csrf_token(supervisor, PAGE)
    response = supervisor.post(f"{PAGE}/verify?week=2026-W02", data={"csrf_token": token})
    assert "该周没有抽样记录" in text_of(supervisor.get(response.headers["Location"]).get_data(as_text=True))
    assert "这一周没有抽样记录" in text_of(supervisor.get(f"{PAGE}?week=2026-W02").get_data(as_text=True))
    assert supervisor.get(f"{PAGE}?week=2026-W99").status_code == 404


def test_a_redraw_needs_a_reason_and_keeps_it(supervisor: FlaskClient, db: Session, site) -> None:  # noqa: ANN001
    _run(supervisor)
    first = db.scalar(select(Draw.id))
    refused = _run(supervisor)
    assert refused.status_code == 400
    assert "本周已有抽样。如需重新抽取，请填写原因" in text_of(refused.get_data(as_text=True))
    assert db.scalar(select(func.count()).select_from(Draw)) == 1
    response = _run(supervisor, reason="台账补录后重新抽取")
    text = text_of(supervisor.get(response.headers["Location"]).get_data(as_text=True))
    assert "已重新抽取" in text and "重新抽取的原因：台账补录后重新抽取" in text and "已作废" in text
    db.expire_all()
    assert db.get(Draw, first).superseded_at is not None
    live = db.scalar(select(Draw).where(Draw.superseded_at.is_(None)))
    assert live.reason == "台账补录后重新抽取"


@pytest.mark.parametrize("size", ["0", "abc", "201", ""])
def test_a_bad_size_is_refused_on_the_form_in_one_chinese_line(supervisor: FlaskClient, db: Session,
                                                                size: str) -> None:
    response = _run(supervisor, size=size)
    assert response.status_code == 400
    text = text_of(response.get_data(as_text=True))
    assert "请输入 1–200 之间的整数" in text and "整数。" not in text and "Not a valid" not in text
    assert db.scalar(select(func.count()).select_from(Draw)) == 0


def test_running_without_the_csrf_token_is_refused(supervisor: FlaskClient, db: Session) -> None:
    response = supervisor.post(f"{PAGE}/run", data={"size": "3"})
    assert response.status_code == 400 and "页面已过期" in text_of(response.get_data(as_text=True))
    assert db.scalar(select(func.count()).select_from(Draw)) == 0


def test_a_leader_sees_and_verifies_but_cannot_draw(console_app: Flask, ledger: list[Case], db: Session) -> None:
    leader = _client(console_app, "leader")
    page = leader.get(PAGE).get_data(as_text=True)
    assert "还没有抽样" in text_of(page) and "立即抽取" not in text_of(page) and "/console/draw/run" not in page
    token = csrf_token(leader, PAGE)
    assert leader.post(f"{PAGE}/run", data={"csrf_token": token, "size": "3"}).status_code == 403
    assert db.scalar(select(func.count()).select_from(Draw)) == 0
    assert leader.post(f"{PAGE}/verify", data={"csrf_token": token}).status_code == 302


@pytest.mark.parametrize("username", ["admin", "window_lead"])
def test_administrators_and_window_leads_may_not_see_the_draw(console_app: Flask, ledger: list[Case],
                                                              username: str) -> None:
    client = _client(console_app, username)
    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}/verify", data={"csrf_token": csrf_token(client, "/console/")}).status_code == 403
