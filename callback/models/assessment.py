"""篇3 assessment: the entries supervisors record and the leader's approval of a month's bulletin.

An entry is never deleted or edited: a correction is a new entry that names the one it replaces (``supersedes_id``,
unique — an entry is corrected at most once, so corrections form a chain) with the reason; the entries that count
are those no other entry supersedes (callback.assessment.entries.active_entries).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, ForeignKeyConstraint, Index, String, Text, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column

from callback.models.base import Base, hall_fk, intpk


class DecimalText(TypeDecorator[Decimal]):
    """A Decimal stored as its text ("1.5"): exact on both backends, without SQLite's Decimal warning."""

    impl = String(12)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> str | None:
        return None if value is None else str(Decimal(value))

    def process_result_value(self, value: str | None, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


class AssessmentEntry(Base):
    """One line a supervisor recorded for a staff member's month (篇3 二): a clause of ``survey.assessment_rules``
    with its count (or minutes, 一3/一6), its grade and discretionary points where the clause needs them — or one
    of the month's facts that are not a clause: ``产假`` (the month scores the base, 篇3 二) and ``一7`` leave days.

    ``grade`` is stored resolved (the key ``survey.assessment`` picked). ``import_key``: what a re-imported
    template row is recognised by. ``origin``: cli | import | console."""

    __tablename__ = "assessment_entries"
    __table_args__ = (
        ForeignKeyConstraint(["hall_id", "staff_id"], ["staff.hall_id", "staff.id"],
                             name="fk_assessment_entries_hall_staff_staff"),
        Index("ix_assessment_entries_hall_month", "hall_id", "month"),
        Index("ux_assessment_entries_hall_import_key", "hall_id", "import_key", unique=True),
    )
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    staff_id: Mapped[int]
    month: Mapped[str] = mapped_column(String(7))  # "2026-11", the hall's local month
    day: Mapped[date | None] = mapped_column(Date)
    clause: Mapped[str] = mapped_column(String(8))
    grade: Mapped[str | None] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(default=1)
    minutes: Mapped[int | None]
    points: Mapped[Decimal | None] = mapped_column(DecimalText())
    note: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(16))
    import_key: Mapped[str | None] = mapped_column(String(64))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("assessment_entries.id", ondelete="RESTRICT"),
                                                      unique=True)
    reason: Mapped[str | None] = mapped_column(Text)
    entered_by: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[datetime]


class BulletinApproval(Base):
    """The leader's approval of a month's bulletin (篇3 三 "中心发布月度考核成绩简报"). ``digest`` fingerprints the
    figures approved: a bulletin whose figures changed afterwards says so and needs approving again."""

    __tablename__ = "assessment_approvals"
    __table_args__ = (Index("ix_assessment_approvals_hall_month", "hall_id", "month"),)
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    month: Mapped[str] = mapped_column(String(7))
    approved_by: Mapped[str] = mapped_column(String(100))
    approved_at: Mapped[datetime]
    digest: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100))
