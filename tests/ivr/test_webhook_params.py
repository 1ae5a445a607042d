"""Whole-number parameters of signed webhooks (docs/architecture.md §Privacy and security): a value that is
not 1–18 ASCII digits is refused with 400 — never read as another number, never an overflow or a ValueError
turned into a 500."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from ivr.params import MAX_DIGITS
from tests.ivr.ivr_support import BASE, Caller, make_callback
from tests.ivr.sms_support import status as sms_status

BAD = [
    "9" * (MAX_DIGITS + 1),  # past 2**63: an integer column overflows on PostgreSQL
    "1" * 5000,  # past Python's 4,300-digit int() limit
    "%EF%BC%91%EF%BC%92",  # full-width １２, which int() reads as 12
    "%C2%B2",  # ², which str.isdigit() accepts and int() refuses
    "-1",
    "1e3",
    "abc",
    "+7",
    "%201",
]


@pytest.fixture
def caller(app: Flask, db: Session) -> Caller:
    callback, attempt = make_callback(db)
    return Caller(app.test_client(), callback, attempt)


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("name", ["a", "n", "r"])
def test_a_voice_turn_with_a_bad_number_is_400(caller: Caller, name: str, value: str) -> None:
    url = f"{BASE}/ivr/{caller.callback.token}/consent?a={caller.attempt.id}&n=0&r=0"
    url = url.replace(f"{name}={caller.attempt.id if name == 'a' else 0}", f"{name}={value}", 1)
    assert caller.post(url, Digits="1").status_code == 400
    assert caller.post(url, Digits="1", sign=False).status_code == 403  # the signature is still checked first


@pytest.mark.parametrize("value", BAD)
def test_a_status_callback_with_a_bad_attempt_is_400(caller: Caller, value: str) -> None:
    url = f"{BASE}/ivr/{caller.callback.token}/status?a={value}"
    assert caller.post(url, CallStatus="completed").status_code == 400


@pytest.mark.parametrize("field", ["SequenceNumber", "CallDuration"])
def test_a_status_callback_with_a_bad_counter_is_400(caller: Caller, field: str) -> None:
    assert caller.post(caller.status_url(), CallStatus="completed", **{field: "9" * 30}).status_code == 400


def test_a_recording_with_a_bad_duration_is_400(caller: Caller) -> None:
    url = f"{BASE}/ivr/{caller.callback.token}/recording?a={caller.attempt.id}"
    assert caller.post(url, RecordingUrl="https://api.twilio.com/rec", RecordingDuration="9" * 30).status_code == 400


def test_good_numbers_still_work(caller: Caller) -> None:
    twiml = caller.answer()
    assert caller.press(twiml, "1").gather is not None
    assert caller.status("completed", seq=3, CallDuration="42").status_code == 204


@pytest.mark.parametrize("value", BAD)
def test_an_sms_status_with_a_bad_message_is_400(app: Flask, value: str) -> None:
    client = app.test_client()
    assert sms_status(client, value, "SM" + "0" * 32, "delivered") == 400  # type: ignore[arg-type]
    assert sms_status(client, 12, "SM" + "0" * 32, "delivered") == 204  # an unknown message is no error
    assert sms_status(client, None, "SM" + "0" * 32, "delivered") == 204
