"""No personal data in logs (docs/architecture.md §Privacy and security): a database error during a webhook
whose form carries the citizen's number becomes a bare 500, and neither stderr nor the log holds the number;
every engine hides SQL parameters."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from callback.db import get_engine
from tests.ivr.ivr_support import Caller, make_callback
from tests.ivr.sms_support import Citizen

PHONE = "+8613812345678"
SPELLINGS = (PHONE, "13812345678", "138 1234 5678", "138-1234-5678")


def failing_statement(session: Session, phone: str) -> None:
    """A real database error whose statement carries the phone number as a parameter."""
    session.execute(text("SELECT * FROM no_such_table WHERE phone = :phone"), {"phone": phone})


def assert_no_phone(*texts: str) -> None:
    for spelling in SPELLINGS:
        for logged in texts:
            assert spelling not in logged


def test_a_database_error_during_an_sms_webhook_logs_no_phone_number(
    app: Flask, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from ivr import sms_survey

    monkeypatch.setattr(sms_survey, "receive_sms", lambda session, sender, *_a: failing_statement(session, sender))
    caplog.set_level(logging.DEBUG)
    reply = Citizen(app.test_client(), PHONE).text("TD 我的电话是13812345678")
    assert reply.status == 500 and "服务器内部错误" in reply.xml
    out, err = capfd.readouterr()
    assert_no_phone(reply.xml, out, err, caplog.text)
    # One line that still says where it broke: the path without the query, and the exception's type.
    lines = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(lines) == 1 and "/sms/inbound" in lines[0].getMessage()
    assert "ProgrammingError" in lines[0].getMessage() or "OperationalError" in lines[0].getMessage()
    assert lines[0].exc_info is None and "no_such_table" not in caplog.text


def test_a_database_error_during_a_status_callback_logs_no_phone_number(
    app: Flask, db: Session, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from ivr import status

    callback, attempt = make_callback(db, phone=PHONE)
    monkeypatch.setattr(status, "record_status", lambda session, *_a: failing_statement(session, PHONE))
    caplog.set_level(logging.DEBUG)
    response = Caller(app.test_client(), callback, attempt).status("completed", To=PHONE, Called=PHONE)
    assert response.status_code == 500
    out, err = capfd.readouterr()
    assert_no_phone(response.get_data(as_text=True), out, err, caplog.text)
    assert f"a={attempt.id}" not in caplog.text  # the path is logged without its query string


def test_the_engine_hides_sql_parameters(database_url: str) -> None:
    with pytest.raises(DBAPIError) as error, get_engine(database_url).connect() as connection:
        connection.execute(text("SELECT * FROM no_such_table WHERE phone = :phone"), {"phone": PHONE})
    assert_no_phone(str(error.value))
    assert "hide_parameters=True" in str(error.value)
