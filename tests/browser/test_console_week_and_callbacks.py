"""A supervisor in a real browser (issue 14 §Tests): opens this week, a callback, plays its recording — streamed
through the app from the simulator's recording store, never linked at the provider — and corrects an answer; the
leader reads the audit log; the week and a callback on a phone. Screenshots go to test-output/screenshots/
(40-…)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from callback.db import dispose_all, session_factory
from callback.models import AuditEvent, Callback, Hall, Window
from callback.responses.states import CallbackState
from ivr.simulator.provider import RECORDING_HOST
from ivr.simulator.state import StateStore, tone_wav
from survey.weeks import week_of
from tests.browser.conftest import SCREENSHOTS, Server, log_in
from tests.callback.web.console.callback_data import answered, waiting

SH = ZoneInfo("Asia/Shanghai")
SID = "RE" + "7" * 32
PHONE = "+8613912345678"


def _database(server: Server) -> str:
    return f"sqlite:///{server.log.parent / 'console.sqlite3'}"


@pytest.fixture(scope="module")
def the_week(console_server: Server) -> dict[str, Any]:
    """This week's callbacks in the server's database (one answered 基本满意 with a spoken suggestion and a
    recording in the simulator's store), and last week's for the trend."""
    now = datetime.now(UTC)
    week = week_of(now, SH)
    StateStore(console_server.log.parent / "simulator").save_recording(SID, tone_wav(3))
    url = f"http://{RECORDING_HOST}/2010-04-01/Accounts/AC{'0' * 32}/Recordings/{SID}"
    with session_factory(_database(console_server)).begin() as s:
        hall = s.scalar(select(Hall).where(Hall.code == "WF01"))
        market, tax = (s.scalar(select(Window).where(Window.hall_id == hall.id, Window.name == n))
                       for n in ("市场监管窗口", "税务窗口"))
        shown = answered(s, hall, market, "121112", phone=PHONE, suggestion="办事效率还可以提高，请回电13812345678",
                         recording=url, week=week, at=now - timedelta(minutes=30))
        for keys, window in (("111111", market), ("111111", tax), ("112111", tax), ("1111", market)):
            answered(s, hall, window, keys, week=week, at=now - timedelta(hours=1))
        waiting(s, hall, market, CallbackState.SMS, week=week)
        waiting(s, hall, tax, CallbackState.UNREACHABLE, week=week, at=now)
        waiting(s, hall, tax, week=week)
        for weeks_back in (1, 2, 4):
            earlier = week_of(now - timedelta(weeks=weeks_back), SH)
            for keys in ("111111", "111112", "121111"):
                answered(s, hall, market, keys, week=earlier, at=now - timedelta(weeks=weeks_back))
        data = {"id": shown.id, "week": week, "url": url}
    dispose_all()
    return data


def test_a_supervisor_opens_the_week_plays_a_recording_and_corrects_an_answer(  # noqa: PLR0915
        page: Any, console_server: Server, the_week: dict[str, Any], shot) -> None:  # noqa: ANN001
    log_in(page, console_server, "zhang")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="本周概况").click()
    page.wait_for_url(console_server.url("/console/week"))
    expect(page.get_by_role("heading", name="本周概况")).to_be_visible()
    counts = page.locator("ul.cb-counts").inner_text()
    assert "8\n已抽取" in counts and "5\n完成" not in counts  # 4 complete, 1 partial
    assert page.locator("svg.chart.bars").get_attribute("role") == "img"
    assert page.locator("svg.chart.line circle").count() >= 3
    shot(page, "40-week-supervisor")

    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="回访记录").click()
    page.wait_for_url("**/console/callbacks")
    expect(page.locator("table")).to_contain_text("139****5678")
    shot(page, "41-callbacks")

    page.get_by_role("link", name=f"#{the_week['id']}", exact=True).click()
    page.wait_for_url(console_server.url(f"/console/callbacks/{the_week['id']}"))
    html = page.content()
    assert RECORDING_HOST not in html and SID not in html and "13912345678" not in html
    expect(page.locator("dl.details")).to_contain_text("139****5678")

    audio = page.locator("audio")
    assert audio.get_attribute("src") == f"/console/callbacks/{the_week['id']}/recording"
    audio.evaluate("a => { a.muted = true; return a.play(); }")
    page.wait_for_function("document.querySelector('audio').readyState >= 1 && document.querySelector('audio').duration > 0")
    duration = audio.evaluate("a => a.duration")
    assert 2.5 < duration < 3.5  # the simulator's 3-second recording, played through the app
    shot(page, "42-callback-recording")

    row = page.locator("table.answer-table tr", has_text="办事效率")
    row.get_by_text("更正此答案").click()
    row.get_by_label("更正为").select_option(label="满意")
    row.get_by_label("更正理由").fill("复听录音：市民说的是“满意”")
    row.get_by_role("button", name="保存更正").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status").filter(has_text="已更正办事效率：基本满意 → 满意（原答案已保留）")).to_be_visible()
    expect(page.locator("table.answer-table")).to_contain_text("原答案：基本满意（按键 2）")
    shot(page, "43-callback-corrected")

    page.get_by_text("查看完整号码").click()
    page.locator("#phone-reason").fill("市民投诉需人工回电")
    page.get_by_role("button", name="确认查看").first.click()
    page.wait_for_load_state()
    expect(page.locator(".revealed")).to_contain_text("13912345678")
    shot(page, "44-callback-number-revealed")

    with session_factory(_database(console_server))() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.entity_id.is_not(None))
                                                .order_by(AuditEvent.id))]
        assert {"view_transcript", "recording_played", "answer_corrected", "reveal"} <= set(actions)
        assert s.get(Callback, the_week["id"]).answers[1].original_value == "B"
    dispose_all()


def test_the_leader_reads_the_audit_log(page: Any, console_server: Server, the_week: dict[str, Any],  # noqa: ANN001
                                        shot) -> None:
    log_in(page, console_server, "wang")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="审计日志").click()
    page.wait_for_url("**/console/audit")
    expect(page.locator("table")).to_contain_text("登录")
    page.get_by_label("操作", exact=True).select_option(label="登录")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_load_state()
    assert "action=login" in page.url
    shot(page, "45-audit-log")


def test_the_week_and_a_callback_on_a_phone(phone: Any, console_server: Server, the_week: dict[str, Any],  # noqa: ANN001
                                            shot) -> None:
    log_in(phone, console_server, "zhang")
    phone.goto(console_server.url("/console/week"))
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the screen
    shot(phone, "46-week-phone")
    phone.locator(".cb-charts").screenshot(path=str(SCREENSHOTS / "46b-week-phone-charts.png"))
    phone.goto(console_server.url(f"/console/callbacks/{the_week['id']}"))
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "47-callback-phone")
    phone.locator("section", has_text="答案").first.screenshot(path=str(SCREENSHOTS / "47b-callback-phone-answers.png"))
    phone.goto(console_server.url("/console/callbacks"))
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "48-callbacks-phone")
    phone.locator("table.callbacks tbody tr").first.screenshot(path=str(SCREENSHOTS / "48b-callbacks-phone-row.png"))

