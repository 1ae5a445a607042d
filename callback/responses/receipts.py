"""Atomic de-duplication of provider webhooks: inserting a unique key *is* the check (no check-then-write)."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callback.models import WebhookReceipt, utcnow


def dialect_insert(session: Session) -> Any | None:
    """``insert`` with ON CONFLICT support for this session's database (PostgreSQL, SQLite), else None."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert

        return insert
    return None


def first_delivery(session: Session, key: str) -> bool:
    """Record ``key``; False if it was already recorded (a retried or duplicated webhook).

    One ``INSERT … ON CONFLICT DO NOTHING``: of two concurrent deliveries exactly one inserts; the other waits for
    it to commit and then sees the conflict. Other databases fall back to a savepoint around a plain insert.
    """
    if len(key) > 200:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    insert = dialect_insert(session)
    if insert is None:
        return _first_delivery_savepoint(session, key)
    table = WebhookReceipt.__table__  # Core, not the ORM bulk path: this runs on every webhook
    statement = (
        insert(table).values(key=key, received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"]).returning(table.c.id)
    )
    return session.execute(statement).first() is not None


def _first_delivery_savepoint(session: Session, key: str) -> bool:
    try:
        with session.begin_nested():
            session.add(WebhookReceipt(key=key))
    except IntegrityError:
        return False
    return True
