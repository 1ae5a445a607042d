"""A person at the console in a real browser: the login page (a wrong password says so in Chinese), the home page
by role, the administrator's users page (create an account, which can then log in), logout — on a desktop screen
and on a phone. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import HALL, PASSWORD, Server, log_in


def test_log_in_wrong_then_right_and_log_out(page: Any, console_server: Server, shot) -> None:  # noqa: ANN001
    page.goto(console_server.url("/console/"))
    assert page.url == console_server.url("/console/login?next=%2Fconsole%2F")
    expect(page.get_by_role("heading", name="登录监督工作台")).to_be_visible()
    expect(page.get_by_text("请先登录")).to_be_visible()
    shot(page, "01-login")

    page.get_by_label("用户名").fill("zhang")
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误")
    assert page.get_by_label("用户名").input_value() == "zhang"  # kept; the password is not
    assert page.get_by_label("密码").input_value() == ""
    shot(page, "02-login-wrong-password")

    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(console_server.url("/console/"))
    expect(page.get_by_role("heading", name="您好，张督查")).to_be_visible()
    header = page.locator("header").inner_text()
    assert HALL in header and "督查科" in header
    shot(page, "03-home-supervisor")

    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(console_server.url("/console/login"))
    expect(page.get_by_text("您已退出登录")).to_be_visible()
    page.goto(console_server.url("/console/"))
    assert "/console/login" in page.url


def test_the_admin_creates_an_account_on_the_users_page(page: Any, console_server: Server, shot) -> None:  # noqa: ANN001
    log_in(page, console_server, "admin")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="账号管理").click()
    page.wait_for_url(console_server.url("/console/admin/users"))
    rows = page.locator("table tbody tr")
    before = rows.count()
    assert before >= 4  # the four accounts the server starts with
    expect(page.locator("table")).to_contain_text("0536****1234")
    assert "05368881234" not in page.content()

    page.get_by_label("用户名").fill("chen")
    page.get_by_label("姓名").fill("陈督查")
    page.get_by_label("角色").select_option(label="督查科")
    page.get_by_label("座机或手机").fill("0536-8885678")
    page.get_by_label("初始密码").fill("chen-pass-2026")
    page.get_by_label("再次输入密码").fill("chen-pass-2026x")  # a slip: refused, nothing stored
    page.get_by_role("button", name="新建账号").click()
    expect(page.get_by_role("alert")).to_have_text("未保存：请更正下面标出的内容")
    expect(page.locator("#password2-error")).to_have_text("两次输入的密码不一致")
    assert page.get_by_label("再次输入密码").get_attribute("aria-invalid") == "true"
    shot(page, "04-admin-users-error")

    page.get_by_label("初始密码").fill("chen-pass-2026")
    page.get_by_label("再次输入密码").fill("chen-pass-2026")
    page.get_by_role("button", name="新建账号").click()
    expect(page.get_by_role("status").filter(has_text="已新建账号 chen")).to_be_visible()
    assert rows.count() == before + 1
    shot(page, "05-admin-users")

    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(console_server.url("/console/login"))
    log_in(page, console_server, "chen", "chen-pass-2026")
    expect(page.get_by_role("heading", name="您好，陈督查")).to_be_visible()


def test_a_window_lead_on_a_phone(phone: Any, console_server: Server, shot) -> None:  # noqa: ANN001
    phone.goto(console_server.url("/console/login"))
    shot(phone, "06-login-phone")
    log_in(phone, console_server, "li")
    expect(phone.get_by_role("heading", name="您好，李窗口")).to_be_visible()
    expect(phone.locator("main")).to_contain_text("市场监管窗口")
    menu = phone.get_by_role("navigation", name="主菜单").inner_text()
    assert "账号管理" not in menu  # not an administrator
    assert _fits(phone), "the page is wider than the phone"
    shot(phone, "07-home-window-lead-phone")

    phone.goto(console_server.url("/console/admin/users"))
    expect(phone.get_by_role("heading", name="无权访问")).to_be_visible()
    shot(phone, "08-forbidden-phone")


def test_the_users_page_on_a_phone(phone: Any, console_server: Server, shot) -> None:  # noqa: ANN001
    log_in(phone, console_server, "admin")
    phone.goto(console_server.url("/console/admin/users"))
    shot(phone, "09-admin-users-phone")
    cell = phone.locator("table tbody tr").first.locator("td").first
    label = cell.evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"姓名"'  # each row is a card, each value with its label
    assert not phone.locator("table thead").is_visible() or phone.locator("table thead").bounding_box()["x"] < 0
    assert _fits(phone)


def _fits(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_window_lead_switches_to_traditional_chinese_on_a_phone(phone: Any, console_server: Server,
                                                                   shot) -> None:  # noqa: ANN001
    log_in(phone, console_server, "li")
    phone.get_by_role("navigation", name="主菜单").get_by_role("link", name="我的账号").click()
    phone.get_by_role("combobox", name="界面语言").select_option(label="繁體中文")
    phone.get_by_role("button", name="保存语言").click()
    expect(phone.get_by_role("heading", name="我的帳號")).to_be_visible()
    expect(phone.get_by_role("status")).to_have_text("界面語言已更改")
    assert phone.locator("html").get_attribute("lang") == "zh-Hant"
    assert _fits(phone)
    shot(phone, "10-account-zh-hant-phone")
    phone.get_by_role("combobox", name="界面語言").select_option(label="简体中文")  # back, for the other tests
    phone.get_by_role("button", name="保存語言").click()
    expect(phone.get_by_role("heading", name="我的账号")).to_be_visible()
