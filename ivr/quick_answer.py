"""The survey's hot path: a key that answers an item, saved in one PostgreSQL statement (issue 4 "Benchmark").

Most webhook requests of a call are the six item answers. Their rules are those of ivr/flow.py — the same answer
value, the same transcript lines, the same next prompt, built by the same functions — but instead of four
round trips and a separate COMMIT, one statement, executed on its own (its implicit transaction is durably
committed before the TwiML goes back), does what the general path does for such a turn:

* locks the callback (``FOR UPDATE``) and checks it is in a survey on the attempt the URL names, with that call;
* records the delivery key (``INSERT … ON CONFLICT DO NOTHING`` — the atomic de-duplication of ivr/receipts.py);
* upserts the answer and appends the transcript lines, in order — only if the delivery was the first.

Whenever that does not hold — another state (a late answer after hang-up), a repeated delivery, an unknown
attempt, SQLite — the statement changes nothing and the turn goes to ``flow.handle_turn``, which knows every case.
Turns that are not a plain valid answer (``*``, silence, a wrong key, a 廉洁自律 "yes" that alerts supervisors)
never take this path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from twilio.twiml.voice_response import VoiceResponse

from callback.config import Settings
from callback.models import utcnow
from ivr.flow import VoiceTurn, answer_value, ask_after, key_event, render_prompt
from ivr.prompts import Catalog, Prompt, load_catalog
from ivr.urls import webhook_url
from survey.questionnaire import ITEMS_BY_CODE, interpret_key

SAVE_ANSWER = """
WITH cb AS (
    SELECT c.id, c.hall_id
    FROM callbacks c JOIN attempts a ON a.callback_id = c.id
    WHERE c.token = %(token)s AND c.state = 'in_survey' AND a.id = %(attempt_id)s AND a.provider_call_id = %(call_sid)s
    FOR UPDATE OF c
), receipt AS (
    INSERT INTO webhook_receipts (key, received_at)
    SELECT %(delivery_key)s, %(received_at)s FROM cb
    ON CONFLICT (key) DO NOTHING
    RETURNING id
), answer AS (
    INSERT INTO answers (hall_id, callback_id, item, value, key, channel, created_at, updated_at)
    SELECT cb.hall_id, cb.id, %(item)s, %(value)s, %(key)s, 'voice', %(at)s, %(at)s FROM cb, receipt
    ON CONFLICT (callback_id, item) DO UPDATE
        SET value = excluded.value, key = excluded.key, channel = excluded.channel, updated_at = excluded.updated_at
    RETURNING id
), events AS (
    INSERT INTO transcript_events (hall_id, callback_id, attempt_id, at, kind, text, data)
    SELECT cb.hall_id, cb.id, %(attempt_id)s, %(at)s, l.kind, l.text, l.data
    FROM cb, receipt, jsonb_array_elements(%(lines)s::jsonb) WITH ORDINALITY AS e(line, position),
         jsonb_to_record(e.line) AS l(kind text, text text, data jsonb)
    ORDER BY e.position
    RETURNING id
)
SELECT (SELECT count(*) FROM answer) + (SELECT count(*) FROM events)
"""


@dataclass
class _Script:
    """Builds the next TwiML like flow's turn context does, collecting the transcript lines instead of adding them
    to a session (flow.Voice)."""

    settings: Settings
    catalog: Catalog
    token: str
    attempt_id: int
    lines: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def url(self, path: str, **params: object) -> str:
        return webhook_url(self.settings, self.token, path, a=self.attempt_id, **params)

    def speak(self, node: Any, key: str, **values: str) -> Prompt:
        prompt = render_prompt(node, self.catalog, self.settings, key, **values)
        self.lines.append(("prompt", prompt.text, {"prompt": key}))
        return prompt


def answer_in_one_statement(
    engine: Engine, turn: VoiceTurn, settings: Settings, now: datetime, catalog: Catalog | None = None
) -> VoiceResponse | None:
    """The TwiML for the next question if this turn was a plain answer and is now saved; None → use the general
    path (nothing was written)."""
    item = ITEMS_BY_CODE.get(turn.item or "") if turn.step == "item" else None
    answer = interpret_key(item, turn.key) if item is not None and turn.key else None
    if (answer is None or answer.alert or turn.attempt_id is None or not turn.call_sid
            or engine.dialect.name != "postgresql"):
        return None
    script = _Script(settings, catalog or load_catalog(), turn.token, turn.attempt_id)
    script.lines.append(("key", *key_event(item, answer)))  # type: ignore[arg-type]
    response = ask_after(script, item)  # type: ignore[arg-type]
    params = {
        "token": turn.token, "attempt_id": turn.attempt_id, "call_sid": turn.call_sid,
        "delivery_key": turn.delivery_key, "received_at": utcnow(), "at": now,
        "item": item.code, "value": answer_value(answer), "key": answer.key,  # type: ignore[union-attr]
        "lines": json.dumps([{"kind": kind, "text": line, "data": data} for kind, line, data in script.lines],
                            ensure_ascii=False),
    }
    return response if _execute(engine, params) else None


def _execute(engine: Engine, params: dict[str, Any]) -> int:
    """Run the statement on a raw autocommit connection (callback.db.autocommit_engine); 0 if the database could
    not be reached — the general path then pings, reconnects and handles the turn."""
    try:
        connection = engine.raw_connection()
    except (DBAPIError, psycopg.OperationalError):  # the pool may hand on the driver's own error
        return 0
    try:
        row = connection.driver_connection.execute(SAVE_ANSWER, params, prepare=True).fetchone()
    except psycopg.OperationalError:
        connection.invalidate()
        engine.dispose()  # a server restart kills every pooled connection: start the pool afresh
        return 0
    finally:
        connection.close()  # back to the pool (or discarded, when invalidated)
    return int(row[0]) if row else 0
