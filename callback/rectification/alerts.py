"""Alerts to the hall's supervisors (督查科): an outbox, the people who receive it, and its delivery by SMS and e-mail
(docs/architecture.md §Rectification cases).

What is alerted (callback.rectification.services decides when): an integrity report at once (篇2 二五), a case due
at the end of the next working day, and an overdue case without feedback once every working day. Each alert is an
`Alert` row unique per (case, kind, local day), written before anything is sent; `deliver_alerts` then sends it to
the hall's `AlertRecipient` rows that asked for its kind — one e-mail to all their addresses over SMTP (stdlib
``smtplib``), and one SMS to each mobile through the telephony provider the caller passes (inside SMS hours only;
outside them the SMS waits). A channel that is sent is never sent again, so running delivery twice sends nothing.

An alert names the window, the case number (整改#) and the deadline — never a citizen's name or number: the
supervisor opens the case (`callback rectifications`) to see what was said.

Delivery is at least once per channel: a crash after the SMTP server or the provider accepted a message but
before the transaction committed sends it again on the next run. Errors are retried on the next runs, at most
``ALERT_ATTEMPTS`` times (a permanent provider error at once), then the channel is ``failed``.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.models import AuditEvent, Hall
from callback.models.rectification import (
    ALERT_KINDS,
    DUE_TOMORROW,
    FAILED,
    INTEGRITY_ALERT,
    OVERDUE,
    PENDING,
    SENT,
    SKIPPED,
    Alert,
    AlertRecipient,
    Rectification,
)
from callback.telephony import Provider, ProviderError, SmsRequest
from survey.privacy import mask_phone

if TYPE_CHECKING:
    from callback.calendar.policy import CallingPolicy
    from callback.calendar.services import WorkingCalendar

log = logging.getLogger(__name__)

ALERT_ATTEMPTS = 5
SMTP_TIMEOUT = 20  # seconds
KIND_LABELS = {INTEGRITY_ALERT: "廉洁问题反映", DUE_TOMORROW: "整改明日到期", OVERDUE: "整改超期未反馈"}


class AlertConfigError(ValueError):
    """A recipient that cannot be stored as given; the message is for people (Simplified Chinese)."""


# --- the outbox ------------------------------------------------------------------------------------------------


def queue_alert(
    session: Session, case: Rectification, kind: str, day: date, subject: str, body: str
) -> Alert | None:
    """Write the alert about ``case`` for the hall's local ``day`` unless it exists (unique per case, kind and
    day). ``subject`` and ``body`` (the SMS text) must hold no citizen's name or number. Returns the new row, or
    None when it was already queued. Does not commit."""
    if kind not in ALERT_KINDS:
        raise ValueError(f"unknown alert kind {kind!r}")
    exists = select(Alert.id).where(Alert.rectification_id == case.id, Alert.kind == kind, Alert.day == day)
    if session.scalar(exists) is not None:
        return None
    alert = Alert(hall_id=case.hall_id, rectification_id=case.id, kind=kind, day=day, subject=subject[:200],
                  body=body, email_status=PENDING, sms_status=PENDING, delivered={}, attempts=0)
    session.add(alert)
    session.flush()
    return alert


# --- recipients ------------------------------------------------------------------------------------------------

_MOBILE = re.compile(r"1[3-9]\d{9}")
_EMAIL = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]+")


def normalise_mobile(value: str | None) -> str | None:
    """A mainland mobile as E.164 (+86…); spaces and dashes and a +86/0086/86 prefix are accepted."""
    if value is None or not value.strip():
        return None
    digits = re.sub(r"[\s\-()]", "", value.strip()).translate(str.maketrans("０１２３４５６７８９＋", "0123456789+"))
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
    if not _MOBILE.fullmatch(digits):
        raise AlertConfigError(f"手机号码不正确：{mask_phone(value)}（须为 11 位大陆手机号）")
    return "+86" + digits


def normalise_email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise AlertConfigError(f"电子邮箱地址不正确：{value!r}")
    return value


def parse_kinds(value: str | Sequence[str] | None) -> list[str]:
    """``integrity,due_tomorrow,overdue`` (or a list); empty: every kind."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    kinds = [k.strip() for k in items if k and k.strip()]
    unknown = [k for k in kinds if k not in ALERT_KINDS]
    if unknown:
        raise AlertConfigError(f"未知的提醒类型：{'、'.join(unknown)}（可选：{', '.join(ALERT_KINDS)}）")
    return [k for k in ALERT_KINDS if k in kinds] if kinds else list(ALERT_KINDS)


def add_recipient(
    session: Session,
    hall: Hall,
    *,
    name: str,
    mobile: str | None = None,
    email: str | None = None,
    kinds: str | Sequence[str] | None = None,
    actor: str,
) -> tuple[AlertRecipient, bool]:
    """Add a supervisor who receives the hall's alerts, or update the one of that name. Returns (row, created).
    Audited (the mobile masked)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise AlertConfigError("姓名不能为空，且不超过 100 个字符")
    mobile, email, chosen = normalise_mobile(mobile), normalise_email(email), parse_kinds(kinds)
    if mobile is None and email is None:
        raise AlertConfigError("请至少给出手机号（--mobile）或电子邮箱（--email）之一")
    row = session.scalar(select(AlertRecipient).where(AlertRecipient.hall_id == hall.id, AlertRecipient.name == name))
    created = row is None
    if row is None:
        row = AlertRecipient(hall_id=hall.id, name=name)
        session.add(row)
    row.mobile, row.email, row.kinds = mobile, email, chosen
    session.flush()
    _audit(session, hall, actor, "added" if created else "updated", row)
    return row, created


def list_recipients(session: Session, hall: Hall, kind: str | None = None) -> list[AlertRecipient]:
    """The hall's recipients (of one ``kind`` when given), by id."""
    rows = session.scalars(select(AlertRecipient).where(AlertRecipient.hall_id == hall.id).order_by(AlertRecipient.id))
    return [r for r in rows if kind is None or kind in (r.kinds or [])]


def remove_recipient(session: Session, hall: Hall, ref: str, *, actor: str) -> AlertRecipient:
    """Remove a recipient by id or by name; audited."""
    query = select(AlertRecipient).where(AlertRecipient.hall_id == hall.id)
    row = session.scalar(query.where(AlertRecipient.name == ref.strip()))
    if row is None and ref.strip().isdigit():
        row = session.scalar(query.where(AlertRecipient.id == int(ref)))
    if row is None:
        raise AlertConfigError(f"找不到提醒接收人 {ref!r}")
    _audit(session, hall, actor, "removed", row)
    session.delete(row)
    session.flush()
    return row


def recipient_summary(row: AlertRecipient) -> dict[str, object]:
    """What `callback hall alerts list` shows: the mobile masked (138****5678)."""
    return {"id": row.id, "name": row.name, "mobile": mask_phone(row.mobile) if row.mobile else None,
            "email": row.email, "kinds": list(row.kinds or [])}


def _audit(session: Session, hall: Hall, actor: str, action: str, row: AlertRecipient) -> None:
    session.add(AuditEvent(hall_id=hall.id, actor=actor, entity="alert_recipient", entity_id=row.id, action=action,
                           detail=recipient_summary(row)))


# --- delivery --------------------------------------------------------------------------------------------------


class Mailer(Protocol):
    """Sends one e-mail to several addresses; raises ``smtplib.SMTPException`` or ``OSError`` when it cannot."""

    def send(self, to: Sequence[str], subject: str, body: str) -> None: ...


class SmtpMailer:
    """E-mail over SMTP (SMTP_HOST, SMTP_PORT, SMTP_FROM, SMTP_USER, SMTP_PASSWORD): implicit TLS on port 465,
    STARTTLS when the server offers it, a login when a user is set."""

    def __init__(self, settings: Settings) -> None:
        self.host, self.port = settings.smtp_host, settings.smtp_port
        self.sender, self.user, self.password = settings.smtp_from, settings.smtp_user, settings.smtp_password

    def send(self, to: Sequence[str], subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, ", ".join(to), subject
        message["Date"], message["Message-ID"] = formatdate(localtime=False), make_msgid(domain="callback.local")
        message.set_content(body)
        with self._connect() as smtp:
            if self.port != 465 and smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(message)

    def _connect(self) -> smtplib.SMTP:
        if self.port == 465:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=SMTP_TIMEOUT, context=ssl.create_default_context())
        smtp = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT)
        smtp.ehlo()
        return smtp


def mailer_from_settings(settings: Settings) -> Mailer | None:
    """The SMTP mailer, or None when SMTP_HOST is not set (e-mail alerts are then skipped)."""
    return SmtpMailer(settings) if settings.smtp_host else None


@dataclass(frozen=True)
class DeliveryRun:
    """What one `deliver_alerts` sent: alert ids per channel, and the SMS count (one per mobile)."""

    emailed: list[int]
    texted: list[int]
    texts: int
    waiting: list[int]  # SMS held back until SMS hours
    failed: list[int]


def deliver_alerts(
    session: Session,
    now: datetime,
    *,
    settings: Settings,
    provider: Provider | None,
    mailer: Mailer | None,
    limit: int = 200,
) -> DeliveryRun:
    """Send what is pending in the outbox, oldest first (claimed FOR UPDATE SKIP LOCKED). Does not commit: the
    caller commits after each run, so a second run finds every sent channel marked and sends nothing."""
    from callback.calendar.services import load_calendar

    pending = session.scalars(
        select(Alert).where(or_(Alert.email_status == PENDING, Alert.sms_status == PENDING))
        .order_by(Alert.id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    run = _Run()
    if not pending:
        return DeliveryRun([], [], 0, [], [])
    calendar = load_calendar(session)
    for alert in pending:
        recipients = _recipients_for(session, alert)
        if _email(alert, recipients, mailer, now):
            run.emailed.append(alert.id)
        run.texts += _sms(session, alert, recipients, provider, settings, calendar, now, run)
        if FAILED in (alert.email_status, alert.sms_status):
            run.failed.append(alert.id)
    session.flush()
    return DeliveryRun(run.emailed, run.texted, run.texts, run.waiting, run.failed)


@dataclass
class _Run:
    emailed: list[int] = field(default_factory=list)
    texted: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    texts: int = 0


def _recipients_for(session: Session, alert: Alert) -> list[AlertRecipient]:
    rows = session.scalars(select(AlertRecipient).where(AlertRecipient.hall_id == alert.hall_id)
                           .order_by(AlertRecipient.id))
    return [r for r in rows if alert.kind in (r.kinds or [])]


def _email(alert: Alert, recipients: list[AlertRecipient], mailer: Mailer | None, now: datetime) -> bool:
    """Send the alert's one e-mail to every address; True when it went out now."""
    if alert.email_status != PENDING:
        return False
    with_email = [r for r in recipients if r.email]
    if not with_email or mailer is None:
        alert.email_status = SKIPPED
        return False
    try:
        mailer.send([r.email for r in with_email if r.email], alert.subject, alert.body)
    except (smtplib.SMTPException, OSError) as exc:
        _failed_attempt(alert, "email", f"SMTP: {exc}", permanent=False)
        return False
    alert.email_status, alert.email_sent_at = SENT, now
    alert.delivered = {**(alert.delivered or {}), "email": [r.id for r in with_email]}
    return True


def _sms(
    session: Session,
    alert: Alert,
    recipients: list[AlertRecipient],
    provider: Provider | None,
    settings: Settings,
    calendar: WorkingCalendar,
    now: datetime,
    run: _Run,
) -> int:
    """Text every mobile not reached yet, inside SMS hours; returns how many texts went out now."""
    if alert.sms_status != PENDING:
        return 0
    targets = [r for r in recipients if r.mobile]
    if not targets or provider is None:
        alert.sms_status = SKIPPED
        return 0
    if not _policy(session, settings, calendar, alert.hall_id).may_sms(now):
        run.waiting.append(alert.id)
        return 0
    done = list((alert.delivered or {}).get("sms", []))
    sent = 0
    for recipient in (r for r in targets if r.id not in done):
        if not _text_one(alert, recipient, provider, settings):
            break
        done.append(recipient.id)
        alert.delivered = {**(alert.delivered or {}), "sms": list(done)}
        sent += 1
    if all(r.id in done for r in targets):
        alert.sms_status, alert.sms_sent_at = SENT, now
        run.texted.append(alert.id)
    return sent


def _text_one(alert: Alert, recipient: AlertRecipient, provider: Provider, settings: Settings) -> bool:
    request = SmsRequest(to=recipient.mobile or "", from_=settings.twilio_from, body=alert.body,
                         status_callback=f"{settings.public_base_url.rstrip('/')}/sms/status")
    try:
        provider.send_sms(request)
    except ProviderError as exc:
        _failed_attempt(alert, "sms", f"SMS to {mask_phone(recipient.mobile)}: {exc}", permanent=not exc.transient)
        return False
    return True


def _failed_attempt(alert: Alert, channel: str, error: str, *, permanent: bool) -> None:
    alert.attempts = (alert.attempts or 0) + 1
    alert.error = error[:500]
    if permanent or alert.attempts >= ALERT_ATTEMPTS:
        setattr(alert, f"{channel}_status", FAILED)
    log.warning("alert #%s (%s) %s not sent (attempt %s): %s", alert.id, alert.kind, channel, alert.attempts, error)


def _policy(session: Session, settings: Settings, calendar: WorkingCalendar, hall_id: int) -> CallingPolicy:
    from callback.calendar.policy import CallingPolicy

    hall = session.get(Hall, hall_id)
    return CallingPolicy.from_settings(settings, calendar, hall.timezone if hall and hall.timezone else None)
