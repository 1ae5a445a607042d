"""check_twiml: documents built with the twilio library pass; each kind of mistake is reported with its path."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from ivr.simulator.twiml_spec import VOICE_VERBS, check_twiml


def survey_step() -> str:
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1, action="/ivr/a/k3Xq/item/2", method="POST", timeout=6, action_on_empty_result=True
    )
    gather.say(
        "请对窗口工作人员的服务态度进行评价：满意请按1，基本满意请按2，不满意请按3。",
        voice="Polly.Zhiyu",
        language="cmn-CN",
    )
    gather.pause(length=1)
    response.redirect("/ivr/a/k3Xq/item/2?empty=1", method="POST")
    return str(response)


def test_a_survey_step_passes() -> None:
    assert check_twiml(survey_step()) == []
    assert check_twiml(survey_step(), kind="voice") == []


def test_speech_record_and_goodbye_pass() -> None:
    response = VoiceResponse()
    gather = response.gather(
        input="speech",
        language="cmn-Hans-CN",
        speech_timeout="auto",
        action="/s",
        hints="窗口,态度",
        profanity_filter=False,
    )
    gather.say("请说出您的意见和建议")
    response.record(
        max_length=60,
        timeout=3,
        play_beep=True,
        action="https://hall.example.cn/ivr/rec",
        recording_status_callback="/ivr/rec-status",
        recording_status_callback_event="completed",
        trim="trim-silence",
        finish_on_key="#",
    )
    response.say("感谢您的评价，再见", language="cmn-CN")
    response.play("https://hall.example.cn/audio/bye.mp3", loop=1)
    response.play(digits="ww1")
    response.hangup()
    assert check_twiml(str(response)) == []


def test_a_staff_calls_bridge_passes() -> None:
    """What ivr.voice answers when a supervisor's desk phone is answered (篇2 四): <Dial> the citizen."""
    response = VoiceResponse()
    response.say("正在为您接通回访对象，请稍候。", voice="Polly.Zhiyu", language="cmn-CN")
    dial = response.dial(caller_id="+861080000000", timeout=30, time_limit=3600,
                         action="https://hall.example.cn/ivr/staff/k3Xq/dialed", method="POST")
    dial.number("+8613800000000")
    assert check_twiml(str(response), kind="voice") == []
    assert check_twiml("<Response><Dial>+8613800000000</Dial></Response>") == []


def test_ssml_inside_say_passes() -> None:
    response = VoiceResponse()
    say = response.say("您好", voice="Polly.Zhiyu")
    say.break_(time="500ms")
    say.prosody("请按1", rate="slow")
    assert check_twiml(str(response)) == []


def test_messaging_documents_pass() -> None:
    response = MessagingResponse()
    response.message("感谢您的评价！回复TD退订", action="/sms/status")
    assert check_twiml(str(response)) == []
    assert check_twiml(str(response), kind="messaging") == []
    assert check_twiml(str(MessagingResponse()), kind="messaging") == []
    nested = MessagingResponse()
    message = nested.message()
    message.body("请回复数字")
    assert check_twiml(str(nested)) == []


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<Response><Say>你好", "not well-formed XML"),
        ("<Say>你好</Say>", "root element must be <Response>"),
        ('<Response lang="x"/>', "Response: unknown attribute 'lang'"),
        ("<Response><Enqueue>support</Enqueue></Response>", "Response/Enqueue[1]: <Enqueue> is not allowed here"),
        ('<Response><Dial record="true">+8613800000000</Dial></Response>', "Response/Dial[1]: unknown attribute 'record'"),
        ("<Response><Dial><Number>+8613800000000</Number><Number>+8613800000001</Number></Dial></Response>",
         "Response/Dial[1]: more than one <Number>"),
        ("<Response><Dial>转人工</Dial></Response>", "Response/Dial[1]: the number to dial must be a phone number"),
        ("<Response><Dial><Say>x</Say></Dial></Response>", "Response/Dial[1]/Say[1]: <Say> is not allowed here"),
        ('<Response><Dial callerId="hall">+8613800000000</Dial></Response>', "callerId must be a phone number"),
        (
            '<Response><Gather numdigits="1"><Say>请按键</Say></Gather></Response>',
            "Response/Gather[1]: unknown attribute 'numdigits' (did you mean 'numDigits'?)",
        ),
        ('<Response><Gather numDigits="0"/></Response>', "numDigits must be a positive integer, got '0'"),
        ('<Response><Gather input="voice"/></Response>', "input must be 'dtmf', 'speech' or 'dtmf speech'"),
        ('<Response><Gather input="dtmf dtmf"/></Response>', "input must be"),
        ('<Response><Gather method="PUT"/></Response>', "method must be one of 'GET', 'POST'"),
        ('<Response><Gather actionOnEmptyResult="yes"/></Response>', "actionOnEmptyResult must be one of"),
        ('<Response><Gather finishOnKey="##"/></Response>', "finishOnKey must be one key"),
        (
            '<Response><Gather speechTimeout="soon"/></Response>',
            "speechTimeout must be a positive integer or 'auto'",
        ),
        ('<Response><Gather language="Mandarin"/></Response>', "language must be a BCP-47 language tag"),
        (
            '<Response><Gather action="ftp://x/y"/></Response>',
            "action must be a relative URL or an absolute http(s)",
        ),
        ('<Response><Gather action="/a b"/></Response>', "action must be a URL without spaces"),
        (
            "<Response><Gather><Gather/></Gather></Response>",
            "Response/Gather[1]/Gather[1]: <Gather> is not allowed here",
        ),
        ("<Response><Gather><Record/></Gather></Response>", "<Record> is not allowed here"),
        ("<Response><Gather>请按键</Gather></Response>", "text is not allowed directly inside <Gather>"),
        ("<Response><Say/></Response>", "<Say> needs text to speak"),
        ('<Response><Say voice="robot">你好</Say></Response>', "voice must be man, woman, alice"),
        ('<Response><Say loop="-1">你好</Say></Response>', "loop must be an integer ≥ 0"),
        ("<Response><Say>你好<Play>x</Play></Say></Response>", "<Play> is not SSML that <Say> accepts"),
        ("<Response><Play/></Response>", "<Play> needs an audio URL"),
        ('<Response><Play digits="12a"/></Response>', "digits must be keys"),
        ('<Response><Pause length="0"/></Response>', "length must be a positive integer"),
        ("<Response><Pause>1</Pause></Response>", "<Pause> takes no text"),
        ('<Response><Record maxLength="1"/></Response>', "maxLength must be an integer ≥ 2"),
        ('<Response><Record trim="yes"/></Response>', "trim must be one of 'trim-silence', 'do-not-trim'"),
        ('<Response><Record transcribeLanguage="zh"/></Response>', "unknown attribute 'transcribeLanguage'"),
        (
            '<Response><Record recordingStatusCallbackEvent="done"/></Response>',
            "recordingStatusCallbackEvent must",
        ),
        ("<Response><Record><Say>x</Say></Record></Response>", "<Record> takes no nested elements"),
        ("<Response><Redirect/></Response>", "Response/Redirect[1]: the URL must not be empty"),
        ('<Response><Hangup reason="busy"/></Response>', "Response/Hangup[1]: unknown attribute 'reason'"),
        (
            "<Response><Hangup/><Say>再见</Say></Response>",
            "Response/Say[1]: never reached, it follows <Hangup>",
        ),
        ("<Response><Redirect>/next</Redirect><Hangup/></Response>", "Response/Hangup[1]: never reached"),
        ("<Response>多余的文字<Hangup/></Response>", "text is not allowed directly inside <Response>"),
        ("<Response><Message>你好</Message><Say>你好</Say></Response>", "mixes voice verbs and <Message>"),
        ("<Response><Message/></Response>", "<Message> needs a body or media"),
        ('<Response><Message priority="high">你好</Message></Response>', "unknown attribute 'priority'"),
        ("<Response><Message><Say>你好</Say></Message></Response>", "<Say> is not allowed in <Message>"),
    ],
)
def test_mistakes_are_reported(xml: str, expected: str) -> None:
    problems = check_twiml(xml)
    assert any(expected in p for p in problems), problems


def test_kind_mismatch() -> None:
    assert any("expected a messaging document" in p for p in check_twiml(survey_step(), kind="messaging"))
    response = MessagingResponse()
    response.message("你好")
    assert any("expected a voice document" in p for p in check_twiml(str(response), kind="voice"))


def test_every_problem_is_reported_not_only_the_first() -> None:
    problems = check_twiml(
        '<Response><Gather numDigits="x" timeout="-2"><Say/></Gather><Pause length="a"/></Response>'
    )
    assert len(problems) == 4


def test_what_twilio_ignores_after_gather_is_reachable() -> None:
    response = VoiceResponse()
    response.gather(num_digits=1, action="/a").say("请按键")
    response.say("没有收到按键")
    response.redirect("/again")
    assert check_twiml(str(response)) == []


_VALUES = {
    "numDigits": st.integers(1, 9).map(str),
    "timeout": st.integers(1, 30).map(str),
    "input": st.sampled_from(["dtmf", "speech", "dtmf speech", "speech dtmf"]),
    "finishOnKey": st.sampled_from(["", "#", "*", "0"]),
    "actionOnEmptyResult": st.sampled_from(["true", "false"]),
    "method": st.sampled_from(["GET", "POST"]),
    "language": st.sampled_from(["cmn-Hans-CN", "cmn-CN", "zh-CN", "en-US", "yue-Hant-HK"]),
    "speechTimeout": st.sampled_from(["auto", "1", "3"]),
}


# XML 1.0 has no control characters (and the twilio library does not escape them), so prompts never hold any.
_PROMPT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1).filter(str.strip)


@given(attributes=st.fixed_dictionaries({}, optional=_VALUES), prompt=_PROMPT)
def test_documented_gather_attributes_always_pass(attributes: dict[str, str], prompt: str) -> None:
    response = VoiceResponse()
    gather = response.gather(action="/next", **attributes)
    gather.say(prompt)
    assert set(attributes) <= set(VOICE_VERBS["Gather"])
    assert check_twiml(str(response)) == []


@given(name=st.from_regex(r"[a-zA-Z]{3,12}", fullmatch=True))
def test_any_undocumented_attribute_is_reported(name: str) -> None:
    if name in VOICE_VERBS["Gather"]:
        return
    assert any(
        f"unknown attribute {name!r}" in p for p in check_twiml(f'<Response><Gather {name}="1"/></Response>')
    )
