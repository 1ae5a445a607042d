"""Voice webhooks under /ivr/: thin views (check signature → parse → one service call → commit → TwiML).

URLs carry the callback's opaque token only (``/ivr/<token>/consent?a=<attempt>&n=<tries>``), never personal data.
The survey rules live in ivr/flow.py, the call-status rules in ivr/status.py.

A staff call (篇2 四 专人回访) has its own three under ``/ivr/staff/<token>/`` with the staff call's token: ``bridge``
(the supervisor's desk phone answered: ``<Dial>`` the citizen, whose number is looked up on the server and appears
nowhere but in this answer), ``dialed`` (the ``<Dial>``'s action: how the citizen's leg ended) and ``status`` (the
desk leg's status callbacks). The rules are callback/responses/staff_calls.py.
"""

from __future__ import annotations

from flask import Blueprint, request
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.datastructures import MultiDict

from callback.config import Settings, current_settings
from callback.db import db_session
from callback.responses import staff_calls
from ivr import flow, status
from ivr.params import int_param
from ivr.webhooks import public_url, request_now, require_twilio_signature, twiml

bp = Blueprint("ivr_voice", __name__, url_prefix="/ivr")
bp.before_request(require_twilio_signature)


@bp.post("/<token>/<any(answer, consent, suggestion, recording):step>")
@bp.post("/<token>/item/<item>", defaults={"step": "item"})
def voice(token: str, step: str, item: str | None = None):  # noqa: ANN201
    turn = parse_turn(token, step, item, request.args, request.form)
    response = flow.handle_turn(db_session(), turn, current_settings(), request_now())
    db_session().commit()
    return twiml(response)


@bp.post("/<token>/status")
def call_status(token: str):  # noqa: ANN201
    for values, name in ((request.args, "a"), (request.form, "SequenceNumber"), (request.form, "CallDuration")):
        int_param(values, name)  # 400 on a value no integer column can take (ivr.params)
    update = status.parse_status(token, request.args, request.form, request.headers)
    status.record_status(db_session(), update, current_settings(), request_now())
    db_session().commit()
    return "", 204


def parse_turn(token: str, step: str, item: str | None, args: MultiDict, form: MultiDict) -> flow.VoiceTurn:
    return flow.VoiceTurn(
        token=token, step=step, item=item, url=public_url(),
        call_sid=form.get("CallSid", ""),
        attempt_id=int_param(args, "a"), tries=int_param(args, "n", 0), repeats=int_param(args, "r", 0),
        digits=form.get("Digits", ""), speech=form.get("SpeechResult", ""),
        confidence=form.get("Confidence", type=float), answered_by=form.get("AnsweredBy", ""),
        recording_url=form.get("RecordingUrl", ""), recording_duration=int_param(form, "RecordingDuration"),
    )


# --- staff calls (篇2 四): the desk phone bridged to the citizen ----------------------------------------------------


@bp.post("/staff/<token>/bridge")
def staff_bridge(token: str):  # noqa: ANN201
    answer = staff_calls.bridge(db_session(), token, request_now())
    db_session().commit()
    return twiml(bridge_twiml(answer, current_settings(), token))


def bridge_twiml(answer: staff_calls.Bridge, settings: Settings, token: str) -> VoiceResponse:
    """``<Say>`` to the supervisor, then ``<Dial>`` the citizen from the centre's number (the citizen sees the
    hall's number, not the desk phone); the ``<Dial>``'s action reports how the citizen's leg ended. Without a
    number: say why, and hang up."""
    response = VoiceResponse()
    if answer.number is None:
        response.say(answer.refusal or "本次专人回访已结束", voice=settings.tts_voice, language=settings.tts_language)
        response.hangup()
        return response
    response.say("正在为您接通回访对象，请稍候。", voice=settings.tts_voice, language=settings.tts_language)
    dial = response.dial(caller_id=settings.twilio_from, timeout=staff_calls.RING_SECONDS,
                         action=staff_calls.webhook_url(settings, token, "dialed"), method="POST")
    dial.number(answer.number)
    return response


@bp.post("/staff/<token>/dialed")
def staff_dialed(token: str):  # noqa: ANN201
    duration = int_param(request.form, "DialCallDuration")
    staff_calls.record_dial_result(db_session(), token, request.form.get("DialCallStatus", ""),
                                   request.form.get("DialCallSid"), duration, request_now())
    db_session().commit()
    response = VoiceResponse()
    response.hangup()
    return twiml(response)


@bp.post("/staff/<token>/status")
def staff_status(token: str):  # noqa: ANN201
    int_param(request.form, "CallDuration")
    staff_calls.record_desk_status(db_session(), token, request.form.get("CallStatus", ""), request_now())
    db_session().commit()
    return "", 204
