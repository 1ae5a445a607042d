"""The administrator's pages (issue 14 §8): the hall (name, window roles, staff, alert recipients), API tokens
(shown once; a revoked token is refused by the API), the working-day calendar (years and sources; a notice file
loaded, open cases' deadlines recomputed), prompt texts (an edit is spoken on the next call; checked; reset) and
the opt-out lookup (yes or no, never a list). Every change is an audit row with the administrator's account and
address; other roles get 403; a form without its CSRF token is refused; another hall's rows are 404."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.calendar.services import WorkingCalendar, load_calendar
from callback.models import ApiToken, AuditEvent, Hall, Staff, User, Window
from callback.models.calendar import CalendarDay
from callback.models.rectification import AlertRecipient
from callback.rectification.services import open_for_callback
from callback.retention.services import phone_hash
from tests.callback.rectification.test_rectification import ALL_GOOD
from tests.callback.rectification.test_rectification import make_callback as rectification_callback
from tests.callback.web.console.helpers import csrf_token, login, make_user, text_of
from tests.factories import make_contact
from tests.ivr.ivr_support import Caller
from tests.ivr.ivr_support import make_app as make_ivr_app
from tests.ivr.ivr_support import make_callback as ivr_callback

ADDR = {"REMOTE_ADDR": "192.0.2.21"}
HALL_PAGE, TOKENS, CALENDAR, PROMPTS, OPTOUT = (
    "/console/admin/hall", "/console/admin/tokens", "/console/admin/calendar", "/console/admin/prompts",
    "/console/optout")
EXAMPLE_2027 = Path(__file__).parents[4] / "callback" / "data" / "calendar-2027.example.csv"


@pytest.fixture(autouse=True)
def prompt_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Edits go to a folder of this test's own (never the instance folder of the checkout)."""
    folder = tmp_path / "prompt-overrides"
    monkeypatch.setenv("PROMPTS_OVERRIDE_DIR", str(folder))
    monkeypatch.delenv("PROMPTS_DIR", raising=False)
    monkeypatch.delenv("PROMPTS_LANGUAGE", raising=False)
    return folder


@pytest.fixture
def admin(db: Session, site) -> User:  # noqa: ANN001
    user = make_user(db, site.hall, Role.ADMIN, username="admin", name="赵管理")
    for role in (Role.SUPERVISOR, Role.LEADER, Role.WINDOW_LEAD, Role.STAFF):
        window = "税务窗口" if role in (Role.WINDOW_LEAD, Role.STAFF) else None
        make_user(db, site.hall, role, username=role.value, window=window)
    db.commit()
    return user


@pytest.fixture
def client(console_app: Flask, admin: User) -> FlaskClient:
    client = console_app.test_client()
    assert login(client, "admin").status_code == 302
    return client


def _post(client: FlaskClient, url: str, page: str, **data: str):  # noqa: ANN202
    return client.post(url, data={"csrf_token": csrf_token(client, page), **data}, environ_base=ADDR)


def _events(db: Session, action: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _by_admin(event: AuditEvent, admin: User) -> bool:
    return (event.user_id, event.ip, event.actor) == (admin.id, "192.0.2.21", "赵管理 (console:admin)")


# --- who may open them --------------------------------------------------------------------------------------------

ADMIN_ONLY = [HALL_PAGE, TOKENS, CALENDAR, PROMPTS, f"{PROMPTS}/zh-CN/intro"]


@pytest.mark.parametrize("username", ["supervisor", "leader", "window_lead", "staff"])
def test_only_administrators_open_the_administration_pages(console_app: Flask, admin: User, username: str) -> None:
    client = console_app.test_client()
    login(client, username)
    for url in ADMIN_ONLY:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "无权访问" in text_of(response.get_data(as_text=True))
    token = csrf_token(client, "/console/")
    assert client.post(HALL_PAGE, data={"csrf_token": token, "name": "改名"}).status_code == 403
    assert client.post(TOKENS, data={"csrf_token": token, "label": "x", "expires_days": "1"}).status_code == 403


@pytest.mark.parametrize(("username", "status"), [("admin", 200), ("supervisor", 200), ("leader", 403),
                                                  ("window_lead", 403), ("staff", 403)])
def test_the_opt_out_lookup_is_for_administrators_and_supervisors(console_app: Flask, admin: User, username: str,
                                                                  status: int) -> None:
    client = console_app.test_client()
    login(client, username)
    assert client.get(OPTOUT).status_code == status


def test_every_change_needs_the_csrf_token(client: FlaskClient, db: Session, site) -> None:  # noqa: ANN001
    for url, data in [(HALL_PAGE, {"name": "新名称"}), (TOKENS, {"label": "平台", "expires_days": "30"}),
                      (f"{PROMPTS}/zh-CN/intro", {"text": "您好"}), (OPTOUT, {"number": "13800138000"}),
                      (f"{HALL_PAGE}/alerts", {"name": "王", "email": "w@hall.example", "kinds": "overdue"})]:
        response = client.post(url, data=data)
        assert response.status_code == 400, url
        assert "页面已过期" in text_of(response.get_data(as_text=True))
    upload = client.post(f"{CALENDAR}/load", data={"file": (io.BytesIO(EXAMPLE_2027.read_bytes()), "2027.csv")},
                         content_type="multipart/form-data")
    assert upload.status_code == 400
    db.expire_all()
    assert db.get(Hall, site.hall.id).name == "潍坊高新区政务服务中心"
    assert db.scalar(select(func.count()).select_from(ApiToken)) == 0
    assert db.scalar(select(func.count()).select_from(CalendarDay)) == 0


# --- the hall -----------------------------------------------------------------------------------------------------


def test_renaming_the_hall_is_audited_with_the_administrator(client: FlaskClient, db: Session, admin: User,
                                                              site) -> None:  # noqa: ANN001
    response = _post(client, HALL_PAGE, HALL_PAGE, name="  潍坊高新区  政务服务中心 ")
    assert response.status_code == 302
    assert "中心名称已改为「潍坊高新区 政务服务中心」" in text_of(client.get(HALL_PAGE).get_data(as_text=True))
    db.expire_all()
    assert db.get(Hall, site.hall.id).name == "潍坊高新区 政务服务中心"
    [event] = _events(db, "hall_renamed")
    assert _by_admin(event, admin) and event.detail == {"from": "潍坊高新区政务服务中心", "to": "潍坊高新区 政务服务中心"}


def test_an_overlong_hall_name_is_refused(client: FlaskClient, db: Session, site) -> None:  # noqa: ANN001
    response = _post(client, HALL_PAGE, HALL_PAGE, name="中" * 101)
    assert response.status_code == 400
    assert "未保存" in text_of(response.get_data(as_text=True))
    db.expire_all()
    assert db.get(Hall, site.hall.id).name == "潍坊高新区政务服务中心"


def test_a_windows_role_is_set_and_audited(client: FlaskClient, db: Session, admin: User, site) -> None:  # noqa: ANN001
    url = f"{HALL_PAGE}/windows/{site.tax.id}/role"
    assert _post(client, url, HALL_PAGE, **{f"w{site.tax.id}-role": "comprehensive"}).status_code == 302
    assert "税务窗口 已设为综合受理窗口" in text_of(client.get(HALL_PAGE).get_data(as_text=True))
    db.expire_all()
    assert db.get(Window, site.tax.id).role == "comprehensive"
    [event] = _events(db, "window_role_set")
    assert _by_admin(event, admin) and event.detail == {"from": "other", "to": "comprehensive"}
    other = db.scalar(select(Window.id).where(Window.hall_id == site.other_hall.id))
    assert _post(client, f"{HALL_PAGE}/windows/{other}/role", HALL_PAGE,
                 **{f"w{other}-role": "issuing"}).status_code == 404


def test_staff_are_added_and_corrected_with_their_number_and_window(client: FlaskClient, db: Session, admin: User,
                                                                     site) -> None:  # noqa: ANN001
    added = _post(client, f"{HALL_PAGE}/staff", HALL_PAGE, name="王芳", staff_no="G001", window=str(site.market.id))
    assert added.status_code == 302
    member = db.scalar(select(Staff).where(Staff.hall_id == site.hall.id, Staff.name == "王芳"))
    assert (member.staff_no, member.window_id) == ("G001", site.market.id)
    page = text_of(client.get(HALL_PAGE).get_data(as_text=True))
    assert "王芳 G001 市场监管窗口" in page
    clash = _post(client, f"{HALL_PAGE}/staff", HALL_PAGE, name="张伟", staff_no="G001", window="")
    assert clash.status_code == 400 and "工号 G001 已属于本中心另一名经办人" in text_of(clash.get_data(as_text=True))
    edit = f"{HALL_PAGE}/staff/{member.id}"
    assert 'value="王芳"' in client.get(edit).get_data(as_text=True) and 'value="G001"' in client.get(edit).get_data(as_text=True)
    assert _post(client, edit, edit, name="王芳", staff_no="G002", window=str(site.tax.id)).status_code == 302
    db.expire_all()
    assert (member.staff_no, member.window_id) == ("G002", site.tax.id)
    [added_event] = _events(db, "staff_added")
    [updated] = _events(db, "staff_updated")
    assert _by_admin(added_event, admin) and _by_admin(updated, admin)
    assert updated.detail["from"]["staff_no"] == "G001" and updated.detail["to"]["staff_no"] == "G002"
    assert db.scalar(select(func.count()).select_from(Staff).where(Staff.name == "张伟")) == 0


def test_another_halls_staff_member_or_window_is_404(client: FlaskClient, db: Session, site) -> None:  # noqa: ANN001
    elsewhere = Staff(hall_id=site.other_hall.id, name="外中心人员")
    db.add(elsewhere)
    db.commit()
    assert client.get(f"{HALL_PAGE}/staff/{elsewhere.id}").status_code == 404
    other_window = db.scalar(select(Window.id).where(Window.hall_id == site.other_hall.id))
    response = _post(client, f"{HALL_PAGE}/staff", HALL_PAGE, name="李四", staff_no="", window=str(other_window))
    assert response.status_code == 400 and "请选择本中心的窗口" in text_of(response.get_data(as_text=True))


def test_alert_recipients_with_mobiles_masked(client: FlaskClient, db: Session, admin: User, site) -> None:  # noqa: ANN001
    url = f"{HALL_PAGE}/alerts"
    response = client.post(url, data={"csrf_token": csrf_token(client, HALL_PAGE), "name": "王主任",
                                      "mobile": "139 0000 0001", "email": "wang@hall.example",
                                      "kinds": ["integrity", "overdue"]}, environ_base=ADDR)
    assert response.status_code == 302
    page = client.get(HALL_PAGE).get_data(as_text=True)
    assert "139****0001" in text_of(page) and "13900000001" not in page and "wang@hall.example" in page
    row = db.scalar(select(AlertRecipient).where(AlertRecipient.hall_id == site.hall.id))
    assert (row.mobile, row.kinds) == ("+8613900000001", ["integrity", "overdue"])
    # an update leaves the mobile blank: the number shown masked is kept
    client.post(url, data={"csrf_token": csrf_token(client, HALL_PAGE), "name": "王主任", "mobile": "",
                           "email": "", "kinds": ["due_tomorrow"]})
    db.expire_all()
    assert (row.mobile, row.email, row.kinds) == ("+8613900000001", None, ["due_tomorrow"])
    none = client.post(url, data={"csrf_token": csrf_token(client, HALL_PAGE), "name": "李科长",
                                  "email": "li@hall.example"})
    assert none.status_code == 400 and "请至少选择一种提醒" in text_of(none.get_data(as_text=True))
    bad = client.post(url, data={"csrf_token": csrf_token(client, HALL_PAGE), "name": "李科长", "mobile": "12345",
                                 "kinds": ["overdue"]})
    assert bad.status_code == 400 and "手机号码不正确" in text_of(bad.get_data(as_text=True))
    assert _post(client, f"{url}/{row.id}/remove", HALL_PAGE).status_code == 302
    assert db.scalar(select(func.count()).select_from(AlertRecipient)) == 0
    actions = [e.action for e in db.scalars(select(AuditEvent).where(AuditEvent.entity == "alert_recipient")
                                            .order_by(AuditEvent.id))]
    assert actions == ["added", "updated", "removed"]
    assert all(e.user_id == admin.id for e in db.scalars(select(AuditEvent).where(
        AuditEvent.entity == "alert_recipient")))
    assert not any("13900000001" in json.dumps(e.detail) for e in db.scalars(select(AuditEvent)))


# --- API tokens ---------------------------------------------------------------------------------------------------


def _api(app: Flask, token: str):  # noqa: ANN202
    record = {"case_no": "API001", "phone": "13800138000", "window": "税务窗口", "accepted_at": "2026-11-03 09:12"}
    return app.test_client().post("/api/v1/cases", json=[record], headers={"Authorization": f"Bearer {token}"})


def test_a_token_is_shown_once_works_at_the_api_and_is_refused_once_revoked(
        console_app: Flask, client: FlaskClient, db: Session, admin: User) -> None:
    response = _post(client, TOKENS, TOKENS, label="政务服务平台", expires_days="30")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    [token] = [part.split('"')[0] for part in page.split('value="')[1:] if part.startswith("cbt_")]
    assert "只显示这一次" in text_of(page)
    assert token not in client.get(TOKENS).get_data(as_text=True)  # never again
    row = db.scalar(select(ApiToken))
    assert row.label == "政务服务平台" and token not in row.token_hash
    assert _api(console_app, token).status_code == 200
    assert _post(client, f"{TOKENS}/{row.id}/revoke", TOKENS).status_code == 302
    assert "已吊销" in text_of(client.get(TOKENS).get_data(as_text=True))
    assert _api(console_app, token).status_code == 401
    actions = [(e.action, e.user_id) for e in db.scalars(select(AuditEvent).where(AuditEvent.entity == "api_token")
                                                         .order_by(AuditEvent.id))]
    assert actions == [("create", admin.id), ("revoke", admin.id)]


def test_a_token_needs_a_label_and_another_halls_token_is_404(client: FlaskClient, db: Session, site) -> None:  # noqa: ANN001
    response = _post(client, TOKENS, TOKENS, label="", expires_days="30")
    assert response.status_code == 400 and "请写明令牌的用途" in text_of(response.get_data(as_text=True))
    assert "cbt_" not in response.get_data(as_text=True)
    from callback.halls.tokens import create_token

    other, _token = create_token(db, db.get(Hall, site.other_hall.id), "外中心")
    db.commit()
    assert _post(client, f"{TOKENS}/{other.id}/revoke", TOKENS).status_code == 404
    db.expire_all()
    assert db.get(ApiToken, other.id).revoked_at is None
    assert "外中心" not in text_of(client.get(TOKENS).get_data(as_text=True))


# --- the calendar -------------------------------------------------------------------------------------------------


def _load(client: FlaskClient, content: bytes, name: str = "2027年放假安排.csv"):  # noqa: ANN202
    return client.post(f"{CALENDAR}/load", data={"csrf_token": csrf_token(client, CALENDAR),
                                                 "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data", environ_base=ADDR)


def test_the_calendar_shows_each_years_source(client: FlaskClient) -> None:
    text = text_of(client.get(f"{CALENDAR}?year=2026").get_data(as_text=True))
    assert "2026 官方数据" in text and "国庆节" in text and "调休上班" in text
    assert "2027 估算" in text and "不含调休，整改期限可能有误" in text


def test_loading_a_notice_replaces_the_estimate_and_recomputes_open_deadlines(
        client: FlaskClient, db: Session, admin: User) -> None:
    opened = datetime(2027, 1, 28, 2, 0, tzinfo=UTC)  # Thu; the estimate has no 调休 Sun 01-31
    case = open_for_callback(db, rectification_callback(db, ALL_GOOD | {"overall": "B"}), opened,
                             calendar=WorkingCalendar())
    db.commit()
    assert case.due_estimated
    response = _load(client, EXAMPLE_2027.read_bytes())
    assert response.status_code == 302 and response.headers["Location"].endswith("year=2027")
    text = text_of(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "已载入 2027 年的放假安排" in text and "已按新日历重算 1 件" in text and "2027 管理员载入的国务院通知" in text
    assert load_calendar(db).source(2027) == "loaded"
    db.expire_all()
    assert (case.due_at, case.due_estimated) == (datetime(2027, 2, 1, 15, 59, 59, tzinfo=UTC), False)
    [event] = _events(db, "calendar_loaded")
    assert _by_admin(event, admin) and event.detail["year"] == 2027 and event.detail["recomputed"] == [case.id]
    again = _load(client, EXAMPLE_2027.read_bytes())
    assert "与已载入的内容相同，未作改动" in text_of(client.get(again.headers["Location"]).get_data(as_text=True))
    assert len(_events(db, "calendar_loaded")) == 1


def test_a_bad_notice_lists_its_lines_and_loads_nothing(client: FlaskClient, db: Session) -> None:
    content = "date,kind,name\n2027-01-01,holiday,元旦\n2027-13-01,holiday,x\n2027-01-04,workday,x\n".encode()
    response = _load(client, content, "坏文件.csv")
    assert response.status_code == 400
    text = text_of(response.get_data(as_text=True))
    assert "坏文件.csv 有误，未载入任何内容" in text and "第 3 行" in text and "第 4 行" in text
    assert db.scalar(select(func.count()).select_from(CalendarDay)) == 0


# --- prompts ------------------------------------------------------------------------------------------------------


def test_a_prompt_edit_is_spoken_on_the_next_call(client: FlaskClient, db: Session, admin: User,
                                                  database_url: str) -> None:
    ivr = make_ivr_app(database_url)
    before = Caller(ivr.test_client(), *ivr_callback(db)).answer()
    assert "您好，这里是" in before.spoken
    edit = f"{PROMPTS}/zh-CN/intro"
    new = "您好，{centre}回访您办理的“{item}”。参加请按1，不再接听请按9。"
    assert _post(client, edit, edit, text=new).status_code == 302
    after = Caller(ivr.test_client(), *ivr_callback(db)).answer()
    assert after.spoken == "您好，示范政务服务中心回访您办理的“个体工商户设立登记”。参加请按1，不再接听请按9。"
    listing = text_of(client.get(PROMPTS).get_data(as_text=True))
    assert "已修改" in listing and "不再接听请按9" in listing
    [event] = _events(db, "prompt_edited")
    assert _by_admin(event, admin)
    assert event.detail["key"] == "intro" and event.detail["new"] == new and event.detail["old"].startswith("您好，这里是")
    reset = f"{edit}/reset"
    assert _post(client, reset, edit).status_code == 302
    assert "您好，这里是" in Caller(ivr.test_client(), *ivr_callback(db)).answer().spoken
    assert [e.action for e in db.scalars(select(AuditEvent).where(AuditEvent.entity == "prompt")
                                         .order_by(AuditEvent.id))] == ["prompt_edited", "prompt_reset"]


@pytest.mark.parametrize(("text", "message"), [
    ("您好，{name}", "未知的占位符 {name}"),
    ("您好，{centre", "花括号不成对"),
    ("   ", "没有文字"),
])
def test_a_prompt_with_an_unknown_placeholder_is_refused(client: FlaskClient, db: Session, prompt_overrides: Path,
                                                         text: str, message: str) -> None:
    edit = f"{PROMPTS}/zh-CN/intro"
    response = _post(client, edit, edit, text=text)
    assert response.status_code == 400 and message in text_of(response.get_data(as_text=True))
    assert not (prompt_overrides / "zh-CN.json").exists()
    assert _events(db, "prompt_edited") == []


def test_a_translation_is_edited_on_its_own(client: FlaskClient, prompt_overrides: Path) -> None:
    edit = f"{PROMPTS}/en/thanks"
    assert _post(client, edit, edit, text="Thank you, goodbye. ").status_code == 302
    assert json.loads((prompt_overrides / "en.json").read_text()) == {"thanks": "Thank you, goodbye. "}
    from ivr.prompts import load_catalog

    assert load_catalog("en").prompt("thanks").text == "Thank you, goodbye. "  # as typed, the space kept
    assert load_catalog("zh-CN").prompt("thanks").text != "Thank you, goodbye. "
    assert client.get(f"{PROMPTS}/fr/thanks").status_code == 404
    assert client.get(f"{PROMPTS}/zh-CN/no-such-prompt").status_code == 404


# --- opt-out lookup -----------------------------------------------------------------------------------------------


def _lookup(client: FlaskClient, number: str):  # noqa: ANN202
    return _post(client, OPTOUT, OPTOUT, number=number)


def test_the_lookup_answers_yes_or_no_masked_and_audited(client: FlaskClient, db: Session, admin: User,
                                                          site) -> None:  # noqa: ANN001
    make_contact(db, site.other_hall, "+8613800138000").opted_out_at = datetime(2026, 11, 1, tzinfo=UTC)
    make_contact(db, site.hall, "+8613900139000")
    db.commit()
    yes = _lookup(client, "138-0013-8000")  # opted out in another hall: it holds everywhere
    page = yes.get_data(as_text=True)
    assert yes.status_code == 200 and "138****8000：已退订" in text_of(page)
    assert "13800138000" not in page and "0013-8000" not in page
    no = text_of(_lookup(client, "+86 139 0013 9000").get_data(as_text=True))
    assert "139****9000：未退订" in no
    assert [(e.detail, e.user_id) for e in _events(db, "optout_lookup")] == [
        ({"number": "138****8000", "opted_out": True}, admin.id),
        ({"number": "139****9000", "opted_out": False}, admin.id)]


def test_the_lookup_never_lists_numbers(client: FlaskClient, db: Session, site) -> None:  # noqa: ANN001
    for n in range(3):
        make_contact(db, site.hall, f"+861370013700{n}").opted_out_at = datetime(2026, 11, 1, tzinfo=UTC)
    db.commit()
    for page in (client.get(OPTOUT).get_data(as_text=True), _lookup(client, "13700137000").get_data(as_text=True)):
        assert not any(f"1370013700{n}" in page or f"137****700{n}" in page for n in (1, 2))


def test_a_purged_opted_out_number_is_still_found(console_app: Flask, client: FlaskClient, db: Session,
                                                  site) -> None:  # noqa: ANN001
    key = (console_app.config["SETTINGS"].retention_key or console_app.config["SETTINGS"].secret_key).encode()
    contact = make_contact(db, site.hall, phone_hash(key, "+8613600136000"))
    contact.opted_out_at = datetime(2026, 1, 1, tzinfo=UTC)
    db.commit()
    assert "136****6000：已退订" in text_of(_lookup(client, "13600136000").get_data(as_text=True))


def test_a_lookup_of_something_that_is_not_a_number(client: FlaskClient, db: Session) -> None:
    response = _lookup(client, "12345")
    assert response.status_code == 400 and "号码无效" in text_of(response.get_data(as_text=True))
    assert _events(db, "optout_lookup") == []


def test_every_prompt_is_named_in_words() -> None:
    from callback.web.console.admin_prompts import PURPOSES
    from ivr.prompts import load_catalog

    assert set(load_catalog().entries) <= set(PURPOSES)
