"""Per-hall API tokens for the ledger API. Only a SHA-256 of each token is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import ApiToken, Hall


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, hall: Hall, label: str | None = None) -> str:
    """A new token for the hall; the plain token is returned once and never stored."""
    token = "cbt_" + secrets.token_urlsafe(32)
    session.add(ApiToken(hall_id=hall.id, token_hash=_digest(token), label=label))
    session.flush()
    return token


def hall_for_token(session: Session, token: str | None) -> Hall | None:
    """The hall a live token belongs to, or None for a missing, unknown or revoked token."""
    if not token:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    return session.get(Hall, row.hall_id)
