"""The on-site forms page (篇2 三(二); issue 14 §4): a paper 征求意见表 entered by hand — window, date, six answers as
radio buttons with their meanings, suggestion — the week's forms against the target of 5, and a file of forms with
its rejected rows shown; supervisors only, every form with its CSRF token, every entry and import audited."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.models import Answer, AuditEvent, Callback
from callback.models.rectification import Rectification
from callback.web.console import clock
from tests.callback.web.console.helpers import csrf_token, login, make_user, text_of

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # Friday 16:00 of 2026-W48 in Shanghai
PAGE = "/console/onsite"
GOOD = {"attitude": "1", "efficiency": "1", "by_the_rules": "1", "in_hall": "1", "integrity": "1", "overall": "1"}


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def users(db: Session, site) -> None:  # noqa: ANN001
    make_user(db, site.hall, Role.SUPERVISOR, username="zhang", name="张督查")
    make_user(db, site.hall, Role.LEADER, username="wang")
    make_user(db, site.hall, Role.WINDOW_LEAD, username="li", window="市场监管窗口")
    make_user(db, site.hall, Role.ADMIN, username="admin")
    db.commit()


def client_for(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def enter(client: FlaskClient, **values: str):  # noqa: ANN201
    data = {"csrf_token": csrf_token(client, PAGE), "window": "市场监管窗口", "day": "2026-11-24", **GOOD, **values}
    return client.post(PAGE, data=data, environ_base={"REMOTE_ADDR": "192.0.2.12"})


def upload(client: FlaskClient, name: str, content: bytes):  # noqa: ANN201
    data = {"csrf_token": csrf_token(client, PAGE), "file": (io.BytesIO(content), name)}
    return client.post(f"{PAGE}/import", data=data, content_type="multipart/form-data")


def forms_of(db: Session) -> list[Callback]:
    db.expire_all()
    return list(db.scalars(select(Callback).where(Callback.channel == "onsite").order_by(Callback.id)))


@pytest.mark.parametrize("username", ["wang", "li", "admin"])
def test_only_supervisors_enter_forms(console_app: Flask, db: Session, users, username: str) -> None:  # noqa: ANN001
    client = client_for(console_app, username)
    assert "无权访问" in text_of(client.get(PAGE).get_data(as_text=True))
    token = csrf_token(client, "/console/account")
    assert client.post(PAGE, data={"csrf_token": token, "window": "市场监管窗口", **GOOD}).status_code == 403
    assert client.post(f"{PAGE}/import", data={"csrf_token": token}).status_code == 403
    assert forms_of(db) == []


def test_the_page_shows_the_six_items_with_their_meanings(console_app: Flask, users) -> None:  # noqa: ANN001
    html = client_for(console_app, "zhang").get(PAGE).get_data(as_text=True)
    text = text_of(html)
    for words in ("服务态度", "满意", "基本满意", "不满意", "体外循环", "是", "否", "廉洁自律", "没有", "有", "总体评价"):
        assert words in text
    assert html.count('type="radio"') == 3 * 4 + 2 * 3 + 4  # each item's choices and 未回答
    assert "2026-W48" in text and "已录入 0 份，目标每周 5 份，还差 5 份" in text
    assert 'value="2026-11-27"' in html  # today, in Shanghai
    assert "本周还没有录入征求意见表" in text


def test_a_supervisor_enters_a_form(console_app: Flask, db: Session, users) -> None:  # noqa: ANN001
    client = client_for(console_app, "zhang")
    response = enter(client, efficiency="2", in_hall="2", suggestion="等了很久，电话13912345678")
    assert response.status_code == 302 and response.headers["Location"] == "/console/onsite?week=2026-W48"
    [form] = forms_of(db)
    assert (form.state, form.channel, form.week, form.contact_id) == ("complete", "onsite", "2026-W48", None)
    assert {a.item: a.key for a in db.scalars(select(Answer).where(Answer.callback_id == form.id))} == {
        **GOOD, "efficiency": "2", "in_hall": "2"}
    case = db.scalars(select(Rectification).where(Rectification.callback_id == form.id)).one()
    assert case.reasons == ["efficiency", "in_hall"]
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "onsite_form_entered"))
    assert (event.entity_id, event.ip, event.detail["keys"]) == (form.id, "192.0.2.12", "121211")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    text = text_of(page)
    assert f"已录入市场监管窗口 2026-11-24 的征求意见表（完成），已立案整改#{case.id}" in text
    assert "已录入 1 份，目标每周 5 份，还差 4 份" in text and "办事效率 基本满意" in text and "体外循环 否" in text
    assert f"整改#{case.id}" in text and "（有意见建议）" in text
    assert "13912345678" not in page


def test_some_answers_only(console_app: Flask, db: Session, users) -> None:  # noqa: ANN001
    client = client_for(console_app, "zhang")
    blank = {code: "" for code in GOOD}
    assert enter(client, **(blank | {"overall": "1"})).status_code == 302
    assert forms_of(db)[0].state == "partial"
    assert "服务态度 未回答" in text_of(client.get(PAGE + "?week=2026-W48").get_data(as_text=True))


@pytest.mark.parametrize(("values", "message"), [
    ({"window": ""}, "请选择窗口"),
    ({"window": "不存在的窗口"}, "未知窗口"),
    ({"day": "2026-11-28"}, "晚于今天"),
    ({"day": "昨天"}, "无法识别"),
    ({code: "" for code in GOOD}, "没有答案"),
    ({"integrity": "3"}, "廉洁自律：无法识别"),
])
def test_a_form_that_cannot_be_saved_says_why(console_app: Flask, db: Session, users, values: dict[str, str],  # noqa: ANN001
                                             message: str) -> None:
    response = enter(client_for(console_app, "zhang"), **values)
    assert response.status_code == 400
    assert message in text_of(response.get_data(as_text=True))
    assert forms_of(db) == []


def test_the_week_reaches_its_target(console_app: Flask, db: Session, users) -> None:  # noqa: ANN001
    client = client_for(console_app, "zhang")
    for day in ("2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"):
        assert enter(client, day=day).status_code == 302
    assert enter(client, day="2026-11-20").status_code == 302  # the week before
    text = text_of(client.get(PAGE).get_data(as_text=True))
    assert "已录入 5 份，目标每周 5 份，已达标" in text and "市场监管窗口 5" in text
    assert "已录入 1 份" in text_of(client.get(PAGE + "?week=2026-W47").get_data(as_text=True))
    assert "周次格式应为 2026-W48" in text_of(client.get(PAGE + "?week=48").get_data(as_text=True))


def csv_file(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([["窗口", "日期", "答案", "意见建议"], *rows])
    return out.getvalue().encode("utf-8-sig")


def test_a_file_of_forms_with_its_rejected_rows(console_app: Flask, db: Session, users) -> None:  # noqa: ANN001
    client = client_for(console_app, "zhang")
    content = csv_file([["市场监管窗口", "2026-11-23", "111111", ""], ["税务窗口", "2026/11/24", "113111", "态度差"],
                        ["不存在的窗口", "2026-11-24", "111111", ""], ["税务窗口", "2026-11-24", "12x", ""]])
    response = upload(client, "第48周征求意见表.csv", content)
    assert response.status_code == 200
    text = text_of(response.get_data(as_text=True))
    assert "新增 2 份，跳过已导入的 0 行，拒绝 2 行" in text
    assert "4 未知窗口" in text and re.search(r"5 \S*答案“12x”", text)
    assert len(forms_of(db)) == 2
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "onsite_forms_imported"))
    assert event.detail["rejected_rows"] == [4, 5] and len(event.detail["added"]) == 2 and event.user_id
    again = text_of(upload(client, "again.csv", content).get_data(as_text=True))
    assert "新增 0 份，跳过已导入的 2 行，拒绝 2 行" in again and len(forms_of(db)) == 2


def test_an_xlsx_with_one_column_per_item(console_app: Flask, db: Session, users) -> None:  # noqa: ANN001
    book = Workbook()
    sheet = book.active
    sheet.append(["窗口", "日期", "服务态度", "办事效率", "按章办事", "体外循环", "廉洁自律", "总体评价"])
    sheet.append(["税务窗口", datetime(2026, 11, 25), "满意", "满意", "满意", "是", "没有", "基本满意"])
    data = io.BytesIO()
    book.save(data)
    response = upload(client_for(console_app, "zhang"), "forms.xlsx", data.getvalue())
    assert "新增 1 份" in text_of(response.get_data(as_text=True))
    assert forms_of(db)[0].week == "2026-W48"


@pytest.mark.parametrize(("name", "content", "message"), [
    ("forms.txt", b"x", "只能上传 CSV 或 XLSX 文件"),
    ("forms.csv", "姓名,电话\n张三,1\n".encode(), "未找到表头行"),
])
def test_a_file_that_cannot_be_imported(console_app: Flask, db: Session, users, name: str, content: bytes,  # noqa: ANN001
                                        message: str) -> None:
    response = upload(client_for(console_app, "zhang"), name, content)
    assert response.status_code == 400 and message in text_of(response.get_data(as_text=True))
    assert forms_of(db) == []


def test_no_file_chosen(console_app: Flask, users) -> None:  # noqa: ANN001
    client = client_for(console_app, "zhang")
    response = client.post(f"{PAGE}/import", data={"csrf_token": csrf_token(client, PAGE)})
    assert response.status_code == 400 and "请选择要上传的文件" in text_of(response.get_data(as_text=True))


def test_every_form_needs_its_csrf_token(console_app: Flask, db: Session, users) -> None:  # noqa: ANN001
    client = client_for(console_app, "zhang")
    for url, data in ((PAGE, {"window": "市场监管窗口", **GOOD}),
                      (f"{PAGE}/import", {"file": (io.BytesIO(csv_file([])), "f.csv")})):
        response = client.post(url, data=data)
        assert response.status_code == 400 and "页面已过期" in text_of(response.get_data(as_text=True))
    assert forms_of(db) == []
