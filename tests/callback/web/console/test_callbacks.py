"""Callbacks in the console (issue 14 §3): the filterable, paginated list and one callback's page — the case, the
attempts, the answers with their meaning, the transcript in Beijing time, the suggestion, the recording streamed
through the app — numbers masked everywhere; views, plays, corrections and reveals audited with the account and
its address; a window lead never gets in, another hall's callback is as missing as one that does not exist."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.models import Answer, AuditEvent, Callback
from callback.models.rectification import Rectification
from callback.responses.states import OUTCOME_LABELS, STATE_LABELS, CallbackState
from callback.responses.transcript import LABELS as TRANSCRIPT_LABELS
from callback.telephony import FetchRecording, MockProvider, ProviderError, Recording
from callback.web.console import callbacks as page
from callback.web.console import clock
from ivr.simulator.state import tone_wav
from survey.questionnaire import ITEMS
from tests.callback.web.console.callback_data import NOW, PHONE, RECORDING_URL, SAID, WEEK, answered, waiting
from tests.callback.web.console.helpers import csrf_token, login, make_user, text_of
from tests.factories import make_window

ADDR = {"REMOTE_ADDR": "192.0.2.44"}
WAV = tone_wav(2)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def provider(console_app: Flask) -> MockProvider:
    def handler(request: object) -> object:
        if isinstance(request, FetchRecording) and request.url == RECORDING_URL:
            return Recording(url=request.url, content_type="audio/x-wav", data=WAV)
        if isinstance(request, FetchRecording):
            raise ProviderError("not found", transient=False, code="20404")
        return None

    mock = MockProvider(handler)
    console_app.config["PROVIDER_FACTORY"] = lambda settings: mock
    return mock


@pytest.fixture
def users(db: Session, site) -> None:  # noqa: ANN001
    make_user(db, site.hall, Role.SUPERVISOR, username="zhang", name="张督查")
    make_user(db, site.hall, Role.LEADER, username="wang", name="王主任")
    make_user(db, site.hall, Role.WINDOW_LEAD, username="li", name="李窗口", window="市场监管窗口")
    make_user(db, site.hall, Role.ADMIN, username="admin", name="赵管理")
    make_user(db, site.hall, Role.STAFF, username="staff", name="孙员工", window="税务窗口")
    db.commit()


@pytest.fixture
def as_user(console_app: Flask, users) -> Callable[[str], FlaskClient]:  # noqa: ANN001
    def client_for(username: str) -> FlaskClient:
        client = console_app.test_client()
        assert login(client, username).status_code == 302
        return client

    return client_for


@pytest.fixture
def one(db: Session, site) -> Callback:  # noqa: ANN001
    """A complete callback with a complaint in its spoken suggestion (a number in it) and a recording."""
    callback = answered(db, site.hall, site.market, "121111", phone=PHONE, suggestion=SAID, recording=RECORDING_URL)
    db.commit()
    return callback


def audits(db: Session, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def listed(html: str) -> set[int]:
    import re

    return {int(n) for n in re.findall(r'href="/console/callbacks/(\d+)"', html)}


# --- who may open what ----------------------------------------------------------------------------------------------


def urls(callback: Callback) -> list[tuple[str, str]]:
    base = f"/console/callbacks/{callback.id}"
    return [("GET", "/console/callbacks"), ("GET", base), ("GET", base + "/recording"),
            ("POST", base + "/answers/attitude/correct"), ("POST", base + "/reveal")]


@pytest.mark.parametrize("username", ["li", "admin", "staff"])
def test_roles_without_the_callbacks_get_403_everywhere(as_user, one: Callback, username: str) -> None:  # noqa: ANN001
    client = as_user(username)
    token = csrf_token(client, "/console/account")
    for method, url in urls(one):
        response = client.open(url, method=method, data={"csrf_token": token, "field": "phone",
                                                         "phone-reason": "x", "attitude-value": "S",
                                                         "attitude-reason": "x"})
        assert response.status_code == 403, (username, url)
        assert "无权访问" in text_of(response.get_data(as_text=True))


def test_the_menu_shows_the_callbacks_to_supervisors_and_leaders_only(as_user) -> None:  # noqa: ANN001
    assert "回访记录" in text_of(as_user("zhang").get("/console/").get_data(as_text=True))
    assert "回访记录" in text_of(as_user("wang").get("/console/").get_data(as_text=True))
    assert "回访记录" not in text_of(as_user("li").get("/console/").get_data(as_text=True))


def test_another_halls_callback_is_404(as_user, db: Session, site) -> None:  # noqa: ANN001
    other = answered(db, site.other_hall, make_window(db, site.other_hall, "市场监管窗口"), recording=RECORDING_URL)
    db.commit()
    client = as_user("zhang")
    token = csrf_token(client, "/console/account")
    for method, url in urls(other)[1:]:
        response = client.open(url, method=method, data={"csrf_token": token, "field": "phone", "phone-reason": "x",
                                                         "attitude-value": "B", "attitude-reason": "x"})
        assert response.status_code == 404, url
        assert "页面或记录不存在" in text_of(response.get_data(as_text=True))
    assert other.id not in listed(client.get("/console/callbacks?week=all").get_data(as_text=True))
    assert client.get("/console/callbacks/999999").status_code == 404
    assert audits(db, "view_transcript") == [] and audits(db, "reveal") == []


# --- the list -------------------------------------------------------------------------------------------------------


def test_the_list_shows_the_week_masked(as_user, one: Callback, db: Session, site) -> None:  # noqa: ANN001
    elsewhere = answered(db, site.hall, site.tax, week="2026-W47")
    db.commit()
    html = as_user("wang").get(f"/console/callbacks?week={WEEK}").get_data(as_text=True)
    text = text_of(html)
    assert listed(html) == {one.id}
    assert "139****5678" in text and "市场监管窗口" in text and "个体工商户设立登记" in text and "121111" in text
    assert "13912345678" not in html and "12345678" not in html.replace("139****5678", "")
    assert "张三" not in html  # the applicant's name is not on the list
    assert "基本满意" in text and "投诉" in text and "建议" in text
    assert listed(as_user("wang").get("/console/callbacks?week=all").get_data(as_text=True)) == {one.id, elsewhere.id}


def test_the_list_defaults_to_the_current_week(as_user, one: Callback) -> None:  # noqa: ANN001
    html = as_user("zhang").get("/console/callbacks").get_data(as_text=True)
    assert listed(html) == {one.id}
    assert f'<option value="{WEEK}" selected>' in html


@pytest.fixture
def mix(db: Session, site) -> dict[str, Callback]:  # noqa: ANN001
    rows = {
        "good": answered(db, site.hall, site.market, "111111"),
        "basic": answered(db, site.hall, site.tax, "222212"),
        "bad_with_words": answered(db, site.hall, site.market, "3", suggestion="工作人员态度差，我要投诉"),
        "integrity": answered(db, site.hall, site.tax, "111121"),
        "sms": waiting(db, site.hall, site.market, CallbackState.SMS),
        "unreached": waiting(db, site.hall, site.tax, CallbackState.UNREACHABLE),
        "opted_out": waiting(db, site.hall, site.market, CallbackState.OPTED_OUT),
        "drawn": waiting(db, site.hall, site.market),
    }
    db.commit()
    return rows


@pytest.mark.parametrize(("query", "expected"), [
    ("", {"good", "basic", "bad_with_words", "integrity", "sms", "unreached", "opted_out", "drawn"}),
    ("&state=answered", {"good", "basic", "integrity"}),
    ("&state=partial", {"bad_with_words"}),
    ("&state=sms", {"sms"}),
    ("&state=unreached", {"unreached"}),
    ("&state=opted_out", {"opted_out"}),
    ("&state=pending", {"drawn"}),
    ("&rating=S", {"good", "integrity"}),
    ("&rating=B", {"basic"}),
    ("&rating=U", {"bad_with_words"}),
    ("&rating=none", {"sms", "unreached", "opted_out", "drawn"}),
    ("&suggestion=1", {"bad_with_words"}),
    ("&complaint=1", {"bad_with_words"}),
    ("&integrity=1", {"integrity"}),
    ("&channel=sms", {"sms"}),
    ("&rating=S&integrity=1", {"integrity"}),
    ("&state=nonsense&rating=X", {"good", "basic", "bad_with_words", "integrity", "sms", "unreached", "opted_out",
                                  "drawn"}),
])
def test_the_filters(as_user, mix: dict[str, Callback], site, query: str, expected: set[str]) -> None:  # noqa: ANN001
    html = as_user("zhang").get(f"/console/callbacks?week={WEEK}{query}").get_data(as_text=True)
    assert listed(html) == {mix[name].id for name in expected}


def test_the_window_filter(as_user, mix: dict[str, Callback], site) -> None:  # noqa: ANN001
    html = as_user("zhang").get(f"/console/callbacks?week={WEEK}&window={site.tax.id}").get_data(as_text=True)
    assert listed(html) == {mix[n].id for n in ("basic", "integrity", "unreached")}


@pytest.mark.parametrize("extra", ["", "&rating=S"])
def test_pages_of_25_newest_first(as_user, db: Session, site, extra: str) -> None:  # noqa: ANN001
    made = [answered(db, site.hall, site.market).id for _ in range(30)]
    db.commit()
    client = as_user("zhang")
    first = client.get(f"/console/callbacks?week={WEEK}{extra}").get_data(as_text=True)
    second = client.get(f"/console/callbacks?week={WEEK}{extra}&page=2").get_data(as_text=True)
    assert listed(first) == set(made[5:]) and listed(second) == set(made[:5])
    assert "共 30 条，第 1 / 2 页" in text_of(first) and "下一页" in text_of(first)
    assert "上一页" in text_of(second) and "下一页" not in text_of(second)


def test_an_empty_week_says_what_to_do(as_user) -> None:  # noqa: ANN001
    text = text_of(as_user("zhang").get("/console/callbacks?week=2026-W30").get_data(as_text=True))
    assert "2026-W30 还没有回访记录" in text and "查看全部周次" in text


# --- one callback ---------------------------------------------------------------------------------------------------


def test_the_callback_page_shows_the_case_answers_and_timeline(as_user, one: Callback, db: Session) -> None:  # noqa: ANN001
    response = as_user("wang").get(f"/console/callbacks/{one.id}", environ_base=ADDR)
    html = response.get_data(as_text=True)
    text = text_of(html)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    case_no = db.get(Callback, one.id).case_id
    assert "个体工商户设立登记" in text and "市场监管窗口" in text and "即办件" in text
    assert str(db.scalar(select(Callback).where(Callback.id == one.id)).week) in text and case_no
    assert "139****5678" in text and "张*" in text and "张三" not in html
    assert "服务态度 满意" in text and "办事效率 基本满意" in text and "廉洁自律 没有" in text
    assert "窗口态度不好，请回电138****5678" in text and "语音识别置信度 87%" in text
    assert "13812345678" not in html and "13912345678" not in html
    assert "2026-11-25 10:58" in text  # the spoken suggestion at 02:59 UTC, shown in Beijing time
    assert "提示" in text and "按键" in text and "语音" in text
    assert "查看完整号码" not in text and "更正此答案" not in text  # a leader reads, never reveals or corrects
    [event] = audits(db, "view_transcript")
    assert (event.entity, event.entity_id, event.ip, event.detail) == ("callback", one.id, "192.0.2.44",
                                                                       {"via": "console"})
    assert event.user_id is not None and "王主任" in event.actor


def test_a_supervisor_sees_the_correct_and_reveal_forms(as_user, one: Callback) -> None:  # noqa: ANN001
    text = text_of(as_user("zhang").get(f"/console/callbacks/{one.id}").get_data(as_text=True))
    assert "查看完整号码" in text and "查看原文" in text and text.count("更正此答案") == 6


# --- the recording ----------------------------------------------------------------------------------------------


def test_the_recording_plays_through_the_app(as_user, one: Callback, provider: MockProvider,  # noqa: ANN001
                                              db: Session) -> None:
    client = as_user("zhang")
    html = client.get(f"/console/callbacks/{one.id}").get_data(as_text=True)
    src = f"/console/callbacks/{one.id}/recording"
    assert f'<audio controls preload="none" src="{src}"' in html
    assert RECORDING_URL not in html and "twilio" not in html and "RE0123456789abcdef" not in html
    response = client.get(src, environ_base=ADDR)
    assert response.status_code == 200 and response.data == WAV and response.mimetype == "audio/wav"
    assert response.headers["Accept-Ranges"] == "bytes" and response.headers["Cache-Control"] == "no-store"
    assert [r.url for r in provider.requests] == [RECORDING_URL]
    part = client.get(src, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == WAV[100:200]
    [event] = audits(db, "recording_played")  # one listen, however many ranges the player asks for
    assert (event.entity_id, event.ip) == (one.id, "192.0.2.44")


def test_a_recording_the_provider_cannot_give_is_a_502_in_chinese(as_user, db: Session, site,  # noqa: ANN001
                                                                  provider: MockProvider) -> None:
    gone = answered(db, site.hall, site.market, recording="https://api.twilio.example/Recordings/REgone")
    none = answered(db, site.hall, site.market)
    db.commit()
    client = as_user("zhang")
    response = client.get(f"/console/callbacks/{gone.id}/recording")
    assert response.status_code == 502 and "录音暂时无法获取" in response.get_data(as_text=True)
    assert client.get(f"/console/callbacks/{none.id}/recording").status_code == 404
    assert "此回访没有录音" in text_of(client.get(f"/console/callbacks/{none.id}").get_data(as_text=True))
    assert audits(db, "recording_played") == []


# --- correcting an answer -----------------------------------------------------------------------------------------


def correct(client: FlaskClient, callback: Callback, item: str = "efficiency", value: str = "S",
            reason: str = "录音中市民说的是“满意”", token: str | None = "") -> object:
    data = {f"{item}-value": value, f"{item}-reason": reason}
    if token is not None:
        data["csrf_token"] = token or csrf_token(client, f"/console/callbacks/{callback.id}")
    return client.post(f"/console/callbacks/{callback.id}/answers/{item}/correct", data=data, environ_base=ADDR)


def answer_of(db: Session, callback: Callback, item: str) -> Answer:
    db.expire_all()
    return db.scalar(select(Answer).where(Answer.callback_id == callback.id, Answer.item == item))


def test_a_supervisor_corrects_an_answer_and_the_original_stays(as_user, one: Callback, db: Session) -> None:  # noqa: ANN001
    client = as_user("zhang")
    response = correct(client, one)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/console/callbacks/{one.id}#answers")
    row = answer_of(db, one, "efficiency")
    assert (row.value, row.key, row.original_value, row.original_key) == ("S", "1", "B", "2")
    assert "张督查" in row.corrected_by and row.correction_reason == "录音中市民说的是“满意”"
    text = text_of(client.get(f"/console/callbacks/{one.id}").get_data(as_text=True))
    assert "已更正办事效率：基本满意 → 满意（原答案已保留）" in text
    assert "办事效率 满意" in text and "原答案：基本满意（按键 2）" in text and "录音中市民说的是“满意”" in text
    assert "督查更正：办事效率 基本满意 → 满意" in text  # the timeline has it too
    [event] = audits(db, "answer_corrected")
    assert (event.entity, event.entity_id, event.ip, event.detail["old"], event.detail["new"]) == (
        "answer", row.id, "192.0.2.44", "B", "S")
    assert event.user_id is not None


def test_a_correction_that_needs_a_case_opens_it_and_says_so(as_user, db: Session, site) -> None:  # noqa: ANN001
    good = answered(db, site.hall, site.market, "111111")
    db.commit()
    client = as_user("zhang")
    assert correct(client, good, "overall", "U", "总体评价实为不满意").status_code == 302
    case = db.scalar(select(Rectification).where(Rectification.callback_id == good.id))
    assert case is not None and case.reasons == ["overall"]
    assert f"已开立整改 #{case.id}" in text_of(client.get(f"/console/callbacks/{good.id}").get_data(as_text=True))


def test_a_leader_cannot_correct(as_user, one: Callback, db: Session) -> None:  # noqa: ANN001
    assert correct(as_user("wang"), one).status_code == 403
    assert answer_of(db, one, "efficiency").value == "B" and audits(db, "answer_corrected") == []


def test_a_correction_without_the_csrf_token_is_refused(as_user, one: Callback, db: Session) -> None:  # noqa: ANN001
    response = correct(as_user("zhang"), one, token=None)
    assert response.status_code == 400 and "页面已过期" in text_of(response.get_data(as_text=True))
    assert answer_of(db, one, "efficiency").value == "B" and audits(db, "answer_corrected") == []


@pytest.mark.parametrize(("value", "reason", "message"), [
    ("S", "", "请填写更正理由"),
    ("B", "听错了", "办事效率的答案已是“基本满意”，无需更正"),
    ("Y", "听错了", "办事效率只能更正为：满意、基本满意、不满意"),
])
def test_a_refused_correction_says_why_and_changes_nothing(as_user, one: Callback, db: Session, value: str,  # noqa: ANN001
                                                           reason: str, message: str) -> None:
    response = correct(as_user("zhang"), one, value=value, reason=reason)
    assert response.status_code == 400 and message in text_of(response.get_data(as_text=True))
    assert answer_of(db, one, "efficiency").original_value is None and audits(db, "answer_corrected") == []


def test_an_unanswered_item_cannot_be_corrected(as_user, db: Session, site) -> None:  # noqa: ANN001
    partial = answered(db, site.hall, site.market, "11")
    db.commit()
    client = as_user("zhang")
    response = correct(client, partial, "overall", "S", "补录")
    assert response.status_code == 302
    assert "此项没有答案，不能更正" in text_of(client.get(response.headers["Location"]).get_data(as_text=True))
    assert answer_of(db, partial, "overall") is None


# --- revealing ----------------------------------------------------------------------------------------------------


def reveal(client: FlaskClient, callback: Callback, field: str, reason: str, token: str | None = "") -> object:
    data = {"field": field, f"{field}-reason": reason}
    if token is not None:
        data["csrf_token"] = token or csrf_token(client, f"/console/callbacks/{callback.id}")
    return client.post(f"/console/callbacks/{callback.id}/reveal", data=data, environ_base=ADDR)


def test_a_supervisor_reveals_the_number_once_with_a_reason(as_user, one: Callback, db: Session) -> None:  # noqa: ANN001
    client = as_user("zhang")
    response = reveal(client, one, "phone", "市民投诉，需人工回电")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "完整号码： 13912345678" in text_of(html) and "本次查看已记入审计日志" in text_of(html)
    [event] = audits(db, "reveal")
    assert (event.entity_id, event.ip, event.detail) == (one.id, "192.0.2.44",
                                                         {"field": "phone", "reason": "市民投诉，需人工回电"})
    assert event.user_id is not None and "张督查" in event.actor
    again = client.get(f"/console/callbacks/{one.id}").get_data(as_text=True)
    assert "13912345678" not in again  # shown once, in the answer to the POST only


def test_a_supervisor_reveals_the_suggestion_as_said(as_user, one: Callback, db: Session) -> None:  # noqa: ANN001
    html = reveal(as_user("zhang"), one, "suggestion", "需按市民留的号码回电").get_data(as_text=True)
    assert f"原文： {SAID}" in text_of(html)
    assert [e.detail["field"] for e in audits(db, "reveal")] == ["suggestion"]


def test_a_reveal_without_a_reason_shows_nothing(as_user, one: Callback, db: Session) -> None:  # noqa: ANN001
    response = reveal(as_user("zhang"), one, "phone", "  ")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "请填写查看理由" in text_of(html) and "13912345678" not in html
    assert audits(db, "reveal") == []


def test_a_reveal_without_the_csrf_token_is_refused(as_user, one: Callback, db: Session) -> None:  # noqa: ANN001
    response = reveal(as_user("zhang"), one, "phone", "回电", token=None)
    assert response.status_code == 400 and "13912345678" not in response.get_data(as_text=True)
    assert audits(db, "reveal") == []


def test_a_leader_cannot_reveal(as_user, one: Callback, db: Session) -> None:  # noqa: ANN001
    assert reveal(as_user("wang"), one, "phone", "回电").status_code == 403
    assert audits(db, "reveal") == []


def test_an_unknown_reveal_field_is_a_bad_request(as_user, one: Callback, db: Session) -> None:  # noqa: ANN001
    assert reveal(as_user("zhang"), one, "applicant", "回电").status_code == 400
    assert audits(db, "reveal") == []


# --- labels ---------------------------------------------------------------------------------------------------------


def test_every_label_the_services_use_is_marked_for_translation() -> None:
    labels = {*STATE_LABELS.values(), *OUTCOME_LABELS.values(), *TRANSCRIPT_LABELS.values()}
    labels |= {item.label for item in ITEMS} | {c.label for item in ITEMS for c in item.choices}
    from callback.rectification.services import STATE_LABELS as CASE_STATES

    labels |= set(CASE_STATES.values())
    assert labels - set(page.SERVICE_LABELS) == set()


def test_an_onsite_form_has_a_page_without_a_case_or_a_number(as_user, db: Session, site) -> None:  # noqa: ANN001
    from datetime import date

    from callback.models import Hall
    from callback.responses.entry import read_answers
    from callback.responses.onsite import OnsiteForm, add_form

    form = add_form(db, db.get(Hall, site.hall.id), OnsiteForm("税务窗口", date(2026, 11, 24), read_answers("112111")),
                    NOW, actor="tests")
    db.commit()
    client = as_user("zhang")
    html = client.get(f"/console/callbacks/{form.callback_id}").get_data(as_text=True)
    text = text_of(html)
    assert "现场问卷" in text and "税务窗口" in text and "按章办事 基本满意" in text
    assert "查看完整号码" not in text and "办件编号" not in text and "此回访没有录音" in text
    assert form.callback_id in listed(client.get(f"/console/callbacks?week={WEEK}&channel=onsite").get_data(as_text=True))
    response = reveal(client, db.get(Callback, form.callback_id), "phone", "回电")
    assert response.status_code == 400 and "没有号码" in text_of(response.get_data(as_text=True))
