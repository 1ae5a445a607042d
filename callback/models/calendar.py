"""Official calendar schedules loaded by an administrator (docs/architecture.md §Working days)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callback.models.base import Base, intpk, name_str, utcnow


class CalendarDay(Base):
    """One line of a loaded State Council schedule: a day off, or a 调休 weekend workday.

    ``year`` is the schedule (notice) year the row was loaded with; ``day`` is usually in that year but may be
    in the adjacent December or January, as notices sometimes name such days. Loading a year replaces all
    rows of that ``year``; the package's data for the year is then ignored.
    """

    __tablename__ = "calendar_days"
    __table_args__ = (
        UniqueConstraint("year", "day"),
        CheckConstraint("kind IN ('holiday', 'workday')", name="kind"),
        Index("ix_calendar_days_day", "day"),
    )
    id: Mapped[intpk]
    year: Mapped[int]
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[name_str]
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
