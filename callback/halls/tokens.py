"""Per-hall API tokens for the ledger API. Only a SHA-256 of each token is stored.

A token expires (`DEFAULT_EXPIRY_DAYS` unless asked otherwise) and can be revoked; either way it is refused. Its
last use is kept to the minute, so a supervisor can tell a live integration from a forgotten token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from callback.models import ApiToken, AuditEvent, Hall, utcnow

DEFAULT_EXPIRY_DAYS = 365
MAX_EXPIRY_DAYS = 3650
SYSTEM = "system"
LAST_USED_RESOLUTION = timedelta(minutes=1)  # at most one write a minute per token, however busy the API


class UnknownToken(LookupError):
    def __init__(self, token_id: int) -> None:
        super().__init__(f"没有编号为 {token_id} 的 API 令牌 / no API token with id {token_id}")


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: never the token nor its hash."""

    id: int
    hall: str
    label: str | None
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        """revoked | expired | active"""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, hall: Hall, label: str | None = None, *, expires_days: int = DEFAULT_EXPIRY_DAYS,
                 now: datetime | None = None, actor: str = SYSTEM) -> tuple[ApiToken, str]:
    """A new token for the hall, valid for `expires_days` days, audited: (its row, the plain token). The plain
    token is returned once and never stored."""
    if not 1 <= expires_days <= MAX_EXPIRY_DAYS:
        raise ValueError(f"expires_days must be 1..{MAX_EXPIRY_DAYS}")
    now = now or utcnow()
    token = "cbt_" + secrets.token_urlsafe(32)
    row = ApiToken(hall_id=hall.id, token_hash=_digest(token), label=label, created_at=now,
                   expires_at=now + timedelta(days=expires_days))
    session.add(row)
    session.flush()
    _audit(session, row, "create", actor, now)
    return row, token


def _audit(session: Session, row: ApiToken, action: str, actor: str, now: datetime) -> None:
    detail = {"label": row.label, "expires_at": row.expires_at.isoformat()}
    session.add(AuditEvent(hall_id=row.hall_id, at=now, actor=actor, entity="api_token", entity_id=row.id,
                           action=action, detail=detail))


def hall_for_token(session: Session, token: str | None, now: datetime | None = None) -> Hall | None:
    """The hall a live token belongs to, or None for a missing, unknown, revoked or expired token.

    Records the use (`last_used_at`) when the last one recorded is a minute old or more; the caller commits.
    """
    if not token:
        return None
    now = now or utcnow()
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    _touch(session, row.id, now)
    return session.get(Hall, row.hall_id)


def _touch(session: Session, token_id: int, now: datetime) -> None:
    """One conditional UPDATE: requests within the same minute write nothing."""
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id,
               or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - LAST_USED_RESOLUTION))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def list_tokens(session: Session, hall: Hall | None = None) -> list[TokenInfo]:
    """Every token (of one hall, when given), oldest first."""
    query = select(ApiToken, Hall.code).join(Hall, Hall.id == ApiToken.hall_id).order_by(ApiToken.id)
    if hall is not None:
        query = query.where(ApiToken.hall_id == hall.id)
    return [TokenInfo(t.id, code, t.label, t.created_at, t.expires_at, t.last_used_at, t.revoked_at)
            for t, code in session.execute(query)]


def revoke_token(session: Session, token_id: int, now: datetime | None = None, *,
                 actor: str = SYSTEM) -> tuple[ApiToken, bool]:
    """Revoke a token for good, audited: (the token, whether this call revoked it — False when it already was)."""
    row = session.get(ApiToken, token_id, with_for_update=True)
    if row is None:
        raise UnknownToken(token_id)
    if row.revoked_at is not None:
        return row, False
    row.revoked_at = now = now or utcnow()
    session.flush()
    _audit(session, row, "revoke", actor, now)
    return row, True
