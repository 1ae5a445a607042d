"""The simulator plays Twilio's part over real HTTP: tested against a tiny Flask app on a loopback port that serves
canned TwiML (built with the twilio library) and checks every signature, so what is asserted here is what the
simulator actually posted."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time
import wave
from collections import Counter
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from callback.config import Settings
from callback.telephony import CallRequest, Provider, ProviderError, SmsRequest
from ivr.provider import get_provider
from ivr.simulator import Citizen, CitizenRegistry, SimulatorProvider, citizens, default_citizen
from ivr.simulator.agents import GatherContext, Input, RecordContext
from tests.ivr.twiml_server import TwimlServer

TOKEN = "simulator-test-token"
PHONE = "+8613800000001"
OURS = "+861080000000"
STANDARD = {
    "AccountSid",
    "ApiVersion",
    "CallSid",
    "CallStatus",
    "Called",
    "Caller",
    "Direction",
    "From",
    "To",
}


@pytest.fixture
def server() -> Iterator[TwimlServer]:
    with TwimlServer(TOKEN) as app:
        yield app


@pytest.fixture
def provider(server: TwimlServer, tmp_path: Path) -> SimulatorProvider:
    return SimulatorProvider(
        auth_token=TOKEN, public_base_url=server.url, state_dir=tmp_path / "sim", start_delay=0
    )


def call(provider: SimulatorProvider, server: TwimlServer, phone: str = PHONE, **options: object) -> str:
    request = CallRequest(
        to=phone,
        from_=OURS,
        url=server.url_for("/voice"),
        status_callback=server.url_for("/status"),
        **options,
    )
    sid = provider.place_call(request).sid
    assert provider.wait_idle(20)
    return sid


def only(verb: str, *args: object, **kwargs: object) -> VoiceResponse:
    """A document with one verb (the library's verb methods return the verb, not the response)."""
    response = VoiceResponse()
    getattr(response, verb)(*args, **kwargs)
    return response


def only_message(text: str) -> MessagingResponse:
    response = MessagingResponse()
    response.message(text)
    return response


def survey(server: TwimlServer, items: int = 3) -> None:
    """Consent, `items` one-key items (each prompt nested in its Gather, a Redirect after it), a speech
    suggestion, a recording of it, thanks. Like the real flow, in miniature."""

    def step(n: int) -> VoiceResponse:
        response = VoiceResponse()
        gather = response.gather(num_digits=1, action=f"/answer/{n}", timeout=5)
        gather.say(f"第{n}题，满意请按1")
        response.redirect(f"/answer/{n}")
        return response

    def answer(n: int, form: dict[str, str]) -> VoiceResponse:
        if n < items:
            return step(n + 1)
        response = VoiceResponse()
        gather = response.gather(
            input="speech", language="cmn-Hans-CN", action="/speech", speech_timeout="auto"
        )
        gather.say("请说出您的意见和建议")
        response.redirect("/speech")
        return response

    def speech(form: dict[str, str]) -> VoiceResponse:
        response = VoiceResponse()
        response.record(max_length=30, timeout=3, action="/recorded", play_beep=True)
        response.say("没有录到声音")
        return response

    def done(form: dict[str, str]) -> VoiceResponse:
        response = VoiceResponse()
        response.say("感谢您的评价，再见")
        response.hangup()
        return response

    server.route("/voice", lambda form: step(0))
    for n in range(items + 1):
        server.route(f"/answer/{n}", lambda form, n=n: answer(n, form))
    server.route("/speech", speech)
    server.route("/recorded", done)


# -- the answered call ---------------------------------------------------------------------------------------


def test_answers_all_posts_digits_speech_and_recording_in_order(
    provider: SimulatorProvider, server: TwimlServer
):
    survey(server)
    provider.script(PHONE, citizens.answers_all("1231", speech="窗口态度很好"))

    sid = call(provider, server)

    posted = [
        (h.path, h.form.get("Digits"), h.form.get("SpeechResult")) for h in server.hits if h.path != "/status"
    ]
    assert posted == [
        ("/voice", None, None),
        ("/answer/0", "1", None),
        ("/answer/1", "2", None),
        ("/answer/2", "3", None),
        ("/answer/3", "1", None),
        ("/speech", None, "窗口态度很好"),
        ("/recorded", None, None),
    ]
    assert all(h.signed_ok for h in server.hits)
    assert provider.call(sid).pressed() == ["1", "2", "3", "1"]
    assert provider.call(sid).heard()[-1] == "感谢您的评价，再见"


def test_every_webhook_request_carries_twilios_standard_parameters(
    provider: SimulatorProvider, server: TwimlServer
):
    survey(server, items=1)
    provider.script(PHONE, citizens.answers_all())
    sid = call(provider, server)

    for hit in server.hits:
        assert STANDARD <= hit.form.keys()
        assert hit.form["CallSid"] == sid and hit.form["Direction"] == "outbound-api"
        assert (hit.form["To"], hit.form["From"], hit.form["ApiVersion"]) == (PHONE, OURS, "2010-04-01")
        assert hit.headers["User-Agent"].startswith("TwilioProxy")
        assert hit.headers["I-Twilio-Idempotency-Token"]
    voice = server.hits_to("/voice")[0].form
    assert (voice["CallStatus"], voice["AnsweredBy"]) == ("in-progress", "human")


def test_gather_action_carries_digits_and_finished_on_key(provider: SimulatorProvider, server: TwimlServer):
    survey(server, items=0)
    provider.script(PHONE, citizens.answers_all("1"))
    call(provider, server)
    form = server.hits_to("/answer/0")[0].form
    assert (form["Digits"], form["FinishedOnKey"]) == ("1", "")


def test_speech_result_and_confidence(provider: SimulatorProvider, server: TwimlServer):
    survey(server, items=0)
    provider.script(PHONE, citizens.speaks("工作人员让我去别的办公室", confidence=0.62))
    call(provider, server)
    form = server.hits_to("/speech")[0].form
    assert (form["SpeechResult"], form["Confidence"]) == ("工作人员让我去别的办公室", "0.62")
    assert "Digits" not in form


def test_record_posts_recording_and_the_wav_is_fetchable(provider: SimulatorProvider, server: TwimlServer):
    survey(server, items=0)
    provider.script(PHONE, citizens.answers_all(record_seconds=3))
    sid = call(provider, server)

    form = server.hits_to("/recorded")[0].form
    assert form["RecordingSid"].startswith("RE") and form["RecordingSid"] in form["RecordingUrl"]
    assert form["RecordingDuration"] == "3"
    recording = provider.fetch_recording(form["RecordingUrl"])
    with wave.open(io.BytesIO(recording.data)) as audio:
        assert audio.getnframes() / audio.getframerate() == 3
        assert (audio.getnchannels(), audio.getframerate()) == (1, 8000)
    assert recording.content_type == "audio/x-wav"
    assert [e.kind for e in provider.call_log(sid)].count("recorded") == 1


def test_record_max_length_caps_the_recording(provider: SimulatorProvider, server: TwimlServer):
    survey(server, items=0)
    server.twiml("/speech", only("record", max_length=2, action="/recorded"))
    provider.script(PHONE, citizens.answers_all(record_seconds=9))
    call(provider, server)
    assert server.hits_to("/recorded")[0].form["RecordingDuration"] == "2"


def test_fetch_recording_unknown_is_permanent(provider: SimulatorProvider):
    with pytest.raises(ProviderError) as caught:
        provider.fetch_recording(provider.recording_url("RE" + "0" * 32))
    assert caught.value.transient is False
    with pytest.raises(ProviderError):
        provider.fetch_recording("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1")


# -- status callbacks ----------------------------------------------------------------------------------------


def statuses(server: TwimlServer) -> list[str]:
    return [h.form["CallStatus"] for h in server.hits_to("/status")]


def test_answered_call_status_callbacks(provider: SimulatorProvider, server: TwimlServer):
    survey(server, items=2)
    provider.script(PHONE, citizens.answers_all())
    sid = call(provider, server)

    hits = server.hits_to("/status")
    assert statuses(server) == ["initiated", "ringing", "in-progress", "completed"]
    assert [h.form["SequenceNumber"] for h in hits] == ["0", "1", "2", "3"]
    times = [parsedate_to_datetime(h.form["Timestamp"]) for h in hits]
    assert times == sorted(times) and times[-1] > times[0]
    assert all(h.form["CallbackSource"] == "call-progress-events" for h in hits)
    assert "AnsweredBy" not in hits[0].form and hits[2].form["AnsweredBy"] == "human"
    completed = hits[-1].form
    assert int(completed["CallDuration"]) > 0 and completed["AnsweredBy"] == "human"
    assert provider.fetch_call(sid).status == "completed"
    assert provider.fetch_call(sid).duration == int(completed["CallDuration"])


@pytest.mark.parametrize(
    ("citizen", "expected"),
    [
        (citizens.no_answer(), ["initiated", "ringing", "no-answer"]),
        (citizens.busy(), ["initiated", "busy"]),
        (citizens.failed(), ["initiated", "failed"]),
        (citizens.replies_by_sms("111111"), ["initiated", "ringing", "no-answer"]),
    ],
)
def test_unanswered_calls_end_with_their_status_and_never_fetch_twiml(
    provider: SimulatorProvider, server: TwimlServer, citizen: Citizen, expected: list[str]
):
    survey(server)
    provider.script(PHONE, citizen)
    sid = call(provider, server)

    assert statuses(server) == expected
    assert server.hits_to("/voice") == []
    final = server.hits_to("/status")[-1].form
    assert final["CallDuration"] == "0" and "AnsweredBy" not in final
    assert provider.fetch_call(sid).status == expected[-1]


def test_no_answer_times_then_answers_on_a_later_attempt(provider: SimulatorProvider, server: TwimlServer):
    survey(server, items=0)
    provider.script(PHONE, citizens.no_answer(times=1))
    first, second = call(provider, server), call(provider, server)
    assert provider.fetch_call(first).status == "no-answer"
    assert provider.fetch_call(second).status == "completed"
    assert len(server.hits_to("/voice")) == 1


def test_voicemail_is_answered_by_a_machine(provider: SimulatorProvider, server: TwimlServer):
    survey(server)
    provider.script(PHONE, citizens.voicemail())
    sid = call(provider, server)

    assert server.hits_to("/voice")[0].form["AnsweredBy"] == "machine_start"
    assert server.hits_to("/status")[-1].form["AnsweredBy"] == "machine_start"
    assert provider.call(sid).pressed() == []
    assert provider.fetch_call(sid).answered_by == "machine_start"


def test_without_machine_detection_there_is_no_answered_by(provider: SimulatorProvider, server: TwimlServer):
    survey(server, items=0)
    provider.script(PHONE, citizens.answers_all())
    call(provider, server, machine_detection=False)
    assert all("AnsweredBy" not in h.form for h in server.hits)


def test_status_callback_failure_does_not_stop_the_call(provider: SimulatorProvider, server: TwimlServer):
    survey(server, items=0)
    server.route("/status", lambda form: (_ for _ in ()).throw(RuntimeError("boom")))
    provider.script(PHONE, citizens.answers_all())
    sid = call(provider, server)
    assert provider.fetch_call(sid).status == "completed"
    assert "error" in [e.kind for e in provider.call_log(sid)]


# -- citizens' behaviours ------------------------------------------------------------------------------------


def digits_posted(server: TwimlServer) -> list[str]:
    return [h.form["Digits"] for h in server.hits if "Digits" in h.form]


def test_hangs_up_after_n_presses(provider: SimulatorProvider, server: TwimlServer):
    survey(server, items=5)
    provider.script(PHONE, citizens.hangs_up_after(3, keys="1211111"))
    sid = call(provider, server)

    assert digits_posted(server) == ["1", "2", "1"]
    assert server.hits_to("/answer/3") == []
    assert provider.call_log(sid)[-2].text == "citizen"  # the hang-up, then the completed status
    assert statuses(server)[-1] == "completed"
    assert provider.call(sid).heard()[-1] == "第3题，满意请按1"  # heard the prompt it hung up on


def test_wrong_keys_then_valid(provider: SimulatorProvider, server: TwimlServer):
    provider.script(PHONE, citizens.wrong_keys_then_valid(keys="12", wrong="8"))
    seen: list[str] = []

    def ask(form: dict[str, str]) -> VoiceResponse:
        seen.append(form.get("Digits", ""))
        response = VoiceResponse()
        if len(seen) <= 4:
            response.gather(num_digits=1, action="/ask").say("请按键")
        return response

    server.route("/voice", ask)
    server.route("/ask", ask)
    call(provider, server)
    assert seen == ["", "8", "1", "8", "2"]


def test_silence_without_action_on_empty_result_runs_the_next_verb(
    provider: SimulatorProvider, server: TwimlServer
):
    response = VoiceResponse()
    response.gather(num_digits=1, action="/never", timeout=4).say("请按键")
    response.say("我们没有收到您的按键")
    server.twiml("/voice", response)
    provider.script(PHONE, citizens.silent())
    sid = call(provider, server)

    assert server.hits_to("/never") == []
    assert provider.call(sid).heard() == ["请按键", "我们没有收到您的按键"]
    assert [e for e in provider.call_log(sid) if e.kind == "silence"][0].text == "4s"


def test_silence_with_action_on_empty_result_posts_without_digits(
    provider: SimulatorProvider, server: TwimlServer
):
    response = VoiceResponse()
    response.gather(num_digits=1, action="/empty", action_on_empty_result=True).say("请按键")
    response.say("不会执行")
    server.twiml("/voice", response)
    server.twiml("/empty", only("hangup"))
    provider.script(PHONE, citizens.silent())
    sid = call(provider, server)

    (empty,) = server.hits_to("/empty")
    assert "Digits" not in empty.form and "SpeechResult" not in empty.form and STANDARD <= empty.form.keys()
    assert "不会执行" not in provider.call(sid).heard()


def test_silent_citizen_gives_an_empty_recording_and_the_flow_continues(
    provider: SimulatorProvider, server: TwimlServer
):
    response = VoiceResponse()
    response.record(max_length=10, action="/recorded")
    response.say("没有录到声音")
    server.twiml("/voice", response)
    provider.script(PHONE, citizens.silent())
    sid = call(provider, server)
    assert server.hits_to("/recorded") == []
    assert provider.call(sid).heard() == ["没有录到声音"]


def test_opt_out_presses_9_at_consent_then_nothing(provider: SimulatorProvider, server: TwimlServer):
    survey(server)
    provider.script(PHONE, citizens.opt_out())
    call(provider, server)
    assert digits_posted(server) == ["9"]


def test_barge_in_cuts_the_nested_prompt(provider: SimulatorProvider, server: TwimlServer):
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action="/next")
    gather.say("第一句")
    gather.pause(length=1)
    gather.say("第二句")
    server.twiml("/voice", response)
    server.twiml("/next", VoiceResponse())
    provider.script(PHONE, citizens.answers_all("1", barge_in=True))
    sid = call(provider, server)
    assert provider.call(sid).heard() == ["第一句"]
    assert server.hits_to("/next")[0].form["Digits"] == "1"


def test_barge_in_false_plays_the_whole_prompt(provider: SimulatorProvider, server: TwimlServer):
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action="/next", barge_in=False)
    gather.say("第一句")
    gather.say("第二句")
    server.twiml("/voice", response)
    server.twiml("/next", VoiceResponse())
    provider.script(PHONE, citizens.answers_all("1", barge_in=True))
    sid = call(provider, server)
    assert provider.call(sid).heard() == ["第一句", "第二句"]


def test_multi_digit_entry_ends_on_finish_key(provider: SimulatorProvider, server: TwimlServer):
    server.twiml("/voice", only("gather", action="/code", finish_on_key="#"))
    provider.script(PHONE, citizens.answers_all(["123#"]))
    call(provider, server)
    form = server.hits_to("/code")[0].form
    assert (form["Digits"], form["FinishedOnKey"]) == ("123", "#")


def test_star_is_a_key_like_any_other(provider: SimulatorProvider, server: TwimlServer):
    survey(server, items=1)
    provider.script(PHONE, citizens.answers_all("1*2"))
    call(provider, server)
    assert digits_posted(server) == ["1", "*"]


def test_provider_error_refuses_then_places(provider: SimulatorProvider, server: TwimlServer):
    survey(server, items=0)
    provider.script(PHONE, citizens.provider_error(times=1))
    with pytest.raises(ProviderError) as caught:
        call(provider, server)
    assert caught.value.transient is True
    assert server.hits == []
    assert provider.fetch_call(call(provider, server)).status == "completed"


def test_invalid_number_is_a_permanent_error(provider: SimulatorProvider, server: TwimlServer):
    with pytest.raises(ProviderError) as caught:
        call(provider, server, phone="13800000001")
    assert (caught.value.transient, caught.value.code) == (False, "21211")


# -- TwiML navigation and errors -----------------------------------------------------------------------------


def test_redirect_with_get_signs_the_query_string(provider: SimulatorProvider, server: TwimlServer):
    server.twiml("/voice", only("redirect", "/menu?step=2", method="GET"))
    server.twiml("/menu", only("say", "菜单"))
    provider.script(PHONE, citizens.answers_all())
    sid = call(provider, server)

    (menu,) = server.hits_to("/menu")
    assert menu.method == "GET" and menu.signed_ok and menu.form == {}
    assert menu.query["step"] == "2" and menu.query["CallSid"] == sid
    assert provider.call(sid).heard() == ["菜单"]


def test_gather_without_action_posts_to_the_current_document(
    provider: SimulatorProvider, server: TwimlServer
):
    pressed: list[str] = []

    def voice(form: dict[str, str]) -> VoiceResponse:
        pressed.append(form.get("Digits", ""))
        response = VoiceResponse()
        if len(pressed) == 1:
            response.gather(num_digits=1).say("请按键")
        return response

    server.route("/voice", voice)
    provider.script(PHONE, citizens.answers_all("5"))
    call(provider, server)
    assert pressed == ["", "5"]


def test_say_loop_pause_and_play(provider: SimulatorProvider, server: TwimlServer):
    response = VoiceResponse()
    response.say("重要通知", loop=2, voice="Polly.Zhiyu", language="cmn-CN")
    response.pause(length=2)
    response.play("/audio/hello.mp3")
    server.twiml("/voice", response)
    provider.script(PHONE, citizens.answers_all())
    sid = call(provider, server)
    log = provider.call_log(sid)
    assert provider.call(sid).heard() == ["重要通知", "重要通知"]
    assert [e.data["voice"] for e in log if e.kind == "heard"] == ["Polly.Zhiyu"] * 2
    assert [e.text for e in log if e.kind == "played"] == [server.url_for("/audio/hello.mp3")]
    assert [e.text for e in log if e.kind == "pause"] == ["2"]


@pytest.mark.parametrize(
    "body",
    [
        "<Response><Enqueue>support</Enqueue></Response>",  # a verb the flow never uses
        "<Response><Say>未闭合",  # does not parse
        "<Say>没有 Response</Say>",
    ],
)
def test_bad_twiml_is_an_application_error_and_the_call_ends(
    provider: SimulatorProvider, server: TwimlServer, body: str
):
    server.twiml("/voice", body)
    provider.script(PHONE, citizens.answers_all())
    sid = call(provider, server)
    assert provider.call(sid).heard()[-1] == "(application error)"
    assert provider.fetch_call(sid).status == "completed"


def test_dial_plays_a_second_leg_and_posts_to_the_action(provider: SimulatorProvider, server: TwimlServer):
    """A staff call's bridge (篇2 四): <Dial><Number> rings the number as its script says, the call waits while they
    talk, then Twilio's DialCallStatus/DialCallSid/DialCallDuration go to the action, signed."""
    other = "+8613800000042"
    response = VoiceResponse()
    response.say("正在接通")
    dial = response.dial(caller_id=OURS, timeout=20, action="/dialed")
    dial.number(other)
    server.twiml("/voice", response)
    server.twiml("/dialed", only("hangup"))
    provider.script(PHONE, citizens.answers_all())
    provider.script(other, citizens.answers_all(talk_seconds=75))
    sid = call(provider, server, machine_detection=False)
    [leg] = provider.calls(other)
    assert (leg.parent_sid, leg.from_, leg.status, leg.duration, leg.answered_by) == (sid, OURS, "completed", 75,
                                                                                      "human")
    [hit] = server.hits_to("/dialed")
    assert hit.signed_ok and hit.form["CallSid"] == sid
    assert (hit.form["DialCallStatus"], hit.form["DialCallSid"], hit.form["DialCallDuration"]) == ("completed",
                                                                                                    leg.sid, "75")
    log = provider.call_log(sid)
    assert [e.text for e in log if e.kind == "dial"] == ["138****0042"]  # the number is masked in the log
    assert provider.fetch_call(sid).duration >= 75  # the first leg waited while they talked
    assert provider.fetch_call(leg.sid).status == "completed"  # on record like any call


@pytest.mark.parametrize(("script", "status"), [(citizens.busy(), "busy"), (citizens.no_answer(), "no-answer"),
                                                (citizens.failed(), "failed"),
                                                (citizens.replies_by_sms("1"), "no-answer")])
def test_dial_to_a_number_that_does_not_answer(provider: SimulatorProvider, server: TwimlServer,
                                               script: Citizen, status: str):
    other = "+8613800000043"
    response = VoiceResponse()
    response.dial(action="/dialed", timeout=15).number(other)
    server.twiml("/voice", response)
    server.twiml("/dialed", only("hangup"))
    provider.script(PHONE, citizens.answers_all())
    provider.script(other, script)
    call(provider, server)
    [hit] = server.hits_to("/dialed")
    assert hit.form["DialCallStatus"] == status and "DialCallDuration" not in hit.form
    assert [c.status for c in provider.calls(other)] == [status]


def test_dial_without_an_action_runs_the_next_verb(provider: SimulatorProvider, server: TwimlServer):
    response = VoiceResponse()
    response.dial("+8613800000044")
    response.say("通话已结束")
    server.twiml("/voice", response)
    provider.script(PHONE, citizens.answers_all())
    sid = call(provider, server)
    assert provider.call(sid).heard() == ["通话已结束"]
    assert [c.status for c in provider.calls("+8613800000044")] == ["completed"]


def test_strict_twiml_refuses_an_undocumented_attribute(provider: SimulatorProvider, server: TwimlServer):
    server.twiml(
        "/voice", '<Response><Gather numdigits="1" action="/next"><Say>请按键</Say></Gather></Response>'
    )
    provider.script(PHONE, citizens.answers_all())
    sid = call(provider, server)
    errors = [e.text for e in provider.call_log(sid) if e.kind == "error"]
    assert any("unknown attribute 'numdigits'" in e for e in errors)
    assert provider.call(sid).heard() == ["(application error)"] and server.hits_to("/next") == []


def test_lenient_twiml_plays_what_parses(server: TwimlServer, tmp_path: Path):
    lenient = SimulatorProvider(
        auth_token=TOKEN, public_base_url=server.url, state_dir=tmp_path, start_delay=0, strict_twiml=False
    )
    server.twiml(
        "/voice", '<Response><Gather numdigits="1" action="/next"><Say>请按键</Say></Gather></Response>'
    )
    server.twiml("/next", VoiceResponse())
    lenient.script(PHONE, citizens.answers_all())
    sid = call(lenient, server)
    assert lenient.call(sid).heard() == ["请按键"] and len(server.hits_to("/next")) == 1


def test_messaging_twiml_with_problems_sends_nothing(provider: SimulatorProvider, server: TwimlServer):
    server.twiml("/sms/inbound", "<Response><Message/></Response>")
    assert provider.citizen_texts(PHONE, "111111") == []
    assert provider.outbox == []


def test_server_error_ends_the_call(provider: SimulatorProvider, server: TwimlServer):
    from flask import Response

    server.route("/voice", lambda form: Response("oops", status=500))
    provider.script(PHONE, citizens.answers_all())
    sid = call(provider, server)
    assert [e.text for e in provider.call_log(sid) if e.kind == "hangup"] == ["application-error"]
    assert statuses(server)[-1] == "completed"


def test_loop_guard_ends_a_redirect_loop(provider: SimulatorProvider, server: TwimlServer, tmp_path: Path):
    looping = SimulatorProvider(
        auth_token=TOKEN, public_base_url=server.url, state_dir=tmp_path / "l", start_delay=0, max_requests=5
    )
    server.twiml("/voice", only("redirect", "/voice"))
    looping.script(PHONE, citizens.answers_all())
    sid = call(looping, server)
    assert len(server.hits_to("/voice")) == 5
    assert [e.text for e in looping.call_log(sid) if e.kind == "hangup"] == ["loop-guard"]


def test_signatures_use_the_configured_token(server: TwimlServer, tmp_path: Path):
    wrong = SimulatorProvider(
        auth_token="another-token", public_base_url=server.url, state_dir=tmp_path, start_delay=0
    )
    survey(server)
    wrong.script(PHONE, citizens.answers_all())
    sid = call(wrong, server)
    assert server.hits and not any(h.signed_ok for h in server.hits)
    assert server.hits_to("/answer/0") == []  # refused with 403 → the call ends
    assert wrong.call(sid).heard() == ["(application error)"]


# -- threads, state across processes -------------------------------------------------------------------------


def test_place_call_returns_at_once_and_wait_idle_waits(provider: SimulatorProvider, server: TwimlServer):
    def slow(form: dict[str, str]) -> VoiceResponse:
        time.sleep(1.0)
        return VoiceResponse()

    server.route("/voice", slow)
    provider.script(PHONE, citizens.answers_all())
    started = time.monotonic()
    placed = provider.place_call(
        CallRequest(PHONE, OURS, server.url_for("/voice"), server.url_for("/status"))
    )
    assert time.monotonic() - started < 0.5
    assert placed.sid.startswith("CA") and len(placed.sid) == 34 and placed.status == "queued"
    assert provider.wait_idle(0.2) is False
    assert provider.wait_idle(10) is True
    assert provider.fetch_call(placed.sid).status == "completed"


def test_start_delay_holds_the_first_callback(server: TwimlServer, tmp_path: Path):
    delayed = SimulatorProvider(
        auth_token=TOKEN, public_base_url=server.url, state_dir=tmp_path, start_delay=0.5
    )
    delayed.script(PHONE, citizens.busy())
    delayed.place_call(CallRequest(PHONE, OURS, server.url_for("/voice"), server.url_for("/status")))
    time.sleep(0.2)
    assert server.hits == []
    assert delayed.wait_idle(10) and statuses(server) == ["initiated", "busy"]


def test_concurrent_calls_do_not_mix(provider: SimulatorProvider, server: TwimlServer):
    survey(server, items=2)
    phones = [f"+86138000001{i:02d}" for i in range(8)]
    for i, phone in enumerate(phones):
        provider.script(phone, citizens.answers_all(f"1{i % 3 + 1}{(i + 1) % 3 + 1}{i % 2 + 1}"))
    sids = {
        provider.place_call(CallRequest(p, OURS, server.url_for("/voice"), server.url_for("/status"))).sid: p
        for p in phones
    }
    assert provider.wait_idle(30)
    for sid, phone in sids.items():
        i = phones.index(phone)
        expected = ["1", str(i % 3 + 1), str((i + 1) % 3 + 1)]  # consent + two items
        assert [
            h.form["Digits"] for h in server.hits if h.form.get("CallSid") == sid and "Digits" in h.form
        ] == expected


def test_another_process_sees_the_script_and_the_call(server: TwimlServer, tmp_path: Path):
    """A worker process shares the registry file and the state directory: it plays the script written here, and
    this process can fetch the call it placed."""
    survey(server, items=1)
    here = SimulatorProvider(auth_token=TOKEN, public_base_url=server.url, state_dir=tmp_path, start_delay=0)
    here.script(PHONE, citizens.answers_all("13"))
    code = textwrap.dedent(f"""
        from callback.telephony import CallRequest
        from ivr.simulator import SimulatorProvider
        p = SimulatorProvider(auth_token={TOKEN!r}, public_base_url={server.url!r}, state_dir={str(tmp_path)!r},
                              start_delay=0)
        sid = p.place_call(CallRequest({PHONE!r}, {OURS!r}, {server.url_for("/voice")!r},
                                       {server.url_for("/status")!r})).sid
        assert p.wait_idle(20)
        print(sid)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    sid = out.stdout.strip()
    assert digits_posted(server) == ["1", "3"]
    status = here.fetch_call(sid)
    assert (status.status, status.answered_by) == ("completed", "human")
    assert here.call(sid).pressed() == ["1", "3"]
    assert [c.sid for c in here.calls(PHONE)] == [sid]


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize(("status", "reported"), [("in-progress", "completed"), ("ringing", "failed")])
def test_a_call_whose_process_died_is_reported_closed(tmp_path: Path, status: str, reported: str):
    provider = SimulatorProvider(auth_token=TOKEN, state_dir=tmp_path)
    sid = "CA" + "d" * 32
    record = {
        "sid": sid,
        "account_sid": provider.account_sid,
        "to": PHONE,
        "from_": OURS,
        "url": "http://x/v",
        "status_callback": "",
        "timeout_seconds": 30,
        "machine_detection": True,
        "status": status,
        "owner_pid": _dead_pid(),
        "owner_host": os.uname().nodename,
        "log": [],
    }
    provider.store.save_call(sid, record)
    assert provider.fetch_call(sid).status == reported


def test_fetch_unknown_call(provider: SimulatorProvider):
    with pytest.raises(ProviderError) as caught:
        provider.fetch_call("CA" + "0" * 32)
    assert caught.value.transient is False


def test_persisted_log_matches_memory(provider: SimulatorProvider, server: TwimlServer, tmp_path: Path):
    survey(server, items=1)
    provider.script(PHONE, citizens.answers_all())
    sid = call(provider, server)
    other = SimulatorProvider(auth_token=TOKEN, state_dir=provider.state_dir)
    assert other.call(sid).log == provider.call(sid).log
    assert other.fetch_call(sid) == provider.fetch_call(sid)


# -- a person (or anything) playing the citizen --------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.contexts: list[GatherContext] = []
        self.outside: list[str] = []

    def heard(self, text: str) -> None:
        self.outside.append(text)

    def gather(self, context: GatherContext) -> Input:
        self.contexts.append(context)
        return Input("dtmf", digits="2")

    def record(self, context: RecordContext) -> Input:
        return Input("speech", speech="我想投诉", seconds=2)


def test_an_attached_agent_plays_the_citizen(provider: SimulatorProvider, server: TwimlServer):
    survey(server, items=0)
    provider.script(PHONE, citizens.no_answer())  # the attached agent wins over the script
    agent = Recorder()
    provider.attach_agent(PHONE, lambda: agent)
    call(provider, server)

    assert digits_posted(server) == ["2"]
    assert agent.contexts[0].prompts == ("第0题，满意请按1",)
    assert (agent.contexts[0].num_digits, agent.contexts[0].inputs) == (1, ("dtmf",))
    assert agent.contexts[1].inputs == ("speech",) and agent.contexts[1].language == "cmn-Hans-CN"
    assert server.hits_to("/recorded")[0].form["RecordingDuration"] == "2"
    provider.attach_agent(PHONE, None)
    assert provider.wait_idle(1) and call(provider, server) and statuses(server)[-1] == "no-answer"


# -- the registry and the default mix ------------------------------------------------------------------------


def test_registry_file_format_and_round_trip(tmp_path: Path):
    path = tmp_path / "citizens.json"
    provider = SimulatorProvider(auth_token=TOKEN, state_dir=tmp_path / "s", citizens_file=path)
    provider.script("+8613800000001", citizens.answers_all("1121111"))
    provider.script("+8613800000002", citizens.hangs_up_after(4))
    provider.script(
        "+8613800000003", {"behaviour": "replies_by_sms", "sms_replies": ["112111", ["好", "TD"]]}
    )
    provider.script("+8613800000004", "busy")

    assert json.loads(path.read_text(encoding="utf-8")) == {
        "+8613800000001": {"behaviour": "answers_all", "keys": "1121111"},
        "+8613800000002": {"behaviour": "hangs_up_after", "n": 4},
        "+8613800000003": {"behaviour": "replies_by_sms", "sms_replies": ["112111", ["好", "TD"]]},
        "+8613800000004": {"behaviour": "busy"},
    }
    fresh = CitizenRegistry(path)
    assert fresh.get("+8613800000003").sms_replies == ("112111", ("好", "TD"))
    assert fresh.all()["+8613800000002"] == citizens.hangs_up_after(4)


def test_registry_rejects_unknown_behaviours_and_fields(tmp_path: Path):
    with pytest.raises(ValueError):
        Citizen.from_json({"behaviour": "sings"})
    with pytest.raises(ValueError):
        Citizen.from_json({"behaviour": "silent", "volume": 3})


def test_from_settings_reads_simulator_citizens(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    path = tmp_path / "shared" / "citizens.json"
    monkeypatch.setenv("SIMULATOR_CITIZENS", str(path))
    monkeypatch.delenv("SIMULATOR_STATE_DIR", raising=False)
    CitizenRegistry(path).set(PHONE, citizens.opt_out())
    provider = get_provider(Settings(twilio_auth_token="t", public_base_url="http://127.0.0.1:1"))
    assert isinstance(provider, SimulatorProvider) and isinstance(provider, Provider)
    assert provider.citizen(PHONE).behaviour == "opt_out"
    assert provider.state_dir == path.parent and provider.auth_token == "t"


def test_default_citizens_are_deterministic_and_a_realistic_mix():
    phones = [f"+86139{n:08d}" for n in range(3000)]
    assert [default_citizen(p) for p in phones[:50]] == [default_citizen(p) for p in phones[:50]]
    mix = Counter(default_citizen(p).behaviour for p in phones)
    assert 0.50 < mix["answers_all"] / 3000 < 0.60
    assert 0.07 < mix["no_answer"] / 3000 < 0.13
    for behaviour in (
        "hangs_up_after",
        "wrong_keys_then_valid",
        "silent",
        "busy",
        "voicemail",
        "opt_out",
        "replies_by_sms",
    ):
        assert mix[behaviour] > 20, behaviour
    answered = [default_citizen(p) for p in phones if default_citizen(p).behaviour == "answers_all"]
    assert all(len(c.keys) == 7 and c.keys[0] == "1" for c in answered)
    integrity_alerts = sum(c.keys[5] == "2" for c in answered)
    assert integrity_alerts < len(answered) * 0.03
    assert Counter(c.keys[1] for c in answered)["1"] > len(answered) * 0.6


def test_unscripted_number_plays_its_default(provider: SimulatorProvider, server: TwimlServer):
    phone = next(
        f"+86137{n:08d}" for n in range(1000) if default_citizen(f"+86137{n:08d}").behaviour == "busy"
    )
    survey(server)
    call(provider, server, phone=phone)
    assert statuses(server) == ["initiated", "busy"]


# -- SMS -----------------------------------------------------------------------------------------------------


def sms(provider: SimulatorProvider, server: TwimlServer, body: str = "请回复6位数字评价，回复TD退订") -> str:
    sent = provider.send_sms(SmsRequest(PHONE, OURS, body, server.url_for("/sms/status")))
    assert provider.wait_idle(20)
    return sent.sid


def test_send_sms_status_callbacks_delivered(provider: SimulatorProvider, server: TwimlServer):
    provider.script(PHONE, citizens.no_answer())
    sent = provider.send_sms(SmsRequest(PHONE, OURS, "您好", server.url_for("/sms/status")))
    assert (sent.status, sent.segments) == ("queued", 1) and sent.sid.startswith("SM") and len(sent.sid) == 34
    assert provider.wait_idle(20)

    hits = server.hits_to("/sms/status")
    assert [h.form["MessageStatus"] for h in hits] == ["queued", "sent", "delivered"]
    for hit in hits:
        assert hit.signed_ok and hit.form["MessageSid"] == sent.sid == hit.form["SmsSid"]
        assert (hit.form["To"], hit.form["From"], hit.form["AccountSid"]) == (
            PHONE,
            OURS,
            provider.account_sid,
        )
        assert hit.form["SmsStatus"] == hit.form["MessageStatus"] and "ErrorCode" not in hit.form
    assert [(m.sid, m.status, m.body) for m in provider.outbox] == [(sent.sid, "delivered", "您好")]
    assert [(m.sid, m.status) for m in provider.messages(PHONE)] == [(sent.sid, "delivered")]
    assert server.hits_to("/sms/inbound") == []  # no scripted reply


@pytest.mark.parametrize(
    ("status", "expected", "code"),
    [("undelivered", ["queued", "sent", "undelivered"], "30003"), ("failed", ["queued", "failed"], "30006")],
)
def test_undelivered_and_failed_sms(
    provider: SimulatorProvider, server: TwimlServer, status: str, expected: list[str], code: str
):
    provider.script(PHONE, citizens.replies_by_sms("111111", sms_status=status))
    sms(provider, server)
    hits = server.hits_to("/sms/status")
    assert [h.form["MessageStatus"] for h in hits] == expected
    assert hits[-1].form["ErrorCode"] == code
    assert server.hits_to("/sms/inbound") == []


def test_long_chinese_sms_has_two_segments(provider: SimulatorProvider, server: TwimlServer):
    assert provider.send_sms(SmsRequest(PHONE, OURS, "评" * 100, "")).segments == 2
    assert provider.wait_idle(10)


def test_sms_replies_are_posted_to_inbound_with_twilio_parameters(
    provider: SimulatorProvider, server: TwimlServer
):
    provider.script(PHONE, citizens.replies_by_sms(["11", "2111 窗口态度很好"]))
    sms(provider, server)

    inbound = server.hits_to("/sms/inbound")
    assert [h.form["Body"] for h in inbound] == ["11", "2111 窗口态度很好"]
    for hit in inbound:
        assert hit.signed_ok
        assert (hit.form["From"], hit.form["To"], hit.form["NumMedia"]) == (PHONE, OURS, "0")
        assert hit.form["MessageSid"].startswith("SM") and hit.form["SmsStatus"] == "received"
        assert hit.form["AccountSid"] == provider.account_sid and hit.form["ApiVersion"] == "2010-04-01"
    assert [m.body for m in provider.messages(PHONE) if m.direction == "inbound"] == [
        "11",
        "2111 窗口态度很好",
    ]


def test_twiml_message_reply_reaches_the_citizen_and_prompts_the_next_turn(
    provider: SimulatorProvider, server: TwimlServer
):
    def inbound(form: dict[str, str]) -> MessagingResponse:
        response = MessagingResponse()
        response.message(
            "请问还有其他意见吗？" if form["Body"] == "111111" else "感谢您的评价！",
            action="/sms/reply-status",
        )
        return response

    server.route("/sms/inbound", inbound)
    provider.script(PHONE, citizens.replies_by_sms("111111", "没有了"))
    sms(provider, server)

    assert [h.form["Body"] for h in server.hits_to("/sms/inbound")] == ["111111", "没有了"]
    thread = [(m.direction, m.body) for m in provider.messages(PHONE)]
    assert thread == [
        ("outbound", "请回复6位数字评价，回复TD退订"),
        ("inbound", "111111"),
        ("outbound", "请问还有其他意见吗？"),
        ("inbound", "没有了"),
        ("outbound", "感谢您的评价！"),
    ]
    assert [h.form["MessageStatus"] for h in server.hits_to("/sms/reply-status")] == ["sent", "delivered"] * 2
    assert [m.source for m in provider.outbox] == ["api", "twiml", "twiml"]


def test_citizen_texts_unprompted(provider: SimulatorProvider, server: TwimlServer):
    server.twiml("/sms/inbound", only_message("您好，本号码暂无待评价的回访。"))
    replies = provider.citizen_texts("+8613900000000", "你好")
    assert [m.body for m in replies] == ["您好，本号码暂无待评价的回访。"]
    (hit,) = server.hits_to("/sms/inbound")
    assert (hit.form["From"], hit.form["To"], hit.form["Body"]) == ("+8613900000000", OURS, "你好")
    assert provider.wait_idle(5)


def test_sms_to_an_invalid_number_is_permanent(provider: SimulatorProvider):
    with pytest.raises(ProviderError) as caught:
        provider.send_sms(SmsRequest("12345", OURS, "x", ""))
    assert (caught.value.transient, caught.value.code) == (False, "21211")


def test_sms_outbox_is_shared_through_the_state_dir(provider: SimulatorProvider, server: TwimlServer):
    sid = sms(provider, server, "第一条")
    other = SimulatorProvider(auth_token=TOKEN, state_dir=provider.state_dir)
    assert [(m.sid, m.body, m.status) for m in other.messages()] == [(sid, "第一条", "delivered")]
    assert other.outbox == []  # in-memory outbox is per provider object


def test_nothing_to_deliver_to_is_one_quiet_chinese_log_line(tmp_path: Path, caplog, capfd) -> None:  # noqa: ANN001
    """No server runs (e.g. `callback feedback` from a shell): the simulator must not put English errors on the
    user's terminal. Python prints a record there when logging is not set up and it is WARNING or above."""
    import logging
    import re
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    caplog.set_level(logging.DEBUG, logger="ivr.simulator")
    provider = SimulatorProvider(auth_token=TOKEN, public_base_url=dead, state_dir=tmp_path / "sim", start_delay=0)
    provider.script(PHONE, citizens.answers_all(sms_replies=["111111"]))
    provider.send_sms(SmsRequest(PHONE, OURS, "您好", dead + "/sms/status"))
    provider.place_call(CallRequest(to=PHONE, from_=OURS, url=dead + "/voice", status_callback=dead + "/status"))
    assert provider.wait_idle(20)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    records = [r for r in caplog.records if r.name.startswith("ivr.simulator")]
    assert records and all(r.levelno < logging.WARNING for r in records)
    assert all(re.search(r"[\u4e00-\u9fff]", r.getMessage()) for r in records)
    assert not any(re.search(r"Error|unreachable|failed", r.getMessage()) for r in records)
