"""The baseline for benchmarks/bench_ivr.py: a bare Flask endpoint returning a constant TwiML document of the same
shape as the survey's answer response (no signature check, no database)."""

from __future__ import annotations

from flask import Flask, Response

TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="http://127.0.0.1/ivr/t/item/efficiency?a=1&amp;'
    'n=0&amp;r=0" actionOnEmptyResult="true" method="POST" numDigits="1" timeout="8"><Say language="cmn-CN" '
    'voice="Polly.Zhiyu">第二题，办事效率。您对办事效率是否满意，有没有互相推诿、拖拉的情况？满意请按1，基本满意请按2，'
    '不满意请按3。</Say></Gather><Redirect method="POST">http://127.0.0.1/ivr/t/item/efficiency?a=1&amp;n=0&amp;r=0'
    "</Redirect></Response>"
)

app = Flask(__name__)


@app.post("/ivr/<token>/item/<item>")
def answer(token: str, item: str) -> Response:
    return Response(TWIML, mimetype="text/xml")
