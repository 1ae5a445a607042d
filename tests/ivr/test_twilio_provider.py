"""TwilioProvider against a local Twilio-compatible endpoint (fake_twilio) through TWILIO_API_URL: the exact REST
parameters, the auth header, the path kept while only scheme and host change, and the error mapping."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from twilio.base.exceptions import TwilioRestException

from callback.config import Settings
from callback.telephony import CallRequest, ProviderError, SmsRequest
from ivr.provider import get_provider
from ivr.twilio_provider import TwilioHttpClient, TwilioProvider, provider_error, rebase_url
from tests.ivr.fake_twilio import FakeTwilio

TO = "+8613812345678"
FROM = "+861080000000"
CALL = CallRequest(
    to=TO,
    from_=FROM,
    url="https://hall.example.cn/ivr/voice/k3Xq",
    status_callback="https://hall.example.cn/ivr/status",
    timeout_seconds=25,
)
SMS = SmsRequest(
    to=TO,
    from_=FROM,
    body="您好，政务服务中心回访：请回复6位数字评价。回复TD退订",
    status_callback="https://hall.example.cn/sms/status",
)


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def provider(fake: FakeTwilio) -> TwilioProvider:
    return TwilioProvider(fake.account_sid, fake.auth_token, api_url=fake.url, http_timeout=5)


def test_place_call_sends_exactly_the_documented_parameters(
    provider: TwilioProvider, fake: FakeTwilio
) -> None:
    placed = provider.place_call(CALL)

    (sent,) = fake.requests
    assert sent.method == "POST"
    assert sent.path == f"/2010-04-01/Accounts/{fake.account_sid}/Calls.json"
    assert sent.form == {
        "To": [TO],
        "From": [FROM],
        "Url": [CALL.url],
        "Method": ["POST"],
        "StatusCallback": [CALL.status_callback],
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "StatusCallbackMethod": ["POST"],
        "MachineDetection": ["Enable"],
        "Timeout": ["25"],
    }
    assert placed.sid in fake.calls and placed.sid.startswith("CA") and len(placed.sid) == 34
    assert placed.status == "queued"


def test_requests_carry_basic_auth_and_twilio_headers(provider: TwilioProvider, fake: FakeTwilio) -> None:
    provider.place_call(CALL)

    sent = fake.requests[0]
    assert sent.basic_auth == (fake.account_sid, fake.auth_token)
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["User-Agent"].startswith("twilio-python/")


def test_machine_detection_off_sends_no_parameter(provider: TwilioProvider, fake: FakeTwilio) -> None:
    provider.place_call(
        CallRequest(
            to=TO, from_=FROM, url=CALL.url, status_callback=CALL.status_callback, machine_detection=False
        )
    )

    assert "MachineDetection" not in fake.requests[0].form
    assert fake.requests[0].one("Timeout") == "30"


def test_send_sms_parameters_and_segments(provider: TwilioProvider, fake: FakeTwilio) -> None:
    sent = provider.send_sms(SMS)

    (request,) = fake.requests
    assert request.path == f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    assert request.form == {
        "To": [TO],
        "From": [FROM],
        "Body": [SMS.body],
        "StatusCallback": [SMS.status_callback],
    }
    assert sent.sid in fake.messages and sent.sid.startswith("SM")
    assert (sent.status, sent.segments) == ("queued", 1)


def test_long_chinese_sms_counts_segments_as_twilio_reports(
    provider: TwilioProvider, fake: FakeTwilio
) -> None:
    body = "请" * 71  # one over the 70-character UCS-2 segment
    assert provider.send_sms(SmsRequest(to=TO, from_=FROM, body=body, status_callback="")).segments == 2
    assert "StatusCallback" not in fake.requests[0].form  # no callback: the parameter is left out, not empty


def test_call_without_status_callback_sends_no_callback_parameters(
    provider: TwilioProvider, fake: FakeTwilio
) -> None:
    provider.place_call(CallRequest(to=TO, from_=FROM, url=CALL.url, status_callback=""))
    form = fake.requests[0].form
    assert not {"StatusCallback", "StatusCallbackEvent", "StatusCallbackMethod"} & form.keys()


def test_fetch_call_reads_status_duration_and_answered_by(provider: TwilioProvider, fake: FakeTwilio) -> None:
    sid = provider.place_call(CALL).sid
    fake.set_call(sid, status="completed", duration="47", answered_by="human")

    status = provider.fetch_call(sid)

    assert (status.sid, status.status, status.duration, status.answered_by) == (sid, "completed", 47, "human")
    assert fake.requests[-1].method == "GET"
    assert fake.requests[-1].path == f"/2010-04-01/Accounts/{fake.account_sid}/Calls/{sid}.json"


def test_fetch_call_before_answer_has_no_duration(provider: TwilioProvider) -> None:
    sid = provider.place_call(CALL).sid
    status = provider.fetch_call(sid)
    assert (status.status, status.duration, status.answered_by) == ("queued", None, None)


def test_fetch_unknown_call_is_permanent(provider: TwilioProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        provider.fetch_call("CA" + "0" * 32)
    assert (caught.value.transient, caught.value.code) == (False, "20404")


def test_invalid_number_is_permanent_and_masked(provider: TwilioProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        provider.place_call(CallRequest(to="13812345678", from_=FROM, url=CALL.url, status_callback=""))
    assert caught.value.transient is False
    assert caught.value.code == "21211"
    assert "13812345678" not in str(caught.value) and "138****5678" in str(caught.value)


def test_invalid_sms_number_is_permanent(provider: TwilioProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        provider.send_sms(SmsRequest(to="not-a-number", from_=FROM, body="x", status_callback=""))
    assert (caught.value.transient, caught.value.code) == (False, "21211")


@pytest.mark.parametrize(
    ("status", "code", "transient"),
    [
        (500, 20500, True),
        (503, 20503, True),
        (429, 20429, True),
        (401, 20003, True),
        (400, 21214, False),
        (404, 20404, False),
    ],
)
def test_http_errors_map_to_transient_or_permanent(
    provider: TwilioProvider, fake: FakeTwilio, status: int, code: int, transient: bool
) -> None:
    fake.fail_next(status, code)
    with pytest.raises(ProviderError) as caught:
        provider.place_call(CALL)
    assert (caught.value.transient, caught.value.code) == (transient, str(code))
    assert fake.calls == {}


def test_wrong_credentials_are_refused_by_the_endpoint(fake: FakeTwilio) -> None:
    provider = TwilioProvider(fake.account_sid, "wrong-token", api_url=fake.url)
    with pytest.raises(ProviderError) as caught:
        provider.place_call(CALL)
    assert (caught.value.transient, caught.value.code) == (True, "20003")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_is_transient() -> None:
    provider = TwilioProvider(
        "AC" + "1" * 32, "token", api_url=f"http://127.0.0.1:{_closed_port()}", http_timeout=2
    )
    with pytest.raises(ProviderError) as caught:
        provider.send_sms(SMS)
    assert (caught.value.transient, caught.value.code) == (True, "connection")


def test_a_failed_send_is_not_retried(provider: TwilioProvider, fake: FakeTwilio) -> None:
    fake.fail_next(503)
    with pytest.raises(ProviderError):
        provider.send_sms(SMS)
    assert len(fake.posted("Messages.json")) == 1


def test_fetch_recording_uses_basic_auth_and_keeps_bytes(provider: TwilioProvider, fake: FakeTwilio) -> None:
    audio = b"RIFF\x00\x01\x02\xffWAVE"
    url = fake.add_recording(audio)

    recording = provider.fetch_recording(url)

    assert (recording.data, recording.content_type, recording.url) == (audio, "audio/x-wav", url)
    assert fake.requests[-1].basic_auth == (fake.account_sid, fake.auth_token)
    assert fake.requests[-1].path == url.removeprefix("https://api.twilio.com")


def test_fetch_recording_mp3(provider: TwilioProvider, fake: FakeTwilio) -> None:
    url = fake.add_recording(b"ID3")
    assert provider.fetch_recording(url + ".mp3").content_type == "audio/mpeg"


def test_fetch_missing_recording_is_permanent(provider: TwilioProvider, fake: FakeTwilio) -> None:
    with pytest.raises(ProviderError) as caught:
        provider.fetch_recording(
            f"https://api.twilio.com/2010-04-01/Accounts/{fake.account_sid}/Recordings/RE00"
        )
    assert (caught.value.transient, caught.value.code) == (False, "404")


def test_credentials_are_never_sent_to_a_foreign_host(provider: TwilioProvider, fake: FakeTwilio) -> None:
    with pytest.raises(ProviderError) as caught:
        provider.fetch_recording("https://evil.example.com/2010-04-01/Accounts/AC/Recordings/RE1")
    assert caught.value.transient is False
    assert fake.requests == []


def test_rebase_keeps_path_and_query() -> None:
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json?PageSize=50"
    assert (
        rebase_url(url, "http://127.0.0.1:9999")
        == "http://127.0.0.1:9999/2010-04-01/Accounts/AC1/Calls.json?PageSize=50"
    )


def test_api_url_with_a_path_is_rejected() -> None:
    with pytest.raises(ValueError):
        TwilioProvider("AC1", "t", api_url="http://127.0.0.1:9999/twilio")


def test_unset_api_url_leaves_the_twilio_client_unchanged() -> None:
    provider = TwilioProvider("AC" + "1" * 32, "token")
    assert type(provider.client.http_client) is TwilioHttpClient


def test_get_provider_builds_twilio_from_settings(fake: FakeTwilio) -> None:
    settings = Settings(
        telephony="twilio",
        twilio_account_sid=fake.account_sid,
        twilio_auth_token=fake.auth_token,
        twilio_api_url=fake.url,
    )
    provider = get_provider(settings)
    assert isinstance(provider, TwilioProvider) and provider.name == "twilio"
    assert provider.place_call(CALL).sid in fake.calls


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Invalid 'To' Phone Number: +8613812345678", "Invalid 'To' Phone Number: 138****5678"),
        ("The number +86 138 1234 5678 is unreachable", "The number 138****5678 is unreachable"),
        ("landline +861088886666", "landline 010****6666"),
        ("error 21211", "error 21211"),
    ],
)
def test_error_messages_never_carry_a_whole_number(text: str, expected: str) -> None:
    assert str(provider_error(TwilioRestException(400, "/Calls", msg=text))) == f"HTTP 400: {expected}"
    assert str(provider_error(ValueError(text))) == f"Twilio client error: {expected}"
