"""Voice webhooks under /ivr/: thin views (check signature → parse → one service call → commit → TwiML).

URLs carry the callback's opaque token only (``/ivr/<token>/consent?a=<attempt>&n=<tries>``), never personal data.
The survey rules live in ivr/flow.py, the call-status rules in ivr/status.py.
"""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.datastructures import MultiDict

from callback.config import current_settings
from callback.db import db_session
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
