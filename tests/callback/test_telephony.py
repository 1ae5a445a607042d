"""The telephony port's own test double: MockProvider sends every request to its handler (httpx's MockTransport)."""

from __future__ import annotations

import re

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
    assert placed.status == sent.status == "queued"
    assert re.fullmatch("CA[0-9]{32}", placed.sid) and re.fullmatch("SM[0-9]{32}", sent.sid)
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
    assert provider.calls() == [] and provider.texts() == [TEXT]  # the refused call never reached anyone


def test_a_handler_answering_the_wrong_kind_is_a_bug_not_an_answer() -> None:
    provider = MockProvider(lambda request: PlacedCall(sid="CA1", status="queued"))
    with pytest.raises(TypeError, match="SmsRequest"):
        provider.send_sms(TEXT)


def test_a_handler_that_returns_nothing_only_watches() -> None:
    seen: list[object] = []
    provider = MockProvider(seen.append)
    assert provider.place_call(CALL).status == "queued"
    assert provider.fetch_call("CA1").status == "completed"
    assert seen == [CALL, FetchCall("CA1")] and provider.calls() == [CALL]


def test_a_handler_may_raise_anything_to_play_a_dying_worker() -> None:
    def dies(request: object) -> None:
        raise RuntimeError("worker killed while the provider was on the line")

    provider = MockProvider(dies)
    with pytest.raises(RuntimeError):
        provider.send_sms(TEXT)
    assert provider.requests == [TEXT] and provider.texts() == []


def test_fail_next_refuses_the_next_sends_in_order_then_accepts() -> None:
    busy, invalid = ProviderError("carrier busy", code="20429"), ProviderError("invalid", transient=False)
    seen: list[object] = []
    provider = MockProvider(seen.append).fail_next(busy, invalid)
    with pytest.raises(ProviderError) as first:
        provider.send_sms(TEXT)
    assert provider.fetch_call("CA9").status == "completed"  # a fetch is not a send: not refused
    with pytest.raises(ProviderError) as second:
        provider.place_call(CALL)
    assert (first.value, second.value) == (busy, invalid)
    assert provider.send_sms(TEXT).status == "queued"
    assert seen == [FetchCall("CA9"), TEXT]  # refused sends never reach the handler
    assert provider.requests == [TEXT, FetchCall("CA9"), CALL, TEXT]
    assert provider.texts() == [TEXT] and provider.calls() == []


def test_no_two_providers_give_the_same_sid() -> None:
    """Tests that share a database (messages.provider_sid is unique) may each use their own provider."""
    first, second = MockProvider(), MockProvider()
    sids = [p.send_sms(TEXT).sid for p in (first, second, first)] + [p.place_call(CALL).sid for p in (first, second)]
    assert len(set(sids)) == len(sids)
