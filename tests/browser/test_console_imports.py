"""In a real browser: a supervisor uploads the month's ledger (a GBK export with a title row and two bad rows),
reads the summary and the rejected rows, runs the week's draw from it and verifies it; on a phone too. An
administrator creates an API token (shown once) and edits a prompt. Screenshots go to test-output/screenshots/
(20-…)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.browser.conftest import Server, log_in

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _ledger(folder: Path) -> Path:
    """Twelve cases accepted yesterday (so in this week's draw window), numbers all different; rows 5 and 9 bad."""
    day = (datetime.now(UTC) - timedelta(days=1)).astimezone(SHANGHAI).strftime("%Y-%m-%d")
    lines = ["潍坊高新区政务服务中心受理台账,,,,,", "受理编号,事项名称,申请人,联系电话,受理窗口,受理时间"]
    for n in range(1, 13):
        window = "市场监管窗口" if n % 2 else "税务窗口"
        lines.append(f"BR2026{n:04d},个体工商户设立登记,申请人{n},1390013{n:04d},{window},{day} 09:{n:02d}")
    lines[4] = lines[4].replace("BR20260003", "")  # row 5: no case number
    lines[8] = lines[8].replace(f"{day} 09:07", "下周")  # row 9: a time nobody can read
    path = folder / "受理台账-本月.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    return path


def test_a_supervisor_uploads_the_ledger_and_draws_from_it(page: Any, console_server: Server, shot,
                                                           tmp_path: Path) -> None:  # noqa: ANN001
    log_in(page, console_server, "zhang")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="台账与评价器").click()
    page.wait_for_url(console_server.url("/console/imports"))
    expect(page.get_by_text("还没有导入记录")).to_be_visible()
    shot(page, "20-imports-empty")

    page.get_by_label("台账文件").set_input_files(str(_ledger(tmp_path)))
    page.get_by_role("button", name="上传并导入台账").click()
    page.wait_for_url("**/console/imports/*")
    status = page.get_by_role("status").first.inner_text()
    assert "已导入 受理台账-本月.csv：共 12 行，新增 10，更新 0，未变 0，拒绝 2" in status
    rejected = page.locator("#rejected table").inner_text()
    assert "第 5 行" in rejected and "缺少办件编号" in rejected
    assert "第 9 行" in rejected and "下周" in rejected
    shot(page, "21-import-result")

    page.get_by_role("link", name="返回导入页面").click()
    expect(page.locator("table")).to_contain_text("受理台账-本月.csv")
    shot(page, "22-imports-recent")

    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="抽样").click()
    page.get_by_label("抽取人数").fill("5")
    page.get_by_role("button", name="立即抽取").click()
    expect(page.get_by_role("status").first).to_contain_text("候选 10 件，抽中 5 件")
    sample = page.locator("table").first.inner_text()
    assert sample.count("139****") == 5 and "13900130" not in page.content()
    page.get_by_role("button", name="核验抽样").click()
    expect(page.get_by_role("status").first).to_contain_text("抽样核验通过")
    shot(page, "23-draw-verified")


def test_the_imports_and_draw_pages_on_a_phone(phone: Any, console_server: Server, shot) -> None:  # noqa: ANN001
    log_in(phone, console_server, "zhang")
    for path, name in (("/console/imports", "24-imports-phone"), ("/console/draw", "25-draw-phone")):
        phone.goto(console_server.url(path))
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        shot(phone, name)


def test_an_administrator_creates_a_token_and_edits_a_prompt(page: Any, console_server: Server, shot) -> None:  # noqa: ANN001
    log_in(page, console_server, "admin")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="接口令牌").click()
    page.get_by_label("用途").fill("政务服务平台台账推送")
    page.get_by_label("有效天数").fill("90")
    page.get_by_role("button", name="新建令牌").last.click()
    token = page.get_by_label("令牌", exact=True).input_value()
    assert token.startswith("cbt_") and "只显示这一次" in page.get_by_role("status").inner_text()
    shot(page, "26-token-created")
    page.reload()
    assert token not in page.content()

    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="语音提示").click()
    page.locator("#p-thanks").get_by_role("link", name="修改").click()
    page.get_by_label("提示文字").fill("感谢您对{centre}工作的支持，再见！")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status")).to_contain_text("已保存提示 thanks")
    row = page.locator("#p-thanks").inner_text()
    assert "已修改" in row and "感谢您对{centre}工作的支持，再见！" in row
    shot(page, "27-prompts-edited")
    page.locator("#p-thanks").get_by_role("link", name="修改").click()
    page.get_by_role("button", name="恢复默认文字").click()
    expect(page.get_by_role("status")).to_contain_text("已恢复默认文字")

    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="中心与窗口").click()
    shot(page, "28-admin-hall")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="工作日历").click()
    shot(page, "29-admin-calendar")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="退订查询").click()
    page.get_by_label("电话号码").fill("139 0013 0001")
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_role("status")).to_contain_text("139****0001：未退订")
    shot(page, "30-optout-lookup")
