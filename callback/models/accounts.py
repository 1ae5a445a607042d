"""Console accounts (issue 14 §1): the people who log in to the supervision console under ``/console/``.

A user belongs to one hall; a window lead (窗口负责人) and window staff also to one window of it, enforced by a
composite foreign key like a case's. The role names what a user may do (``callback.accounts.roles.PERMISSIONS``).
Passwords are stored only as werkzeug scrypt hashes (``callback.accounts.services``); the login throttle keeps its
per-user state here (``failed_logins``, ``locked_until``) and counts per-address failures in the audit trail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKeyConstraint, Integer, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from callback.models.base import Base, created_at, hall_fk, intpk, updated_at

DEFAULT_LANGUAGE = "zh-Hans"


class User(Base):
    """A console account. ``role`` is one of ``callback.accounts.roles.Role``; ``desk_phone`` (E.164) is the
    phone a staff call rings first (issue 14 §4), masked wherever it is shown; ``language`` is a BCP 47 tag the
    console speaks to this user in (zh-Hans, zh-Hant, en)."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("username"),
        ForeignKeyConstraint(["hall_id", "window_id"], ["windows.hall_id", "windows.id"],
                             name="fk_users_hall_window_windows"),
        ForeignKeyConstraint(["hall_id", "staff_id"], ["staff.hall_id", "staff.id"], name="fk_users_hall_staff_staff"),
    )
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    username: Mapped[str] = mapped_column(String(40))
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(20))
    window_id: Mapped[int | None] = mapped_column(Integer)
    staff_id: Mapped[int | None] = mapped_column(Integer)  # the Staff row of a staff account (own scores, 篇3)
    desk_phone: Mapped[str | None] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(8), default=DEFAULT_LANGUAGE, server_default=DEFAULT_LANGUAGE)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
