"""Staff calls without exposing the number (篇2 四 专人回访; issue 14 §4): 「拨打」 rings the supervisor's desk phone,
the bridge webhook dials the citizen (the number looked up on the server by an opaque token, answered once), the
simulator plays both legs, and the supervisor records the answers on the same page — the citizen's number on no
page, in no URL, in no log, in no transcript or audit row."""

from __future__ import annotations

import logging
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask, Response
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.models import Answer, AuditEvent, Callback, Contact, TranscriptEvent
from callback.models.rectification import Rectification
from callback.models.staff_calls import StaffCall
from callback.responses.staff_calls import BRIDGE_WITHIN
from callback.telephony import CallRequest, MockProvider, PlacedCall, ProviderError
from callback.web.app import create_app
from ivr.signing import sign_request
from tests.callback.web.console.helpers import csrf_token, login, make_user, text_of
from tests.factories import make_case

AUTH = "staff-call-auth-token"
PHONE = "+8613987654321"
HIDDEN = ("13987654321", "987654")  # the number, and the digits its mask hides (139****4321)
DESK = "0536-8881234"
DESK_E164 = "+865368881234"
DESK_SID = "CA" + "5" * 32
ADDR = {"REMOTE_ADDR": "192.0.2.11"}


@pytest.fixture
def app(database_url: str, site) -> Flask:  # noqa: ANN001
    return create_app({"database_url": database_url, "twilio_auth_token": AUTH})


@pytest.fixture
def provider(app: Flask) -> MockProvider:
    mock = MockProvider()
    app.config["PROVIDER_FACTORY"] = lambda settings: mock
    return mock


def drawn_callback(db: Session, site, *, state: str = "drawn", phone: str = PHONE, hall=None) -> Callback:  # noqa: ANN001
    hall = hall or site.hall
    window = site.market if hall is site.hall else None
    case = make_case(db, hall, window, phone=phone)
    callback = Callback(hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=case.window_id,
                        week="2026-W45", state=state, token=secrets.token_hex(16), flags={},
                        next_action_at=datetime(2026, 11, 4, 2, tzinfo=UTC))
    db.add(callback)
    db.flush()
    return callback


@pytest.fixture
def callback(db: Session, site) -> Callback:  # noqa: ANN001
    made = drawn_callback(db, site)
    make_user(db, site.hall, Role.SUPERVISOR, username="zhang", name="张督查", phone=DESK)
    make_user(db, site.hall, Role.SUPERVISOR, username="nodesk", name="无座机")
    make_user(db, site.hall, Role.LEADER, username="wang")
    make_user(db, site.hall, Role.WINDOW_LEAD, username="li", window="市场监管窗口")
    make_user(db, site.hall, Role.ADMIN, username="admin")
    db.commit()
    return made


def client_for(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def page_url(callback: Callback, step: str = "") -> str:
    return f"/console/callbacks/{callback.id}/staff-call" + (f"/{step}" if step else "")


def dial(client: FlaskClient, callback: Callback):  # noqa: ANN201
    return client.post(page_url(callback), data={"csrf_token": csrf_token(client, page_url(callback))},
                       environ_base=ADDR)


def answer(client: FlaskClient, callback: Callback, **values: str):  # noqa: ANN201
    data = {"csrf_token": csrf_token(client, page_url(callback)), **values}
    return client.post(page_url(callback, "answers"), data=data, environ_base=ADDR)


def the_call(db: Session, callback: Callback) -> StaffCall:
    db.expire_all()
    return db.scalars(select(StaffCall).where(StaffCall.callback_id == callback.id)).one()


def webhook(app: Flask, path: str, sign: bool = True, **form: str):  # noqa: ANN201
    """A request the provider makes: signed with the auth token over PUBLIC_BASE_URL + path."""
    url = app.config["SETTINGS"].public_base_url.rstrip("/") + path
    form = {"AccountSid": "AC" + "0" * 32, **form}
    headers = {"X-Twilio-Signature": sign_request(url, form, AUTH)} if sign else {}
    return app.test_client().post(path, data=form, headers=headers)


def assert_no_number(text: str) -> None:
    for hidden in HIDDEN:
        assert hidden not in text


# --- who may ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["wang", "li", "admin"])
def test_only_supervisors_make_staff_calls(app: Flask, db: Session, callback: Callback, provider: MockProvider,
                                           username: str) -> None:
    client = client_for(app, username)
    assert client.get(page_url(callback)).status_code == 403
    token = csrf_token(client, "/console/account")
    assert client.post(page_url(callback), data={"csrf_token": token}).status_code == 403
    assert client.post(page_url(callback, "answers"), data={"csrf_token": token, "overall": "1"}).status_code == 403
    assert provider.calls() == [] and db.scalar(select(StaffCall.id)) is None


def test_another_halls_callback_is_404(app: Flask, db: Session, callback: Callback, site, provider) -> None:  # noqa: ANN001
    other = drawn_callback(db, site, hall=site.other_hall, phone="+8613911112222")
    db.commit()
    client = client_for(app, "zhang")
    assert client.get(page_url(other)).status_code == 404
    assert dial(client, other).status_code == 404 and provider.calls() == []


def test_every_form_needs_its_csrf_token(app: Flask, db: Session, callback: Callback, provider: MockProvider) -> None:
    client = client_for(app, "zhang")
    for url, data in ((page_url(callback), {}), (page_url(callback, "answers"), {"overall": "1"})):
        response = client.post(url, data=data)
        assert response.status_code == 400 and "页面已过期" in text_of(response.get_data(as_text=True))
    assert provider.calls() == [] and db.get(Callback, callback.id).state == "drawn"


# --- placing ------------------------------------------------------------------------------------------------------


def test_dialing_rings_the_desk_phone_with_a_token_only(app: Flask, db: Session, callback: Callback,
                                                       provider: MockProvider) -> None:
    provider.handler = lambda r: PlacedCall(DESK_SID, "queued") if isinstance(r, CallRequest) else None
    client = client_for(app, "zhang")
    html = client.get(page_url(callback)).get_data(as_text=True)
    assert "139****4321" in text_of(html) and "0536****1234" in text_of(html)
    assert_no_number(html)
    response = dial(client, callback)
    assert response.status_code == 302
    [request] = provider.calls()
    call = the_call(db, callback)
    base = app.config["SETTINGS"].public_base_url.rstrip("/")
    assert request == CallRequest(to=DESK_E164, from_=app.config["SETTINGS"].twilio_from,
                                  url=f"{base}/ivr/staff/{call.token}/bridge",
                                  status_callback=f"{base}/ivr/staff/{call.token}/status", timeout_seconds=30,
                                  machine_detection=False)
    assert (call.state, call.actor, call.desk_call_sid) == ("ringing", "张督查 (console:zhang)", DESK_SID)
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "staff_call_placed"))
    assert (event.entity_id, event.detail, event.ip) == (callback.id, {"staff_call": call.id}, "192.0.2.11")
    text = text_of(client.get(page_url(callback)).get_data(as_text=True))
    assert "您的座机正在振铃，请接听" in text and "刷新通话状态" in text
    assert db.get(Callback, callback.id).next_action_at > datetime.now(UTC) + timedelta(minutes=50)  # the dialer waits


def test_a_second_call_waits_for_the_first(app: Flask, db: Session, callback: Callback, provider: MockProvider) -> None:
    client = client_for(app, "zhang")
    dial(client, callback)
    dial(client, callback)
    assert len(provider.calls()) == 1
    assert "正在专人回访通话中" in text_of(client.get(page_url(callback)).get_data(as_text=True))


def test_no_desk_phone_no_call(app: Flask, db: Session, callback: Callback, provider: MockProvider) -> None:
    client = client_for(app, "nodesk")
    assert "没有登记座机号码" in text_of(client.get(page_url(callback)).get_data(as_text=True))
    dial(client, callback)
    assert provider.calls() == [] and db.scalar(select(StaffCall.id)) is None
    assert "没有登记座机号码" in text_of(client.get(page_url(callback)).get_data(as_text=True))


@pytest.mark.parametrize("case", ["onsite", "complete", "opted_out", "calling"])
def test_callbacks_that_may_not_be_called(app: Flask, db: Session, callback: Callback, provider: MockProvider,
                                          case: str) -> None:
    row = db.get(Callback, callback.id)
    if case == "onsite":
        row.case_id = row.contact_id = None
        row.channel, row.state = "onsite", "complete"
    elif case == "opted_out":
        db.get(Contact, row.contact_id).opted_out_at = datetime(2026, 11, 1, tzinfo=UTC)
    else:
        row.state = case
    db.commit()
    client = client_for(app, "zhang")
    reason = {"onsite": "现场征求意见表", "complete": "已结束", "opted_out": "已退订", "calling": "正在自动回访通话中"}[case]
    html = client.get(page_url(callback)).get_data(as_text=True)
    assert reason in text_of(html) and "录入回访结果" not in text_of(html)
    dial(client, callback)
    assert provider.calls() == []


def test_a_refused_call_fails_and_says_so(app: Flask, db: Session, callback: Callback, provider: MockProvider) -> None:
    provider.fail_next(ProviderError("carrier down", transient=True))
    client = client_for(app, "zhang")
    dial(client, callback)
    assert the_call(db, callback).state == "failed"
    text = text_of(client.get(page_url(callback)).get_data(as_text=True))
    assert "呼叫失败：carrier down" in text and "拨打" in text  # may try again


# --- the bridge webhook -------------------------------------------------------------------------------------------


def placed(app: Flask, db: Session, callback: Callback) -> StaffCall:
    dial(client_for(app, "zhang"), callback)
    return the_call(db, callback)


def test_the_bridge_dials_the_citizen_once(app: Flask, db: Session, callback: Callback, provider: MockProvider) -> None:
    call = placed(app, db, callback)
    response = webhook(app, f"/ivr/staff/{call.token}/bridge", CallSid=call.desk_call_sid, CallStatus="in-progress")
    assert response.status_code == 200 and response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data(as_text=True))
    dial_node = root.find("./Dial")
    assert root.find("./Say").text == "正在为您接通回访对象，请稍候。"
    assert dial_node.find("./Number").text == PHONE
    assert dial_node.get("callerId") == app.config["SETTINGS"].twilio_from
    assert dial_node.get("action").endswith(f"/ivr/staff/{call.token}/dialed")
    assert the_call(db, callback).state == "bridging"
    again = webhook(app, f"/ivr/staff/{call.token}/bridge", CallSid=call.desk_call_sid).get_data(as_text=True)
    assert_no_number(again)  # a replay learns nothing
    assert "<Hangup" in again and "本次专人回访已结束" in again


def test_webhooks_need_the_signature(app: Flask, db: Session, callback: Callback, provider: MockProvider) -> None:
    call = placed(app, db, callback)
    for step in ("bridge", "dialed", "status"):
        assert webhook(app, f"/ivr/staff/{call.token}/{step}", sign=False).status_code == 403
    assert the_call(db, callback).state == "ringing"


def test_an_unknown_token_gets_no_number(app: Flask, callback: Callback) -> None:
    text = webhook(app, f"/ivr/staff/{secrets.token_hex(16)}/bridge").get_data(as_text=True)
    assert_no_number(text)
    assert "<Hangup" in text


def test_a_desk_phone_answered_too_late_gets_no_number(app: Flask, db: Session, callback: Callback,
                                                      provider: MockProvider) -> None:
    call = placed(app, db, callback)
    call.placed_at -= BRIDGE_WITHIN + timedelta(seconds=1)
    db.commit()
    assert_no_number(webhook(app, f"/ivr/staff/{call.token}/bridge").get_data(as_text=True))
    assert the_call(db, callback).state == "failed"


def test_a_number_that_opted_out_meanwhile_is_not_dialed(app: Flask, db: Session, callback: Callback,
                                                        provider: MockProvider) -> None:
    call = placed(app, db, callback)
    db.get(Contact, db.get(Callback, callback.id).contact_id).opted_out_at = datetime.now(UTC)
    db.commit()
    assert_no_number(webhook(app, f"/ivr/staff/{call.token}/bridge").get_data(as_text=True))
    assert the_call(db, callback).error.startswith("回访#")


def test_the_dial_result_and_the_desk_status(app: Flask, db: Session, callback: Callback,
                                            provider: MockProvider) -> None:
    call = placed(app, db, callback)
    webhook(app, f"/ivr/staff/{call.token}/status", CallStatus="ringing", CallSid=call.desk_call_sid)
    webhook(app, f"/ivr/staff/{call.token}/bridge", CallSid=call.desk_call_sid)
    for _ in range(2):  # a repeated delivery changes nothing
        response = webhook(app, f"/ivr/staff/{call.token}/dialed", DialCallStatus="completed", DialCallSid="CAleg",
                           DialCallDuration="125")
        assert "<Hangup" in response.get_data(as_text=True)
    webhook(app, f"/ivr/staff/{call.token}/status", CallStatus="completed", CallDuration="140")
    call = the_call(db, callback)
    assert (call.state, call.talk_seconds, call.dial_call_sid, call.dial_status) == ("completed", 125, "CAleg",
                                                                                     "completed")
    notes = db.scalars(select(TranscriptEvent.text).where(TranscriptEvent.callback_id == callback.id)).all()
    assert notes[-1] == "专人回访（张督查 (console:zhang)）：已接通申请人，通话 2 分 5 秒"
    assert len([n for n in notes if "已接通申请人" in n]) == 1
    assert webhook(app, f"/ivr/staff/{call.token}/dialed", DialCallDuration="１２").status_code == 400


@pytest.mark.parametrize(("step", "form", "state"), [
    ("status", {"CallStatus": "no-answer"}, "desk_unanswered"),
    ("dialed", {"DialCallStatus": "busy"}, "citizen_unanswered"),
])
def test_unanswered_legs(app: Flask, db: Session, callback: Callback, provider: MockProvider, step: str,
                         form: dict[str, str], state: str) -> None:
    call = placed(app, db, callback)
    if step == "dialed":
        webhook(app, f"/ivr/staff/{call.token}/bridge")
    webhook(app, f"/ivr/staff/{call.token}/{step}", **form)
    assert the_call(db, callback).state == state
    text = text_of(client_for(app, "zhang").get(page_url(callback)).get_data(as_text=True))
    assert {"desk_unanswered": "您的座机未接听", "citizen_unanswered": "申请人未接听 （忙线）"}[state] in text
    assert "拨打" in text  # the call ended: may dial again


# --- the answers -------------------------------------------------------------------------------------------------


def test_the_answers_entered_during_the_call(app: Flask, db: Session, callback: Callback,
                                             provider: MockProvider) -> None:
    client = client_for(app, "zhang")
    dial(client, callback)
    response = answer(client, callback, attitude="1", efficiency="2", by_the_rules="1", in_hall="1", integrity="1",
                      overall="2", suggestion="排队太久，我的电话13987654321")
    assert response.status_code == 302
    db.expire_all()
    row = db.get(Callback, callback.id)
    assert (row.state, row.channel) == ("complete", "manual")
    assert {a.item: a.key for a in db.scalars(select(Answer).where(Answer.callback_id == row.id))} == {
        "attitude": "1", "efficiency": "2", "by_the_rules": "1", "in_hall": "1", "integrity": "1", "overall": "2"}
    case = db.scalars(select(Rectification).where(Rectification.callback_id == row.id)).one()
    assert case.reasons == ["efficiency", "overall"]
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "manual_result_entered"))
    assert event.detail["keys"] == "121112" and event.detail["rectification_id"] == case.id and event.user_id


def test_some_answers_only_or_only_an_opt_out(app: Flask, db: Session, callback: Callback, site) -> None:  # noqa: ANN001
    client = client_for(app, "zhang")
    assert answer(client, callback, overall="3").status_code == 302
    db.expire_all()
    assert db.get(Callback, callback.id).state == "partial"
    other = drawn_callback(db, site, phone="+8613911113333")
    db.commit()
    assert answer(client, other, opt_out="y").status_code == 302
    db.expire_all()
    assert db.get(Callback, other.id).state == "opted_out"
    assert db.get(Contact, other.contact_id).opted_out_at is not None


def test_nothing_ticked_is_refused_in_chinese(app: Flask, db: Session, callback: Callback) -> None:
    response = answer(client_for(app, "zhang"), callback, attitude="9")
    assert response.status_code == 400
    assert "服务态度：无法识别" in text_of(response.get_data(as_text=True))
    response = answer(client_for(app, "zhang"), callback)
    assert response.status_code == 400 and "没有答案" in text_of(response.get_data(as_text=True))
    db.expire_all()
    assert db.get(Callback, callback.id).state == "drawn"


# --- the bridged call through the simulator ----------------------------------------------------------------------


@pytest.fixture
def served(app: Flask, tmp_path: Path) -> Iterator[tuple[Flask, object, list[str]]]:
    from ivr.localserver import LocalServer
    from ivr.simulator import SimulatorProvider

    documents: list[str] = []

    @app.after_request
    def keep(response: Response) -> Response:
        if response.mimetype == "text/xml":
            documents.append(response.get_data(as_text=True))
        return response

    with LocalServer(app) as server:
        simulator = SimulatorProvider(auth_token=AUTH, public_base_url=server.url, state_dir=tmp_path / "sim",
                                      start_delay=0.05)
        app.config["PROVIDER_FACTORY"] = lambda settings: simulator
        yield app, simulator, documents
        simulator.wait_idle(30)


def test_a_bridged_staff_call_through_the_simulator(served, db: Session, callback: Callback,  # noqa: ANN001
                                                   caplog: pytest.LogCaptureFixture) -> None:
    from ivr.simulator import citizens
    from ivr.simulator.twiml_spec import check_twiml

    app, simulator, documents = served
    caplog.set_level(logging.DEBUG)
    simulator.script(DESK_E164, citizens.answers_all())
    simulator.script(PHONE, citizens.answers_all(talk_seconds=150))
    client = client_for(app, "zhang")
    pages = [client.get(page_url(callback)).get_data(as_text=True)]
    response = dial(client, callback)
    assert simulator.wait_idle(30), "the simulated call did not finish"

    [desk] = simulator.calls(DESK_E164)
    [leg] = simulator.calls(PHONE)  # two legs: the desk phone, then the citizen
    assert desk.status == "completed" and leg.parent_sid == desk.sid and leg.from_ == app.config["SETTINGS"].twilio_from
    assert (leg.status, leg.duration) == ("completed", 150)
    assert "正在为您接通回访对象，请稍候。" in desk.heard()
    dialed = [e for e in desk.log if e.kind == "dialed"]
    assert [(e.text, e.data["leg"], e.data["duration"]) for e in dialed] == [("completed", leg.sid, 150)]
    assert [e.text for e in desk.log if e.kind == "dial"] == ["139****4321"]
    call = the_call(db, callback)
    assert (call.state, call.talk_seconds, call.dial_call_sid, call.desk_call_sid) == ("completed", 150, leg.sid,
                                                                                     desk.sid)
    assert call.desk_status == "completed"

    pages.append(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "已接通申请人" in text_of(pages[-1]) and "通话 150 秒" in text_of(pages[-1])
    saved = answer(client, callback, attitude="1", efficiency="1", by_the_rules="1", in_hall="1", integrity="1",
                   overall="1")
    assert saved.status_code == 302
    pages.append(client.get(saved.headers["Location"]).get_data(as_text=True))
    db.expire_all()
    assert db.get(Callback, callback.id).state == "complete"

    # the number: in the one TwiML document that dials it, and nowhere else
    assert [d for d in documents if PHONE in d] == [d for d in documents if "<Dial" in d] and len(documents) == 2
    assert all(check_twiml(d) == [] for d in documents)
    urls = [desk.url, desk.status_callback] + [e.text for e in desk.log if e.kind == "request"]
    urls += [response.headers["Location"], saved.headers["Location"]]
    logged = [r.getMessage() for r in caplog.records] + [str(r.args) for r in caplog.records]
    stored = db.scalars(select(TranscriptEvent.text).where(TranscriptEvent.callback_id == callback.id)).all()
    stored += [str(e.detail) for e in db.scalars(select(AuditEvent))]
    for text in pages + urls + logged + stored:
        assert_no_number(text)
    assert any("专人回访" in s and "已接通申请人" in s for s in stored)


def test_the_desk_phone_not_answered_through_the_simulator(served, db: Session, callback: Callback) -> None:  # noqa: ANN001
    from ivr.simulator import citizens

    app, simulator, documents = served
    simulator.script(DESK_E164, citizens.no_answer())
    dial(client_for(app, "zhang"), callback)
    assert simulator.wait_idle(60)
    assert the_call(db, callback).state == "desk_unanswered"
    assert simulator.calls(PHONE) == [] and documents == []  # the bridge was never asked: the citizen never rang


def test_the_citizen_busy_through_the_simulator(served, db: Session, callback: Callback) -> None:  # noqa: ANN001
    from ivr.simulator import citizens

    app, simulator, _ = served
    simulator.script(DESK_E164, citizens.answers_all())
    simulator.script(PHONE, citizens.busy())
    dial(client_for(app, "zhang"), callback)
    assert simulator.wait_idle(30)
    call = the_call(db, callback)
    assert (call.state, call.dial_status) == ("citizen_unanswered", "busy")
    assert [c.status for c in simulator.calls(PHONE)] == ["busy"]
