"""A window lead answers a rectification from a phone (issue 14 §5, §Tests), in a real browser against a real
`callback serve`: the queue shows only their window's case (not the integrity report, not the other window's), the
citizen's words masked; they write what was fixed and what the citizen was told; the supervisor, on a desktop,
returns it with a reason, which the lead reads on the phone; the on-site form page on a phone. Screenshots go to
test-output/screenshots/."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from callback.db import dispose_all, session_factory
from callback.models import Answer, Callback, Hall, Window
from callback.rectification.services import open_for_callback
from tests.browser.conftest import Server, log_in
from tests.factories import make_case

PHONE = "+8613987654321"
SAID = "窗口工作人员态度不好，让我跑了两趟。我叫张三，电话13987654321"
GOOD = {"attitude": "S", "efficiency": "S", "by_the_rules": "S", "in_hall": "Y", "integrity": "N", "overall": "S"}


def _open(session: Any, window_name: str, answers: dict[str, str], suggestion: str | None = None,
          phone: str | None = None) -> int:
    hall = session.scalar(select(Hall).where(Hall.code == "WF01"))
    window = session.scalar(select(Window).where(Window.hall_id == hall.id, Window.name == window_name))
    case = make_case(session, hall, window, phone=phone)
    callback = Callback(hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=window.id,
                        week="2026-W49", state="complete", token=secrets.token_hex(16), suggestion=suggestion, flags={})
    session.add(callback)
    session.flush()
    for item, value in answers.items():
        session.add(Answer(hall_id=hall.id, callback_id=callback.id, item=item, value=value, channel="voice"))
    session.flush()
    return open_for_callback(session, callback, datetime.now(UTC)).id


@pytest.fixture(scope="module")
def cases(console_server: Server) -> dict[str, int]:
    url = f"sqlite:///{console_server.log.parent / 'console.sqlite3'}"
    with session_factory(url).begin() as session:
        made = {
            "market": _open(session, "市场监管窗口", GOOD | {"attitude": "U", "overall": "B"}, SAID, PHONE),
            "integrity": _open(session, "市场监管窗口", GOOD | {"integrity": "Y"}, "工作人员收了红包"),
            "tax": _open(session, "税务窗口", GOOD | {"efficiency": "B"}),
        }
    dispose_all()
    return made


def _fits(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_window_lead_answers_a_rectification_on_a_phone(phone: Any, page: Any, console_server: Server,
                                                           cases: dict[str, int], shot) -> None:  # noqa: ANN001
    log_in(phone, console_server, "li")
    phone.get_by_role("navigation", name="主菜单").get_by_role("link", name="整改").click()
    phone.wait_for_url(console_server.url("/console/rectifications"))
    queue = phone.locator("main").inner_text()
    assert f"整改#{cases['market']}" in queue
    assert f"整改#{cases['integrity']}" not in queue and f"整改#{cases['tax']}" not in queue and "红包" not in queue
    assert "还剩" in queue or "今天到期" in queue
    assert "139****4321" in queue and "13987654321" not in phone.content()
    assert _fits(phone), "the queue is wider than the phone"
    shot(phone, "11-rectifications-window-lead-phone")

    phone.get_by_role("link", name=f"整改#{cases['market']}").click()
    expect(phone.get_by_role("heading", name=f"整改#{cases['market']}")).to_be_visible()
    said = phone.locator("blockquote.said").inner_text()
    assert "态度不好" in said and "张*" in said and "139****4321" in said
    assert "13987654321" not in phone.content() and "张三" not in phone.content()
    assert _fits(phone)
    shot(phone, "12-rectification-window-lead-phone")

    phone.get_by_label("整改措施").fill("已约谈当事窗口人员，开展服务礼仪培训，并增加一名导办员")
    phone.get_by_label("反馈申请人的内容").fill("您反映的问题已整改，已当面向您致歉，感谢监督")
    phone.get_by_label("已当面或电话告知申请人（登记）").check()
    shot(phone, "13-rectification-form-filled-phone")
    phone.get_by_role("button", name="提交").click()
    expect(phone.get_by_role("status").filter(has_text="已反馈申请人，等待督查科验收")).to_be_visible()
    facts = phone.locator("dl.facts").inner_text()
    assert "已反馈" in facts and "按期反馈" in facts
    expect(phone.get_by_role("button", name="提交")).not_to_be_visible()  # answered: waiting for the review
    assert _fits(phone)
    shot(phone, "14-rectification-answered-phone")

    log_in(page, console_server, "zhang")
    page.goto(console_server.url(f"/console/rectifications/{cases['market']}"))
    expect(page.get_by_role("heading", name="督查科验收")).to_be_visible()
    shot(page, "15-rectification-supervisor-review")
    page.locator("summary", has_text="退回窗口").click()
    page.get_by_label("退回原因").fill("请写明培训的时间和参加人员")
    page.get_by_role("button", name="退回窗口").click()
    expect(page.get_by_role("status").filter(has_text="已退回窗口重新整改")).to_be_visible()

    phone.goto(console_server.url("/console/rectifications"))
    expect(phone.locator("main")).to_contain_text("已退回")
    phone.get_by_role("link", name=f"整改#{cases['market']}").click()
    expect(phone.locator(".returned")).to_contain_text("请写明培训的时间和参加人员")
    assert phone.get_by_label("整改措施").input_value().startswith("已约谈当事窗口人员")
    assert _fits(phone)
    shot(phone, "16-rectification-returned-phone")

    phone.goto(console_server.url(f"/console/rectifications/{cases['integrity']}"))
    expect(phone.get_by_role("heading", name="页面或记录不存在")).to_be_visible()


def test_the_on_site_form_page_on_a_phone(phone: Any, console_server: Server, shot) -> None:  # noqa: ANN001
    log_in(phone, console_server, "zhang")
    phone.get_by_role("navigation", name="主菜单").get_by_role("link", name="现场问卷").click()
    phone.get_by_label("窗口").select_option(label="税务窗口")
    phone.locator("#attitude").get_by_label("基本满意").check()
    for item in ("efficiency", "by_the_rules", "overall"):
        phone.locator(f"#{item}").get_by_label("满意", exact=True).check()
    phone.locator("#in_hall").get_by_label("是", exact=True).check()
    phone.locator("#integrity").get_by_label("没有", exact=True).check()
    phone.get_by_label("意见建议").fill("窗口人员解释不够耐心")
    assert _fits(phone)
    shot(phone, "17-onsite-form-phone")
    phone.get_by_role("button", name="保存这份征求意见表").click()
    expect(phone.get_by_role("status").filter(has_text="已录入税务窗口")).to_be_visible()
    expect(phone.locator("main")).to_contain_text("已录入 1 份，目标每周 5 份，还差 4 份")
    assert _fits(phone)
    shot(phone, "18-onsite-week-phone")


STAFF_CALL_PHONE = "+8613911223344"


@pytest.fixture(scope="module")
def drawn(console_server: Server) -> int:
    """A drawn callback whose citizen answers a staff call, and the supervisors' desk phone, scripted for the
    simulator the server runs (its registry file under CALLBACK_INSTANCE)."""
    from ivr.simulator import CitizenRegistry, citizens

    registry = CitizenRegistry(console_server.log.parent / "simulator" / "citizens.json")
    registry.set("+865368881234", citizens.answers_all())
    registry.set(STAFF_CALL_PHONE, citizens.answers_all(talk_seconds=60))
    url = f"sqlite:///{console_server.log.parent / 'console.sqlite3'}"
    with session_factory(url).begin() as session:
        hall = session.scalar(select(Hall).where(Hall.code == "WF01"))
        window = session.scalar(select(Window).where(Window.hall_id == hall.id, Window.name == "税务窗口"))
        case = make_case(session, hall, window, phone=STAFF_CALL_PHONE)
        callback = Callback(hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=window.id,
                            week="2026-W49", state="unreachable", token=secrets.token_hex(16), flags={})
        session.add(callback)
        session.flush()
        made = callback.id
    dispose_all()
    return made


def test_a_staff_call_from_the_console(page: Any, console_server: Server, drawn: int, shot) -> None:  # noqa: ANN001
    log_in(page, console_server, "zhang")
    page.goto(console_server.url(f"/console/callbacks/{drawn}/staff-call"))
    expect(page.locator("dl.facts")).to_contain_text("139****3344")
    shot(page, "19-staff-call")
    page.get_by_role("button", name="拨打").click()
    expect(page.get_by_role("status").filter(has_text="正在呼叫您的座机")).to_be_visible()
    for _ in range(50):  # the simulator rings the desk phone, then the citizen, over real HTTP
        if "已接通申请人" in page.locator("#call").inner_text():
            break
        page.wait_for_timeout(200)
        page.get_by_role("button", name="刷新通话状态").click()
    expect(page.locator("#call")).to_contain_text("已接通申请人（通话 60 秒）")
    shot(page, "20-staff-call-connected")
    contents = [page.content()]
    for item in ("attitude", "efficiency", "by_the_rules", "overall"):
        page.locator(f"#{item}").get_by_label("满意", exact=True).check()
    page.locator("#in_hall").get_by_label("是", exact=True).check()
    page.locator("#integrity").get_by_label("没有", exact=True).check()
    page.get_by_role("button", name="保存回访结果").click()
    expect(page.get_by_role("status").filter(has_text="已保存专人回访结果：完成")).to_be_visible()
    contents.append(page.content())
    assert all("13911223344" not in html and "1122" not in html for html in contents)
    assert "13911223344" not in console_server.log.read_text()  # nor in the server's output
