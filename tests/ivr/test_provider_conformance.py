"""One suite, both providers (as httpx's transports share one): whatever the dialer, the status handler and the
SMS service rely on behaves the same on the simulator and on Twilio (against the local fake_twilio endpoint).
A third provider (a domestic carrier) should be added to `PROVIDERS` and pass unchanged."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from twilio.twiml.voice_response import VoiceResponse

from callback.config import Settings
from callback.telephony import (
    CallRequest,
    CallStatus,
    PlacedCall,
    Provider,
    ProviderError,
    SentSms,
    SmsRequest,
)
from ivr.provider import get_provider
from ivr.simulator import SimulatorProvider, citizens
from ivr.simulator.state import tone_wav
from ivr.twilio_provider import TwilioProvider
from tests.ivr.fake_twilio import FakeTwilio
from tests.ivr.twiml_server import TwimlServer

TOKEN = "conformance-token"
PHONE = "+8613800000077"
OURS = "+861080000000"
CALL_STATUSES = {"queued", "ringing", "in-progress", "completed", "busy", "no-answer", "failed", "canceled"}
SID = {"call": re.compile(r"^CA[0-9a-f]{32}$"), "sms": re.compile(r"^SM[0-9a-f]{32}$")}


@dataclass
class Env:
    provider: Provider
    server: TwimlServer
    settle: Callable[[], None]  # let everything started so far run to its end
    hang_up: Callable[[str], None]  # the far end finishes the call
    make_recording: Callable[[], str]  # a recording URL this provider can fetch

    def call_request(self, to: str = PHONE) -> CallRequest:
        return CallRequest(
            to, OURS, self.server.url_for("/voice"), self.server.url_for("/status"), timeout_seconds=20
        )

    def sms_request(self, body: str = "请回复6位数字评价，回复TD退订", to: str = PHONE) -> SmsRequest:
        return SmsRequest(to, OURS, body, self.server.url_for("/sms/status"))


def _simulator(server: TwimlServer, tmp_path: Path) -> Iterator[Env]:
    provider = SimulatorProvider(
        auth_token=TOKEN, public_base_url=server.url, state_dir=tmp_path, start_delay=0
    )
    provider.script(PHONE, citizens.answers_all("1", record_seconds=2))
    response = VoiceResponse()
    response.record(max_length=10, action="/recorded")
    server.twiml("/voice", response)
    server.twiml("/recorded", VoiceResponse())

    def make_recording() -> str:
        provider.place_call(CallRequest(PHONE, OURS, server.url_for("/voice"), server.url_for("/status")))
        provider.wait_idle(20)
        return server.hits_to("/recorded")[-1].form["RecordingUrl"]

    yield Env(
        provider, server, lambda: provider.wait_idle(20), lambda sid: provider.wait_idle(20), make_recording
    )
    assert provider.wait_idle(20)


def _twilio(server: TwimlServer, tmp_path: Path) -> Iterator[Env]:
    with FakeTwilio(auth_token=TOKEN) as fake:
        provider = TwilioProvider(fake.account_sid, fake.auth_token, api_url=fake.url, http_timeout=5)

        def hang_up(sid: str) -> None:
            fake.set_call(sid, status="completed", duration="2", answered_by="human")

        yield Env(provider, server, lambda: None, hang_up, lambda: fake.add_recording(tone_wav(2)))


PROVIDERS = {"simulator": _simulator, "twilio": _twilio}


@pytest.fixture(params=sorted(PROVIDERS))
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    with TwimlServer(TOKEN) as server:
        yield from PROVIDERS[request.param](server, tmp_path)


def test_is_a_provider_with_a_name(env: Env) -> None:
    assert isinstance(env.provider, Provider)
    assert env.provider.name in ("simulator", "twilio")


def test_place_call_returns_a_call_sid_queued(env: Env) -> None:
    placed = env.provider.place_call(env.call_request())
    assert isinstance(placed, PlacedCall)
    assert SID["call"].match(placed.sid) and placed.status == "queued"


def test_every_call_gets_its_own_sid(env: Env) -> None:
    sids = {env.provider.place_call(env.call_request()).sid for _ in range(3)}
    assert len(sids) == 3


def test_fetch_call_right_after_placing(env: Env) -> None:
    sid = env.provider.place_call(env.call_request()).sid
    status = env.provider.fetch_call(sid)
    assert isinstance(status, CallStatus) and status.sid == sid and status.status in CALL_STATUSES


def test_fetch_call_after_it_ended(env: Env) -> None:
    sid = env.provider.place_call(env.call_request()).sid
    env.hang_up(sid)
    status = env.provider.fetch_call(sid)
    assert (status.status, status.answered_by) == ("completed", "human")
    assert isinstance(status.duration, int) and status.duration > 0


def test_send_sms_returns_a_message_sid_queued(env: Env) -> None:
    sent = env.provider.send_sms(env.sms_request())
    assert isinstance(sent, SentSms)
    assert SID["sms"].match(sent.sid) and (sent.status, sent.segments) == ("queued", 1)
    env.settle()


@pytest.mark.parametrize(
    ("body", "segments"), [("满" * 70, 1), ("满" * 71, 2), ("a" * 160, 1), ("a" * 161, 2)]
)
def test_sms_segments_are_counted_alike(env: Env, body: str, segments: int) -> None:
    assert env.provider.send_sms(env.sms_request(body)).segments == segments
    env.settle()


@pytest.mark.parametrize("number", ["13800000077", "+86 138 0000 0077", "not a number", ""])
def test_invalid_number_is_a_permanent_provider_error(env: Env, number: str) -> None:
    for send in (
        lambda: env.provider.place_call(env.call_request(number)),
        lambda: env.provider.send_sms(env.sms_request(to=number)),
    ):
        with pytest.raises(ProviderError) as caught:
            send()
        assert (caught.value.transient, caught.value.code) == (False, "21211")
        assert "13800000077" not in str(caught.value) and "138 0000 0077" not in str(caught.value)


def test_fetch_unknown_call_is_a_permanent_provider_error(env: Env) -> None:
    with pytest.raises(ProviderError) as caught:
        env.provider.fetch_call("CA" + "0" * 32)
    assert caught.value.transient is False


def test_fetch_recording(env: Env) -> None:
    url = env.make_recording()
    recording = env.provider.fetch_recording(url)
    assert recording.url == url and recording.content_type == "audio/x-wav"
    assert recording.data[:4] == b"RIFF" and recording.data[8:12] == b"WAVE"


def test_fetch_unknown_recording_is_a_permanent_provider_error(env: Env) -> None:
    url = env.make_recording()
    with pytest.raises(ProviderError) as caught:
        env.provider.fetch_recording(url[:-6] + "000000")
    assert caught.value.transient is False


def test_delete_recording_removes_it_for_good_and_may_run_again(env: Env) -> None:
    url = env.make_recording()
    env.provider.delete_recording(url)
    with pytest.raises(ProviderError) as caught:
        env.provider.fetch_recording(url)
    assert caught.value.transient is False
    env.provider.delete_recording(url)  # already gone: not an error (an interrupted purge runs again)


@pytest.mark.parametrize("kind", ["simulator", "twilio"])
def test_get_provider_chooses_by_telephony(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIMULATOR_CITIZENS", str(tmp_path / "citizens.json"))
    provider = get_provider(Settings(telephony=kind))
    assert provider.name == kind and isinstance(provider, Provider)


def test_unknown_telephony_is_refused() -> None:
    with pytest.raises(ValueError):
        get_provider(Settings(telephony="pbx"))
