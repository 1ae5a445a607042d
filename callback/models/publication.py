"""Published weekly results (篇2 六): what the public page and the hall board show."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callback.models.base import Base, hall_fk, intpk


class PublishedReport(Base):
    """One approved publication of a week's per-window figures. Publishing the week again (after a corrected
    answer) adds the next ``version``; the board shows the latest. ``figures`` holds only public fields
    (`callback.results.publication.public_figures`): window names and counts, never a citizen, a number or a staff name.
    ``approved_by`` is kept for the record and is not shown publicly."""

    __tablename__ = "published_reports"
    __table_args__ = (UniqueConstraint("hall_id", "week", "version"),)
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    week: Mapped[str] = mapped_column(String(10))  # ISO week, "2026-W45"
    version: Mapped[int] = mapped_column(Integer)
    figures: Mapped[dict[str, Any]]
    approved_by: Mapped[str] = mapped_column(String(100))
    published_at: Mapped[datetime]
