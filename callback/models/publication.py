"""Published results (篇2 六): what the public page and the hall board show — weeks, and months with their 红旗窗口 —
and the leader's approvals that come before them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callback.models.base import Base, hall_fk, intpk

WEEK = "week"
MONTH = "month"


class PublishedReport(Base):
    """One approved publication of a period's per-window figures: ``kind`` is ``week`` (``period`` an ISO week,
    "2026-W45") or ``month`` (``period`` "2026-11"; the figures add the month's 红旗窗口). Publishing the period
    again (after a corrected answer) adds the next ``version``; the board shows the latest. ``figures`` holds only
    public fields (`callback.results.publication.public_figures`): window names and figures, never a citizen, a
    number or a staff name. ``approved_by`` is kept for the record and is not shown publicly."""

    __tablename__ = "published_reports"
    __table_args__ = (UniqueConstraint("hall_id", "period", "version"),)
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    kind: Mapped[str] = mapped_column(String(5), default=WEEK, server_default=WEEK)  # week | month
    period: Mapped[str] = mapped_column(String(10))  # "2026-W45" or "2026-11": the two forms never collide
    version: Mapped[int] = mapped_column(Integer)
    figures: Mapped[dict[str, Any]]
    approved_by: Mapped[str] = mapped_column(String(100))
    published_at: Mapped[datetime]


class ResultsApproval(Base):
    """The leader's approval of a period's public figures (篇2 六: results are approved before they are announced).

    ``digest`` fingerprints the figures approved (`callback.results.publication.figures_digest`, without the time
    they were computed): a supervisor may publish only figures whose digest matches the latest approval, so a
    change after approval — a corrected answer, a late press — needs approving again. ``approved_by`` is the
    leader's name, which the publication records; ``user_id`` the console account that approved (NULL from a
    script), kept when that account is deleted as NULL."""

    __tablename__ = "results_approvals"
    __table_args__ = (Index("ix_results_approvals_hall_period", "hall_id", "period"),)
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    kind: Mapped[str] = mapped_column(String(5))  # week | month
    period: Mapped[str] = mapped_column(String(10))  # "2026-W45" or "2026-11"
    digest: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime]
