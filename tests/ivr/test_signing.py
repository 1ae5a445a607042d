"""ivr/signing.py wraps the twilio library's RequestValidator: what it signs, RequestValidator accepts, and the
other way round; repeated parameters (StatusCallbackEvent) and GET query strings are covered by the signature."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from ivr.signing import is_valid_request, sign_request

TOKEN = "12345"
URL = "https://hall.example.cn/ivr/status?hall=DEMO"
PARAMS = {"CallSid": "CA" + "1" * 32, "CallStatus": "ringing", "Digits": "1"}


def test_signature_is_what_twilios_validator_accepts() -> None:
    signature = sign_request(URL, PARAMS, TOKEN)
    assert RequestValidator(TOKEN).validate(URL, PARAMS, signature)
    assert is_valid_request(URL, PARAMS, signature, TOKEN)


def test_known_vector_from_twilios_documentation() -> None:
    # The fixture Twilio's SDK test suites sign (twilio-node: token 12345) - not produced by this code.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    assert sign_request(url, params, TOKEN) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


@pytest.mark.parametrize(
    ("url", "params", "token"),
    [
        ("https://hall.example.cn/ivr/status?hall=OTHER", PARAMS, TOKEN),  # another URL
        (URL, PARAMS | {"Digits": "9"}, TOKEN),  # a changed parameter
        (URL, PARAMS | {"Extra": "x"}, TOKEN),  # an added parameter
        (URL, PARAMS, "54321"),  # another auth token
    ],
)
def test_anything_changed_fails(url: str, params: dict[str, str], token: str) -> None:
    assert not is_valid_request(url, params, sign_request(URL, PARAMS, TOKEN), token)


@pytest.mark.parametrize("signature", [None, "", "not-base64"])
def test_missing_or_garbage_signature_fails(signature: str | None) -> None:
    assert not is_valid_request(URL, PARAMS, signature, TOKEN)


def test_repeated_parameters_sign_every_value() -> None:
    events = {"StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"]}
    signature = sign_request(URL, events, TOKEN)
    form = MultiDict([("StatusCallbackEvent", e) for e in events["StatusCallbackEvent"]])
    assert is_valid_request(URL, form, signature, TOKEN)
    assert not is_valid_request(URL, {"StatusCallbackEvent": ["initiated"]}, signature, TOKEN)


def test_get_signs_the_url_with_its_query_alone() -> None:
    url = "http://127.0.0.1:5000/ivr/voice?CallSid=CA1&Digits=2"
    assert is_valid_request(url, {}, sign_request(url, None, TOKEN), TOKEN)
    assert not is_valid_request(
        url.replace("Digits=2", "Digits=3"), {}, sign_request(url, None, TOKEN), TOKEN
    )


def test_default_port_may_be_present_or_absent() -> None:
    signature = sign_request("https://hall.example.cn/ivr/voice", PARAMS, TOKEN)
    assert is_valid_request("https://hall.example.cn:443/ivr/voice", PARAMS, signature, TOKEN)
