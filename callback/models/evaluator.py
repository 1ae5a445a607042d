"""Electronic evaluator presses (电子评价器): one row per press a citizen made at a window (篇2 六, 篇3 (五)1)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callback.models.base import Base, created_at, intpk


class EvaluatorPress(Base):
    """One press on a window's evaluator, imported from a device or 好差评 export (file or API).

    `press_key` is what a re-import recognises the press by (callback.evaluator.records.press_key): the device's
    own record id when the export has one, else the press's time, window, staff, level text and case number
    together with its occurrence among identical rows of the same file or request — so two genuine presses in the
    same second at the same window both count, and importing the file again adds neither a second time.
    """

    __tablename__ = "evaluator_presses"
    # Like a case, the window and staff member belong to the press's hall: composite keys onto their (hall_id, id).
    # (hall_id, pressed_at) serves the report's per-window and per-staff counts over a week or a month.
    __table_args__ = (
        UniqueConstraint("hall_id", "press_key"),
        Index("ix_evaluator_presses_hall_pressed", "hall_id", "pressed_at"),
        ForeignKeyConstraint(["hall_id", "window_id"], ["windows.hall_id", "windows.id"],
                             name="fk_evaluator_presses_hall_window_windows"),
        ForeignKeyConstraint(["hall_id", "staff_id"], ["staff.hall_id", "staff.id"],
                             name="fk_evaluator_presses_hall_staff_staff"),
    )
    id: Mapped[intpk]
    hall_id: Mapped[int]  # a key to halls through fk_evaluator_presses_hall_window_windows
    pressed_at: Mapped[datetime]  # UTC; the export's wall time read as Asia/Shanghai
    window_id: Mapped[int]
    staff_id: Mapped[int | None]
    rating: Mapped[str] = mapped_column(String(1))  # survey.scale.Rating: S | B | U
    level: Mapped[str] = mapped_column(String(32))  # the level as the export wrote it: 非常满意, 4, ★★★★ …
    case_no: Mapped[str | None] = mapped_column(String(64))
    record_id: Mapped[str | None] = mapped_column(String(64))  # the device's own id of the press, when exported
    press_key: Mapped[str] = mapped_column(String(32))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id", ondelete="SET NULL"),
                                                        index=True)
    created_at: Mapped[created_at]
