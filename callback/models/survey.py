"""Draws, callbacks, call attempts, answers, messages and the transcript.

The database is the source of truth (docs/architecture.md §Source of truth): each callback is a row with an
explicit state and a `next_action_at`; workers claim rows, never trust the broker.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callback.models.base import Base, created_at, hall_fk, intpk, short_str, updated_at


class Draw(Base):
    """A weekly random draw. At most one live (not superseded) draw per hall and ISO week."""

    __tablename__ = "draws"
    __table_args__ = (
        Index(
            "uq_draws_live_week",
            "hall_id",
            "week",
            unique=True,
            postgresql_where=text("superseded_at IS NULL"),
            sqlite_where=text("superseded_at IS NULL"),
        ),
    )
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    week: Mapped[str] = mapped_column(String(10))  # ISO week, e.g. 2026-W48
    drawn_at: Mapped[datetime]
    seed: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    per_window: Mapped[int | None]
    candidates: Mapped[int]
    excluded: Mapped[dict[str, Any]] = mapped_column(default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # ledger window, as-of time, cooldown, deny list
    sample_case_ids: Mapped[list[Any]] = mapped_column(default=list)
    reason: Mapped[str | None] = mapped_column(Text)  # why a redraw replaced the previous draw
    superseded_at: Mapped[datetime | None]
    created_at: Mapped[created_at]


class Callback(Base):
    """One questionnaire response, asked or still to ask: a drawn applicant to survey (by call, SMS or a staff
    member's own call), or an on-site form (征求意见表, channel ``onsite``: no draw, no case, no number).
    ``state`` is a `callback.responses.states.CallbackState`, changed only as that module's transition table
    allows (the diagram: docs/architecture.md §Callback states)."""

    __tablename__ = "callbacks"
    __table_args__ = (UniqueConstraint("draw_id", "case_id"), Index("ix_callbacks_due", "state", "next_action_at"))
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    draw_id: Mapped[int | None] = mapped_column(ForeignKey("draws.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)  # None: an on-site form
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)  # None: an on-site form
    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id"), index=True)
    week: Mapped[str] = mapped_column(String(10), index=True)
    state: Mapped[short_str] = mapped_column(default="drawn")
    outcome: Mapped[str | None] = mapped_column(String(32))  # AAPOR-style final disposition
    channel: Mapped[str] = mapped_column(String(8), default="voice")  # voice | sms | manual | onsite
    attempts_used: Mapped[int] = mapped_column(default=0)
    next_action_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]  # set when the dispatcher hands the callback to a worker
    token: Mapped[str] = mapped_column(String(32), unique=True)  # opaque id used in webhook URLs
    revisit_of_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id"))
    suggestion: Mapped[str | None] = mapped_column(Text)
    suggestion_confidence: Mapped[float | None]  # speech recogniser's confidence, 0..1 (voice only)
    recording_url: Mapped[str | None] = mapped_column(String(500))  # the suggestion as recorded, for listening
    recording_duration: Mapped[int | None]
    flags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    finished_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    answers: Mapped[list[Answer]] = relationship(back_populates="callback", order_by="Answer.id")
    attempts: Mapped[list[Attempt]] = relationship(back_populates="callback", order_by="Attempt.id")


class Attempt(Base):
    """One outbound call. It counts as an attempt only once the provider accepted it (provider_call_id set)."""

    __tablename__ = "attempts"
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"), index=True)
    number: Mapped[int]
    provider_call_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    answered_by: Mapped[str | None] = mapped_column(String(32))
    last_sequence: Mapped[int] = mapped_column(default=-1)
    disposition: Mapped[str | None] = mapped_column(String(20))  # no_answer | busy | failed | machine | answered
    error: Mapped[str | None] = mapped_column(Text)
    placed_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration: Mapped[int | None]
    created_at: Mapped[created_at]

    callback: Mapped[Callback] = relationship(back_populates="attempts")


class Answer(Base):
    """One survey item's answer, saved the moment it arrives. Corrections keep the original (audited):
    ``callback.responses.corrections.correct_answer`` keeps the answer as first given in ``original_value`` /
    ``original_key`` (set once, at the first correction) and who, when and why of the latest correction beside it;
    every correction is an audit event as well."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("callback_id", "item"),)
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"), index=True)
    item: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(8))  # S/B/U for ratings, Y/N for yes-no items
    key: Mapped[str | None] = mapped_column(String(4))
    channel: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
    original_value: Mapped[str | None] = mapped_column(String(8))  # None: never corrected
    original_key: Mapped[str | None] = mapped_column(String(4))
    corrected_at: Mapped[datetime | None]
    corrected_by: Mapped[str | None] = mapped_column(String(100))
    correction_reason: Mapped[str | None] = mapped_column(Text)  # numbers in it masked when written

    callback: Mapped[Callback] = relationship(back_populates="answers")


class Message(Base):
    """An SMS in or out. Provider ids are unique so a retried webhook cannot store a reply twice."""

    __tablename__ = "messages"
    id: Mapped[intpk]
    hall_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"), index=True)
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id"), index=True)
    direction: Mapped[str] = mapped_column(String(4))  # in | out
    purpose: Mapped[str] = mapped_column(String(20), default="survey")
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class TranscriptEvent(Base):
    """The ordered transcript supervision staff read: prompts, keys, speech, recordings, status changes, SMS."""

    __tablename__ = "transcript_events"
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"))
    at: Mapped[created_at]
    kind: Mapped[str] = mapped_column(String(16))  # prompt | key | speech | recording | status | sms_in | sms_out
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class WebhookReceipt(Base):
    """Atomic de-duplication of provider webhooks: the insert of a unique key is the check."""

    __tablename__ = "webhook_receipts"
    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(200), unique=True)
    received_at: Mapped[created_at]


class AuditEvent(Base):
    """Who did what, when: transitions, corrections, transcript views
    (docs/architecture.md §Privacy and security)."""

    __tablename__ = "audit_events"
    # the console's login throttle counts an address's recent failures (callback.accounts.services)
    __table_args__ = (Index("ix_audit_events_ip_at", "ip", "at"),)
    id: Mapped[intpk]
    hall_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"), index=True)
    at: Mapped[created_at]
    actor: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(60))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # a console action: the account that acted and the address it came from (NULL for the CLI and the worker)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    ip: Mapped[str | None] = mapped_column(String(45))
