"""The results pages (issue 14 §7): the weekly and monthly reports as pages, per-item tables, the XLSX download,
who may open them, and the unfinished-week warning."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.models import AuditEvent
from tests.callback.web.console.conftest import Site
from tests.callback.web.console.helpers import login, make_user, text_of
from tests.callback.web.console.results_data import (
    FORMULA_WINDOW,
    MARKET,
    MONTH,
    TAX,
    WEEK,
    add_callback,
    finished_week,
    set_clock,
)

PAGES = ["/console/results", f"/console/results?week={WEEK}", f"/console/results/month?month={MONTH}",
         f"/console/results/week/{WEEK}.xlsx", f"/console/results/month/{MONTH}.xlsx",
         f"/console/results/week/{WEEK}/preview"]


@pytest.fixture
def people(db: Session, site: Site, monkeypatch: pytest.MonkeyPatch) -> dict[Role, str]:
    """One account per role, the finished week, and the clock on Tuesday after it."""
    set_clock(monkeypatch)
    users = {role: make_user(db, site.hall, role, window=MARKET if role in (Role.WINDOW_LEAD, Role.STAFF) else None)
             for role in Role}
    finished_week(db, site.hall)
    db.commit()
    return {role: user.username for role, user in users.items()}


def client_for(app: Flask, username: str):  # noqa: ANN201
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def test_the_pages_need_a_login(console_app: Flask, people) -> None:  # noqa: ANN001
    client = console_app.test_client()
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/console/login"), url


@pytest.mark.parametrize("role", [Role.WINDOW_LEAD, Role.STAFF, Role.ADMIN])
def test_roles_without_results_get_403(console_app: Flask, people, role: Role) -> None:  # noqa: ANN001
    client = client_for(console_app, people[role])
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "无权访问" in text_of(response.get_data(as_text=True))
    menu = client.get("/console/").get_data(as_text=True)
    assert "结果与公示" not in text_of(menu)


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.LEADER])
def test_the_week_page_shows_each_windows_figures(console_app: Flask, people, role: Role) -> None:  # noqa: ANN001
    client = client_for(console_app, people[role])
    response = client.get("/console/results")  # the week that ended last: 2026-W44 on Tuesday 11-03
    assert response.status_code == 200
    page = text_of(response.get_data(as_text=True))
    assert f"周回访结果 {WEEK}" in page and "2026-10-26 至 2026-11-01" in page
    # 市场监管: answers 100 ×4 and (60 + 5 × 100) / 6 = 93.33 → 98.7; presses (8 × 100 + 60 + 0) / 10 = 86.0;
    # window (98.7 + 86.0) / 2 = 92.35 → 92.4, n = 5 + 10 = 15 → 良好
    market = re.search(rf"{MARKET} .*?(?={TAX}|$)", page).group(0)
    assert "5（98.7）" in market and "10（86.0）" in market and "满意 8 / 基本满意 1 / 不满意 1" in market
    assert " 15 92.4 良好 " in market
    assert "样本不足" in page  # 税务窗口 has 2 answers
    assert "现场征求意见表（篇2 三(二)）：本周 0 份，目标 5 份" in page and "尚缺 5 份" in page
    assert "分项统计" in page and "体外循环（是＝全程在大厅办理）" in page
    assert "本周尚未完成" not in page  # nothing is open
    assert "待领导审核" in page


def test_an_unfinished_week_warns(console_app: Flask, people, db: Session, site: Site) -> None:  # noqa: ANN001
    add_callback(db, site.hall, TAX, state="drawn", finished_at=None)
    add_callback(db, site.hall, TAX, state="sms", finished_at=None)
    db.commit()
    page = text_of(client_for(console_app, people[Role.SUPERVISOR]).get(f"/console/results?week={WEEK}")
                   .get_data(as_text=True))
    assert "本周尚未完成" in page
    assert "1 个回访仍在电话回访中（待拨或通话中）" in page and "1 个短信回访尚未结束" in page


def test_the_month_page_shows_the_red_flag_windows(console_app: Flask, people) -> None:  # noqa: ANN001
    page = text_of(client_for(console_app, people[Role.LEADER]).get(f"/console/results/month?month={MONTH}")
                   .get_data(as_text=True))
    assert f"月度回访结果 {MONTH}" in page and "2026-10-01 至 2026-10-31" in page
    assert f"第1名 {MARKET} · 92.4 · 良好" in page  # the only graded window in October
    assert f"样本不足、不参与排名：{FORMULA_WINDOW}、{TAX}" in page or f"样本不足、不参与排名：{TAX}、{FORMULA_WINDOW}" in page


def test_a_malformed_period_says_so_and_shows_the_default(console_app: Flask, people) -> None:  # noqa: ANN001
    client = client_for(console_app, people[Role.SUPERVISOR])
    page = text_of(client.get("/console/results?week=2026-W60").get_data(as_text=True))
    assert "周次或月份格式不正确：2026-W60" in page and f"周回访结果 {WEEK}" in page
    assert client.get("/console/results/week/banana.xlsx").status_code == 404
    assert client.get(f"/console/results/year/{WEEK}/preview").status_code == 404


def test_the_xlsx_is_an_attachment_without_formula_cells(console_app: Flask, people, db: Session) -> None:  # noqa: ANN001
    response = client_for(console_app, people[Role.SUPERVISOR]).get(f"/console/results/week/{WEEK}.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["窗口汇总", "分项统计", "整改情况", "整改明细"]
    cells = [cell for sheet in book for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert FORMULA_WINDOW in [c.value for c in cells]  # the name is there, as text
    summary = book["窗口汇总"]
    header = [c.value for c in summary[2]]
    market = next(r for r in summary.iter_rows(min_row=3, values_only=True) if r[0] == MARKET)
    assert market[header.index("得分")] == 92.4 and market[header.index("等级")] == "良好"
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "results_exported"))
    assert event is not None and event.detail == {"kind": "week", "period": WEEK} and event.user_id is not None


def test_the_month_xlsx_has_the_red_flag_sheet(console_app: Flask, people) -> None:  # noqa: ANN001
    response = client_for(console_app, people[Role.LEADER]).get(f"/console/results/month/{MONTH}.xlsx")
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["窗口汇总", "红旗窗口", "分项统计"]
    assert not [c for sheet in book for row in sheet.iter_rows() for c in row if c.data_type == "f"]


def test_a_week_without_data_says_what_to_do(console_app: Flask, people) -> None:  # noqa: ANN001
    page = text_of(client_for(console_app, people[Role.SUPERVISOR]).get("/console/results?week=2026-W30")
                   .get_data(as_text=True))
    assert "这一期还没有回访或评价器数据" in page
    assert "本期没有可发布的结果：2026-W30 没有抽取的回访对象，无可发布的结果" in page
    assert "审核通过" not in page and "下载 XLSX" not in page


def test_answers_of_the_item_table(console_app: Flask, people) -> None:  # noqa: ANN001
    page = text_of(client_for(console_app, people[Role.SUPERVISOR]).get(f"/console/results?week={WEEK}")
                   .get_data(as_text=True))
    # 市场监管's 服务态度: 4 满意 and 1 基本满意; nobody asked for anything (廉洁自律 否 ×5)
    assert f"{MARKET} 服务态度 4 1 0 — —" in page
    assert f"{MARKET} 廉洁自律（是＝有索要财物等） — — — 0 5" in page


def test_the_month_page_opens_on_the_month_that_ended_last(console_app: Flask, people) -> None:  # noqa: ANN001
    page = text_of(client_for(console_app, people[Role.SUPERVISOR]).get("/console/results/month")
                   .get_data(as_text=True))
    assert f"月度回访结果 {MONTH}" in page  # on Tuesday 11-03, October
