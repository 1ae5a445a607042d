"""The telephony port's own test double: MockProvider sends every request to its handler (httpx's MockTransport)."""

from __future__ import annotations

import pytest

from callback.telephony import (
    CallRequest,
    CallStatus,
    FetchCall,
    MockProvider,
    PlacedCall,
    Provider,
    ProviderError,
    SentSms,
    SmsRequest,
)

CALL = CallRequest(to="+8613800138000", from_="+861080000000", url="https://h/ivr/t/answer",
                   status_callback="https://h/ivr/t/status")
TEXT = SmsRequest(to="+8613800138000", from_="+861080000000", body="您好", status_callback="https://h/sms/status")


def test_without_a_handler_everything_is_accepted_and_recorded() -> None:
    provider = MockProvider()
    assert isinstance(provider, Provider)
    placed, sent = provider.place_call(CALL), provider.send_sms(TEXT)
    assert placed.status == "queued" and placed.sid.startswith("CA")
    assert sent.sid.startswith("SM") and sent.sid != placed.sid
    assert provider.fetch_call(placed.sid) == CallStatus(sid=placed.sid, status="completed", duration=0)
    assert provider.calls() == [CALL] and provider.texts() == [TEXT]
    assert provider.requests == [CALL, TEXT, FetchCall(placed.sid)]


def test_the_handler_decides_each_answer() -> None:
    def handler(request: object) -> object:
        if isinstance(request, CallRequest):
            raise ProviderError("号码不可用", transient=False, code="21211")
        return SentSms(sid="SM1", status="sent")

    provider = MockProvider(handler)
    with pytest.raises(ProviderError) as refused:
        provider.place_call(CALL)
    assert refused.value.transient is False and refused.value.code == "21211"
    assert provider.send_sms(TEXT) == SentSms(sid="SM1", status="sent")
    assert provider.requests == [CALL, TEXT]


def test_a_handler_answering_the_wrong_kind_is_a_bug_not_an_answer() -> None:
    provider = MockProvider(lambda request: PlacedCall(sid="CA1", status="queued"))
    with pytest.raises(TypeError, match="SmsRequest"):
        provider.send_sms(TEXT)
