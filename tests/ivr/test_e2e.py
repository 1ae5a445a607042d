"""End to end over real HTTP: the app on a loopback port (werkzeug make_server in a thread), the simulator playing
Twilio and the citizens, the dialer placing calls. Every TwiML the app serves is checked against Twilio's documented
verbs and attributes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from callback.models import Answer, Attempt, Callback, Contact, TranscriptEvent, WebhookReceipt
from ivr.dialer import dial_due
from ivr.ratelimit import NoLimit
from ivr.signing import sign_request
from ivr.simulator import GatherContext, Input, RecordContext, citizens
from tests.ivr.ivr_support import AUTH, SimWorld, count, make_callback, served_world

pytestmark = pytest.mark.slow


class World(SimWorld):
    def callback(self, behaviour: object, kind: str = "mobile") -> Callback:
        callback, _ = make_callback(self.session, state="drawn", attempt=False, kind=kind,
                                    next_action_at=self.clock.now())
        phone = self.session.get(Contact, callback.contact_id).phone
        self.provider.script(phone, behaviour)
        return callback

    def dial_round(self) -> list[str]:
        results = dial_due(self.session, self.provider, self.settings, self.clock.now(), limiter=NoLimit())
        assert self.provider.wait_idle(60), "simulated calls did not finish"
        return [r.result for r in results]

    def run_until_settled(self, rounds: int = 24) -> None:
        """Dial, wait, and jump the clock to the next retry, as the beat would over hours (a round per attempt of
        every callback: under load their retries fall seconds apart); returns once nothing waits to be dialed."""
        for _ in range(rounds):
            self.dial_round()
            self.session.expire_all()
            due = self.session.scalars(select(Callback.next_action_at).where(Callback.state == "drawn")).all()
            if not due:
                return
            self.clock.advance_to(min(due))

    def answers(self, callback: Callback) -> dict[str, str]:
        rows = self.session.scalars(select(Answer).where(Answer.callback_id == callback.id))
        return {a.item: a.key for a in rows}


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    with served_world(database_url, tmp_path) as (session, server, provider, clock, served):
        yield World(session, server, provider, clock, served)


def test_full_answers(world: World) -> None:
    callback = world.callback(citizens.answers_all("1121211"))
    assert world.dial_round() == ["placed"]
    callback = world.reload(callback)
    assert (callback.state, callback.outcome, callback.attempts_used) == ("complete", "complete", 1)
    assert world.answers(callback) == {"attitude": "1", "efficiency": "2", "by_the_rules": "1", "in_hall": "2",
                                       "integrity": "1", "overall": "1"}
    assert callback.suggestion == citizens.DEFAULT_SPEECH and callback.suggestion_confidence == pytest.approx(0.9)
    assert callback.recording_url and "simulator.invalid" in callback.recording_url
    (sim_call,) = world.provider.calls(world.phone(callback))
    assert sim_call.status == "completed" and any("感谢您的配合" in h for h in sim_call.heard())
    attempt = world.session.scalars(select(Attempt).where(Attempt.callback_id == callback.id)).one()
    assert attempt.provider_call_id == sim_call.sid and attempt.status == "completed" and attempt.answered_at


def test_hang_up_mid_survey_keeps_answers_so_far(world: World) -> None:
    callback = world.callback(citizens.hangs_up_after(4, keys="1213"))
    world.dial_round()
    callback = world.reload(callback)
    assert callback.outcome == "partial"
    assert world.answers(callback) == {"attitude": "2", "efficiency": "1", "by_the_rules": "3"}


def test_invalid_keys_then_valid(world: World) -> None:
    callback = world.callback(citizens.wrong_keys_then_valid(keys="1111111", wrong="7", times=2))
    world.dial_round()
    callback = world.reload(callback)
    assert callback.outcome == "complete" and set(world.answers(callback).values()) == {"1"}
    invalid = world.session.scalars(select(TranscriptEvent).where(
        TranscriptEvent.callback_id == callback.id, TranscriptEvent.text.contains("无效"))).all()
    assert len(invalid) >= 2 * 7 and any("按键无效" in t for t in world.provider.calls()[0].heard())


class SilentAtFirstItem:
    """Consents, then stays silent at every prompt of item 1, then presses 1."""

    def __init__(self) -> None:
        self.gathers = 0

    def heard(self, text: str) -> None:
        pass

    def gather(self, context: GatherContext) -> Input:
        self.gathers += 1
        if "speech" in context.inputs and "dtmf" not in context.inputs:
            return Input("silence")
        return Input("silence") if 2 <= self.gathers <= 4 else Input("dtmf", digits="1")

    def record(self, context: RecordContext) -> Input:
        return Input("silence")


def test_silence_reprompts_twice_then_moves_on(world: World) -> None:
    callback = world.callback(citizens.answers_all())
    world.provider.attach_agent(world.phone(callback), SilentAtFirstItem)
    world.dial_round()
    callback = world.reload(callback)
    assert callback.outcome == "partial" and "attitude" not in world.answers(callback)
    assert len(world.answers(callback)) == 5
    heard = world.provider.calls()[0].heard()
    assert sum("没有收到您的按键" in h for h in heard) == 2 and any("跳过" in h for h in heard)


def test_silent_citizen_never_consents(world: World) -> None:
    callback = world.callback(citizens.silent())
    world.dial_round()
    assert world.reload(callback).outcome == "refused"


def test_no_answer_three_times_hands_off_to_sms(world: World) -> None:
    callback = world.callback(citizens.no_answer())
    world.run_until_settled()
    callback = world.reload(callback)
    assert (callback.state, callback.outcome, callback.attempts_used) == ("sms", "no_answer", 3)
    attempts = world.session.scalars(select(Attempt).where(Attempt.callback_id == callback.id)
                                     .order_by(Attempt.id)).all()
    assert [a.disposition for a in attempts] == ["no_answer"] * 3
    gaps = [b.created_at - a.created_at for a, b in zip(attempts, attempts[1:], strict=False)]
    assert all(gap >= timedelta(minutes=120) for gap in gaps)
    assert len(world.provider.calls(world.phone(callback))) == 3  # dialed exactly once per attempt
    assert world.provider.outbox == []  # the SMS itself is the SMS service's job


def test_landline_unreached_ends_unreachable(world: World) -> None:
    callback = world.callback(citizens.busy(), kind="landline")
    world.run_until_settled()
    callback = world.reload(callback)
    assert (callback.state, callback.outcome, callback.attempts_used) == ("unreachable", "busy", 3)


def test_busy_once_then_answers_on_the_second_attempt(world: World) -> None:
    callback = world.callback(citizens.busy(times=1))
    world.run_until_settled()
    callback = world.reload(callback)
    assert (callback.outcome, callback.attempts_used) == ("complete", 2)


def test_voicemail_is_retried_and_never_surveyed(world: World) -> None:
    callback = world.callback(citizens.voicemail())
    world.run_until_settled()
    callback = world.reload(callback)
    assert (callback.state, callback.outcome) == ("sms", "machine") and world.answers(callback) == {}


def test_provider_refusal_does_not_use_an_attempt(world: World) -> None:
    callback = world.callback(citizens.provider_error(times=1))
    world.run_until_settled()
    callback = world.reload(callback)
    assert (callback.outcome, callback.attempts_used) == ("complete", 1)
    assert len(world.provider.calls(world.phone(callback))) == 1


def test_opt_out_key_is_final(world: World) -> None:
    callback = world.callback(citizens.opt_out())
    world.dial_round()
    callback = world.reload(callback)
    assert callback.state == callback.outcome == "opted_out"
    contact = world.session.get(Contact, callback.contact_id)
    assert contact.opted_out_at is not None
    # A later callback for the same number is never dialed.
    again, _ = make_callback(world.session, state="drawn", attempt=False, phone=contact.phone,
                             next_action_at=world.clock.now())
    assert world.dial_round() == ["opted_out"]
    assert len(world.provider.calls(contact.phone)) == 1


def signed_post(world: World, url: str, form: dict[str, str], headers: dict[str, str] | None = None,
                auth: str = AUTH) -> requests.Response:
    signature = sign_request(url, form, auth)
    return requests.post(url, data=form, headers={"X-Twilio-Signature": signature, **(headers or {})}, timeout=10)


def test_duplicate_and_out_of_order_status_callbacks_change_nothing(world: World) -> None:
    callback = world.callback(citizens.no_answer(times=1))
    world.dial_round()
    callback = world.reload(callback)
    attempt = world.session.scalars(select(Attempt).where(Attempt.callback_id == callback.id)).one()
    before = (callback.state, callback.next_action_at, callback.attempts_used,
              count(world.session, TranscriptEvent), count(world.session, WebhookReceipt))
    url = f"{world.server.url}/ivr/{callback.token}/status?a={attempt.id}"
    sequence = attempt.last_sequence
    base = {"CallSid": attempt.provider_call_id, "AccountSid": "AC" + "0" * 32}
    replays = [
        {**base, "CallStatus": "no-answer", "SequenceNumber": str(sequence)},  # the same one again
        {**base, "CallStatus": "in-progress", "SequenceNumber": str(sequence - 1)},  # late, older, never seen
        {**base, "CallStatus": "ringing", "SequenceNumber": str(sequence + 5)},  # after the end: ignored
    ]
    threads = [threading.Thread(target=signed_post, args=(world, url, form)) for form in replays * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    callback = world.reload(callback)
    after = (callback.state, callback.next_action_at, callback.attempts_used,
             count(world.session, TranscriptEvent))
    assert after == before[:4]
    assert world.session.get(Attempt, attempt.id).status == "no-answer"
    assert count(world.session, WebhookReceipt) == before[4] + 2  # the two never-seen ones, once each


def test_forged_signature_is_refused_and_nothing_is_stored(world: World) -> None:
    callback = world.callback(citizens.answers_all())
    world.dial_round()
    callback = world.reload(callback)
    attempt = world.session.scalars(select(Attempt).where(Attempt.callback_id == callback.id)).one()
    before = (count(world.session, TranscriptEvent), count(world.session, WebhookReceipt),
              count(world.session, Answer), callback.state, callback.outcome)
    base = {"CallSid": attempt.provider_call_id, "AccountSid": "AC" + "0" * 32}
    urls = [
        (f"{world.server.url}/ivr/{callback.token}/status?a={attempt.id}", {**base, "CallStatus": "busy"}),
        (f"{world.server.url}/ivr/{callback.token}/item/attitude?a={attempt.id}", {**base, "Digits": "3"}),
        (f"{world.server.url}/ivr/{callback.token}/consent?a={attempt.id}", {**base, "Digits": "9"}),
    ]
    for url, form in urls:
        assert signed_post(world, url, form, auth="not-the-auth-token").status_code == 403
        assert requests.post(url, data=form, timeout=10).status_code == 403
    callback = world.reload(callback)
    after = (count(world.session, TranscriptEvent), count(world.session, WebhookReceipt),
             count(world.session, Answer), callback.state, callback.outcome)
    assert after == before and world.session.get(Contact, callback.contact_id).opted_out_at is None


def test_a_mixed_batch_runs_concurrently(world: World) -> None:
    behaviours = [citizens.answers_all(), citizens.hangs_up_after(3), citizens.no_answer(times=1),
                  citizens.opt_out(), citizens.voicemail(), citizens.wrong_keys_then_valid()]
    made = [world.callback(b) for b in behaviours]
    world.run_until_settled()
    outcomes = [world.reload(c).outcome for c in made]
    assert outcomes == ["complete", "partial", "complete", "opted_out", "machine", "complete"]
    for callback in made:
        attempts = world.reload(callback).attempts_used
        assert len(world.provider.calls(world.phone(callback))) == attempts
