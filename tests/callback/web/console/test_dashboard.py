"""This week (issue 14 §2): the week's progress at a glance — drawn, answered, partial, SMS waiting, unreached,
opted out — integrity alerts and overdue cases at the top, on-site forms against 5, evaluator data imported or
missing, whether publication is due or late, each window's score and the 12 weeks' trend as SVG with a table;
a week picker; empty states that say what to do; supervisors and leaders only; no personal data."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.models import EvaluatorPress
from callback.responses.entry import read_answers
from callback.responses.onsite import OnsiteForm, add_form
from callback.responses.states import CallbackState
from callback.results.publication import publish_week
from callback.web.console import clock, dashboard
from callback.web.console.charts import Bar, Point, bar_chart, line_chart
from tests.callback.web.console.callback_data import NOW, PHONE, WEEK, answered, waiting
from tests.callback.web.console.helpers import login, make_user, text_of
from tests.factories import make_window

PAGE = "/console/week"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def as_user(console_app: Flask, db: Session, site) -> Callable[[str], FlaskClient]:  # noqa: ANN001
    make_user(db, site.hall, Role.SUPERVISOR, username="zhang", name="张督查")
    make_user(db, site.hall, Role.LEADER, username="wang", name="王主任")
    make_user(db, site.hall, Role.WINDOW_LEAD, username="li", name="李窗口", window="市场监管窗口")
    make_user(db, site.hall, Role.ADMIN, username="admin", name="赵管理")
    make_user(db, site.hall, Role.STAFF, username="staff", name="孙员工", window="税务窗口")
    db.commit()

    def client_for(username: str) -> FlaskClient:
        client = console_app.test_client()
        assert login(client, username).status_code == 302
        return client

    return client_for


@pytest.fixture
def week(db: Session, site) -> None:  # noqa: ANN001
    """WEEK in a hall: 4 answered (one reporting an integrity problem), a partial, an SMS waiting, one unreached,
    one opted out, one still to call; two on-site forms; six evaluator presses; an overdue case from W46; a week of
    calls (W45) never published; and another hall's callbacks, which count nowhere."""
    answered(db, site.hall, site.market, "111111", phone=PHONE)
    answered(db, site.hall, site.market, "121111")
    answered(db, site.hall, site.tax, "111111")
    answered(db, site.hall, site.tax, "111121")  # 有 on 廉洁自律: an integrity case
    answered(db, site.hall, site.tax, "11")
    waiting(db, site.hall, site.market, CallbackState.SMS)
    waiting(db, site.hall, site.market, CallbackState.UNREACHABLE)
    waiting(db, site.hall, site.tax, CallbackState.OPTED_OUT)
    waiting(db, site.hall, site.tax)
    for day in (date(2026, 11, 23), date(2026, 11, 24)):
        add_form(db, site.hall, OnsiteForm("税务窗口", day, read_answers("111111")), NOW, actor="tests")
    for i, rating in enumerate("SSSSBU"):
        db.add(EvaluatorPress(hall_id=site.hall.id, window_id=site.market.id, rating=rating, level=rating,
                              pressed_at=NOW - timedelta(hours=i + 1), press_key=f"k{i}"))
    answered(db, site.hall, site.market, "333111", week="2026-W46", at=NOW - timedelta(days=14))
    answered(db, site.hall, site.market, "111111", week="2026-W45", at=NOW - timedelta(days=20))
    other = make_window(db, site.other_hall, "市场监管窗口")
    for _ in range(3):
        answered(db, site.other_hall, other, "333111")
    db.commit()


def counts(html: str) -> dict[str, int]:
    """The progress tiles: label → number."""
    found = re.findall(r'<span class="n">(\d+)</span>([^<]+)</a>', html)
    return {label.strip(): int(n) for n, label in found}


@pytest.mark.parametrize("username", ["li", "admin", "staff"])
def test_only_supervisors_and_leaders(as_user, username: str) -> None:  # noqa: ANN001
    response = as_user(username).get(PAGE)
    assert response.status_code == 403 and "无权访问" in text_of(response.get_data(as_text=True))


def test_the_menu_names_the_page(as_user) -> None:  # noqa: ANN001
    assert "本周概况" in text_of(as_user("wang").get("/console/").get_data(as_text=True))
    assert "本周概况" not in text_of(as_user("li").get("/console/").get_data(as_text=True))


def test_the_weeks_progress(as_user, week) -> None:  # noqa: ANN001
    html = as_user("wang").get(PAGE).get_data(as_text=True)
    assert counts(html) == {"已抽取": 9, "完成": 4, "部分完成": 1, "短信待回复": 1, "无法联系": 1, "退订": 1,
                            "接通未答题": 0, "待呼叫或通话中": 1}
    assert f'href="/console/callbacks?week={WEEK}&amp;state=sms"' in html  # each count opens the list
    assert '<svg class="chart stack"' in html and "本周回访进度" in html


def test_alerts_come_first(as_user, week) -> None:  # noqa: ANN001
    html = as_user("zhang").get(PAGE).get_data(as_text=True)
    text = text_of(html)
    assert "廉洁提醒" in text and "1 件廉洁整改待处理" in text and "本周 1 次回访反映有人索要或收受财物" in text
    assert "逾期未反馈的整改 1 件" in text and "逾期" in text
    assert "2026-W45 的回访结果已逾期 9 天未通报" in text
    assert text.index("廉洁提醒") < text.index("回访进度") and text.index("逾期未反馈") < text.index("回访进度")
    assert 'role="alert"' in html


def test_onsite_evaluator_and_publication(as_user, week) -> None:  # noqa: ANN001
    text = text_of(as_user("zhang").get(PAGE).get_data(as_text=True))
    assert "2 / 5 份" in text and "还差 3 份" in text
    assert "6 次评价" in text and "市场监管窗口：6" in text
    assert "本周结束后一周内公示，截止 2026-12-07 00:00" in text


def test_publication_due_then_published(as_user, db: Session, site, week) -> None:  # noqa: ANN001
    client = as_user("zhang")
    assert "该周没有回访，无需公示" in text_of(client.get(PAGE + "?week=2026-W47").get_data(as_text=True))
    answered(db, site.hall, site.tax, week="2026-W47", at=NOW - timedelta(days=6))
    db.commit()
    assert "待公示：须在 2026-11-30 00:00 前公示" in text_of(client.get(PAGE + "?week=2026-W47").get_data(as_text=True))
    publish_week(db, site.hall, "2026-W45", "王主任", NOW)
    db.commit()
    text = text_of(client.get(PAGE + "?week=2026-W45").get_data(as_text=True))
    assert "已公示（第 1 版" in text and "逾期 9 天未通报" not in text


def test_missing_evaluator_data_says_what_to_do(as_user, db: Session, site) -> None:  # noqa: ANN001
    answered(db, site.hall, site.market)
    db.commit()
    text = text_of(as_user("zhang").get(PAGE).get_data(as_text=True))
    assert "本周还没有评价器数据" in text and "导入评价器导出文件" in text
    assert "暂无需要立即处理" in text


def test_charts_are_svg_with_titles_and_tables(as_user, week) -> None:  # noqa: ANN001
    html = as_user("zhang").get(PAGE).get_data(as_text=True)
    assert html.count('role="img"') == 3 and html.count("<title id=\"chart") == 3
    bars = html[html.index('<svg class="chart bars"'):]
    bars = bars[:bars.index("</svg>")]
    assert "市场监管窗口" in bars and "税务窗口" in bars and "合格" in bars
    trend = html[html.index('<svg class="chart line"'):]
    trend = trend[:trend.index("</svg>")]
    assert [f"W{n}" for n in range(37, 49)] == re.findall(r">(W\d\d)</text>", trend)
    text = text_of(html)
    assert "以表格查看" in text and "2026-W48" in text


def test_the_window_scores_match_the_weekly_report(as_user, db: Session, site, week) -> None:  # noqa: ANN001
    from callback.results.report import weekly_report

    report = weekly_report(db, site.hall, WEEK, NOW)
    html = as_user("zhang").get(PAGE).get_data(as_text=True)
    for row in report["windows"]:
        assert f"{row['window']}：{row['score']:.1f} 分" in html  # the bar's tooltip


def test_an_undrawn_current_week_says_to_run_the_draw(as_user) -> None:  # noqa: ANN001
    text = text_of(as_user("zhang").get(PAGE).get_data(as_text=True))
    assert "本周尚未抽样" in text and "到“抽样”页面运行本周抽样" in text
    assert "该周还没有得分" in text and "最近 12 周还没有得分" in text


def test_a_past_week_without_a_draw(as_user) -> None:  # noqa: ANN001
    text = text_of(as_user("zhang").get(PAGE + "?week=2026-W30").get_data(as_text=True))
    assert "周概况 2026-W30" in text and "该周没有抽样记录" in text and "回到本周" in text


def test_the_week_picker(as_user, week) -> None:  # noqa: ANN001
    client = as_user("zhang")
    html = client.get(PAGE + "?week=2026-W46").get_data(as_text=True)
    assert counts(html)["已抽取"] == 1 and '<option value="2026-W46" selected>' in html
    assert 'href="/console/week?week=2026-W45"' in html and 'href="/console/week?week=2026-W47"' in html
    current = client.get(PAGE + "?week=nonsense").get_data(as_text=True)
    assert "本周概况" in text_of(current) and "下一周" not in text_of(current)  # nothing after this week


def test_no_personal_data(as_user, week) -> None:  # noqa: ANN001
    html = as_user("zhang").get(PAGE).get_data(as_text=True)
    assert "13912345678" not in html and "139****5678" not in html and "张三" not in html


def test_shift_crosses_years() -> None:
    assert dashboard.shift("2026-W01", -1) == "2025-W52" and dashboard.shift("2026-W53", 1) == "2027-W01"


def test_chart_builders_escape_and_break_lines() -> None:
    svg = bar_chart([Bar("<窗口>", 50.0, "50"), Bar("空", None)], title="t&", desc="d")
    assert "&lt;窗口&gt;" in svg and "t&amp;" in svg and svg.count('<rect class="bar"') == 1
    line = line_chart([Point("W1", 80.0), Point("W2", None), Point("W3", 70.0), Point("W4", 75.0)], title="t", desc="d")
    assert line.count("<polyline") == 1 and line.count("<circle") == 3
