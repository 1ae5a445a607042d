"""SMS webhooks under /sms/: thin views (check signature → parse → one service call → commit → TwiML).

- ``POST /sms/inbound``: a citizen's text (Twilio's ``From``, ``To``, ``Body``, ``MessageSid``, …); answered with
  messaging TwiML built by the twilio library (one ``<Message>``, or an empty ``<Response/>`` for no reply).
- ``POST /sms/status``: messaging status callbacks (queued/sent/delivered/undelivered/failed); ``?m=`` names our
  outbox row.

A missing or forged ``X-Twilio-Signature`` is refused with 403 before a view runs, so nothing is stored.
The rules live in ivr/sms_survey.py.
"""

from __future__ import annotations

from flask import Blueprint, abort, request
from twilio.twiml.messaging_response import MessagingResponse

from callback.config import current_settings
from callback.db import db_session
from ivr import sms_survey
from ivr.params import int_param
from ivr.webhooks import request_now, require_twilio_signature, twiml

bp = Blueprint("ivr_sms", __name__, url_prefix="/sms")
bp.before_request(require_twilio_signature)


@bp.post("/inbound")
def inbound():  # noqa: ANN201
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid") or ""
    if not sid:
        abort(400, "MessageSid is required")
    result = sms_survey.receive_sms(db_session(), form.get("From", ""), form.get("To", ""), form.get("Body", ""),
                                    sid, request_now())
    db_session().commit()
    return twiml(messaging_reply(result))


def messaging_reply(result: sms_survey.InboundResult) -> MessagingResponse:
    response = MessagingResponse()
    if result.reply and result.reply_message_id is not None:
        response.message(result.reply, action=sms_survey.status_url(current_settings(), result.reply_message_id),
                         method="POST")
    elif result.reply:
        response.message(result.reply)
    return response


@bp.post("/status")
def status():  # noqa: ANN201
    int_param(request.args, "m")  # 400 on a value no integer column can take (ivr.params)
    update = sms_survey.parse_sms_status(request.args, request.form)
    sms_survey.record_sms_status(db_session(), update, request_now())
    db_session().commit()
    return "", 204
