"""Atomic de-duplication of provider webhooks: inserting a unique key *is* the check (no check-then-write)."""

from __future__ import annotations

import hashlib

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callback.models import WebhookReceipt


def first_delivery(session: Session, key: str) -> bool:
    """Record ``key``; False if it was already recorded (a retried or duplicated webhook).

    Runs in a savepoint so a duplicate leaves the caller's transaction usable. Two concurrent deliveries race on
    the unique index: exactly one insert wins, the other waits for it and then sees the conflict.
    """
    if len(key) > 200:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    try:
        with session.begin_nested():
            session.add(WebhookReceipt(key=key))
    except IntegrityError:
        return False
    return True
