"""Alerts reach people (篇2 二五 at once; 篇2 五 due tomorrow and overdue, once a working day): an `Alert` outbox row
per case, kind and day, sent once by e-mail over real SMTP (a local aiosmtpd server on a free loopback port) and by
SMS through the provider, inside SMS hours, to the supervisors configured for the hall — never with a citizen's
name or number in it."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message as EmailMessage
from email.policy import default as email_policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.models import Case, Contact, Hall
from callback.models.rectification import Alert, AlertRecipient, Rectification
from callback.rectification.alerts import (
    ALERT_ATTEMPTS,
    SmtpMailer,
    add_recipient,
    deliver_alerts,
    mailer_from_settings,
)
from callback.rectification.services import open_for_callback, run_deadlines
from callback.telephony import MockProvider, ProviderError, SmsRequest
from tests.callback.rectification.test_rectification import ALL_GOOD, make_callback, texts_only
from tests.factories import make_hall

PHONE = "+8613912345678"
SUGGESTION = "窗口的人让我另外给钱，我电话13912345678"
INTEGRITY = ALL_GOOD | {"integrity": "Y", "overall": "U"}
# Wed 2026-11-04 10:00 Shanghai: a working day inside SMS hours (08:00–20:00). A case opened then is due at the
# end of Mon 11-09 (Thu, Fri, Mon).
OPENED = datetime(2026, 11, 4, 2, 0, tzinfo=UTC)


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC) - timedelta(hours=8)


# --- a local SMTP server ---------------------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(e.original_content, policy=email_policy) for e in self.envelopes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def settings_for(port: int, **overrides: object) -> Settings:
    return Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_from="callback@hall.example", **overrides)


# --- building blocks -------------------------------------------------------------------------------------------


def supervisors(session: Session) -> Hall:
    """王主任 gets every alert by SMS and e-mail, 李科长 integrity and overdue alerts by e-mail only, 赵干事 only
    overdue ones by SMS."""
    hall = make_hall(session)
    add_recipient(session, hall, name="王主任", mobile="139-0000-0001", email="wang@hall.example", actor="t")
    add_recipient(session, hall, name="李科长", email="li@hall.example", kinds="integrity,overdue", actor="t")
    add_recipient(session, hall, name="赵干事", mobile="13900000003", kinds=["overdue"], actor="t")
    return hall


def open_case(session: Session, answers: dict[str, str], at: datetime = OPENED) -> Rectification:
    case = open_for_callback(session, make_callback(session, answers, suggestion=SUGGESTION, phone=PHONE), at)
    assert case is not None
    return case


def deliver(session: Session, settings: Settings, provider: MockProvider, at: datetime):  # noqa: ANN201
    return deliver_alerts(session, at, settings=settings, provider=provider, mailer=mailer_from_settings(settings))


def alerts_of(session: Session) -> list[Alert]:
    return list(session.scalars(select(Alert).order_by(Alert.id)))


# --- integrity: at once ----------------------------------------------------------------------------------------


def test_an_integrity_report_is_mailed_and_texted_once(session: Session, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings, provider = settings_for(port), MockProvider(texts_only)
    supervisors(session)
    case = open_case(session, INTEGRITY)
    [alert] = alerts_of(session)
    assert (alert.kind, alert.rectification_id, alert.email_status, alert.sms_status) == (
        "integrity", case.id, "pending", "pending")

    run = deliver(session, settings, provider, OPENED + timedelta(seconds=30))
    assert (run.emailed, run.texted, run.texts) == ([alert.id], [alert.id], 1)
    [mail] = inbox.messages()
    assert sorted(inbox.envelopes[0].rcpt_tos) == ["li@hall.example", "wang@hall.example"]
    assert mail["Subject"] == f"【廉洁问题反映】市场监管窗口 整改#{case.id}"
    assert mail["From"] == "callback@hall.example"
    assert f"整改#{case.id}" in mail.get_content() and "廉洁自律" in mail.get_content()
    [text] = provider.texts()
    assert isinstance(text, SmsRequest) and text.to == "+8613900000001" and text.body == alert.body
    assert (alert.email_status, alert.sms_status) == ("sent", "sent")

    # A second run, and the beat after it, send nothing: one mail, one text, one outbox row.
    again = deliver(session, settings, provider, OPENED + timedelta(minutes=1))
    assert (again.emailed, again.texts) == ([], 0)
    run_deadlines(session, OPENED + timedelta(minutes=2), settings=settings)
    deliver(session, settings, provider, OPENED + timedelta(minutes=3))
    assert len(inbox.envelopes) == 1 and len(provider.texts()) == 1 and len(alerts_of(session)) == 1


def test_no_citizen_name_or_number_in_any_alert(session: Session, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    provider = MockProvider(texts_only)
    supervisors(session)
    case = open_case(session, INTEGRITY)
    run_deadlines(session, shanghai(2026, 11, 10, 9, 0), settings=settings_for(port))  # overdue the day after
    deliver(session, settings_for(port), provider, shanghai(2026, 11, 10, 9, 1))
    applicant = session.get(Case, case.callback.case_id).applicant
    phone = session.get(Contact, case.callback.contact_id).phone
    secrets = {applicant, phone, phone[-11:], phone[-8:], "另外给钱"}
    written = [a.subject + a.body for a in alerts_of(session)]
    sent = [m.as_string() + m.get_content() for m in inbox.messages()] + [t.body for t in provider.texts()]
    assert len(written) == 2 and len(inbox.envelopes) == 2 and len(provider.texts()) == 3
    for text in written + sent:
        for secret in secrets:
            assert secret not in text


def test_an_sms_waits_for_sms_hours_the_e_mail_does_not(session: Session, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings, provider = settings_for(port), MockProvider(texts_only)
    supervisors(session)
    night = shanghai(2026, 11, 4, 22, 0)
    open_case(session, INTEGRITY, at=night)
    [alert] = alerts_of(session)
    run = deliver(session, settings, provider, night + timedelta(seconds=30))
    assert (run.emailed, run.waiting, provider.texts()) == ([alert.id], [alert.id], [])
    assert deliver(session, settings, provider, shanghai(2026, 11, 5, 7, 59)).texts == 0
    assert deliver(session, settings, provider, shanghai(2026, 11, 5, 8, 0)).texts == 1
    assert len(inbox.envelopes) == 1 and alert.sms_status == "sent"


# --- due tomorrow and overdue: once a working day ---------------------------------------------------------------


def test_due_tomorrow_then_overdue_every_working_day(session: Session, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings, provider = settings_for(port), MockProvider(texts_only)
    supervisors(session)
    case = open_case(session, ALL_GOOD | {"overall": "B"})  # due end of Mon 11-09

    def day(at: datetime) -> list[str]:
        run_deadlines(session, at, settings=settings)
        deliver(session, settings, provider, at + timedelta(minutes=1))
        return [a.kind for a in alerts_of(session)]

    assert day(shanghai(2026, 11, 5, 9)) == []  # Thu: due Monday, not tomorrow
    assert day(shanghai(2026, 11, 6, 7, 30)) == []  # Fri before SMS hours
    assert day(shanghai(2026, 11, 6, 9)) == ["due_tomorrow"]  # Fri: Monday is the next working day
    assert day(shanghai(2026, 11, 6, 15)) == ["due_tomorrow"]  # once a day
    assert day(shanghai(2026, 11, 7, 10)) == ["due_tomorrow"]  # Saturday: no alerts
    assert day(shanghai(2026, 11, 9, 9)) == ["due_tomorrow"]  # Monday: due today, not overdue
    assert day(shanghai(2026, 11, 10, 9)) == ["due_tomorrow", "overdue"]
    assert day(shanghai(2026, 11, 10, 16)) == ["due_tomorrow", "overdue"]
    assert day(shanghai(2026, 11, 11, 9)) == ["due_tomorrow", "overdue", "overdue"]
    # due_tomorrow to 王主任 (SMS, e-mail); each overdue to 王主任 and 李科长 (one e-mail), 王主任 and 赵干事 (SMS).
    assert len(inbox.envelopes) == 3
    assert [sorted(e.rcpt_tos) for e in inbox.envelopes] == [
        ["wang@hall.example"], ["li@hall.example", "wang@hall.example"], ["li@hall.example", "wang@hall.example"]]
    assert [t.to for t in provider.texts()] == ["+8613900000001"] + ["+8613900000001", "+8613900000003"] * 2
    assert {a.rectification_id for a in alerts_of(session)} == {case.id}


def test_feedback_ends_the_daily_alerts(session: Session, smtp: tuple[Inbox, int]) -> None:
    from callback.rectification.services import give_feedback, rectify

    _, port = smtp
    settings = settings_for(port)
    supervisors(session)
    case = open_case(session, ALL_GOOD | {"overall": "B"})
    run_deadlines(session, shanghai(2026, 11, 10, 9), settings=settings)
    rectify(session, case, "已整改", shanghai(2026, 11, 10, 10), actor="窗口")
    give_feedback(session, case, "已告知", shanghai(2026, 11, 10, 10), actor="窗口", via="phone", settings=settings)
    run_deadlines(session, shanghai(2026, 11, 11, 9), settings=settings)
    assert [a.kind for a in alerts_of(session)] == ["overdue"]


# --- failures and nobody to tell ---------------------------------------------------------------------------------


def test_an_unreachable_smtp_server_is_retried_then_given_up(session: Session) -> None:
    settings, provider = settings_for(free_port()), MockProvider(texts_only)  # nothing listens there
    supervisors(session)
    open_case(session, INTEGRITY)
    [alert] = alerts_of(session)
    for attempt in range(1, ALERT_ATTEMPTS + 1):
        run = deliver(session, settings, provider, OPENED + timedelta(minutes=attempt))
        assert run.emailed == [] and alert.attempts == attempt
    assert (alert.email_status, alert.sms_status) == ("failed", "sent") and "SMTP" in alert.error
    assert len(provider.texts()) == 1  # the SMS went on its own


def test_a_provider_error_is_retried_and_texts_already_sent_are_not_repeated(session: Session) -> None:
    provider = MockProvider(texts_only).fail_next(ProviderError("timeout", transient=True))
    settings = Settings()  # no SMTP: e-mail skipped
    hall = supervisors(session)
    add_recipient(session, hall, name="赵干事", mobile="13900000003", actor="t")  # now every kind
    open_case(session, INTEGRITY)
    [alert] = alerts_of(session)
    first = deliver(session, settings, provider, OPENED)
    assert (first.texts, alert.sms_status, alert.email_status, alert.attempts) == (0, "pending", "skipped", 1)
    second = deliver(session, settings, provider, OPENED + timedelta(minutes=1))
    assert second.texts == 2 and alert.sms_status == "sent"
    assert [t.to for t in provider.texts()] == ["+8613900000001", "+8613900000003"]
    assert alert.delivered == {"sms": [r.id for r in session.scalars(
        select(AlertRecipient).where(AlertRecipient.mobile.is_not(None)).order_by(AlertRecipient.id))]}


def test_without_recipients_nothing_is_sent_and_the_log_still_says_it(
    session: Session, smtp: tuple[Inbox, int], caplog: pytest.LogCaptureFixture
) -> None:
    inbox, port = smtp
    provider = MockProvider(texts_only)
    make_hall(session)
    with caplog.at_level("WARNING", logger="callback.rectification.services"):
        open_case(session, INTEGRITY)
    assert "廉洁自律问题反映" in caplog.text
    deliver(session, settings_for(port), provider, OPENED)
    [alert] = alerts_of(session)
    assert (alert.email_status, alert.sms_status) == ("skipped", "skipped")
    assert inbox.envelopes == [] and provider.texts() == []


# --- recipients from the command line ------------------------------------------------------------------------------


def _hall_cli(database_url: str, *args: str):  # noqa: ANN202
    from click.testing import CliRunner

    from callback.cli import main

    return CliRunner().invoke(main, ["hall", "alerts", *args], env={"DATABASE_URL": database_url,
                                                                   "DEFAULT_HALL": "DEMO"})


def test_cli_add_list_remove_recipients(session: Session, database_url: str) -> None:
    make_hall(session)
    session.commit()
    added = _hall_cli(database_url, "add", "--name", "王主任", "--mobile", "13900000001", "--email",
                      "wang@hall.example", "--actor", "管理员", "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.output) | {"id": 0} == {
        "id": 0, "name": "王主任", "mobile": "139****0001", "email": "wang@hall.example",
        "kinds": ["integrity", "due_tomorrow", "overdue"], "created": True}
    updated = _hall_cli(database_url, "add", "--name", "王主任", "--email", "w@hall.example", "--kinds", "overdue")
    assert updated.exit_code == 0 and "已更新" in updated.output
    listed = _hall_cli(database_url, "list")
    assert "王主任" in listed.output and "w@hall.example" in listed.output and "超期" in listed.output
    assert "13900000001" not in listed.output
    for bad, message in ((["--mobile", "12345"], "手机号码不正确"), (["--email", "not-an-address"], "电子邮箱"),
                         ([], "至少给出"), (["--email", "a@b.cn", "--kinds", "weekly"], "未知的提醒类型")):
        refused = _hall_cli(database_url, "add", "--name", "李科长", *bad)
        assert refused.exit_code == 2 and message in refused.output, refused.output
    assert _hall_cli(database_url, "remove", "王主任").exit_code == 0
    assert "还没有提醒接收人" in _hall_cli(database_url, "list").output
    missing = _hall_cli(database_url, "remove", "王主任")
    assert missing.exit_code == 2 and "找不到" in missing.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(AlertRecipient)) == 0


def test_the_mailer_speaks_smtp(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    SmtpMailer(settings_for(port)).send(["a@hall.example", "b@hall.example"], "主题", "正文：整改#1")
    [mail] = inbox.messages()
    assert mail["Subject"] == "主题" and mail.get_content().strip() == "正文：整改#1"
    assert inbox.envelopes[0].rcpt_tos == ["a@hall.example", "b@hall.example"]


# --- the worker --------------------------------------------------------------------------------------------------


def test_the_beat_task_sends_through_the_configured_provider(
    session: Session, database_url: str, smtp: tuple[Inbox, int], tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """worker.tasks.rectification_alerts with TELEPHONY=simulator: the simulator records the SMS, the SMTP server
    gets the mail; a second beat sends nothing."""
    import worker.tasks as tasks
    from ivr.provider import wait_until_idle
    from worker.celery_app import create_celery

    inbox, port = smtp
    monkeypatch.setenv("SIMULATOR_CITIZENS", str(tmp_path / "citizens.json"))
    settings = settings_for(port, database_url=database_url, sms_hours="00:00-24:00")
    supervisors(session)
    open_case(session, INTEGRITY, at=datetime.now(UTC))
    session.commit()
    app = create_celery(settings)
    app.set_current()
    tasks._provider.cache_clear()
    try:
        assert app.tasks["worker.tasks.rectification_alerts"].delay().get() == {"emailed": 1, "texts": 1, "waiting": 0}
        assert app.tasks["worker.tasks.rectification_alerts"].delay().get() == {"emailed": 0, "texts": 0, "waiting": 0}
        provider = tasks._provider(settings)
        wait_until_idle(provider, 10)
        assert [m.to for m in provider.outbox] == ["+8613900000001"]
    finally:
        tasks._provider.cache_clear()
    assert len(inbox.envelopes) == 1


def test_the_beat_sends_alerts_every_minute_and_runs_deadlines_every_quarter_hour() -> None:
    from worker.celery_app import beat_schedule

    schedule = beat_schedule()
    assert schedule["rectification-alerts"]["task"] == "worker.tasks.rectification_alerts"
    assert (schedule["rectification-alerts"]["schedule"], schedule["rectification-deadlines"]["schedule"]) == (60.0, 900.0)
