"""Staff calls (篇2 四 专人回访, issue 14 §4): a supervisor's desk phone bridged to a citizen through the provider.

One row per 「拨打」: the system calls the supervisor's desk phone; when it is answered the provider asks our bridge
webhook (``/ivr/staff/<token>/bridge``), which looks the citizen's number up by the row's opaque ``token`` and
answers ``<Dial><Number>…</Number></Dial>``. No phone number is stored here: the desk phone is the account's, the
citizen's is the callback's contact, so a purge of personal data (callback.retention) has nothing to do here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callback.models.base import Base, created_at, hall_fk, intpk, updated_at


class StaffCall(Base):
    """``state`` is a `callback.responses.staff_calls.StaffCallState`; ``desk_status`` the desk leg's last call
    status as the provider reported it, ``dial_status`` how the citizen's leg ended (``DialCallStatus``)."""

    __tablename__ = "staff_calls"
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor: Mapped[str] = mapped_column(String(100))  # who placed it, kept when the account goes
    token: Mapped[str] = mapped_column(String(32), unique=True)  # opaque: the webhook URLs carry only this
    state: Mapped[str] = mapped_column(String(20))
    desk_call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    desk_status: Mapped[str | None] = mapped_column(String(20))
    dial_call_sid: Mapped[str | None] = mapped_column(String(64))
    dial_status: Mapped[str | None] = mapped_column(String(20))
    talk_seconds: Mapped[int | None] = mapped_column(Integer)
    placed_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]  # the desk phone was answered and the bridge asked for
    ended_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
