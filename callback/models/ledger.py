"""Halls, windows, staff, contacts, ledger cases, import batches and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callback.models.base import Base, created_at, hall_fk, intpk, name_str, short_str, updated_at


class Hall(Base):
    """A service centre (政务服务中心/大厅). Every table holding a citizen's data carries its hall."""

    __tablename__ = "halls"
    id: Mapped[intpk]
    code: Mapped[short_str] = mapped_column(unique=True)
    name: Mapped[name_str]
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    created_at: Mapped[created_at]


WINDOW_ROLES = {"comprehensive": "综合受理", "issuing": "出件", "other": "其他"}
"""What a window does, for 篇3 七9 (set by `callback hall window-role`): 综合受理窗口, 出件窗口, or anything else."""


class Window(Base):
    """A service window (窗口) of a hall, named as in the ledger; ``role`` is a key of ``WINDOW_ROLES``."""

    __tablename__ = "windows"
    # (hall_id, id): what a case's composite key (hall_id, window_id) points at (a foreign key needs a unique key)
    __table_args__ = (UniqueConstraint("hall_id", "name"), UniqueConstraint("hall_id", "id"))
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    name: Mapped[name_str]
    role: Mapped[str] = mapped_column(String(16), default="other", server_default="other")
    created_at: Mapped[created_at]


class Staff(Base):
    """Window staff (经办人/受理人), as named in the ledger; `staff_no` is the 工号 evaluator exports may name them by
    (callback.evaluator.services.Directory)."""

    __tablename__ = "staff"
    # the 工号 is unique by a unique index, not a constraint: SQLite adds an index without rebuilding the table
    __table_args__ = (UniqueConstraint("hall_id", "name"), UniqueConstraint("hall_id", "id"),
                      Index("ux_staff_hall_staff_no", "hall_id", "staff_no", unique=True))
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    name: Mapped[name_str]
    staff_no: Mapped[str | None] = mapped_column(String(64))
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"))
    created_at: Mapped[created_at]


class Contact(Base):
    """One per normalised phone number and hall: opt-out and last contact live here, not on cases."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("hall_id", "phone"),
        UniqueConstraint("hall_id", "id"),  # what a case's (hall_id, contact_id) points at, like Window's
        # The weekly draw looks up the few excluded numbers through these instead of reading every contact
        # (callback/draws/services.py, `_excluded_contacts`).
        *(
            Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where))
            for name, columns, where in (
                ("ix_contacts_undialable", ("hall_id",), "kind NOT IN ('mobile', 'landline')"),
                ("ix_contacts_opted_out", ("hall_id", "opted_out_at"), "opted_out_at IS NOT NULL"),
                ("ix_contacts_last_contacted", ("hall_id", "last_contacted_at"), "last_contacted_at IS NOT NULL"),
            )
        ),
    )
    id: Mapped[intpk]
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="RESTRICT"))  # uq_contacts_hall_id_phone indexes it
    phone: Mapped[str] = mapped_column(String(32))  # E.164 when valid, else the cleaned raw text
    kind: Mapped[str] = mapped_column(String(16))  # mobile | landline | invalid
    opted_out_at: Mapped[datetime | None]
    opt_out_source: Mapped[str | None] = mapped_column(String(32))
    last_contacted_at: Mapped[datetime | None]
    created_at: Mapped[created_at]

    @property
    def dialable(self) -> bool:
        return self.kind in ("mobile", "landline")


class ImportBatch(Base):
    """One run of a ledger import (file or API call) with its counts and rejected rows."""

    __tablename__ = "import_batches"
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    source: Mapped[str] = mapped_column(String(300))
    started_at: Mapped[created_at]
    finished_at: Mapped[datetime | None]
    rows: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[list[Any]] = mapped_column(default=list)


class Case(Base):
    """A ledger case (办件). Unique by hall and case number; re-imports update in place."""

    __tablename__ = "cases"
    # The window, staff member and contact of a case belong to its hall: each is a composite foreign key with
    # the hall (migration 0006), pointing at the referenced table's unique (hall_id, id). The window's key also
    # proves that the hall exists (windows.hall_id is a key to halls). A NULL staff or contact is not checked.
    # The unique key serves lookups by hall; (hall_id, accepted_at) serves reads of a hall's month; (hall_id, id)
    # lets the weekly draw stream a hall's cases in case-id order without reading other halls' or sorting
    # (migration 0016; callback/draws/services.py, `derive_candidates`).
    __table_args__ = (
        UniqueConstraint("hall_id", "case_no"),
        Index("ix_cases_hall_accepted", "hall_id", "accepted_at"),
        Index("ix_cases_hall_id_id", "hall_id", "id"),
        ForeignKeyConstraint(["hall_id", "window_id"], ["windows.hall_id", "windows.id"],
                             name="fk_cases_hall_window_windows"),
        ForeignKeyConstraint(["hall_id", "staff_id"], ["staff.hall_id", "staff.id"], name="fk_cases_hall_staff_staff"),
        ForeignKeyConstraint(["hall_id", "contact_id"], ["contacts.hall_id", "contacts.id"],
                             name="fk_cases_hall_contact_contacts"),
    )
    id: Mapped[intpk]
    hall_id: Mapped[int]  # a key to halls through fk_cases_hall_window_windows
    case_no: Mapped[str] = mapped_column(String(100))
    window_id: Mapped[int]
    staff_id: Mapped[int | None]
    # indexed: deleting or purging a contact checks its key, and opt-outs look cases up by number
    contact_id: Mapped[int | None] = mapped_column(index=True)
    item_name: Mapped[str | None] = mapped_column(String(300))
    item_kind: Mapped[str | None] = mapped_column(String(50))
    applicant: Mapped[str | None] = mapped_column(String(200))
    phone_raw: Mapped[str | None] = mapped_column(String(200))
    phone_kind: Mapped[str] = mapped_column(String(16), default="missing")  # mobile|landline|invalid|missing
    accepted_at: Mapped[datetime]
    promised_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    row_hash: Mapped[str] = mapped_column(String(64))
    import_batch_id: Mapped[int | None]  # the last batch that wrote the row; an audit pointer, not enforced
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    # read-only: hall_id is part of three keys, so no relationship may write it
    window: Mapped[Window] = relationship(foreign_keys="[Case.hall_id, Case.window_id]", lazy="joined",
                                          viewonly=True)
    contact: Mapped[Contact | None] = relationship(foreign_keys="[Case.hall_id, Case.contact_id]", viewonly=True)


class ApiToken(Base):
    """A per-hall token for the ledger API; only its SHA-256 is stored. Every token expires (migration 0005 gave
    the tokens made before it their creation time + 365 days); a revoked or expired one is refused."""

    __tablename__ = "api_tokens"
    id: Mapped[intpk]
    hall_id: Mapped[hall_fk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]  # refreshed at most once a minute (callback.halls.tokens.hall_for_token)

