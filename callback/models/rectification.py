"""Rectification cases (整改) and their audit trail (篇2 五; docs/architecture.md §Rectification cases).

A case is opened for a callback whose answers or suggestion show a problem, and must be fed back to the
citizen within 3 working days. States: open → rectified → feedback_given → closed, or open/rectified → closed
without feedback (篇2 五 "需要反馈的": a reason is required); "overdue" is not a state but a fact: ``due_at``
passed before feedback was given.

Alerts to the hall's supervisors (``Alert``, an outbox) and who receives them (``AlertRecipient``) live here too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callback.models.base import Base, created_at, hall_fk, intpk, updated_at
from callback.models.ledger import Window
from callback.models.survey import Callback

OPEN = "open"
RECTIFIED = "rectified"
FEEDBACK_GIVEN = "feedback_given"
CLOSED = "closed"
STATES = (OPEN, RECTIFIED, FEEDBACK_GIVEN, CLOSED)
AWAITING_FEEDBACK = (OPEN, RECTIFIED)


class Rectification(Base):
    """One case per callback that needs it. ``excerpt`` holds the answers and a transcript excerpt, never a phone
    number or a citizen's name. ``integrity`` cases are for supervisors only: never shown in a window's view."""

    __tablename__ = "rectifications"
    __table_args__ = (Index("ix_rectifications_deadline", "state", "due_at"),)
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"), unique=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id"), index=True)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    integrity: Mapped[bool] = mapped_column(Boolean, default=False)
    excerpt: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(20), default=OPEN)
    opened_at: Mapped[datetime]
    due_at: Mapped[datetime]  # end of the 3rd working day after the opening day (Asia/Shanghai), stored UTC
    due_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    remind_at: Mapped[datetime]  # start of the working day before the due day
    reminded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    action: Mapped[str | None] = mapped_column(Text)
    rectified_at: Mapped[datetime | None]
    rectified_by: Mapped[str | None] = mapped_column(String(100))
    feedback: Mapped[str | None] = mapped_column(Text)
    feedback_via: Mapped[str | None] = mapped_column(String(8))  # sms | phone
    feedback_at: Mapped[datetime | None]
    feedback_by: Mapped[str | None] = mapped_column(String(100))
    feedback_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(100))
    revisit_callback_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id"))
    revisit_rating: Mapped[str | None] = mapped_column(String(1))  # overall S/B/U of the 二次回访
    revisit_linked_at: Mapped[datetime | None]  # when the revisit's outcome was first known: its 篇3 (五)2 month
    # 篇3 (五)2: the first callback was not satisfied, so a 二次回访 is due (placed after feedback, on a close
    # without feedback, or when the case is overdue — callback.rectification.services.place_due_revisits)
    revisit_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    revisit_skipped: Mapped[str | None] = mapped_column(String(40))  # why a due revisit could not be placed
    closed_without_feedback: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    close_reason: Mapped[str | None] = mapped_column(Text)  # required when closed without feedback
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    callback: Mapped[Callback] = relationship(foreign_keys=[callback_id])
    revisit_callback: Mapped[Callback | None] = relationship(foreign_keys=[revisit_callback_id])
    window: Mapped[Window] = relationship()
    events: Mapped[list[RectificationEvent]] = relationship(
        back_populates="rectification", order_by="RectificationEvent.id"
    )


class RectificationEvent(Base):
    """Audit row for every transition, reminder, escalation and alert: who, when, what.

    ``audience`` says who may read it: ``window`` (the window lead) or ``supervisors`` only.
    """

    __tablename__ = "rectification_events"
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    rectification_id: Mapped[int] = mapped_column(ForeignKey("rectifications.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    audience: Mapped[str] = mapped_column(String(16), default="window")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    rectification: Mapped[Rectification] = relationship(back_populates="events")


INTEGRITY_ALERT = "integrity"  # 篇2 二五: at once
DUE_TOMORROW = "due_tomorrow"  # once, on the working day before the due day
OVERDUE = "overdue"  # once every working day while overdue without feedback
ALERT_KINDS = (INTEGRITY_ALERT, DUE_TOMORROW, OVERDUE)

PENDING = "pending"  # a channel's delivery is still to do
SENT = "sent"
FAILED = "failed"  # given up after the retries
SKIPPED = "skipped"  # nobody to send to on this channel, or the channel is not configured


class AlertRecipient(Base):
    """A supervisor of the hall who receives alerts: by SMS to ``mobile`` (E.164), by e-mail to ``email``, for
    the ``kinds`` listed (a subset of ``ALERT_KINDS``). Staff contact data, never a citizen's."""

    __tablename__ = "alert_recipients"
    __table_args__ = (UniqueConstraint("hall_id", "name"),)
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    name: Mapped[str] = mapped_column(String(100))
    mobile: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    kinds: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class Alert(Base):
    """One alert about a case, written before anything is sent (an outbox): unique per (case, kind, local day),
    so it is sent once however often the beat runs. ``subject`` and ``body`` name the window, the case number and
    its deadline — never a citizen's name or number. Each channel has its own status (``PENDING`` … ``SKIPPED``);
    ``delivered`` lists the recipient ids each channel reached (``{"email": [..], "sms": [..]}``)."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("rectification_id", "kind", "day"),
        Index("ix_alerts_pending", "email_status", "sms_status"),
    )
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    rectification_id: Mapped[int] = mapped_column(ForeignKey("rectifications.id"))
    kind: Mapped[str] = mapped_column(String(20))
    day: Mapped[date] = mapped_column(Date)  # the hall's local day the alert is for
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    email_status: Mapped[str] = mapped_column(String(10), default=PENDING)
    email_sent_at: Mapped[datetime | None]
    sms_status: Mapped[str] = mapped_column(String(10), default=PENDING)
    sms_sent_at: Mapped[datetime | None]
    delivered: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at]
