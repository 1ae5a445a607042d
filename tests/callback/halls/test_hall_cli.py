"""`callback hall set|show|list`: a hall gets a real name, which the IVR greeting, the SMS survey and the
board then use; `show` lists the windows and the staff who work at each."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

import callback.halls.cli as cli_hall
from callback.cli import main
from callback.config import Settings
from callback.db import session_factory
from callback.halls.services import (
    NAME_MAX,
    HallNameError,
    clean_name,
    ensure_hall,
    get_hall,
    hall_overview,
    set_hall_name,
)
from callback.models import AuditEvent, Staff
from callback.telephony import MockProvider
from ivr.sms_survey import send_sms_survey
from tests.factories import make_case, make_hall, make_window
from tests.ivr.ivr_support import Caller, make_app, make_callback
from tests.ivr.sms_support import sms_callback

NOW = datetime(2026, 11, 4, 2, 0, tzinfo=UTC)
NAME = "潍坊高新区政务服务中心"


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_hall, "now", lambda: NOW)


def _cli(database_url: str, *args: str, actor: str = ""):  # noqa: ANN202
    env = {"DATABASE_URL": database_url, "DEFAULT_HALL": "DEMO", "CALLBACK_ACTOR": actor}
    return CliRunner().invoke(main, ["hall", *args], env=env)


def _staff(session: Session, hall_code: str, name: str, *window_names: str) -> None:
    """A staff member named on a ledger case at each of ``window_names`` (none: on no case at all)."""
    hall = make_hall(session, hall_code)
    member = Staff(hall_id=hall.id, name=name)
    session.add(member)
    session.flush()
    for window_name in window_names:
        case = make_case(session, hall, make_window(session, hall, window_name))
        case.staff_id = member.id
        session.flush()


def test_set_renames_the_hall_the_ledger_created(session: Session, database_url: str) -> None:
    ensure_hall(session, "WF01")
    session.commit()
    assert get_hall(session, "WF01").name == "WF01 政务服务中心"  # what an import makes of a bare code

    result = _cli(database_url, "set", "WF01", "--name", NAME, actor="张主任")
    assert result.exit_code == 0, result.output
    assert "「WF01 政务服务中心」改为「潍坊高新区政务服务中心」" in result.output
    with session_factory(database_url)() as fresh:
        hall = get_hall(fresh, "WF01")
        assert hall.name == NAME
        [event] = fresh.scalars(select(AuditEvent).where(AuditEvent.entity == "hall"))
        assert (event.action, event.hall_id, event.detail) == (
            "hall_renamed", hall.id, {"from": "WF01 政务服务中心", "to": NAME})
        assert event.actor.startswith("张主任 (cli:")


def test_set_again_changes_nothing_and_a_new_code_creates_the_hall(database_url: str) -> None:
    created = _cli(database_url, "set", "WF02", "--name", f"  {NAME} ", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.output) == {"code": "WF02", "name": NAME, "previous_name": None, "created": True,
                                          "changed": True}
    again = _cli(database_url, "set", "WF02", "--name", NAME)
    assert again.exit_code == 0 and "未作改动" in again.output
    with session_factory(database_url)() as fresh:
        actions = list(fresh.scalars(select(AuditEvent.action).where(AuditEvent.entity == "hall")))
        assert actions == ["hall_created"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "WF01", "--name", "   "], "中心名称不能为空"),
        (["set", "WF01", "--name", "中心" * NAME_MAX], "中心名称过长"),
        (["set", "WF01", "--name", "第一行\x07"], "控制字符"),
        (["set", "WF 01", "--name", NAME], "中心代码"),
    ],
)
def test_bad_names_and_codes_are_refused_in_one_line(database_url: str, args: list[str], message: str) -> None:
    result = _cli(database_url, *args)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("未设置：") and message in line
    with session_factory(database_url)() as fresh:
        assert fresh.scalar(select(AuditEvent.id)) is None


def test_clean_name_joins_lines_and_spaces() -> None:
    assert clean_name(" 潍坊高新区\n政务服务中心 ") == "潍坊高新区 政务服务中心"
    with pytest.raises(HallNameError):
        clean_name(None)


def test_the_ivr_greets_callers_with_the_new_name(session: Session, database_url: str) -> None:
    callback, attempt = make_callback(session)
    assert _cli(database_url, "set", "DEMO", "--name", NAME).exit_code == 0
    twiml = Caller(make_app(database_url).test_client(), callback, attempt).answer()
    assert f"这里是{NAME}" in twiml.spoken and "示范政务服务中心" not in twiml.spoken


def test_the_sms_survey_is_signed_with_the_new_name(session: Session, database_url: str) -> None:
    callback = sms_callback(session)
    assert _cli(database_url, "set", "DEMO", "--name", NAME).exit_code == 0
    outbox = MockProvider()
    settings = Settings(database_url=database_url, public_base_url="https://hall.example.cn")
    with session_factory(database_url)() as fresh:
        assert send_sms_survey(fresh, callback.id, outbox, settings, NOW).result == "sent"
    [sms] = outbox.texts()
    assert sms.body.startswith(f"【{NAME}】")


def test_the_board_shows_the_new_name(session: Session, database_url: str) -> None:
    make_hall(session)
    session.commit()
    assert _cli(database_url, "set", "DEMO", "--name", NAME).exit_code == 0
    page = make_app(database_url).test_client().get("/board?hall=DEMO")
    assert page.status_code == 200 and NAME in page.get_data(as_text=True)


def test_show_lists_windows_with_their_staff(session: Session, database_url: str) -> None:
    _staff(session, "DEMO", "王芳", "市场监管窗口", "税务窗口", "市场监管窗口")
    _staff(session, "DEMO", "李强", "税务窗口")
    _staff(session, "DEMO", "赵敏")
    make_window(session, make_hall(session), "不动产窗口")  # a window nobody has worked at yet
    _staff(session, "OTHER", "孙丽", "市场监管窗口")  # another hall's staff never show
    session.commit()

    result = _cli(database_url, "show", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert (payload["code"], payload["name"], payload["staff_count"]) == ("DEMO", "示范政务服务中心", 3)
    assert {w["name"]: w["staff"] for w in payload["windows"]} == {
        "不动产窗口": [], "市场监管窗口": ["王芳"], "税务窗口": ["李强", "王芳"]}
    assert payload["unassigned_staff"] == ["赵敏"]

    text = _cli(database_url, "show", "DEMO").output
    assert "DEMO  示范政务服务中心" in text and "窗口 3 个，经办人 3 人" in text
    assert "  税务窗口：李强、王芳" in text and "（未登记窗口）：赵敏" in text and "孙丽" not in text


def test_show_reads_the_window_on_the_staff_row_too(session: Session) -> None:
    hall = make_hall(session)
    window = make_window(session, hall, "综合受理窗口")
    session.add(Staff(hall_id=hall.id, name="陈静", window_id=window.id))
    session.flush()
    assert hall_overview(session, hall)["windows"] == [{"id": window.id, "name": "综合受理窗口", "staff": ["陈静"]}]


def test_show_an_unknown_hall_exits_2(database_url: str) -> None:
    result = _cli(database_url, "show", "NOPE")
    assert result.exit_code == 2 and "未知的中心代码" in result.stderr


def test_list(session: Session, database_url: str) -> None:
    set_hall_name(session, "WF01", NAME, NOW, actor="t")
    make_hall(session)
    session.commit()
    rows = json.loads(_cli(database_url, "list", "--json").output)
    assert rows == [{"code": "DEMO", "name": "示范政务服务中心"}, {"code": "WF01", "name": NAME}]
    assert "WF01  潍坊高新区政务服务中心" in _cli(database_url, "list").output
