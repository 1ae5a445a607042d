"""Rectification cases (整改) and their audit trail (篇2 五; docs/architecture.md §Rectification cases).

A case is opened for a callback whose answers or suggestion show a problem, and must be fed back to the
citizen within 3 working days. States: open → rectified → feedback_given → closed; "overdue" is not a state
but a fact: ``due_at`` passed before feedback was given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
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
    revisit_linked_at: Mapped[datetime | None]
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
