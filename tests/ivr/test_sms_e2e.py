"""The SMS survey end to end over real HTTP: the app on a loopback port, the simulator playing Twilio (signed status
callbacks, citizens' replies posted to /sms/inbound, our TwiML replies delivered back to them), the dialer and the
SMS services driven as the beat would drive them, the clock jumped over the waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select, update

from callback.draws.services import draw_weekly_sample
from callback.ledger.importer import import_records
from callback.models import (
    Answer,
    AuditEvent,
    Callback,
    Case,
    Contact,
    Message,
    Rectification,
    TranscriptEvent,
    WebhookReceipt,
)
from ivr.dialer import dial_due
from ivr.ratelimit import NoLimit
from ivr.signing import sign_request
from ivr.simulator import citizens
from ivr.sms_survey import MAX_SEGMENTS, run_sms_due
from tests.factories import make_hall
from tests.ivr.ivr_support import AUTH, SimWorld, count, make_callback, served_world
from tests.ivr.sms_support import answers

pytestmark = pytest.mark.slow


class World(SimWorld):
    def citizen(self, behaviour: citizens.Citizen, phone: str | None = None) -> Callback:
        callback, _ = make_callback(self.session, state="drawn", attempt=False, phone=phone,
                                    next_action_at=self.clock.now())
        self.provider.script(self.phone(callback), behaviour)
        return callback

    def calls_until_settled(self, rounds: int = 24) -> None:
        """Dial what is due, let the calls end, jump to the next retry — as the beat would over hours.

        Under load the retries of different callbacks fall a few seconds apart and a round may catch only some of
        them, so allow a round per attempt of every callback; it returns as soon as nothing waits to be dialed."""
        for _ in range(rounds):
            dial_due(self.session, self.provider, self.settings, self.clock.now(), limiter=NoLimit())
            assert self.provider.wait_idle(60), "simulated calls did not finish"
            self.session.expire_all()
            due = self.session.scalars(select(Callback.next_action_at).where(Callback.state == "drawn")).all()
            if not due:
                return
            self.clock.advance_to(min(due))

    def sms_round(self) -> list[str]:
        """One beat tick's worth of SMS work, then wait for the simulated network (statuses, replies)."""
        results = run_sms_due(self.session, self.provider, self.settings, self.clock.now())
        assert self.provider.wait_idle(60), "simulated SMS did not finish"
        self.session.expire_all()
        return [r.result for r in results]

    def received(self, phone: str) -> list[str]:
        """What the citizen's phone received from us, in order."""
        return [m.body for m in self.provider.messages(phone) if m.direction == "outbound"]


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    with served_world(database_url, tmp_path) as (session, server, provider, clock, served):
        yield World(session, server, provider, clock, served)


def test_an_unreached_citizen_answers_by_sms_in_two_messages(world: World) -> None:
    callback = world.citizen(citizens.no_answer(sms_replies=["1 1 2", "１１１ 窗口态度很好，就是排队久了点"]))
    world.calls_until_settled()
    callback = world.reload(callback)
    assert (callback.state, callback.attempts_used) == ("sms", 3)
    assert world.sms_round() == ["sent"]
    callback = world.reload(callback)
    assert (callback.state, callback.outcome, callback.channel) == ("complete", "complete", "sms")
    assert answers(world.session, callback) == {"attitude": "1", "efficiency": "1", "by_the_rules": "2",
                                                "in_hall": "1", "integrity": "1", "overall": "1"}
    assert callback.suggestion == "窗口态度很好，就是排队久了点"
    survey, more, thanks = world.received(world.phone(callback))
    assert "112111" in survey and "回复TD退订" in survey and "个体工商户设立登记" in survey
    assert "是否全在大厅办" in more and "已收到您的评价和意见建议" in thanks
    assert all(len(body) <= 67 * MAX_SEGMENTS for body in (survey, more, thanks))
    rows = world.session.scalars(select(Message).where(Message.callback_id == callback.id)
                                 .order_by(Message.id)).all()
    assert [(m.direction, m.purpose) for m in rows] == [("out", "survey"), ("in", "survey"), ("out", "reply"),
                                                         ("in", "survey"), ("out", "reply")]
    assert all(m.status == "delivered" for m in rows if m.direction == "out")  # status callbacks recorded
    case = world.session.scalar(select(Rectification).where(Rectification.callback_id == callback.id))
    assert case is not None and case.reasons == ["by_the_rules"]  # 基本满意 on 按章办事


def test_opt_out_by_sms_stops_everything_including_future_draws(world: World) -> None:
    callback = world.citizen(citizens.no_answer(sms_replies=["退订"]))
    phone = world.phone(callback)
    east = make_hall(world.session, code="EAST", name="东区政务服务中心")
    world.session.commit()
    world.calls_until_settled()
    assert world.sms_round() == ["sent"]
    callback = world.reload(callback)
    assert callback.state == callback.outcome == "opted_out" and answers(world.session, callback) == {}
    assert "退订" in world.received(phone)[-1]
    contacts = world.session.scalars(select(Contact).where(Contact.phone == phone)).all()
    assert {c.hall_id for c in contacts} == {callback.hall_id, east.id}
    assert all(c.opted_out_at is not None for c in contacts)
    # A second TD gets no second confirmation.
    assert world.provider.citizen_texts(phone, "TD") == []
    # No call: a callback for the same number is closed, not dialed.
    calls_before = len(world.provider.calls(phone))
    again = world.citizen(citizens.answers_all(), phone=phone)
    world.calls_until_settled()
    assert world.reload(again).state == "opted_out" and len(world.provider.calls(phone)) == calls_before
    # No SMS: a callback for the number waiting in state sms is closed, not texted.
    texts_before = len(world.received(phone))
    waiting, _ = make_callback(world.session, state="sms", attempt=False, phone=phone,
                               next_action_at=world.clock.now())
    assert world.sms_round() == ["opted_out"] and len(world.received(phone)) == texts_before
    # No draw: new ledger rows for the number, in this hall and in another, are excluded.
    for hall in (world.session.get(type(east), callback.hall_id), east):
        import_records(world.session, hall, [(1, {
            "case_no": f"NEW-{hall.code}", "window": "市场监管窗口", "phone": phone.removeprefix("+86"),
            "accepted_at": "2026-11-03 10:00", "item_name": "食品经营许可", "applicant": "李四"})], source="test")
        # The row arrives now on the simulated clock (the draw only counts rows stored by its own time).
        world.session.execute(update(Case).where(Case.case_no == f"NEW-{hall.code}")
                              .values(created_at=world.clock.now()))
        world.session.commit()
        drawn = draw_weekly_sample(world.session, hall, "2026-W45", size=20, now=world.clock.now(),
                                   settings=world.settings, redraw_reason="test" if hall.id == callback.hall_id else None)
        world.session.commit()
        assert drawn.draw.excluded.get("opted_out", 0) >= 1
        assert all(world.phone(world.session.get(Callback, s.callback_id)) != phone for s in drawn.sample)


def test_a_reply_from_an_unknown_number_is_answered_politely_and_stored_nowhere(world: World) -> None:
    callback = world.citizen(citizens.no_answer(sms_replies=["111111"]))
    world.calls_until_settled()
    world.sms_round()
    tables = (Message, Answer, TranscriptEvent, Contact, AuditEvent, Callback, Rectification)
    before = [count(world.session, t) for t in tables]
    stranger = "+8613912345678"
    (reply,) = world.provider.citizen_texts(stranger, "111111 窗口很好")
    assert "暂未查到" in reply.body and reply.to == stranger
    world.session.expire_all()
    assert [count(world.session, t) for t in tables] == before
    assert world.session.scalar(select(Message).where(Message.body.contains("窗口很好"))) is None
    assert world.reload(callback).state == "complete"


def test_a_survey_sms_that_is_not_delivered_ends_unreachable(world: World) -> None:
    callback = world.citizen(citizens.no_answer(sms_status="undelivered"))
    world.calls_until_settled()
    assert world.sms_round() == ["sent"]
    callback = world.reload(callback)
    assert (callback.state, callback.flags["sms_end"], callback.flags["sms_error"]) == (
        "unreachable", "undelivered", "30003")


def test_no_reply_gets_one_reminder_then_expires_unreachable(world: World) -> None:
    callback = world.citizen(citizens.no_answer())
    world.calls_until_settled()
    assert world.sms_round() == ["sent"]
    world.clock.advance_to(world.reload(callback).next_action_at)
    assert world.sms_round() == ["sent"]
    world.clock.advance_to(world.reload(callback).next_action_at)
    assert world.sms_round() == ["unreachable"]
    survey, reminder = world.received(world.phone(callback))
    assert "提醒" in reminder and world.reload(callback).flags["sms_end"] == "no_reply"


def signed(url: str, form: dict[str, str], auth: str = AUTH) -> requests.Response:
    headers = {"X-Twilio-Signature": sign_request(url, form, auth)}
    return requests.post(url, data=form, headers=headers, timeout=10)


def inbound_form(phone: str, body: str, sid: str) -> dict[str, str]:
    return {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "Body": body, "From": phone,
            "To": "+861080000000", "MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "NumMedia": "0"}


def test_forged_signatures_are_refused_and_nothing_is_stored(world: World) -> None:
    callback = world.citizen(citizens.no_answer())
    world.calls_until_settled()
    world.sms_round()
    phone = world.phone(callback)
    message = world.session.scalar(select(Message).where(Message.callback_id == callback.id))
    before = [count(world.session, t) for t in (Message, Answer, TranscriptEvent, WebhookReceipt, AuditEvent)]
    base = world.server.url
    posts = [
        (f"{base}/sms/inbound", inbound_form(phone, "TD", "SM" + "9" * 32)),
        (f"{base}/sms/inbound", inbound_form(phone, "111111", "SM" + "8" * 32)),
        (f"{base}/sms/status?m={message.id}", {"MessageSid": message.provider_sid, "MessageStatus": "undelivered"}),
    ]
    for url, form in posts:
        assert signed(url, form, auth="not-the-auth-token").status_code == 403
        assert requests.post(url, data=form, timeout=10).status_code == 403
    world.session.expire_all()
    after = [count(world.session, t) for t in (Message, Answer, TranscriptEvent, WebhookReceipt, AuditEvent)]
    assert after == before and world.reload(callback).state == "sms"
    assert world.session.get(Contact, callback.contact_id).opted_out_at is None


def test_a_duplicated_message_sid_is_handled_once(world: World) -> None:
    callback = world.citizen(citizens.no_answer())
    world.calls_until_settled()
    world.sms_round()
    url, form = f"{world.server.url}/sms/inbound", inbound_form(world.phone(callback), "112", "SM" + "7" * 32)
    responses: list[requests.Response] = []
    threads = [threading.Thread(target=lambda: responses.append(signed(url, form))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in responses] == [200] * 4
    assert sum("<Message" in r.text for r in responses) == 1
    world.session.expire_all()
    assert count(world.session, Message, direction="in") == 1
    assert answers(world.session, callback) == {"attitude": "1", "efficiency": "1", "by_the_rules": "2"}


def test_a_simulated_week_of_sms_settles_every_survey(world: World) -> None:
    from ivr.simweek import sms_until_settled

    made = [world.citizen(citizens.no_answer(sms_replies=[c])) for c in ("111111", "满意", "2", "退订")]
    made += [world.citizen(citizens.no_answer()), world.citizen(citizens.no_answer(sms_status="failed"))]
    world.calls_until_settled()
    lines: list[str] = []
    rounds = sms_until_settled(world.session, world.provider, world.settings, world.clock, echo=lines.append)
    outcomes = [world.reload(c).state for c in made]
    assert outcomes == ["complete", "partial", "partial", "opted_out", "unreachable", "unreachable"]
    assert rounds >= 3 and lines and all(line.startswith("短信第") for line in lines)
    assert world.session.scalars(select(Callback).where(Callback.state == "sms")).all() == []


@pytest.fixture
def cli_env(world: World, monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> dict[str, str]:
    values = {"DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": AUTH, "TELEPHONY": "simulator",
              "PUBLIC_BASE_URL": world.server.url, "SMS_HOURS": "00:00-24:00",
              "SIMULATOR_CITIZENS": str(tmp_path / "cli-sim" / "citizens.json")}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_the_sms_commands(world: World, cli_env: dict[str, str]) -> None:
    import json

    from click.testing import CliRunner

    from callback.cli import main
    from ivr.simulator.citizens import CitizenRegistry

    world.server.app.config["CLOCK"] = None  # the command runs on real time; so does the app here
    callback, _ = make_callback(world.session, state="sms", attempt=False, phone="+8613700000099")
    CitizenRegistry(Path(cli_env["SIMULATOR_CITIZENS"])).set("+8613700000099", citizens.replies_by_sms("112111"))
    runner = CliRunner()
    listed = json.loads(runner.invoke(main, ["sms-status", "--json"], catch_exceptions=False).output)
    assert [(r["id"], r["phone"], r["answered"]) for r in listed] == [(callback.id, "137****0099", 0)]
    result = runner.invoke(main, ["sms", "--json"], catch_exceptions=False)
    assert [(r["callback_id"], r["result"]) for r in json.loads(result.output)] == [(callback.id, "sent")]
    # the citizen's reply travels back over HTTP from a simulator thread: give it a moment on a loaded machine
    deadline = time.monotonic() + 15
    while world.reload(callback).state == "sms" and time.monotonic() < deadline:
        time.sleep(0.1)
    callback = world.reload(callback)
    assert callback.state == "complete" and answers(world.session, callback)["by_the_rules"] == "2"
    assert json.loads(runner.invoke(main, ["sms-status", "--json"], catch_exceptions=False).output) == []
    assert "共处理 0 条短信回访" in runner.invoke(main, ["sms"], catch_exceptions=False).output
