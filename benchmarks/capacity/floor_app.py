"""The webhook's floor, the baseline of the webhook measure: what any signed TwiML webhook that stores the key press
must do — bare Flask, twilio's RequestValidator, a VoiceResponse of the same shape as the survey's next question,
and one single-row INSERT committed — and nothing of ours. gunicorn serves it as ``floor_app:create_app()``.

Environment: DATABASE_URL (a database holding the ``floor_answers`` table, created by the benchmark),
TWILIO_AUTH_TOKEN, PUBLIC_BASE_URL.
"""

from __future__ import annotations

import os

from flask import Flask, Response, abort, request
from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

TABLE = ("CREATE TABLE IF NOT EXISTS floor_answers (id bigserial PRIMARY KEY, token text NOT NULL, "
         "step text NOT NULL, digits text, received_at timestamptz NOT NULL DEFAULT now())")
PROMPT = "第二题，办事效率。您对办事效率是否满意，有没有互相推诿、拖拉的情况？满意请按1，基本满意请按2，不满意请按3。"
INSERT = text("INSERT INTO floor_answers (token, step, digits) VALUES (:token, :step, :digits)")


def create_app() -> Flask:
    app = Flask(__name__)
    engine = create_engine(os.environ["DATABASE_URL"], pool_size=10, max_overflow=20)
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    base = os.environ["PUBLIC_BASE_URL"].rstrip("/")

    @app.post("/ivr/<token>/item/<step>")
    @app.post("/ivr/<token>/<step>")
    def answer(token: str, step: str) -> Response:
        query = request.query_string.decode("latin-1")
        url = base + request.path + (f"?{query}" if query else "")
        if not validator.validate(url, request.form, request.headers.get("X-Twilio-Signature", "")):
            abort(403)
        with engine.begin() as conn:
            conn.execute(INSERT, {"token": token, "step": step, "digits": request.form.get("Digits")})
        response = VoiceResponse()
        gather = response.gather(num_digits=1, action=url, method="POST", timeout=8, action_on_empty_result=True)
        gather.say(PROMPT, voice="Polly.Zhiyu", language="cmn-CN")
        response.redirect(url, method="POST")
        return Response(str(response), mimetype="text/xml")

    return app
