"""The rectification queue and a case's page (issue 14 §5): who sees which cases, the citizen's words masked, the
working days left, the window lead's answer (measures and feedback, by SMS through the provider or in person), the
supervisor's acceptance, return and close without feedback — every view of the citizen's words and every change
audited, every form with its CSRF token; a window lead asking for another window's case or an integrity case gets
404, as for a case that does not exist."""

from __future__ import annotations

import re
import secrets
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.calendar.services import WorkingCalendar
from callback.models import Answer, AuditEvent, Callback, Contact, Hall, Window
from callback.models.rectification import Rectification, RectificationEvent
from callback.rectification.services import open_for_callback
from callback.telephony import MockProvider
from callback.web.console import clock
from callback.web.console.rectifications import deadline_of
from tests.callback.web.console.helpers import csrf_token, login, make_user, text_of
from tests.factories import make_case

NOW = datetime(2026, 11, 4, 2, 0, tzinfo=UTC)  # Wed 10:00 in Shanghai: a working day, inside SMS hours
PHONE = "+8613912345678"
SAID = "窗口态度不好，我叫张三，电话13912345678"
ALL_GOOD = {"attitude": "S", "efficiency": "S", "by_the_rules": "S", "in_hall": "Y", "integrity": "N", "overall": "S"}
ADDR = {"REMOTE_ADDR": "192.0.2.9"}


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


@dataclass
class Cases:
    market: Rectification  # 市场监管窗口, 基本满意 on attitude, the citizen's words
    market_integrity: Rectification  # 市场监管窗口, an integrity report
    tax: Rectification  # 税务窗口
    onsite: Rectification  # 市场监管窗口, an on-site form (no number)


def open_case(db: Session, hall: Hall, window: Window, answers: dict[str, str], *, suggestion: str | None = None,
              phone: str | None = None, onsite: bool = False) -> Rectification:
    case = None if onsite else make_case(db, hall, window, phone=phone)
    callback = Callback(hall_id=hall.id, case_id=case.id if case else None, contact_id=case.contact_id if case else None,
                        window_id=window.id, week="2026-W45", state="complete", channel="onsite" if onsite else "voice",
                        token=secrets.token_hex(16), suggestion=suggestion, flags={})
    db.add(callback)
    db.flush()
    for item, value in answers.items():
        db.add(Answer(hall_id=hall.id, callback_id=callback.id, item=item, value=value, channel="voice"))
    db.flush()
    rectification = open_for_callback(db, callback, NOW - timedelta(hours=1))
    assert rectification is not None
    return rectification


@pytest.fixture
def cases(db: Session, site) -> Cases:  # noqa: ANN001
    made = Cases(
        open_case(db, site.hall, site.market, ALL_GOOD | {"attitude": "B", "overall": "B"}, suggestion=SAID,
                  phone=PHONE),
        open_case(db, site.hall, site.market, ALL_GOOD | {"integrity": "Y"}, suggestion="办事人员收了红包"),
        open_case(db, site.hall, site.tax, ALL_GOOD | {"efficiency": "U"}),
        open_case(db, site.hall, site.market, ALL_GOOD | {"in_hall": "N"}, onsite=True),
    )
    make_user(db, site.hall, Role.SUPERVISOR, username="zhang", name="张督查")
    make_user(db, site.hall, Role.LEADER, username="wang", name="王主任")
    make_user(db, site.hall, Role.WINDOW_LEAD, username="li", name="李窗口", window="市场监管窗口")
    make_user(db, site.hall, Role.WINDOW_LEAD, username="zhao", name="赵窗口", window="税务窗口")
    make_user(db, site.hall, Role.ADMIN, username="admin")
    make_user(db, site.hall, Role.STAFF, username="staff", window="市场监管窗口")
    db.commit()
    return made


@pytest.fixture
def provider(console_app: Flask) -> MockProvider:
    mock = MockProvider()
    console_app.config["PROVIDER_FACTORY"] = lambda settings: mock
    return mock


def client_for(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def case_url(case: Rectification, action: str = "") -> str:
    return f"/console/rectifications/{case.id}" + (f"/{action}" if action else "")


def post(client: FlaskClient, case: Rectification, step: str, **data: str):  # noqa: ANN201
    data = {"csrf_token": csrf_token(client, case_url(case)), **data}
    return client.post(case_url(case, step), data=data, environ_base=ADDR)


def reload(db: Session, case: Rectification) -> Rectification:
    db.expire_all()
    return db.get(Rectification, case.id)


def audits(db: Session, action: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --- who may open what ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["admin", "staff"])
def test_roles_without_rectifications_get_403(console_app: Flask, cases: Cases, username: str) -> None:
    client = client_for(console_app, username)
    for url in ("/console/rectifications", case_url(cases.market)):
        assert "无权访问" in text_of(page(client, url, 403))
    assert post(client, cases.market, "accept").status_code == 403


def test_the_supervisor_sees_every_case_of_the_hall(console_app: Flask, cases: Cases) -> None:
    text = text_of(page(client_for(console_app, "zhang"), "/console/rectifications"))
    for case in (cases.market, cases.market_integrity, cases.tax, cases.onsite):
        assert f"整改#{case.id}" in text
    assert "廉洁" in text and "税务窗口" in text and "共 4 件" in text


def test_a_window_lead_sees_only_their_windows_cases_without_integrity(console_app: Flask, cases: Cases) -> None:
    html = page(client_for(console_app, "li"), "/console/rectifications")
    text = text_of(html)
    assert f"整改#{cases.market.id}" in text and f"整改#{cases.onsite.id}" in text
    assert f"整改#{cases.market_integrity.id}" not in text and f"整改#{cases.tax.id}" not in text
    assert "廉洁" not in text and "红包" not in text and "共 2 件" in text
    assert f"/console/rectifications/{cases.market_integrity.id}" not in html


@pytest.mark.parametrize("which", ["tax", "market_integrity", "missing"])
def test_a_window_lead_asking_for_another_case_gets_404(console_app: Flask, db: Session, cases: Cases,
                                                          which: str) -> None:
    client = client_for(console_app, "li")
    case = getattr(cases, which) if which != "missing" else Rectification(id=99999)
    assert "页面或记录不存在" in text_of(page(client, case_url(case), 404))
    token = csrf_token(client, "/console/rectifications")
    response = client.post(case_url(case, "respond"), data={"csrf_token": token, "action": "已整改", "via": "phone"})
    assert response.status_code == 404
    if which != "missing":
        assert reload(db, case).state == "open"
    assert not audits(db, "rectification_viewed")


def test_another_halls_case_is_404_for_the_supervisor(console_app: Flask, db: Session, cases: Cases, site) -> None:  # noqa: ANN001
    other = open_case(db, site.other_hall, db.scalar(select(Window).where(Window.hall_id == site.other_hall.id)),
                      ALL_GOOD | {"overall": "U"})
    db.commit()
    client = client_for(console_app, "zhang")
    page(client, case_url(other), 404)
    assert f"整改#{other.id}" not in text_of(page(client, "/console/rectifications?state=all"))


def test_the_leader_reads_but_changes_nothing(console_app: Flask, db: Session, cases: Cases) -> None:
    client = client_for(console_app, "wang")
    text = text_of(page(client, case_url(cases.market_integrity)))
    assert "廉洁问题" in text and "督查科验收" not in text and "登记整改和反馈" not in text
    for action, data in (("accept", {}), ("return", {"reason": "x"}), ("close", {"reason": "x"}),
                         ("respond", {"action": "x", "via": "phone"})):
        assert post(client, cases.market, action, **data).status_code == 403
    assert reload(db, cases.market).state == "open"


# --- what a case shows ------------------------------------------------------------------------------------------------


def test_the_citizens_words_are_masked_and_the_view_audited(console_app: Flask, db: Session, cases: Cases) -> None:
    for username in ("zhang", "li"):
        html = page(client_for(console_app, username), case_url(cases.market))
        text = text_of(html)
        assert "窗口态度不好" in text and "139****5678" in text and "张*" in text
        assert "13912345678" not in html and "张三" not in html
        assert "服务态度 基本满意" in text
    viewers = {(e.user_id, e.entity_id) for e in audits(db, "rectification_viewed")}
    ids = {u: db.scalar(select(AuditEvent.user_id).where(AuditEvent.actor.like(f"%console:{u}%"))) for u in ("zhang", "li")}
    assert viewers == {(ids["zhang"], cases.market.id), (ids["li"], cases.market.id)}


def test_the_queue_view_is_audited_with_the_cases_shown(console_app: Flask, db: Session, cases: Cases) -> None:
    page(client_for(console_app, "li"), "/console/rectifications")
    [event] = audits(db, "rectifications_listed")
    assert sorted(event.detail["ids"]) == sorted([cases.market.id, cases.onsite.id])
    assert event.entity == "rectification" and event.user_id is not None


def test_the_window_lead_never_sees_the_case_number_the_item_or_escalations(console_app: Flask, db: Session,
                                                                            cases: Cases) -> None:
    case_no = db.scalar(select(Callback).where(Callback.id == cases.market.callback_id)).case_id
    from callback.models import Case

    ledger = db.get(Case, case_no)
    market = reload(db, cases.market)
    db.add(RectificationEvent(hall_id=market.hall_id, rectification_id=market.id, at=NOW, actor="system",
                              action="escalated", audience="supervisors", detail={}))
    market.escalated_at = NOW
    db.commit()
    lead = text_of(page(client_for(console_app, "li"), case_url(cases.market)))
    assert ledger.case_no not in lead and ledger.item_name not in lead
    assert "超期督办" not in lead and "二次回访" not in lead
    supervisor = page(client_for(console_app, "zhang"), case_url(cases.market))
    assert ledger.case_no in supervisor and "超期督办" in text_of(supervisor)
    assert "反馈后将安排二次回访" in text_of(supervisor)  # 基本满意 overall: a 二次回访 is owed (篇3 (五)2)
    assert "已督办" in text_of(page(client_for(console_app, "zhang"), "/console/rectifications"))


def test_working_days_left_with_their_colour(console_app: Flask, cases: Cases) -> None:
    # opened Wed 11-04 → due at the end of Mon 11-09 (Thu, Fri, Mon)
    tz, calendar = ZoneInfo("Asia/Shanghai"), WorkingCalendar()
    case = cases.market
    at = lambda day, hour=10: datetime(2026, 11, day, hour, tzinfo=tz)  # noqa: E731
    with console_app.test_request_context():
        shown = lambda moment: astuple(deadline_of(case, moment, calendar, tz))  # noqa: E731
        assert shown(at(4)) == ("还剩 3 个工作日", "ok")
        assert shown(at(6)) == ("还剩 1 个工作日", "soon")
        assert shown(at(8)) == ("还剩 1 个工作日", "soon")  # Sunday: Monday is next
        assert shown(at(9)) == ("今天到期", "today")
        assert shown(at(10)) == ("已超期 1 个工作日", "overdue")
        assert shown(at(12)) == ("已超期 3 个工作日", "overdue")
        case.feedback_at = datetime(2026, 11, 10, 1, tzinfo=UTC)
        assert shown(at(12)) == ("逾期反馈", "late")
        case.feedback_at = None
    text = text_of(page(client_for(console_app, "li"), "/console/rectifications"))
    assert "还剩 3 个工作日" in text and "due-ok" in page(client_for(console_app, "li"), "/console/rectifications")


# --- the window's answer ----------------------------------------------------------------------------------------------


def test_a_window_lead_answers_in_person_and_the_supervisor_accepts(console_app: Flask, db: Session,
                                                                   cases: Cases) -> None:
    lead = client_for(console_app, "li")
    response = post(lead, cases.market, "respond", action="已对窗口人员批评教育", feedback="已当面向申请人说明", via="phone")
    assert response.status_code == 302
    case = reload(db, cases.market)
    assert (case.state, case.action, case.feedback, case.feedback_via) == (
        "feedback_given", "已对窗口人员批评教育", "已当面向申请人说明", "phone")
    assert case.rectified_by == case.feedback_by == "李窗口 (console:li)"
    assert "已反馈申请人，等待督查科验收" in text_of(page(lead, case_url(case)))
    [event] = audits(db, "rectification_responded")
    assert (event.entity_id, event.ip, event.detail["via"]) == (case.id, "192.0.2.9", "phone")
    assert post(lead, case, "respond", action="再改", via="phone").status_code == 403  # answered: wait for review

    supervisor = client_for(console_app, "zhang")
    assert post(supervisor, case, "accept", note="验收通过").status_code == 302
    case = reload(db, case)
    assert case.state == "closed" and case.closed_by == "张督查 (console:zhang)"
    assert [e.detail.get("note") for e in audits(db, "rectification_accepted")] == ["验收通过"]
    assert f"整改#{case.id}" not in text_of(page(lead, "/console/rectifications"))  # closed: off the lead's queue


def test_measures_first_feedback_later(console_app: Flask, db: Session, cases: Cases) -> None:
    lead = client_for(console_app, "li")
    assert post(lead, cases.market, "respond", action="调整了排班", feedback="", via="phone").status_code == 302
    assert reload(db, cases.market).state == "rectified"
    assert post(lead, cases.market, "respond", action="调整了排班", feedback="已电话说明", via="phone").status_code == 302
    history = text_of(page(lead, case_url(cases.market))).split("办理经过")[1]
    assert "安排二次回访" not in history and "系统" in history  # the 二次回访 counts in 篇3: not the window's
    assert "安排二次回访" in text_of(page(client_for(console_app, "zhang"), case_url(cases.market)))
    case = reload(db, cases.market)
    assert case.state == "feedback_given"
    actions = [e.action for e in db.scalars(select(RectificationEvent).where(
        RectificationEvent.rectification_id == case.id).order_by(RectificationEvent.id))]
    # the unchanged measures are not amended again; the feedback places the 二次回访 a 基本满意 is owed
    assert actions == ["opened", "rectified", "feedback_given", "revisit_scheduled"]


def test_feedback_by_sms_goes_to_the_number_the_lead_never_sees(console_app: Flask, db: Session, cases: Cases,
                                                              provider: MockProvider) -> None:
    lead = client_for(console_app, "li")
    html = page(lead, case_url(cases.market))
    assert "系统发短信告知申请人（号码不显示）" in text_of(html) and "13912345678" not in html
    response = post(lead, cases.market, "respond", action="已整改", feedback="您反映的问题已整改，感谢监督", via="sms")
    assert response.status_code == 302
    [text] = provider.texts()
    assert text.to == PHONE and text.body.endswith("您反映的问题已整改，感谢监督")
    case = reload(db, cases.market)
    assert case.state == "feedback_given" and case.feedback_via == "sms" and case.feedback_message_id
    assert "13912345678" not in page(lead, case_url(case))


def test_a_refused_sms_keeps_the_measures_and_says_why(console_app: Flask, db: Session, cases: Cases,
                                                      provider: MockProvider) -> None:
    contact = db.scalar(select(Contact).where(Contact.phone == PHONE))
    contact.opted_out_at = NOW - timedelta(days=1)
    db.commit()
    response = post(client_for(console_app, "li"), cases.market, "respond", action="已整改", feedback="已整改",
                    via="sms")
    assert response.status_code == 400
    assert "该号码已退订短信" in text_of(response.get_data(as_text=True))
    case = reload(db, cases.market)
    assert (case.state, case.action) == ("rectified", "已整改") and provider.texts() == []


def test_an_onsite_forms_case_is_answered_in_person_only(console_app: Flask, db: Session, cases: Cases,
                                                        provider: MockProvider) -> None:
    lead = client_for(console_app, "li")
    html = page(lead, case_url(cases.onsite))
    assert "系统发短信" not in text_of(html) and "现场征求意见表" in text_of(html)
    response = post(lead, cases.onsite, "respond", action="已整改", feedback="x", via="sms")
    assert response.status_code == 400 and "请选择反馈方式" in text_of(response.get_data(as_text=True))
    assert provider.texts() == []


def test_the_answer_form_needs_the_measures(console_app: Flask, db: Session, cases: Cases) -> None:
    response = post(client_for(console_app, "li"), cases.market, "respond", action=" ", via="phone")
    assert response.status_code == 400
    text = text_of(response.get_data(as_text=True))
    assert "未保存：请更正下面标出的内容" in text and "请填写整改措施" in text
    assert reload(db, cases.market).state == "open"


# --- the supervisor's review -----------------------------------------------------------------------------------------


def test_the_supervisor_returns_an_answer_and_the_lead_reads_why(console_app: Flask, db: Session, cases: Cases) -> None:
    lead, supervisor = client_for(console_app, "li"), client_for(console_app, "zhang")
    post(lead, cases.market, "respond", action="已整改", feedback="已说明", via="phone")
    assert post(supervisor, cases.market, "return", reason="措施太笼统，请写明具体怎么改的").status_code == 302
    case = reload(db, cases.market)
    assert case.state == "open" and case.feedback is None
    text = text_of(page(lead, case_url(case)))
    assert "督查科已退回，请重新整改并反馈" in text and "措施太笼统，请写明具体怎么改的" in text
    assert "退回窗口 张督查 (console:zhang) 措施太笼统" in text  # the history says why, not the old measures
    queue = page(lead, "/console/rectifications")
    assert "已退回" in text_of(queue) and "state-returned" in queue
    assert [e.detail["reason"] for e in audits(db, "rectification_returned")] == ["措施太笼统，请写明具体怎么改的"]
    assert post(lead, case, "respond", action="已整改：增加一名导办员", feedback="已再次电话说明",
                via="phone").status_code == 302
    assert reload(db, case).state == "feedback_given"


@pytest.mark.parametrize(("action", "message"), [("return", "请填写退回原因"), ("close", "请填写无需反馈的原因")])
def test_a_return_or_a_close_without_feedback_needs_a_reason(console_app: Flask, db: Session, cases: Cases,
                                                            action: str, message: str) -> None:
    supervisor = client_for(console_app, "zhang")
    post(client_for(console_app, "li"), cases.market, "respond", action="已整改", via="phone")
    response = post(supervisor, cases.market, action, reason="")
    assert response.status_code == 400 and message in text_of(response.get_data(as_text=True))
    assert reload(db, cases.market).state == "rectified"


def test_closing_without_feedback(console_app: Flask, db: Session, cases: Cases) -> None:
    supervisor = client_for(console_app, "zhang")
    assert post(supervisor, cases.tax, "close", reason="申请人只是提建议，不需要答复").status_code == 302
    case = reload(db, cases.tax)
    assert case.state == "closed" and case.closed_without_feedback and case.close_reason == "申请人只是提建议，不需要答复"
    assert "已办结（无需反馈）" in text_of(page(supervisor, case_url(case)))
    assert audits(db, "rectification_closed_without_feedback")[0].detail["reason"] == "申请人只是提建议，不需要答复"


def test_accepting_needs_a_feedback(console_app: Flask, db: Session, cases: Cases) -> None:
    response = post(client_for(console_app, "zhang"), cases.market, "accept")
    assert response.status_code == 400 and "只有已反馈的整改才能验收办结" in text_of(response.get_data(as_text=True))
    assert reload(db, cases.market).state == "open"


def test_integrity_cases_are_answered_by_the_supervisors(console_app: Flask, db: Session, cases: Cases) -> None:
    supervisor = client_for(console_app, "zhang")
    assert "登记整改和反馈" not in text_of(page(supervisor, case_url(cases.market)))  # the window answers its own
    assert post(supervisor, cases.market, "respond", action="x", via="phone").status_code == 403
    assert "登记整改和反馈" in text_of(page(supervisor, case_url(cases.market_integrity)))
    assert post(supervisor, cases.market_integrity, "respond", action="已移交纪检组核查", via="phone").status_code == 302
    assert reload(db, cases.market_integrity).state == "rectified"


def test_the_revisits_outcome_is_shown_to_supervisors(console_app: Flask, db: Session, cases: Cases) -> None:
    case = reload(db, cases.market)
    case.revisit_rating, case.revisit_linked_at = "U", NOW
    db.commit()
    assert "二次回访仍不满意" in text_of(page(client_for(console_app, "zhang"), case_url(case)))
    assert "二次回访" not in text_of(page(client_for(console_app, "li"), case_url(case)))


# --- CSRF -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("username", "action", "data"), [
    ("li", "respond", {"action": "已整改", "via": "phone"}),
    ("zhang", "close", {"reason": "无需反馈"}),
    ("zhang", "return", {"reason": "x"}),
    ("zhang", "accept", {}),
])
def test_every_form_needs_its_csrf_token(console_app: Flask, db: Session, cases: Cases, username: str, action: str,
                                         data: dict[str, str]) -> None:
    client = client_for(console_app, username)
    response = client.post(case_url(cases.market, action), data=data)
    assert response.status_code == 400 and "页面已过期" in text_of(response.get_data(as_text=True))
    assert reload(db, cases.market).state == "open"
    assert re.search(r'name="csrf_token"', page(client, case_url(cases.market)))
