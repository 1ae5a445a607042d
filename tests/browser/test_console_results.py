"""Results, publication and 篇3 assessment in a real browser (issue 14 §7, §Tests; issue 15 §2, §6): a supervisor
reads the week and previews the board, the leader approves, the supervisor publishes and the public board shows
the week with its dates; a supervisor records an entry through the clause picker, the leader approves the month's
bulletin, and a staff member reads their own sheet on a phone. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from callback.accounts.roles import Role
from callback.accounts.services import NewUser, create_user
from callback.assessment.entries import EntryInput, add_entry
from callback.db import dispose_all, session_factory
from callback.models import Answer, Callback, EvaluatorPress, Hall, Staff, Window
from survey.weeks import month_bounds, month_of, week_dates, week_of
from tests.browser.conftest import PASSWORD, Server, log_in
from tests.factories import make_case

TZ = ZoneInfo("Asia/Shanghai")
ALL_GOOD = {"attitude": "S", "efficiency": "S", "by_the_rules": "S", "in_hall": "Y", "integrity": "N", "overall": "S"}
MARKET, TAX = "市场监管窗口", "税务窗口"


def log_out(page: Any, server: Server) -> None:
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(server.url("/console/login"))


def _week() -> str:
    return week_of(datetime.now(UTC) - timedelta(days=7), TZ)  # the week that ended last


def _month() -> str:
    return month_of(datetime.now(UTC), TZ)


def _callback(s: Any, hall: Hall, window: Window, answers: dict[str, str], week: str, at: datetime) -> None:
    case = make_case(s, hall, window, accepted_at=at)
    callback = Callback(hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=window.id, week=week,
                        state="complete", channel="voice", token=secrets.token_hex(16), finished_at=at)
    s.add(callback)
    s.flush()
    s.add_all(Answer(hall_id=hall.id, callback_id=callback.id, item=k, value=v, channel="voice")
              for k, v in answers.items())


@pytest.fixture(scope="module")
def data(console_server: Server) -> dict[str, str]:
    """Into the server's own database: last week's answers (市场监管 6, 税务 5 with presses), this month's staff
    张伟 with presses, cases and an entry, and his 窗口人员 account ``zhangwei``."""
    url = f"sqlite:///{console_server.log.parent / 'console.sqlite3'}"
    week = _week()
    at = datetime.combine(week_dates(week)[0] + timedelta(days=2), datetime.min.time(), TZ).replace(hour=10)
    month_start = month_bounds(_month(), TZ)[0]
    with session_factory(url).begin() as s:
        hall = s.scalar(select(Hall).where(Hall.code == "WF01"))
        market, tax = (s.scalar(select(Window).where(Window.hall_id == hall.id, Window.name == n)) for n in (MARKET, TAX))
        market.role = "comprehensive"
        for answers in [ALL_GOOD] * 5 + [ALL_GOOD | {"attitude": "B", "overall": "B"}]:
            _callback(s, hall, market, answers, week, at)
        for answers in [ALL_GOOD] * 4 + [ALL_GOOD | {"efficiency": "U", "overall": "U"}]:
            _callback(s, hall, tax, answers, week, at)
        zhang = Staff(hall_id=hall.id, name="张伟", window_id=market.id)
        s.add(zhang)
        s.flush()
        pressed = max(month_start + timedelta(minutes=5), datetime.now(UTC) - timedelta(hours=1))
        s.add_all(EvaluatorPress(hall_id=hall.id, pressed_at=pressed, window_id=market.id, staff_id=zhang.id,
                                 rating=r, level=r, press_key=f"b{n}") for n, r in enumerate("SSSSBU"))
        for _ in range(30):
            make_case(s, hall, market, accepted_at=pressed).staff_id = zhang.id
        add_entry(s, hall, EntryInput("张伟", "三2", month=_month(), grade="dress"), datetime.now(UTC), actor="张督查")
        create_user(s, hall, NewUser("zhangwei", PASSWORD, Role.STAFF, "张伟", window=MARKET, staff="张伟"),
                    actor="tests", at=datetime.now(UTC))
    dispose_all()
    return {"week": week, "month": _month()}


def test_the_leader_approves_the_week_and_the_board_shows_it(page: Any, console_server: Server, data, shot) -> None:  # noqa: ANN001
    week = data["week"]
    monday, sunday = week_dates(week)
    label = f"{monday.year}年第{int(week[-2:])}周（{monday.month}月{monday.day}日—{sunday.month}月{sunday.day}日）"

    log_in(page, console_server, "zhang")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="结果与公示").click()
    expect(page.get_by_role("heading", name=f"周回访结果 {week}")).to_be_visible()
    expect(page.get_by_text("待领导审核")).to_be_visible()
    expect(page.get_by_text("发布前须由中心领导审核当前结果。")).to_be_visible()
    table = page.locator("table.figures").inner_text()
    assert MARKET in table and TAX in table
    shot(page, "60-results-week-supervisor")
    page.get_by_role("link", name="预览公示板").click()
    assert page.locator("#period").inner_text().startswith(label)
    shot(page, "61-results-board-preview")
    page.go_back()
    log_out(page, console_server)

    log_in(page, console_server, "wang")
    page.goto(console_server.url(f"/console/results?week={week}"))
    page.get_by_role("button", name="审核通过当前结果").click()
    expect(page.get_by_role("status").filter(has_text=f"已审核 {week} 的结果（审核人：王主任）")).to_be_visible()
    expect(page.get_by_text("已审核", exact=True)).to_be_visible()
    shot(page, "62-results-approved-leader")
    log_out(page, console_server)

    log_in(page, console_server, "zhang")
    page.goto(console_server.url(f"/console/results?week={week}"))
    page.get_by_role("button", name="发布到公示板").click()
    expect(page.get_by_role("status").filter(has_text=f"已发布 {week} 第 1 版")).to_be_visible()
    shot(page, "63-results-published-supervisor")
    page.get_by_role("link", name="查看公示板").click()
    assert page.locator("#period").inner_text().startswith(label)
    board = page.locator("#results").inner_text()
    assert MARKET in board and TAX in board and "王主任" not in page.content()
    shot(page, "64-board-after-publication")

    page.goto(console_server.url("/board"))
    assert page.locator("#period").inner_text().startswith(label)


def test_a_supervisor_records_an_entry_and_the_leader_approves_the_bulletin(page: Any, console_server: Server,  # noqa: ANN001
                                                                            data, shot) -> None:
    month = data["month"]
    log_in(page, console_server, "zhang")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="考核").click()
    expect(page.get_by_role("heading", name=f"月度考核 {month}")).to_be_visible()
    shot(page, "65-assessment-month")
    page.get_by_role("row", name="张伟").get_by_role("link", name="录入").click()
    page.get_by_role("link", name="一1", exact=True).click()
    expect(page.get_by_text("上班迟到、早退但自觉录入考勤机的，每次扣1分")).to_be_visible()
    page.get_by_label("情形（等次）").select_option(label="迟到、早退但自觉录入考勤机（-1 分）")
    page.get_by_label("说明").fill("上午迟到 10 分钟，已自行录入")
    shot(page, "66-assessment-entry-form")
    page.get_by_role("button", name="保存录入").click()
    expect(page.get_by_role("status").filter(has_text="已录入")).to_be_visible()
    shot(page, "67-assessment-entries")
    page.get_by_role("link", name="张伟 的本月得分").click()
    expect(page.get_by_role("heading", name=f"张伟 {month} 考核明细")).to_be_visible()
    shot(page, "68-assessment-staff")
    log_out(page, console_server)

    log_in(page, console_server, "wang")
    page.goto(console_server.url(f"/console/assessment/{month}/bulletin"))
    page.get_by_role("button", name="审批通过本月简报").click()
    expect(page.get_by_role("status").filter(has_text=f"已审批 {month} 的考核简报")).to_be_visible()
    shot(page, "69-assessment-bulletin-approved")
    page.get_by_role("link", name="查看简报全文（可打印）").click()
    expect(page.locator(".status")).to_contain_text("已审批")
    shot(page, "70-assessment-bulletin-print")
    page.goto(console_server.url(f"/console/assessment/year?year={month[:4]}"))
    expect(page.get_by_text("按 25% 向下取整")).to_be_visible()
    shot(page, "71-assessment-year")


def test_a_staff_member_reads_their_own_sheet_on_a_phone(phone: Any, console_server: Server, data, shot) -> None:  # noqa: ANN001
    log_in(phone, console_server, "zhangwei")
    phone.get_by_role("navigation", name="主菜单").get_by_role("link", name="我的得分").click()
    expect(phone.get_by_role("heading", name="我的得分")).to_be_visible()
    main = phone.locator("main").inner_text()
    assert "张伟" in main and "月度得分" in main and "三2" in main
    assert "张督查" not in main  # who entered it is not shown
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(phone, "72-my-scores-phone")
    phone.goto(console_server.url("/console/assessment"))
    expect(phone.get_by_role("heading", name="无权访问")).to_be_visible()
