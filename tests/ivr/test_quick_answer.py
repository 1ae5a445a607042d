"""The one-statement hot path for item answers (ivr/quick_answer.py) against the general path (ivr/flow.py).

On PostgreSQL a plain valid key is saved by one autocommit statement; everything else — and every database that
is not PostgreSQL — goes through ``flow.handle_turn``. These tests hold the two paths to the same rules: the same
TwiML, the same answer row, the same transcript lines; and show the hot path writes nothing when it stands aside.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.db import autocommit_engine, session_factory
from callback.models import Answer, Attempt, Callback, TranscriptEvent, WebhookReceipt
from ivr import flow
from ivr.quick_answer import answer_in_one_statement
from tests.ivr.ivr_support import AUTH, BASE, NOW, Caller, count, make_app, make_callback

ITEMS = ["attitude", "efficiency", "by_the_rules", "in_hall", "integrity", "overall"]


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """These tests are about PostgreSQL's statement, so PostgreSQL only (the general path, all SQLite ever uses,
    is covered by test_flow.py on both; SQLite's refusal is tested below)."""
    from tests.conftest import _empty_pg

    _empty_pg(pg_database)
    autocommit_engine(pg_database).dispose()  # emptying the database ended the pool's connections
    yield pg_database


@pytest.fixture
def db(pg_url: str) -> Iterator[Session]:
    with session_factory(pg_url)() as s:
        yield s


def settings(url: str) -> Settings:
    return Settings.from_env(database_url=url, public_base_url=BASE, twilio_auth_token=AUTH)


def in_survey(db: Session) -> tuple[Callback, Attempt]:
    callback, attempt = make_callback(db, state="in_survey")
    callback.flags = {"consent": True}
    db.commit()
    assert attempt is not None
    return callback, attempt


def turn(callback: Callback, attempt: Attempt, item: str, key: str, **extra: object) -> flow.VoiceTurn:
    url = f"{BASE}/ivr/{callback.token}/item/{item}?a={attempt.id}&n=0&r=0"
    fields = {"token": callback.token, "step": "item", "item": item, "call_sid": attempt.provider_call_id,
              "attempt_id": attempt.id, "digits": key, "url": url, **extra}
    return flow.VoiceTurn(**fields)  # type: ignore[arg-type]


def lines(db: Session, callback: Callback) -> list[tuple[str, str, dict, object, object]]:
    db.expire_all()
    rows = db.scalars(select(TranscriptEvent).where(TranscriptEvent.callback_id == callback.id)
                      .order_by(TranscriptEvent.id))
    return [(e.kind, e.text, e.data, e.at, e.hall_id) for e in rows]


def neutral(xml: str, callback: Callback, attempt: Attempt) -> str:
    return xml.replace(callback.token, "<token>").replace(f"a={attempt.id}", "a=<attempt>")


@pytest.mark.parametrize("key", ["1", "2", "3"])
def test_every_item_answered_by_either_path_gives_the_same_twiml_rows_and_transcript(
    pg_url: str, db: Session, key: str
) -> None:
    quick, quick_attempt = in_survey(db)
    general, general_attempt = in_survey(db)
    engine, config = autocommit_engine(pg_url), settings(pg_url)
    for item in ITEMS:
        press = {"in_hall": "2" if key == "3" else key, "integrity": "1"}.get(item, key)  # yes/no: keys 1, 2
        fast = answer_in_one_statement(engine, turn(quick, quick_attempt, item, press), config, NOW)
        assert fast is not None, f"{item}: the hot path stood aside"
        slow = flow.handle_turn(db, turn(general, general_attempt, item, press), config, NOW)
        db.commit()
        assert neutral(str(fast), quick, quick_attempt) == neutral(str(slow), general, general_attempt)
    rows = {cb.id: {a.item: (a.key, a.value, a.channel) for a in db.scalars(
        select(Answer).where(Answer.callback_id == cb.id))} for cb in (quick, general)}
    assert rows[quick.id] == rows[general.id] and len(rows[quick.id]) == 6
    assert [line[:4] for line in lines(db, quick)] == [line[:4] for line in lines(db, general)]
    assert {line[4] for line in lines(db, quick)} == {quick.hall_id}


def test_a_repeated_delivery_is_left_to_the_general_path_and_writes_nothing(pg_url: str, db: Session) -> None:
    callback, attempt = in_survey(db)
    engine, config = autocommit_engine(pg_url), settings(pg_url)
    assert answer_in_one_statement(engine, turn(callback, attempt, "attitude", "2"), config, NOW) is not None
    before = (count(db, TranscriptEvent), count(db, WebhookReceipt), count(db, Answer))
    assert answer_in_one_statement(engine, turn(callback, attempt, "attitude", "2"), config, NOW) is None
    db.expire_all()
    assert (count(db, TranscriptEvent), count(db, WebhookReceipt), count(db, Answer)) == before


@pytest.mark.parametrize("change", ["hung_up", "other_call", "other_attempt", "unknown_token"])
def test_it_stands_aside_unless_the_callback_is_in_a_survey_on_that_call(
    pg_url: str, db: Session, change: str
) -> None:
    callback, attempt = in_survey(db)
    this = turn(callback, attempt, "attitude", "1")
    if change == "hung_up":
        callback.state = "partial"
        db.commit()
    elif change == "other_call":
        this = turn(callback, attempt, "attitude", "1", call_sid="CA" + "f" * 32)
    elif change == "other_attempt":
        _, stranger = in_survey(db)
        this = turn(callback, attempt, "attitude", "1", attempt_id=stranger.id)
    else:
        this = turn(callback, attempt, "attitude", "1", token="no-such-token")
    assert answer_in_one_statement(autocommit_engine(pg_url), this, settings(pg_url), NOW) is None
    db.expire_all()
    assert count(db, Answer) == count(db, TranscriptEvent) == count(db, WebhookReceipt) == 0


@pytest.mark.parametrize(("item", "key"), [("attitude", "*"), ("attitude", ""), ("attitude", "7"),
                                           ("integrity", "2"), ("in_hall", "3"),
                                           ("nonsense", "1")])
def test_turns_that_are_not_a_plain_answer_never_take_the_hot_path(
    pg_url: str, db: Session, item: str, key: str
) -> None:
    callback, attempt = in_survey(db)
    assert answer_in_one_statement(autocommit_engine(pg_url), turn(callback, attempt, item, key),
                                   settings(pg_url), NOW) is None
    db.expire_all()
    assert count(db, WebhookReceipt) == 0


def test_a_dead_connection_falls_back_and_the_pool_recovers(pg_url: str, db: Session) -> None:
    callback, attempt = in_survey(db)
    engine, config = autocommit_engine(pg_url), settings(pg_url)
    assert answer_in_one_statement(engine, turn(callback, attempt, "attitude", "1"), config, NOW) is not None
    db.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"))  # like a server restart
    db.rollback()
    assert answer_in_one_statement(engine, turn(callback, attempt, "efficiency", "1"), config, NOW) is None
    assert answer_in_one_statement(engine, turn(callback, attempt, "efficiency", "1"), config, NOW) is not None


def test_sqlite_always_takes_the_general_path(tmp_path, pg_url: str, db: Session) -> None:  # noqa: ANN001
    callback, attempt = in_survey(db)
    sqlite = autocommit_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert answer_in_one_statement(sqlite, turn(callback, attempt, "attitude", "1"), settings(pg_url), NOW) is None


def test_an_unreachable_server_is_no_crash(pg_url: str, db: Session) -> None:
    callback, attempt = in_survey(db)
    dead = autocommit_engine("postgresql://postgres@127.0.0.1:1/nowhere")
    assert answer_in_one_statement(dead, turn(callback, attempt, "attitude", "1"), settings(pg_url), NOW) is None


def test_the_webhook_answers_through_the_hot_path_and_the_answer_is_committed(pg_url: str, db: Session) -> None:
    callback, attempt = in_survey(db)
    caller = Caller(make_app(pg_url).test_client(), callback, attempt)
    url = f"{BASE}/ivr/{callback.token}/item/attitude?a={attempt.id}&n=0&r=0"
    twiml = caller.turn(url, Digits="3")
    assert twiml.gather is not None and "item/efficiency" in twiml.next_url
    with session_factory(pg_url)() as other:  # another connection sees it: committed, not just flushed
        saved = other.scalars(select(Answer).where(Answer.callback_id == callback.id)).one()
    assert (saved.item, saved.key, saved.value) == ("attitude", "3", "U")
